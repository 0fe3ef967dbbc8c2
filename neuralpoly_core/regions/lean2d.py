"""The fast path of :func:`~neuralpoly_core.regions.enumerate_regions` in 2-D: each layer's cut
of every cell as a line arrangement, all cells and all of the layer's units at once.

On a cell of the previous layers (a convex polygon) every unit of a ``relu`` / ``|x|`` layer is
affine, so the layer cuts the cell along an arrangement of lines. Its vertices are the cell's
corners, the points where a line crosses the cell's boundary (one per edge and unit, shared
with the neighbour across the edge, so the tessellation stays conforming) and the points where
two lines cross inside the cell (where one line separates the other's two boundary points).
Each face of the arrangement has one lowest vertex in a generic direction ``_UP``: the cell's
lowest corner (one face), the lower boundary point of each line (the face above it, between
the line and the boundary going up) and each inner crossing (the face between the two lines
going up). So a cell crossed by ``k`` lines meeting ``I`` times inside it has ``1 + k + I``
faces; each face's signs are those of its lowest vertex, the lines through it signed by the
face's side, and its vertices are the arrangement's vertices whose signs agree (zero allowed).
A face is drawn counter-clockwise around its vertex centroid.

This needs general position. It gives up (returns None, and the caller cuts the box unit by unit
with the cell complex and its tolerance policy, :mod:`.exact`) as soon as a unit's value at a
vertex is within ``_TOL`` of its scale (a line through or near a vertex: duplicate, parallel or
dead units, concurrent lines), when the signs of two lines disagree about where they cross, a
face has fewer than three vertices, the faces' areas do not add up to the box's, a layer is
wider than 64 units or not ``relu`` / ``|x|``, more than ``max_regions`` cells are made, or
a layer would compare more than ``_MAX_PAIRS`` (face, vertex) pairs.
"""

from __future__ import annotations

import numpy as np

from ..budget import check_memory
from ..levelset.arrays import ranges
from .tessellation_build import affine_maps

__all__ = ["lean_regions_2d"]

_TOL = 1e-9                      # relative to |A| |y|max + |b| of the unit on the cell
_UP = np.array([0.3826834323650898, 0.9238795325112867])     # generic "up" (22.5 degrees off y)
_MAX_PAIRS = 4_000_000           # (face, vertex) pairs compared in one layer
_MAX_WIDTH = 64                  # a vertex's signs in one 64-bit word


class _GiveUp(Exception):
    """Not in general position (or over a limit): the caller takes the cell complex."""


def _bits(mask: np.ndarray) -> np.ndarray:
    """(k, w) bool, w <= 64 -> (k,) uint64."""
    packed = np.zeros((len(mask), 8), dtype=np.uint8)
    packed[:, :-(-mask.shape[1] // 8)] = np.packbits(mask, axis=1, bitorder="little")
    return packed.view(np.uint64)[:, 0]


def _signed(Z: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """+1 / -1 per value; gives up on a value within ``eps`` of zero."""
    if np.any(np.abs(Z) <= eps):
        raise _GiveUp
    return np.where(Z > 0, 1, -1).astype(np.int8)


def _values(A, b, cell, P):
    """The units' values (k, w) at points ``P`` (k, 2) of cells ``cell``."""
    return np.einsum("kjd,kd->kj", A[cell], P) + b[cell]


class _Layer:
    """One layer's cut of every cell (see the module docstring)."""

    def __init__(self, X, cv, coff, ccnt, A, b, eps):
        self.X, self.cv, self.coff, self.ccnt, self.A, self.b, self.eps = X, cv, coff, ccnt, A, b, eps
        self.n, self.w = len(ccnt), A.shape[1]
        self.cidx = np.repeat(np.arange(self.n), ccnt)
        self.new = [X]                               # vertex coordinates, new ones appended
        self.nv = len(X)

    def _add(self, P):
        ids = self.nv + np.arange(len(P))
        self.nv += len(P)
        self.new.append(P)
        return ids

    def boundary_points(self):
        """Corner signs, and each line's two boundary points per cell it crosses (segments)."""
        X, cv, cidx = self.X, self.cv, self.cidx
        Z = _values(self.A, self.b, cidx, X[cv])
        S = _signed(Z, self.eps[cidx])
        nxt = np.arange(len(cv)) + 1
        nxt[self.coff + self.ccnt - 1] = self.coff
        ek, ej = np.nonzero(S != S[nxt])
        u, v = cv[ek], cv[nxt[ek]]
        swap = u > v
        a, c = np.where(swap, v, u), np.where(swap, u, v)
        za, zc = np.where(swap, Z[nxt[ek], ej], Z[ek, ej]), np.where(swap, Z[ek, ej], Z[nxt[ek], ej])
        key = (a * len(X) + c) * self.w + ej
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        t = (za / (za - zc))[first][:, None]
        ids = self._add(X[a[first]] + t * (X[c[first]] - X[a[first]]))[inv]
        cc = cidx[ek]
        order = np.argsort(cc * self.w + ej, kind="stable")
        gk = (cc * self.w + ej)[order]
        if len(gk) % 2 or np.any(gk[0::2] != gk[1::2]) or np.any(gk[2::2] == gk[1:-1:2]):
            raise _GiveUp
        o1, o2 = order[0::2], order[1::2]
        self.corner_signs = S
        self.seg_cell, self.seg_line = cc[o1], ej[o1]
        self.seg_ids = np.stack([ids[o1], ids[o2]], axis=1)
        P = self.new[-1][inv]
        self.seg_P = np.stack([P[o1], P[o2]], axis=1)                       # (m, 2 ends, 2)
        edge = (X[v] - X[u])
        self.seg_edge = np.stack([edge[o1], edge[o2]], axis=1)

    def point_signs(self, cell, P, zero_lines):
        """Signs (k, w) int8 at points of cells, 0 on the lines ``zero_lines`` (k, z) through them."""
        Z = _values(self.A, self.b, cell, P)
        rows = np.arange(len(cell))[:, None]
        Z[rows, zero_lines] = np.inf
        S = _signed(Z, self.eps[cell])
        S[rows, zero_lines] = 0
        return S, Z

    def inner_points(self):
        """Pairs of segments of one cell that cross inside it, their crossing points and signs."""
        sc, sj, m = self.seg_cell, self.seg_line, len(self.seg_cell)
        self.end_S = []
        endZ = []
        for e in (0, 1):
            S, Z = self.point_signs(sc, self.seg_P[:, e], sj[:, None])
            self.end_S.append(S)
            endZ.append(Z)
        scnt = np.bincount(sc, minlength=self.n)
        soff = np.cumsum(scnt) - scnt
        after = scnt[sc] - (np.arange(m) - soff[sc]) - 1
        s = np.repeat(np.arange(m), after)
        t = ranges(np.arange(m) + 1, after)
        z1, z2 = endZ[0][s, sj[t]], endZ[1][s, sj[t]]
        cross = (z1 > 0) != (z2 > 0)
        if np.any(cross != ((endZ[0][t, sj[s]] > 0) != (endZ[1][t, sj[s]] > 0))):
            raise _GiveUp
        s, t, z1, z2 = s[cross], t[cross], z1[cross], z2[cross]
        P1, P2 = self.seg_P[s, 0], self.seg_P[s, 1]
        P = P1 + (z1 / (z1 - z2))[:, None] * (P2 - P1)
        self.pair = (s, t)
        self.pair_ids = self._add(P)
        self.pair_S, _ = self.point_signs(sc[s], P, np.stack([sj[s], sj[t]], axis=1))

    def faces(self):
        """Each face's cell and signs (nf, w), from its lowest vertex (module docstring)."""
        X, cv, cidx, A = self.X, self.cv, self.cidx, self.A
        h = X[cv] @ _UP
        low = np.lexsort((h, cidx))[self.coff]
        codes = [self.corner_signs[low]]
        cells = [cidx[low]]
        sc, sj = self.seg_cell, self.seg_line
        P = self.seg_P
        up = P[:, 1] - P[:, 0]
        lo_end = (up @ _UP) > 0                       # end 0 is the lower one
        up[~lo_end] *= -1
        k = np.arange(len(sc))
        e = np.where(lo_end[:, None], self.seg_edge[:, 0], self.seg_edge[:, 1])
        e = np.where(((e @ _UP) > 0)[:, None], e, -e)
        S = np.where(lo_end[:, None], self.end_S[0], self.end_S[1])
        S[k, sj] = np.where(np.einsum("kd,kd->k", A[sc, sj], e) > 0, 1, -1)
        codes.append(S)
        cells.append(sc)
        s, t = self.pair
        S = self.pair_S.copy()
        c = sc[s]
        i = np.arange(len(s))
        S[i, sj[s]] = np.where(np.einsum("kd,kd->k", A[c, sj[s]], up[t]) > 0, 1, -1)
        S[i, sj[t]] = np.where(np.einsum("kd,kd->k", A[c, sj[t]], up[s]) > 0, 1, -1)
        codes.append(S)
        cells.append(c)
        fcell = np.concatenate(cells)
        order = np.argsort(fcell, kind="stable")
        return fcell[order], np.concatenate(codes)[order]

    def vertices(self):
        """Every vertex of the arrangements: (cell, id, signs), sorted by cell."""
        sc = self.seg_cell
        s, _t = self.pair
        vc = np.concatenate([self.cidx, sc, sc, sc[s]])
        vid = np.concatenate([self.cv, self.seg_ids[:, 0], self.seg_ids[:, 1], self.pair_ids])
        vS = np.concatenate([self.corner_signs, self.end_S[0], self.end_S[1], self.pair_S])
        order = np.argsort(vc, kind="stable")
        return vc[order], vid[order], vS[order]


def _polygons(X, face, vid, nf):
    """Each face's vertices counter-clockwise around their centroid (CSR), and the areas."""
    cnt = np.bincount(face, minlength=nf)
    if np.any(cnt < 3):
        raise _GiveUp
    P = X[vid]
    cen = np.stack([np.bincount(face, P[:, 0], nf), np.bincount(face, P[:, 1], nf)], axis=1) / cnt[:, None]
    d = P - cen[face]
    order = np.lexsort((np.arctan2(d[:, 1], d[:, 0]), face))
    vid, P = vid[order], P[order]
    off = np.cumsum(cnt) - cnt
    nxt = np.arange(len(vid)) + 1
    nxt[off + cnt - 1] = off
    area = 0.5 * np.bincount(face, P[:, 0] * P[nxt, 1] - P[nxt, 0] * P[:, 1], nf)
    return vid, off, cnt, area, cen


def _cut_layer(X, cv, coff, ccnt, A, b, eps, what):
    """One layer: new vertices, the faces (cycles), each face's cell and signs."""
    L = _Layer(X, cv, coff, ccnt, A, b, eps)
    L.boundary_points()
    L.inner_points()
    fcell, fcode = L.faces()
    vc, vid, vS = L.vertices()
    nf = len(fcell)
    vcnt = np.bincount(vc, minlength=L.n)
    voff = np.cumsum(vcnt) - vcnt
    per = vcnt[fcell]
    total = int(per.sum())
    if total > _MAX_PAIRS:
        raise _GiveUp
    check_memory(8 * 6 * total + 8 * (3 * L.w + 8) * len(vid), what,
                 "use a smaller box, a smaller network or max_regions")
    pv = ranges(voff[fcell], per)
    pf = np.repeat(np.arange(nf), per)
    vpos, vneg = _bits(vS > 0), _bits(vS < 0)
    fpos, fneg = _bits(fcode > 0), _bits(fcode < 0)
    ok = ((fpos[pf] & vneg[pv]) | (fneg[pf] & vpos[pv])) == 0
    Xn = np.concatenate(L.new, axis=0)
    fv, foff, fcnt, area, cen = _polygons(Xn, pf[ok], vid[pv[ok]], nf)
    return Xn, fv, foff, fcnt, fcell, fcode, area, cen


def lean_regions_2d(net, lo, hi, reporter, max_regions=None) -> dict | None:
    """The arrays of :func:`~neuralpoly_core.regions.tessellation_build.build` for a 2-D
    network of ``relu`` / ``|x|`` layers in general position (module docstring), or None."""
    layers = net.layers
    if net.dim != 2 or any(l.activation.group != 1 or not l.activation.kinked or l.width > _MAX_WIDTH
                           for l in layers):
        return None
    ext = np.maximum(np.abs(lo), np.abs(hi))
    X = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    cv, coff, ccnt = np.arange(4), np.zeros(1, dtype=np.int64), np.array([4])
    box = float(np.prod(hi - lo))
    first = layers[0]
    A = first.weight[None, :, :].copy()
    b = (np.zeros(first.width) if first.bias is None else first.bias)[None, :].copy()
    codes = np.zeros((1, 0), dtype=np.int8)
    try:
        for li, layer in enumerate(layers):
            reporter.check()
            eps = _TOL * (np.abs(A) @ ext + np.abs(b))
            what = f"enumerating the regions of {net!r} (layer {li + 1}, {len(ccnt):,} cells)"
            X, cv, coff, ccnt, fcell, fcode, area, cen = _cut_layer(X, cv, coff, ccnt, A, b, eps, what)
            if np.any(area <= 0) or abs(float(area.sum()) - box) > 1e-9 * box:
                raise _GiveUp
            if max_regions is not None and len(ccnt) > max_regions:
                raise _GiveUp
            codes = np.concatenate([codes[fcell], fcode], axis=1)
            if li + 1 < len(layers):
                below, above = layer.activation.slopes
                D = np.where(fcode > 0, above, below)
                nxt = layers[li + 1]
                A = np.einsum("ij,fjd->fid", nxt.weight, D[:, :, None] * A[fcell])
                b = (D * b[fcell]) @ nxt.weight.T
                if nxt.bias is not None:
                    b += nxt.bias
    except _GiveUp:
        return None
    reporter(1.0, f"layer {len(layers)} of {len(layers)}")
    return dict(X=X, regions=(cv, coff, ccnt), codes=codes, centroids=cen)


def lean_tessellation_args(net, res, slices, origin, basis, lo, hi) -> dict:
    """The keyword arguments of :class:`RegionTessellation` (but ``seconds``) from
    :func:`lean_regions_2d`'s result ``res`` (``net``: the network on its own input)."""
    codes = res["codes"]
    X = res["X"]
    n = len(codes)
    g, o, lg, lo_ = affine_maps(net, codes, slices, basis, origin)
    info = {"cells": int(n), "vertices": int(len(X)), "degenerate_cells": 0,
            "origin": origin.tolist(), "basis": basis.tolist(), "bbox": [lo.tolist(), hi.tolist()]}
    return dict(dim=2, patterns=codes > 0, layer_slices=list(slices),
                groups=[layer.activation.group for layer in net.layers], gradients=g, offsets=o,
                local_gradients=lg, local_offsets=lo_, points=X, region_vertices=res["regions"],
                centroids=res["centroids"], breakpoints=None, cell_region=np.arange(n), cell_faces=None,
                origin=origin, basis=basis, lo=lo, hi=hi, info=info)
