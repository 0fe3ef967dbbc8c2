"""Commands that make meshes of networks: ``generate``, ``extract``, ``gallery``."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import NeuralPolyError
from .options import (add_extraction_args, box, check_outputs, finite_float, positive_int, print_summary,
                      slice_basis, write_mesh)

__all__ = ["register"]


def register(sub) -> None:
    """Add the commands' parsers to the ``neuralpoly`` subcommands."""
    g = sub.add_parser("generate", help="train a neural polytope and extract its mesh")
    g.add_argument("--dim", type=int, default=3, help="input dimension d >= 2 (default 3)")
    g.add_argument("--widths", required=True, help="layer widths, e.g. 4 or 4,2")
    g.add_argument("--p", default="1", help="exponent(s) of |x|^p: one for all layers or one per layer")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--restarts", type=positive_int, default=None,
                   help="random starts trained together; the best is kept")
    g.add_argument("--steps", type=positive_int, default=None, help="maximum optimiser steps")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    g.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    g.add_argument("--model-out", type=Path, help="write the trained model (JSON)")
    add_extraction_args(g, polytope_only=True)
    g.set_defaults(run=cmd_generate)

    e = sub.add_parser("extract", help="extract a mesh from a model file")
    e.add_argument("model", type=Path, help="model file (neuralpoly.model JSON)")
    e.add_argument("--level", type=finite_float, default=None,
                   help="level c of f = c (default 1 for neural polytopes, 0 for box level sets)")
    e.add_argument("--bbox", type=finite_float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="extract f = c inside the cube [LO,HI]^d (networks with biases, any level)")
    e.add_argument("--cap", action="store_true", help="box level sets: close the surface at the box")
    e.add_argument("--merge-coplanar", action="store_true",
                   help="box level sets, exact: merge coplanar faces across linear regions")
    e.add_argument("--workers", type=positive_int, default=None,
                   help="box level sets, exact: threads bounding cells at once (default: the usable "
                        "cores, at most 4; the result does not depend on it)")
    e.add_argument("--vertex-budget", type=positive_int, default=None, metavar="N",
                   help="3-D box level sets: simplify to at most N vertices (coplanar faces merged exactly, "
                        "then patches or edges collapsed: --collapse; max_level_error is measured after)")
    e.add_argument("--min-region-area", type=finite_float, default=0.0, metavar="A",
                   help="3-D box level sets: collapse faces smaller than A times the total area")
    e.add_argument("--collapse", choices=["auto", "edges", "faces"], default="auto",
                   help="how the vertex budget is met: libigl's edge collapses (closer; 'auto' where libigl "
                        "imports) or whole-face collapses (more n-gons kept at mild budgets)")
    add_extraction_args(e, polytope_only=False)
    e.set_defaults(run=cmd_extract)

    gal = sub.add_parser("gallery", help="all networks of paper figures: meshes, models, PNG overview")
    gal.add_argument("--figure", type=int, action="append", default=None,
                     help="paper figure number (2-9); repeat for several; default: all")
    gal.add_argument("--out", type=Path, required=True, help="output folder")
    gal.add_argument("--seed", type=int, default=0)
    gal.add_argument("--restarts", type=positive_int, default=None)
    gal.add_argument("--format", choices=["obj", "stl", "ply"], default="obj")
    gal.add_argument("--no-png", action="store_true", help="skip the PNG overview")
    gal.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    gal.add_argument("--json", action="store_true")
    gal.set_defaults(run=cmd_gallery)


def cmd_generate(args) -> int:
    from ..network.architecture import ArchType, check_dim
    from ..network.modelfile import save_model
    from ..polytope.api import extract_polytope
    from ..summary import summarize
    from .progress import ProgressBar
    from ..training.polytope import train_polytope

    dim = check_dim(args.dim)
    arch = ArchType.from_strings(args.widths, args.p)
    basis = slice_basis(dim, args.slice_theta)
    if args.method == "exact" and not arch.piecewise_linear:
        raise NeuralPolyError(f"exact extraction needs p = 1 in every layer; {arch} is not "
                              "piecewise linear (use --method radial or auto)")
    check_outputs(args.out, args.model_out)
    if args.method == "radial" or (args.method == "auto" and not arch.piecewise_linear):
        from ..polytope.radial import check_radial_memory
        check_radial_memory(min(dim, 3), sum(arch.widths), args.resolution or 32)     # before training
    elif dim > 2:
        from ..polytope.exact import check_exact_memory
        check_exact_memory(sum(arch.widths))                                            # before training
    bar = ProgressBar(f"training {dim}D {arch}")
    kwargs = dict(seed=args.seed, dtype=args.dtype, device=args.device, progress=bar)
    if args.restarts is not None:
        kwargs["restarts"] = args.restarts
    if args.steps is not None:
        kwargs["max_steps"] = args.steps
    try:
        result = train_polytope(dim, arch, **kwargs)
    finally:
        bar.close()
    mesh = extract_polytope(result.network, args.method, resolution=args.resolution or 32,
                            refine=not args.no_refine, basis=basis)
    summary = summarize(result.network, mesh, arch=arch, loss=result.loss)
    if args.slice_theta is not None:
        summary["slice_theta"] = args.slice_theta
    meta = dict(result.meta(), name=summary["name"])
    if args.model_out is not None:
        save_model(result.network, args.model_out, meta=meta)
    write_mesh(mesh, args.out, f"NeuralPolytope {arch}")
    print_summary(summary, args.json)
    return 0


def cmd_extract(args) -> int:
    from ..network.modelfile import load_model_placed
    from ..polytope.api import extract_polytope
    from ..summary import summarize

    net, meta, placement = load_model_placed(args.model)
    check_outputs(args.out)
    if placement is not None and args.bbox is None:        # a network fitted to a mesh (neuralpoly fit)
        args.bbox = placement.box
    in_box = args.bbox is not None or args.method == "marching" or not net.is_neural_polytope
    if in_box:
        from ..levelset.api import extract_level_set
        if net.dim not in (2, 3):
            raise NeuralPolyError(f"box level sets are for 2 or 3 inputs; this model has {net.dim}")
        if args.slice_theta is not None:
            raise NeuralPolyError("--slice-theta applies to neural polytopes, not box level sets")
        if args.bbox is None:
            raise NeuralPolyError("this network is not a bias-free neural polytope: give --bbox LO HI "
                                  "for the box in which to extract f = level")
        lo, hi = box(args.bbox)
        level = 0.0 if args.level is None else args.level
        method = "exact" if args.method == "auto" and net.is_piecewise_linear else (
            "marching" if args.method == "auto" else args.method)
        if method == "radial":
            raise NeuralPolyError("--method radial is for neural polytopes; use exact or marching with --bbox")
        mesh = extract_level_set(net, level, (lo, hi), method=method,
                                 resolution=args.resolution or 64, cap=args.cap,
                                 merge_coplanar=args.merge_coplanar, workers=args.workers,
                                 trilinear_correction=args.trilinear_correction)
        mesh.info.setdefault("method", method)
        mesh, simplified = _simplified(net, level, mesh, args)
    else:
        if args.vertex_budget is not None or args.min_region_area:
            raise NeuralPolyError("--vertex-budget and --min-region-area simplify 3-D box level sets (give --bbox)")
        simplified = {}
        level = 1.0 if args.level is None else args.level
        basis = slice_basis(net.dim, args.slice_theta)
        mesh = extract_polytope(net, args.method, resolution=args.resolution or 32,
                                refine=not args.no_refine, basis=basis, level=level)
    summary = summarize(net, mesh, arch=meta.get("type"), loss=meta.get("loss"), level=level)
    summary.update(simplified)
    if placement is not None:                               # back where the fitted mesh was
        mesh = mesh.copy()
        mesh.vertices = placement.to_world(mesh.vertices)
    write_mesh(mesh, args.out, meta.get("type") and f"NeuralPolytope {meta['type']}" or args.model.stem)
    print_summary(summary, args.json)
    return 0


def _simplified(net, level: float, mesh, args):
    """``mesh`` simplified as ``--vertex-budget`` / ``--min-region-area`` ask, and the summary's extra keys."""
    if args.vertex_budget is None and not args.min_region_area:
        return mesh, {}
    from ..mesh.simplify import simplify_mesh, simplify_summary

    if mesh.dim != 3 or args.cap:
        raise NeuralPolyError("--vertex-budget and --min-region-area simplify closed 3-D surfaces (no --cap, 3 inputs)")
    out = simplify_mesh(mesh, vertex_budget=args.vertex_budget, min_region_area=args.min_region_area,
                        f=net, level=level, collapse=args.collapse)
    return out, simplify_summary(out)


def cmd_gallery(args) -> int:
    from ..sweeps.gallery import run_gallery
    from .progress import ProgressBar

    bar = ProgressBar("gallery")
    try:
        report = run_gallery(args.out, figures=args.figure, seed=args.seed, restarts=args.restarts,
                             mesh_format=args.format, png=not args.no_png, device=args.device,
                             progress=bar)
    finally:
        bar.close()
    if args.json:
        print(json.dumps(report))
    else:
        for entry in report["networks"]:
            print(f"Fig. {entry['figure']} {entry['dim']}D {entry['type']}: {entry['name'] or '-'} "
                  f"f-vector {tuple(entry['f_vector'])} MSE {entry['loss']:.3g}")
        print(f"{len(report['networks'])} networks, trained in {report['train_seconds']:.2f} s; "
              f"wrote {args.out}")
    return 0
