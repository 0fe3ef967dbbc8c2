"""Fingerprints of every mesh the project makes, to prove that a refactor changed nothing.

Each case (benchmark nets, all figure networks of the paper, the boolean examples, marching
results, radial extraction, the heightmap, the README's CLI examples) is computed and
reduced to a SHA-256 of its arrays (vertices, corners, face sizes, region ids and patterns;
CLI: the ``--json`` line without timings). Run it before and after a change and compare:

    .venv/bin/python bench/fingerprint.py --out before.json
    ... change ...
    .venv/bin/python bench/fingerprint.py --out after.json --compare before.json

``--quick`` leaves out the two slow benchmark nets (sdf8x32big, he8x32: about 35 s).
``tests/test_fingerprints.py`` checks the quick cases against ``bench/data/fingerprints.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DATA = ROOT / "bench" / "data"
SLOW = ("levelset/sdf8x32big", "levelset/he8x32")


def mesh_hash(mesh) -> str:
    h = hashlib.sha256()
    for a in (mesh.vertices, mesh.corners, mesh.face_sizes, mesh.region_ids, mesh.region_patterns):
        if a is None:
            h.update(b"none")
        else:
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes())
    return h.hexdigest()[:24]


def _levelset_cases(quick: bool):
    from bench_levelset import GYROID_PATH, SDF_PATH, random_net
    from neuralpoly_core.levelset import extract_level_set
    from neuralpoly_core.network.modelfile import load_model

    nets = {"rand3x16": random_net((16, 16, 16), 0), "rand2x64": random_net((64, 64), 1),
            "sdf8x32": (load_model(SDF_PATH), 0.0)}
    if not quick:
        nets["sdf8x32big"] = (load_model(GYROID_PATH), 0.0)
        nets["he8x32"] = random_net((32,) * 8, 2, he=True)
    for name, (net, level) in nets.items():
        yield f"levelset/{name}", extract_level_set(net, level, (-1, 1), method="exact")
        if name in ("rand3x16", "sdf8x32"):
            yield f"levelset/{name}/cap", extract_level_set(net, level, (-1, 1), method="exact", cap=True)
            yield f"levelset/{name}/marching64", extract_level_set(net, level, (-1, 1), method="marching",
                                                                   resolution=64)
    net2, level2 = random_net((16, 16), 5)
    net2 = _restrict_2d(net2)
    yield "levelset/2d", extract_level_set(net2, level2, (-1, 1), method="exact")
    yield "levelset/2d/cap", extract_level_set(net2, level2, (-1, 1), method="exact", cap=True)
    yield "levelset/2d/marching", extract_level_set(net2, level2, (-1, 1), method="marching", resolution=48)


def _restrict_2d(net):
    return net.restrict(np.array([[1.0, 0.0], [0.0, 1.0], [0.3, -0.2]]))


def _boolean_cases():
    from neuralpoly_core.construct import boolean as B
    from neuralpoly_core.levelset import extract_level_set

    solid3 = B.Convex.box([0.1] * 3, [0.9] * 3) - B.Convex.box([0.3] * 3, [0.7] * 3)
    net = B.compile_network(solid3)
    yield "boolean/cube-minus-cube", extract_level_set(net, 0.0, (-1, 1), method="exact", merge_coplanar=True)
    yield "boolean/cube-minus-cube/cap", extract_level_set(net, 0.0, (-0.5, 0.5), method="exact", cap=True)
    soft = B.compile_network(solid3, sharpness=8)
    yield "boolean/soft", extract_level_set(soft, 0.0, (-1, 1), method="marching", resolution=48, cap=True)
    for name, solid in (("donut", B.square_donut()), ("two-donuts", B.two_square_donuts())):
        yield f"boolean/{name}", extract_level_set(B.compile_network(solid), 0.0, (0, 1), method="exact")


def _polytope_cases():
    from neuralpoly_core.polytope import extract_polytope
    from neuralpoly_core.sweeps.figures import all_figure_networks
    from neuralpoly_core.polytope.slicing import paper_slice_basis
    from neuralpoly_core.training import train_sweep

    nets = all_figure_networks()
    results = train_sweep([(f.dim, f.arch) for f in nets], seed=0)
    for f, res in zip(nets, results):
        label = f"figure{f.figure}/{f.dim}D{f.arch}"
        yield f"{label}/weights", res.network
        if f.slice_thetas:
            for theta in f.slice_thetas[:3]:
                yield f"{label}/slice{theta:.4f}", extract_polytope(res.network, basis=paper_slice_basis(f.dim, theta))
        else:
            yield label, extract_polytope(res.network, resolution=16)
    from neuralpoly_core.network import polytope_network
    rng = np.random.default_rng(4)
    net = polytope_network(3, [rng.normal(size=(5, 3))], [0.6])
    yield "radial/p0.6", extract_polytope(net, "radial", resolution=24)
    yield "radial/p0.6/norefine", extract_polytope(net, "radial", resolution=24, refine=False)


def _heightmap_cases():
    from neuralpoly_core.construct import heightmap as H
    net = H.metaball_network([[0.0, 0.0], [0.3, 0.1]], [0.3, 0.2])
    yield "heightmap", H.height_grid(net, 1.0, 32)


def _cli_cases(tmp: Path):
    from neuralpoly_core.cli import main
    from neuralpoly_core.network.modelfile import save_model
    from bench_levelset import SDF_PATH
    from neuralpoly_core.construct import boolean as B

    desc = {"format": "neuralpoly.boolean", "version": 1, "dim": 2, "mode": "hard",
            "solid": {"difference": [{"box": {"lo": [0.1, 0.1], "hi": [0.9, 0.9]}},
                                     {"box": {"lo": [0.3, 0.3], "hi": [0.7, 0.7]}}]}}
    (tmp / "donut.json").write_text(json.dumps(desc))
    save_model(B.compile_network(B.square_donut(3)), tmp / "donut3.json")
    runs = {
        "generate-cubocta": ["generate", "--dim", "3", "--widths", "4", "--p", "1", "--seed", "0",
                             "--out", str(tmp / "c.obj"), "--model-out", str(tmp / "c.json"), "--json"],
        "generate-spiky": ["generate", "--dim", "3", "--widths", "3", "--p", "0.6", "--out",
                           str(tmp / "s.ply"), "--json"],
        "generate-deep": ["generate", "--dim", "3", "--widths", "8,2", "--p", "1,2", "--method", "radial",
                          "--resolution", "24", "--out", str(tmp / "d.stl"), "--json"],
        "generate-slice": ["generate", "--dim", "5", "--widths", "8", "--p", "1", "--slice-theta", "0.314",
                           "--out", str(tmp / "sl.obj"), "--json"],
        "extract-again": ["extract", str(tmp / "c.json"), "--out", str(tmp / "again.obj"), "--json"],
        "extract-radial": ["extract", str(tmp / "c.json"), "--method", "radial", "--resolution", "20",
                           "--out", str(tmp / "round.obj"), "--json"],
        "info": ["info", str(tmp / "c.json"), "--json"],
        "extract-sdf": ["extract", str(SDF_PATH), "--level", "0", "--bbox", "-1", "1", "--method", "exact",
                        "--out", str(tmp / "sdf.obj"), "--json"],
        "extract-sdf-marching": ["extract", str(SDF_PATH), "--level", "0", "--bbox", "-1", "1", "--method",
                                 "marching", "--resolution", "40", "--out", str(tmp / "sdfm.ply"), "--json"],
        "extract-donut3-cap": ["extract", str(tmp / "donut3.json"), "--bbox", "0", "1", "--cap",
                               "--merge-coplanar", "--json"],
        "boolean-donut": ["boolean", str(tmp / "donut.json"), "--model-out", str(tmp / "dn.json"),
                          "--out", str(tmp / "donut.obj"), "--json"],
    }
    for name, argv in runs.items():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(argv)
        summary = json.loads(buf.getvalue().strip().splitlines()[-1]) if rc == 0 else {"rc": rc}
        for key in ("seconds",):
            summary.pop(key, None)
        yield f"cli/{name}", summary
    for path in sorted(tmp.iterdir()):
        if path.suffix in (".obj", ".ply", ".stl"):
            text = path.read_bytes()
            if path.suffix == ".obj":   # the header names the version only
                text = b"\n".join(l for l in text.split(b"\n") if not l.startswith(b"#"))
            yield f"file/{path.name}", text


def fingerprint(value) -> str:
    from neuralpoly_core.network import Network
    if isinstance(value, Network):
        return hashlib.sha256(json.dumps(value.to_dict()).encode()).hexdigest()[:24]
    if isinstance(value, (bytes, bytearray)):
        return hashlib.sha256(value).hexdigest()[:24]
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return mesh_hash(value)


def collect(quick: bool) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for gen in (_levelset_cases(quick), _boolean_cases(), _polytope_cases(), _heightmap_cases(),
                    _cli_cases(Path(tmp))):
            for name, value in gen:
                out[name] = fingerprint(value)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--compare", type=Path, help="an earlier output: print every difference")
    ap.add_argument("--quick", action="store_true", help="leave out the slow benchmark nets")
    args = ap.parse_args(argv)
    found = collect(args.quick)
    args.out.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    print(f"{len(found)} fingerprints -> {args.out}")
    if args.compare:
        old = json.loads(args.compare.read_text())
        diff = [k for k in sorted(set(old) | set(found))
                if k in found and k in old and old[k] != found[k]]
        missing = sorted(set(old) - set(found) - (set(SLOW) if args.quick else set()))
        for k in diff:
            print(f"DIFFERENT {k}:\n  before {old[k]}\n  after  {found[k]}")
        for k in missing:
            print(f"MISSING {k}")
        print(f"{len(diff)} different, {len(missing)} missing")
        return 1 if diff or missing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
