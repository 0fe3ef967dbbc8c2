"""Argument types and shared steps of the commands: numbers, extraction options, slices, output."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from ..errors import NeuralPolyError

__all__ = ["positive_int", "finite_float", "int_list", "add_extraction_args", "slice_basis", "write_mesh", "print_summary",
           "check_outputs", "box"]


def positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {n}")
    return n


def finite_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return x


def int_list(text: str, lo: int = 0) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``: comma-separated whole numbers, each at least ``lo``."""
    try:
        out = [int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers like 1,2, got {text!r}") from None
    if any(n < lo for n in out):
        raise argparse.ArgumentTypeError(f"expected numbers >= {lo}, got {text!r}")
    return out


def add_extraction_args(p: argparse.ArgumentParser, *, polytope_only: bool) -> None:
    methods = ["auto", "exact", "radial"] if polytope_only else ["auto", "exact", "radial", "marching", "trilinear"]
    p.add_argument("--method", choices=methods, default="auto",
                   help="exact (piecewise-linear nets), radial (any p)"
                        + ("" if polytope_only else ", marching (box level sets of smooth nets), trilinear "
                                                    "(Kim 2024, trilinear hash grids)")
                        + "; auto picks exact when possible")
    if not polytope_only:
        add_trilinear_correction_arg(p)
    p.add_argument("--resolution", type=positive_int, default=None,
                   help="radial: sphere resolution (default 32); marching: grid cells per axis (default 64)")
    p.add_argument("--no-refine", action="store_true", help="radial: no adaptive refinement")
    p.add_argument("--slice-theta", type=finite_float, default=None, metavar="THETA",
                   help="d>3: the 3-D slice x3=..=x_{d-2}=0, x_{d-1} = x_d tan(THETA) (radians)")
    p.add_argument("--out", type=Path, help="mesh file to write: .obj (n-gons), .stl, .ply")
    p.add_argument("--json", action="store_true",
                   help="print a JSON summary as the last line of stdout")


def add_trilinear_correction_arg(p: argparse.ArgumentParser) -> None:
    """``--trilinear-correction`` (and ``--no-kim-correction``) for ``--method trilinear``."""
    p.add_argument("--trilinear-correction", choices=["surfaces", "kim", "edge", "none"], default="surfaces",
                   help="--method trilinear: where the level-set vertices go: surfaces (default; Kim's "
                        "Thm 4.7 solved exactly: where f = 0 meets the edge's curved faces), kim (Thm 4.7's diagonal-plane "
                        "quartic), edge (the root of f on the "
                        "straight edge), none (linear interpolation, the planarity assumption)")
    p.add_argument("--no-kim-correction", dest="trilinear_correction", action="store_const", const="none",
                   help="same as --trilinear-correction none")


def slice_basis(dim: int, theta):
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


def write_mesh(mesh, path: Path | None, name: str) -> None:
    if path is None:
        return
    from ..mesh.files import export_mesh
    export_mesh(mesh, path, name=name) if path.suffix.lower() == ".obj" else export_mesh(mesh, path)


def print_summary(summary: dict, as_json: bool) -> None:
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


def check_outputs(mesh_path: Path | None, *other_paths: Path | None) -> None:
    """Refuse before any work: an output folder that does not exist, a mesh format not known."""
    for path in (mesh_path,) + other_paths:
        if path is not None and not path.parent.resolve().is_dir():
            raise NeuralPolyError(f"folder {str(path.parent)!r} does not exist (for {str(path)!r})")
    if mesh_path is not None:
        from ..mesh.files import check_format
        check_format(mesh_path)


def box(bbox) -> tuple[float, float]:
    """``--bbox LO HI`` checked: ``(lo, hi)`` with LO < HI."""
    lo, hi = bbox
    if not lo < hi:
        raise NeuralPolyError(f"--bbox needs LO < HI, got {lo:g} {hi:g}")
    return lo, hi
