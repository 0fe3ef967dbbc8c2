"""The ``regions`` and ``bounds`` commands: count a model's linear regions (exactly, or by MILP),
write them as a mesh or a picture, and print the known bounds of an architecture."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import NeuralPolyError
from ..regions.display import bounds_summary
from .folding import coordinates
from .options import box, check_outputs, finite_float, int_list, positive_int

__all__ = ["register"]

def register(sub) -> None:
    """Add the commands' parsers to the ``neuralpoly`` subcommands."""
    r = sub.add_parser("regions", help="count a model's linear regions in a box (exact or MILP)",
                       description="The linear regions of a piecewise-linear model (ReLU, |x|, identity, "
                                   "maxout) in a box: exactly for 1- to 3-D inputs or a plane / segment "
                                   "through any input, or by mixed-integer programming (HiGHS) in any "
                                   "dimension. A point whose first coordinate is negative needs a leading space: --plane ' -1,0' 1,0 0,1.")
    r.add_argument("model", type=Path, help="model file (JSON)")
    r.add_argument("--bbox", nargs=2, type=finite_float, metavar=("LO", "HI"), default=None,
                   help="the box [LO, HI]^k (default -1 1; with --segment the parameter t runs over [0, 1])")
    r.add_argument("--plane", nargs=3, type=coordinates, metavar=("ORIGIN", "U", "V"),
                   help="the plane x = ORIGIN + a U + b V, (a, b) in the box (comma-separated coordinates)")
    r.add_argument("--segment", nargs=2, type=coordinates, metavar=("X1", "X2"),
                   help="the segment x = X1 + t (X2 - X1), t in [0, 1]: its breakpoints")
    r.add_argument("--method", choices=["exact", "milp", "walk"], default=None,
                   help="exact enumeration (inputs up to 3-D, planes, segments), MILP (any dimension) or walk "
                        "(the region graph by facet LPs, any dimension); default exact where it applies, else milp")
    r.add_argument("--milp", action="store_true", help="the same as --method milp")
    r.add_argument("--time-limit", type=finite_float, default=None, metavar="S",
                   help="milp: seconds for the whole count (default 60); a stopped count is a lower bound")
    r.add_argument("--max-regions", type=positive_int, default=None, metavar="N",
                   help="exact: refuse more regions; milp: stop after N (a lower bound)")
    r.add_argument("--shrink", type=finite_float, default=0.0,
                   help="--out in 3-D: move each cell's corners this fraction towards its centroid (default 0)")
    r.add_argument("--out", type=Path, help="the regions as a mesh: .ply (face properties region_id and "
                                            "popcount), .obj or .stl")
    r.add_argument("--png", type=Path, help="a picture of the 2-D regions coloured by region")
    r.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    r.set_defaults(run=cmd_regions)

    b = sub.add_parser("bounds", help="the known bounds on the linear regions of an architecture",
                       description="Bounds on the number of linear regions of a network (n0; n1, ..., nL), "
                                   "in exact integer arithmetic (Zaslavsky, Raghu et al., Montufar, "
                                   "Serra et al.; see docs/regions.md).")
    b.add_argument("--dim", type=positive_int, required=True, metavar="N0", help="input dimension n0")
    b.add_argument("--widths", type=lambda t: int_list(t, 1), required=True, metavar="N1,N2,...",
                   help="hidden-layer widths, e.g. 10,12")
    b.add_argument("--maxout", type=int, default=None, metavar="K", help="rank-K maxout layers (K >= 2)")
    b.add_argument("--json", action="store_true", help="print the bounds as JSON (huge numbers as strings)")
    b.set_defaults(run=cmd_bounds)


def _slice(args, dim):
    """``(origin, basis, bbox)`` of the command's slice, or ``(None, None, bbox)``."""
    import numpy as np
    if args.plane is not None and args.segment is not None:
        raise NeuralPolyError("give --plane or --segment, not both")
    bbox = box(args.bbox) if args.bbox is not None else (-1.0, 1.0)
    points = args.plane if args.plane is not None else args.segment
    if points is None:
        return None, None, bbox
    flag = "--plane" if args.plane is not None else "--segment"
    for x in points:
        if len(x) != dim:
            raise NeuralPolyError(f"{flag} takes points of {dim} coordinates (the model's input); got {len(x)}")
    if args.segment is not None:
        if args.bbox is not None:
            raise NeuralPolyError("--segment runs over t in [0, 1]; give no --bbox with it")
        x1, x2 = np.asarray(args.segment[0]), np.asarray(args.segment[1])
        if not np.any(x1 != x2):
            raise NeuralPolyError("--segment needs two different points")
        return x1, (x2 - x1)[None, :], (0.0, 1.0)
    return np.asarray(points[0]), np.asarray(points[1:]), bbox


def _method(args, dim, sliced) -> str:
    method = args.method
    if args.milp:
        if method == "exact":
            raise NeuralPolyError("--milp and --method exact contradict each other")
        method = "milp"
    if method is None:
        method = "exact" if sliced or dim <= 3 else "milp"
    if method in ("milp", "walk"):
        if sliced:
            raise NeuralPolyError(f"--method {method} counts the regions of the whole input box; --plane and "
                                  "--segment need --method exact")
        if args.png is not None or args.out is not None:
            raise NeuralPolyError(f"--out and --png draw the exact enumeration; --method {method} finds patterns, "
                                  "not polygons")
    elif args.time_limit is not None:
        raise NeuralPolyError("--time-limit is for --method milp or walk")
    return method


def _write(args, tess) -> dict:
    from .. import regions
    written = {}
    if (args.out is not None or args.png is not None) and tess.dim == 1:
        raise NeuralPolyError("a 1-D input (or --segment) has intervals, not polygons: see 'breakpoints' "
                              "in the JSON; --out and --png need 2-D or 3-D")
    if args.out is not None:
        from ..mesh.files import export_mesh
        mesh = regions.region_mesh(tess, args.shrink)
        opts = {}
        if args.out.suffix.lower() == ".ply":
            opts["face_properties"] = {"popcount": regions.face_data(tess, mesh)["popcount"]}
        export_mesh(mesh, args.out, **opts)
        written["out"] = str(args.out)
    if args.png is not None:
        regions.plot_regions_png(tess, args.png)
        written["png"] = str(args.png)
    return written


def cmd_regions(args) -> int:
    from ..network.modelfile import load_model
    from ..regions import bounds_of, count_regions
    check_outputs(args.out, args.png)
    if args.png is not None and args.png.suffix.lower() != ".png":
        raise NeuralPolyError(f"--png writes a .png file, got {str(args.png)!r}")
    if not 0.0 <= args.shrink < 1.0:
        raise NeuralPolyError(f"--shrink must lie in [0, 1), got {args.shrink:g}")
    net = load_model(args.model)
    origin, basis, bbox = _slice(args, net.dim)
    method = _method(args, net.dim, basis is not None)
    opts = {} if args.max_regions is None else {"max_regions": args.max_regions}
    if method == "exact":
        if basis is not None:
            opts.update(origin=origin, basis=basis)
        elif net.dim > 3:
            raise NeuralPolyError(f"the exact enumeration needs a 1- to 3-D input or a slice; this model has "
                                  f"{net.dim} inputs: give --plane ORIGIN U V or --segment X1 X2, or --method milp")
    elif args.time_limit is not None:
        if args.time_limit <= 0:
            raise NeuralPolyError(f"--time-limit must be positive, got {args.time_limit:g}")
        opts["time_limit"] = args.time_limit
    count = count_regions(net, bbox, method=method, **opts)
    out = count.to_dict()
    out.setdefault("pieces", None)
    tess = count.tessellation
    if tess is not None:
        out.update(dim=tess.dim, seconds=tess.seconds, pieces=tess.pieces)
        if tess.dim == 1:
            out["breakpoints"] = tess.breakpoints.tolist()
        out.update(_write(args, tess))
    try:
        out["bounds"] = bounds_summary(bounds_of(net))
    except NeuralPolyError:
        out["bounds"] = None          # identity / |x| layers: the theorems are about ReLU and maxout
    if args.json:
        print(json.dumps(out))
    else:
        pieces = "" if out["pieces"] is None else f", {out['pieces']:,} pieces"
        print(f"{count.message}{pieces} ({method}, {out['dim']}-D)")
        for key in ("out", "png"):
            if key in out:
                print(f"wrote {out[key]}")
    return 0


def cmd_bounds(args) -> int:
    from ..regions import BOUND_NAMES, all_bounds
    from ..regions.display import format_count
    bounds = all_bounds(args.dim, args.widths, maxout=args.maxout)
    if args.json:
        print(json.dumps(bounds_summary(bounds)))
        return 0
    print(f"({args.dim}; {', '.join(map(str, args.widths))})" + (f", rank-{args.maxout} maxout" if args.maxout else ""))
    for key, name in BOUND_NAMES.items():
        if key in bounds:
            value = bounds[key]
            print(f"  {key:20s} {'-' if value is None else format_count(value, grouped=True)}   {name}")
    return 0
