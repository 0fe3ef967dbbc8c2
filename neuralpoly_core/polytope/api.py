"""One entry point for extracting a neural polytope: :func:`extract_polytope`.

Chooses exact extraction (piecewise-linear networks, :mod:`.exact`) or radial extraction
(any exponent, :mod:`.radial`) and handles slices of d > 3 polytopes and levels other than 1.
:func:`neuralpoly_core.summary.summarize` then gives the facts of the mesh.
"""

from __future__ import annotations

import time

from .._checks import check_choice, check_float
from ..errors import ExtractionError
from ..mesh.polymesh import PolyMesh
from ..network.model import Network
from .exact import extract_polytope_exact
from .radial import extract_radial

__all__ = ["extract_polytope", "METHODS"]

METHODS = ("auto", "exact", "radial")


def _check_star_shaped(net: Network) -> float:
    net.require_scalar("a neural polytope")
    return net.require_homogeneous("use the bounding-box level-set extraction, "
                                   "`neuralpoly extract --bbox`")


def extract_polytope(net: Network, method: str = "auto", *, resolution: int = 32,
                     refine: bool = True, basis=None, level: float = 1.0) -> PolyMesh:
    """Extract the neural polytope ``f = level`` of a bias-free network.

    Parameters
    ----------
    net : Network
        Bias-free network with homogeneous activations (``abs_pow``, ``relu``, ``identity``).
    method : {'auto', 'exact', 'radial'}
        ``exact`` needs a piecewise-linear network (all p = 1); ``auto`` picks ``exact``
        when possible, ``radial`` otherwise.
    resolution : int
        Radial extraction only: base sphere resolution.
    refine : bool
        Radial extraction only: refine where the surface bends.
    basis : (d, 3) array, optional
        Slice of a d > 3 polytope through this 3-D subspace (see :mod:`.slicing`).
    level : float
        Level c > 0. Since ``f(t x) = t**deg f(x)``, ``f = c`` is ``f = 1`` scaled by
        ``c**(1/deg)``.

    Returns
    -------
    PolyMesh
        With ``info`` holding ``method`` and ``seconds``.
    """
    check_choice(method, METHODS, "extraction method", error=ExtractionError)
    deg = _check_star_shaped(net)
    level = check_float(level, "the level of a neural polytope", 0.0, lo_open=True, error=ExtractionError)
    if net.dim > 3 and basis is None:
        raise ExtractionError(
            f"a {net.dim}-D polytope cannot be shown whole: give a 3-D slice "
            "(e.g. basis=polytope.paper_slice_basis(dim, theta), or --slice-theta on the CLI)")
    if method == "auto":
        method = "exact" if net.is_piecewise_linear else "radial"
    t0 = time.perf_counter()
    if method == "exact":
        net.require_piecewise_linear("use method 'radial'")
        mesh = extract_polytope_exact(net, basis=basis)
    else:
        mesh = extract_radial(net, resolution=resolution, refine=refine, basis=basis)
    if level != 1.0:
        mesh.vertices = mesh.vertices * level ** (1.0 / deg)
    mesh.info.update(method=method, level=level, seconds=time.perf_counter() - t0)
    return mesh
