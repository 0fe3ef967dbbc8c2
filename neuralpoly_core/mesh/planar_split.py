"""Split the non-planar faces of a closed polygon mesh into planar pieces, adding no vertex.

:func:`split_nonplanar_faces` is the last step of
:func:`~neuralpoly_core.mesh.simplify.simplify_mesh`: the collapses there move vertices, so
an n-gon around a collapse can bend out of its plane. Every face whose corners are farther
than the tolerance (:data:`PLANARITY_TOLERANCE` times the mesh's bounding-box diagonal) from
its plane (through the corners' centroid, normal by Newell's method) is cut along diagonals
between its own corners: greedily, the longest run of consecutive corners that is planar (and
closes with a diagonal inside the face) first, then the rest in the same way; a triangle is
always planar, so the pieces are at worst a triangulation. Faces within the tolerance are
kept as they are (planar n-gons stay n-gons).

Each diagonal adds one edge and one face, so the Euler characteristic is kept; a diagonal is
only used when it is no edge of the mesh yet (else that edge would be in four faces), when it
lies inside the face seen along the face's normal (strictly: no corner on it, no edge crossed)
and when both pieces turn the face's way with a positive area, so the mesh stays a closed,
consistently oriented manifold without degenerate faces. A face that has no such split (none
of the bench or test meshes has one) is left as it is and counted (``nonplanar_left``).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float
from .polymesh import PolyMesh

__all__ = ["split_nonplanar_faces", "projects_simply", "newell_normal", "PLANARITY_TOLERANCE"]

#: A face is planar when no corner is farther from its plane than this times the mesh's
#: bounding-box diagonal (a few thousand times float64's rounding of coordinates).
PLANARITY_TOLERANCE = 1e-9


def newell_normal(P) -> tuple[float, float, float]:
    """Newell's normal of a polygon given as a list of 3-tuples (length: twice its area);
    plain Python, faster than numpy for the few corners of a face."""
    nx = ny = nz = 0.0
    for (x1, y1, z1), (x2, y2, z2) in zip(P, P[1:] + P[:1]):
        nx += (y1 - y2) * (z1 + z2)
        ny += (z1 - z2) * (x1 + x2)
        nz += (x1 - x2) * (y1 + y2)
    return nx, ny, nz


def _planarity(P) -> tuple[float, float]:
    """The largest distance of a corner of polygon ``P`` (3-tuples) from its plane, and its area."""
    n = newell_normal(P)
    length = math.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
    if length == 0.0:
        return math.inf, 0.0
    if len(P) == 3:
        return 0.0, 0.5 * length
    k = len(P)
    c = [sum(p[i] for p in P) / k for i in range(3)]
    worst = max(abs((p[0] - c[0]) * n[0] + (p[1] - c[1]) * n[1] + (p[2] - c[2]) * n[2]) for p in P)
    return worst / length, 0.5 * length


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_meet(a, b, c, d) -> bool:
    """Whether the closed segments ab and cd (2-D) share a point."""
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on(p, q, r, s) -> bool:                 # r on segment pq, given s = cross(p, q, r)
        return s == 0 and min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])
    return on(c, d, a, d1) or on(c, d, b, d2) or on(a, b, c, d3) or on(a, b, d, d4)


def _in_cone(Q, i: int, j: int) -> bool:
    """Whether the diagonal from corner ``i`` to ``j`` of the counter-clockwise 2-D polygon
    ``Q`` leaves ``i`` strictly into the polygon."""
    k = len(Q)
    prev, cur, nxt, far = Q[i - 1], Q[i], Q[(i + 1) % k], Q[j]
    if _cross(prev, cur, nxt) > 0:              # convex corner
        return _cross(cur, far, prev) > 0 and _cross(far, cur, nxt) > 0
    return not (_cross(cur, far, nxt) >= 0 and _cross(far, cur, prev) >= 0)


def _diagonal_inside(Q, i: int, j: int) -> bool:
    k = len(Q)
    if not (_in_cone(Q, i, j) and _in_cone(Q, j, i)):
        return False
    for e in range(k):
        f = (e + 1) % k
        if e in (i, j) or f in (i, j):
            continue
        if _segments_meet(Q[i], Q[j], Q[e], Q[f]):
            return False
    return True


def projects_simply(P) -> bool:
    """Whether polygon ``P`` (3-tuples), seen along its own normal (Newell's), is a simple
    polygon of positive area: no two edges meet but neighbours at their shared corner, and no
    corner turns straight back. Such a polygon can always be cut into triangles along inner
    diagonals, so :func:`split_nonplanar_faces` finds a split unless the diagonals it needs
    are edges of the mesh already."""
    n = newell_normal(P)
    length = math.sqrt(n[0] ** 2 + n[1] ** 2 + n[2] ** 2)
    if length == 0.0:
        return False
    if len(P) == 3:
        return True
    Q = _project(P, (n[0] / length, n[1] / length, n[2] / length))
    k = len(Q)
    for e in range(k):
        a, b, c = Q[e - 1], Q[e], Q[(e + 1) % k]
        if _cross(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) <= 0:
            return False                             # turns back along itself
        for g in range(e + 2, k):
            if (g + 1) % k == e:
                continue
            if _segments_meet(Q[e], Q[(e + 1) % k], Q[g], Q[(g + 1) % k]):
                return False
    return True


class _Splitter:
    def __init__(self, V: list, edges: set, tol: float, min_area: float):
        self.V, self.edges, self.tol, self.min_area = V, edges, tol, min_area

    def planar(self, face: list[int]) -> bool:
        worst, area = _planarity([self.V[v] for v in face])
        return worst <= self.tol and area > self.min_area

    def split(self, face: list[int], normal) -> list[list[int]] | None:
        """``face`` as planar pieces cut along new diagonals (recorded in ``edges``), or None."""
        if self.planar(face):
            return [face]
        k = len(face)
        if k <= 3:
            return None
        Q = _project([self.V[v] for v in face], normal)
        for length in range(k - 1, 2, -1):
            for i in range(k):
                j = (i + length - 1) % k
                a, b = face[i], face[j]
                if a == b or (min(a, b), max(a, b)) in self.edges:
                    continue
                run = [face[(i + t) % k] for t in range(length)]
                if not self.planar(run) or not _diagonal_inside(Q, i, j):
                    continue
                self.edges.add((min(a, b), max(a, b)))
                rest = self.split([face[(j + t) % k] for t in range(k - length + 2)], normal)
                if rest is not None:
                    return [run] + rest
                self.edges.discard((min(a, b), max(a, b)))
        return None


def _project(P, normal) -> list[tuple[float, float]]:
    """The corners ``P`` in a frame of the plane normal to ``normal`` (counter-clockwise seen
    from the side ``normal`` points to)."""
    n = np.asarray(normal, float)
    u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    w = np.cross(n, u)
    X = np.asarray(P, float)
    return list(zip((X @ u).tolist(), (X @ w).tolist()))


def split_nonplanar_faces(mesh: PolyMesh, tolerance: float = PLANARITY_TOLERANCE) -> tuple[PolyMesh, dict]:
    """``mesh`` (3-D) with every face farther than ``tolerance`` times its bounding-box
    diagonal from planar split into planar pieces (see the module docstring); pieces keep
    their face's region id.

    Returns ``(mesh, facts)``; facts: ``faces_split`` (faces cut), ``pieces_added`` (faces
    more than before), ``nonplanar_left`` (faces with no planar split, left as they were),
    ``planarity_tolerance`` (the tolerance in the mesh's units) and
    ``planarity_tolerance_rel`` (``tolerance``).
    """
    tolerance = check_float(tolerance, "planarity tolerance (fraction of the diagonal)", 0.0)
    V = mesh.vertices3d()
    diag = float(np.linalg.norm(np.ptp(V, axis=0))) if len(V) else 0.0
    tol = tolerance * diag
    facts = {"faces_split": 0, "pieces_added": 0, "nonplanar_left": 0, "planarity_tolerance": tol,
             "planarity_tolerance_rel": tolerance}
    faces = [f.tolist() for f in mesh.faces]
    fe = mesh.face_edges()
    edges = set(zip(np.minimum(fe[:, 0], fe[:, 1]).tolist(), np.maximum(fe[:, 0], fe[:, 1]).tolist()))
    work = _Splitter([tuple(v) for v in V.tolist()], edges, tol, (1e-12 * diag) ** 2)
    normals = mesh.face_normals()
    out_faces, regions = [], []
    for fi, face in enumerate(faces):
        pieces = [face] if len(face) <= 3 or _planarity([work.V[v] for v in face])[0] <= tol \
            else work.split(face, normals[fi])
        if pieces is None:
            facts["nonplanar_left"] += 1
            pieces = [face]
        elif len(pieces) > 1:
            facts["faces_split"] += 1
            facts["pieces_added"] += len(pieces) - 1
        out_faces += pieces
        regions += [int(mesh.region_ids[fi])] * len(pieces)
    if facts["faces_split"] == 0:
        return mesh, facts
    out = PolyMesh.from_faces(mesh.vertices, out_faces, np.asarray(regions, np.int64),
                              region_patterns=mesh.region_patterns, basis=mesh.basis)
    out.info = dict(mesh.info)
    return out, facts
