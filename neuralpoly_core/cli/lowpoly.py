"""``neuralpoly fit``: fit a network to a mesh's signed distance and extract a low-poly mesh."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from ..errors import NeuralPolyError
from ..training.lowpoly import EXTRACTION_METHODS
from .options import add_trilinear_correction_arg, check_outputs, finite_float, positive_int, write_mesh

__all__ = ["register"]


def register(sub) -> None:
    f = sub.add_parser("fit", help="fit a network to a mesh's signed distance; extract the low-poly mesh")
    f.add_argument("mesh", type=Path, help="input mesh: .obj, .stl or .ply (open or multi-part: "
                                            "inside = winding number > 1/2)")
    f.add_argument("--net", default="relu:8x32", help="network spec: relu:DEPTHxWIDTH (e.g. relu:8x32) or "
                   "hashgrid:simplex|trilinear,levels=L,features=F,table=LOG2,res=MIN-MAX,mlp=DxW")
    f.add_argument("--seconds", type=finite_float, default=None, help="training time budget (default 60 "
                                                                       "unless --steps is given)")
    f.add_argument("--steps", type=positive_int, default=None, help="training steps (reproducible with --seed)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    f.add_argument("--method", choices=list(EXTRACTION_METHODS), default="exact")
    f.add_argument("--resolution", type=positive_int, default=128, help="marching: grid cells per axis")
    add_trilinear_correction_arg(f)
    f.add_argument("--vertex-budget", type=positive_int, default=None, metavar="N",
                   help="simplify to at most N vertices (>= 4): coplanar faces merged exactly, then the smallest "
                        "patches or edges collapsed (their new vertices leave f = 0: max_level_error says how far)")
    f.add_argument("--min-region-area", type=finite_float, default=0.0, metavar="A",
                   help="simplify: collapse faces smaller than A times the total area (e.g. 1e-4; default 0)")
    f.add_argument("--collapse", choices=["auto", "edges", "faces"], default="auto",
                   help="how the vertex budget is met: libigl's edge collapses (closer; 'auto' where libigl "
                        "imports) or whole-face collapses (more n-gons kept at mild budgets)")
    f.add_argument("--samples", type=positive_int, default=200_000,
                   help="area-weighted samples each way for Chamfer/Hausdorff (default 200000)")
    f.add_argument("--model-out", type=Path, help="write the fitted model (JSON, with its placement)")
    f.add_argument("--out", type=Path, help="low-poly mesh to write: .obj (n-gons), .stl, .ply")
    f.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    f.set_defaults(run=cmd_fit)


def cmd_fit(args) -> int:
    from ..mesh.files import read_mesh
    from ..network.modelfile import save_model
    from ..training.lowpoly import fit_and_extract, parse_net_spec
    from .progress import ProgressBar

    spec = parse_net_spec(args.net)
    check_outputs(args.out, args.model_out)
    if args.seed < 0:
        raise NeuralPolyError(f"--seed must be >= 0, got {args.seed}")
    seconds = 60.0 if args.seconds is None and args.steps is None else args.seconds
    mesh = read_mesh(args.mesh)
    bar = ProgressBar(f"fit {spec.text}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit, out, summary = fit_and_extract(mesh, spec, seconds=seconds, steps=args.steps, seed=args.seed,
                                                device=args.device, method=args.method,
                                                resolution=args.resolution, samples=args.samples,
                                                vertex_budget=args.vertex_budget,
                                                min_region_area=args.min_region_area, collapse=args.collapse,
                                                progress=bar,
                                                trilinear_correction=args.trilinear_correction)
    finally:
        bar.close()
    for w in caught:
        print(f"neuralpoly fit: warning: {w.message}", file=sys.stderr)
    if args.model_out is not None:
        save_model(fit.network, args.model_out, meta=fit.meta(), placement=fit.placement)
    write_mesh(out, args.out, f"LowPoly {spec.text}")
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{spec.text}, {summary['steps']} steps in {summary['train_seconds']:.1f} s; {args.method} "
              f"extraction {summary['vertices']} vertices, {summary['faces']} faces in "
              f"{summary['extract_seconds']:.2f} s")
        if "simplify_seconds" in summary:
            print(f"simplified from {summary['vertices_before_simplify']} vertices, "
                  f"{summary['faces_before_simplify']} faces (Chamfer "
                  f"{100 * summary['chamfer_rel_before_simplify']:.3f} % before) in {summary['simplify_seconds']:.2f} s")
        print(f"Chamfer {summary['chamfer']:.4g} ({100 * summary['chamfer_rel']:.3f} % of the box diagonal), "
              f"Hausdorff {summary['hausdorff']:.4g}, normal consistency {summary['normal_consistency']:.4f}, "
              f"max |f(v)| {summary['max_level_error']:.2g}")
        if "flatness_error" in summary:
            print(f"trilinear: flatness error {summary['flatness_error']:.3g}, correction "
                  f"{summary['trilinear_correction']} (max |f(v)| {summary['planar_level_error']:.2g} before)")
    return 0
