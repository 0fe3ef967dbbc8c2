"""Benchmark of level-set extraction: exact edge subdivision vs marching cubes.

Nets (3 inputs, ReLU, linear head):

* ``sdf8x32``: a signed-distance net (14 balls and a torus, genus 5) with 8 hidden layers of
  32 units, trained here with torch (about 3 minutes on 2 cores; cached as
  ``bench/data/sdf_blobs_8x32.json``); its exact surface is small (about 12k vertices),
* ``sdf8x32big``: the same architecture trained (clamped L1, as DeepSDF) on the signed distance
  of a sheet-gyroid shell in a cube (:func:`gyroid_shell_sdf`; about 4 minutes on 2 cores, cached
  as ``bench/data/sdf_gyroid_8x32.json``): its exact surface has about 118k vertices, the size
  of the reference implementation's own 8x32 SDF net (111,642 vertices), so this is the net the
  30 s / 2 GB goal is measured on,
* ``he8x32``: a random He-initialised net with 8 layers of 32 units (far more linear regions
  on its level set than the trained one: the hard case); ``he8x32wide`` is the same net in
  the box [-1.7, 1.7]^3, about 52k faces,
* ``rand2x64`` and ``rand3x16``: random nets with 2 layers of 64 and 3 layers of 16 units;
  random nets are cut at the median of their values on the box.

For each: exact extraction (median of repeats, seconds, peak memory of the process, counts,
regions crossed, level error), the speed-up over the reference implementation where known,
then marching cubes at 64/128/256 with counts and the Chamfer distance to the exact surface
(:func:`neuralpoly_core.mesh.distance.chamfer`: the mean exact distance of 50k points sampled
uniformly by area on each surface to the other surface, the two ways added).

Run: ``.venv/bin/python bench/bench_levelset.py [--quick] [--repeats N] [--nets a,b]``
(the reference edge-subdivision implementation took 2,052 s / 14 GB for its 8x32 SDF net,
2.0 s for 2x64 and 0.25 s for 3x16 on 2 cores; goals: < 30 s / 2 GB, measured on
``sdf8x32big``, and < 0.5 s). A missing cached net is trained first (deterministic).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from neuralpoly_core.levelset import extract_level_set  # noqa: E402
from neuralpoly_core.mesh.distance import chamfer  # noqa: E402
from neuralpoly_core.network.modelfile import load_model, save_model  # noqa: E402
from neuralpoly_core.network import Activation, Layer, Network, Output  # noqa: E402
from neuralpoly_core.training import fit_sdf  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
SDF_PATH = DATA / "sdf_blobs_8x32.json"
GYROID_PATH = DATA / "sdf_gyroid_8x32.json"


def blobs_sdf(p: np.ndarray) -> np.ndarray:
    """SDF of 14 random balls (seed 3) united with a torus: a surface of genus 5 in [-1, 1]^3."""
    rng = np.random.default_rng(3)
    C = rng.uniform(-0.6, 0.6, (14, 3))
    R = rng.uniform(0.12, 0.3, 14)
    d = np.linalg.norm(p[:, None, :] - C[None], axis=2) - R[None]
    q = np.sqrt(p[:, 0] ** 2 + p[:, 2] ** 2) - 0.55
    torus = np.sqrt(q ** 2 + p[:, 1] ** 2) - 0.12
    return np.minimum(d.min(axis=1), torus)


def gyroid_shell_sdf(p: np.ndarray, freq: float = 5.5, thickness: float = 0.06,
                     half: float = 0.85) -> np.ndarray:
    """Signed distance to a sheet-gyroid shell inside the cube ``[-half, half]^3``.

    The solid is the set of points within ``thickness`` of the gyroid surface
    ``g(x) = sin(kx)cos(ky) + sin(ky)cos(kz) + sin(kz)cos(kx) = 0`` (``k = freq``), cut by the
    cube (``max`` with the cube's exact SDF). The distance to ``g = 0`` is its first-order
    estimate ``|g| / |grad g|``, with ``|grad g|`` floored at ``k / 2`` (it vanishes at the
    channel centres, far from the surface). The zero set is exactly the shell's boundary; the
    values are a distance estimate: against the exact distance to a dense sample of that
    boundary (defaults), the mean error is about 0.001 within 0.02 of it, 0.005 at 0.02-0.05
    and 0.012 at 0.05-0.1. With the defaults the boundary is three closed surfaces of area
    about 30 in all, Euler characteristic -34 (total genus 20).

    Parameters
    ----------
    p : (n, 3) array
        Points.
    freq, thickness, half : float
        Gyroid frequency ``k`` (period ``2 pi / k``), half-thickness of the shell, half-side
        of the cube.

    Returns
    -------
    (n,) array
        Negative inside the solid.
    """
    p = np.asarray(p, dtype=float)
    x, y, z = (p * freq).T
    sx, cx, sy, cy, sz, cz = np.sin(x), np.cos(x), np.sin(y), np.cos(y), np.sin(z), np.cos(z)
    g = sx * cy + sy * cz + sz * cx
    grad = freq * np.sqrt((cx * cy - sz * sx) ** 2 + (cy * cz - sx * sy) ** 2
                          + (cz * cx - sy * sz) ** 2)
    shell = np.abs(g) / np.maximum(grad, 0.5 * freq) - thickness
    q = np.abs(p) - half
    cube = np.linalg.norm(np.maximum(q, 0.0), axis=1) + np.minimum(q.max(axis=1), 0.0)
    return np.maximum(shell, cube)


def sdf_fit_quality(net: Network, sdf, band: float = 0.05, n: int = 200_000, seed: int = 7) -> dict:
    """How well ``net`` fits ``sdf`` on ``n`` uniform points of ``[-1, 1]^3``.

    Returns ``uniform_mae`` (mean ``|f - sdf|``), ``uniform_mae_clamped`` (the same with both
    clamped to ``[-0.1, 0.1]``, what a clamped fit is trained on), ``near_mae`` (mean over the
    points with ``|sdf| < band``) and ``sign_agreement`` (the fraction where ``f`` and ``sdf`` have
    the same sign: inside/outside agree).
    """
    p = np.random.default_rng(seed).uniform(-1, 1, (n, 3))
    f, s = net(p).ravel(), sdf(p)
    near = np.abs(s) < band
    return {"uniform_mae": float(np.abs(f - s).mean()),
            "uniform_mae_clamped": float(np.abs(np.clip(f, -0.1, 0.1) - np.clip(s, -0.1, 0.1)).mean()),
            "near_mae": float(np.abs(f[near] - s[near]).mean()), "near_band": band,
            "sign_agreement": float((np.sign(f) == np.sign(s)).mean())}


def train_sdf_net(path: Path = SDF_PATH, depth: int = 8, width: int = 32, steps: int = 12000,
                  seed: int = 0) -> Network:
    """Train (or load from ``path``) a ReLU SDF net of :func:`blobs_sdf` (~3 min on 2 cores).

    :func:`neuralpoly_core.training.fit_sdf` with L1 regression on 1024 uniform points of
    [-1, 1]^3 and 1024 points within 0.08 of the surface per step, float32; the weights are
    stored as float64.
    """
    if path.exists():
        return load_model(path)
    rng = np.random.default_rng(3)
    rng.uniform(-0.6, 0.6, (14, 3))
    rng.uniform(0.12, 0.3, 14)                     # same stream as the original training run
    net, info = fit_sdf(blobs_sdf, rng=rng, steps=steps, seed=seed, band=0.08, depth=depth, width=width)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(net, path, meta={"what": "SDF of 14 balls and a torus (bench_levelset.blobs_sdf)",
                                "steps": steps, **info})
    return net


def train_gyroid_net(path: Path = GYROID_PATH, depth: int = 8, width: int = 32, steps: int = 30000,
                     seed: int = 0) -> Network:
    """Train (or load from ``path``) a ReLU SDF net of :func:`gyroid_shell_sdf` (~4 min, one thread).

    :func:`neuralpoly_core.training.fit_sdf` with DeepSDF's clamped L1 loss (clamp 0.1) on 1024
    uniform points and 1024 points within 0.08 of the surface per step, random stream
    ``default_rng(seed + 100)``.
    With the defaults its exact level set ``f = 0`` in [-1, 1]^3 is a closed surface of 118,326
    vertices and 118,280 faces, the size of the surface of the reference implementation's own
    8x32 SDF net (111,642 vertices); the count depends strongly on the seed (seed 1 gives about
    71k). The fit quality (:func:`sdf_fit_quality`) is stored in the model file's meta.
    """
    if path.exists():
        return load_model(path)
    net, info = fit_sdf(gyroid_shell_sdf, rng=np.random.default_rng(seed + 100), steps=steps, seed=seed,
                        band=0.08, depth=depth, width=width, clamp=0.1)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(net, path, meta={"what": "SDF of a sheet-gyroid shell in a cube "
                                        "(bench_levelset.gyroid_shell_sdf, defaults)",
                                "steps": steps, "seed": seed, "clamp": 0.1, **info,
                                "fit": sdf_fit_quality(net, gyroid_shell_sdf)})
    return net


def random_net(widths, seed: int, he: bool = False) -> tuple[Network, float]:
    """A random ReLU net and a level in the middle of its values (the median on the box).

    Default: N(0, 1/fan_in) weights, N(0, 1/4) biases; ``he``: N(0, 2/fan_in) weights and
    N(0, 1/100) biases (He initialisation: many more linear regions in deep nets).
    """
    rng = np.random.default_rng(seed)
    layers, n = [], 3
    for w in widths:
        if he:
            W, b = rng.normal(size=(w, n)) * np.sqrt(2.0 / n), 0.1 * rng.normal(size=w)
        else:
            W, b = rng.normal(size=(w, n)) / np.sqrt(n), 0.5 * rng.normal(size=w)
        layers.append(Layer(W, b, Activation("relu")))
        n = w
    net = Network(3, layers, Output("linear", rng.normal(size=(1, n)), np.zeros(1)))
    level = float(np.median(net(np.random.default_rng(1).uniform(-1, 1, (20000, 3)))))
    return net, level


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


#: The reference edge-subdivision implementation (PyTorch, float64, 2 cores), seconds, for
#: random nets of the same shapes. Its trained 8x32 SDF net is not ours: 2,052 s and 14 GB for a
#: surface of 111,642 vertices (``sdf8x32`` has about 12k, ``he8x32wide`` about 52k and
#: ``sdf8x32big``, trained to have a surface of that size, about 118k).
REFERENCE_SECONDS = {"rand2x64": 2.0, "rand3x16": 0.25}
#: Reference timings on a different net of the same architecture and surface size.
REFERENCE_SIMILAR = {"sdf8x32big": (2052.0, "its own 8x32 SDF net, 111,642 vertices, 14 GB")}
REFERENCE_NOTE = {"sdf8x32": " (reference: 2,052 s / 14 GB for its own 8x32 SDF net, 111,642 vertices)"}


def bench_net(name: str, net: Network, level: float, repeats: int, resolutions, rng,
              bbox=(-1.0, 1.0)) -> dict:
    times = []
    mesh = None
    for _ in range(repeats):
        t = time.perf_counter()
        mesh = extract_level_set(net, level, bbox, method="exact")
        times.append(time.perf_counter() - t)
    info = mesh.info
    med = statistics.median(times)
    row = {"net": name, "bbox": list(bbox), "exact_median_s": med, "exact_times_s": times,
           "vertices": info["vertices"], "faces": info["faces"],
           "regions_crossed": info["regions_crossed"], "cells_max": info["cells_max"],
           "max_level_error": info["max_level_error"], "level_scale": info["level_scale"],
           "closed": info["closed"], "degenerate_cells": info["degenerate_cells"],
           "peak_rss_mb": peak_rss_mb(), "marching": []}
    ref = REFERENCE_SECONDS.get(name)
    if ref:
        ratio = f", {ref / med:.1f}x faster than the reference's {ref:g} s"
    elif name in REFERENCE_SIMILAR:
        sim, what = REFERENCE_SIMILAR[name]
        ratio = f" (reference: {sim:,.0f} s on {what}: {sim / med:.0f}x)"
    else:
        ratio = REFERENCE_NOTE.get(name, "")
    print(f"{name} (box {bbox[0]:g}..{bbox[1]:g}): exact median {med:.3f} s over {repeats} "
          f"(runs {', '.join(f'{t:.3f}' for t in times)}){ratio}; V={info['vertices']} "
          f"F={info['faces']} regions={info['regions_crossed']} closed={info['closed']} "
          f"cells_max={info['cells_max']} err={info['max_level_error']:.2e} "
          f"(scale {info['level_scale']:.3g}) peak RSS {row['peak_rss_mb']:.0f} MB", flush=True)
    if resolutions and mesh.n_faces:
        for res in resolutions:
            t = time.perf_counter()
            mc = extract_level_set(net, level, bbox, method="marching", resolution=res)
            dt = time.perf_counter() - t
            cd = chamfer(mesh, mc, 50_000, rng) if mc.n_faces else float("nan")
            r = {"resolution": res, "seconds": dt, "vertices": mc.n_vertices, "faces": mc.n_faces,
                 "chamfer": cd, "max_level_error": mc.info["max_level_error"]}
            row["marching"].append(r)
            print(f"  marching cubes {res}: {dt:.2f} s, V={mc.n_vertices} F={mc.n_faces} (triangles), "
                  f"Chamfer distance to the exact surface {cd:.2e}, level error after Newton "
                  f"{r['max_level_error']:.1e}", flush=True)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repeat, no marching cubes at 256")
    ap.add_argument("--nets", default="rand3x16,rand2x64,sdf8x32,sdf8x32big,he8x32,he8x32wide")
    ap.add_argument("--no-marching", action="store_true")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    resolutions = () if args.no_marching else ((64, 128) if args.quick else (64, 128, 256))
    repeats = 1 if args.quick else args.repeats
    rows = []
    for name in args.nets.split(","):
        if name in ("sdf8x32", "sdf8x32big"):
            net = train_sdf_net() if name == "sdf8x32" else train_gyroid_net()
            rows.append(bench_net(name, net, 0.0, max(1, min(repeats, 3)), resolutions, rng))
        elif name in ("rand2x64", "rand3x16", "he8x32", "he8x32wide"):
            widths, he, bbox = {"rand2x64": ([64, 64], False, (-1.0, 1.0)),
                                "rand3x16": ([16, 16, 16], False, (-1.0, 1.0)),
                                "he8x32": ([32] * 8, True, (-1.0, 1.0)),
                                "he8x32wide": ([32] * 8, True, (-1.7, 1.7))}[name]
            net, level = random_net(widths, 0, he)
            reps = max(1, min(repeats, 2)) if he else repeats
            rows.append(bench_net(name, net, level, reps, resolutions, rng, bbox))
        else:
            raise SystemExit(f"unknown net {name!r}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
