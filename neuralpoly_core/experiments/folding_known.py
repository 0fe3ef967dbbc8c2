"""The known values of space folding, as model files: the tent map and CantorNet against their closed forms.

For each level ``L`` (default 1..5) this writes ``tent{L}.json`` (:func:`tent_map_network`,
L layers of 2 ReLUs) and ``cantor{L}.json`` (:func:`cantor_network`, L recursion levels), folds
the paths ``0 -> 1`` and ``(0, 0.5) -> (1, 0.5)`` exactly, and compares ``chi`` (and
``chi(-Gamma)``) as exact fractions ``(r2 - r1) / r2`` with the closed form
``1 - L / (2^L - 1)`` derived in those modules: 0, 1/3, 4/7, 11/15, 26/31 for L = 1..5.
It also checks ``chi = 0`` on ``paths`` random segments through a random one-hidden-layer ReLU
network. The seed only affects that last check.
"""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from .._checks import check_callable, check_int
from ..construct.cantor import cantor_network
from ..construct.tent import tent_map_network
from ..errors import NeuralPolyError
from ..fileio import atomic_write_text
from ..folding.api import fold_path, fold_paths
from ..network.activations import Activation
from ..network.model import Layer, Network, Output
from ..network.modelfile import save_model
from ..reporting import Reporter

__all__ = ["run", "format_table", "closed_form"]


def closed_form(level: int) -> Fraction:
    """``1 - L / (2^L - 1)``, the chi of both the tent map T^L on 0 -> 1 and CantorNet with L levels."""
    return 1 - Fraction(level, 2 ** level - 1)


def _row(kind: str, level: int, net: Network, x1, x2, out: Path) -> dict:
    name = f"{kind}{level}.json"
    save_model(net, out / name, meta={"type": f"{kind} L={level}"})
    f = fold_path(net, x1, x2)
    expected = closed_form(level)
    return {"network": kind, "level": level, "model": name, "regions": f.regions, "r1": f.r1, "r2": f.r2,
            "chi": f.chi, "chi_fraction": str(f.chi_fraction), "chi_reverse_fraction": str(f.chi_reverse_fraction),
            "closed_form": str(expected), "matches": f.chi_fraction == expected}


def run(out_dir, *, levels=(1, 2, 3, 4, 5), paths: int = 1000, seed: int = 0, progress=None, cancel=None) -> dict:
    """Write the model files and compare their chi with the closed form (see the module docstring).

    Writes ``folding_known.json`` (the returned report) and the model files into ``out_dir``
    (created if its parent exists). ``rows``: one per network and level, with ``matches``;
    ``one_layer``: the largest chi over the random one-hidden-layer segments (0).
    """
    try:
        levels = tuple(check_int(v, "level", 1, 20) for v in levels)
    except TypeError:
        raise NeuralPolyError(f"levels must be a list of whole numbers, got {levels!r}") from None
    if not levels:
        raise NeuralPolyError("levels must name at least one level")
    paths = check_int(paths, "paths", 1, 1_000_000)
    seed = check_int(seed, "seed", 0)
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    out = Path(out_dir)
    if not out.parent.resolve().is_dir():
        raise NeuralPolyError(f"folder {str(out.parent)!r} does not exist (for {str(out)!r})")
    t0 = time.perf_counter()
    report = Reporter(progress, cancel, what="folding-known", interval=0.05)
    out.mkdir(exist_ok=True)
    rows = []
    for n, level in enumerate(levels):
        report(n / len(levels), f"level {level}")
        rows.append(_row("tent", level, tent_map_network(level), [0.0], [1.0], out))
        rows.append(_row("cantor", level, cantor_network(level), [0.0, 0.5], [1.0, 0.5], out))
    rng = np.random.default_rng(seed)
    shallow = Network(3, [Layer(rng.normal(size=(32, 3)), rng.normal(size=32), Activation("relu"))],
                      Output("linear", rng.normal(size=(1, 32))))
    fs = fold_paths(shallow, rng.normal(size=(paths, 3)) * 2, rng.normal(size=(paths, 3)) * 2)
    result = {"experiment": "folding-known", "levels": list(levels), "rows": rows,
              "one_layer": {"paths": paths, "max_chi": float(fs.chi.max()), "mean_regions": float(fs.regions.mean())},
              "all_match": all(r["matches"] for r in rows) and float(fs.chi.max()) == 0.0,
              "seconds": time.perf_counter() - t0}
    atomic_write_text(out / "folding_known.json", json.dumps(result, indent=1) + "\n")
    report(1.0, "done", force=True)
    return result


def format_table(result: dict) -> str:
    """One line per network and level, then the one-hidden-layer check."""
    lines = ["network  L  regions   r1    r2  chi          closed form  match"]
    for r in result["rows"]:
        lines.append(f"{r['network']:7s} {r['level']:2d}  {r['regions']:7d} {r['r1']:4d} {r['r2']:5d}  "
                     f"{r['chi_fraction']:11s}  {r['closed_form']:11s}  {'yes' if r['matches'] else 'NO'}")
    o = result["one_layer"]
    lines.append(f"one hidden layer of 32 ReLUs, {o['paths']} random segments: max chi {o['max_chi']:g} "
                 f"({o['mean_regions']:.1f} regions on average)")
    return "\n".join(lines)
