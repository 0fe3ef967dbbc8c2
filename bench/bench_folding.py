"""Timing of space folding: exact crossings of one path, and many paths of a digit classifier.

Run: ``.venv/bin/python bench/bench_folding.py [--repeat N] [--paths P]``. Prints medians of
``--repeat`` runs (wall seconds) of

1. one path through a random 3-input ReLU net with 8 hidden layers of 32 (He initialisation,
   the segment from (-1,-1,-1) to (1,1,1)): time per path and per crossing, exact and sampled;
2. ``--paths`` paths (default 10,000) between random pairs of training digits through a digit
   classifier (64 inputs, hidden layers 32-32-32, trained by ``train_classifier``), exact and
   sampled (100 points), in one ``fold_paths`` call.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuralpoly_core import Activation, Layer, Network, Output  # noqa: E402
from neuralpoly_core.folding import fold_path, fold_paths  # noqa: E402
from timing import timed  # noqa: E402  (bench/timing.py, beside this script)


def deep_net(seed=0):
    rng = np.random.default_rng(seed)
    dims = [3] + [32] * 8
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.1, Activation("relu"))
              for a, b in zip(dims[:-1], dims[1:])]
    return Network(3, layers, Output("linear", rng.normal(size=(1, 32)), np.zeros(1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args()

    net = deep_net()
    x1, x2 = -np.ones(3), np.ones(3)
    print(f"1. one path through a 3-input 8x32 ReLU net, median of {args.repeat}")
    w, _, f = timed(lambda: fold_path(net, x1, x2), args.repeat)
    crossings = f.regions - 1
    print(f"   exact:   {w * 1e3:7.2f} ms per path, {crossings} crossings, {w / crossings * 1e6:6.1f} us per crossing; "
          f"chi {f.chi:.4f}, r1 {f.r1}, r2 {f.r2}")
    for n in (100, 1000, 10_000):
        w, _, s = timed(lambda: fold_path(net, x1, x2, samples=n), args.repeat)
        print(f"   sampled n={n:<6d} {w * 1e3:7.2f} ms, {s.regions} regions, chi {s.chi:.4f}, r2 {s.r2}")

    from neuralpoly_core.training.classifier import train_classifier
    from neuralpoly_core.training.datasets import load_digits_split
    data = load_digits_split(0.2, seed=0)
    clf = train_classifier(data, (32, 32, 32), epochs=args.epochs, seed=0)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(data.y_train), (2, args.paths * 2))
    keep = np.flatnonzero(i != j)[:args.paths]
    X1, X2 = data.x_train[i[keep]], data.x_train[j[keep]]
    print(f"\n2. {len(X1)} paths between training digits, classifier 64-32-32-32-10 "
          f"(val. accuracy {clf.val_accuracy:.3f}), median of {args.repeat}")
    w, _, fs = timed(lambda: fold_paths(clf.network, X1, X2), args.repeat)
    print(f"   exact:   {w:6.2f} s ({w / len(X1) * 1e6:6.1f} us per path, {fs.regions.mean():.1f} regions on average, "
          f"{fs.regions.sum() - len(X1)} crossings); Phi {fs.phi:.4f}, {int(fs.folded.sum())} paths fold")
    w, _, ss = timed(lambda: fold_paths(clf.network, X1, X2, samples=100), args.repeat)
    print(f"   sampled n=100: {w:6.2f} s, {ss.regions.mean():.1f} regions on average; Phi {ss.phi:.4f}, "
          f"{int(ss.folded.sum())} paths fold")


if __name__ == "__main__":
    main()
