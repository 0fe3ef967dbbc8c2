"""Benchmark: the batched trainer against the paper's recipe, and the 63 figure networks.

Usage::

    .venv/bin/python bench/bench_training.py [--quick] [--threads N] [--repeats K]

1. The paper's recipe (Adam, batch 1000, 10,000 random points, 10,000 epochs = 100,000
   steps, float32) on (4;1) in 3D, side by side with ``train_polytope`` on the same type:
   wall time, and both networks' MSE on the same independent dense random sphere points
   (``dense_sphere_mse``) plus the exact sphere MSE (closed form for (n;1)). ``--quick``
   runs 1,000 recipe epochs and scales the time by 10 (its loss is then not final).
2. All 63 figure networks in one ``train_sweep`` call: total time (median of --repeats),
   median time per network, and every network's training and dense MSE.
3. (full runs) The recipe on a few figure types (2D, p < 1, two layers, 5D): the ratio of
   our dense MSE to the recipe's.

Prints markdown tables and writes ``bench/results/training.json``. Timings depend on the
machine's load: run it on a quiet machine, and compare only numbers from one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from neuralpoly_core.sweeps import figures  # noqa: E402
from neuralpoly_core.errors import NeuralPolyError  # noqa: E402
from neuralpoly_core.fileio import atomic_write_text  # noqa: E402
from neuralpoly_core.training import (  # noqa: E402
    dense_sphere_mse, recipe_train, sphere_mse_exact, train_polytope, train_sweep)

RECIPE_EPOCHS = 10_000
SUBSET = [(2, "(7;1)"), (3, "(3;0.6)"), (3, "(4,2;1)"), (5, "(8;1)")]


def exact_or_none(net):
    try:
        return sphere_mse_exact(net)
    except NeuralPolyError:
        return None


def fmt(x, spec=".4e"):
    return "-" if x is None else format(x, spec)


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def part1(args, out):
    epochs = RECIPE_EPOCHS // 10 if args.quick else RECIPE_EPOCHS
    print(f"## 1. (4;1) in 3D: the paper's recipe vs train_polytope\n")
    print(f"recipe: {epochs} epochs of 10 minibatches ...", flush=True)
    t = time.perf_counter()
    rec = recipe_train(3, "(4;1)", seed=0, epochs=epochs)
    t_rec = time.perf_counter() - t
    t_rec_full = t_rec * RECIPE_EPOCHS / epochs
    train_polytope(2, "(2;1)", restarts=1)             # warm-up (first-call overheads)
    times, ours = [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        ours = train_polytope(3, "(4;1)", seed=0)
        times.append(time.perf_counter() - t)
    t_ours = statistics.median(times)
    d_rec = dense_sphere_mse(rec.network, n=args.dense)
    d_ours = dense_sphere_mse(ours.network, n=args.dense)
    e_rec, e_ours = sphere_mse_exact(rec.network), sphere_mse_exact(ours.network)
    rows = [("recipe (Adam, 100k steps)" + (" [time scaled x10]" if args.quick else ""), t_rec_full,
             rec.steps * RECIPE_EPOCHS // epochs, rec.loss, d_rec, e_rec),
            ("train_polytope (8 starts)", t_ours, ours.steps, ours.loss, d_ours, e_ours)]
    print(f"\n| method | seconds | steps | training MSE | dense MSE ({args.dense:,} pts) | exact MSE |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, sec, steps, loss, dense, exact in rows:
        print(f"| {name} | {sec:.3f} | {steps} | {loss:.5e} | {dense:.5e} | {exact:.6e} |")
    print(f"\nspeed-up per network: {t_rec_full / t_ours:.0f}x; dense MSE ratio ours/recipe "
          f"{d_ours / d_rec:.5f}; exact MSE ratio {e_ours / e_rec:.6f}\n")
    out["part1"] = dict(recipe_epochs=epochs, recipe_seconds=t_rec, recipe_seconds_full=t_rec_full,
                        recipe_loss=rec.loss, recipe_dense=d_rec, recipe_exact=e_rec,
                        ours_seconds=times, ours_seconds_median=t_ours, ours_loss=ours.loss,
                        ours_dense=d_ours, ours_exact=e_ours, speedup=t_rec_full / t_ours,
                        dense_ratio=d_ours / d_rec, exact_ratio=e_ours / e_rec, dense_points=args.dense)
    return t_rec_full


def part2(args, out, t_recipe):
    specs = figures.all_figure_networks()
    print(f"## 2. All {len(specs)} figure networks in one train_sweep\n", flush=True)
    totals, res = [], None
    for _ in range(args.repeats):
        t = time.perf_counter()
        res = train_sweep(specs, seed=0)
        totals.append(time.perf_counter() - t)
    total = statistics.median(totals)
    per_net = total / len(specs)
    print(f"total {total:.2f} s (median of {args.repeats}: {', '.join(f'{v:.2f}' for v in totals)}), "
          f"{per_net * 1000:.0f} ms per network; the recipe takes {t_recipe:.1f} s per network "
          f"({t_recipe / per_net:.0f}x)\n")
    print("| fig | d | type | training MSE | dense MSE | exact MSE | steps | converged |")
    print("|---:|---:|---|---:|---:|---:|---:|:---:|")
    rows = []
    for s, r in zip(specs, res):
        dense = dense_sphere_mse(r.network, n=args.dense_fig)
        exact = exact_or_none(r.network)
        rows.append(dict(figure=s.figure, dim=s.dim, type=str(s.arch), loss=r.loss, dense=dense, exact=exact,
                         steps=r.steps, converged=r.converged, restart_losses=r.restart_losses))
        print(f"| {s.figure} | {s.dim} | {s.arch} | {r.loss:.4e} | {dense:.4e} | {fmt(exact)} | {r.steps} | "
              f"{'yes' if r.converged else 'no'} |")
    print()
    out["part2"] = dict(seconds=totals, seconds_median=total, per_network=per_net, networks=rows,
                        dense_points=args.dense_fig, speedup_vs_recipe=t_recipe / per_net)


def part3(args, out):
    print("## 3. Recipe vs train_sweep on a subset of figure types (dense MSE)\n", flush=True)
    ours = train_sweep(SUBSET, seed=0)
    print("| d | type | recipe dense MSE | ours dense MSE | ratio ours/recipe | recipe s | ")
    print("|---:|---|---:|---:|---:|---:|")
    rows = []
    for (dim, arch), r in zip(SUBSET, ours):
        t = time.perf_counter()
        try:
            rec = recipe_train(dim, arch, seed=0)
        except NeuralPolyError as e:          # e.g. the recipe's NaN for p < 1
            print(f"| {dim} | {arch} | diverged: {e} | | | |")
            rows.append(dict(dim=dim, type=arch, recipe_error=str(e)))
            continue
        sec = time.perf_counter() - t
        d_rec = dense_sphere_mse(rec.network, n=args.dense)
        d_ours = dense_sphere_mse(r.network, n=args.dense)
        rows.append(dict(dim=dim, type=arch, recipe_dense=d_rec, ours_dense=d_ours, ratio=d_ours / d_rec,
                         recipe_seconds=sec))
        print(f"| {dim} | {arch} | {d_rec:.5e} | {d_ours:.5e} | {d_ours / d_rec:.4f} | {sec:.1f} |", flush=True)
    ratios = [row["ratio"] for row in rows if "ratio" in row]
    if ratios:
        print(f"\nmax ratio ours/recipe: {max(ratios):.4f}\n")
    out["part3"] = dict(rows=rows, max_ratio=max(ratios) if ratios else None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 recipe epochs (time x10), no part 3")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    ap.add_argument("--dense", type=int, default=4_000_000, help="dense judge points for parts 1 and 3")
    ap.add_argument("--dense-fig", type=int, default=200_000, help="dense judge points per figure network")
    ap.add_argument("--no-subset", action="store_true", help="skip part 3")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = dict(quick=args.quick, threads=torch.get_num_threads(), torch=torch.__version__,
               python=platform.python_version(), machine=platform.machine(), cpus=os.cpu_count(),
               load_average_before=load_average())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s), "
          f"load average {out['load_average_before']}\n")
    t_recipe = part1(args, out)
    part2(args, out, t_recipe)
    if not args.quick and not args.no_subset:
        part3(args, out)
    out["load_average_after"] = load_average()
    path = ROOT / "bench" / "results" / "training.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(out, indent=1, default=lambda v: None if isinstance(v, float)
                                       and not math.isfinite(v) else v) + "\n")
    print(f"wrote {path.relative_to(ROOT)} (load average after: {out['load_average_after']})")


if __name__ == "__main__":
    main()
