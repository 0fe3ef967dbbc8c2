"""Serra, Tjandraatmadja & Ramalingam 2018, Section 6, offline: linear regions of small digit
classifiers against the bounds, and training error against the number of regions.

The paper trains rectifier networks with two hidden layers of 22 units in all on MNIST and
counts their regions by MILP. Here: scikit-learn's 8x8 digits (64 inputs, 1,797 samples, no
download), networks ``(n1; 22 - n1)`` for ``n1`` in ``first_widths`` (two seeds each by
default: 10 networks), trained with :func:`~neuralpoly_core.training.classifier.train_classifier`,
regions counted in the input box ``[0, 1]^64`` by
:func:`~neuralpoly_core.regions.milp.count_regions_milp` (``method='milp'``), by walking the
region graph (:func:`~neuralpoly_core.regions.walk.count_regions_walk`, ``method='walk'``, exact
and far faster in 64 dimensions), or by both (``method='both'``, the default), each with the
time limit per network. A count the limit stopped is a lower bound, and the JSON says which;
a network's ``regions`` is its best count: a complete one (the walk's first), else the larger. For scale, each network's
patterns at the digits and at uniform random points of the box (each such point with no
pre-activation at 0 lies inside a region) give a second lower bound, and the union of both
sets of patterns a third.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .._checks import check_choice, check_float, check_int
from ..errors import NeuralPolyError
from ..fileio import atomic_write_text
from ..network.modelfile import save_model
from ..regions.bounds import all_bounds
from ..regions.count import count_regions
from ..reporting import Reporter
from ..training.classifier import train_classifier
from ..training.datasets import load_digits_split
from .regions_plot import plot_regions_digits

__all__ = ["run", "DEFAULTS", "COUNT_METHODS", "sampled_patterns", "best_count", "format_table"]

#: The defaults: 10 networks, 15 s of counting each (a few minutes in all on 2 cores).
DEFAULTS = {"first_widths": (10, 11, 12, 13, 14), "total": 22, "networks_per_width": 2, "epochs": 60,
            "time_limit": 15.0, "max_regions": 100_000, "samples": 200_000, "method": "both"}

#: The counting methods the experiment takes.
COUNT_METHODS = ("milp", "walk", "both")

#: The bounds the table and the figure compare with (Serra et al.'s "first, latest and ours").
COMPARED = ("layer_product", "montufar2017", "serra")


def sampled_patterns(net, points: np.ndarray) -> set[bytes]:
    """Packed activation patterns of the points that lie strictly inside a region (no
    pre-activation exactly 0)."""
    out: set[bytes] = set()
    for start in range(0, len(points), 50_000):
        X = points[start:start + 50_000]
        inside = np.all(np.concatenate([np.abs(z) > 1e-12 for z in net.preactivations(X)], axis=1), axis=1)
        out.update(map(bytes, np.packbits(net.activation_pattern(X[inside]), axis=1)))
    return out


def _check(first_widths, total, networks_per_width, epochs, time_limit, max_regions, samples, seed, method):
    check_choice(method, COUNT_METHODS, "counting method")
    total = check_int(total, "total", 2, 1000)
    try:
        first_widths = tuple(check_int(n, "a first-layer width", 1, total - 1) for n in first_widths)
    except TypeError:
        raise NeuralPolyError(f"first_widths must be a list of widths, got {first_widths!r}") from None
    if not first_widths:
        raise NeuralPolyError("first_widths is empty")
    return (first_widths, total, check_int(networks_per_width, "networks_per_width", 1, 100),
            check_int(epochs, "epochs", 1, 100_000), check_float(time_limit, "time_limit", 0.0, lo_open=True),
            check_int(max_regions, "max_regions", 1), check_int(samples, "samples", 0), check_int(seed, "seed", 0))


def _count(net, method, time_limit, max_regions, report):
    count = count_regions(net, (0.0, 1.0), method=method, time_limit=time_limit, max_regions=max_regions,
                          progress=report)
    entry = {"regions": count.regions, "complete": count.complete, "stopped": count.stopped,
             "seconds": count.seconds, "solves": count.details.get("solves", count.details.get("lps"))}
    return entry, set(map(bytes, np.packbits(count.patterns, axis=1)))


def best_count(counts: dict) -> str:
    """The method whose count a row reports: a complete count (the walk's first), else the largest."""
    done = [m for m in ("walk", "milp") if m in counts and counts[m]["complete"]]
    return done[0] if done else max(counts, key=lambda m: (counts[m]["regions"], m == "walk"))


def _one_network(data, n1, n2, seed, epochs, time_limit, max_regions, points, report, method="both"):
    res = train_classifier(data, (n1, n2), epochs=epochs, seed=seed, progress=report.part(0.0, 0.2))
    net = res.network
    methods = ("milp", "walk") if method == "both" else (method,)
    counts, found = {}, set()
    for i, m in enumerate(methods):
        counts[m], patterns = _count(net, m, time_limit, max_regions,
                                     report.part(0.2 + 0.8 * i / len(methods), 0.8 / len(methods)))
        found |= patterns
    sampled = sampled_patterns(net, points)
    bounds = all_bounds(net.dim, (n1, n2))
    best = counts[best_count(counts)]
    row = {"n1": n1, "n2": n2, "seed": seed, "train_error": res.train_error, "val_error": 1.0 - res.val_accuracy,
           "loss": res.loss, "regions": best["regions"], "complete": best["complete"], "stopped": best["stopped"],
           "count_seconds": sum(c["seconds"] for c in counts.values()), "method": method,
           "best_method": best_count(counts), "solves": best["solves"], "counts": counts,
           "sampled_regions": len(sampled), "union_regions": len(found | sampled),
           "bounds": {k: bounds[k] for k in COMPARED + ("shallow",)}}
    return net, res.meta, row


def _summary(rows, first_widths) -> list[dict]:
    out = []
    for n1 in first_widths:
        mine = [r for r in rows if r["n1"] == n1]
        counts = [r["regions"] for r in mine]
        per_method = {m: float(np.mean([r["counts"][m]["regions"] for r in mine]))
                      for m in ("milp", "walk") if m in mine[0]["counts"]}
        out.append({"n1": n1, "n2": mine[0]["n2"], "networks": len(mine), "regions_mean": float(np.mean(counts)),
                    "regions_min": min(counts), "regions_max": max(counts),
                    "all_complete": all(r["complete"] for r in mine), "method_means": per_method,
                    "union_mean": float(np.mean([r["union_regions"] for r in mine])),
                    "train_error_mean": float(np.mean([r["train_error"] for r in mine])),
                    "bounds": mine[0]["bounds"]})
    return out


def run(out_dir, *, first_widths=DEFAULTS["first_widths"], total: int = DEFAULTS["total"],
        networks_per_width: int = DEFAULTS["networks_per_width"], epochs: int = DEFAULTS["epochs"],
        time_limit: float = DEFAULTS["time_limit"], max_regions: int = DEFAULTS["max_regions"],
        samples: int = DEFAULTS["samples"], seed: int = 0, png: bool = True, method: str = DEFAULTS["method"],
        progress=None, cancel=None) -> dict:
    """Train the networks, count their regions, write the table and the figure.

    Parameters
    ----------
    out_dir : path
        Existing folder: gets ``regions_digits.json``, ``regions_digits.png`` and
        ``models/n1_<n1>_seed_<s>.json`` (every network, for ``neuralpoly regions``).
    first_widths, total : sequence of int, int
        Networks ``(n1; total - n1)``.
    networks_per_width : int
        Networks (seeds ``seed, seed + 1, ...``) per ``n1``.
    epochs : int
        Training epochs per network.
    time_limit : float
        Seconds of counting per network and per method; a count it stops is a lower bound.
    max_regions : int
        Region limit per network.
    samples : int
        Uniform random points of the box for the sampled lower bound.
    png : bool
        Draw the figure (needs matplotlib).
    method : {'both', 'milp', 'walk'}
        How the regions are counted: each row's ``counts`` has one entry per method run
        (``regions``, ``complete``, ``stopped``, ``seconds``, ``solves``: MILP solves or the
        walk's LPs); its ``regions``, ``complete``, ``stopped`` and ``solves`` are those of
        the best count (``best_method``, :func:`best_count`).
    progress, cancel : callable, optional
        See :mod:`neuralpoly_core.reporting`.

    Returns
    -------
    dict
        What ``regions_digits.json`` holds: ``networks`` (one row each), ``summary`` (one row per
        ``n1``: mean, min and max count, as in the paper's figure), the settings and the files.
    """
    first_widths, total, per, epochs, time_limit, max_regions, samples, seed = _check(
        first_widths, total, networks_per_width, epochs, time_limit, max_regions, samples, seed, method)
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise NeuralPolyError(f"folder {str(out_dir)!r} does not exist")
    (out_dir / "models").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    data = load_digits_split(0.2, seed=seed)
    rng = np.random.default_rng(seed)
    points = np.concatenate([data.x_train, data.x_val, rng.random((samples, data.dim))])
    jobs = [(n1, total - n1, seed + i) for n1 in first_widths for i in range(per)]
    report = Reporter(progress, cancel, what="the regions-digits experiment")
    rows = []
    for j, (n1, n2, s) in enumerate(jobs):
        net, meta, row = _one_network(data, n1, n2, s, epochs, time_limit, max_regions, points,
                                      report.part(j / len(jobs), 1.0 / len(jobs)), method)
        save_model(net, out_dir / "models" / f"n1_{n1}_seed_{s}.json", meta)
        rows.append(row)
        report((j + 1) / len(jobs), f"({n1};{n2}) seed {s}: {row['regions']} regions", force=True)
    result = {"experiment": "regions-digits", "paper": "Serra, Tjandraatmadja & Ramalingam, ICML 2018",
              "dataset": "scikit-learn digits (8x8, 64 inputs), 80/20 split", "box": [0.0, 1.0],
              "settings": {"first_widths": list(first_widths), "total": total, "networks_per_width": per,
                           "epochs": epochs, "time_limit": time_limit, "max_regions": max_regions,
                           "samples": samples, "seed": seed, "method": method},
              "networks": rows, "summary": _summary(rows, first_widths),
              "complete_counts": sum(r["complete"] for r in rows),
              "lower_bound_counts": sum(not r["complete"] for r in rows),
              "seconds": None, "files": {"json": "regions_digits.json", "png": "regions_digits.png" if png else None}}
    if png:
        plot_regions_digits(result, out_dir / "regions_digits.png")
    result["seconds"] = time.perf_counter() - t0
    atomic_write_text(out_dir / "regions_digits.json", json.dumps(result, indent=1) + "\n")
    return result


def _cell(counts: dict, method: str) -> str:
    c = counts.get(method)
    return f"{'-':>7s}  {'':4s}" if c is None else f"{c['regions']:7d}  {'yes' if c['complete'] else 'no':>4s}"


def format_table(result: dict) -> str:
    """The report as a text table: one line per network (each method's count and whether it
    completed), then one per ``n1`` with the best counts and the bounds."""
    lines = ["  n1  n2  seed  train_err     milp  done     walk  done  sampled  union  seconds"]
    for r in result["networks"]:
        lines.append(f"{r['n1']:4d} {r['n2']:3d} {r['seed']:5d}  {r['train_error']:9.4f}  {_cell(r['counts'], 'milp')}  "
                     f"{_cell(r['counts'], 'walk')}  {r['sampled_regions']:7d}  {r['union_regions']:5d}  "
                     f"{r['count_seconds']:7.1f}")
    lines.append("  n1  n2  best regions (mean, min-max)  " + "  ".join(COMPARED))
    for s in result["summary"]:
        b = "  ".join(f"{s['bounds'][k]:.3g}" for k in COMPARED)
        lines.append(f"{s['n1']:4d} {s['n2']:3d}  {s['regions_mean']:9.1f} ({s['regions_min']}-{s['regions_max']})"
                     f"{'' if s['all_complete'] else ' (lower bound)'}  {b}")
    return "\n".join(lines)
