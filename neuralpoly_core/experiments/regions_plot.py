"""The figure of the regions-digits experiment: regions against the bounds, and training error
against regions (matplotlib, optional: imported when drawing)."""

from __future__ import annotations

import numpy as np

from ..errors import NeuralPolyError
from ..fileio import atomic_open

__all__ = ["plot_regions_digits"]

_BOUND_STYLE = {"layer_product": ("layer product of Zaslavsky bounds", ":"),
                "montufar2017": ("Montufar 2017", "--"), "serra": ("Serra et al. 2018, Thm 1", "-")}


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NeuralPolyError("the figure needs matplotlib: pip install matplotlib (or run without the PNG)") from None
    return plt


def _markers(ax, x, y, complete, color, label):
    x, y, complete = np.asarray(x), np.asarray(y), np.asarray(complete, dtype=bool)
    ax.scatter(x[complete], y[complete], color=color, s=28, label=f"{label} (complete)" if complete.any() else None)
    ax.scatter(x[~complete], y[~complete], facecolors="none", edgecolors=color, s=28,
               label=f"{label} (lower bound: time limit)" if (~complete).any() else None)


def _methods(result: dict) -> str:
    method = result["settings"].get("method", "milp")
    return {"both": "walk or MILP", "walk": "walk", "milp": "MILP"}.get(method, method)


def plot_regions_digits(result: dict, path) -> None:
    """Two panels: per ``n1``, every network's best count (filled: complete; hollow: a lower
    bound) and the bounds (log scale); training error against the number of regions found,
    coloured from red (small ``n1``) to blue."""
    plt = _pyplot()
    rows = result["networks"]
    widths = sorted({r["n1"] for r in rows})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, (label, style) in _BOUND_STYLE.items():
        left.plot(widths, [next(r["bounds"][key] for r in rows if r["n1"] == n1) for n1 in widths],
                  style, color="0.3", label=label)
    _markers(left, [r["n1"] for r in rows], [max(r["regions"], 1) for r in rows], [r["complete"] for r in rows],
             "tab:red", f"best count ({_methods(result)})")
    left.scatter([r["n1"] + 0.12 for r in rows], [r["union_regions"] for r in rows], marker="x", color="tab:blue",
                 s=22, label="counted and sampled patterns (lower bound)")
    left.set_yscale("log")
    left.set_xticks(widths, [f"({n1};{result['settings']['total'] - n1})" for n1 in widths])
    left.set_xlabel("hidden layers (n1; n2)")
    left.set_ylabel("linear regions in [0,1]^64")
    left.legend(fontsize=7, loc="lower right")
    colors = plt.get_cmap("coolwarm_r")(np.linspace(0, 1, max(len(widths), 2)))
    for n1, color in zip(widths, colors):
        mine = [r for r in rows if r["n1"] == n1]
        _markers(right, [r["union_regions"] for r in mine], [r["train_error"] for r in mine],
                 [r["complete"] for r in mine], color, f"({n1};{mine[0]['n2']})")
    right.set_xscale("log")
    right.set_xlabel("linear regions found (counted and sampled; a lower bound unless complete)")
    right.set_ylabel("training error")
    right.legend(fontsize=7)
    fig.suptitle("Linear regions of digit classifiers (Serra, Tjandraatmadja & Ramalingam 2018, offline)", fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
