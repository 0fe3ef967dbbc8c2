"""Quadric-error edge collapses of a closed polygon mesh by libigl, planar n-gons kept.

:func:`collapse_edges` triangulates the mesh (no vertex added), lets libigl's ``igl.qslim``
(Garland & Heckbert 1997: each vertex carries the quadric of the planes around it, the edge
whose collapse costs the least squared distance goes first, the new vertex at the quadric's
least-error point) collapse edges down to the vertex budget, and merges the triangles that are
still coplanar (within ``tolerance``, :func:`~neuralpoly_core.mesh.topology.merge_coplanar_groups`)
back into n-gons. Every face is planar: triangles are, and a merged n-gon is within the
tolerance. A triangle keeps the region id of the face it was cut from.

Against :mod:`.simplify`'s own face collapses (which keep more n-gons where the budget is
mild) this is the closer approximation at small budgets and 2-4x faster, because it
collapses one edge at a time where the other moves a whole face to one point; the benchmark
(``bench/bench_simplify.py``) compares the two.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from ..errors import ExtractionError, NeuralPolyError
from .distance import igl_module
from .polymesh import PolyMesh
from .topology import merge_coplanar_groups

__all__ = ["collapse_edges", "have_libigl"]


def have_libigl() -> bool:
    """Whether libigl's Python module imports (it is not in Blender's own Python)."""
    try:
        igl_module("edge collapses")
    except NeuralPolyError:
        return False
    return True


def collapse_edges(mesh: PolyMesh, vertex_budget: int, *, tolerance: float = 1e-9, strict: bool = True) -> PolyMesh:
    """``mesh`` (a closed 3-D manifold) with edges collapsed until at most ``vertex_budget``
    vertices are left (see the module docstring).

    Parameters
    ----------
    mesh : PolyMesh
        A closed manifold of planar faces (e.g. an exact level set after coplanar merging).
    vertex_budget : int
        At most this many vertices in the result (at least 4).
    tolerance : float
        Coplanarity tolerance of the merge after the collapses.
    strict : bool
        When libigl stops above the budget (it refuses collapses that would break the
        surface), raise; with False return what it reached (or, should its result not be a
        closed manifold of the same Euler characteristic, ``mesh`` merged, uncollapsed).

    Returns
    -------
    PolyMesh
        A closed manifold of the same Euler characteristic; ``region_ids`` from the faces
        the triangles were cut from, ``region_patterns`` and ``info`` copied.

    Raises
    ------
    NeuralPolyError
        Without libigl, for a mesh that is not a closed 3-D manifold, or when the collapses
        cannot meet the budget and keep the closed surface (the message says how far they got).
    """
    igl = igl_module("edge collapses")
    vertex_budget = check_int(vertex_budget, "vertex budget", 4)
    tolerance = check_float(tolerance, "coplanarity tolerance", 0.0)
    if mesh.dim != 3 or not mesh.is_closed_manifold():
        raise NeuralPolyError("edge collapses need a closed 3-D manifold mesh")
    if mesh.n_vertices <= vertex_budget:               # qslim would still collapse one edge
        return merge_coplanar_groups(mesh, tolerance)[0]
    T = mesh.triangulate()
    sizes = mesh.face_sizes
    big = np.nonzero(sizes != 3)[0]
    owner = np.concatenate([np.nonzero(sizes == 3)[0], np.repeat(big, sizes[big] - 2)])  # triangulate()'s order
    if len(owner) != len(T):
        raise ExtractionError("the triangulation does not fit the faces (a bug: please report it)")
    chi = mesh.euler_characteristic
    U, G, J, _ = igl.qslim(np.asfortranarray(mesh.vertices), np.asfortranarray(T, dtype=np.int32),
                           2 * (vertex_budget - chi))      # a closed triangle mesh has 2 (V - chi) faces
    G = np.asarray(G, dtype=np.int64).reshape(-1, 3)
    used = np.zeros(len(U), dtype=bool)
    used[G.ravel()] = True
    newid = np.cumsum(used) - 1
    out = PolyMesh(np.asarray(U)[used], newid[G].ravel(), np.full(len(G), 3),
                   region_ids=mesh.region_ids[owner[np.asarray(J, dtype=np.int64)]],
                   region_patterns=mesh.region_patterns, basis=mesh.basis, info=dict(mesh.info))
    closed = out.is_closed_manifold() and out.euler_characteristic == chi
    if not strict and (closed or out.n_vertices <= vertex_budget):
        return merge_coplanar_groups(out if closed else mesh, tolerance)[0]
    if out.n_vertices > vertex_budget or not closed:
        raise NeuralPolyError(
            f"the vertex budget {vertex_budget} cannot be met by edge collapses that keep the closed surface: "
            f"libigl's qslim stopped at {out.n_vertices} vertices"
            f"{'' if closed else ' and broke the surface'}; raise the budget or collapse faces instead")
    return merge_coplanar_groups(out, tolerance)[0]
