"""Distances between points and surfaces: area-uniform samples, point-to-mesh distance, Chamfer.

How far a mesh lies from another (marching cubes from the exact level set, one extraction
from a finer one) is measured here:

* :func:`sample_surface`: points uniformly distributed by area on a 3-D mesh (seeded);
* :func:`distance_to_mesh`: the exact distance from points to a mesh's surface (every face,
  triangulated; no sampling, no approximation beyond floating point);
* :func:`chamfer`: the two-way Chamfer distance between two meshes.

The distances are libigl's (``igl.point_mesh_squared_distance``: an AABB tree over the
triangles, exact in float64); :func:`closest_on_triangles` is a numpy reference used by
the tests. Signed distances, winding numbers and the metrics between meshes are in
:mod:`neuralpoly_core.mesh.sdf`.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..errors import NeuralPolyError
from .polymesh import PolyMesh

__all__ = ["sample_surface", "distance_to_mesh", "chamfer", "closest_on_triangles", "igl_module",
           "checked_triangles", "sample_triangles", "checked_points"]


def checked_points(points) -> np.ndarray:
    """``points`` as a C-contiguous finite (n, 3) float64 array, or a NeuralPolyError naming the problem."""
    try:
        P = np.ascontiguousarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise NeuralPolyError("points must be an (n, 3) array of numbers") from None
    if P.ndim != 2 or P.shape[1] != 3:
        raise NeuralPolyError(f"points must have shape (n, 3), got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise NeuralPolyError("points contain NaN or infinite coordinates")
    return P


def checked_triangles(mesh, what: str):
    """(Checked) Corners ``a, b, c`` ((T, 3) each) of the triangles of a 3-D mesh with faces."""
    if not isinstance(mesh, PolyMesh):
        raise NeuralPolyError(f"{what} must be a PolyMesh, got {type(mesh).__name__}")
    if mesh.dim != 3:
        raise NeuralPolyError(f"{what} is a 2-D mesh; surface distances need a 3-D mesh")
    if mesh.n_faces == 0:
        raise NeuralPolyError(f"{what} has no faces; there is no surface to measure")
    if not np.all(np.isfinite(mesh.vertices)):
        raise NeuralPolyError(f"{what} has NaN or infinite vertex coordinates")
    tri = mesh.triangulate()
    v = mesh.vertices
    return v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]


def sample_surface(mesh: PolyMesh, n: int, seed=0) -> np.ndarray:
    """Points uniformly distributed by area on the surface of a 3-D mesh.

    Parameters
    ----------
    mesh : PolyMesh
        3-D mesh with at least one face of nonzero area (n-gons are triangulated).
    n : int
        Number of points (>= 0).
    seed : int, numpy.random.Generator or None
        Seed of ``numpy.random.default_rng`` (a Generator is used as it is, so successive
        calls continue its stream). The same seed gives the same points.

    Returns
    -------
    (n, 3) float64
        Each point picks a triangle with probability proportional to its area, then a
        uniform point in it.

    Raises
    ------
    NeuralPolyError
        For a 2-D mesh, a mesh without faces or of zero area, or a bad ``n``.
    """
    n = check_int(n, "number of samples", 0)
    return _sample(checked_triangles(mesh, "the mesh to sample"), n, np.random.default_rng(seed), "the mesh to sample")


def _sample(tri, n: int, rng: np.random.Generator, what: str) -> np.ndarray:
    return sample_triangles(tri, n, rng, what)[0]


def sample_triangles(tri, n: int, rng: np.random.Generator, what: str = "the mesh"):
    """``n`` area-uniform points on the triangles ``tri = (a, b, c)`` and the triangle of each:
    ``(points (n, 3), triangle indices (n,))``."""
    a, b, c = tri
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = float(area.sum())
    if not total > 0:
        raise NeuralPolyError(f"{what} has zero area")
    idx = rng.choice(len(a), size=n, p=area / total)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    pts = (1 - s)[:, None] * a[idx] + (s * (1 - r2))[:, None] * b[idx] + (s * r2)[:, None] * c[idx]
    return pts, idx


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest points to ``p`` on the triangles ``(a, b, c)``, row by row (all (k, 3)).

    Ericson's Voronoi-region test (Real-Time Collision Detection, 5.1.5); degenerate
    triangles give a closest point on their edges.
    """
    ab, ac, ap = b - a, c - a, p - a
    d1 = np.einsum("ij,ij->i", ab, ap)
    d2 = np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3 = np.einsum("ij,ij->i", ab, bp)
    d4 = np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5 = np.einsum("ij,ij->i", ab, cp)
    d6 = np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = np.where(denom != 0, vb / denom, 0.0)
        w = np.where(denom != 0, vc / denom, 0.0)
        out = a + v[:, None] * ab + w[:, None] * ac                  # interior
        t_ab = np.clip(d1 / np.where(d1 - d3 != 0, d1 - d3, 1.0), 0, 1)
        t_ac = np.clip(d2 / np.where(d2 - d6 != 0, d2 - d6, 1.0), 0, 1)
        t_bc = np.clip((d4 - d3) / np.where((d4 - d3) + (d5 - d6) != 0, (d4 - d3) + (d5 - d6), 1.0), 0, 1)
    on_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    on_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    on_bc = (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0)
    out = np.where(on_bc[:, None], b + t_bc[:, None] * (c - b), out)
    out = np.where(on_ac[:, None], a + t_ac[:, None] * ac, out)
    out = np.where(on_ab[:, None], a + t_ab[:, None] * ab, out)
    out = np.where(((d6 >= 0) & (d5 <= d6))[:, None], c, out)
    out = np.where(((d3 >= 0) & (d4 <= d3))[:, None], b, out)
    out = np.where(((d1 <= 0) & (d2 <= 0))[:, None], a, out)
    return out


def distance_to_mesh(points, mesh: PolyMesh) -> np.ndarray:
    """Distance from each point to the surface of a 3-D mesh (its faces, triangulated).

    Parameters
    ----------
    points : (n, 3) array_like
        Finite query points.
    mesh : PolyMesh
        3-D mesh with at least one face.

    Returns
    -------
    (n,) float64
        The exact Euclidean distance from each point to the nearest point of any face
        (unsigned: points inside a closed mesh get their distance to its boundary).

    Raises
    ------
    NeuralPolyError
        For a 2-D mesh, a mesh without faces, or points that are not a finite (n, 3) array.
    """
    tri = checked_triangles(mesh, "the mesh")
    return _distance(checked_points(points), *tri)


def _distance(P: np.ndarray, a, b, c) -> np.ndarray:
    """Exact point-to-triangle-soup distances (libigl's AABB tree, float64)."""
    if not len(P):
        return np.zeros(0)
    V, F = _soup(a, b, c)
    sq, _, _ = igl_module().point_mesh_squared_distance(np.ascontiguousarray(P, dtype=np.float64), V, F)
    return np.sqrt(np.maximum(sq, 0.0))


def _soup(a, b, c):
    """Vertices (3T, 3) and triangles (T, 3) of the triangles ``(a, b, c)``."""
    T = len(a)
    V = np.ascontiguousarray(np.stack([a, b, c], axis=1).reshape(-1, 3))
    return V, np.arange(3 * T, dtype=np.int64).reshape(T, 3)


def igl_module(purpose: str = "surface distances"):
    """libigl's Python module (``import igl``), or a NeuralPolyError saying that ``purpose``
    needs it and how to install it."""
    try:
        import igl
    except ImportError:
        raise NeuralPolyError(f"{purpose} need libigl: pip install libigl "
                              "(or the 'lowpoly' extra of neuralpoly)") from None
    return igl


def chamfer(a: PolyMesh, b: PolyMesh, n: int = 10_000, seed=0) -> float:
    """Two-way Chamfer distance between the surfaces of two 3-D meshes.

    The mean distance from ``n`` points sampled uniformly by area on ``a``
    (:func:`sample_surface`) to ``b`` (:func:`distance_to_mesh`) plus the mean distance from
    ``n`` points on ``b`` to ``a``: 0 for a mesh and itself, about twice the gap for two
    surfaces a constant distance apart (two concentric spheres: twice the difference of the
    radii). Not floored by the sampling density, as point-to-point Chamfer distances are.

    Parameters
    ----------
    a, b : PolyMesh
        3-D meshes with faces.
    n : int
        Samples on each surface.
    seed : int, numpy.random.Generator or None
        Seed of the sampling: ``a`` is sampled first, then ``b``, from one generator.

    Returns
    -------
    float

    Raises
    ------
    NeuralPolyError
        See :func:`sample_surface` and :func:`distance_to_mesh`; also for ``n < 1``.
    """
    n = check_int(n, "number of samples", 1)
    rng = np.random.default_rng(seed)
    ta, tb = checked_triangles(a, "the first mesh"), checked_triangles(b, "the second mesh")
    pa = _sample(ta, n, rng, "the first mesh")
    pb = _sample(tb, n, rng, "the second mesh")
    return float(_distance(pa, *tb).mean() + _distance(pb, *ta).mean())
