#!/usr/bin/env python3
"""Simplification benchmark: the exact low-poly mesh of a fitted net at vertex budgets, compared.

For each mesh (``--only`` of: torus, suzanne = Blender's Suzanne subdivided twice, as in
``bench_lowpoly.py``): fit ``--net`` for ``--seconds``, extract exactly, simplify
(:func:`neuralpoly_core.mesh.simplify.simplify_mesh`) to budgets of 1/2, 1/4, 1/8, 1/16 and 1/32
of the exact mesh's vertices, both ways (``edges``: libigl's edge collapses, the default;
``faces``: the face collapses), and compare with the input (Chamfer, Hausdorff: % of the input's
box diagonal, 200k samples each way), against marching cubes at about the same vertex count and
Blender's Decimate (collapse) on the input at the same count. Also the level error
``max |f(v)|`` (network units), ``max_planarity`` (world units; every face within 1e-9 of the
diagonal, the faces the collapses bent being split: ``faces_split``, and
``max_planarity_collapsed`` before that split). Writes
``bench/data/simplify.json``; prints a Markdown table.

    BLENDER_USER_RESOURCES=$(mktemp -d) PYTHONPATH=. .venv/bin/python bench/bench_simplify.py --only torus
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_lowpoly import blender_baselines, inputs, row  # noqa: E402
from neuralpoly_core.fileio import atomic_write_text  # noqa: E402
from neuralpoly_core.mesh.files import read_mesh  # noqa: E402
from neuralpoly_core.training.lowpoly import extract_fitted, fit_mesh_sdf, simplify_fitted  # noqa: E402

OUT = ROOT / "bench" / "data" / "simplify.json"
FRACTIONS = (2, 4, 8, 16, 32)


def marching_at(fit, target: int):
    """Marching cubes of the fitted net at the resolution whose vertex count is nearest ``target``."""
    res = 32
    for _ in range(3):
        mesh = extract_fitted(fit, method="marching", resolution=res)
        res = max(4, int(round(res * np.sqrt(target / mesh.n_vertices))))
    t0 = time.perf_counter()
    mesh = extract_fitted(fit, method="marching", resolution=res)
    return mesh, time.perf_counter() - t0


def bench_one(name, path, args):
    ref = read_mesh(path)
    print(f"{name}: fitting {args.net} for {args.seconds} s", file=sys.stderr)
    fit = fit_mesh_sdf(ref, args.net, seconds=args.seconds, seed=args.seed)
    exact = extract_fitted(fit)
    err = lambda m: float(np.max(np.abs(fit.network(fit.placement.to_network(m.vertices)))))  # noqa: E731
    rows = {"exact": dict(row(ref, exact, 0.0, args.samples, args.seed), max_level_error=err(exact))}
    targets = {}
    for k in FRACTIONS:
        budget = exact.n_vertices // k
        for collapse in ("edges", "faces"):
            t0 = time.perf_counter()
            small = simplify_fitted(fit, exact, vertex_budget=budget, collapse=collapse)
            s = small.info["simplify"]
            rows[f"{collapse} {budget}"] = dict(row(ref, small, time.perf_counter() - t0, args.samples, args.seed),
                                                max_level_error=s["max_level_error"], max_planarity=s["max_planarity"],
                                                max_planarity_collapsed=s["max_planarity_collapsed"],
                                                faces_split=s["faces_split"], pieces_added=s["pieces_added"],
                                                nonplanar_left=s["nonplanar_left"], collapse=s["collapse"],
                                                edge_collapses=s["edge_collapses"])
        mc, secs = marching_at(fit, small.n_vertices)
        rows[f"mc ~{budget}"] = dict(row(ref, mc, secs, args.samples, args.seed), max_level_error=err(mc))
        targets[budget] = small.n_vertices
    return {"input": {"vertices": ref.n_vertices, "faces": ref.n_faces}, "net": args.net,
            "fit": {k: fit.facts[k] for k in ("steps", "train_seconds", "loss")}, "rows": rows}, targets


def table(results: dict) -> str:
    lines = ["| mesh | mesh kind | vertices | faces | n-gons (>4) | Chamfer % | Hausdorff % | max abs f(v) | seconds |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        for k, m in r["rows"].items():
            e = m.get("max_level_error")
            lines.append(f"| {name} | {k} | {m['vertices']:,} | {m['faces']:,} | {m['ngons']:,} | "
                         f"{100 * m['chamfer_rel']:.3f} | {100 * m['hausdorff_rel']:.2f} | "
                         f"{'-' if e is None else f'{e:.2g}'} | {m['seconds']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Simplification benchmark")
    ap.add_argument("--net", default="relu:8x32")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", action="append", help="bench only these meshes (torus, suzanne, sphere, box)")
    ap.add_argument("--no-blender", action="store_true", help="skip Blender's Decimate")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="simplify-bench-") as t:
        tmp = Path(t)
        results, jobs = {}, []
        for name, path in inputs(tmp).items():
            if args.only and name not in args.only:
                continue
            results[name], targets = bench_one(name, path, args)
            for budget, n in targets.items():
                jobs.append((name, budget, {"input": str(path), "target": n, "decimate": str(tmp / f"{name}_{n}.obj"),
                                            "remesh": str(tmp / f"{name}_{n}_rem.obj")}))
        if not args.no_blender and jobs:
            for (name, budget, job), b in zip(jobs, blender_baselines([j for _, _, j in jobs], tmp)):
                ref = read_mesh(job["input"])
                results[name]["rows"][f"decimate ~{budget}"] = row(ref, read_mesh(b["decimate"]["path"]),
                                                                   b["decimate"]["seconds"], args.samples, args.seed)
    atomic_write_text(args.out, json.dumps({"net": args.net, "seconds": args.seconds, "samples": args.samples,
                                            "seed": args.seed, "results": results}, indent=1) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
