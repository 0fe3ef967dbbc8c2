"""Cycles of vertex ids: the faces of the level-set surface as the extractor builds them.

A list of cycles is two arrays: ``gid`` (the cycle of each corner, cycles in ascending order)
and ``vid`` (the corners, in cycle order). :func:`link_cycles` chains the undirected edges of
each group (a face's edges along its cell) into one cycle, never sorting corners by angle;
:func:`repair_orientation` makes adjacent faces of a mesh agree.
"""

from __future__ import annotations

import numpy as np

__all__ = ["link_cycles", "repair_orientation", "cycle_layout", "cycle_normals", "reverse_cycles",
           "transitions", "sort_polygons"]


def link_cycles(grp: np.ndarray, a: np.ndarray, b: np.ndarray, ngroups: int):
    """Chain undirected edges ``(a, b)`` of each group into one cycle.

    Returns ``(ok, gid, vid)``: ``ok[g]`` is True when group ``g``'s edges form a single simple
    cycle through at least 3 vertices; ``gid``/``vid`` list the vertices of the ok groups in
    cycle order, groups ascending.
    """
    okg = np.zeros(ngroups, dtype=bool)
    empty = (okg, np.zeros(0, np.int64), np.zeros(0, np.int64))
    if len(a) == 0:
        return empty
    grp = np.asarray(grp, np.int64)
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    NV = int(max(a.max(), b.max())) + 1
    keys = np.concatenate([grp * NV + a, grp * NV + b])
    nbr = np.concatenate([b, a])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    nbr = nbr[order]
    uk, first, cnt = np.unique(keys, return_index=True, return_counts=True)
    ug = uk // NV
    nvert = np.bincount(ug, minlength=ngroups)
    okg[ug] = True
    okg[ug[cnt != 2]] = False
    okg &= nvert >= 3
    okg &= np.bincount(grp, minlength=ngroups) == nvert      # as many edges as vertices
    gs = np.nonzero(okg)[0]
    if len(gs) == 0:
        return empty
    n1 = nbr[first]
    n2 = nbr[np.minimum(first + 1, len(nbr) - 1)]
    L = nvert[gs]
    Lmax = int(L.max())
    ci = np.searchsorted(uk, gs * NV)          # first vertex of each group
    start = uk[ci] % NV
    cur = start.copy()
    prev = np.full(len(gs), -1, dtype=np.int64)
    out = np.full((len(gs), Lmax), -1, dtype=np.int64)
    alive = np.ones(len(gs), dtype=bool)
    for step in range(Lmax):
        act = step < L
        out[act, step] = cur[act]
        nx = np.where(n1[ci] != prev, n1[ci], n2[ci])
        prev, cur = cur, nx
        ci = np.minimum(np.searchsorted(uk, gs * NV + cur), len(uk) - 1)
        ci_ok = uk[ci] == gs * NV + cur
        # must return to the start exactly after L steps, never earlier
        early = (step + 1 < L) & (cur == start)
        alive &= ci_ok | (step + 1 >= L)
        alive &= ~early
        done = step + 1 == L
        alive[done] &= cur[done] == start[done]
    okg[gs[~alive]] = False
    keep = alive
    gs, L, out = gs[keep], L[keep], out[keep]
    gid = np.repeat(gs, L)
    vid = out[out >= 0] if len(out) else np.zeros(0, np.int64)
    return okg, gid, vid


def repair_orientation(corners: np.ndarray, sizes: np.ndarray, free: np.ndarray, iters: int = 20):
    """Make adjacent faces agree: flip free faces that run most shared edges the wrong way.

    Faces where ``free`` is True may be flipped, the others (caps, faces in box sides or level
    planes, oriented exactly) are fixed. Two faces agree on a shared edge when they traverse
    it in opposite directions (2-D segments: when one ends where the other starts); only
    edges (vertices) shared by exactly two faces vote. Returns (corners, number flipped).
    """
    F = len(sizes)
    if F == 0 or not np.any(free):
        return corners, 0
    corners = corners.copy()
    starts = np.cumsum(sizes) - sizes
    face_of = np.repeat(np.arange(F), sizes)
    nxt = np.arange(len(corners)) + 1
    nxt[starts + sizes - 1] = starts
    two_d = bool(np.all(sizes == 2))
    flipped_total = np.zeros(F, dtype=bool)
    for _ in range(iters):
        if two_d:
            seg = corners.reshape(-1, 2)
            key = np.concatenate([seg[:, 0], seg[:, 1]])          # shared vertex
            role = np.concatenate([np.ones(F, bool), np.zeros(F, bool)])   # True: starts here
            fid = np.concatenate([np.arange(F), np.arange(F)])
        else:
            u, v = corners, corners[nxt]
            nvv = int(corners.max()) + 1
            key = np.minimum(u, v) * nvv + np.maximum(u, v)
            role = u < v
            fid = face_of
        order = np.argsort(key, kind="stable")
        ks, rs, fs = key[order], role[order], fid[order]
        _u, first, cnt = np.unique(ks, return_index=True, return_counts=True)
        pair = first[cnt == 2]
        fa, fb = fs[pair], fs[pair + 1]
        ok = fa != fb
        fa, fb = fa[ok], fb[ok]
        agree = rs[pair][ok] != rs[pair + 1][ok]
        bad = np.bincount(fa[~agree], minlength=F) + np.bincount(fb[~agree], minlength=F)
        good = np.bincount(fa[agree], minlength=F) + np.bincount(fb[agree], minlength=F)
        flip = bad > good
        flip &= free
        if not flip.any():
            break
        flipped_total ^= flip
        pos = np.arange(len(corners))
        st = starts[face_of]
        rev = st + sizes[face_of] - 1 - (pos - st)
        corners = corners[np.where(flip[face_of], rev, pos)]
    return corners, int(flipped_total.sum())


def cycle_layout(gid):
    """Start, size, cycle number per position and successor position of listed cycles."""
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    sizes = np.diff(np.r_[starts, len(gid)])
    gnum = np.repeat(np.arange(len(starts)), sizes)
    nxt = np.arange(len(gid)) + 1
    nxt[starts + sizes - 1] = starts
    return starts, sizes, gnum, nxt


def cycle_normals(gid, vid, X):
    """Newell normal of every cycle (2-D points get z = 0, so z is twice the signed area)."""
    starts, _sizes, gnum, nxt = cycle_layout(gid)
    if X.shape[1] == 2:
        X = np.concatenate([X, np.zeros((len(X), 1))], axis=1)
    # relative to each cycle's first corner: exact differences for small faces far from 0
    P = X[vid] - X[vid[starts]][gnum]
    Q = P[nxt]
    cr = np.stack([(P[:, 1] - Q[:, 1]) * (P[:, 2] + Q[:, 2]),
                   (P[:, 2] - Q[:, 2]) * (P[:, 0] + Q[:, 0]),
                   (P[:, 0] - Q[:, 0]) * (P[:, 1] + Q[:, 1])], axis=1)
    nrm = np.zeros((len(starts), 3))
    for k in range(3):
        nrm[:, k] = np.bincount(gnum, weights=cr[:, k], minlength=len(starts))
    return nrm


def reverse_cycles(gid, vid, flip):
    """Reverse the cycles (in listed order) where ``flip`` is True."""
    if not np.any(flip):
        return vid
    starts, sizes, gnum, _nxt = cycle_layout(gid)
    pos = np.arange(len(vid))
    st = starts[gnum]
    rev = st + sizes[gnum] - 1 - (pos - st)
    return vid[np.where(flip[gnum], rev, pos)]


def transitions(gid, vid, sv, edge_point):
    """Where oriented cycles pass from negative to positive (p) and back (q).

    ``sv``: vertex signs; ``edge_point(u, v)``: the vertex on a crossing edge. Returns per
    cycle (in listed order) ``p``, ``q`` and whether exactly one of each was found.
    """
    starts, _sizes, gnum, nxt = cycle_layout(gid)
    s = sv[vid].astype(np.int64)
    sn = s[nxt]
    n = len(starts)
    pmask = (s < 0) & (sn >= 0)
    qmask = (s > 0) & (sn <= 0)
    ok = (np.bincount(gnum[pmask], minlength=n) == 1) & (np.bincount(gnum[qmask], minlength=n) == 1)
    p = np.full(n, -1, dtype=np.int64)
    q = np.full(n, -1, dtype=np.int64)
    for mask, out in ((pmask, p), (qmask, q)):
        idx = np.nonzero(mask)[0]
        u, v = vid[idx], vid[nxt[idx]]
        pt = np.where(sn[idx] == 0, v, edge_point(u, v))
        out[gnum[idx]] = pt
    return p, q, ok & (p >= 0) & (q >= 0)


def sort_polygons(gid, vid, X, normal, ok):
    """Order the points of each group counter-clockwise around ``normal[gid]``.

    Returns (gid, vid) in output order, groups ascending, only groups with ``ok``.
    """
    sel = ok[gid]
    gid, vid = gid[sel], vid[sel]
    if len(gid) == 0:
        return gid, vid
    P = X[vid]
    cnt = np.bincount(gid, minlength=len(normal))
    cen = np.zeros((len(normal), 3))
    for k in range(3):
        cen[:, k] = np.bincount(gid, weights=P[:, k], minlength=len(normal))
    cen /= np.maximum(cnt, 1)[:, None]
    n = normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-300)
    helper = np.where((np.abs(n[:, 0]) < 0.9)[:, None], np.array([[1.0, 0, 0]]),
                      np.array([[0, 1.0, 0]]))
    u = np.cross(n, helper)
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-300)
    w = np.cross(n, u)
    rel = P - cen[gid]
    ang = np.arctan2(np.einsum("ij,ij->i", rel, w[gid]), np.einsum("ij,ij->i", rel, u[gid]))
    order = np.lexsort((ang, gid))
    return gid[order], vid[order]
