"""The level-set surface from the final cells of the complex: cross-sections, caps, orientation.

After the last layer ``f`` is affine on every remaining cell (a linear region of the network in
the box) and the cells are cut by ``g = f - c`` (negated for ``inside="above"``) one last time
(:meth:`CellComplex.plan`, not applied): the cross-section of a cell is one planar convex polygon
per region in 3-D (coplanar pieces of a region are one face) and one segment per region in 2-D,
tagged with the region's index and activation pattern. Its corners and edges are those of the
cut, shared with the neighbouring cells. Then come the faces lying in the level set (``g = 0``
on a whole face of an uncrossed cell) and, with ``cap=True``, the parts of the box sides inside
the solid.

Orientation
-----------
Faces are linked along the cells' edges (never sorted by angle: corners closer than round-off
would mix up) and oriented by their coordinates where the area is above round-off (a bound
``256 * eps * box extent`` on the coordinates' error); faces smaller than that (corners that
round onto a line) follow their neighbours. A cross-section's orientation comes from the signs
around the oriented faces of its cell (a weighted vote of the cut faces), never from the
direction of the level set's normal, which is meaningless where ``f`` is almost flat; a final
pass (:func:`repair_orientation`) flips any cross-section (and any face too small for its
coordinates to tell its orientation) that disagrees with most of its neighbours. A face in the
level set whose other cell was pruned bounds the solid according to the strict signs of
``f - c`` on it (pruning keeps a margin).

Which level set
---------------
The surface is the boundary of the solid ``{f < c}`` (signed-distance convention: negative
inside) inside the box, its faces oriented counter-clockwise seen from the side where ``f > c``,
so normals point out of the solid (``inside="above"`` swaps the roles). A region where ``f`` is
constant equal to ``c`` counts as outside, and a face where ``f`` only touches ``c`` from one
side (``f = |x|`` at ``c = 0``) is not a boundary and is not emitted. A surface lying in a box
side is emitted (with ``cap=True`` only where the solid is behind it). ``cap=True`` adds the
box sides inside the solid, which closes the surface.

Output
------
A :class:`~neuralpoly_core.mesh.PolyMesh`. In 3-D: planar convex n-gon faces, ``region_ids``
per face (cap faces carry the region they cap) and ``region_patterns`` (one activation pattern
per region, ``z > 0`` per neuron at the region's vertex centroid). In 2-D the level set is a set
of curves, stored as **segments**: every face has two corners, oriented so that the inside lies
on the left, one segment per region crossed (cap segments run along the box). Faces come in the
order: level-set faces, then cap faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mesh.polymesh import PolyMesh
from ..network.model import Network
from .complex import CellComplex, Cut
from .cycles import (cycle_layout, cycle_normals, link_cycles, repair_orientation, reverse_cycles,
                     sort_polygons, transitions)

__all__ = ["FinalCells", "emit_surface", "region_patterns"]


@dataclass(eq=False)
class FinalCells:
    """The final cells and their cut by ``g``: the arrays every part of the surface reads."""

    #: The complex (its cells are the linear regions crossed or touched by the level set).
    cx: CellComplex
    #: The cut of every cell by ``g`` (None: no cell is crossed).
    cut: Cut | None
    #: Signs of ``g`` at the vertices.
    sv: np.ndarray
    #: Every record of every cell, cell by cell, the cell of each and the signs at its ends.
    R: np.ndarray
    lc: np.ndarray
    sa: np.ndarray
    sb: np.ndarray
    #: Per cell: a vertex with ``g > 0``, with ``g < 0``, both.
    cpos: np.ndarray
    cneg: np.ndarray
    crossed: np.ndarray
    #: The vertices and after them the cut's new vertices.
    Xall: np.ndarray
    #: Per cell: crossed with consistent signs (its cross-section is made from the cut).
    good_cell: np.ndarray
    #: Close the surface with the box sides inside the solid.
    cap: bool
    #: Cells and faces whose surface could not be made exactly (counted for ``info``).
    degenerate: int = 0

    @classmethod
    def build(cls, cx: CellComplex, G: np.ndarray, scale: float, cap: bool) -> "FinalCells":
        """Cut every cell of ``cx`` by ``G`` (``g`` at the vertices, rounding scale ``scale``)."""
        nc = cx.n_cells
        S = np.arange(nc)
        X = cx.points
        cut, sv = cx.plan(G, scale)
        R, ct = cx.cell_records(S)
        lc = np.repeat(S, ct)
        sa, sb = sv[R[:, 0]], sv[R[:, 1]]
        off = np.cumsum(ct) - ct
        cpos = np.logical_or.reduceat((sa > 0) | (sb > 0), off)
        cneg = np.logical_or.reduceat((sa < 0) | (sb < 0), off)
        # new vertices: one per crossing edge of the crossed cells (shared by all its cells)
        good_cell = np.zeros(nc, dtype=bool)
        if cut is not None:
            ua, ub = cut.ends()
            t = cut.fractions(G)[:, None]
            Xall = np.concatenate([X, X[ua] + t * (X[ub] - X[ua])], axis=0)
            good_cell[cut.cells[cut.good]] = True
        else:
            Xall = X
        return cls(cx, cut, sv, R, lc, sa, sb, cpos, cneg, cpos & cneg, Xall, good_cell, cap)

    @property
    def n_cells(self) -> int:
        return self.cx.n_cells

    def edge_point(self, u, v) -> np.ndarray:
        """The new vertex on the crossing edge (u, v), -1 for an edge not cut."""
        if self.cut is None:
            return np.full(len(u), -1, dtype=np.int64)
        return self.cut.edge_point(u, v)


def emit_surface(cx: CellComplex, net: Network, G: np.ndarray, scale: float, cap: bool,
                 trace: dict | None = None):
    """The level set ``g = 0`` from the final cells of ``cx`` (``G``: ``g`` at the vertices).

    Returns ``(mesh, stats)``: the mesh (without ``info``) and a dict with ``regions_crossed``,
    ``cap_faces``, ``reoriented_faces`` and ``degenerate`` (cells and faces left out or made
    best-effort here, beyond those of the complex). A ``trace`` dict is filled with where each
    mesh vertex came from: ``source`` (its index among the complex's vertices, then the cut's
    new vertices), ``n_old`` (the complex's vertices), and per new vertex of the cut its edge
    ``ua``, ``ub`` (vertex ids into ``points``), fraction ``t`` and the labels of the edge's two
    faces in one of its cells, ``labels`` (n, 2; -1 in 2-D).
    """
    fc = FinalCells.build(cx, G, scale, cap)
    parts = cross_sections(fc)                 # (corners, sizes, cells) per part
    n_sec = int(sum(len(sz) for _v, sz, _r in parts))
    zv, zsz, zreg, zero_free = zero_faces(fc, G)
    parts.append((zv, zsz, zreg))
    ncap = 0
    if cap:
        cv, csz, creg, cap_free = caps(fc)
        parts.append((cv, csz, creg))
        ncap = len(csz)
    corners, sizes, regs = (np.concatenate([p[k] for p in parts]) for k in range(3))
    # orientation repair: the cross-sections (first n_sec faces) and the caps too small
    # for their orientation to be read off their coordinates follow their neighbours
    free = np.zeros(len(sizes), dtype=bool)
    free[:n_sec] = True
    free[n_sec:n_sec + len(zero_free)] = zero_free
    if ncap:
        free[len(sizes) - ncap:] = cap_free
    corners, flipped = repair_orientation(corners, sizes, free)
    # keep only used vertices; region ids: 0.. over cells that emitted something
    Xall = fc.Xall
    usedv = np.zeros(len(Xall), dtype=bool)
    usedv[corners] = True
    newv = np.cumsum(usedv) - 1
    corners = newv[corners]
    ureg, rinv = np.unique(regs, return_inverse=True)
    mesh = PolyMesh(Xall[usedv], corners, sizes, rinv.ravel(),
                    region_patterns=region_patterns(cx, net, ureg))
    if trace is not None:
        _fill_trace(trace, fc, G, usedv)
    stats = {"regions_crossed": int(fc.crossed.sum()), "cap_faces": ncap,
             "reoriented_faces": flipped, "degenerate": fc.degenerate}
    return mesh, stats


def _fill_trace(trace: dict, fc: FinalCells, G: np.ndarray, usedv: np.ndarray) -> None:
    """Where the mesh's vertices come from (see :func:`emit_surface`)."""
    cut = fc.cut
    trace.update(source=np.nonzero(usedv)[0], n_old=fc.cx.points.shape[0], points=fc.cx.points)
    if cut is None:
        e = np.zeros(0, dtype=np.int64)
        trace.update(ua=e, ub=e, t=np.zeros(0), labels=np.zeros((0, 2), dtype=np.int64))
        return
    ua, ub = cut.ends()
    labels = np.full((len(ua), 2), -1, dtype=np.int64)
    sel = cut.m >= 0
    labels[cut.m[sel] - cut.n_vertices] = cut.R[sel, 2:4]
    trace.update(ua=ua, ub=ub, t=cut.fractions(G), labels=labels)


# ---------------------------------------------------------------------------------------
# (1) cross-sections of the crossed cells
# ---------------------------------------------------------------------------------------
def cross_sections(fc: FinalCells) -> list:
    """The cross-sections of the crossed cells, as parts ``(corners, sizes, cells)``.

    Their corners and edges come from the cut (shared with the neighbours); their orientation
    from the signs around an oriented face of the cell. Inconsistent cells (counted already)
    get their zero points sorted by angle (3-D, best effort).
    """
    cut = fc.cut
    if cut is None:
        return []
    parts = []
    if fc.cx.d == 3:
        okg, gid, vid = _sections_3d(fc)
        ug, sz = np.unique(gid, return_counts=True)
        parts.append((vid, sz, cut.cells[ug]))
    else:
        # 2-D: the boundary of each good crossed cell, counter-clockwise
        gl = cut.good[cut.lc]
        okg, gid, vid = link_cycles(cut.lc[gl], cut.R[gl, 0], cut.R[gl, 1], len(cut.cells))
        if len(gid):
            nrm = cycle_normals(gid, vid, fc.cx.points)
            vid = reverse_cycles(gid, vid, nrm[:, 2] < 0)
            p, q, okpq = transitions(gid, vid, fc.sv, fc.edge_point)
            cyc = gid[cycle_layout(gid)[0]]
            # inside (negative) on the left of p -> q
            parts.append((np.stack([p[okpq], q[okpq]], axis=1).ravel(),
                          np.full(int(okpq.sum()), 2, dtype=np.int64), cut.cells[cyc[okpq]]))
            okg[cyc[~okpq]] = False
    broken = np.zeros(fc.n_cells, dtype=bool)
    broken[cut.cells[cut.good & ~okg]] = True
    bad = (fc.crossed & ~fc.good_cell) | broken
    fc.degenerate += int(broken.sum())
    if fc.cx.d == 3 and bad.any():
        parts.append(_sorted_by_angle(fc, bad))
    return parts


def _sections_3d(fc: FinalCells):
    """The cross-sections of the good crossed cells (3-D): their chords and in-plane edges
    linked into cycles, each turned by the vote of its cell's cut faces. Returns
    ``(ok per crossed cell, cycle of each corner, corners)``."""
    cut = fc.cut
    gl = cut.good[cut.lc]
    zi = cut.zz_idx[gl[cut.zz_idx]]
    chg = cut.good[cut.chord_lc]
    ga = np.concatenate([cut.chord_lc[chg], cut.lc[zi]])
    ea = np.concatenate([cut.chords[chg, 0], cut.R[zi, 0]])
    eb = np.concatenate([cut.chords[chg, 1], cut.R[zi, 1]])
    okg, gid, vid = link_cycles(ga, ea, eb, len(cut.cells))
    # faces of the good crossed cells that are cut, linked and oriented outwards
    L = fc.cx.n_labels
    cR, clc = cut.R, cut.lc
    nC = len(cut.cells)
    hk = np.concatenate([clc * L + cR[:, 2], clc * L + cR[:, 3]])
    hr = np.concatenate([np.arange(len(cR))] * 2)
    fpos = np.zeros(nC * L, dtype=bool)
    fneg = np.zeros(nC * L, dtype=bool)
    rp = np.concatenate([(cut.sa > 0) | (cut.sb > 0)] * 2)
    rn = np.concatenate([(cut.sa < 0) | (cut.sb < 0)] * 2)
    fpos[hk[rp]] = True
    fneg[hk[rn]] = True
    sel = fpos[hk] & fneg[hk] & np.concatenate([gl, gl])
    fk, finv = np.unique(hk[sel], return_inverse=True)
    _fok, fgid, fvid = link_cycles(finv.ravel(), cR[hr[sel], 0], cR[hr[sel], 1], len(fk))
    if len(fgid):
        gid, vid = _vote_orientation(fc, okg, gid, vid, fgid, fvid, fk // L)
    return okg, gid, vid


def _vote_orientation(fc: FinalCells, okg, gid, vid, fgid, fvid, face_cell):
    """Turn each cross-section (cycles ``gid``/``vid``) by its cell's cut faces (cycles
    ``fgid``/``fvid``, cell ``face_cell`` per face group), oriented outwards first."""
    cut, X, sv = fc.cut, fc.cx.points, fc.sv
    nC = len(cut.cells)
    NV = len(fc.Xall)
    fstarts, fsz = cycle_layout(fgid)[:2]
    fcyc = fgid[fstarts]
    fn = cycle_normals(fgid, fvid, X)
    # outward: from the cell's centroid to the face's
    cvv, coff, ccnt = fc.cx.cell_vertices(cut.cells)
    ccen = fc.cx.geometry(cvv, coff, ccnt)[0]
    fcen = np.zeros((len(fstarts), 3))
    gnum = np.repeat(np.arange(len(fstarts)), fsz)
    for k in range(3):
        fcen[:, k] = np.bincount(gnum, weights=X[fvid, k]) / fsz
    fcell = face_cell[fcyc]
    outward = np.einsum("ij,ij->i", fn, fcen - ccen[fcell]) >= 0
    fvid = reverse_cycles(fgid, fvid, ~outward)
    fp, fq, fpq = transitions(fgid, fvid, sv, fc.edge_point)
    # every cut face votes: the cross-section of the negative child runs the
    # face's chord the other way, i.e. contains the directed edge q_F -> p_F.
    # Weight: how clearly the face is outward (cosine of the centroid offset).
    offv = fcen - ccen[fcell]
    wgt = np.abs(np.einsum("ij,ij->i", fn, offv)) / np.maximum(
        np.linalg.norm(fn, axis=1) * np.linalg.norm(offv, axis=1), 1e-300)
    starts, sizes, gnum2, nxt = cycle_layout(gid)
    ncyc = len(starts)
    cyc_cell = gid[starts]
    cyc_of_cell = np.full(nC, -1, dtype=np.int64)
    cyc_of_cell[cyc_cell] = np.arange(ncyc)
    ekey = np.minimum(vid, vid[nxt]) * NV + np.maximum(vid, vid[nxt])
    edir = vid < vid[nxt]                      # P runs min -> max here
    fcc = cyc_of_cell[fcell]
    usable = fpq & (fcc >= 0)
    qk = np.minimum(fp, fq) * NV + np.maximum(fp, fq)
    _uk, rk = np.unique(np.concatenate([ekey, qk]), return_inverse=True)
    rk = rk.ravel()
    nkey = len(_uk)
    comb_all = gnum2 * nkey + rk[:len(ekey)]
    eorder = np.argsort(comb_all, kind="stable")
    comb, ed_s = comb_all[eorder], edir[eorder]
    look = np.where(usable, fcc, 0) * nkey + rk[len(ekey):]
    pos_ = np.minimum(np.searchsorted(comb, look), len(comb) - 1)
    found = usable & (comb[pos_] == look)
    # want q -> p: min -> max iff q < p
    agree = ed_s[pos_] == (fq < fp)
    vote = np.where(found, np.where(agree, 1.0, -1.0) * (wgt + 1e-3), 0.0)
    score = np.bincount(np.where(found, fcc, 0), weights=vote, minlength=ncyc)
    # a cycle without a vote (every cut face too thin to tell its outward
    # side) keeps its linked order: the repair below orients it from its
    # neighbours, as every cross-section
    vid = reverse_cycles(gid, vid, score < 0)
    keepc = okg[gid]
    return gid[keepc], vid[keepc]


def _sorted_by_angle(fc: FinalCells, bad: np.ndarray):
    """Best effort for the inconsistent cells ``bad`` (3-D): their zero points by angle."""
    R, lc, sa, sb = fc.R, fc.lc, fc.sa, fc.sb
    nc = fc.n_cells
    NV = len(fc.Xall)
    # the new vertex of every crossing record of the full record list
    xm = (sa.astype(np.int16) * sb) < 0
    m = np.full(len(R), -1, dtype=np.int64)
    m[xm] = fc.edge_point(R[xm, 0], R[xm, 1])
    pc, nc_ = _side_centroids(R, lc, sa, sb, fc.cx.points, nc)
    br = bad[lc]
    za_, zb_ = br & (sa == 0), br & (sb == 0)
    xb = br & (m >= 0)
    zk = np.unique(np.concatenate([lc[xb] * NV + m[xb], lc[za_] * NV + R[za_, 0],
                                   lc[zb_] * NV + R[zb_, 1]]))
    zc, zvtx = zk // NV, zk % NV
    okb = np.bincount(zc, minlength=nc) >= 3
    gid, vid = sort_polygons(zc, zvtx, fc.Xall, pc - nc_, okb)
    ug, sz = np.unique(gid, return_counts=True)
    return vid, sz, ug


def _side_centroids(R, lc, sa, sb, X, nc):
    """Mean position of the positive and of the negative vertices of each cell."""
    d = X.shape[1]
    pc = np.zeros((nc, d))
    ncn = np.zeros((nc, d))
    for ends, s in ((R[:, 0], sa), (R[:, 1], sb)):
        p = s > 0
        n = s < 0
        for k in range(d):
            pc[:, k] += np.bincount(lc[p], weights=X[ends[p], k], minlength=nc)
            ncn[:, k] += np.bincount(lc[n], weights=X[ends[n], k], minlength=nc)
    cp = np.bincount(lc[sa > 0], minlength=nc) + np.bincount(lc[sb > 0], minlength=nc)
    cn = np.bincount(lc[sa < 0], minlength=nc) + np.bincount(lc[sb < 0], minlength=nc)
    pc /= np.maximum(cp, 1)[:, None]
    ncn /= np.maximum(cn, 1)[:, None]
    return pc, ncn


# ---------------------------------------------------------------------------------------
# (2) faces lying in the level set
# ---------------------------------------------------------------------------------------
def zero_faces(fc: FinalCells, G: np.ndarray):
    """Faces (3-D) / edges (2-D) of uncrossed cells on which f == c, emitted per the rules.

    A face is emitted where exactly one of its two cells is inside. A face with one cell
    (not in a box side) had its other cell pruned, which happens only where ``f - c`` is
    beyond the pruning margin on that cell, so the strict signs of ``G = f - c`` at the
    face's corners tell on which side the pruned cell was. The corners of a face follow
    its cell's edges. Returns (corners, sizes, cells, unsure): ``unsure`` marks faces whose
    orientation could not be read off their coordinates (smaller than round-off); they
    follow their neighbours (see :func:`repair_orientation`).
    """
    empty = (np.zeros(0, np.int64),) * 3 + (np.zeros(0, dtype=bool),)
    # cells not crossed with zero vertices
    zrec = (~fc.crossed[fc.lc]) & (fc.sa == 0) & (fc.sb == 0)
    if not zrec.any():
        return empty
    state = np.where(fc.cneg, -1, np.where(fc.cpos, 1, 0))      # -1 inside, +1 outside, 0 f == c
    if fc.cx.d == 2:
        return _zero_edges_2d(fc, G, state, zrec)
    faces = _zero_face_groups(fc, zrec)
    return _emit_zero_faces_3d(fc, G, state, faces, empty)


def _bounds_solid(G, state, cc, verts) -> bool:
    """Whether a face of cell ``cc`` whose neighbour was pruned bounds the solid."""
    g = G[np.asarray(verts, np.int64)]
    other = 1 if np.all(g > 0) else (-1 if np.all(g < 0) else -state[cc])
    return (state[cc] == -1) != (other == -1)


def _emitted(fc: FinalCells, G, state, lab, owners, verts):
    """The (cell, state) a face with label ``lab``, cells ``owners`` and corners ``verts``
    is emitted for, or None."""
    if 0 <= lab < fc.cx.nb:
        # a box side in the level set: part of the solid's boundary if the cell is
        # inside; without caps also when it only touches (the level set is there)
        cc = owners[0]
        if state[cc] == -1 or (state[cc] == 1 and not fc.cap):
            return cc, state[cc]
        return None
    sts = [state[o] for o in owners]
    if len(owners) == 2 and sorted(sts)[0] == -1 and sorted(sts)[1] != -1:
        return owners[sts.index(-1)], -1
    if len(owners) == 1 and _bounds_solid(G, state, owners[0], verts):
        return owners[0], sts[0]
    return None


def _zero_edges_2d(fc: FinalCells, G, state, zrec):
    """2-D: the edges of uncrossed cells in the level set, as oriented segments."""
    R, lc, Xall = fc.R, fc.lc, fc.Xall
    idx = np.nonzero(zrec)[0]
    a, b, lab, c = R[idx, 0], R[idx, 1], R[idx, 2], lc[idx]
    key = a * len(Xall) + b
    order = np.lexsort((c, key))
    a, b, lab, c, key = a[order], b[order], lab[order], c[order], key[order]
    out_v, out_r, out_u = [], [], []
    i = 0
    n = len(key)
    while i < n:
        j = i + 1
        while j < n and key[j] == key[i]:
            j += 1
        owners = list(c[i:j])
        emit = _emitted(fc, G, state, lab[i], owners, (a[i], b[i]))
        if emit is not None:
            cc, s = emit
            cen = _cell_centroid(R, lc, cc, Xall)
            p, q = a[i], b[i]
            e = Xall[q] - Xall[p]
            r = cen - Xall[p]
            cross = e[0] * r[1] - e[1] * r[0]
            # inside cell (s=-1) must be on the left; outside cell (s=+1) on the right
            if (s == -1) != (cross > 0):
                p, q = q, p
            out_v += [p, q]
            out_r.append(cc)
            out_u.append(abs(cross) <= 2 * (abs(e).sum() + abs(r).sum()) * fc.cx.round_off())
        i = j
    return (np.asarray(out_v, np.int64), np.full(len(out_r), 2, np.int64),
            np.asarray(out_r, np.int64), np.asarray(out_u, dtype=bool))


def _zero_face_groups(fc: FinalCells, zrec) -> dict:
    """3-D: the faces of uncrossed cells whose corners are all zero, as
    ``{(label, corners): [(cell, records), ...]}`` (one entry per cell holding the face)."""
    R, lc = fc.R, fc.lc
    cand = (~fc.crossed) & np.bincount(lc[zrec], minlength=fc.n_cells).astype(bool)
    idx = np.nonzero(cand[lc])[0]
    L = fc.cx.n_labels
    hk = np.concatenate([lc[idx] * L + R[idx, 2], lc[idx] * L + R[idx, 3]])
    hz = np.concatenate([(fc.sa[idx] == 0) & (fc.sb[idx] == 0)] * 2)
    hr = np.concatenate([idx, idx])
    gkeys, ginv = np.unique(hk, return_inverse=True)
    allz = np.ones(len(gkeys), dtype=bool)
    np.logical_and.at(allz, ginv, hz)
    faces = {}
    sel = allz[ginv]
    order = np.argsort(ginv[sel], kind="stable")
    g_sorted = ginv[sel][order]
    r_sorted = hr[sel][order]
    bounds = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1], True]) if len(g_sorted) \
        else np.zeros(1, dtype=np.int64)
    for k in range(len(bounds) - 1):
        recs = r_sorted[bounds[k]:bounds[k + 1]]
        g = g_sorted[bounds[k]]
        verts = np.unique(np.concatenate([R[recs, 0], R[recs, 1]]))
        if len(verts) < 3:
            continue
        cc = int(gkeys[g] // L)
        lab = int(gkeys[g] % L)
        faces.setdefault((lab, tuple(verts.tolist())), []).append((cc, recs))
    return faces


def _emit_zero_faces_3d(fc: FinalCells, G, state, faces: dict, empty):
    """3-D: the emitted faces of :func:`_zero_face_groups`, linked along their cell's edges
    and turned outwards."""
    R, lc, Xall = fc.R, fc.lc, fc.Xall
    # the emitted faces: their edges (linked into cycles below), cell, outward direction
    e_grp, e_rec, out_r, dirs = [], [], [], []
    for (lab, verts), own in faces.items():
        owners = [o for o, _recs in own]
        emit = _emitted(fc, G, state, lab, owners, verts)
        if emit is None:
            continue
        cc, s = emit
        cen = _cell_centroid(R, lc, cc, Xall)
        fcen = Xall[np.asarray(verts, np.int64)].mean(axis=0)
        # normal must point to the positive (outside) side
        dirs.append((fcen - cen) if s == -1 else (cen - fcen))
        recs = own[owners.index(cc)][1]
        e_grp.append(np.full(len(recs), len(out_r), dtype=np.int64))
        e_rec.append(recs)
        out_r.append(cc)
    if not out_r:
        return empty
    # corners in the order of the cell's edges (an angular sort mixes up corners closer
    # than round-off), turned to the outward direction
    recs = np.concatenate(e_rec)
    okg, gid, vid = link_cycles(np.concatenate(e_grp), R[recs, 0], R[recs, 1], len(out_r))
    fc.degenerate += int((~okg).sum())
    if len(gid) == 0:
        return empty
    starts, sizes, gnum, _nxt = cycle_layout(gid)
    cyc = gid[starts]
    dirs = np.asarray(dirs)[cyc]
    nrm = cycle_normals(gid, vid, Xall)
    dot = np.einsum("ij,ij->i", nrm, dirs)
    vid = reverse_cycles(gid, vid, dot < 0)
    ext = np.maximum.reduceat(np.abs(Xall[vid] - Xall[vid[starts]][gnum]).max(axis=1), starts)
    # unsure: the face's area or its offset from the cell's centroid is below round-off
    delta = fc.cx.round_off()
    unsure = np.abs(dot) <= 2 * np.linalg.norm(dirs, axis=1) * sizes * ext * delta \
        + 4 * np.linalg.norm(nrm, axis=1) * delta
    return vid, sizes, np.asarray(out_r, np.int64)[cyc], unsure


def _cell_centroid(R, lc, c, X):
    sel = lc == c
    v = np.unique(np.concatenate([R[sel, 0], R[sel, 1]]))
    return X[v].mean(axis=0)


# ---------------------------------------------------------------------------------------
# (3) caps: box sides inside the solid
# ---------------------------------------------------------------------------------------
def caps(fc: FinalCells):
    """The parts of the box sides where g < 0 (3-D polygons, 2-D segments): (corners, sizes,
    cells, unsure) as :func:`zero_faces`."""
    return _caps_2d(fc) if fc.cx.d == 2 else _caps_3d(fc)


def _caps_2d(fc: FinalCells):
    R, sa, sb, Xall = fc.R, fc.sa, fc.sb, fc.Xall
    onbox = (R[:, 2] >= 0) & (R[:, 2] < fc.cx.nb)
    sel = onbox & ((sa < 0) | (sb < 0))
    idx = np.nonzero(sel)[0]
    a, b = R[idx, 0], R[idx, 1]
    s_a, s_b = sa[idx], sb[idx]
    xm = (s_a.astype(np.int16) * s_b) < 0
    # keep the negative part of crossed edges
    mm = np.full(len(idx), -1, dtype=np.int64)
    mm[xm] = fc.edge_point(a[xm], b[xm])
    a2 = np.where(xm & (s_a > 0), mm, a)
    b2 = np.where(xm & (s_b > 0), mm, b)
    lab = R[idx, 2]
    axis = lab // 2
    side = lab % 2
    # counter-clockwise around the box: bottom (y=lo) +x, right (x=hi) +y,
    # top (y=hi) -x, left (x=lo) -y
    along = 1 - axis
    inc = np.where(axis == 1, side == 0, side == 1)   # coordinate increases along travel
    pa = Xall[a2, along]
    pb = Xall[b2, along]
    fwd = (pb > pa) == inc
    p = np.where(fwd, a2, b2)
    q = np.where(fwd, b2, a2)
    # a segment of zero length (vertices closer than round-off) follows its neighbours
    return (np.stack([p, q], axis=1).ravel(), np.full(len(idx), 2, np.int64), fc.lc[idx],
            np.abs(pb - pa) <= fc.cx.round_off())


def _caps_3d(fc: FinalCells):
    """3-D: each box face of a cell with a negative vertex, as an oriented cycle (outward box
    normal); its negative part is read off the signs around it."""
    R, lc, sa, sb, Xall = fc.R, fc.lc, fc.sa, fc.sb, fc.Xall
    nb = fc.cx.nb
    keys, ra, rb = [], [], []
    negk = []
    for col in (2, 3):
        on = (R[:, col] >= 0) & (R[:, col] < nb)
        key = lc * nb + R[:, col]
        negk.append(key[on & ((sa < 0) | (sb < 0))])
        keys.append(key[on])
        ra.append(R[on, 0])
        rb.append(R[on, 1])
    negk = np.unique(np.concatenate(negk))
    keys = np.concatenate(keys)
    sel = np.isin(keys, negk)
    empty = (np.zeros(0, np.int64),) * 3 + (np.zeros(0, dtype=bool),)
    if not sel.any():
        return empty
    ukey, ginv = np.unique(keys[sel], return_inverse=True)
    okg, gid, vid = link_cycles(ginv.ravel(), np.concatenate(ra)[sel], np.concatenate(rb)[sel],
                                len(ukey))
    fc.degenerate += int((~okg).sum())
    if len(gid) == 0:
        return empty
    labs = ukey % nb
    # orientation: the Newell normal against the outward box normal, where it is larger
    # than its round-off; a face too small for that (a sliver whose corners round onto a
    # line) follows its neighbours (see repair_orientation)
    starts, sizes, gnum, nxt = cycle_layout(gid)
    cyc = gid[starts]
    area2 = cycle_normals(gid, vid, Xall)[np.arange(len(starts)), labs[cyc] // 2]
    area2 = np.where(labs[cyc] % 2 == 1, area2, -area2)
    ext = np.maximum.reduceat(np.abs(Xall[vid] - Xall[vid[starts]][gnum]).max(axis=1), starts)
    unsure = np.zeros(len(ukey), dtype=bool)
    unsure[cyc] = np.abs(area2) <= 2 * sizes * ext * fc.cx.round_off()
    vid = reverse_cycles(gid, vid, area2 < 0)
    sv = np.zeros(len(Xall), dtype=np.int8)
    sv[R[:, 0]] = sa
    sv[R[:, 1]] = sb
    s_ = sv[vid]
    sn = s_[nxt]
    keep_v = s_ <= 0
    cross = (s_.astype(np.int16) * sn) < 0
    # the crossing points: the new vertices numbered after the complex's vertices
    mpt = fc.edge_point(vid[cross], vid[nxt[cross]])
    cnt = keep_v.astype(np.int64) + cross
    outpos = np.cumsum(cnt) - cnt
    total = int(cnt.sum())
    out_v = np.empty(total, dtype=np.int64)
    out_g = np.empty(total, dtype=np.int64)
    out_v[outpos[keep_v]] = vid[keep_v]
    out_g[outpos[keep_v]] = gid[keep_v]
    cpos_ = outpos[cross] + keep_v[cross]
    out_v[cpos_] = mpt
    out_g[cpos_] = gid[cross]
    ug, sz = np.unique(out_g, return_counts=True)
    good = sz >= 3
    keepg = np.isin(out_g, ug[good])
    return out_v[keepg], sz[good], ukey[ug[good]] // nb, unsure[ug[good]]


def region_patterns(cx: CellComplex, net: Network, cell_ids: np.ndarray) -> np.ndarray:
    """Activation pattern (z > 0) of each listed cell, at its vertex centroid."""
    n = net.n_neurons
    if len(cell_ids) == 0:
        return np.zeros((0, n), dtype=bool)
    R, ct = cx.cell_records(cell_ids)
    lc = np.repeat(np.arange(len(cell_ids)), ct)
    X = cx.points
    # vertex centroid (vertices counted with multiplicity of edge ends: still interior)
    cen = np.zeros((len(cell_ids), cx.d))
    cnt = np.bincount(lc, minlength=len(cell_ids)) * 2
    for k in range(cx.d):
        cen[:, k] = (np.bincount(lc, weights=X[R[:, 0], k], minlength=len(cell_ids))
                     + np.bincount(lc, weights=X[R[:, 1], k], minlength=len(cell_ids)))
    cen /= np.maximum(cnt, 1)[:, None]
    pats = []
    h = net.first_input(cen)
    for layer in net.layers:
        z = layer.preactivation(h)
        pats.append(z > 0)
        h = layer.activation(z)
    return np.concatenate(pats, axis=1)
