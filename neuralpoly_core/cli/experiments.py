"""The ``experiment`` command: ``neuralpoly experiment NAME --out DIR [options] [--json]``.

:data:`EXPERIMENTS` is the registry: a name -> :class:`Experiment` (how to import the module
of ``neuralpoly_core.experiments`` whose ``run(out_dir, **kwargs, progress=, cancel=) -> dict``
does the work and whose ``format_table(result) -> str`` prints it, the options it takes and how
they become ``run``'s keyword arguments). Adding an experiment is one entry.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

from .options import finite_float, int_list, positive_int

__all__ = ["register", "Experiment", "EXPERIMENTS"]


@dataclass(frozen=True)
class Experiment:
    """One entry of the registry.

    Attributes
    ----------
    load : callable
        ``load()`` imports and returns the experiment's module (``run`` and ``format_table``).
    help : str
    add_options : callable
        ``add_options(parser)`` adds the experiment's own options (``--out``, ``--seed`` and
        ``--json`` are common to all).
    kwargs : callable
        ``kwargs(args) -> dict`` of keyword arguments for ``run`` (besides ``seed``).
    """

    load: Callable[[], ModuleType]
    help: str
    add_options: Callable[[argparse.ArgumentParser], None]
    kwargs: Callable[[argparse.Namespace], dict]


def _folding_digits_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--depths", type=lambda text: int_list(text, 1), default=[1, 2, 3, 4], help="hidden layers of each classifier "
                   "(default 1,2,3,4)")
    p.add_argument("--width", type=positive_int, default=32, help="neurons per hidden layer (default 32)")
    p.add_argument("--epochs", type=positive_int, default=60, help="training epochs (default 60)")
    p.add_argument("--clusters", type=positive_int, default=3, help="k-means centroids per label (default 3)")
    p.add_argument("--eps", type=finite_float, default=0.1, help="PGD radius in pixel units of [0, 1] (default 0.1)")
    p.add_argument("--samples", type=positive_int, default=100, help="points of the sampled method (default 100)")
    p.add_argument("--no-png", action="store_true", help="no PNG picture")


def _folding_known_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--levels", type=lambda text: int_list(text, 1), default=[1, 2, 3, 4, 5],
                   help="tent-map depths and CantorNet recursion levels (default 1,2,3,4,5)")
    p.add_argument("--paths", type=positive_int, default=1000,
                   help="random segments of the one-hidden-layer check (default 1000)")


def _folding_known() -> ModuleType:
    from ..experiments import folding_known
    return folding_known


def _folding_digits() -> ModuleType:
    from ..experiments import folding_digits
    return folding_digits


def _regions_digits_options(p: argparse.ArgumentParser) -> None:
    from ..experiments.regions_digits import DEFAULTS as D
    p.add_argument("--first-widths", type=lambda text: int_list(text, 1), default=list(D["first_widths"]),
                   help="first-layer widths n1 of the networks (n1; TOTAL - n1) (default "
                        + ",".join(map(str, D["first_widths"])) + ")")
    p.add_argument("--total", type=positive_int, default=D["total"], help=f"hidden units in all (default {D['total']})")
    p.add_argument("--networks-per-width", type=positive_int, default=D["networks_per_width"],
                   help=f"networks (seeds) per n1 (default {D['networks_per_width']})")
    p.add_argument("--epochs", type=positive_int, default=D["epochs"], help=f"training epochs (default {D['epochs']})")
    p.add_argument("--time-limit", type=finite_float, default=D["time_limit"],
                   help=f"seconds of counting per network and per method (default {D['time_limit']:g}); "
                        "a stopped count is a lower bound")
    p.add_argument("--max-regions", type=positive_int, default=D["max_regions"],
                   help=f"region limit per network (default {D['max_regions']})")
    p.add_argument("--samples", type=int, default=D["samples"],
                   help=f"random points of the sampled lower bound (default {D['samples']})")
    p.add_argument("--no-png", action="store_true", help="no PNG picture")
    p.add_argument("--method", choices=["milp", "walk", "both"], default=D["method"],
                   help="count by MILP, by walking the region graph (exact, far faster in 64-D), or both "
                        f"(default {D['method']}; each with --time-limit)")


def _regions_digits() -> ModuleType:
    from ..experiments import regions_digits
    return regions_digits


EXPERIMENTS: dict[str, Experiment] = {
    "folding-digits": Experiment(
        _folding_digits, "space folding (Phi) of digit classifiers against depth and accuracy",
        _folding_digits_options,
        lambda a: dict(depths=a.depths, width=a.width, epochs=a.epochs, clusters=a.clusters, eps=a.eps,
                       samples=a.samples, png=not a.no_png)),
    "folding-known": Experiment(
        _folding_known, "the tent map and CantorNet as model files: chi against the closed form 1 - L/(2^L - 1)",
        _folding_known_options, lambda a: dict(levels=a.levels, paths=a.paths)),
    "regions-digits": Experiment(
        _regions_digits, "linear regions of digit classifiers (walk and MILP counts) against the bounds and training error",
        _regions_digits_options,
        lambda a: dict(first_widths=a.first_widths, total=a.total, networks_per_width=a.networks_per_width,
                       epochs=a.epochs, time_limit=a.time_limit, max_regions=a.max_regions, samples=a.samples,
                       png=not a.no_png, method=a.method)),
}


def register(sub) -> None:
    """Add the command's parser to the ``neuralpoly`` subcommands."""
    e = sub.add_parser("experiment", help="run an experiment: " + ", ".join(EXPERIMENTS))
    names = e.add_subparsers(dest="experiment", required=True, metavar="NAME")
    for name, spec in EXPERIMENTS.items():
        p = names.add_parser(name, help=spec.help, description=spec.help)
        p.add_argument("--out", type=Path, required=True, help="output folder (created; its parent must exist)")
        p.add_argument("--seed", type=int, default=0, help="seed of the split, clustering and training (default 0)")
        p.add_argument("--json", action="store_true", help="print the JSON report as the last line of stdout")
        spec.add_options(p)
        p.set_defaults(run=cmd_experiment)


def cmd_experiment(args) -> int:
    from .progress import ProgressBar
    spec = EXPERIMENTS[args.experiment]
    module = spec.load()
    bar = ProgressBar(args.experiment)
    try:
        result = module.run(args.out, seed=args.seed, progress=bar, **spec.kwargs(args))
    finally:
        bar.close()
    print(module.format_table(result))
    print(f"wrote {args.out}")
    if args.json:
        print(json.dumps(result))
    return 0
