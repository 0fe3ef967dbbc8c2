"""Topology of polygon meshes: straight-vertex removal, watertightness, chaining 2-D segments
into loops, merging coplanar faces.

The helpers here are the one implementation of each step that the extraction methods share:
:func:`remove_straight_vertices` (with the straightness tolerance :data:`STRAIGHT_SINE`),
:func:`flatten_faces` and :func:`drop_unused_vertices`; with the graph algorithms of
:mod:`.graph` (re-exported here): :func:`connected_components` (labels by smallest member),
:func:`walk_cycle` and :func:`trace_loop` (cycles of a successor map, the boundary cycle of
a union of faces), :func:`open_ends` (whether directed segments close up).
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np

from .._checks import check_float
from ..errors import ExtractionError
from .graph import connected_components, open_ends, trace_loop, walk_cycle
from .polymesh import PolyMesh

__all__ = ["is_watertight", "curve_loops", "merge_coplanar_faces", "merge_coplanar_groups",
           "connected_components", "walk_cycle", "trace_loop", "open_ends", "flatten_faces",
           "remove_straight_vertices", "drop_unused_vertices", "STRAIGHT_SINE"]

#: A corner is straight (its vertex is no corner at all) when the sine of the angle between
#: its incoming and outgoing edges is at most this and it goes on forwards.
STRAIGHT_SINE = 1e-9


# ---------------------------------------------------------------------------------------
# faces as flat arrays
# ---------------------------------------------------------------------------------------

def flatten_faces(faces):
    """Faces (sequences of vertex indices) as flat arrays.

    Returns
    -------
    flat : (C,) intp
        The corners, face after face.
    sizes, starts : (F,) intp
        Corners of each face and where they start in ``flat``.
    nxt : (C,) intp
        Index in ``flat`` of each corner's successor in its face.
    """
    nf = len(faces)
    sizes = np.fromiter(map(len, faces), dtype=np.intp, count=nf)
    total = int(sizes.sum())
    flat = np.fromiter(chain.from_iterable(faces), dtype=np.intp, count=total)
    starts = np.zeros(nf, dtype=np.intp)
    np.cumsum(sizes[:-1], out=starts[1:])
    nxt = np.arange(1, total + 1, dtype=np.intp)
    nxt[starts + sizes - 1] = starts
    return flat, sizes, starts, nxt


def remove_straight_vertices(vertices, faces, tol: float = STRAIGHT_SINE):
    """Drop every vertex that is a straight corner of every face using it.

    A corner is straight when its incoming and outgoing edges are parallel within ``tol``
    (sine of the angle between them) and point the same way. A vertex that is straight in
    every face using it lies inside an edge of the mesh, which stays closed without it (on a
    closed manifold these are the vertices with two neighbours on the segment between them).
    Faces left with fewer than 3 corners are dropped.

    Parameters
    ----------
    vertices : (V, 3) or (V, 2) array
    faces : list of sequences of vertex indices
    tol : float
        Straightness tolerance, :data:`STRAIGHT_SINE` by default.

    Returns
    -------
    faces : list of (n,) intp arrays
        The faces left, corners in their order.
    kept : (F',) intp array
        Index of the input face each comes from.
    """
    V = np.asarray(vertices, dtype=np.float64)
    if V.ndim == 2 and V.shape[1] == 2:
        V = np.concatenate([V, np.zeros((len(V), 1))], axis=1)
    flat, sizes, starts, nxt = flatten_faces(faces)
    prv = np.empty_like(nxt)
    prv[nxt] = np.arange(len(nxt))
    P = V[flat]
    e1 = P - P[prv]
    e2 = P[nxt] - P
    cr = np.linalg.norm(np.cross(e1, e2), axis=1)
    dot = np.einsum("ij,ij->i", e1, e2)
    straight = (cr <= tol * np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) + 1e-300) & (dot > 0)
    bent = np.zeros(len(V), dtype=bool)
    bent[flat[~straight]] = True
    keep = bent[flat]
    left = np.add.reduceat(keep, starts) if len(starts) else np.zeros(0, dtype=np.intp)
    pieces = np.split(flat[keep], np.cumsum(left)[:-1])
    kept = np.flatnonzero(left >= 3)
    return [pieces[i] for i in kept.tolist()], kept


def drop_unused_vertices(vertices, faces):
    """The vertices some face uses (in their order) and the faces renumbered to them."""
    V = np.asarray(vertices)
    used = np.zeros(len(V), dtype=bool)
    for f in faces:
        used[f] = True
    newid = np.cumsum(used) - 1
    return V[used], [newid[np.asarray(f, dtype=np.intp)] for f in faces]


# ---------------------------------------------------------------------------------------
# meshes
# ---------------------------------------------------------------------------------------

def is_watertight(mesh: PolyMesh) -> bool:
    """Every edge is used equally often in both directions (2-D: every vertex has as many
    segments arriving as leaving).

    Weaker than :meth:`PolyMesh.is_closed_manifold`: it also accepts closed surfaces that
    touch themselves along an edge or at a vertex, which the boundary of a degenerate solid
    can do. An empty mesh is not watertight.
    """
    if mesh.n_faces == 0:
        return False
    fe = mesh.face_edges()
    if mesh.dim == 2:
        fe = mesh.corners.reshape(-1, 2) if np.all(mesh.face_sizes == 2) else fe
        return open_ends(mesh.n_vertices, fe[:, 0], fe[:, 1]) == 0
    n = mesh.n_vertices
    fwd = fe[:, 0] * n + fe[:, 1]
    rev = fe[:, 1] * n + fe[:, 0]
    a, ca = np.unique(fwd, return_counts=True)
    b, cb = np.unique(rev, return_counts=True)
    return bool(np.array_equal(a, b) and np.array_equal(ca, cb))


def curve_loops(mesh: PolyMesh) -> list[tuple[np.ndarray, bool]]:
    """Chain the segments of a 2-D level-set mesh into polylines.

    Returns
    -------
    list of (indices, closed)
        Vertex indices of each polyline in order (following the segment orientation) and
        whether it closes on itself (the last vertex then connects back to the first). Where
        curves touch at a vertex, a curve goes on along the first segment clockwise from the
        one it came in on, so touching loops stay separate loops (as in
        :meth:`~neuralpoly_core.mesh.PolyMesh.curve_components`).
    """
    if mesh.dim != 2:
        raise ExtractionError("curve_loops takes a 2-D level-set mesh (segments)")
    if mesh.n_faces and np.any(mesh.face_sizes != 2):
        raise ExtractionError("curve_loops needs a mesh of 2-corner segments")
    seg = mesh.corners.reshape(-1, 2)
    V = mesh.vertices
    nxt = {}
    has_pred = set()
    for a, b in seg.tolist():
        nxt.setdefault(a, []).append(b)
        has_pred.add(b)
    used = set()
    loops = []

    def walk(start):
        path = [start]
        cur = start
        while True:
            outs = [b for b in nxt.get(cur, []) if (cur, b) not in used]
            if not outs:
                return path, False
            b = outs[0] if len(outs) == 1 or len(path) < 2 else _first_clockwise(V, path[-2], cur, outs)
            used.add((cur, b))
            if b == start:
                return path, True
            path.append(b)
            cur = b

    starts = [a for a in nxt if a not in has_pred]
    for s in starts:
        while any((s, b) not in used for b in nxt.get(s, [])):
            path, closed = walk(s)
            loops.append((np.asarray(path, np.int64), closed))
    for a, b in seg.tolist():
        if (a, b) not in used:
            path, closed = walk(a)
            loops.append((np.asarray(path, np.int64), closed))
    return loops


def _first_clockwise(V: np.ndarray, prev: int, cur: int, outs: list) -> int:
    """Of the segments leaving ``cur``, the end of the first one clockwise from the incoming
    segment ``prev -> cur``."""
    d_in = V[prev] - V[cur]
    d_out = V[outs] - V[cur]
    cw = np.mod(math.atan2(d_in[1], d_in[0]) - np.arctan2(d_out[:, 1], d_out[:, 0]), 2 * math.pi)
    cw[cw <= 0.0] = 2 * math.pi
    return outs[int(np.argmin(cw))]


def merge_coplanar_faces(mesh: PolyMesh, tolerance: float = 1e-9) -> PolyMesh:
    """Merge adjacent coplanar faces of a 3-D mesh into single polygons.

    Faces sharing an edge whose planes agree (unit normals within ``tolerance`` and offsets
    within ``tolerance`` times the mesh size) are merged when their union is bounded by one
    cycle (a group whose union has holes stays as it is). Afterwards every vertex that is a
    straight-angle corner of *every* face using it is removed (:func:`remove_straight_vertices`
    with ``tolerance``), which keeps the mesh watertight. The merged face keeps the smallest
    region id of its pieces. Useful where kinks that do not change ``f``'s plane cut a face
    into pieces (e.g. the min/max trees of :mod:`neuralpoly_core.construct.boolean`).
    """
    return merge_coplanar_groups(mesh, tolerance)[0]


def _coplanar_pairs(mesh: PolyMesh, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of faces that share an edge (used by exactly two faces) and a plane."""
    V = mesh.vertices
    normals = mesh.face_normals()
    offs = np.einsum("ij,ij->i", normals, V[mesh.corners[mesh.face_starts]])
    size = max(float(np.ptp(V, axis=0).max()), 1e-300)
    fe = mesh.face_edges()
    face_of = np.repeat(np.arange(mesh.n_faces), mesh.face_sizes)
    nV = len(V)
    ekey = np.minimum(fe[:, 0], fe[:, 1]) * nV + np.maximum(fe[:, 0], fe[:, 1])
    order = np.argsort(ekey, kind="stable")
    ks = ekey[order]
    same = ks[1:] == ks[:-1]
    fa, fb = face_of[order[:-1]][same], face_of[order[1:]][same]
    # only edges with exactly two faces
    cnt = np.bincount(np.searchsorted(np.unique(ks), ks))
    twice = np.repeat(cnt == 2, cnt)
    pair_ok = twice[:-1][same]
    fa, fb = fa[pair_ok], fb[pair_ok]
    cop = (np.einsum("ij,ij->i", normals[fa], normals[fb]) > 1 - tolerance) & \
          (np.abs(offs[fa] - offs[fb]) <= tolerance * size)
    return fa[cop], fb[cop]


def _union_boundary(faces: list[np.ndarray], members: list[int]) -> list[int] | None:
    """The boundary cycle of the union of some faces (directed edges whose reverse is in
    none of them), or None when it is not a single cycle."""
    edges = {}
    for fi in members:
        f = faces[fi]
        for a, b in zip(f.tolist(), np.roll(f, -1).tolist()):
            edges[(a, b)] = True
    bnd = [(a, b) for (a, b) in edges if (b, a) not in edges]
    return trace_loop([a for a, _ in bnd], [b for _, b in bnd])


def merge_coplanar_groups(mesh: PolyMesh, tolerance: float = 1e-9):
    """:func:`merge_coplanar_faces` plus, per output face, the input faces merged into it."""
    tolerance = check_float(tolerance, "tolerance", 0.0)
    if mesh.dim != 3 or mesh.n_faces == 0:
        return mesh.copy(), [[i] for i in range(mesh.n_faces)]
    root = connected_components(mesh.n_faces, *_coplanar_pairs(mesh, tolerance))
    faces = mesh.faces
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(root.tolist()):
        groups.setdefault(r, []).append(i)
    new_faces, new_regions, new_members = [], [], []
    for members in groups.values():
        loop = _union_boundary(faces, members) if len(members) > 1 else None
        if loop is not None:
            new_faces.append(np.asarray(loop, np.int64))
            new_regions.append(min(mesh.region_ids[fi] for fi in members))
            new_members.append(members)
            continue
        for fi in members:                       # a single face, or a union that is no disc
            new_faces.append(faces[fi])
            new_regions.append(mesh.region_ids[fi])
            new_members.append([fi])
    out_faces, kept = remove_straight_vertices(mesh.vertices, new_faces, tolerance)
    V, out_faces = drop_unused_vertices(mesh.vertices, out_faces)
    out = PolyMesh.from_faces(V, out_faces, np.asarray([new_regions[i] for i in kept], np.int64),
                              region_patterns=mesh.region_patterns, basis=mesh.basis)
    out.info = dict(mesh.info)
    return out, [new_members[i] for i in kept]
