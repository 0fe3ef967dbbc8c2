"""Space folding of digit classifiers against depth, as in the slides' algorithm.

For each depth, a ReLU classifier of that many hidden layers is trained on scikit-learn's
digits (:func:`~neuralpoly_core.training.classifier.train_classifier`). The training samples of
each label are clustered (k-means, ``clusters`` per label); the paths are all ordered pairs of
centroids of different labels. Reported per depth: validation accuracy, the global folding
``Phi`` (exact, and sampled with ``samples`` points), the median ``d_chi``, the share of paths
that fold, and the interaction coefficient: per path the mean of ``I(k)`` over its interior
splits ``k = 1 .. n-2``, averaged over the paths that have such splits, between the centroids and between their
PGD-perturbed versions (``eps`` in pixel units of [0, 1], ``pgd_steps`` steps against each
centroid's own label).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .._checks import check_callable, check_float, check_int
from ..errors import NeuralPolyError
from ..fileio import atomic_open, atomic_write_text
from ..folding.api import fold_paths
from ..network.modelfile import save_model
from ..reporting import Reporter
from ..training.adversarial import pgd
from ..training.classifier import accuracy, train_classifier
from ..training.datasets import load_digits_split

__all__ = ["run", "centroids", "format_table", "DEFAULTS"]

#: The default settings of :func:`run` (the CLI shows them).
DEFAULTS = {"depths": (1, 2, 3, 4), "width": 32, "epochs": 60, "clusters": 3, "eps": 0.1, "pgd_steps": 10,
            "samples": 100, "seed": 0}


def centroids(x: np.ndarray, y: np.ndarray, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means centroids of the samples of each label: ``(centres (L * clusters, dim), labels)``."""
    try:
        from sklearn.cluster import KMeans
    except ImportError:
        raise NeuralPolyError("the digits experiments need scikit-learn: pip install scikit-learn") from None
    centres, labels = [], []
    for label in np.unique(y):
        km = KMeans(n_clusters=clusters, n_init=10, random_state=seed).fit(x[y == label])
        centres.append(km.cluster_centers_)
        labels += [int(label)] * clusters
    return np.vstack(centres), np.array(labels, dtype=np.int64)


def _mean_interaction(folds) -> tuple[float | None, int]:
    """Mean over paths of the mean interior I(k), and how many paths have interior splits."""
    means = []
    for p in range(len(folds)):
        f = folds[p]
        if f.regions >= 3:
            means.append(float(f.interactions()[1:-1].mean()))
    return (float(np.mean(means)) if means else None), len(means)


def _depth_row(data, depth, settings, C, labels, I, J, out: Path, report: Reporter) -> dict:
    width, seed = settings["width"], settings["seed"]
    res = train_classifier(data, (width,) * depth, epochs=settings["epochs"], seed=seed,
                           progress=report.part(0.0, 0.7), cancel=report.cancel)
    net = res.network
    save_model(net, out / f"digits_depth{depth}.json", meta=res.meta)
    report(0.7, f"depth {depth}: folding")
    exact = fold_paths(net, C[I], C[J])
    sampled = fold_paths(net, C[I], C[J], samples=settings["samples"])
    adv = pgd(net, C, labels, settings["eps"], steps=settings["pgd_steps"])
    attacked = fold_paths(net, adv[I], adv[J])
    report(0.9, f"depth {depth}: interaction")
    clean_i, n_clean = _mean_interaction(exact)
    adv_i, n_adv = _mean_interaction(attacked)
    return {"depth": depth, "widths": [width] * depth, "train_accuracy": res.train_accuracy,
            "val_accuracy": res.val_accuracy, "phi": exact.phi, "phi_sampled": sampled.phi,
            "median_d_chi": float(np.median(exact.d_chi)), "folded_fraction": float(exact.folded.mean()),
            "mean_regions": float(exact.regions.mean()), "mean_regions_sampled": float(sampled.regions.mean()),
            "interaction_clean": clean_i, "interaction_adversarial": adv_i,
            "paths_with_splits": [n_clean, n_adv], "phi_adversarial": attacked.phi,
            "centroid_accuracy": accuracy(net, C, labels), "adversarial_accuracy": accuracy(net, adv, labels),
            "model": f"digits_depth{depth}.json"}


def _check(depths, settings) -> tuple[int, ...]:
    try:
        depths = tuple(depths)
    except TypeError:
        raise NeuralPolyError(f"depths must be a list of whole numbers, got {depths!r}") from None
    if not depths:
        raise NeuralPolyError("depths must name at least one depth")
    depths = tuple(check_int(d, "depth", 1, 20) for d in depths)
    settings["width"] = check_int(settings["width"], "width", 1, 4096)
    settings["epochs"] = check_int(settings["epochs"], "epochs", 1, 100_000)
    settings["clusters"] = check_int(settings["clusters"], "clusters", 1, 100)
    settings["eps"] = check_float(settings["eps"], "eps", 0.0)
    settings["pgd_steps"] = check_int(settings["pgd_steps"], "pgd_steps", 1, 10_000)
    settings["samples"] = check_int(settings["samples"], "samples", 2, 1_000_000)
    settings["seed"] = check_int(settings["seed"], "seed", 0)
    return depths


def run(out_dir, *, depths=DEFAULTS["depths"], width: int = DEFAULTS["width"], epochs: int = DEFAULTS["epochs"],
        clusters: int = DEFAULTS["clusters"], eps: float = DEFAULTS["eps"], pgd_steps: int = DEFAULTS["pgd_steps"],
        samples: int = DEFAULTS["samples"], seed: int = DEFAULTS["seed"], png: bool = True, progress=None,
        cancel=None) -> dict:
    """Train digit classifiers of growing depth and report their space folding.

    Writes into ``out_dir`` (created if its parent exists): ``folding_digits.json`` (the
    returned report), ``folding_digits.png`` (Phi and accuracy against depth, unless
    ``png=False``) and one model file per depth, ``digits_depth{d}.json``.

    Returns
    -------
    dict
        ``rows``: one dict per depth (see the module docstring for the numbers), ``settings``,
        ``paths`` (how many), ``seconds``.
    """
    settings = dict(width=width, epochs=epochs, clusters=clusters, eps=eps, pgd_steps=pgd_steps,
                    samples=samples, seed=seed)
    depths = _check(depths, settings)
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    out = Path(out_dir)
    if not out.parent.resolve().is_dir():
        raise NeuralPolyError(f"folder {str(out.parent)!r} does not exist (for {str(out)!r})")
    if png:
        _pyplot()
    t0 = time.perf_counter()
    report = Reporter(progress, cancel, what="folding-digits", interval=0.05)
    data = load_digits_split(0.2, seed=seed)
    report(0.0, "clustering")
    C, labels = centroids(data.x_train, data.y_train, settings["clusters"], seed)
    I, J = np.nonzero(labels[:, None] != labels[None, :])
    out.mkdir(exist_ok=True)
    rows = []
    for n, depth in enumerate(depths):
        part = report.part(n / len(depths), 1.0 / len(depths))
        rows.append(_depth_row(data, depth, settings, C, labels, I, J, out, part))
    result = {"experiment": "folding-digits", "settings": {"depths": list(depths), **settings},
              "paths": int(len(I)), "centroids": int(len(C)), "rows": rows,
              "seconds": time.perf_counter() - t0}
    atomic_write_text(out / "folding_digits.json", json.dumps(result, indent=1) + "\n")
    if png:
        _plot(rows, out / "folding_digits.png")
    report(1.0, "done", force=True)
    return result


def format_table(result: dict) -> str:
    """The report as a text table, one line per depth."""
    lines = ["depth  val_acc   Phi    Phi(sampled)  median d_chi  folded  regions  I clean   I adv"]
    for r in result["rows"]:
        ic = "-" if r["interaction_clean"] is None else f"{r['interaction_clean']:+.4f}"
        ia = "-" if r["interaction_adversarial"] is None else f"{r['interaction_adversarial']:+.4f}"
        lines.append(f"{r['depth']:5d}  {r['val_accuracy']:.4f}  {r['phi']:.4f}  {r['phi_sampled']:12.4f}  "
                     f"{r['median_d_chi']:12.4f}  {r['folded_fraction']:6.2f}  {r['mean_regions']:7.1f}  "
                     f"{ic:>8s}  {ia:>8s}")
    return "\n".join(lines)


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise NeuralPolyError("the experiment's PNG needs matplotlib: pip install matplotlib "
                              "(or run it without the picture)") from None
    return pyplot


def _plot(rows, path: Path) -> None:
    plt = _pyplot()
    depths = [r["depth"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.plot(depths, [r["phi"] for r in rows], "o-", label="Phi (exact)")
    left.plot(depths, [r["phi_sampled"] for r in rows], "s--", label="Phi (sampled)")
    left.set_xlabel("hidden layers")
    left.set_ylabel("global folding Phi")
    left.set_xticks(depths)
    acc = left.twinx()
    acc.plot(depths, [r["val_accuracy"] for r in rows], "^:", color="0.4", label="validation accuracy")
    acc.set_ylabel("validation accuracy")
    handles = left.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    for key, label in (("interaction_clean", "centroids"), ("interaction_adversarial", "PGD-perturbed")):
        right.plot(depths, [np.nan if r[key] is None else r[key] for r in rows], "o-", label=label)
    right.set_xlabel("hidden layers")
    right.set_ylabel("mean interaction I(k)")
    right.set_xticks(depths)
    right.legend(fontsize=8)
    fig.suptitle("Space folding of digit classifiers (centroid paths)", fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
