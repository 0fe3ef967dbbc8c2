"""From the cut cell complex to the arrays of a :class:`~neuralpoly_core.regions.RegionTessellation`:
regions (cells merged by pattern where maxout ties over-cut), patterns, affine maps, faces."""

from __future__ import annotations

import numpy as np

from ..budget import check_memory
from ..errors import NeuralPolyError
from ..mesh.graph import sharing_pairs

__all__ = ["build", "affine_maps", "cell_faces", "face_lists", "inner_faces", "spans_plane"]

_MIXED = 2                       # see .exact
_FLAT = 1e-9                     # spans_plane: s[1] <= this * s[0] is one line
_CHUNK = 1 << 19                 # spans_plane: points per block


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


def _merge(cx, codes, key_cols, cvv, cnt, X):
    """Cells with equal codes (on ``key_cols``) are one region: the region of each cell (in
    order of first cell), each region's code row and its vertices (CSR): those on its
    boundary (:func:`_boundary_vertices`), so its corners and the neighbours' corners on its
    sides, not the points inside it where its cells meet."""
    _, first, inv = np.unique(codes[:, key_cols], axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    cell_region = rank[inv]
    R = len(first)
    rcodes = codes[np.sort(first)]
    nv = len(X)
    keys = np.unique(np.repeat(cell_region, cnt) * nv + cvv)
    ncell = np.bincount(cell_region, minlength=R)
    several = ncell[keys // nv] > 1
    if several.any():
        keep = ~several
        keep[several] = np.isin(keys[several], _boundary_vertices(cx, cell_region, ncell, X))
        keys = keys[keep]
    own, rv = keys // nv, keys % nv
    rcnt = np.bincount(own, minlength=R)
    return cell_region, rcodes, (rv, np.cumsum(rcnt) - rcnt, rcnt)


def _boundary_vertices(cx, cell_region, ncell, X) -> np.ndarray:
    """The vertices on the boundary of the regions made of several cells, as keys
    ``region * n_vertices + vertex``: the ends (1-D), else the vertices of the cells' faces
    (2-D: sides) that are not between two cells of one region (:func:`inner_faces`). The
    complex is conforming, so a point of a region's boundary that is a vertex of one of its
    cells is a vertex of a boundary face; the same set as the points on the boundary of the
    convex hull of the region's cell vertices, without a hull."""
    nv = len(X)
    cells = np.flatnonzero(ncell[cell_region] > 1)
    if cx.d == 1:
        vv, off, cnt = cx.cell_vertices(cells)
        reg = np.repeat(cell_region[cells], cnt)
        t = X[vv, 0]
        R = len(ncell)
        lo_, hi_ = np.full(R, np.inf), np.full(R, -np.inf)
        np.minimum.at(lo_, reg, t)
        np.maximum.at(hi_, reg, t)
        end = (t == lo_[reg]) | (t == hi_[reg])
        return np.unique(reg[end] * nv + vv[end])
    fcell, flabel, fv, fcnt = face_lists(cx, cells)
    inner = inner_faces(X, fv, fcnt, fcell, flabel, cell_region, 2 * cx.d)
    out = ~np.repeat(inner, fcnt)
    return np.unique(np.repeat(cell_region[fcell], fcnt)[out] * nv + fv[out])


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
        cell_region, rcodes, rvert = _merge(cx, codes, ~ident, cvv, cnt, X)
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


def face_lists(cx, cells):
    """The faces of the cells ``cells`` (2-D: their sides; a side is one face however many
    records it has), face by face: ``(cell of each face, its label, vertex ids, vertices per
    face)``, vertex ids ascending within a face, faces by cell, then label."""
    rec, ct = cx.cell_records(cells)
    L, nv = cx.n_labels, cx.X.n
    owner = np.repeat(np.asarray(cells, dtype=np.int64), ct)
    cols = (2,) if cx.d == 2 else (2, 3)
    keys = np.unique(np.concatenate([(owner * L + rec[:, c]) * nv + rec[:, e] for c in cols for e in (0, 1)]))
    fkey, v = keys // nv, keys % nv
    ufaces, finv = np.unique(fkey, return_inverse=True)
    return ufaces // L, ufaces % L, v, np.bincount(finv.ravel(), minlength=len(ufaces))


def cell_faces(cx, X, cen):
    """3-D: every cell's faces as polygons, outward and counter-clockwise: ``(vertices (V, 3),
    corners, face sizes, cell of each face, label of each face)``."""
    n = cx.n_cells
    check_memory(8 * 40 * cx.rec.n, f"the faces of {n:,} cells", "use a smaller box or network")
    fcell, flabel, v, fcnt = face_lists(cx, np.arange(n))
    finv = np.repeat(np.arange(len(fcnt)), fcnt)
    foff = np.cumsum(fcnt) - fcnt
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
    return X, v[order], fcnt, fcell, flabel


def inner_faces(X, corners, sizes, fcell, flabel, cell_region, n_box: int) -> np.ndarray:
    """Regions made of several cells (maxout): which faces (2-D: sides) lie inside their
    region, between two of its cells: a face in the same cut line or plane as a face of
    another cell of the region, sharing two vertices with it (2-D) or three not on one line
    (3-D). ``corners`` / ``sizes``: each face's vertex ids, face after face. Returns a bool
    per face."""
    d = X.shape[1]
    inner = np.zeros(len(sizes), dtype=bool)
    fr = cell_region[fcell]
    cells_in = np.bincount(cell_region)
    cand = np.nonzero((flabel >= n_box) & (cells_in[fr] > 1))[0]
    if len(cand) < 2:
        return inner
    st = np.cumsum(sizes) - sizes
    cnt = sizes[cand]
    idx = np.repeat(st[cand] - (np.cumsum(cnt) - cnt), cnt) + np.arange(int(cnt.sum()))
    if d == 3:
        i, j, shared, common = sharing_pairs(corners[idx], cnt, d, return_members=True)
    else:
        i, j, shared = sharing_pairs(corners[idx], cnt, d)
    a, b = cand[i], cand[j]
    ok = (flabel[a] == flabel[b]) & (fr[a] == fr[b]) & (fcell[a] != fcell[b])
    same = ok & (shared == sizes[a]) & (shared == sizes[b])        # the one face of two cells
    inner[a[same]] = inner[b[same]] = True
    if d == 2:                   # two common points of one line: a common segment
        inner[a[ok]] = inner[b[ok]] = True
        return inner
    rest = ok & ~same            # three common points not on one line: a common facet
    plane = spans_plane(X, common[np.repeat(rest, shared)], shared[rest])
    inner[a[rest][plane]] = inner[b[rest][plane]] = True
    return inner


def spans_plane(X, ids, counts) -> np.ndarray:
    """Whether each set of points spans a plane (not all on one line), (S,) bool.

    ``ids``: the sets' point ids (rows of ``X``, (n, 3)), set after set, each set's ascending;
    ``counts``: their sizes. A set spans a plane when ``s[1] > 1e-9 * s[0]``, ``s`` the
    singular values of its points less its first ``P - P[0]`` (what a per-set
    ``np.linalg.svd`` says, bit for bit: the undecided sets go through it).

    Notes
    -----
    With ``u_i = P_i - P_0`` (k rows, ``u_0 = 0``), ``u_f`` the longest (``m = |u_f|``) and
    ``r = max_i |u_i x u_f| / m^2``: ``m <= s[0] <= sqrt(k - 1) m``; every ``|u_i x u_f|`` is
    the product of the singular values of two rows, at most ``s[0] s[1]`` (interlacing), so
    ``s[1] / s[0] >= r / (k - 1)``; and ``s[1]^2 <= s[1]^2 + s[2]^2 <= sum_i (|u_i x u_f| / m)^2``
    (the distances to the line of ``u_f``, a rank-1 approximation), so
    ``s[1] / s[0] <= sqrt(k - 1) r``. Sets with ``r / (k - 1) > 2e-9`` span a plane, those
    with ``sqrt(k - 1) r < 5e-10`` do not (both rounding errors, of ``r`` and of the SVD, are
    about 1e-16 relative to ``m^2`` and ``s[0]``); the rest, and sets whose points coincide,
    are decided by the SVD, batched by size. Vectorised, in blocks of 2^19 points.
    """
    ids = np.asarray(ids, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    XT = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)
    out = np.zeros(len(counts), dtype=bool)
    ends = np.cumsum(counts)
    i = 0
    while i < len(counts):                       # blocks of sets with at most _CHUNK points (or one set)
        j = max(i + 1, int(np.searchsorted(ends, ends[i] - counts[i] + _CHUNK, side="right")))
        base = ends[i] - counts[i]
        out[i:j] = _spans_block(XT, ids[base:ends[j - 1]], counts[i:j])
        i = j
    return out


def _spans_block(XT, ids, k):
    """:func:`spans_plane` of one block; ``XT`` the points' coordinates as three rows."""
    ok = np.zeros(len(k), dtype=bool)
    use = k >= 2
    if not use.any():
        return ok
    if not use.all():
        ids, k = ids[np.repeat(use, k)], k[use]
    st = np.cumsum(k) - k
    U = []
    for col in XT:                               # P - P[0], as the SVD sees it, by coordinate
        v = col[ids]
        U.append(v - np.repeat(v[st], k))
    ux, uy, uz = U
    q = ux * ux + uy * uy + uz * uz
    m2 = np.maximum.reduceat(q, st)
    far = np.minimum.reduceat(np.where(q == np.repeat(m2, k), np.arange(len(q)), len(q)), st)
    fx, fy, fz = (np.repeat(u[far], k) for u in U)
    c2 = (uy * fz - uz * fy) ** 2 + (uz * fx - ux * fz) ** 2 + (ux * fy - uy * fx) ** 2
    cm = np.sqrt(np.maximum.reduceat(c2, st))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cm / m2
    km = (k - 1).astype(np.float64)
    plane = r > 2.0 * _FLAT * km
    line = r * np.sqrt(km) < 0.5 * _FLAT
    res = plane.copy()
    open_ = ~(plane | line)
    for n in np.unique(k[open_]).tolist():       # undecided (or coincident points): the SVD
        w = np.flatnonzero(open_ & (k == n))
        rows = (st[w][:, None] + np.arange(n)).ravel()
        A = np.stack([u[rows] for u in U], axis=1).reshape(len(w), n, 3)
        s = np.linalg.svd(A, compute_uv=False)
        res[w] = s[:, 1] > _FLAT * np.maximum(s[:, 0], 1e-300)
    ok[use] = res
    return ok
