"""Meshes the project makes itself: spheres, a torus, a box with a hole (for tests and benchmarks).

All are closed, oriented (counter-clockwise seen from outside) 2-manifolds of known Euler
characteristic: :func:`uv_sphere` and :func:`icosphere` 2, :func:`torus` and
:func:`box_with_hole` 0 (genus 1). :func:`geodesic_sphere` gives the raw arrays of the
icosphere (also the start mesh of radial extraction).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float, check_int
from ..errors import NeuralPolyError
from .polymesh import PolyMesh

__all__ = ["geodesic_sphere", "icosphere", "uv_sphere", "torus", "box_with_hole"]


def geodesic_sphere(resolution: int, error=NeuralPolyError) -> tuple[np.ndarray, np.ndarray]:
    """A geodesic triangulation of the unit sphere.

    Each face of a regular icosahedron is cut into ``resolution**2`` triangles by a
    barycentric grid with ``resolution`` segments along each edge, and the grid points are
    projected onto the sphere. Vertices on shared icosahedron edges are shared, so the
    mesh is closed: ``10 resolution**2 + 2`` vertices, ``20 resolution**2`` triangles.

    Parameters
    ----------
    resolution : int
        Subdivisions along an edge of the icosahedron (>= 1).

    Returns
    -------
    vertices : (V, 3) float64
        Unit vectors.
    triangles : (T, 3) int64
        Vertex indices, counter-clockwise seen from outside.
    """
    R = check_int(resolution, "icosphere resolution", 1, error=error)
    t = (1.0 + math.sqrt(5.0)) / 2.0
    corners = np.array([(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
                        (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)],
                       dtype=np.float64)
    corners /= np.linalg.norm(corners, axis=1, keepdims=True)
    faces = np.array([(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9),
                      (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2),
                      (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10),
                      (8, 6, 7), (9, 8, 1)], dtype=np.int64)
    # the 30 icosahedron edges, each once with a < b
    fe = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    fe.sort(axis=1)
    edges = np.unique(fe, axis=0)
    edge_index = {(int(a), int(b)): k for k, (a, b) in enumerate(edges)}
    n_edge_pts = R - 1
    n_int = (R - 1) * (R - 2) // 2
    edge_base = 12
    face_base = edge_base + len(edges) * n_edge_pts
    n_vertices = face_base + len(faces) * n_int

    verts = np.empty((n_vertices, 3))
    verts[:12] = corners
    if n_edge_pts:
        s = np.arange(1, R)[:, None] / R
        for k, (a, b) in enumerate(edges):
            verts[edge_base + k * n_edge_pts: edge_base + (k + 1) * n_edge_pts] = \
                (1 - s) * corners[a] + s * corners[b]

    # barycentric grid of one face: (i, j) with i + j <= R, point = A + i/R (B-A) + j/R (C-A)
    ii, jj = np.meshgrid(np.arange(R + 1), np.arange(R + 1), indexing="ij")
    keep = ii + jj <= R
    ii, jj = ii[keep], jj[keep]
    grid = -np.ones((R + 1, R + 1), dtype=np.int64)      # (i, j) -> local slot
    grid[ii, jj] = np.arange(len(ii))
    interior = (ii >= 1) & (jj >= 1) & (ii + jj <= R - 1)
    local_int = np.cumsum(interior) - 1                   # rank among interior points

    # local triangles of the grid (orientation of A, B, C)
    ui, uj = np.nonzero(np.add.outer(np.arange(R), np.arange(R)) <= R - 1)
    up = np.stack([grid[ui, uj], grid[ui + 1, uj], grid[ui, uj + 1]], axis=1)
    di, dj = np.nonzero(np.add.outer(np.arange(R), np.arange(R)) <= R - 2)
    down = np.stack([grid[di + 1, dj], grid[di + 1, dj + 1], grid[di, dj + 1]], axis=1)
    local_tris = np.concatenate([up, down])

    tris = []
    for f, (A, B, C) in enumerate(faces):
        glob = np.empty(len(ii), dtype=np.int64)
        glob[grid[0, 0]], glob[grid[R, 0]], glob[grid[0, R]] = A, B, C

        def edge_points(p, q, steps):
            """Global indices of the points at parameters steps/R from p to q."""
            k = edge_index[(min(p, q), max(p, q))]
            tt = steps if p < q else R - steps
            return edge_base + k * n_edge_pts + (tt - 1)

        if n_edge_pts:
            st = np.arange(1, R)
            glob[grid[st, 0]] = edge_points(A, B, st)              # A -> B
            glob[grid[0, st]] = edge_points(A, C, st)              # A -> C
            glob[grid[R - st, st]] = edge_points(B, C, st)         # B -> C
        if n_int:
            glob[interior] = face_base + f * n_int + local_int[interior]
            w = np.stack([(R - ii - jj), ii, jj], axis=1)[interior] / R
            verts[face_base + f * n_int: face_base + (f + 1) * n_int] = w @ corners[[A, B, C]]
        tris.append(glob[local_tris])
    verts /= np.linalg.norm(verts, axis=1, keepdims=True)
    return verts, np.concatenate(tris)


def icosphere(radius: float = 1.0, resolution: int = 8, center=(0.0, 0.0, 0.0)) -> PolyMesh:
    """A geodesic sphere of ``radius`` (:func:`geodesic_sphere`): ``10 R^2 + 2`` vertices on
    the sphere, ``20 R^2`` triangles."""
    r = check_float(radius, "radius", 0.0, lo_open=True)
    U, T = geodesic_sphere(resolution)
    return PolyMesh(r * U + np.asarray(center, dtype=np.float64), T.ravel(), np.full(len(T), 3))


def uv_sphere(radius: float = 1.0, segments: int = 32, rings: int = 16) -> PolyMesh:
    """A latitude-longitude sphere: ``segments (rings - 1) + 2`` vertices on the sphere,
    quads between the latitudes and triangle fans at the poles (``segments rings`` faces)."""
    r = check_float(radius, "radius", 0.0, lo_open=True)
    m, n = check_int(segments, "segments", 3), check_int(rings, "rings", 2)
    theta = np.pi * np.arange(1, n) / n                       # polar angles of the inner latitudes
    phi = 2 * np.pi * np.arange(m) / m
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (n - 1, m))], axis=-1)
    V = np.concatenate([[[0, 0, 1.0]], ring.reshape(-1, 3), [[0, 0, -1.0]]]) * r
    south = len(V) - 1

    def at(i, j):                                             # latitude i (0 .. n-2), longitude j
        return 1 + i * m + j % m
    faces = [[0, at(0, j), at(0, j + 1)] for j in range(m)]
    faces += [[at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)] for i in range(n - 2) for j in range(m)]
    faces += [[at(n - 2, j + 1), at(n - 2, j), south] for j in range(m)]
    return PolyMesh.from_faces(V, faces)


def torus(major: float = 1.0, minor: float = 0.35, n_major: int = 48, n_minor: int = 24) -> PolyMesh:
    """A torus around the z axis: tube radius ``minor`` at distance ``major`` from the axis,
    ``n_major n_minor`` vertices and quads (Euler characteristic 0)."""
    R, r = check_float(major, "major radius", 0.0, lo_open=True), check_float(minor, "minor radius", 0.0, lo_open=True)
    if not r < R:
        raise NeuralPolyError(f"a torus needs minor radius < major radius, got {r:g} >= {R:g}")
    a, b = check_int(n_major, "n_major", 3), check_int(n_minor, "n_minor", 3)
    u = 2 * np.pi * np.arange(a) / a
    v = 2 * np.pi * np.arange(b) / b
    U, W = np.meshgrid(u, v, indexing="ij")
    rho = R + r * np.cos(W)
    V = np.stack([rho * np.cos(U), rho * np.sin(U), r * np.sin(W)], axis=-1).reshape(-1, 3)

    def at(i, j):
        return (i % a) * b + j % b
    faces = [[at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)] for i in range(a) for j in range(b)]
    return PolyMesh.from_faces(V, faces)


def box_with_hole(outer: float = 1.0, inner: float = 0.45, height: float = 0.5) -> PolyMesh:
    """The square frame ``([-outer, outer]^2 minus (-inner, inner)^2) x [-height, height]``: a
    box with a square hole through it along z (genus 1). 16 vertices, 16 quads, volume
    ``8 (outer^2 - inner^2) height``."""
    a, b = check_float(outer, "outer half-size", 0.0, lo_open=True), check_float(inner, "inner half-size", 0.0, lo_open=True)
    h = check_float(height, "half-height", 0.0, lo_open=True)
    if not b < a:
        raise NeuralPolyError(f"the hole must be smaller than the box: inner {b:g} >= outer {a:g}")
    sq = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1.0]])    # counter-clockwise seen from +z
    V = np.concatenate([np.c_[s * sq, np.full(4, z)] for z in (h, -h) for s in (a, b)])
    to, ti, bo, bi = (lambda k, base=base: base + k % 4 for base in (0, 4, 8, 12))
    faces = []
    for k in range(4):
        faces.append([to(k), to(k + 1), ti(k + 1), ti(k)])             # top, +z
        faces.append([bo(k), bi(k), bi(k + 1), bo(k + 1)])             # bottom, -z
        faces.append([bo(k), bo(k + 1), to(k + 1), to(k)])             # outer wall, outwards
        faces.append([bi(k), ti(k), ti(k + 1), bi(k + 1)])             # wall of the hole, into it
    return PolyMesh.from_faces(V, faces)
