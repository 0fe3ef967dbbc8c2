#!/usr/bin/env python3
"""Neural low-poly benchmark: fit a ReLU net to a mesh, extract it exactly, compare.

For each mesh (a sphere, a torus, a box with a hole, Blender's Suzanne subdivided twice, the
Stanford bunny when ``bench/fetch_bunny.py`` has fetched it or pymeshlab is installed, and any
``--mesh NAME=PATH``): fit ``--net`` (default relu:8x32) for
``--seconds`` (default 60) on the CPU, then compare with the input mesh
(:func:`neuralpoly_core.mesh.sdf.surface_metrics`, 200k area-weighted samples each way):

* ``exact``: the exact level set of the net (planar n-gons);
* ``mc64``, ``mc128``, ``mc256``: marching cubes of the same net (with Newton steps);
* ``mc_equal``: marching cubes at the resolution whose vertex count is closest to exact's;
* ``decimate``, ``remesh``: Blender's Decimate (collapse) and Remesh (voxel) modifiers on the
  input, tuned to the exact mesh's vertex count (in a Blender subprocess, bpy).

Also the fidelity to the network's own surface (Kim's measure): Chamfer of each extraction to
MC 256 of the same net (``to_net``). Writes ``bench/data/lowpoly.json``, prints a Markdown table
and, with ``--png``, plots Chamfer against vertex count per mesh (to the input, and to the net).

    .venv/bin/python bench/fetch_bunny.py          # once: the bunny, into ~/.cache/neuralpoly/meshes
    BLENDER_USER_RESOURCES=$(mktemp -d) PYTHONPATH=. .venv/bin/python bench/bench_lowpoly.py --png lowpoly.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neuralpoly_core.fileio import atomic_write_text  # noqa: E402
from neuralpoly_core.mesh.files import export_mesh, read_mesh  # noqa: E402
from neuralpoly_core.mesh.sdf import surface_metrics  # noqa: E402
from neuralpoly_core.mesh.shapes import box_with_hole, icosphere, torus  # noqa: E402
from neuralpoly_core.training.lowpoly import extract_fitted, fit_mesh_sdf  # noqa: E402

OUT = ROOT / "bench" / "data" / "lowpoly.json"
sys.path.insert(0, str(ROOT / "bench"))
from fetch_bunny import cache_dir  # noqa: E402

BUNNIES = (cache_dir() / "bunny.obj",
           Path(sys.prefix) / "lib/python3.11/site-packages/pymeshlab/tests/sample_meshes/bunny.obj")


def inputs(tmp: Path, extra=()) -> dict:
    """name -> mesh file of the inputs."""
    files = {}
    for name, mesh in (("sphere", icosphere(1.0, 32)), ("torus", torus(1.0, 0.35, 160, 80)),
                       ("box_with_hole", box_with_hole())):
        files[name] = export_mesh(mesh, tmp / f"{name}.obj")
    sub = tmp / "suzanne_sub2.obj"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_suzanne.py"), "--subdivide", "2", "--out", str(sub)],
                   check=True, capture_output=True)
    files["suzanne"] = sub
    bunny = next((b for b in BUNNIES if b.exists()), None)
    if bunny is not None:
        files["bunny"] = bunny
    else:
        print(f"(no bunny at {BUNNIES[0]}: run bench/fetch_bunny.py; skipped)", file=sys.stderr)
    for spec in extra:
        name, sep, path = spec.partition("=")
        if not sep or not name or not Path(path).is_file():
            raise SystemExit(f"bench_lowpoly: --mesh expects NAME=PATH of an existing file, got {spec!r}")
        files[name] = Path(path)
    return files


BLENDER_SCRIPT = r'''
import json, sys, time, bpy
jobs = json.load(open(sys.argv[1]))
out = []
def count(obj):
    dg = bpy.context.evaluated_depsgraph_get()
    return len(obj.evaluated_get(dg).data.vertices)
for job in jobs:
    res = {}
    for kind in ("decimate", "remesh"):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.ops.wm.obj_import(filepath=job["input"], forward_axis="Y", up_axis="Z")
        obj = bpy.context.selected_objects[0]
        bpy.context.view_layer.objects.active = obj
        n0, target = len(obj.data.vertices), job["target"]
        t0 = time.perf_counter()
        if kind == "decimate":
            mod = obj.modifiers.new("d", "DECIMATE"); mod.decimate_type = "COLLAPSE"
            lo, hi = 0.0, 1.0
            mod.ratio = min(1.0, target / n0)
            for _ in range(12):
                n = count(obj)
                if abs(n - target) <= 0.02 * target or mod.ratio >= 1.0: break
                lo, hi = (mod.ratio, hi) if n < target else (lo, mod.ratio)
                mod.ratio = (lo + hi) / 2
        else:
            mod = obj.modifiers.new("r", "REMESH"); mod.mode = "VOXEL"
            diag = max(obj.dimensions)
            lo, hi = diag / 2000, diag / 4
            for _ in range(16):
                mod.voxel_size = (lo * hi) ** 0.5
                n = count(obj)
                if abs(n - target) <= 0.03 * target: break
                lo, hi = (lo, mod.voxel_size) if n < target else (mod.voxel_size, hi)
        bpy.ops.object.modifier_apply(modifier=mod.name)
        seconds = time.perf_counter() - t0
        path = job[kind]
        bpy.ops.wm.obj_export(filepath=path, export_selected_objects=False, export_materials=False,
                              export_uv=False, export_normals=False, forward_axis="Y", up_axis="Z")
        res[kind] = {"path": path, "seconds": seconds, "input_vertices": n0}
    out.append(res)
json.dump(out, open(sys.argv[2], "w"))
'''


def blender_baselines(jobs: list, tmp: Path) -> list:
    script, jin, jout = tmp / "blender_job.py", tmp / "jobs.json", tmp / "results.json"
    script.write_text(BLENDER_SCRIPT)
    jin.write_text(json.dumps(jobs))
    subprocess.run([sys.executable, str(script), str(jin), str(jout)], check=True, capture_output=True)
    return json.loads(jout.read_text())


def row(ref, mesh, seconds, samples, seed, net_ref=None):
    m = surface_metrics(ref, mesh, samples, seed=seed)
    r = {k: m[k] for k in ("chamfer", "chamfer_rel", "hausdorff", "hausdorff_rel", "normal_consistency")}
    r.update(vertices=mesh.n_vertices, faces=mesh.n_faces, seconds=seconds,
             ngons=int(np.sum(mesh.face_sizes > 4)), max_face=int(mesh.face_sizes.max()))
    if net_ref is not None:
        r["to_net_chamfer_rel"] = surface_metrics(net_ref, mesh, samples // 4, seed=seed)["chamfer_rel"]
    return r


def bench_one(name, path, args, tmp):
    ref = read_mesh(path)
    print(f"{name}: {ref.n_vertices} V, {ref.n_faces} F; fitting {args.net} for {args.seconds} s", file=sys.stderr)
    fit = fit_mesh_sdf(ref, args.net, seconds=args.seconds, seed=args.seed)
    meshes = {}
    t0 = time.perf_counter()
    meshes["exact"] = (extract_fitted(fit), time.perf_counter() - t0)
    for res in (64, 128, 256):
        t0 = time.perf_counter()
        meshes[f"mc{res}"] = (extract_fitted(fit, method="marching", resolution=res), time.perf_counter() - t0)
    target = meshes["exact"][0].n_vertices
    res_eq = int(round(64 * np.sqrt(target / meshes["mc64"][0].n_vertices)))
    t0 = time.perf_counter()
    meshes["mc_equal"] = (extract_fitted(fit, method="marching", resolution=max(res_eq, 4)), time.perf_counter() - t0)
    net_ref = meshes["mc256"][0]
    out = {"input": {"vertices": ref.n_vertices, "faces": ref.n_faces, "path": str(path.name)},
           "fit": {k: fit.facts[k] for k in ("steps", "train_seconds", "sample_seconds", "loss", "restarts")},
           "net": args.net, "mc_equal_resolution": res_eq, "methods": {}}
    for k, (mesh, secs) in meshes.items():
        out["methods"][k] = row(ref, mesh, secs, args.samples, args.seed, None if k == "mc256" else net_ref)
        out["methods"][k]["max_level_error"] = float(np.max(np.abs(fit.network(fit.placement.to_network(mesh.vertices)))))
    return out, target


def table(results: dict) -> str:
    lines = ["| mesh | method | vertices | faces | Chamfer % | Hausdorff % | normal cons. | to net % | seconds |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        for k, m in r["methods"].items():
            tn = m.get("to_net_chamfer_rel")
            lines.append(f"| {name} | {k} | {m['vertices']:,} | {m['faces']:,} | {100 * m['chamfer_rel']:.3f} | "
                         f"{100 * m['hausdorff_rel']:.2f} | {m['normal_consistency']:.4f} | "
                         f"{'-' if tn is None else f'{100 * tn:.3f}'} | {m['seconds']:.2f} |")
    return "\n".join(lines)


MARKERS = {"exact": ("o", "C3"), "mc64": ("v", "C0"), "mc128": ("^", "C0"), "mc256": ("s", "C0"),
           "mc_equal": ("D", "C9"), "decimate": ("P", "C2"), "remesh": ("X", "C4")}


def plot(results: dict, path: Path) -> None:
    """Chamfer (% of the input's box diagonal) against vertices, one panel per mesh: filled
    markers to the input mesh, hollow ones to the net's own surface (MC 256 of the net)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(results), figsize=(max(3.6 * len(results), 7.5), 3.8), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items()):
        for k, m in r["methods"].items():
            if m["chamfer_rel"] < 1e-9:          # the input itself (a 16-vertex box is not decimated up)
                continue
            mk, col = MARKERS.get(k, ("*", "k"))
            ax.scatter(m["vertices"], 100 * m["chamfer_rel"], marker=mk, color=col, label=k, zorder=3)
            if m.get("to_net_chamfer_rel") is not None:
                ax.scatter(m["vertices"], 100 * m["to_net_chamfer_rel"], marker=mk, facecolors="none",
                           edgecolors=col, zorder=3)
        ax.set(xscale="log", yscale="log", title=name, xlabel="vertices")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("Chamfer, % of box diagonal\n(filled: to input, hollow: to net)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 7 if len(results) > 1 else 4), frameon=False)
    fig.tight_layout(rect=(0, 0.08 if len(results) > 1 else 0.16, 1, 1))
    tmp = path.with_name(path.name + ".part.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Neural low-poly benchmark")
    ap.add_argument("--net", default="relu:8x32")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", action="append", help="bench only these meshes")
    ap.add_argument("--mesh", action="append", default=[], metavar="NAME=PATH", help="also bench this mesh file")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--png", type=Path, help="plot Chamfer against vertices to this PNG")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lowpoly-bench-") as t:
        tmp = Path(t)
        files = inputs(tmp, args.mesh)
        results, jobs = {}, []
        for name, path in files.items():
            if args.only and name not in args.only:
                continue
            results[name], target = bench_one(name, path, args, tmp)
            jobs.append({"input": str(path), "target": target, "decimate": str(tmp / f"{name}_dec.obj"),
                         "remesh": str(tmp / f"{name}_rem.obj")})
        for (name, r), job, b in zip(results.items(), jobs, blender_baselines(jobs, tmp)):
            ref = read_mesh(job["input"])
            for kind in ("decimate", "remesh"):
                r["methods"][kind] = row(ref, read_mesh(b[kind]["path"]), b[kind]["seconds"], args.samples, args.seed)
    report = {"net": args.net, "seconds": args.seconds, "samples": args.samples, "seed": args.seed,
              "cpu_threads": 1, "results": results}
    atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
    print(table(results))
    if args.png:
        plot(results, args.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
