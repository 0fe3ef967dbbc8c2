"""The ``folding`` command: space folding of straight paths through a model (chi, r1, r2, Phi)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import NeuralPolyError
from .options import finite_float, int_list, positive_int

__all__ = ["register", "coordinates"]


def coordinates(text: str) -> list[float]:
    """``"0.5,-1,2"`` -> ``[0.5, -1.0, 2.0]`` (finite numbers)."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not p for p in parts):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 0,0.5,1, got {text!r}")
    return [finite_float(p) for p in parts]


def register(sub) -> None:
    """Add the command's parser to the ``neuralpoly`` subcommands."""
    f = sub.add_parser("folding", help="space folding of straight paths: chi, r1, r2, regions crossed, Phi",
                       description="The activation patterns a straight path passes through and how much the "
                                   "walk doubles back (chi = 1 - r1/r2), exactly at every crossing or from "
                                   "--samples points. Give one path (--from/--to) or a file of them (--paths). "
                                   "A negative first coordinate needs '=': --from=-1,0.5.")
    f.add_argument("model", type=Path, help="model file (JSON)")
    f.add_argument("--from", dest="x1", type=coordinates, metavar="X1", help="start point, e.g. 0,0.5")
    f.add_argument("--to", dest="x2", type=coordinates, metavar="X2", help="end point, e.g. 1,0.5")
    f.add_argument("--paths", type=Path, metavar="FILE",
                   help="many paths: .json list of [start, end] pairs or .npy array (P, 2, dim)")
    f.add_argument("--samples", type=positive_int, metavar="N",
                   help="also the paper's sampled method with N points (both are reported)")
    f.add_argument("--layers", type=int_list, metavar="L",
                   help="hidden layers (0-based) whose neurons make the pattern, e.g. 0,2 (default: all)")
    f.add_argument("--threshold", type=finite_float, default=0.0, help="bit = pre-activation > THRESHOLD (default 0)")
    f.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    f.set_defaults(run=cmd_folding)


def _points(args, dim):
    from ..folding.pathfile import load_paths
    if args.paths is not None:
        if args.x1 is not None or args.x2 is not None:
            raise NeuralPolyError("give either --paths FILE or --from X1 --to X2, not both")
        return load_paths(args.paths, dim)
    if args.x1 is None or args.x2 is None:
        raise NeuralPolyError("give a path: --from X1 --to X2 (comma-separated coordinates), or --paths FILE")
    for x, flag in ((args.x1, "--from"), (args.x2, "--to")):
        if len(x) != dim:
            raise NeuralPolyError(f"{flag} has {len(x)} coordinates; the network takes {dim}")
    return [args.x1], [args.x2]


def _line(label: str, s: dict) -> str:
    if "phi" in s:
        return (f"{label}: {s['paths']} paths, Phi {s['phi']:.4f}, {s['folded']} fold (chi > 0), "
                f"median d_chi {s['median_d_chi']:.4f}, {s['mean_regions']:.1f} regions on average")
    return (f"{label}: {s['regions']} regions, r1 {s['r1']}, r2 {s['r2']}, chi {s['chi']:.4f}, "
            f"chi(-G) {s['chi_reverse']:.4f}, d_chi {s['d_chi']:.4f}")


def cmd_folding(args) -> int:
    from ..folding.api import fold_paths
    from ..network.modelfile import load_model
    if args.samples is not None and args.samples < 2:
        raise NeuralPolyError("--samples needs at least 2 points")
    net = load_model(args.model)
    X1, X2 = _points(args, net.dim)
    kw = dict(layers=args.layers, threshold=args.threshold)
    many = args.paths is not None

    def summary(samples):
        result = fold_paths(net, X1, X2, samples=samples, **kw)
        if many:
            return result.summary()
        one = result[0]
        return {**one.summary(), "points": one.points.tolist()}

    issue = net.piecewise_linear_issue("use --samples N")
    if issue is not None and args.samples is not None:
        out = {**summary(args.samples), "exact_unavailable": issue}
        lines = [_line(f"sampled ({args.samples} points)", out), f"exact: unavailable ({issue})"]
    else:
        out = summary(None)
        lines = [_line("exact", out)]
        if args.samples is not None:
            out["sampled"] = summary(args.samples)
            lines.append(_line(f"sampled ({args.samples} points)", out["sampled"]))
    if args.json:
        print(json.dumps(out))
    else:
        print("\n".join(lines))
    return 0
