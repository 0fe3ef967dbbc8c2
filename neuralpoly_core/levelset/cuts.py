"""How a cut of the cell complex decides its signs: zero test, consistency, near-ties.

A cut of cells by one function (affine on each cell, given at the vertices) is first computed
as a :class:`Cut` record (:func:`analyse_cut`), without changing the complex; the complex
(:class:`~neuralpoly_core.levelset.complex.CellComplex`) then applies it, or tries other signs
first (:func:`near_tie_bands`) where some cells came out inconsistent.

Zero test
---------
Float64 throughout, one relative tolerance (``TOLERANCE = 1e-12`` by default). A value ``z`` at a vertex
counts as **zero** when ``|z| <= tolerance * scale`` (``scale``: the function's rounding scale,
see :mod:`neuralpoly_core.levelset.exact`). A zero vertex lies *on* the hyperplane: edges are
cut only between strictly positive and strictly negative ends, so exact ties (vertices on a
hyperplane, duplicate and parallel neurons, hyperplanes through box corners and edges, dead
neurons and zero rows) never create slivers or duplicate vertices, and a cut through an
existing vertex or edge reuses it.

*Consistency.* Every crossed cell's signs must be those of a plane through a convex polytope:
no face lies in the plane; a face with both signs has exactly two zero points (crossing edges
or zero corners); the zero corners of a one-sided face form one chain of in-plane edges
(straight where it has three corners or more: a straight-angle corner is where several planes
meet along one line); an in-plane edge has one face on each side; the cross-section is one
cycle through at least three points.

*Near-ties.* Values within a few tolerances of zero (ties broken by 1e-13 to 1e-10 of the
scale) can make the zero test, or the rounded coordinates of tiny cells, disagree with the
cells' combinatorics. When a cut has inconsistent cells, its signs are chosen again, **for
every vertex at once** (each vertex has one sign, seen by every cell that contains it, so the
complex stays conforming), and every cell whose signs change is cut again: first zero bands
``|z| <= t`` with ``t`` in the widest gaps between the magnitudes of the inconsistent cells'
values (strict signs included, values under the rounding floor ``1e-16 * scale`` staying
zero), then strict signs of ``z - d`` (the plane moved by ``d``, signs an affine function
always realizes) with ``d`` in the widest gaps between those values; the first choice that
makes every cell consistent is used. Thresholds and moves stay within
``100 * tolerance * scale`` of zero and new vertices are placed where ``z`` equals the cut's
level on their edge, so no vertex is further than that from its plane. A cell still
inconsistent stays uncut and is counted in :attr:`CellComplex.degenerate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import unique_inverse

__all__ = ["Cut", "analyse_cut", "near_tie_bands", "strict_signs", "crossing"]


def strict_signs(z: np.ndarray, eps) -> np.ndarray:
    """+1 above ``eps``, -1 below ``-eps``, else 0 (int8)."""
    return (z > eps).astype(np.int8) - (z < -eps).astype(np.int8)


def crossing(za: np.ndarray, zb: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Where ``z = level`` on edges whose ends' values ``za``, ``zb`` lie strictly on either
    side of ``level`` (the fraction of the way from ``a``, in (0, 1))."""
    return (za - level) / (za - zb) if level else za / (za - zb)


@dataclass(eq=False)
class Cut:
    """The cut of a set of cells by one function (from its vertex values and signs).

    It is computed without changing the complex (:meth:`CellComplex.plan`), then applied
    (:meth:`CellComplex.apply`) or read (the level-set surface is the cross-sections of the
    last cut). "Local" indices count the crossed cells ``0 .. len(cells) - 1``.
    """

    #: The crossed cells (cells with a strictly positive and a strictly negative vertex), ascending.
    cells: np.ndarray
    #: Per crossed cell: its signs are consistent (see the module docstring), it will be cut.
    good: np.ndarray
    #: The edge records of the crossed cells, cell by cell, (k, 4).
    R: np.ndarray
    #: Local index of each record's cell.
    lc: np.ndarray
    #: Signs (int8) of the function at each record's ends ``a`` and ``b``.
    sa: np.ndarray
    sb: np.ndarray
    #: Per record: the id of the new vertex on it (crossing records), else -1.
    m: np.ndarray
    #: Per record: it crosses (strictly opposite signs at its ends).
    xmask: np.ndarray
    #: The distinct crossing edges, ascending keys ``a * n_vertices + b``; new vertex ``i`` of
    #: the cut (id ``n_vertices + i``) lies on edge ``groups[i]``.
    groups: np.ndarray
    #: New records: the chord of every cut face between its two zero points, ``(p, q, f, -1)``
    #: in 3-D (``f`` the face, the last column gets the cut's label), ``(p, q, -1, -1)`` in
    #: 2-D (the cut's label goes in column 2); none in 1-D.
    chords: np.ndarray
    #: Local cell of each chord.
    chord_lc: np.ndarray
    #: Records (indices into ``R``) lying in the cut plane: both ends zero (3-D only).
    zz_idx: np.ndarray
    #: For each in-plane record: the label of its face on the positive side, and on the negative.
    zz_plus: np.ndarray
    zz_minus: np.ndarray
    #: Vertices of the complex when the cut was computed (new vertices are numbered after).
    n_vertices: int
    #: Where the new vertices go: the value of the function there (0, or the moved plane of a
    #: near-tie re-signing).
    level: float = 0.0

    def ends(self) -> tuple[np.ndarray, np.ndarray]:
        """The two end vertices of each crossing edge (in the order of the new vertices)."""
        return self.groups // self.n_vertices, self.groups % self.n_vertices

    def fractions(self, values: np.ndarray) -> np.ndarray:
        """Where each new vertex lies on its edge (fraction of the way from its end ``a``)."""
        ua, ub = self.ends()
        return crossing(values[ua], values[ub], self.level)

    def edge_point(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The new vertex on each edge ``(u, v)`` (either order), -1 for an edge not cut."""
        nv = self.n_vertices
        key = np.minimum(u, v) * nv + np.maximum(u, v)
        if len(self.groups) == 0:
            return np.full(len(u), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.groups, key), len(self.groups) - 1)
        return np.where(self.groups[pos] == key, nv + pos, -1)


def analyse_cut(cx, S: np.ndarray, sv: np.ndarray) -> Cut | None:
    """The cut of the cells ``S`` of the complex ``cx`` by the function with vertex signs ``sv``
    (None when no cell of ``S`` is crossed). Creates no vertices; new vertices are numbered
    ``cx.X.n + i`` for the i-th distinct crossing edge."""
    R, ct = cx.cell_records(S)
    sa = sv[R[:, 0]]
    sb = sv[R[:, 1]]
    off = np.cumsum(ct) - ct
    cpos = np.logical_or.reduceat((sa > 0) | (sb > 0), off)
    cneg = np.logical_or.reduceat((sa < 0) | (sb < 0), off)
    crossed = cpos & cneg
    if not crossed.any():
        return None
    lc_all = np.repeat(np.arange(len(S)), ct)
    keep = crossed[lc_all]
    local = np.cumsum(crossed) - 1
    R = R[keep]
    sa = sa[keep]
    sb = sb[keep]
    lc = local[lc_all[keep]]
    cells = S[crossed]
    nC = len(cells)
    nv = cx.X.n
    # new vertices: one per distinct crossing edge
    xmask = (sa.astype(np.int16) * sb) < 0
    keys = R[xmask, 0] * nv + R[xmask, 1]
    ukeys, inv = np.unique(keys, return_inverse=True)
    m = np.full(len(R), -1, dtype=np.int64)
    m[xmask] = nv + inv
    empty = np.zeros(0, dtype=np.int64)
    if cx.d == 3:
        bad, chords, chord_lc, zz_idx, zz_plus, zz_minus = _faces_3d(
            cx, R, lc, sa, sb, m, xmask, nC, nv + len(ukeys))
    elif cx.d == 2:
        bad, chords, chord_lc = _faces_2d(R, lc, sa, sb, m, xmask, nC, nv + len(ukeys))
        zz_idx = zz_plus = zz_minus = empty
    else:                                     # 1-D: a crossed segment is one crossing edge
        bad, chords, chord_lc = np.zeros(nC, dtype=bool), np.zeros((0, 4), np.int64), empty
        zz_idx = zz_plus = zz_minus = empty
    return Cut(cells=cells, good=~bad, R=R, lc=lc, sa=sa, sb=sb, m=m, xmask=xmask,
               groups=ukeys, chords=chords, chord_lc=chord_lc, zz_idx=zz_idx,
               zz_plus=zz_plus, zz_minus=zz_minus, n_vertices=nv)


def _bent_chains(cx, groups, h1, h2, a, b, straight=1e-6):
    """Which chains of in-plane edges are not straight.

    ``groups``: faces whose zero corners form one chain of three or more; ``h1``/``h2``:
    the two faces of each in-plane edge ``(a, b)``. A plane meets a convex face in a
    segment, so the inner corners of such a chain must be straight-angle corners (where
    several planes meet along one line): the two chain edges at each must point in
    opposite directions, up to a relative ``straight`` plus the coordinates' round-off.
    """
    X = cx.X.view
    delta = cx.round_off()
    out = np.zeros(len(groups), dtype=bool)
    for i, g in enumerate(groups.tolist()):
        sel = (h1 == g) | (h2 == g)
        nbr = {}
        for u, v in zip(a[sel].tolist(), b[sel].tolist()):
            nbr.setdefault(u, []).append(v)
            nbr.setdefault(v, []).append(u)
        for m, (u, w) in ((m, n) for m, n in nbr.items() if len(n) == 2):
            e1, e2 = X[u] - X[m], X[w] - X[m]
            l1, l2 = float(np.linalg.norm(e1)), float(np.linalg.norm(e2))
            cr = float(np.linalg.norm(np.cross(e1, e2)))
            if float(e1 @ e2) >= 0 or cr > straight * l1 * l2 + delta * (l1 + l2):
                out[i] = True
                break
    return groups[out]


def _faces_2d(R, lc, sa, sb, m, xmask, nC, nkey):
    """2-D: every crossed cell has exactly two zero points (its chord) and no edge in the line.
    Returns (bad per cell, chords, chord cells)."""
    za, zb = sa == 0, sb == 0
    zg = np.concatenate([lc[xmask], lc[za], lc[zb]])
    zvv = np.concatenate([m[xmask], R[za, 0], R[zb, 1]])
    zk = np.unique(zg * nkey + zvv)
    zgrp = zk // nkey
    zver = zk % nkey
    cnt = np.bincount(zgrp, minlength=nC)
    bad = cnt != 2
    bad[lc[za & zb]] = True
    okc = cnt == 2
    first = np.searchsorted(zgrp, np.nonzero(okc)[0])
    chords = np.stack([zver[first], zver[first + 1], np.full(len(first), -1, dtype=np.int64),
                       np.full(len(first), -1, dtype=np.int64)], axis=1)
    return bad, chords, np.nonzero(okc)[0]


def _faces_3d(cx, R, lc, sa, sb, m, xmask, nC, nkey):
    """3-D: the faces of the crossed cells (groups of records by (cell, face label)), their
    chords, the in-plane edges and the consistency of each cell (see the module docstring).
    ``nkey``: vertices after the cut (keys ``cell * nkey + vertex``). Returns (bad per cell,
    chords, chord cells, in-plane records, their positive-side and negative-side faces)."""
    L = cx.n_labels
    bad = np.zeros(nC, dtype=bool)
    za, zb = sa == 0, sb == 0
    zz = za & zb
    hk = np.concatenate([lc * L + R[:, 2], lc * L + R[:, 3]])
    gkeys, ginv = unique_inverse(hk, nC * L)
    ng = len(gkeys)
    nrec = len(R)
    g1, g2 = ginv[:nrec], ginv[nrec:]
    rp = (sa > 0) | (sb > 0)
    rn = (sa < 0) | (sb < 0)
    fpos = np.zeros(ng, dtype=bool)
    fneg = np.zeros(ng, dtype=bool)
    fpos[g1[rp]] = True
    fpos[g2[rp]] = True
    fneg[g1[rn]] = True
    fneg[g2[rn]] = True
    glc = gkeys // L
    glab = gkeys % L
    # a face of a crossed cell with no signed vertex lies in the cut plane: inconsistent
    bad[glc[~fpos & ~fneg]] = True
    split = fpos & fneg
    zg = np.concatenate([g1[xmask], g2[xmask], g1[za], g2[za], g1[zb], g2[zb]])
    nx2 = 2 * int(np.count_nonzero(xmask))
    if len(zg) > nx2:
        # a one-sided face meets the plane in nothing, a vertex or a segment of its
        # boundary (one edge, or a chain of collinear edges): its zero vertices (each
        # counted at its two edges of the face) must form one chain of in-plane edges
        nzv = np.bincount(zg[nx2:], minlength=ng) // 2
        nzz = np.bincount(np.concatenate([g1[zz], g2[zz]]), minlength=ng)
        onesided = fpos ^ fneg
        bad[glc[onesided & (nzv >= 2) & (nzz != nzv - 1)]] = True
        chains = np.nonzero(onesided & (nzv >= 3) & (nzz == nzv - 1))[0]
        if len(chains):
            bad[glc[_bent_chains(cx, chains, g1[zz], g2[zz], R[zz, 0], R[zz, 1])]] = True
    zvv = np.concatenate([m[xmask], m[xmask], R[za, 0], R[za, 0], R[zb, 1], R[zb, 1]])
    sel = split[zg]
    zk = np.unique(zg[sel] * nkey + zvv[sel])
    zgrp = zk // nkey
    zver = zk % nkey
    cnt = np.bincount(zgrp, minlength=ng)
    badg = split & (cnt != 2)
    bad[glc[badg]] = True
    okg = split & (cnt == 2)
    first = np.searchsorted(zgrp, np.nonzero(okg)[0])
    chords = np.stack([zver[first], zver[first + 1], glab[okg],
                       np.full(len(first), -1, dtype=np.int64)], axis=1)
    chord_lc = glc[okg]
    # sides of the two faces at an edge lying in the cut plane
    side = fpos.astype(np.int8) - fneg.astype(np.int8)   # +1 / -1 one-sided, 0 split
    zz_idx = np.nonzero(zz)[0]
    s1, s2 = side[g1[zz_idx]], side[g2[zz_idx]]
    okzz = (s1 * s2) == -1
    bad[lc[zz_idx[~okzz]]] = True
    zz_plus = np.where(s1 == 1, R[zz_idx, 2], R[zz_idx, 3])
    zz_minus = np.where(s1 == 1, R[zz_idx, 3], R[zz_idx, 2])
    bad |= _not_one_cycle(R, lc, m, xmask, za, zb, chords, chord_lc, zz_idx, nC, nkey)
    return bad, chords, chord_lc, zz_idx, zz_plus, zz_minus


def _not_one_cycle(R, lc, m, xmask, za, zb, chords, chord_lc, zz_idx, nC, nkey):
    """3-D: the cells whose cross-section is not one cycle through at least three points
    (every zero point of a cell must have degree 2 in its chords and in-plane edges)."""
    bad = np.zeros(nC, dtype=bool)
    ek = np.concatenate([chord_lc, chord_lc, lc[zz_idx], lc[zz_idx]]) * nkey + \
        np.concatenate([chords[:, 0], chords[:, 1], R[zz_idx, 0], R[zz_idx, 1]])
    zpts = np.unique(np.concatenate([lc[xmask] * nkey + m[xmask], lc[za] * nkey + R[za, 0],
                                     lc[zb] * nkey + R[zb, 1]]))
    ek_u, ek_c = np.unique(ek, return_counts=True)
    if len(ek_u):
        pos_in = np.minimum(np.searchsorted(ek_u, zpts), len(ek_u) - 1)
        deg = np.where(ek_u[pos_in] == zpts, ek_c[pos_in], 0)
    else:
        deg = np.zeros(len(zpts), dtype=np.int64)
    bad[(zpts[deg != 2]) // nkey] = True
    # ... through at least three points (two chords between the same two points
    # cut a corner of degree two, a straight-angle corner, off nothing)
    bad[np.bincount(zpts // nkey, minlength=nC) < 3] = True
    return bad


def near_tie_bands(cut: Cut, zv, eps, scale, tries=8, reach=100.0):
    """Zero bands ``(lo, hi)`` to try after ``cut`` (made with ``(-eps, eps)``) had
    inconsistent cells: a value is negative below ``lo``, positive above ``hi``, else zero.

    From the values at the inconsistent cells' corners within ``reach * eps`` of zero:
    first symmetric bands ``(-t, t)`` with ``t`` in the middle (geometrically) of a gap
    between consecutive magnitudes, or below the smallest (strict signs; magnitudes
    under the rounding floor ``1e-16 * scale`` stay zero), widest gaps first; then strict
    signs about a level ``s`` in the middle of a gap between consecutive values
    (``lo = hi = s``: the signs of the plane moved by ``s``, which an affine function
    always realizes), widest gaps first. At most ``tries`` of each.
    """
    badr = ~cut.good[cut.lc]
    vb = np.unique(cut.R[badr, :2])
    floor = 1e-16 * scale
    top = reach * eps
    vals = zv[vb]
    mags = np.unique(np.abs(vals))
    nxt = mags[mags > top]
    mags = mags[(mags > floor) & (mags <= top)]
    lo = np.concatenate([[floor], mags])
    hi = np.concatenate([mags, [nxt[0] if len(nxt) else np.inf]])
    tau = np.sqrt(lo * np.minimum(hi, top))
    tau[0] = floor
    ratio = hi / lo
    keep = (tau != eps) & (tau <= top)
    tau, ratio = tau[keep], ratio[keep]
    sym = tau[np.argsort(-ratio, kind="stable")][:tries]
    v = np.unique(vals[np.abs(vals) <= top])
    v = np.concatenate([[-top], v[(v > -top) & (v < top)], [top]])
    mid = 0.5 * (v[:-1] + v[1:])
    mid = mid[np.argsort(-np.diff(v), kind="stable")][:tries]
    return [(-t, t) for t in sym.tolist()] + [(m, m) for m in mid.tolist()]
