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
face's side. A vertex lies on the faces whose signs are its own with the lines through it (none,
one or two) taken either way: 1, 2 or 4 faces, found by a hash of (cell, signs), every match
checked. A face is drawn counter-clockwise around its vertex centroid. Cells that no line of
the layer crosses pass through unchanged.

This needs general position. It gives up (returns None, and the caller cuts the box unit by unit
with the cell complex and its tolerance policy, :mod:`.exact`) as soon as a unit's value at a
vertex is within ``_TOL`` of its scale (a line through or near a vertex: duplicate, parallel or
dead units, concurrent lines), when the signs of two lines disagree about where they cross, a
face has fewer than three vertices, the faces' areas do not add up to the box's, a layer is
wider than 64 units or not ``relu`` / ``|x|``, more than ``max_regions`` cells are made, or
two (cell, signs) of faces hash alike.
"""

from __future__ import annotations

import numpy as np

from ..budget import check_memory, memory_budget
from ..levelset.arrays import ranges
from ..levelset.exact import single_threaded_blas
from .tessellation_build import affine_maps

__all__ = ["canonical_order", "lean_regions_2d", "lean_tessellation_args", "tiles_box"]

_TOL = 1e-9                      # relative to |A| |y|max + |b| of the unit on the cell
_UP = np.array([0.3826834323650898, 0.9238795325112867, 0.0])     # generic "up" (22.5 degrees off y)
_MAX_WIDTH = 64                  # a vertex's signs in one 64-bit word
_BLAS_CELLS = 2000               # from this many cells on, BLAS runs single-threaded (as in .exact)
_MIX = np.uint64(0x9E3779B97F4A7C15)      # hashes (cell, signs) of faces
_ONE_SORT = 1 << 16              # up to this many faces, 8 face + angle is one float key (to 1e-10)


class _GiveUp(Exception):
    """Not in general position (or over a limit): the caller takes the cell complex."""


_POW2 = np.left_shift(np.uint64(1), np.arange(_MAX_WIDTH, dtype=np.uint64))


def _bits(mask: np.ndarray) -> np.ndarray:
    """(k, w) bool, w <= 64 -> (k,) uint64, bit j of row i set where ``mask[i, j]``."""
    return mask.astype(np.uint64) @ _POW2[:mask.shape[1]]   # uint64 products wrap: no carries


def _values(M, cell, P):
    """The units' values (k, w) at points ``P`` (k, 3: x, y, 1) of cells ``cell`` (``M``
    (n, 3, w): each cell's two gradient components and offset of every unit)."""
    return np.einsum("kd,kdw->kw", P, M[cell])


def _on_lines(Z, eps, rows, lines):
    """Set the values of the lines through the points to 0; give up where any other value is
    within ``eps`` of zero (the points' own values are round-off)."""
    if np.count_nonzero(np.abs(Z) <= eps) != lines.size:
        raise _GiveUp
    Z[rows, lines] = 0.0


def _cut_cells(X, cv, coff, ccnt, nxt, M, eps):
    """One layer's arrangements in every cell: the vertices (cell, id, values with exact zeros
    on the lines through them; new coordinates appended to ``X``) and the faces (cell, values
    of their lowest vertex, the lines through it signed by the face's side)."""
    n, w = len(ccnt), M.shape[2]
    cidx = np.repeat(np.arange(n), ccnt)
    own = np.empty(len(X), dtype=np.int64)
    own[cv] = cidx                  # one cell of each vertex: all agree there up to round-off
    Zv = _values(M, own, X)
    if np.any(np.abs(Zv) <= eps[own]):
        raise _GiveUp
    Zc = Zv[cv]
    S = Zc > 0
    ek, ej = np.nonzero(S != S[nxt])
    u, v = cv[ek], cv[nxt[ek]]
    key = (np.minimum(u, v) * len(X) + np.maximum(u, v)) * w + ej
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    za, zb = Zc[ek, ej], Zc[nxt[ek], ej]
    Pu = X[u]
    P = Pu + (za / (za - zb))[:, None] * (X[v] - Pu)
    nb = len(first)
    ids = (len(X) + np.arange(nb))[inv]
    Pb = P[first]
    P = Pb[inv]                                        # one point per edge and unit
    # segments: the two boundary points of each line on each cell it crosses
    cc = cidx[ek]
    g = cc * w + ej
    order = np.argsort(g, kind="stable")
    o1, o2 = order[0::2], order[1::2]
    if len(order) % 2 or np.any(g[o1] != g[o2]):
        raise _GiveUp
    sc, sj = cc[o1], ej[o1]
    m = len(sc)
    e2 = np.concatenate([o1, o2])                      # end 0 of every segment, then end 1
    ec, ej2 = np.concatenate([sc, sc]), np.concatenate([sj, sj])
    eP = P[e2]
    Ze = _values(M, ec, eP)
    _on_lines(Ze, eps[ec], np.arange(2 * m), ej2)
    # inner crossings: line t separates the two ends of line s (and s those of t)
    scnt = np.bincount(sc, minlength=n)
    after = scnt[sc] - (np.arange(m) - (np.cumsum(scnt) - scnt)[sc]) - 1
    s = np.repeat(np.arange(m), after)
    t = ranges(np.arange(m) + 1, after)
    z1, z2 = Ze[s, sj[t]], Ze[m + s, sj[t]]            # line t at the ends of s
    y1, y2 = Ze[t, sj[s]], Ze[m + t, sj[s]]            # line s at the ends of t
    cross = (z1 > 0) != (z2 > 0)
    if np.any(cross != ((y1 > 0) != (y2 > 0))):
        raise _GiveUp
    s, t, z1, z2, y1, y2 = s[cross], t[cross], z1[cross], z2[cross], y1[cross], y2[cross]
    P1, P2 = eP[s], eP[m + s]
    Pp = P1 + (z1 / (z1 - z2))[:, None] * (P2 - P1)
    pc = sc[s]
    Zp = _values(M, pc, Pp)
    k = len(s)
    _on_lines(Zp, eps[pc], np.arange(k)[:, None], np.stack([sj[s], sj[t]], axis=1))
    Xn = np.concatenate([X, Pb, Pp], axis=0)
    pid = len(X) + nb + np.arange(k)
    # faces, by their lowest vertex; only the crossed cells
    h = X @ _UP
    xc = np.zeros(n, dtype=bool)
    xc[sc] = True
    ci = np.nonzero(xc[cidx])[0]
    xcnt = ccnt[xc]
    low = ci[np.lexsort((h[cv[ci]], cidx[ci]))[np.cumsum(xcnt) - xcnt]]
    # a unit's change along a direction is read from its values at two points on it
    flip = np.where((eP[m:] - eP[:m]) @ _UP < 0, -1.0, 1.0)    # -1: end 1 is the lower end
    lo_e = np.where(flip < 0, m + np.arange(m), np.arange(m))
    fb = Ze[lo_e]
    rise = (zb - za) * (h[v] - h[u])                   # > 0: the unit grows up the edge
    fb[np.arange(m), sj] = np.where(rise[e2[lo_e]] > 0, 1.0, -1.0)
    fp = Zp.copy()
    fp[np.arange(k), sj[s]] = np.where((y2 - y1) * flip[t] > 0, 1.0, -1.0)
    fp[np.arange(k), sj[t]] = np.where((z2 - z1) * flip[s] > 0, 1.0, -1.0)
    fcell = np.concatenate([cidx[low], sc, pc])
    fZ = np.concatenate([Zc[low], fb, fp])
    # each vertex's faces: its signs, the lines through it either way (1, 2 or 4 faces)
    bit = _POW2[:w]
    base = [_bits(Zc[ci] > 0), _bits(Ze > 0), _bits(Zp > 0)]
    bs, bt = bit[sj[s]], bit[sj[t]]
    vkey = np.concatenate([base[0], base[1], base[1] | bit[ej2], base[2], base[2] | bs, base[2] | bt,
                           base[2] | bs | bt])
    vcell = np.concatenate([cidx[ci], ec, ec, pc, pc, pc, pc])
    vid = np.concatenate([cv[ci], ids[e2], ids[e2], pid, pid, pid, pid])
    return Xn, (vcell, vkey, vid), fcell, fZ > 0, xc, S[coff]


def _polygons(X, face, vid, nf):
    """Each face's vertices counter-clockwise around their centroid (ids, counts), the areas
    and the centroids (``face``: each vertex's face, in any order)."""
    cnt = np.bincount(face, minlength=nf)
    if nf and cnt.min() < 3:
        raise _GiveUp
    P = X[vid, :2]
    cen = np.empty((nf, 2))
    cen[:, 0] = np.bincount(face, P[:, 0], nf)
    cen[:, 1] = np.bincount(face, P[:, 1], nf)
    cen /= cnt[:, None]
    d = P - cen[face]
    if nf <= _ONE_SORT:              # one sort: 8 x the face + the angle in [-pi, pi]
        key = np.arctan2(d[:, 1], d[:, 0])
        key += 8.0 * face
        order = np.argsort(key)
        ks = key[order]
        if (ks[1:] == ks[:-1]).any():          # an angle the key cannot resolve
            raise _GiveUp
    else:
        order = np.lexsort((np.arctan2(d[:, 1], d[:, 0]), face))
    vid, d = vid[order], d[order]        # the shoelace about the centroid: a box far out keeps its digits
    off = np.cumsum(cnt) - cnt
    nxt = np.arange(1, len(vid) + 1)
    nxt[off + cnt - 1] = off
    area = 0.5 * np.bincount(face[order], d[:, 0] * d[nxt, 1] - d[nxt, 0] * d[:, 1], nf)
    return vid, cnt, area, cen


def _cut_layer(X, cells, M, eps, budget, what):
    """One layer: new vertices, the new cells (cycles: the cells no line crosses, then the
    faces of the others), each one's parent, its units' signs, area and centroid."""
    cv, coff, ccnt, nxt, carea, ccen = cells
    Xn, (vcell, vkey, vid), fcell, fpos, xc, first_signs = _cut_cells(X, cv, coff, ccnt, nxt, M, eps)
    nf = len(fcell)
    nbytes = 8 * 8 * len(vid) + 8 * (3 * M.shape[2] + 8) * nf
    if nbytes > budget:
        check_memory(nbytes, what(), "use a smaller box, a smaller network or max_regions")
    # the face of each (vertex, signs): by a hash of (cell, signs), every match checked
    fkey = _bits(fpos)
    fh = fkey ^ (fcell.astype(np.uint64) * _MIX)
    order = np.argsort(fh)
    fh = fh[order]
    if nf > 1 and np.any(fh[1:] == fh[:-1]):
        raise _GiveUp
    vh = vkey ^ (vcell.astype(np.uint64) * _MIX)
    at = np.minimum(np.searchsorted(fh, vh), nf - 1)
    face = order[at]
    if np.any(fh[at] != vh) or np.any(fcell[face] != vcell) or np.any(fkey[face] != vkey):
        raise _GiveUp
    fv, fcnt, area, cen = _polygons(Xn, face, vid, nf)
    keep = np.nonzero(~xc)[0]
    kv = cv[ranges(coff[keep], ccnt[keep])]
    cnt = np.concatenate([ccnt[keep], fcnt])
    off = np.cumsum(cnt) - cnt
    nxt = np.arange(len(kv) + len(fv)) + 1
    nxt[off + cnt - 1] = off
    new = (np.concatenate([kv, fv]), off, cnt, nxt, np.concatenate([carea[keep], area]),
           np.concatenate([ccen[keep], cen]))
    return Xn, new, np.concatenate([keep, fcell]), np.concatenate([first_signs[keep], fpos]), area


def tiles_box(areas: np.ndarray, box: float, ext) -> bool:
    """Whether polygons of ``areas`` can tile a box of area ``box``: all positive, and adding up
    to it within rounding (1e-9 of the box, plus each polygon's corners rounded to a few ulps
    of the box's largest coordinates ``ext``, what dominates for a small box far from the
    origin). A missing or overlapping polygon is off by its whole area, far above this."""
    slack = 1e-9 * box + 8.0 * np.finfo(float).eps * float(np.max(ext)) * float(np.sqrt(box)) * len(areas)
    return bool(np.all(areas > 0)) and abs(float(areas.sum()) - box) <= slack


def lean_regions_2d(net, lo, hi, reporter, max_regions=None, stack=None) -> dict | None:
    """The arrays of :func:`~neuralpoly_core.regions.tessellation_build.build` for a 2-D
    network of ``relu`` / ``|x|`` layers in general position (module docstring), or None.
    ``stack`` (a :class:`contextlib.ExitStack`): where BLAS is limited to one thread once the
    cells are many (left so until the stack closes)."""
    layers = net.layers
    if net.dim != 2 or any(l.activation.group != 1 or not l.activation.kinked or l.width > _MAX_WIDTH
                           for l in layers):
        return None
    ext = np.maximum(np.abs(lo), np.abs(hi))
    X = np.array([[lo[0], lo[1], 1.0], [hi[0], lo[1], 1.0], [hi[0], hi[1], 1.0], [lo[0], hi[1], 1.0]])
    box = float(np.prod(hi - lo))
    cells = (np.arange(4), np.zeros(1, dtype=np.int64), np.array([4]), np.array([1, 2, 3, 0]),
             np.array([box]), (0.5 * (lo + hi))[None, :])
    first = layers[0]
    M = np.zeros((1, 3, first.width))                  # x, y, 1 (homogeneous points) -> units
    M[0, :2] = first.weight.T
    if first.bias is not None:
        M[0, 2] = first.bias
    budget = memory_budget()
    return _layers(net, layers, X, cells, M, np.array([ext[0], ext[1], 1.0]), box, budget, reporter,
                   max_regions, stack)


def _layers(net, layers, X, cells, M, ext, box, budget, reporter, max_regions, stack):
    """The loop of :func:`lean_regions_2d` (``stack``: for the BLAS limit once cells are many)."""
    codes = np.zeros((1, 0), dtype=bool)
    limited = stack is None
    try:
        for li, layer in enumerate(layers):
            if not limited and len(cells[2]) >= _BLAS_CELLS:     # the limit costs ~1 ms to set
                stack.enter_context(single_threaded_blas())
                limited = True
            reporter.check()
            eps = _TOL * np.einsum("d,ndw->nw", ext, np.abs(M))
            what = lambda n=len(cells[2]), li=li: f"enumerating the regions of {net!r} (layer {li + 1}, {n:,} cells)"
            X, cells, fcell, on, area = _cut_layer(X, cells, M, eps, budget, what)
            if not tiles_box(cells[4], box, ext[:2]):          # the kept cells' areas were checked before
                raise _GiveUp
            if max_regions is not None and len(fcell) > max_regions:
                raise _GiveUp
            codes = np.concatenate([codes[fcell], on], axis=1)
            if li + 1 < len(layers):
                below, above = layer.activation.slopes
                D = np.where(on, above, below)
                nxt = layers[li + 1]
                Wt = nxt.weight.T
                Mc = M[fcell]
                Mc *= D[:, None, :]
                M = (Mc.reshape(-1, Mc.shape[2]) @ Wt).reshape(len(fcell), 3, -1)
                if nxt.bias is not None:
                    M[:, 2] += nxt.bias
    except _GiveUp:
        return None
    reporter(1.0, f"layer {len(layers)} of {len(layers)}")
    return dict(X=np.ascontiguousarray(X[:, :2]), regions=cells[:3], codes=codes, centroids=cells[5])


def canonical_order(res) -> dict:
    """A 2-D fast path's result ``res`` (of :func:`lean_regions_2d` or of
    :func:`.compiled2d.compiled_regions_2d`) in an order of its own, whichever path made it:
    the vertices by ``x`` then ``y`` (in steps of 2^-32 of the box, so that the two paths'
    rounding does not reorder a column of vertices), the regions by their patterns (read as
    binary numbers, the first unit the lowest bit), each polygon from its vertex first in that
    order."""
    X, (cv, coff, cnt), codes = res["X"], res["regions"], res["codes"]
    n, nv = len(cnt), len(X)
    if n == 0:
        return res
    if codes.shape[1] <= _MAX_WIDTH:
        order = np.argsort(_bits(codes))
    else:
        order = np.lexsort(np.packbits(codes, axis=1, bitorder="little").T)
    lo, hi = X.min(axis=0), X.max(axis=0)             # the box's corners, exact in either path
    q = np.floor((X - lo) * (2.0 ** 32 / (hi - lo)))    # rounding apart, both paths agree
    rank = np.lexsort((q[:, 1], q[:, 0]))
    new_id = np.empty(nv, dtype=np.int64)
    new_id[rank] = np.arange(nv)
    cnt = cnt[order]
    off = np.cumsum(cnt) - cnt
    cv = new_id[cv[ranges(coff[order], cnt)]]
    own = np.repeat(np.arange(n), cnt)
    low = np.argsort(own * nv + cv)[off]                # each polygon's first vertex
    pos = np.arange(len(cv)) - off[own]
    cv = cv[off[own] + (pos + (low - off)[own]) % cnt[own]]
    return dict(X=X[rank], regions=(cv, off, cnt), codes=codes[order], centroids=res["centroids"][order])


def lean_tessellation_args(net, res, slices, origin, basis, lo, hi, cutting) -> dict:
    """The keyword arguments of :class:`RegionTessellation` (but ``seconds``) from a 2-D fast
    path's result ``res`` (``net``: the network on its own input), in :func:`canonical_order`;
    ``cutting``: which path made it (``info["cutting"]``)."""
    res = canonical_order(res)
    codes = res["codes"]                   # bool: the unit is positive on the region
    X = res["X"]
    n = len(codes)
    g, o, lg, lo_ = affine_maps(net, codes, slices, basis, origin)
    info = {"cells": int(n), "vertices": int(len(X)), "degenerate_cells": 0,
            "origin": origin.tolist(), "basis": basis.tolist(), "bbox": [lo.tolist(), hi.tolist()],
            "cutting": cutting}
    return dict(dim=2, patterns=codes > 0, layer_slices=list(slices),
                groups=[layer.activation.group for layer in net.layers], gradients=g, offsets=o,
                local_gradients=lg, local_offsets=lo_, points=X, region_vertices=res["regions"],
                centroids=res["centroids"], breakpoints=None, cell_region=np.arange(n), cell_faces=None,
                origin=origin, basis=basis, lo=lo, hi=hi, info=info)
