"""A geodesic triangulation of the unit sphere (the start mesh of radial extraction)."""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_int
from ..errors import ExtractionError

__all__ = ["icosphere"]


def icosphere(resolution: int) -> tuple[np.ndarray, np.ndarray]:
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
    R = check_int(resolution, "icosphere resolution", 1, error=ExtractionError)
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
