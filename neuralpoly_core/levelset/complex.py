"""The cell complex of a box cut by functions that are affine on every cell (1-D, 2-D, 3-D).

A :class:`CellComplex` starts as a box ``[lo, hi]``: one convex cell. Each call of
:meth:`CellComplex.cut` cuts cells by one function given by its values at the vertices (a
neuron's pre-activation: affine on every cell that the earlier neurons made), so that afterwards
it has one sign on every cell. Cut by every neuron of a ReLU/|x| network, layer by layer, the
cells are its linear regions in the box. The exact level-set extractor
(:mod:`neuralpoly_core.levelset.exact`) is built on it; nothing here knows about level sets.

Cells and edge records
----------------------
A cell is stored as its edges, each an *edge record* ``(a, b, f1, f2)``: two global vertex ids
(``a < b``) and the labels of the two faces of the cell that meet along the edge. Labels
``0 .. 2d-1`` are the box sides (``2 * axis`` at ``lo``, ``2 * axis + 1`` at ``hi``), label
``2d + k`` the zero set of the function of plane ``k`` (the ``plane`` argument of ``cut``).
In 2-D a cell is a polygon and a record ``(a, b, f, -1)`` an edge on the line ``f``; in 1-D a
cell is a segment, one record ``(a, b, -1, -1)``. The records of a cell are contiguous
(``cells[i] = (start, count)`` into the records) and every edge is one vertex pair shared by
all cells that contain it, so the complex stays conforming.

A cut is vectorised over all cells it crosses: crossing edges get one new vertex each (shared by
every cell that contains the edge), every cut face gets a *chord* between its two zero points,
and the cross-section closes the two child cells. The parent keeps the positive child; the
negative child is appended as a new cell. Values carried along (:class:`GrowCols`, one column
per vertex: the pre-activations of the neurons still to cut) are interpolated at new vertices
exactly, since they are affine on the cell too.

How a cut decides its signs (the zero test, the consistency of each crossed cell and the
near-tie re-signing) is in :mod:`neuralpoly_core.levelset.cuts`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExtractionError
from .arrays import Grow, GrowCols, ranges
from .cuts import Cut, analyse_cut, near_tie_bands, strict_signs

__all__ = ["TOLERANCE", "CellComplex", "Cut", "GrowCols"]

#: Relative tolerance of the zero test (see :mod:`neuralpoly_core.levelset.cuts`).
TOLERANCE = 1e-12


class CellComplex:
    """The cells of a box cut by functions that are affine on every cell.

    Parameters
    ----------
    lo, hi : (d,) arrays
        The box (d = 1, 2 or 3, every ``hi`` above its ``lo``).
    max_cuts : int
        How many functions (planes ``0 .. max_cuts - 1``) may cut it.
    tolerance : float
        Relative tolerance of the zero test (see :mod:`neuralpoly_core.levelset.cuts`).

    Attributes
    ----------
    d : int
        The dimension.
    nb, n_labels : int
        Face labels: ``0 .. nb - 1`` (``nb = 2d``) the box sides, then one per plane, ``n_labels``
        in all (see the module docstring).
    X : Grow
        Vertex coordinates, ``X.view`` (n_vertices, d).
    rec : Grow
        Edge records ``(a, b, f1, f2)``, ``rec.view`` (n_records, 4), each cell's contiguous.
    cells : Grow
        ``(start, count)`` of each cell's records, ``cells.view`` (n_cells, 2).
    alive : Grow
        (n_cells, 1) bool: cells not dropped (:meth:`drop`) since the last :meth:`compact`.
    degenerate : int
        Cells left uncut because their signs stayed inconsistent (see
        :mod:`neuralpoly_core.levelset.cuts`).
    cells_max : int
        Most cells held at once.
    """

    def __init__(self, lo, hi, max_cuts: int, tolerance: float = TOLERANCE):
        self.lo = np.asarray(lo, dtype=np.float64)
        self.hi = np.asarray(hi, dtype=np.float64)
        self.d = len(self.lo)
        if self.d not in (1, 2, 3):
            raise ExtractionError(f"a cell complex is 1-, 2- or 3-dimensional, got {self.d} axes")
        self.tol = float(tolerance)
        self.nb = 2 * self.d                      # box side labels 0 .. 2d-1
        self.n_labels = self.nb + int(max_cuts)
        self.degenerate = 0
        self.cells_max = 1
        self.X = Grow(self.d, np.float64)
        self.rec = Grow(4, np.int64)
        self.cells = Grow(2, np.int64)
        self.alive = Grow(1, bool)
        self._init_box()

    def _init_box(self):
        d = self.d
        nvert = 1 << d
        bits = (np.arange(nvert)[:, None] >> np.arange(d)[None, :]) & 1
        X = np.where(bits == 1, self.hi[None, :], self.lo[None, :])
        recs = []
        for v in range(nvert):
            for ax in range(d):
                if bits[v, ax] == 0:
                    w = v | (1 << ax)
                    others = [2 * b + bits[v, b] for b in range(d) if b != ax]
                    if d == 3:
                        recs.append((v, w, min(others), max(others)))
                    else:
                        recs.append((v, w, others[0] if others else -1, -1))
        self.X.extend(X)
        self.rec.extend(np.asarray(recs, dtype=np.int64))
        self.cells.extend(np.array([[0, len(recs)]], dtype=np.int64))
        self.alive.extend(np.ones((1, 1), dtype=bool))

    # -- reading -------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        """Cells held (dropped ones included until :meth:`compact`)."""
        return self.cells.n

    @property
    def points(self) -> np.ndarray:
        """Vertex coordinates (n_vertices, d)."""
        return self.X.view

    def live_cells(self) -> np.ndarray:
        """The cells not dropped since the last :meth:`compact` (ids, ascending)."""
        return np.nonzero(self.alive.view[:, 0])[0]

    def cell_records(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The records of the cells ``sel``, cell by cell, and how many each cell has."""
        cells = self.cells.view
        st, ct = cells[sel, 0], cells[sel, 1]
        return self.rec.view[ranges(st, ct)], ct

    def cell_vertices(self, sel: np.ndarray):
        """Distinct vertices of each selected cell: (vertex ids, offsets, counts), cell by cell."""
        R, ct = self.cell_records(sel)
        n = len(sel)
        nv = self.X.n
        lc = np.repeat(np.arange(n, dtype=np.int64), ct)
        keys = np.unique(np.concatenate([lc * nv + R[:, 0], lc * nv + R[:, 1]]))
        cnt = np.bincount(keys // nv, minlength=n)
        return keys % nv, np.cumsum(cnt) - cnt, cnt

    def value_ranges(self, V: np.ndarray, cvv, off, *, map=map, workers: int = 1):
        """Per-cell min and max of the rows of ``V`` (shape (k, n_vertices)) over the cells'
        vertices ``cvv``/``off`` (from :meth:`cell_vertices`); rows are split in ``workers``
        parts for ``map`` (a thread pool's)."""
        k = V.shape[0]
        n = len(off)
        mn = np.empty((n, k))
        mx = np.empty((n, k))

        def rows(js):
            for j in js:
                col = V[j][cvv]
                mn[:, j] = np.minimum.reduceat(col, off)
                mx[:, j] = np.maximum.reduceat(col, off)

        list(map(rows, np.array_split(np.arange(k), max(1, min(workers, k)))))
        return mn, mx

    def cell_signs(self, values: np.ndarray, scale=None) -> np.ndarray:
        """The sign of each function (rows of ``values``, (k, n_vertices)) on every cell.

        +1 where its values at the cell's vertices are all ``>= -eps`` and one is above
        ``eps`` (``eps = tolerance * scale`` per row; ``scale`` defaults to the largest
        magnitude of the row), -1 likewise below, 0 where all are within ``eps`` of zero (the
        function vanishes on the cell), and also 0 where both signs occur (a cell the function
        has not cut, or left uncut as degenerate). Returns (n_cells, k) int8.
        """
        V = np.atleast_2d(np.asarray(values, dtype=np.float64))
        if scale is None:
            scale = np.abs(V).max(axis=1) if V.shape[1] else np.zeros(len(V))
        eps = self.tol * np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(V),))
        cvv, off, _cnt = self.cell_vertices(np.arange(self.cells.n))
        if len(cvv) == 0:
            return np.zeros((0, len(V)), dtype=np.int8)
        mn, mx = self.value_ranges(V, cvv, off)
        pos, neg = mx > eps[None, :], mn < -eps[None, :]
        return (pos & ~neg).astype(np.int8) - (neg & ~pos).astype(np.int8)

    def geometry(self, cvv, off, cnt):
        """Vertex centroid and bounding box of cells given their vertex lists."""
        X = self.X.view
        d = self.d
        n = len(off)
        cen = np.empty((n, d))
        bmin = np.empty((n, d))
        bmax = np.empty((n, d))
        for k in range(d):
            col = X[cvv, k]
            cen[:, k] = np.add.reduceat(col, off) / cnt
            bmin[:, k] = np.minimum.reduceat(col, off)
            bmax[:, k] = np.maximum.reduceat(col, off)
        return cen, bmin, bmax

    def on_box(self, sel: np.ndarray) -> np.ndarray:
        """Whether each of the cells ``sel`` has an edge in a box side (2-D and 3-D)."""
        rec, ct = self.cell_records(sel)
        onbox = (rec[:, 2] >= 0) & (rec[:, 2] < self.nb)
        if self.d == 3:
            onbox |= (rec[:, 3] >= 0) & (rec[:, 3] < self.nb)
        return np.logical_or.reduceat(onbox, np.cumsum(ct) - ct)

    def round_off(self) -> float:
        """A bound of the round-off in vertex coordinates (interpolated, cut after cut)."""
        extent = max(float(np.abs(self.lo).max()), float(np.abs(self.hi).max()))
        return 256 * float(np.finfo(np.float64).eps) * extent

    # -- changing ------------------------------------------------------------------------
    def cut(self, values: np.ndarray, scale=None, plane: int = 0, *, cells=None,
            carry: GrowCols | None = None, carry_row: int | None = None) -> np.ndarray:
        """Cut the cells by one function, affine on each of them, given at the vertices.

        Parameters
        ----------
        values : (n_vertices,) array
            The function at every vertex.
        scale : float, optional
            Its rounding scale: values within ``tolerance * scale`` of zero count as zero
            (default: the largest magnitude of ``values``).
        plane : int
            Which function this is (``0 .. max_cuts - 1``): its zero set is the face label
            ``2d + plane`` of the new records.
        cells : int array, optional
            The cells to cut (default: every live cell); cells around them are cut too where a
            near-tie re-signing changes a sign they see.
        carry : GrowCols, optional
            Values at the vertices (rows) to interpolate at the new vertices.
        carry_row : int, optional
            The row of ``carry`` holding ``values``: exactly 0 at the new vertices.

        Returns
        -------
        parents : int array
            The cells that were split: each keeps its positive part; the negative part of
            ``parents[i]`` is the new cell ``n_cells_before + i`` (the last ones).
        """
        if scale is None:
            scale = float(np.abs(values).max()) if len(values) else 0.0
        cut, _signs = self.plan(values, scale, cells)
        if cut is None:
            return np.zeros(0, dtype=np.int64)
        self.add_vertices(cut, values, carry, carry_row)
        return self.apply(cut, plane)

    def plan(self, zv: np.ndarray, scale: float, cells=None):
        """Signs and cut of ``cells`` (default: all live cells) by the function with vertex
        values ``zv``, nothing changed yet; see :meth:`cut`.

        Values with ``|z| <= tolerance * scale`` count as zero. When some cell's cut is
        inconsistent (near-ties), other zero bands and levels are tried for every vertex at
        once (:func:`near_tie_bands`), every cell whose signs change being cut again; the
        first that makes every cell consistent is used, else the one with the fewest
        inconsistent cells, which stay uncut and are counted in :attr:`degenerate`. Returns
        ``(cut or None, signs)``.
        """
        S = self.live_cells() if cells is None else cells
        eps = self.tol * scale
        sv = strict_signs(zv, eps)
        cut = analyse_cut(self, S, sv)
        if cut is None or cut.good.all():
            return cut, sv
        best = (int((~cut.good).sum()), cut, sv)
        allc = S if cells is None else self.live_cells()
        ct2 = self.cells.view[allc, 1]
        rec = self.cell_records(allc)[0]
        owner = np.repeat(allc, ct2)
        for lo, hi in near_tie_bands(cut, zv, eps, scale):
            sv2 = (zv > hi).astype(np.int8) - (zv < lo).astype(np.int8)
            changed = sv2 != sv
            touched = changed[rec[:, 0]] | changed[rec[:, 1]]
            S2 = np.union1d(S, owner[touched])
            cut2 = analyse_cut(self, S2, sv2)
            if cut2 is not None and lo == hi:
                cut2.level = lo
            if cut2 is None or cut2.good.all():
                return cut2, sv2
            nbad = int((~cut2.good).sum())
            if nbad < best[0]:
                best = (nbad, cut2, sv2)
        self.degenerate += best[0]
        return best[1], best[2]

    def add_vertices(self, cut: Cut, zv: np.ndarray, carry: GrowCols | None = None,
                     row: int | None = None):
        """Append the cut's new vertices (interpolated) to ``X`` (and columns of ``carry``,
        whose row ``row`` is set to 0 there: the new vertices lie on the cutting hyperplane)."""
        ua, ub = cut.ends()
        t = cut.fractions(zv)[:, None]
        X = self.X.view
        self.X.extend(X[ua] + t * (X[ub] - X[ua]))
        if carry is not None:
            Zt = carry.view
            za_, zb_ = Zt[:, ua], Zt[:, ub]
            Znew = za_ + t[:, 0][None, :] * (zb_ - za_)
            if row is not None:
                Znew[row] = 0.0
            carry.extend(Znew)

    def apply(self, cut: Cut, plane: int) -> np.ndarray:
        """Replace every good crossed cell by its two children (after :meth:`add_vertices`);
        returns the parents, as :meth:`cut`."""
        good = cut.good
        if not good.any():
            return np.zeros(0, dtype=np.int64)
        label = self.nb + plane
        R, lc, sa, sb, m = cut.R, cut.lc, cut.sa, cut.sb, cut.m
        gr = good[lc]
        recpos = gr & (sa >= 0) & (sb >= 0) & ((sa > 0) | (sb > 0))
        recneg = gr & (sa <= 0) & (sb <= 0) & ((sa < 0) | (sb < 0))
        xm = gr & cut.xmask
        posend = np.where(sa[xm] > 0, R[xm, 0], R[xm, 1])
        negend = np.where(sa[xm] > 0, R[xm, 1], R[xm, 0])
        xr_p = np.stack([posend, m[xm], R[xm, 2], R[xm, 3]], axis=1)
        xr_n = np.stack([negend, m[xm], R[xm, 2], R[xm, 3]], axis=1)
        chg = good[cut.chord_lc]
        ch = cut.chords[chg].copy()
        ch_lc = cut.chord_lc[chg]
        ch[:, 3 if self.d == 3 else 2] = label          # 3-D: face label < label, stays sorted
        zi = cut.zz_idx
        zg = good[lc[zi]]
        zi, zp, zmn = zi[zg], cut.zz_plus[zg], cut.zz_minus[zg]
        zz_p = np.stack([R[zi, 0], R[zi, 1], zp, np.full(len(zi), label)], axis=1)
        zz_n = np.stack([R[zi, 0], R[zi, 1], zmn, np.full(len(zi), label)], axis=1)
        parts = [R[recpos], xr_p, ch, zz_p, R[recneg], xr_n, ch, zz_n]
        child = np.concatenate([2 * lc[recpos], 2 * lc[xm], 2 * ch_lc, 2 * lc[zi],
                                2 * lc[recneg] + 1, 2 * lc[xm] + 1, 2 * ch_lc + 1, 2 * lc[zi] + 1])
        allrec = np.concatenate(parts, axis=0)
        order = np.argsort(child, kind="stable")
        child = child[order]
        if self.rec.n + len(allrec) > len(self.rec.a):
            self._compact_records(len(allrec))
        start = self.rec.extend_taken(allrec, order)
        nC = len(cut.cells)
        counts = np.bincount(child, minlength=2 * nC)
        starts = start + np.cumsum(counts) - counts
        gi = np.nonzero(good)[0]
        parent = cut.cells[gi]
        cells = self.cells.a
        cells[parent, 0] = starts[2 * gi]
        cells[parent, 1] = counts[2 * gi]
        self.cells.extend(np.stack([starts[2 * gi + 1], counts[2 * gi + 1]], axis=1))
        self.alive.extend(np.ones((len(parent), 1), dtype=bool))
        self.cells_max = max(self.cells_max, self.cells.n)
        return parent

    def _compact_records(self, incoming: int) -> None:
        """Before the records grow: keep only those some cell refers to (a cut cell's old
        ones are not), cell by cell, with room for ``incoming`` more and as many again. Cuts
        append their children's records, so without this the array holds every record ever
        made (several times the live ones: time to copy, memory, and scattered reads)."""
        cells = self.cells.view
        idx = ranges(cells[:, 0], cells[:, 1])
        if 2 * len(idx) > self.rec.n:                   # mostly live: growing is cheaper
            return
        R = self.rec.view[idx]
        cells[:, 0] = np.cumsum(cells[:, 1]) - cells[:, 1]
        self.rec.reset(R, cap=2 * (len(R) + incoming))

    def drop(self, sel: np.ndarray):
        """Mark the cells ``sel`` dead (removed at the next :meth:`compact`)."""
        self.alive.a[sel, 0] = False

    def compact(self, keep: np.ndarray | None = None) -> np.ndarray:
        """Keep the cells ``keep`` (bool per cell; default: the live ones), store records cell
        by cell and drop unreferenced vertices. Returns which old vertices were kept."""
        cells = self.cells.view
        cells = cells[self.alive.view[:, 0] if keep is None else keep]
        idx = ranges(cells[:, 0], cells[:, 1])
        R = self.rec.view[idx]
        counts = cells[:, 1].copy()
        nv = self.X.n
        used = np.zeros(nv, dtype=bool)
        used[R[:, 0]] = True
        used[R[:, 1]] = True
        newid = np.cumsum(used) - 1
        R[:, 0] = newid[R[:, 0]]
        R[:, 1] = newid[R[:, 1]]
        self.rec.reset(R)
        starts = np.cumsum(counts) - counts
        self.cells.reset(np.stack([starts, counts], axis=1))
        self.X.reset(self.X.view[used])
        self.alive.reset(np.ones((len(counts), 1), dtype=bool))
        return used
