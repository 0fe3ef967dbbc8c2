"""From the cut cell complex to the arrays of a :class:`~neuralpoly_core.regions.RegionTessellation`:
regions (cells merged by pattern where maxout ties over-cut), patterns, affine maps, faces."""

from __future__ import annotations

import numpy as np

from ..budget import check_memory
from ..errors import NeuralPolyError

__all__ = ["build", "affine_maps", "cell_faces", "inner_faces"]

_MIXED = 2                       # see .exact


def _column_kinds(net, slices):
    """Per hidden-unit column: (kinked, maxout, identity) masks."""
    n = slices[-1].stop
    kinked, maxout, ident = (np.zeros(n, dtype=bool) for _ in range(3))
    for layer, sl in zip(net.layers, slices):
        act = layer.activation
        (maxout if act.group > 1 else kinked if act.kinked else ident)[sl] = True
    return kinked, maxout, ident


def _centroids(X, vv, off, cnt):
    return np.add.reduceat(X[vv], off, axis=0) / cnt[:, None] if len(off) else np.zeros((0, X.shape[1]))


def _record_centroids(cx, X):
    """Per cell, the average of its edge records' ends (each vertex once per edge it ends; no
    sort): a point inside the cell, in 2-D its vertex centroid."""
    R, ct = cx.cell_records(np.arange(cx.n_cells))
    off = np.cumsum(ct) - ct
    return (np.add.reduceat(X[R[:, 0]], off, axis=0) + np.add.reduceat(X[R[:, 1]], off, axis=0)) / (2 * ct[:, None])


def _merge(codes, key_cols, cvv, cnt, X):
    """Cells with equal codes (on ``key_cols``) are one region: the region of each cell (in
    order of first cell), each region's code row and its vertices (CSR), corners only."""
    _, first, inv = np.unique(codes[:, key_cols], axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    cell_region = rank[inv]
    R = len(first)
    rcodes = codes[np.sort(first)]
    nv = len(X)
    keys = np.unique(np.repeat(cell_region, cnt) * nv + cvv)
    own, rv = keys // nv, keys % nv
    ncell = np.bincount(cell_region, minlength=R)
    keep = np.ones(len(rv), dtype=bool)
    starts = np.searchsorted(own, np.arange(R))
    ends = np.searchsorted(own, np.arange(R), side="right")
    for r in np.nonzero(ncell > 1)[0]:
        keep[starts[r]:ends[r]] = _on_hull(X[rv[starts[r]:ends[r]]])
    own, rv = own[keep], rv[keep]
    rcnt = np.bincount(own, minlength=R)
    return cell_region, rcodes, (rv, np.cumsum(rcnt) - rcnt, rcnt)


def _on_hull(P):
    """Which points of ``P`` lie on the boundary of their convex hull (1-D: the two ends)."""
    if P.shape[1] == 1:
        return (P[:, 0] == P[:, 0].min()) | (P[:, 0] == P[:, 0].max())
    from scipy.spatial import ConvexHull
    eq = ConvexHull(P).equations
    dist = np.abs(P @ eq[:, :-1].T + eq[:, -1]).min(axis=1)
    return dist <= 1e-9 * max(float(np.abs(P).max()), 1e-300)


def affine_maps(net, codes, slices, basis, origin):
    """``f``'s gradient and offset on each region from its pattern codes, by back-propagating
    the head's first row through the layers (exact): ``(gradients (R, n_in), offsets,
    local_gradients (R, k), local_offsets)``."""
    R = len(codes)
    out = net.output
    last = net.layers[-1].width
    if out.name == "sum":
        v, o = np.ones((R, last)), np.zeros(R)
    else:
        v = np.repeat(out.weight[:1], R, axis=0)
        o = np.full(R, 0.0 if out.bias is None else float(out.bias[0]))
    g = np.zeros((R, net.dim))
    for li in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[li]
        act = layer.activation
        c = codes[:, slices[li]]
        if act.group > 1:
            vz = np.zeros((R, layer.rows))
            np.put_along_axis(vz, np.arange(layer.width)[None, :] * act.group + c.astype(np.int64), v, axis=1)
        elif act.slopes == (0.0, 1.0):
            vz = v * (c > 0)
        elif act.slopes == (1.0, 1.0):
            vz = v
        else:
            below, above = act.slopes
            vz = v * np.where(c > 0, above, below)
        if layer.bias is not None:
            o = o + vz @ layer.bias
        if li:
            v = vz @ layer.weight
        else:
            g = vz @ layer.weight
    return g, o, g @ basis.T, o + g @ origin


def build(net, cx, codes, slices, origin, basis, lo, hi, max_regions=None) -> dict:
    """The keyword arguments of :class:`RegionTessellation` (but ``seconds``)."""
    n = cx.n_cells
    X = cx.points.copy()
    codes = np.asarray(codes, dtype=np.int16)        # changed in place: pattern_codes() makes a fresh one
    kinked, maxout, ident = _column_kinds(net, slices)
    cen = _record_centroids(cx, X)
    mixed = (codes == _MIXED) & kinked[None, :]
    if mixed.any():                              # cells left uncut: the sign at the centroid
        rows = np.nonzero(mixed.any(axis=1))[0]
        z = np.concatenate(net.preactivations(origin + cen[rows] @ basis), axis=1)
        codes[rows] = np.where(mixed[rows], np.sign(z).astype(codes.dtype), codes[rows])
    if maxout.any():
        cvv, off, cnt = cx.cell_vertices(np.arange(n))
        cell_region, rcodes, rvert = _merge(codes, ~ident, cvv, cnt, X)
        rcen = _centroids(X, *rvert)
    else:
        cell_region, rcodes, rcen = np.arange(n), codes, cen
        rvert = cx.cell_vertices                       # regions are cells: their lists on demand
    R = len(rcodes)
    if max_regions is not None and R > max_regions:
        raise NeuralPolyError(f"the network has {R:,} regions in the box, more than max_regions = {max_regions:,}")
    if ident.any():
        z = np.concatenate(net.preactivations(origin + rcen @ basis), axis=1)
        rcodes[:, ident] = z[:, ident] > 0
    if maxout.any():
        patterns = np.where(kinked[None, :], rcodes > 0, rcodes).astype(np.int16)
    else:
        patterns = rcodes > 0
    g, o, lg, lo_ = affine_maps(net, rcodes, slices, basis, origin)
    breakpoints = None
    if cx.d == 1:
        t = np.unique(X[rvert[0], 0] if maxout.any() else X[:, 0])
        breakpoints = t[(t > lo[0]) & (t < hi[0])]
    info = {"cells": int(n), "vertices": int(len(X)), "degenerate_cells": int(cx.degenerate),
            "origin": origin.tolist(), "basis": basis.tolist(),
            "bbox": [lo.tolist(), hi.tolist()]}
    return dict(dim=cx.d, patterns=patterns, layer_slices=list(slices),
                groups=[layer.activation.group for layer in net.layers], gradients=g, offsets=o,
                local_gradients=lg, local_offsets=lo_, points=X, region_vertices=rvert, centroids=rcen,
                breakpoints=breakpoints, cell_region=cell_region,
                cell_faces=(lambda: cell_faces(cx, X, cen)) if cx.d == 3 else None,
                origin=origin, basis=basis, lo=lo, hi=hi, info=info)


def cell_faces(cx, X, cen):
    """3-D: every cell's faces as polygons, outward and counter-clockwise: ``(vertices (V, 3),
    corners, face sizes, cell of each face)``."""
    n = cx.n_cells
    check_memory(8 * 40 * cx.rec.n, f"the faces of {n:,} cells", "use a smaller box or network")
    rec, ct = cx.cell_records(np.arange(n))
    L, nv = cx.n_labels, len(X)
    owner = np.repeat(np.arange(n, dtype=np.int64), ct)
    f1, f2 = owner * L + rec[:, 2], owner * L + rec[:, 3]
    keys = np.unique(np.concatenate([f1 * nv + rec[:, 0], f1 * nv + rec[:, 1],
                                     f2 * nv + rec[:, 0], f2 * nv + rec[:, 1]]))
    fkey, v = keys // nv, keys % nv
    ufaces, finv = np.unique(fkey, return_inverse=True)
    fcnt = np.bincount(finv)
    foff = np.cumsum(fcnt) - fcnt
    fcell = ufaces // L
    cf = np.add.reduceat(X[v], foff, axis=0) / fcnt[:, None]
    e = X[v] - cf[finv]
    e1 = e[foff]
    cr = np.cross(e1[finv], e)
    nr = np.einsum("ij,ij->i", cr, cr)
    hit = np.flatnonzero(nr == np.maximum.reduceat(nr, foff)[finv])      # the largest cross product
    best = hit[np.searchsorted(finv[hit], np.arange(len(fcnt)))]
    normal = cr[best]
    flip = np.einsum("ij,ij->i", normal, cf - cen[fcell]) < 0
    normal[flip] *= -1
    e2 = np.cross(normal, e1)
    ang = np.arctan2(np.einsum("ij,ij->i", e, e2[finv]), np.einsum("ij,ij->i", e, e1[finv]))
    rank = np.empty(len(ang), dtype=np.int64)
    rank[np.argsort(ang)] = np.arange(len(ang))
    order = np.argsort(finv * len(ang) + rank)       # by face, then by angle (exact, one int sort)
    return X, v[order], fcnt, fcell, ufaces % L


def inner_faces(X, corners, sizes, fcell, flabel, cell_region, n_box: int) -> np.ndarray:
    """3-D, regions made of several cells (maxout): which faces lie inside their region, between
    two of its cells (a face in the same cut plane of another cell of the region, sharing three
    vertices not on one line with it). Returns a bool per face."""
    from scipy import sparse
    inner = np.zeros(len(sizes), dtype=bool)
    fr = cell_region[fcell]
    cells_in = np.bincount(cell_region)
    cand = np.nonzero((flabel >= n_box) & (cells_in[fr] > 1))[0]
    if len(cand) < 2:
        return inner
    st = np.cumsum(sizes) - sizes
    cnt = sizes[cand]
    idx = np.repeat(st[cand] - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
    own = np.repeat(np.arange(len(cand)), cnt)
    M = sparse.csr_matrix((np.ones(len(own), dtype=np.int32), (own, corners[idx])), shape=(len(cand), len(X)))
    S = sparse.triu(M @ M.T, k=1).tocoo()
    a, b = cand[S.row], cand[S.col]
    ok = (S.data >= 3) & (flabel[a] == flabel[b]) & (fr[a] == fr[b]) & (fcell[a] != fcell[b])
    for i, j in zip(a[ok].tolist(), b[ok].tolist()):
        shared = np.intersect1d(corners[st[i]:st[i] + sizes[i]], corners[st[j]:st[j] + sizes[j]])
        P = X[shared] - X[shared[0]]
        sv = np.linalg.svd(P, compute_uv=False)
        if len(sv) > 1 and sv[1] > 1e-9 * max(sv[0], 1e-300):
            inner[i] = inner[j] = True
    return inner
