"""Topology of polygon meshes: watertightness, chaining 2-D segments into loops, merging
coplanar faces."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ExtractionError
from .polymesh import PolyMesh

__all__ = ["is_watertight", "curve_loops", "merge_coplanar_faces", "merge_coplanar_groups"]


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
        n = mesh.n_vertices
        return bool(np.array_equal(np.bincount(fe[:, 0], minlength=n), np.bincount(fe[:, 1], minlength=n)))
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
    straight-angle corner of *every* face using it is removed, which keeps the mesh watertight.
    The merged face keeps the smallest region id of its pieces. Useful where kinks that do not
    change ``f``'s plane cut a face into pieces (e.g. the min/max trees of
    :mod:`neuralpoly_core.construct.boolean`).
    """
    return merge_coplanar_groups(mesh, tolerance)[0]


def merge_coplanar_groups(mesh: PolyMesh, tolerance: float = 1e-9):
    """:func:`merge_coplanar_faces` plus, per output face, the input faces merged into it."""
    if mesh.dim != 3 or mesh.n_faces == 0:
        return mesh.copy(), [[i] for i in range(mesh.n_faces)]
    V = mesh.vertices
    F = mesh.n_faces
    normals = mesh.face_normals()
    starts = mesh.face_starts
    offs = np.einsum("ij,ij->i", normals, V[mesh.corners[starts]])
    size = max(float(np.ptp(V, axis=0).max()), 1e-300)
    fe = mesh.face_edges()
    face_of = np.repeat(np.arange(F), mesh.face_sizes)
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
    fa, fb = fa[cop], fb[cop]
    parent = np.arange(F)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(fa.tolist(), fb.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    root = np.array([find(i) for i in range(F)])
    faces = mesh.faces
    new_faces, new_regions, new_members = [], [], []
    groups = {}
    for i, r in enumerate(root.tolist()):
        groups.setdefault(r, []).append(i)
    for r, members in groups.items():
        if len(members) == 1:
            new_faces.append(faces[members[0]])
            new_regions.append(mesh.region_ids[members[0]])
            new_members.append(members)
            continue
        # boundary = directed edges whose reverse is not in the group
        edges = {}
        for fi in members:
            f = faces[fi]
            for a, b in zip(f.tolist(), np.roll(f, -1).tolist()):
                edges[(a, b)] = True
        bnd = [(a, b) for (a, b) in edges if (b, a) not in edges]
        nxt = {}
        ok = True
        for a, b in bnd:
            if a in nxt:
                ok = False
                break
            nxt[a] = b
        if ok and bnd:
            start = bnd[0][0]
            cyc = [start]
            cur = nxt[start]
            while cur != start and len(cyc) <= len(bnd):
                cyc.append(cur)
                cur = nxt.get(cur, start)
            ok = len(cyc) == len(bnd)
        if not ok:
            for fi in members:
                new_faces.append(faces[fi])
                new_regions.append(mesh.region_ids[fi])
                new_members.append([fi])
            continue
        new_faces.append(np.asarray(cyc, np.int64))
        new_regions.append(min(mesh.region_ids[fi] for fi in members))
        new_members.append(members)
    # drop vertices that are straight-angle corners of every face using them
    straight = np.ones(nV, dtype=bool)
    used = np.zeros(nV, dtype=bool)
    for f in new_faces:
        P = V[f]
        e1 = P - np.roll(P, 1, axis=0)
        e2 = np.roll(P, -1, axis=0) - P
        cr = np.linalg.norm(np.cross(e1, e2), axis=1)
        dot = np.einsum("ij,ij->i", e1, e2)
        lin = (cr <= tolerance * np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) + 1e-300) & \
              (dot > 0)
        straight[f[~lin]] = False
        used[f] = True
    drop = straight & used
    out_faces, out_reg, out_members = [], [], []
    for f, r, mem in zip(new_faces, new_regions, new_members):
        g = f[~drop[f]]
        if len(g) >= 3:
            out_faces.append(g)
            out_reg.append(r)
            out_members.append(mem)
    keepv = np.zeros(nV, dtype=bool)
    for f in out_faces:
        keepv[f] = True
    newid = np.cumsum(keepv) - 1
    out = PolyMesh.from_faces(V[keepv], [newid[f] for f in out_faces], np.asarray(out_reg, np.int64),
                              region_patterns=mesh.region_patterns, basis=mesh.basis)
    out.info = dict(mesh.info)
    return out, out_members
