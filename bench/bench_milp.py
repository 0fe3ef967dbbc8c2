"""Speed of counting linear regions in high dimensions: MILP (two solver back-ends) and the walk.

Run: ``.venv/bin/python bench/bench_milp.py [--seconds 10] [--limit 120] [--out bench/data/milp.json]``.

1. **Digits nets** (the regions-digits experiment's: scikit-learn digits, 64 inputs, hidden
   layers (n1; 22 - n1), trained 60 epochs with seed 0), the box [0, 1]^64: regions found in
   ``--seconds`` per method -- ``milp`` on the ``scipy`` back-end (the model rebuilt and handed
   to ``scipy.optimize.milp`` per solve: the method before highspy), ``milp`` on ``highspy``
   (one incremental HiGHS model), and ``walk`` -- and regions per second.
2. **Complete counts** (time to the end, at most ``--limit`` seconds, else a lower bound): a
   2-input He-init 16,16 net in [-1, 1]^2 (``bench_regions.he_net``; 259 regions by exact
   enumeration) and a small 64-input net (He-init 6,5 in [0, 1]^64).

Writes the rows as JSON (``--out``) and prints them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_regions import he_net  # noqa: E402

from neuralpoly_core.fileio import atomic_write_text  # noqa: E402
from neuralpoly_core.regions import count_regions  # noqa: E402

METHODS = [("milp", {"solver": "scipy"}), ("milp", {"solver": "highspy"}), ("walk", {})]


def label(method, opts):
    return method if not opts else f"{method}/{opts['solver']}"


def run_one(net, bbox, method, opts, seconds):
    res = count_regions(net, bbox, method=method, time_limit=seconds, **opts)
    return {"method": label(method, opts), "regions": res.regions, "complete": res.complete,
            "seconds": round(res.seconds, 3), "regions_per_second": round(res.regions / res.seconds, 2)}


def digits_nets(widths):
    from neuralpoly_core.training.classifier import train_classifier
    from neuralpoly_core.training.datasets import load_digits_split
    data = load_digits_split(0.2, seed=0)
    for n1 in widths:
        yield n1, train_classifier(data, (n1, 22 - n1), epochs=60, seed=0).network


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="time per digits count (default 10)")
    ap.add_argument("--limit", type=float, default=120.0, help="time limit of a complete count (default 120)")
    ap.add_argument("--widths", default="10,12,14", help="first-layer widths of the digits nets")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "milp.json")
    args = ap.parse_args(argv)
    rows = []
    for n1, net in digits_nets([int(w) for w in args.widths.split(",")]):
        for method, opts in METHODS:
            row = {"net": f"digits ({n1};{22 - n1})", **run_one(net, (0.0, 1.0), method, opts, args.seconds)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    small = {"2-input 16,16 He-init": (he_net(2, 2, 16), (-1.0, 1.0))}
    rng = np.random.default_rng(0)
    from neuralpoly_core import Activation, Layer, Network
    small["64-input 6,5 He-init"] = (Network(64, [
        Layer(rng.normal(size=(6, 64)) * np.sqrt(2 / 64), rng.uniform(-1, 1, 6), Activation("relu")),
        Layer(rng.normal(size=(5, 6)) * np.sqrt(2 / 6), rng.uniform(-1, 1, 5), Activation("relu"))]), (0.0, 1.0))
    for name, (net, bbox) in small.items():
        if net.dim <= 3:
            ex = count_regions(net, bbox, method="exact")
            row = {"net": name, "method": "exact", "regions": ex.regions, "complete": True,
                   "seconds": round(ex.seconds, 3), "regions_per_second": round(ex.regions / ex.seconds, 2)}
            print(json.dumps(row), flush=True)
            rows.append(row)
        for method, opts in METHODS:
            row = {"net": name, **run_one(net, bbox, method, opts, args.limit)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    out = {"benchmark": "bench_milp", "machine": platform.processor() or platform.machine(),
           "python": platform.python_version(), "seconds_per_digits_count": args.seconds,
           "complete_count_limit": args.limit, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
