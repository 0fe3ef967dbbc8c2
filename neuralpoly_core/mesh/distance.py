"""Distances between points and surfaces: area-uniform samples, point-to-mesh distance, Chamfer.

How far a mesh lies from another (marching cubes from the exact level set, one extraction
from a finer one) is measured here:

* :func:`sample_surface`: points uniformly distributed by area on a 3-D mesh (seeded);
* :func:`distance_to_mesh`: the exact distance from points to a mesh's surface (every face,
  triangulated; no sampling, no approximation beyond floating point);
* :func:`chamfer`: the two-way Chamfer distance between two meshes.

Only numpy is used. The distance search splits large triangles, buckets the triangles by
centroid in a uniform grid and tests the block of cells around each point exactly; points
whose nearest triangle may lie outside that block are tested against every cell that can
hold a closer triangle.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..errors import NeuralPolyError
from .polymesh import PolyMesh

__all__ = ["sample_surface", "distance_to_mesh", "chamfer", "closest_on_triangles"]

#: Most (point, triangle) pairs tested at once (bounds the memory of a query).
_PAIRS = 1 << 20
#: Most (point, grid cell) pairs bounded at once for points far from every triangle.
_CELL_PAIRS = 1 << 20
#: Side of the grid cells, in triangle sizes (centroid to farthest corner).
_CELL = 1.25
#: Rings of cells searched around a point's own cell before all cells are bounded.
_RINGS = 3


def _triangles(mesh, what: str):
    """Corners ``a, b, c`` ((T, 3) each) of the triangles of a 3-D mesh with faces."""
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
    return _sample(_triangles(mesh, "the mesh to sample"), n, np.random.default_rng(seed), "the mesh to sample")


def _sample(tri, n: int, rng: np.random.Generator, what: str) -> np.ndarray:
    a, b, c = tri
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    total = float(area.sum())
    if not total > 0:
        raise NeuralPolyError(f"{what} has zero area")
    idx = rng.choice(len(a), size=n, p=area / total)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    return (1 - s)[:, None] * a[idx] + (s * (1 - r2))[:, None] * b[idx] + (s * r2)[:, None] * c[idx]


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


def _centroids(a, b, c):
    """Centroid of each triangle and the distance from it to the farthest corner."""
    cen = (a + b + c) / 3.0
    return cen, np.sqrt(np.max([np.sum((t - cen) ** 2, axis=1) for t in (a, b, c)], axis=0))


def _split_large(a, b, c, radius: float):
    """Cut triangles (4-way, at edge midpoints) until no corner is farther than ``radius``
    from its triangle's centroid (each cut halves that distance); also returns
    :func:`_centroids` of the pieces."""
    while True:
        cen, rho = _centroids(a, b, c)
        big = rho > radius
        if not big.any():
            return a, b, c, cen, rho
        A, B, C = a[big], b[big], c[big]
        ab, bc, ca = (A + B) / 2, (B + C) / 2, (C + A) / 2
        a = np.concatenate([a[~big], A, ab, ca, ab])
        b = np.concatenate([b[~big], ab, B, bc, bc])
        c = np.concatenate([c[~big], ca, bc, C, ca])


class _TriangleGrid:
    """Triangles no larger than ``radius`` (centroid to corner) bucketed by centroid in cubic
    cells of side ``h > radius``; the occupied cells are sorted integer keys."""

    def __init__(self, a, b, c):
        _, rho = _centroids(a, b, c)
        area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
        # twice the typical size, and large enough that splitting makes O(T) pieces
        radius = max(2.0 * float(np.median(rho)), float(np.sqrt(area.sum() / len(a))), 1e-300)
        self.a, self.b, self.c, self.cen, self.rho = _split_large(a, b, c, radius)
        cen = self.cen
        self.origin = cen.min(axis=0)
        extent = float(np.max(cen.max(axis=0) - self.origin))
        self.radius = radius
        self.h = max(_CELL * radius, extent * 2.0 ** -20)        # at most 2**20 cells a side
        ijk = np.floor((cen - self.origin) / self.h).astype(np.int64)
        self.dims = tuple((ijk.max(axis=0) + 1).tolist())
        key = np.ravel_multi_index(tuple(ijk.T), self.dims)
        self.order = np.argsort(key, kind="stable")
        self.keys, self.start, self.count = np.unique(key[self.order], return_index=True, return_counts=True)
        self.lo = self.origin + np.stack(np.unravel_index(self.keys, self.dims), axis=1) * self.h

    def lookup(self, ijk: np.ndarray) -> np.ndarray:
        """Index of the occupied cell at integer coordinates ``ijk`` ((k, 3)), -1 if none."""
        inside = np.all((ijk >= 0) & (ijk < np.asarray(self.dims)), axis=1)
        out = np.full(len(ijk), -1, dtype=np.int64)
        if inside.any():
            key = np.ravel_multi_index(tuple(ijk[inside].T), self.dims)
            pos = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            out[inside] = np.where(self.keys[pos] == key, pos, -1)
        return out

    def test(self, P: np.ndarray, best: np.ndarray, pts: np.ndarray, cells: np.ndarray) -> None:
        """Lower ``best[pts]`` to the distances from ``P[pts]`` to the triangles of the cells
        ``cells`` (one cell index per entry of ``pts``, -1 for none; entries of one point
        together, so that the bound below is tight).

        A triangle's centroid is one of its points, so its distance bounds the point's; only
        triangles whose centroid is within that bound plus their size are tested exactly.
        """
        ok = cells >= 0
        pts, cells = pts[ok], cells[ok]
        nt = self.count[cells]
        ends = np.cumsum(nt)
        s = 0
        while s < len(pts):                      # runs of at most _PAIRS (point, triangle) pairs
            e = max(s + 1, int(np.searchsorted(ends, ends[s] - nt[s] + _PAIRS, side="right")))
            k = nt[s:e]
            first = np.cumsum(k) - k
            rep = np.repeat(np.arange(e - s), k)
            t = self.order[np.repeat(self.start[cells[s:e]], k) + np.arange(len(rep)) - first[rep]]
            owner = pts[s:e][rep]
            q = P[owner]
            dc = np.linalg.norm(q - self.cen[t], axis=1)
            np.minimum.at(best, owner, dc)
            close = dc - self.rho[t] <= best[owner]
            q, t, owner = q[close], t[close], owner[close]
            d = np.linalg.norm(q - closest_on_triangles(q, self.a[t], self.b[t], self.c[t]), axis=1)
            np.minimum.at(best, owner, d)
            s = e


def _ring(k: int) -> np.ndarray:
    """Integer offsets of the cells at Chebyshev distance ``k`` from a cell, (m, 3)."""
    r = np.arange(-k, k + 1)
    off = np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    return off[np.abs(off).max(axis=1) == k]


def _far_points(grid: _TriangleGrid, P: np.ndarray, best: np.ndarray, far: np.ndarray) -> None:
    """Exact distances for points whose nearest triangle may lie beyond the rings searched:
    first the cell with the nearest centroid gives a bound, then every cell whose box comes
    closer than the bound plus ``radius`` is tested."""
    lo = grid.lo
    hi = lo + grid.h
    rep = grid.cen[grid.order[grid.start]]                      # one centroid of each cell
    step = max(1, _CELL_PAIRS // len(lo))
    for s in range(0, len(far), step):
        pts = far[s:s + step]
        to_rep = np.zeros((len(pts), len(lo)))                   # squared distances (k, M)
        to_box = np.zeros((len(pts), len(lo)))
        for axis in range(3):
            x = P[pts, axis][:, None]
            to_rep += (rep[:, axis] - x) ** 2
            to_box += np.maximum(np.maximum(lo[:, axis] - x, x - hi[:, axis]), 0.0) ** 2
        grid.test(P, best, pts, np.argmin(to_rep, axis=1))
        rows, cells = np.nonzero(to_box <= ((best[pts] + grid.radius) ** 2)[:, None])
        grid.test(P, best, pts[rows], cells)


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
    tri = _triangles(mesh, "the mesh")
    try:
        P = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise NeuralPolyError("points must be an (n, 3) array of numbers") from None
    if P.ndim != 2 or P.shape[1] != 3:
        raise NeuralPolyError(f"points must have shape (n, 3), got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise NeuralPolyError("points contain NaN or infinite coordinates")
    return _distance(P, *tri)


def _distance(P: np.ndarray, a, b, c) -> np.ndarray:
    best = np.full(len(P), np.inf)
    if not len(P):
        return best
    grid = _TriangleGrid(a, b, c)
    own = np.floor((P - grid.origin) / grid.h).astype(np.int64)
    todo = np.arange(len(P))
    for k in range(_RINGS + 1):
        ring = _ring(k)
        step = max(1, _PAIRS // (8 * len(ring)))
        for s in range(0, len(todo), step):
            pts = todo[s:s + step]
            cells = grid.lookup((own[pts, None, :] + ring).reshape(-1, 3))
            grid.test(P, best, np.repeat(pts, len(ring)), cells)
        # a triangle beyond ring k has its centroid at least k h away: no nearer than k h - radius
        todo = todo[~(best[todo] <= k * grid.h - grid.radius)]
    if len(todo):
        _far_points(grid, P, best, todo)
    return best


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
    ta, tb = _triangles(a, "the first mesh"), _triangles(b, "the second mesh")
    pa = _sample(ta, n, rng, "the first mesh")
    pb = _sample(tb, n, rng, "the second mesh")
    return float(_distance(pa, *tb).mean() + _distance(pb, *ta).mean())
