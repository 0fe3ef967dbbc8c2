"""The ``neuralpoly`` command line (also ``python -m neuralpoly_core``).

Commands
--------
generate   train a neural polytope and extract its mesh
extract    extract a mesh from an existing model file
gallery    train and extract every network of one or more paper figures
boolean    build a network from a JSON description of solids (boolean algebra of neurons)
info       describe a model file
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..errors import Cancelled, NeuralPolyError

EXIT_ERROR = 2
EXIT_CANCELLED = 130


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def _finite_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return x


def _add_extraction_args(p: argparse.ArgumentParser, *, polytope_only: bool) -> None:
    methods = ["auto", "exact", "radial"] if polytope_only else ["auto", "exact", "radial", "marching"]
    p.add_argument("--method", choices=methods, default="auto",
                   help="exact (piecewise-linear nets), radial (any p)"
                        + ("" if polytope_only else ", marching (box level sets of smooth nets)")
                        + "; auto picks exact when possible")
    p.add_argument("--resolution", type=_positive_int, default=None,
                   help="radial: sphere resolution (default 32); marching: grid cells per axis (default 64)")
    p.add_argument("--no-refine", action="store_true", help="radial: no adaptive refinement")
    p.add_argument("--slice-theta", type=_finite_float, default=None, metavar="THETA",
                   help="d>3: the 3-D slice x3=..=x_{d-2}=0, x_{d-1} = x_d tan(THETA) (radians)")
    p.add_argument("--out", type=Path, help="mesh file to write: .obj (n-gons), .stl, .ply")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary as the last line of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuralpoly",
        description="Train small networks and extract the surfaces they draw as exact meshes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="train a neural polytope and extract its mesh")
    g.add_argument("--dim", type=int, default=3, help="input dimension d >= 2 (default 3)")
    g.add_argument("--widths", required=True, help="layer widths, e.g. 4 or 4,2")
    g.add_argument("--p", default="1", help="exponent(s) of |x|^p: one for all layers or one per layer")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--restarts", type=_positive_int, default=None,
                   help="random starts trained together; the best is kept")
    g.add_argument("--steps", type=_positive_int, default=None, help="maximum optimiser steps")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    g.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    g.add_argument("--model-out", type=Path, help="write the trained model (JSON)")
    _add_extraction_args(g, polytope_only=True)

    e = sub.add_parser("extract", help="extract a mesh from a model file")
    e.add_argument("model", type=Path, help="model file (neuralpoly.model JSON)")
    e.add_argument("--level", type=_finite_float, default=None,
                   help="level c of f = c (default 1 for neural polytopes, 0 for box level sets)")
    e.add_argument("--bbox", type=_finite_float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="extract f = c inside the cube [LO,HI]^d (networks with biases, any level)")
    e.add_argument("--cap", action="store_true", help="box level sets: close the surface at the box")
    e.add_argument("--merge-coplanar", action="store_true",
                   help="box level sets, exact: merge coplanar faces across linear regions")
    e.add_argument("--workers", type=_positive_int, default=None,
                   help="box level sets, exact: threads bounding cells at once (default: the usable "
                        "cores, at most 4; the result does not depend on it)")
    _add_extraction_args(e, polytope_only=False)

    gal = sub.add_parser("gallery", help="all networks of paper figures: meshes, models, PNG overview")
    gal.add_argument("--figure", type=int, action="append", default=None,
                     help="paper figure number (2-9); repeat for several; default: all")
    gal.add_argument("--out", type=Path, required=True, help="output folder")
    gal.add_argument("--seed", type=int, default=0)
    gal.add_argument("--restarts", type=_positive_int, default=None)
    gal.add_argument("--format", choices=["obj", "stl", "ply"], default="obj")
    gal.add_argument("--no-png", action="store_true", help="skip the PNG overview")
    gal.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    gal.add_argument("--json", action="store_true")

    b = sub.add_parser("boolean", help="build a network from a JSON description of solids "
                                       "(boolean algebra of neurons)")
    b.add_argument("description", type=Path, help="neuralpoly.boolean JSON description (see README)")
    b.add_argument("--model-out", type=Path, help="write the compiled network (model JSON)")
    b.add_argument("--bbox", type=_finite_float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="box for extracting the solid's surface (default: the description's "
                        "domain, else [-1, 1])")
    b.add_argument("--resolution", type=_positive_int, default=64,
                   help="soft mode: marching-cubes cells per axis (default 64)")
    b.add_argument("--cap", action="store_true", help="close the surface where it leaves the box")
    b.add_argument("--out", type=Path, help="mesh file of the solid's surface: .obj, .stl, .ply")
    b.add_argument("--json", action="store_true", help="print a JSON summary as the last line")

    i = sub.add_parser("info", help="describe a model file")
    i.add_argument("model", type=Path)
    i.add_argument("--json", action="store_true")
    return parser


# -- commands --------------------------------------------------------------------------

def _slice_basis(dim: int, theta):
    if dim <= 3:
        if theta is not None:
            raise NeuralPolyError(f"--slice-theta is for d > 3; this network has d = {dim}")
        return None
    if theta is None:
        raise NeuralPolyError(
            f"a {dim}-D polytope cannot be shown whole: give --slice-theta THETA for the 3-D slice "
            f"x3=..=0, x{dim - 1} = x{dim} tan(THETA)")
    from ..polytope.slicing import paper_slice_basis
    return paper_slice_basis(dim, theta)


def _write_mesh(mesh, path: Path | None, name: str) -> None:
    if path is None:
        return
    from ..mesh.files import export_mesh
    export_mesh(mesh, path, name=name) if path.suffix.lower() == ".obj" else export_mesh(mesh, path)


def _print_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
        return
    name = summary.get("name") or "no name"
    line = f"{summary.get('type') or 'model'}: {name}; f-vector {tuple(summary['f_vector'])}"
    if summary.get("face_sizes"):
        line += "; faces " + ", ".join(f"{c} x {k}-gon" for k, c in summary["face_sizes"].items())
    print(line)
    if summary.get("loss") is not None:
        print(f"training MSE {summary['loss']:.6g}")
    print(f"max |f(v) - level| = {summary['max_level_error']:.3g} ({summary.get('method')})")


def cmd_generate(args) -> int:
    from ..network.architecture import ArchType, check_dim
    from ..network.modelfile import save_model
    from ..polytope.api import extract_polytope
    from ..summary import summarize
    from .progress import ProgressBar
    from ..training.polytope import train_polytope

    dim = check_dim(args.dim)
    arch = ArchType.from_strings(args.widths, args.p)
    basis = _slice_basis(dim, args.slice_theta)
    if args.method == "exact" and not arch.piecewise_linear:
        raise NeuralPolyError(f"exact extraction needs p = 1 in every layer; {arch} is not "
                              "piecewise linear (use --method radial or auto)")
    for path in (args.out, args.model_out):
        if path is not None and not path.parent.resolve().is_dir():
            raise NeuralPolyError(f"folder {str(path.parent)!r} does not exist (for {str(path)!r})")
    if args.out is not None:
        from ..mesh.files import check_format
        check_format(args.out)
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
    _write_mesh(mesh, args.out, f"NeuralPolytope {arch}")
    _print_summary(summary, args.json)
    return 0


def cmd_extract(args) -> int:
    from ..network.modelfile import load_model_with_meta
    from ..polytope.api import extract_polytope
    from ..summary import summarize

    net, meta = load_model_with_meta(args.model)
    if args.out is not None:
        from ..mesh.files import check_format
        check_format(args.out)
    box = args.bbox is not None or args.method == "marching" or not net.is_neural_polytope
    if box:
        from ..levelset.api import extract_level_set
        if net.dim not in (2, 3):
            raise NeuralPolyError(f"box level sets are for 2 or 3 inputs; this model has {net.dim}")
        if args.slice_theta is not None:
            raise NeuralPolyError("--slice-theta applies to neural polytopes, not box level sets")
        if args.bbox is None:
            raise NeuralPolyError("this network is not a bias-free neural polytope: give --bbox LO HI "
                                  "for the box in which to extract f = level")
        lo, hi = args.bbox
        if not lo < hi:
            raise NeuralPolyError(f"--bbox needs LO < HI, got {lo:g} {hi:g}")
        level = 0.0 if args.level is None else args.level
        method = "exact" if args.method == "auto" and net.is_piecewise_linear else (
            "marching" if args.method == "auto" else args.method)
        if method == "radial":
            raise NeuralPolyError("--method radial is for neural polytopes; use exact or marching with --bbox")
        mesh = extract_level_set(net, level, (lo, hi), method=method,
                                 resolution=args.resolution or 64, cap=args.cap,
                                 merge_coplanar=args.merge_coplanar, workers=args.workers)
        mesh.info.setdefault("method", method)
    else:
        level = 1.0 if args.level is None else args.level
        basis = _slice_basis(net.dim, args.slice_theta)
        mesh = extract_polytope(net, args.method, resolution=args.resolution or 32,
                                refine=not args.no_refine, basis=basis, level=level)
    summary = summarize(net, mesh, arch=meta.get("type"), loss=meta.get("loss"), level=level)
    _write_mesh(mesh, args.out, meta.get("type") and f"NeuralPolytope {meta['type']}" or args.model.stem)
    _print_summary(summary, args.json)
    return 0


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


def cmd_boolean(args) -> int:
    from ..construct.boolean import network_from_description
    from ..errors import ModelFormatError
    from ..levelset.api import extract_level_set
    from ..network.modelfile import save_model
    from ..summary import summarize

    try:
        desc = json.loads(args.description.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NeuralPolyError(f"description file {str(args.description)!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFormatError(f"{args.description.name}: not a valid JSON description: {e}") from None
    try:
        net = network_from_description(desc)
    except ModelFormatError as e:
        raise ModelFormatError(f"{args.description.name}: {e}") from None
    for path in (args.out, args.model_out):
        if path is not None and not path.parent.resolve().is_dir():
            raise NeuralPolyError(f"folder {str(path.parent)!r} does not exist (for {str(path)!r})")
    if args.out is not None:
        from ..mesh.files import check_format
        check_format(args.out)
    mode = desc.get("mode", "hard")
    meta = {"type": f"boolean ({mode})", "source": desc}
    if args.model_out is not None:
        save_model(net, args.model_out, meta=meta)
    if args.bbox is not None:
        bbox = tuple(args.bbox)
        if not bbox[0] < bbox[1]:
            raise NeuralPolyError(f"--bbox needs LO < HI, got {bbox[0]:g} {bbox[1]:g}")
    else:
        bbox = desc.get("domain", (-1.0, 1.0))
    if mode == "hard":
        mesh = extract_level_set(net, 0.0, bbox, method="exact", cap=args.cap, merge_coplanar=True)
    else:
        mesh = extract_level_set(net, 0.0, bbox, method="marching", resolution=args.resolution,
                                 cap=args.cap)
    summary = summarize(net, mesh, arch=meta["type"], level=0.0)
    if mesh.dim == 3:
        summary["volume"] = abs(mesh.volume()) if mesh.is_closed_manifold() else None
    _write_mesh(mesh, args.out, args.description.stem)
    _print_summary(summary, args.json)
    return 0


def cmd_info(args) -> int:
    from ..network.modelfile import load_model_with_meta
    net, meta = load_model_with_meta(args.model)
    info = {"dim": net.dim, "widths": list(net.widths),
            "activations": [l.activation.to_dict() for l in net.layers],
            "output": net.output.name, "bias_free": net.is_bias_free,
            "piecewise_linear": net.is_piecewise_linear, "degree": net.degree, "meta": meta}
    if args.json:
        print(json.dumps(info))
    else:
        for k, v in info.items():
            print(f"{k}: {v}")
    return 0


COMMANDS = {"generate": cmd_generate, "extract": cmd_extract, "gallery": cmd_gallery,
            "boolean": cmd_boolean, "info": cmd_info}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except NeuralPolyError as e:
        print(f"neuralpoly {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (Cancelled, KeyboardInterrupt):
        print(f"neuralpoly {args.command}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except OSError as e:
        print(f"neuralpoly {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
