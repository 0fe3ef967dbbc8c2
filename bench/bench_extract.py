"""Timing of exact extraction (neuralpoly_core.polytope.extract_polytope_exact) on the paper's types.

Run: ``.venv/bin/python bench/bench_extract.py [--repeat N] [--trained] [--json PATH]``.

Times ``extract_polytope_exact`` for the piecewise-linear figure types of the paper: (n;1) for
n = 3..12 and (n,2;1) for n = 4..11 in 3-D, and (8;1) in 5-D sliced at x3 = 0,
x4 = x5 tan(theta), theta = k pi / 10. Networks are random but with f > 0 on the sphere
((n,2;1) with mixed-sign second layers, so most are non-convex), or trained ones with
``--trained`` (needs torch; training time is reported separately and not counted).
Prints per type the median and maximum wall time and the median CPU time over ``--repeat``
runs (CPU time is steadier on a shared machine), the number of cells of the
subdivided cube surface, the f-vector and max |f(v) - 1|, then the overall maximum and its
ratio to the 50 ms budget; writes the same as JSON (default bench/results/extract.json).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuralpoly_core.fileio import atomic_write_text  # noqa: E402
from neuralpoly_core.network import Network, polytope_network  # noqa: E402
from neuralpoly_core.polytope import extract_polytope_exact, max_level_error  # noqa: E402
from neuralpoly_core.polytope.slicing import paper_slice_basis  # noqa: E402

BUDGET_MS = 50.0


def fibonacci_sphere(n: int, dim: int = 3) -> np.ndarray:
    if dim != 3:
        X = np.random.default_rng(0).normal(size=(n, dim))
        return X / np.linalg.norm(X, axis=1, keepdims=True)
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    a = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([r * np.cos(a), r * np.sin(a), z], axis=1)


def random_positive_net(dim: int, widths: tuple[int, ...], seed: int) -> Network:
    """Random |x| network with f > 0 on the sphere (mixed-sign deeper layers if possible)."""
    U = fibonacci_sphere(4000, dim)
    for attempt in range(200):
        rng = np.random.default_rng(1000 * seed + attempt)
        Ws, n_in = [], dim
        for w in widths:
            Ws.append(rng.normal(size=(w, n_in)))
            n_in = w
        net = polytope_network(dim, Ws, [1] * len(widths))
        f = net.evaluate(U)
        if f.min() > 0.05 * f.max():
            return net
    Ws = [np.abs(W) if i else W for i, W in enumerate(Ws)]
    return polytope_network(dim, Ws, [1] * len(widths))


def specs() -> list[tuple[int, str, tuple[int, ...]]]:
    out = [(3, f"({n};1)", (n,)) for n in range(3, 13)]
    out += [(3, f"({n},2;1)", (n, 2)) for n in range(4, 12)]
    out += [(5, "(8;1)", (8,))]
    return out


def networks(trained: bool, seed: int) -> tuple[dict, float | None]:
    todo = specs()
    if not trained:
        return {(d, label): random_positive_net(d, widths, seed + i)
                for i, (d, label, widths) in enumerate(todo)}, None
    from neuralpoly_core.training import train_sweep
    t0 = time.perf_counter()
    results = train_sweep([(d, label) for d, label, _ in todo], seed=seed)
    seconds = time.perf_counter() - t0
    return {(d, label): r.network for (d, label, _), r in zip(todo, results)}, seconds


def time_extraction(net: Network, repeat: int, basis=None):
    """Wall and CPU milliseconds of each of ``repeat`` runs, and the mesh."""
    mesh = extract_polytope_exact(net, basis=basis)           # warm-up
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        mesh = extract_polytope_exact(net, basis=basis)
        walls.append((time.perf_counter() - t0) * 1e3)
        cpus.append((time.process_time() - c0) * 1e3)
    return walls, cpus, mesh


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per network (default 20)")
    ap.add_argument("--trained", action="store_true", help="train the networks first (torch)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "extract.json")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    nets, train_seconds = networks(args.trained, args.seed)
    source = "trained" if args.trained else "random, f > 0 on the sphere"
    print(f"extract_polytope_exact, {source} networks, median/max of {args.repeat} runs (ms)")
    if train_seconds is not None:
        print(f"(training took {train_seconds:.1f} s, not counted)")
    print(f"{'dim':>3s} {'type':10s} {'median':>8s} {'max':>8s} {'cpu med':>8s} {'cells':>6s} "
          f"{'f-vector':>16s} {'max|f-1|':>9s}")
    rows = []
    for (dim, label), net in nets.items():
        if dim == 3:
            cases = [(None, None)]
        else:
            cases = [(k, paper_slice_basis(dim, k * math.pi / 10)) for k in range(10)]
        times, cpu, cells, fvec, err = [], [], [], None, 0.0
        for _, basis in cases:
            t, c, mesh = time_extraction(net, args.repeat, basis)
            times += t
            cpu += c
            cells.append(mesh.info["n_cells"])
            fvec = mesh.f_vector
            err = max(err, max_level_error(net, mesh))
        med, worst, cmed = statistics.median(times), max(times), statistics.median(cpu)
        tag = label if dim == 3 else f"{label} x10"
        print(f"{dim:3d} {tag:10s} {med:8.2f} {worst:8.2f} {cmed:8.2f} {max(cells):6d} "
              f"{str(fvec):>16s} {err:9.1e}")
        rows.append({"dim": dim, "type": label, "slices": len(cases), "median_ms": med,
                     "max_ms": worst, "cpu_median_ms": cmed, "cells": max(cells),
                     "f_vector": list(fvec), "max_level_error": err})
    worst_median = max(r["median_ms"] for r in rows)
    worst = max(r["max_ms"] for r in rows)
    worst_cpu = max(r["cpu_median_ms"] for r in rows)
    print(f"\nlargest median {worst_median:.2f} ms ({worst_median / BUDGET_MS:.2f} of the "
          f"{BUDGET_MS:g} ms budget); largest CPU median {worst_cpu:.2f} ms; "
          f"largest single run {worst:.2f} ms")
    result = {
        "benchmark": "extract_polytope_exact",
        "networks": source,
        "repeat": args.repeat,
        "seed": args.seed,
        "train_seconds": train_seconds,
        "budget_ms": BUDGET_MS,
        "largest_median_ms": worst_median,
        "largest_run_ms": worst,
        "largest_cpu_median_ms": worst_cpu,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
