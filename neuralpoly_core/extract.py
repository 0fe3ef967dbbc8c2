"""One entry point for extracting the level set of a neural polytope network.

Chooses exact extraction (piecewise-linear networks, :mod:`.polytope`) or radial
extraction (any exponent, :mod:`.radial`), handles slices of d > 3 polytopes and other
levels than 1, and summarises the result (f-vector, name, level error) for the CLI,
the Blender add-on and scripts.
"""

from __future__ import annotations

import time

import numpy as np

from .errors import ExtractionError
from .mesh import PolyMesh
from .network import Network

__all__ = ["extract_polytope", "summarize", "METHODS"]

METHODS = ("auto", "exact", "radial")


def _check_star_shaped(net: Network) -> float:
    if not net.is_bias_free:
        raise ExtractionError(
            "the network has biases, so f is not positively homogeneous and f=1 need not be "
            "star-shaped; use the bounding-box level-set extraction (`neuralpoly extract --bbox`)")
    deg = net.degree
    if deg is None:
        names = sorted({l.activation.name for l in net.layers if l.activation.degree is None})
        raise ExtractionError(
            f"activation {', '.join(names)} is not positively homogeneous, so f=1 is not a "
            "neural polytope; use the bounding-box level-set extraction")
    return deg


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
    if method not in METHODS:
        raise ExtractionError(f"unknown extraction method {method!r}; expected one of {', '.join(METHODS)}")
    deg = _check_star_shaped(net)
    level = float(level)
    if not np.isfinite(level) or level <= 0:
        raise ExtractionError(f"the level of a neural polytope must be > 0, got {level:g}")
    if net.dim > 3 and basis is None:
        raise ExtractionError(
            f"a {net.dim}-D polytope cannot be shown whole: give a 3-D slice "
            "(e.g. basis=slicing.paper_slice_basis(dim, theta), or --slice-theta on the CLI)")
    if method == "auto":
        method = "exact" if net.is_piecewise_linear else "radial"
    t0 = time.perf_counter()
    if method == "exact":
        if not net.is_piecewise_linear:
            bad = [i for i, l in enumerate(net.layers) if not l.activation.piecewise_linear]
            raise ExtractionError(
                f"exact extraction needs piecewise-linear activations (p = 1); layer {bad[0]} is "
                f"not; use method 'radial'")
        from .polytope import extract_exact
        mesh = extract_exact(net, basis=basis)
    else:
        from .radial import extract_radial
        mesh = extract_radial(net, resolution=resolution, refine=refine, basis=basis)
    if level != 1.0:
        mesh.vertices = mesh.vertices * level ** (1.0 / deg)
    mesh.info.update(method=method, level=level, seconds=time.perf_counter() - t0)
    return mesh


def summarize(net: Network, mesh: PolyMesh, *, arch=None, loss=None, level: float = 1.0) -> dict:
    """The facts of an extracted mesh as a JSON-able dict.

    Keys: ``type``, ``dim``, ``loss``, ``vertices``, ``edges``, ``faces`` (polygons, not
    triangles), ``f_vector``, ``face_sizes``, ``name``, ``regular``, ``euler_characteristic``,
    ``max_level_error``, ``method``, ``regions``.
    """
    from .naming import describe
    from .polytope import max_level_error
    d = describe(mesh)
    # extractors that know better (box level sets leave cap vertices out) record their own
    err = mesh.info.get("max_level_error")
    V, E = mesh.n_vertices, mesh.n_edges
    F = mesh.n_faces if mesh.dim == 3 else 1
    return {
        "type": None if arch is None else str(arch),
        "dim": net.dim,
        "loss": None if loss is None else float(loss),
        "vertices": V,
        "edges": E,
        "faces": F,
        "f_vector": list(mesh.f_vector),
        "face_sizes": {str(k): v for k, v in mesh.face_size_counts().items()} if mesh.dim == 3 else {},
        "name": d.get("name"),
        "regular": d.get("regular"),
        "euler_characteristic": mesh.euler_characteristic,
        "max_level_error": float(max_level_error(net, mesh, level) if err is None else err),
        "method": mesh.info.get("method"),
        "regions": int(len(np.unique(mesh.region_ids[mesh.region_ids >= 0]))),
    }
