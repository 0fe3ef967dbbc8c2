"""Exact level sets ``f = c`` of piecewise-linear networks inside a box (2-D and 3-D inputs).

A network whose activations are all ``relu``, ``identity`` or ``abs_pow`` with p = 1 (biases and
a ``sum`` or ``linear`` head allowed) is continuous and piecewise affine: its *linear regions*
are convex polytopes, and each neuron of layer l is an affine function on every region of
layers 1..l-1, its zero set a hyperplane "folded" across them. :func:`extract_level_set` with
``method="exact"`` computes the level set exactly, by **edge subdivision of a box complex, neuron
by neuron** (Berzins 2023; Kim 2024), with pruning:

1. The complex starts as the box: one convex cell. A cell is stored as its edges, each an
   *edge record* ``(a, b, f1, f2)``: two global vertex ids (``a < b``) and the labels of the two
   faces of the cell that meet along the edge (box sides, then one label per neuron, then the
   level). In 2-D a cell is a polygon and a record ``(a, b, f)`` an edge on the line ``f``.
2. Layer by layer, every neuron with a kink (``relu``, ``|x|``; ``identity`` layers cut
   nothing) cuts the cells where its pre-activation changes sign. All neurons of a layer are
   affine on every cell of the complex built by the earlier layers, so their values at new
   vertices are interpolated along the cut edge exactly; the next layer's values are one matrix
   product at the end of the layer. A cut is vectorised over all cells it crosses: crossing
   edges get one new vertex each (shared by every cell that contains the edge, so the complex
   stays conforming and the result watertight), every cut face gets a chord between its two
   zero points, and the cross-section closes the two child cells.
3. Pruning. At the start of every layer, each cell gets the exact ranges of that layer's
   pre-activations (minimum and maximum over its vertices: they are affine on the cell), and
   cells that cannot meet the level set are dropped with everything that would have been cut
   out of them. Tests, cheapest first: ``f`` at the cell's vertices (values on both sides of
   ``c``: it certainly meets the level set); interval arithmetic through the remaining layers;
   a symbolic bound (the layer's pre-activations are exactly affine on the cell; every later
   activation is replaced by its parallel linear relaxation, keeping an affine function of
   ``x`` plus a radius per neuron) followed by a back-substitution (CROWN) bound minimised
   exactly over the cell's vertices. A bound that contradicts an exactly computed vertex value
   is discarded. Inside a layer the cells cut since the last check are bounded again whenever
   they number as many as the cells alive at that check. With ``cap=True`` cells inside the
   solid that touch the box are kept (their box faces are the caps).
4. After the last layer ``f`` is affine on every remaining cell (a linear region of the network
   in the box) and the cells are cut by ``f = c`` one last time: the cross-section of a cell is
   one planar convex polygon per region in 3-D (coplanar pieces of a region are one face) and
   one segment per region in 2-D, tagged with the region's index and activation pattern. Its
   corners and edges are those of the cut, shared with the neighbouring cells; its orientation
   comes from the signs around oriented faces of the cell (a weighted vote of the cut faces),
   never from the direction of the level set's normal, which is meaningless where ``f`` is
   almost flat; a final pass flips any cross-section (and any face too small for its
   coordinates to tell its orientation) that disagrees with most of its neighbours.

Tolerance policy
----------------
Float64 throughout, one relative tolerance ``TOLERANCE = 1e-12``.

*Scale.* Every neuron (and ``f - c``) has a **rounding scale** ``s = sum_i |w_i| m_i + |b|``:
``m_i`` is the largest magnitude of input ``i`` over the vertices of the complex, or, if
larger, the rounding scale of input ``i``'s own terms (``sum_k |w_ik| max|h_k| + |b_i|``; an
input that is a small difference of large terms carries their round-off, one layer deep); for
the first layer ``m_i`` is the box's extent. ``info["level_scale"]`` is the scale of ``f``.

*Zero.* A value ``z`` at a vertex counts as **zero** when ``|z| <= TOLERANCE * s``. A zero
vertex lies *on* the hyperplane: edges are cut only between strictly positive and strictly
negative ends, so exact ties (vertices on a hyperplane, duplicate and parallel neurons,
hyperplanes through box corners and edges, surfaces in a box side, dead neurons and zero rows)
never create slivers or duplicate vertices, and a cut through an existing vertex or edge
reuses it.

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
values (strict signs included, values under the rounding floor ``1e-16 * s`` staying zero),
then strict signs of ``z - d`` (the plane moved by ``d``, signs an affine function always
realizes) with ``d`` in the widest gaps between those values; the first choice that makes
every cell consistent is used. Thresholds and moves stay within
``100 * TOLERANCE * s`` of zero and new vertices are placed where ``z`` equals the cut's level
on their edge, so no vertex is further than that from its plane, and the surface's vertices
stay within about ``1e-10 * level_scale`` of the level set (``info["max_level_error"]``,
measured). A cell still inconsistent stays uncut and is counted in
``info["degenerate_cells"]`` (``info["watertight"]`` then tells whether the result is closed).

*Orientation.* Faces are linked along the cells' edges (never sorted by angle) and oriented by
their coordinates where the area is above round-off (a bound ``256 * eps * box extent`` on the
coordinates' error); faces smaller than that (corners that round onto a line) follow their
neighbours. Pruning bounds keep a margin of the same tolerance; a face in the level set whose
other cell was pruned bounds the solid according to the strict signs of ``f - c`` on it.

Which level set
---------------
The extracted surface is the boundary of the solid ``{f < c}`` (signed-distance convention:
negative inside) inside the box, its faces oriented counter-clockwise seen from the side where
``f > c``, so normals point out of the solid (``inside="above"`` swaps the roles). A region where
``f`` is constant equal to ``c`` counts as outside, and a face where ``f`` only touches ``c`` from
one side (``f = |x|`` at ``c = 0``) is not a boundary and is not emitted. A surface lying in a box
side is emitted (with ``cap=True`` only where the solid is behind it). ``cap=True`` adds the box
sides inside the solid, which closes the surface.

Output
------
A :class:`~neuralpoly_core.mesh.PolyMesh`. In 3-D: planar convex n-gon faces (non-convex after
``merge_coplanar``), ``region_ids`` per face (cap faces carry the region they cap) and
``region_patterns`` (one activation pattern per region, ``z > 0`` per neuron). In 2-D the level
set is a set of curves, stored as **segments**: every face has two corners, oriented so that the
inside lies on the left, one segment per region crossed (cap segments run along the box).
:func:`curve_loops` chains them into polylines. Faces come in the order: level-set faces, then
cap faces. ``mesh.info`` holds ``method``, ``level``, ``vertices``, ``faces``,
``regions_crossed``, ``cap_faces``, ``seconds``, ``max_level_error`` (max |f(v) - c| over the
level-set vertices, by a fresh forward pass), ``level_scale`` (the rounding scale of ``f``),
``closed`` (a closed manifold), ``watertight`` (see :func:`is_watertight`), ``cells_max`` (most
cells held at once), ``degenerate_cells``, ``reoriented_faces``, ``pruned_mid_layer`` and
``layers`` (cells before and after pruning at each layer, with timestamps).
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import Cancelled, ExtractionError
from ..mesh.polymesh import PolyMesh
from ..mesh.topology import is_watertight, merge_coplanar_groups
from ..network.model import Network
from .box import check_request, parse_bbox

__all__ = ["TOLERANCE", "extract_level_set_exact", "default_workers"]

#: Relative tolerance of the zero test (see the module docstring).
TOLERANCE = 1e-12



# ---------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------
def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + c)`` for each (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.cumsum(counts) - counts
    return np.repeat(starts - offs, counts) + np.arange(total, dtype=np.int64)


def _unique_inv(keys: np.ndarray, size: int):
    """``np.unique(keys, return_inverse=True)`` for integer keys in ``[0, size)``: by marking
    a dense table when ``size`` is small next to the number of keys (no sort), else sorting."""
    if size > 4 * len(keys) + 4096:
        return np.unique(keys, return_inverse=True)
    mark = np.zeros(size, dtype=bool)
    mark[keys] = True
    rank = np.cumsum(mark) - 1
    return np.flatnonzero(mark), rank[keys]


def default_workers() -> int:
    """Threads used by exact extraction by default: the usable cores, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _single_threaded_blas():
    """Limit BLAS to one thread (threadpoolctl) while our own threads run; a no-op context
    when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class _Grow:
    """Append-only 2-D array with amortised O(1) appends."""

    def __init__(self, ncols: int, dtype, cap: int = 256):
        self.a = np.empty((cap, ncols), dtype=dtype)
        self.n = 0

    def _reserve(self, k: int) -> tuple[int, int]:
        """Room for ``k`` more rows: ``(start, end)`` of the rows to fill (then counted)."""
        start = self.n
        need = start + k
        if need > len(self.a):
            new = np.empty((max(need, 2 * len(self.a)), self.a.shape[1]), dtype=self.a.dtype)
            new[:start] = self.a[:start]
            self.a = new
        self.n = need
        return start, need

    def extend(self, rows: np.ndarray) -> int:
        start, end = self._reserve(len(rows))
        self.a[start:end] = rows
        return start

    def extend_taken(self, rows: np.ndarray, order: np.ndarray) -> int:
        """``extend(rows[order])`` without the intermediate copy."""
        start, end = self._reserve(len(order))
        np.take(rows, order, axis=0, out=self.a[start:end])
        return start

    @property
    def view(self) -> np.ndarray:
        return self.a[:self.n]

    def reset(self, rows: np.ndarray):
        self.a = np.array(rows, dtype=self.a.dtype, copy=True).reshape(-1, self.a.shape[1])
        if len(self.a) == 0:
            self.a = np.empty((256, self.a.shape[1]), dtype=self.a.dtype)
            self.n = 0
        else:
            self.n = len(rows)


class _GrowCols:
    """Append-only (rows, n) array growing along axis 1 (one column per vertex)."""

    def __init__(self, rows: np.ndarray, cap: int | None = None):
        k, n = rows.shape
        self.a = np.empty((k, max(256, cap or 2 * n)), dtype=np.float64)
        self.a[:, :n] = rows
        self.n = n

    def extend(self, cols: np.ndarray):
        k = cols.shape[1]
        need = self.n + k
        if need > self.a.shape[1]:
            new = np.empty((self.a.shape[0], max(need, 2 * self.a.shape[1])), dtype=np.float64)
            new[:, :self.n] = self.a[:, :self.n]
            self.a = new
        self.a[:, self.n:need] = cols
        self.n = need

    @property
    def view(self) -> np.ndarray:
        return self.a[:, :self.n]

    def reset(self, rows: np.ndarray):
        self.__init__(np.ascontiguousarray(rows))


def _sign(z: np.ndarray, eps) -> np.ndarray:
    return (z > eps).astype(np.int8) - (z < -eps).astype(np.int8)


def _crossing(za: np.ndarray, zb: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Where ``z = level`` on edges whose ends' values ``za``, ``zb`` lie strictly on either
    side of ``level`` (the fraction of the way from ``a``, in (0, 1))."""
    return (za - level) / (za - zb) if level else za / (za - zb)


# ---------------------------------------------------------------------------------------
# the exact extractor
# ---------------------------------------------------------------------------------------
class _Cut:
    """The outcome of cutting a set of cells by one affine-per-cell function."""

    __slots__ = ("cells", "good", "R", "lc", "sa", "sb", "m", "xmask", "groups", "chords",
                 "chord_lc", "zz_idx", "zz_plus", "zz_minus", "level")


class _ExactExtractor:
    """One exact extraction (see the module docstring); ``run()`` returns the mesh.

    Attributes ``symbolic``/``backward`` (bounds used for pruning), ``mid_min``/``mid_frac``
    (when cells are re-bounded inside a layer) and ``chunk`` are tuning knobs for tests and
    benchmarks; the result never depends on them, only the time and memory.
    """

    def __init__(self, net: Network, level: float, lo, hi, cap: bool, inside: str,
                 tolerance: float, progress, prune: bool, workers: int = 1):
        self.net = net
        self.d = net.dim
        self.level = float(level)
        self.lo, self.hi = lo, hi
        self.cap = bool(cap)
        self.flip = inside == "above"
        self.tol = float(tolerance)
        self.progress = progress
        self.prune = prune
        self.degenerate = 0
        self.cells_max = 1
        self.nb = 2 * self.d                      # box side labels 0 .. 2d-1
        self.kinked = [l.activation.kinked for l in net.layers]
        offs = [self.nb]
        for l in net.layers:
            offs.append(offs[-1] + l.width)
        self.label_offset = offs[:-1]
        self.n_labels = offs[-1] + 1
        self.n_kinked = sum(l.width for l, k in zip(net.layers, self.kinked) if k)
        self.done = 0
        self.layer_stats = []
        self.alive = None
        self.symbolic = True
        self.mid_min = 256          # mid-layer pruning: at least this many new cells ...
        self.mid_frac = 1.0         # ... and this fraction of the cells alive at the last pass
        self.chunk = 2048           # cells per block in the bounds
        self.workers = workers      # threads bounding blocks at once
        self._map = map
        self.pruned_mid = 0
        self.backward = True
        # per layer k (and k = n_layers for the head): W, |W|, bias; and [W | b] for
        # back-substitution
        mats = [(l.weight, np.abs(l.weight), l.bias) for l in net.layers]
        if net.output.name == "sum":
            mats.append((np.ones((1, net.layers[-1].width)), np.ones((1, net.layers[-1].width)), None))
        else:
            mats.append((net.output.weight, np.abs(net.output.weight), net.output.bias))
        self._mats = mats
        self._wb = [np.concatenate([W, (b if b is not None else np.zeros(len(W)))[:, None]], axis=1)
                    for W, _a, b in mats[:-1]]
        self._terms = None          # rounding scale of the previous layer's terms

    # -- complex set-up --------------------------------------------------------------
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
                        recs.append((v, w, others[0], -1))
        self.X = _Grow(d, np.float64)
        self.X.extend(X)
        self.rec = _Grow(4, np.int64)
        self.rec.extend(np.asarray(recs, dtype=np.int64))
        self.cells = _Grow(2, np.int64)
        self.cells.extend(np.array([[0, len(recs)]], dtype=np.int64))

    # -- per-cell reductions -----------------------------------------------------------
    def _cell_vertices(self, sel: np.ndarray):
        """Distinct vertices of each selected cell: (vertex ids, offsets, counts), cell by cell."""
        cells = self.cells.view
        st, ct = cells[sel, 0], cells[sel, 1]
        R = self.rec.view[_ranges(st, ct)]
        n = len(sel)
        nv = self.X.n
        lc = np.repeat(np.arange(n, dtype=np.int64), ct)
        keys = np.unique(np.concatenate([lc * nv + R[:, 0], lc * nv + R[:, 1]]))
        cnt = np.bincount(keys // nv, minlength=n)
        return keys % nv, np.cumsum(cnt) - cnt, cnt

    def _minmax(self, V: np.ndarray, cvv: np.ndarray, off: np.ndarray):
        """Per-cell min and max of the rows of ``V`` (shape (k, nv)) over the cells' vertices."""
        k = V.shape[0]
        n = len(off)
        mn = np.empty((n, k))
        mx = np.empty((n, k))

        def rows(js):
            for j in js:
                col = V[j][cvv]
                mn[:, j] = np.minimum.reduceat(col, off)
                mx[:, j] = np.maximum.reduceat(col, off)

        list(self._map(rows, np.array_split(np.arange(k), max(1, min(self.workers, k)))))
        return mn, mx

    def _compact(self, keep: np.ndarray | None = None):
        """Drop unkept cells, store records cell by cell and drop unreferenced vertices."""
        cells = self.cells.view
        if keep is not None:
            cells = cells[keep]
        idx = _ranges(cells[:, 0], cells[:, 1])
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
        return used

    # -- cutting -------------------------------------------------------------------------
    def _cut(self, S: np.ndarray, zv: np.ndarray, sv: np.ndarray) -> _Cut | None:
        """Compute the cut of cells ``S`` by the function with vertex values ``zv``, signs ``sv``.

        Returns None when no cell of ``S`` is crossed. Creates no vertices; new vertices are
        numbered ``X.n + i`` for the i-th distinct crossing edge.
        """
        cells = self.cells.view
        st, ct = cells[S, 0], cells[S, 1]
        R = self.rec.view[_ranges(st, ct)]
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
        cut = _Cut()
        cut.level = 0.0
        cut.cells = S[crossed]
        nC = len(cut.cells)
        nv = self.X.n
        # new vertices: one per distinct crossing edge
        xmask = (sa.astype(np.int16) * sb) < 0
        keys = R[xmask, 0] * nv + R[xmask, 1]
        ukeys, inv = np.unique(keys, return_inverse=True)
        m = np.full(len(R), -1, dtype=np.int64)
        m[xmask] = nv + inv
        cut.m = m
        cut.xmask = xmask
        cut.groups = ukeys
        bad = np.zeros(nC, dtype=bool)
        # zero points: (group, vertex) contributions
        za = sa == 0
        zb = sb == 0
        zz = za & zb
        if self.d == 3:
            L = self.n_labels
            hk = np.concatenate([lc * L + R[:, 2], lc * L + R[:, 3]])
            gkeys, ginv = _unique_inv(hk, nC * L)
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
                    bad[glc[self._bent_chains(chains, g1[zz], g2[zz], R[zz, 0], R[zz, 1])]] = True
            zvv = np.concatenate([m[xmask], m[xmask], R[za, 0], R[za, 0], R[zb, 1], R[zb, 1]])
            sel = split[zg]
            zk = np.unique(zg[sel] * (nv + len(ukeys)) + zvv[sel])
            zgrp = zk // (nv + len(ukeys))
            zver = zk % (nv + len(ukeys))
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
        else:
            ng = nC
            zg = np.concatenate([lc[xmask], lc[za], lc[zb]])
            zvv = np.concatenate([m[xmask], R[za, 0], R[zb, 1]])
            zk = np.unique(zg * (nv + len(ukeys)) + zvv)
            zgrp = zk // (nv + len(ukeys))
            zver = zk % (nv + len(ukeys))
            cnt = np.bincount(zgrp, minlength=nC)
            bad |= cnt != 2
            bad[lc[zz]] = True
            okc = cnt == 2
            first = np.searchsorted(zgrp, np.nonzero(okc)[0])
            chords = np.stack([zver[first], zver[first + 1],
                               np.full(len(first), -1, dtype=np.int64),
                               np.full(len(first), -1, dtype=np.int64)], axis=1)
            chord_lc = np.nonzero(okc)[0]
            zz_idx = np.zeros(0, dtype=np.int64)
            zz_plus = zz_minus = zz_idx
        if self.d == 3:
            # the cross-section must be one cycle: every zero point of a cell has degree 2
            ek = np.concatenate([chord_lc, chord_lc, lc[zz_idx], lc[zz_idx]]) * (nv + len(ukeys)) + \
                np.concatenate([chords[:, 0], chords[:, 1], R[zz_idx, 0], R[zz_idx, 1]])
            zpts = np.unique(np.concatenate([lc[xmask] * (nv + len(ukeys)) + m[xmask],
                                             lc[za] * (nv + len(ukeys)) + R[za, 0],
                                             lc[zb] * (nv + len(ukeys)) + R[zb, 1]]))
            ek_u, ek_c = np.unique(ek, return_counts=True)
            if len(ek_u):
                pos_in = np.minimum(np.searchsorted(ek_u, zpts), len(ek_u) - 1)
                deg = np.where(ek_u[pos_in] == zpts, ek_c[pos_in], 0)
            else:
                deg = np.zeros(len(zpts), dtype=np.int64)
            bad[(zpts[deg != 2]) // (nv + len(ukeys))] = True
            # ... through at least three points (two chords between the same two points
            # cut a corner of degree two, a straight-angle corner, off nothing)
            bad[np.bincount(zpts // (nv + len(ukeys)), minlength=nC) < 3] = True
        cut.good = ~bad
        cut.R, cut.lc, cut.sa, cut.sb = R, lc, sa, sb
        cut.chords, cut.chord_lc = chords, chord_lc
        cut.zz_idx, cut.zz_plus, cut.zz_minus = zz_idx, zz_plus, zz_minus
        return cut

    def _bent_chains(self, groups, h1, h2, a, b, straight=1e-6):
        """Which chains of in-plane edges are not straight.

        ``groups``: faces whose zero corners form one chain of three or more; ``h1``/``h2``:
        the two faces of each in-plane edge ``(a, b)``. A plane meets a convex face in a
        segment, so the inner corners of such a chain must be straight-angle corners (where
        several planes meet along one line): the two chain edges at each must point in
        opposite directions, up to a relative ``straight`` plus the coordinates' round-off.
        """
        X = self.X.view
        delta = self._round_off()
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

    def _new_vertices(self, cut: _Cut, zv: np.ndarray, Zcur: _Grow | None, col: int = 0):
        """Append the cut's new vertices (interpolated) to X (and rows of ``Zcur``).

        The new vertices lie on the cutting hyperplane: their value in column ``col`` is 0.
        """
        nv = self.X.n
        ua = cut.groups // nv
        ub = cut.groups % nv
        za, zb = zv[ua], zv[ub]
        t = _crossing(za, zb, cut.level)[:, None]
        X = self.X.view
        self.X.extend(X[ua] + t * (X[ub] - X[ua]))
        if Zcur is not None:
            Zt = Zcur.view
            za_, zb_ = Zt[:, ua], Zt[:, ub]
            Znew = za_ + t[:, 0][None, :] * (zb_ - za_)
            Znew[col] = 0.0
            Zcur.extend(Znew)

    def _apply_cut(self, cut: _Cut, label: int, cand: _Grow | None, col: int):
        """Replace every good crossed cell by its two children."""
        good = cut.good
        if not good.any():
            return
        R, lc, sa, sb, m = cut.R, cut.lc, cut.sa, cut.sb, cut.m
        gr = good[lc]
        recpos = gr & (sa >= 0) & (sb >= 0) & ((sa > 0) | (sb > 0))
        recneg = gr & (sa <= 0) & (sb <= 0) & ((sa < 0) | (sb < 0))
        xm = gr & cut.xmask
        posend = np.where(sa[xm] > 0, R[xm, 0], R[xm, 1])
        negend = np.where(sa[xm] > 0, R[xm, 1], R[xm, 0])
        xr_p = np.stack([posend, m[xm], R[xm, 2], R[xm, 3]], axis=1)
        xr_n = np.stack([negend, m[xm], R[xm, 2], R[xm, 3]], axis=1)
        ch = cut.chords
        chg = good[cut.chord_lc]
        ch = ch[chg]
        ch_lc = cut.chord_lc[chg]
        if self.d == 3:
            ch = ch.copy()
            ch[:, 3] = label          # face label < label: stays sorted
        else:
            ch = ch.copy()
            ch[:, 2] = label
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
        start = self.rec.extend_taken(allrec, order)
        nC = len(cut.cells)
        counts = np.bincount(child, minlength=2 * nC)
        starts = start + np.cumsum(counts) - counts
        gi = np.nonzero(good)[0]
        parent = cut.cells[gi]
        cells = self.cells.a
        cells[parent, 0] = starts[2 * gi]
        cells[parent, 1] = counts[2 * gi]
        new_ids_start = self.cells.n
        self.cells.extend(np.stack([starts[2 * gi + 1], counts[2 * gi + 1]], axis=1))
        if cand is not None:
            cand.a[parent, col] = False
            cand.extend(cand.a[parent])
            self.dirty.a[parent, 0] = True
            self.dirty.extend(np.ones((len(parent), 1), dtype=bool))
            self.alive.extend(np.ones((len(parent), 1), dtype=bool))
        self.cells_max = max(self.cells_max, self.cells.n)
        return new_ids_start

    def _robust_cut(self, S, zv, scale):
        """Signs and cut of the cells ``S`` by the function with vertex values ``zv``.

        Values with ``|z| <= tolerance * scale`` count as zero. When some cell's cut is
        inconsistent (near-ties), other zero bands and levels are tried for every vertex at
        once (:meth:`_thresholds`), every cell whose signs change being cut again; the first
        that makes every cell consistent is used, else the one with the fewest inconsistent
        cells, which stay uncut and are counted in ``degenerate``. See the module docstring.
        Returns ``(cut or None, signs)``; ``cut.level`` is the level of the cut (where the
        new vertices go).
        """
        eps = self.tol * scale
        sv = _sign(zv, eps)
        cut = self._cut(S, zv, sv)
        if cut is None or cut.good.all():
            return cut, sv
        best = (int((~cut.good).sum()), cut, sv)
        cells = self.cells.view
        allc = np.nonzero(self.alive.view[:, 0])[0] if self.alive is not None \
            else np.arange(len(cells))
        ct2 = cells[allc, 1]
        rec = self.rec.view[_ranges(cells[allc, 0], ct2)]
        owner = np.repeat(allc, ct2)
        for lo, hi in self._thresholds(cut, zv, eps, scale):
            sv2 = (zv > hi).astype(np.int8) - (zv < lo).astype(np.int8)
            changed = sv2 != sv
            touched = changed[rec[:, 0]] | changed[rec[:, 1]]
            S2 = np.union1d(S, owner[touched])
            cut2 = self._cut(S2, zv, sv2)
            if cut2 is not None and lo == hi:
                cut2.level = lo
            if cut2 is None or cut2.good.all():
                return cut2, sv2
            nbad = int((~cut2.good).sum())
            if nbad < best[0]:
                best = (nbad, cut2, sv2)
        self.degenerate += best[0]
        return best[1], best[2]

    def _thresholds(self, cut, zv, eps, scale, tries=8, reach=100.0):
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

    def _cut_and_apply(self, S, zv, scale, label, Zcur=None, cand=None, col=0):
        cut, _sv = self._robust_cut(S, zv, scale)
        if cut is None:
            return
        self._new_vertices(cut, zv, Zcur, col)
        self._apply_cut(cut, label, cand, col)

    # -- bounds ----------------------------------------------------------------------------
    @staticmethod
    def _subset(cvv, off, cnt, part):
        """Vertex lists of the cells ``part`` (sorted indices) out of (cvv, off, cnt)."""
        pc = cnt[part]
        idx = _ranges(off[part], pc)
        return cvv[idx], np.cumsum(pc) - pc, pc

    def _ibp_layers(self, li: int, zlo: np.ndarray, zhi: np.ndarray):
        """Interval bounds of every layer's pre-activations from layer ``li`` on, and of f."""
        layers = self.net.layers
        lo, hi = zlo, zhi
        inter = []
        for k in range(li, len(layers)):
            inter.append((lo, hi))
            lo, hi = layers[k].activation.interval(lo, hi)
            if k + 1 < len(layers):
                W, b = layers[k + 1].weight, layers[k + 1].bias
            else:
                out = self.net.output
                if out.name == "sum":
                    return inter, lo.sum(axis=1), hi.sum(axis=1)
                W, b = out.weight, out.bias
            c = 0.5 * (lo + hi)
            r = 0.5 * (hi - lo)
            mid = c @ W.T
            rad = r @ np.abs(W).T
            if b is not None:
                mid = mid + b
            lo, hi = mid - rad, mid + rad
        return inter, lo[:, 0], hi[:, 0]

    def _geometry(self, cvv, off, cnt):
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

    def _symbolic_bound(self, li: int, zlo: np.ndarray, zhi: np.ndarray, cen, bmin, bmax,
                        cvv, off, cnt):
        """Bounds of f on cells by symbolic (affine in x) propagation, then back-substitution.

        On a cell, layer ``li``'s pre-activations are exactly affine, ``z = z(c) + A (x - c)``
        (``A`` from the cell's activation pattern at its vertex centroid ``c``). From there
        every neuron is bounded by an affine function of ``x`` plus or minus a radius
        (``U``: (gradient rows + value at the centroid, cell, neuron); ``E``: (cell, neuron)):
        an activation with pre-activation range ``[l, u]`` is replaced by its parallel linear
        relaxation (for ReLU, slope ``u / (u - l)`` and half the intercept as radius, as in
        DeepZ), a layer maps centres by ``W`` and radii by ``|W|``. Every neuron is concretised
        over the cell's bounding box and intersected with interval arithmetic, ``f``'s centre
        is minimised/maximised over the cell's vertices, and the neuron bounds feed a
        back-substitution (:meth:`_backward_bound`). ``zlo``/``zhi``: exact ranges of layer
        ``li`` on the cells.
        """
        layers = self.net.layers
        d = self.d
        n = len(cen)
        bc = 0.5 * (bmin + bmax) - cen
        hw = 0.5 * (bmax - bmin)
        # layer li's pre-activations on each cell: value z at the centroid, gradient rows J
        h = cen
        J = None
        for k in range(li + 1):
            W = layers[k].weight
            z = h @ W.T
            if layers[k].bias is not None:
                z += layers[k].bias
            if J is None:
                Jz = np.broadcast_to(W.T[:, None, :], (d, n, W.shape[0]))
            else:
                Jz = (J.reshape(d * n, -1) @ W.T).reshape(d, n, -1)
            if k == li:
                break
            act = layers[k].activation
            if act.kinked:                    # the slope on each side: z > 0, or sign(z)
                slope = act.derivative(z)
                h = z * slope
                J = Jz * slope
            else:
                h = z
                J = Jz
        A0, z0 = Jz, z                        # layer li on the cells: z0 + A0 (x - centroid)
        lc = np.repeat(np.arange(n), cnt)
        rel = self.X.view[cvv] - cen[lc]
        w = z.shape[1]
        # U rows: d gradient rows and the value at the centroid (the affine centre), then the
        # interval centre; V rows: the radius of the affine form, then the interval radius
        U = np.empty((d + 2, n, w))
        U[:d] = Jz
        U[d] = z
        E = None
        lo, hi = zlo, zhi
        nl = len(layers)
        inter = []
        relax = []
        for k in range(li, nl):
            inter.append((lo, hi))
            rx = layers[k].activation.relaxation(lo, hi)
            relax.append(rx)
            ylo, yhi = layers[k].activation.interval(lo, hi)
            if rx is not None:
                up_s, up_c, _low = rx
                U[:d + 1] *= up_s
                half = 0.5 * up_c
                U[d] += half
                E = half if E is None else E * np.abs(up_s) + half
            U[d + 1] = 0.5 * (ylo + yhi)
            Wm, Wa, b = self._mats[k + 1]
            w2 = Wm.shape[0]
            U = (U.reshape(-1, U.shape[2]) @ Wm.T).reshape(d + 2, n, w2)
            if b is not None:
                U[d] += b
                U[d + 1] += b
            R = 0.5 * (yhi - ylo)
            if E is None:
                rad = R @ Wa.T
            else:
                V = (np.stack([E, R]).reshape(2 * n, -1) @ Wa.T).reshape(2, n, w2)
                E, rad = V[0], V[1]
            mid = U[d + 1]
            if k + 1 < nl:
                cval = U[d].copy()
                spread = np.zeros((n, w2)) if E is None else E.copy()
                for a in range(d):
                    cval += U[a] * bc[:, a:a + 1]
                    spread += np.abs(U[a]) * hw[:, a:a + 1]
                lo = np.maximum(mid - rad, cval - spread)
                hi = np.minimum(mid + rad, cval + spread)
            else:
                v = U[d, lc, 0] + np.einsum("vk,kv->v", rel, U[:d, lc, 0])
                e0 = 0.0 if E is None else E[:, 0]
                lo = np.maximum(mid[:, 0] - rad[:, 0], np.minimum.reduceat(v, off) - e0)
                hi = np.minimum(mid[:, 0] + rad[:, 0], np.maximum.reduceat(v, off) + e0)
        if self.backward:
            blo, bhi = self._backward_bound(li, relax, A0, z0, rel, lc, off)
            lo = np.maximum(lo, blo)
            hi = np.minimum(hi, bhi)
        return lo, hi

    def _backward_bound(self, li, relax, A0, z0, rel, lc, off):
        """Linear bounds of f by back-substitution (CROWN) down to layer ``li``.

        ``relax[k - li]`` is the relaxation of layer k's activation on the cells
        (:meth:`Activation.relaxation`, from bounds of its pre-activations); the result is a linear
        function of layer ``li``'s pre-activations, which are affine on each cell
        (``z0 + A0 (x - centroid)``, ``A0``: (dim, cell, neuron)), so it is an affine function
        of ``x`` there, minimised exactly over the cell's vertices (``rel``: their positions
        relative to their cell's centroid, ``lc``: their cell).
        """
        nl = len(self.net.layers)
        n = len(off)
        Wm, _Wa, b = self._mats[nl]
        w_out = Wm[0]
        b_out = float(b[0]) if b is not None else 0.0
        # both passes at once: row 0 bounds f from below, row 1 bounds -f from below
        lam = np.empty((2, n, len(w_out)))
        lam[0] = w_out
        lam[1] = -w_out
        const = np.empty((2, n))
        const[0] = b_out
        const[1] = -b_out
        for k in range(nl - 1, li - 1, -1):
            rx = relax[k - li]
            if rx is None:
                mu = lam
            else:
                up_s, up_c, low_s = rx
                negl = lam < 0
                mu = lam * np.where(negl, up_s, low_s)
                const += np.einsum("snw,nw->sn", lam * negl, up_c)
            if k == li:
                break
            Wb = self._wb[k]
            lb = (mu.reshape(2 * n, -1) @ Wb).reshape(2, n, -1)
            lam = lb[:, :, :-1]
            const += lb[:, :, -1]
        grad = np.einsum("dnw,snw->snd", A0, mu)
        c0 = const + np.einsum("snw,nw->sn", mu, z0)
        vals = np.einsum("vd,svd->sv", rel, grad[:, lc]) + c0[:, lc]
        return np.minimum.reduceat(vals[0], off), -np.minimum.reduceat(vals[1], off)

    def _forward(self, li: int, Zc: np.ndarray) -> np.ndarray:
        """f from layer ``li``'s pre-activations (columns of ``Zc``, one per point)."""
        layers = self.net.layers
        h = layers[li].activation(Zc)
        for k in range(li + 1, len(layers)):
            z = layers[k].weight @ h
            if layers[k].bias is not None:
                z += layers[k].bias[:, None]
            h = layers[k].activation(z)
        out = self.net.output
        if out.name == "sum":
            return h.sum(axis=0)
        f = out.weight[0] @ h
        return f + out.bias[0] if out.bias is not None else f

    def _keep(self, li: int, sel: np.ndarray, cvv, off, cnt, zmin, zmax, zscale, Z):
        """Which of the cells ``sel`` may meet the level set (with caps: or are inside on the box).

        Stages, cheapest first, each on the cells the previous ones left undecided: f at the
        vertices (both signs: the cell certainly meets the level set), interval arithmetic,
        then the symbolic bound with back-substitution (:meth:`_symbolic_bound`). The last two
        run on blocks of cells, in parallel threads when there are several workers.
        """
        zlo, zhi = zmin - self.tol * zscale, zmax + self.tol * zscale
        margin = self.tol * self.fscale_bound + 1e-300
        c = self.level
        n = len(off)
        # f at the vertices (exact): a cell with vertices on both sides certainly meets f = c
        uv, uinv = _unique_inv(cvv, Z.shape[1])
        fv = self._vertex_f(li, uv, Z)[uinv]
        vmin = np.minimum.reduceat(fv, off)
        vmax = np.maximum.reduceat(fv, off)
        sure = (vmin < c - margin) & (vmax > c + margin)
        flo = np.full(n, -np.inf)
        fhi = np.full(n, np.inf)

        def bound(part):
            _inter, blo, bhi = self._ibp_layers(li, zlo[part], zhi[part])
            if not self.symbolic:
                return blo, bhi
            und = np.nonzero((blo <= c + margin) & (bhi >= c - margin))[0]
            if len(und):
                sub = part[und]
                scv, soff, scnt = self._subset(cvv, off, cnt, sub)
                cen, bmin, bmax = self._geometry(scv, soff, scnt)
                slo, shi = self._symbolic_bound(li, zlo[sub], zhi[sub], cen, bmin, bmax,
                                                scv, soff, scnt)
                # a bound that excludes an exact vertex value is unsound (a wrong activation
                # pattern on a cell thinner than round-off): keep interval arithmetic there
                sound = (slo <= vmin[sub] + margin) & (shi >= vmax[sub] - margin)
                blo[und] = np.where(sound, np.maximum(blo[und], slo), blo[und])
                bhi[und] = np.where(sound, np.minimum(bhi[und], shi), bhi[und])
            return blo, bhi

        open_ = np.nonzero(~sure)[0]
        nparts = max(-(-len(open_) // self.chunk), min(self.workers, -(-len(open_) // 256)))
        parts = np.array_split(open_, nparts) if nparts else []
        for part, (blo, bhi) in zip(parts, self._map(bound, parts)):
            flo[part] = blo
            fhi[part] = bhi
        keep = (flo <= c + margin) & (fhi >= c - margin)
        if self.cap:
            inside = (fhi < c - margin) if not self.flip else (flo > c + margin)
            if inside.any():
                cells = self.cells.view
                st, ct = cells[sel, 0], cells[sel, 1]
                rec = self.rec.view[_ranges(st, ct)]
                onbox = (rec[:, 2] >= 0) & (rec[:, 2] < self.nb)
                if self.d == 3:
                    onbox |= (rec[:, 3] >= 0) & (rec[:, 3] < self.nb)
                touch = np.logical_or.reduceat(onbox, np.cumsum(ct) - ct)
                keep |= inside & touch
        return keep

    def _vertex_f(self, li: int, uv: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """f at the vertices ``uv`` from their layer-``li`` pre-activations (columns of ``Z``),
        cached per vertex for the layer (``self._fcache``, NaN where not yet computed)."""
        nv = Z.shape[1]
        fc = self._fcache
        if len(fc) < nv:
            fc = np.concatenate([fc, np.full(max(nv, 2 * len(fc)) - len(fc), np.nan)])
            self._fcache = fc
        need = uv[np.isnan(fc[uv])]
        if len(need):
            fc[need] = self._forward(li, Z[:, need])
        return fc[uv]

    def _prune_pass(self, li, sel, Z, zscale, eps, cand, j_next):
        """Bound the cells ``sel`` mid-layer; drop those that cannot meet the level set and
        refresh their candidate flags from exact ranges."""
        cvv, off, cnt = self._cell_vertices(sel)
        zmin, zmax = self._minmax(Z.view, cvv, off)
        keep = self._keep(li, sel, cvv, off, cnt, zmin, zmax, zscale, Z.view)
        dead = sel[~keep]
        self.alive.a[dead, 0] = False
        cand.a[dead] = False
        ks = sel[keep]
        w = cand.a.shape[1]
        cand.a[ks] = (zmin[keep] < -eps) & (zmax[keep] > eps) & (np.arange(w) >= j_next)[None, :]
        self.dirty.a[sel, 0] = False
        self.pruned_mid += len(dead)

    # -- main loop ---------------------------------------------------------------------------
    def run(self) -> PolyMesh:
        # BLAS runs single-threaded: its threads would oversubscribe the cores with ours, and
        # spin on the small products used here; this also makes the result independent of the
        # number of threads (blocks of cells are bounded in parallel, numpy releases the GIL)
        with _single_threaded_blas():
            if self.workers <= 1:
                return self._run()
            with ThreadPoolExecutor(self.workers) as pool:
                self._map = pool.map
                try:
                    return self._run()
                finally:
                    self._map = map

    def _run(self) -> PolyMesh:
        t0 = time.perf_counter()
        net = self.net
        layers = net.layers
        self._init_box()
        # a loose a-priori magnitude of f, for the pruning margin
        self.fscale_bound = self._magnitude_bound()
        Z = None
        for li, layer in enumerate(layers):
            Wl, bl = layer.weight, layer.bias
            if li == 0:
                Zv = Wl @ self.X.view.T
                hmax = np.maximum(np.abs(self.lo), np.abs(self.hi))
            else:
                H = layers[li - 1].activation(Z.view)
                hmax = np.abs(H).max(axis=1) if H.shape[1] else np.zeros(H.shape[0])
                Zv = Wl @ H
            if bl is not None:
                Zv += bl[:, None]
            zscale = self._rounding_scale(Wl, bl, hmax)
            eps = self.tol * zscale
            Z = _GrowCols(Zv)
            self._fcache = np.zeros(0)
            n_before = self.cells.n
            allc = np.arange(n_before)
            cvv, off, cnt = self._cell_vertices(allc)
            zmin, zmax = self._minmax(Z.view, cvv, off)
            if self.prune:
                keep = self._keep(li, allc, cvv, off, cnt, zmin, zmax, zscale, Z.view)
                if not keep.all():
                    used = self._compact(keep)
                    Z.reset(Z.view[:, used])
                    self._fcache = self._fcache[:len(used)][used]
                    zmin, zmax = zmin[keep], zmax[keep]
            self.layer_stats.append({"layer": li, "cells": n_before, "kept": self.cells.n,
                                     "seconds": round(time.perf_counter() - t0, 4)})
            if self.cells.n == 0:
                break
            if not self.kinked[li]:
                continue
            nc = self.cells.n
            cand = _Grow(layer.width, bool, cap=max(256, 2 * nc))
            cand.extend((zmin < -eps) & (zmax > eps))
            self.dirty = _Grow(1, bool, cap=max(256, 2 * nc))
            self.dirty.extend(np.zeros((nc, 1), dtype=bool))
            self.alive = _Grow(1, bool, cap=max(256, 2 * nc))
            self.alive.extend(np.ones((nc, 1), dtype=bool))
            base = self.label_offset[li]
            last_pass = nc
            for j in range(layer.width):
                S = np.nonzero(cand.view[:, j])[0]
                if len(S):
                    self._cut_and_apply(S, Z.view[j], zscale[j], base + j, Zcur=Z, cand=cand, col=j)
                self.done += 1
                self._report()
                if self.prune and j + 1 < layer.width:
                    dirty = np.nonzero(self.dirty.view[:, 0])[0]
                    if len(dirty) >= max(self.mid_min, self.mid_frac * last_pass):
                        self._prune_pass(li, dirty, Z, zscale, eps, cand, j + 1)
                        last_pass = int(self.alive.view.sum())
            used = self._compact(self.alive.view[:, 0])
            Z.reset(Z.view[:, used])
            self.alive = None
        # final: f at the vertices
        if self.cells.n == 0:
            return self._empty(t0)
        H = layers[-1].activation(Z.view)
        out = net.output
        hm = np.abs(H).max(axis=1) if H.shape[1] else np.zeros(H.shape[0])
        if out.name == "sum":
            F = H.sum(axis=0)
            fscale = float(self._rounding_scale(np.ones((1, len(hm))), None, hm)[0])
        else:
            F = out.weight[0] @ H
            if out.bias is not None:
                F = F + out.bias[0]
            fscale = float(self._rounding_scale(out.weight[:1], out.bias, hm)[0])
        self.fscale = fscale
        G = F - self.level
        if self.flip:
            G = -G
        return self._emit(G, fscale, t0)

    def _rounding_scale(self, W, b, hmax):
        """Rounding scale of the affine map ``W h + b`` of the next layer (or the output), see
        the module docstring: ``|W| m + |b|`` with ``m`` the larger of the inputs' largest
        magnitudes ``hmax`` and the rounding scales of the inputs' own terms (an input that is
        a small difference of large terms carries their round-off). Remembers the terms'
        scale for the next call; call once per layer, in order.
        """
        absb = np.abs(b) if b is not None else 0.0
        m = hmax if self._terms is None else np.maximum(hmax, self._terms)
        self._terms = np.abs(W) @ hmax + absb
        return np.abs(W) @ m + absb

    def _magnitude_bound(self) -> float:
        """An a-priori bound of |f| over the box (interval arithmetic), for pruning margins."""
        layer = self.net.layers[0]
        c = 0.5 * (self.lo + self.hi)
        r = 0.5 * (self.hi - self.lo)
        mid = layer.weight @ c + (layer.bias if layer.bias is not None else 0.0)
        rad = np.abs(layer.weight) @ r
        _inter, flo, fhi = self._ibp_layers(0, (mid - rad)[None, :], (mid + rad)[None, :])
        return max(abs(float(flo[0])), abs(float(fhi[0])), 1e-300)

    def _report(self):
        if self.progress is None:
            return
        frac = self.done / max(self.n_kinked, 1)
        r = self.progress(min(frac, 1.0))
        if r is False:
            raise Cancelled("level-set extraction cancelled")

    # -- output ------------------------------------------------------------------------------
    def _empty(self, t0):
        d = self.d
        mesh = PolyMesh(np.zeros((0, d)), np.zeros(0, np.int64), np.zeros(0, np.int64),
                        region_patterns=np.zeros((0, self.net.n_neurons), dtype=bool))
        self._info(mesh, t0, 0, 0, 0.0)
        return mesh

    def _info(self, mesh, t0, regions, capfaces, fscale):
        mesh.info.update({
            "method": "exact", "level": self.level, "vertices": mesh.n_vertices,
            "faces": mesh.n_faces, "regions_crossed": int(regions), "cap_faces": int(capfaces),
            "seconds": time.perf_counter() - t0, "level_scale": float(fscale),
            "cells_max": int(self.cells_max), "degenerate_cells": int(self.degenerate),
            "layers": self.layer_stats, "pruned_mid_layer": int(self.pruned_mid),
            "max_level_error": mesh.level_error(self.net, self.level, cap_faces=capfaces),
            "closed": bool(mesh.n_faces > 0 and mesh.is_closed_manifold()),
            "watertight": is_watertight(mesh),
            "reoriented_faces": int(getattr(self, "flipped", 0)),
        })

    def _emit(self, G: np.ndarray, fscale: float, t0) -> PolyMesh:
        """Emit the level set from the final cells; ``G = f - c`` (negated for inside=above)."""
        d = self.d
        cells = self.cells.view
        nc = len(cells)
        S = np.arange(nc)
        X = self.X.view
        nv = len(X)
        cut, sv = self._robust_cut(S, G, fscale)
        st, ct = cells[:, 0], cells[:, 1]
        R = self.rec.view[_ranges(st, ct)]
        lc = np.repeat(S, ct)
        sa, sb = sv[R[:, 0]], sv[R[:, 1]]
        off = np.cumsum(ct) - ct
        cpos = np.logical_or.reduceat((sa > 0) | (sb > 0), off)
        cneg = np.logical_or.reduceat((sa < 0) | (sb < 0), off)
        crossed = cpos & cneg
        # new vertices: one per crossing edge of the crossed cells (shared by all its cells)
        if cut is not None:
            ua, ub = cut.groups // nv, cut.groups % nv
            t = _crossing(G[ua], G[ub], cut.level)[:, None]
            Xall = np.concatenate([X, X[ua] + t * (X[ub] - X[ua])], axis=0)
            good_cell = np.zeros(nc, dtype=bool)
            good_cell[cut.cells[cut.good]] = True
        else:
            Xall = X
            good_cell = np.zeros(nc, dtype=bool)
        faces_v, faces_sz, faces_reg = [], [], []
        NV = len(Xall)

        def edge_point(u, v):
            """The new vertex on the crossing edge (u, v), -1 for an edge not cut."""
            key = np.minimum(u, v) * nv + np.maximum(u, v)
            if cut is None or len(cut.groups) == 0:
                return np.full(len(u), -1, dtype=np.int64)
            pos_ = np.minimum(np.searchsorted(cut.groups, key), len(cut.groups) - 1)
            return np.where(cut.groups[pos_] == key, nv + pos_, -1)

        # the new vertex of every crossing record of the full record list
        xm = (sa.astype(np.int16) * sb) < 0
        m = np.full(len(R), -1, dtype=np.int64)
        m[xm] = edge_point(R[xm, 0], R[xm, 1])

        # (1) cross-sections of the crossed cells. Their corners and edges come from the cut
        # (shared with the neighbours); their orientation from the signs around an oriented
        # face of the cell, never from the direction of the level set's normal, which is
        # meaningless where f is almost flat.
        if cut is not None:
            gl = cut.good[cut.lc]
            cR, clc = cut.R, cut.lc
            if d == 3:
                zi = cut.zz_idx[gl[cut.zz_idx]]
                chg = cut.good[cut.chord_lc]
                ga = np.concatenate([cut.chord_lc[chg], clc[zi]])
                ea = np.concatenate([cut.chords[chg, 0], cR[zi, 0]])
                eb = np.concatenate([cut.chords[chg, 1], cR[zi, 1]])
                nC = len(cut.cells)
                okg, gid, vid = _link_cycles(ga, ea, eb, nC)
                # faces of the good crossed cells that are cut, linked and oriented outwards
                L = self.n_labels
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
                _fok, fgid, fvid = _link_cycles(finv.ravel(), cR[hr[sel], 0], cR[hr[sel], 1], len(fk))
                fstarts = _cycle_layout(fgid)[0] if len(fgid) else np.zeros(0, np.int64)
                fcyc = fgid[fstarts] if len(fgid) else np.zeros(0, np.int64)
                if len(fgid):
                    fn = _cycle_normals(fgid, fvid, X)
                    # outward: from the cell's centroid to the face's
                    cvv, coff, ccnt = self._cell_vertices(cut.cells)
                    ccen = self._geometry(cvv, coff, ccnt)[0]
                    fsz = _cycle_layout(fgid)[1]
                    fcen = np.zeros((len(fstarts), 3))
                    gnum = np.repeat(np.arange(len(fstarts)), fsz)
                    for k in range(3):
                        fcen[:, k] = np.bincount(gnum, weights=X[fvid, k]) / fsz
                    fcell = fk[fcyc] // L
                    outward = np.einsum("ij,ij->i", fn, fcen - ccen[fcell]) >= 0
                    fvid = _reverse_cycles(fgid, fvid, ~outward)
                    fp, fq, fpq = _transitions(fgid, fvid, sv, edge_point)
                    # every cut face votes: the cross-section of the negative child runs the
                    # face's chord the other way, i.e. contains the directed edge q_F -> p_F.
                    # Weight: how clearly the face is outward (cosine of the centroid offset).
                    offv = fcen - ccen[fcell]
                    wgt = np.abs(np.einsum("ij,ij->i", fn, offv)) / np.maximum(
                        np.linalg.norm(fn, axis=1) * np.linalg.norm(offv, axis=1), 1e-300)
                    starts, sizes, gnum2, nxt = _cycle_layout(gid)
                    ncyc = len(starts)
                    cyc_cell = gid[starts]
                    cyc_of_cell = np.full(nC, -1, dtype=np.int64)
                    cyc_of_cell[cyc_cell] = np.arange(ncyc)
                    ekey = np.minimum(vid, vid[nxt]) * NV + np.maximum(vid, vid[nxt])
                    edir = vid < vid[nxt]                      # P runs min -> max here
                    fc = cyc_of_cell[fcell]
                    usable = fpq & (fc >= 0)
                    qk = np.minimum(fp, fq) * NV + np.maximum(fp, fq)
                    _uk, rk = np.unique(np.concatenate([ekey, qk]), return_inverse=True)
                    rk = rk.ravel()
                    nkey = len(_uk)
                    comb_all = gnum2 * nkey + rk[:len(ekey)]
                    eorder = np.argsort(comb_all, kind="stable")
                    comb, ed_s = comb_all[eorder], edir[eorder]
                    look = np.where(usable, fc, 0) * nkey + rk[len(ekey):]
                    pos_ = np.minimum(np.searchsorted(comb, look), len(comb) - 1)
                    found = usable & (comb[pos_] == look)
                    # want q -> p: min -> max iff q < p
                    agree = ed_s[pos_] == (fq < fp)
                    vote = np.where(found, np.where(agree, 1.0, -1.0) * (wgt + 1e-3), 0.0)
                    score = np.bincount(np.where(found, fc, 0), weights=vote, minlength=ncyc)
                    # a cycle without a vote (every cut face too thin to tell its outward
                    # side) keeps its linked order: the repair below orients it from its
                    # neighbours, as every cross-section
                    vid = _reverse_cycles(gid, vid, score < 0)
                    keepc = okg[gid]
                    gid, vid = gid[keepc], vid[keepc]
                faces_v.append(vid)
                ug, sz = np.unique(gid, return_counts=True)
                faces_sz.append(sz)
                faces_reg.append(cut.cells[ug])
                broken = np.zeros(nc, dtype=bool)
                broken[cut.cells[cut.good & ~okg]] = True
            else:
                # 2-D: the boundary of each good crossed cell, counter-clockwise
                ga = clc[gl]
                okg, gid, vid = _link_cycles(ga, cR[gl, 0], cR[gl, 1], len(cut.cells))
                if len(gid):
                    nrm = _cycle_normals(gid, vid, X)
                    vid = _reverse_cycles(gid, vid, nrm[:, 2] < 0)
                    p, q, okpq = _transitions(gid, vid, sv, edge_point)
                    cyc = gid[_cycle_layout(gid)[0]]
                    # inside (negative) on the left of p -> q
                    faces_v.append(np.stack([p[okpq], q[okpq]], axis=1).ravel())
                    faces_sz.append(np.full(int(okpq.sum()), 2, dtype=np.int64))
                    faces_reg.append(cut.cells[cyc[okpq]])
                    okg[cyc[~okpq]] = False
                broken = np.zeros(nc, dtype=bool)
                broken[cut.cells[cut.good & ~okg]] = True
            # inconsistent cells (counted already): best effort, their zero points by angle
            bad = (crossed & ~good_cell) | broken
            self.degenerate += int(broken.sum())
            if d == 3 and bad.any():
                pc, nc_ = self._side_centroids(R, lc, sa, sb, X, nc)
                br = bad[lc]
                za_, zb_ = br & (sa == 0), br & (sb == 0)
                xb = br & (m >= 0)
                zk = np.unique(np.concatenate([lc[xb] * NV + m[xb], lc[za_] * NV + R[za_, 0],
                                               lc[zb_] * NV + R[zb_, 1]]))
                zc, zvtx = zk // NV, zk % NV
                okb = np.bincount(zc, minlength=nc) >= 3
                gid, vid = self._sort_polygons(zc, zvtx, Xall, pc - nc_, okb)
                faces_v.append(vid)
                ug, sz = np.unique(gid, return_counts=True)
                faces_sz.append(sz)
                faces_reg.append(ug)
        n_cross = int(crossed.sum())
        n_sec_parts = len(faces_sz)

        # (2) faces lying in the level set (f == c on a whole face) of uncrossed cells
        zf = self._zero_faces(R, lc, sa, sb, cpos, cneg, crossed, Xall, nc, G)
        for arr, lst in zip(zf, (faces_v, faces_sz, faces_reg)):
            lst.append(arr)
        zero_free = zf[3]

        # (3) caps: box sides inside the solid
        ncap = 0
        if self.cap:
            cv, csz, creg, cap_free = self._caps(R, lc, sa, sb, Xall, edge_point)
            faces_v.append(cv)
            faces_sz.append(csz)
            faces_reg.append(creg)
            ncap = len(csz)

        corners = np.concatenate(faces_v) if faces_v else np.zeros(0, np.int64)
        sizes = np.concatenate(faces_sz) if faces_sz else np.zeros(0, np.int64)
        regs = np.concatenate(faces_reg) if faces_reg else np.zeros(0, np.int64)
        # orientation repair: the cross-sections (first n_sec faces) and the caps too small
        # for their orientation to be read off their coordinates follow their neighbours
        n_sec = int(sum(len(x) for x in faces_sz[:n_sec_parts]))
        free = np.zeros(len(sizes), dtype=bool)
        free[:n_sec] = True
        free[n_sec:n_sec + len(zero_free)] = zero_free
        if ncap:
            free[len(sizes) - ncap:] = cap_free
        corners, flipped = _repair_orientation(corners, sizes, free)
        self.flipped = flipped
        # keep only used vertices; region ids: 0.. over cells that emitted something
        usedv = np.zeros(len(Xall), dtype=bool)
        usedv[corners] = True
        newv = np.cumsum(usedv) - 1
        corners = newv[corners]
        ureg, rinv = np.unique(regs, return_inverse=True)
        patterns = self._patterns(ureg)
        mesh = PolyMesh(Xall[usedv], corners, sizes, rinv.ravel(), region_patterns=patterns)
        self._info(mesh, t0, n_cross, ncap, fscale)
        return mesh

    def _side_centroids(self, R, lc, sa, sb, X, nc):
        """Mean position of the positive and of the negative vertices of each cell."""
        d = self.d
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

    @staticmethod
    def _sort_polygons(gid, vid, X, normal, ok):
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

    def _zero_faces(self, R, lc, sa, sb, cpos, cneg, crossed, Xall, nc, G):
        """Faces (3-D) / edges (2-D) of uncrossed cells on which f == c, emitted per the rules.

        A face is emitted where exactly one of its two cells is inside. A face with one cell
        (not in a box side) had its other cell pruned, which happens only where ``f - c`` is
        beyond the pruning margin on that cell, so the strict signs of ``G = f - c`` at the
        face's corners tell on which side the pruned cell was. The corners of a face follow
        its cell's edges. Returns (corners, sizes, cells, unsure): ``unsure`` marks faces whose
        orientation could not be read off their coordinates (smaller than round-off); they
        follow their neighbours (see :func:`_repair_orientation`).
        """
        d = self.d
        empty = (np.zeros(0, np.int64),) * 3 + (np.zeros(0, dtype=bool),)
        # cells not crossed with zero vertices
        zrec = (~crossed[lc]) & (sa == 0) & (sb == 0)
        if not zrec.any():
            return empty
        state = np.where(cneg, -1, np.where(cpos, 1, 0))      # -1 inside, +1 outside, 0 f == c

        def lone(cc, verts):
            """Whether a face of cell ``cc`` whose neighbour was pruned bounds the solid."""
            g = G[np.asarray(verts, np.int64)]
            other = 1 if np.all(g > 0) else (-1 if np.all(g < 0) else -state[cc])
            return (state[cc] == -1) != (other == -1)

        if d == 2:
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
                grp = list(range(i, j))
                emit = None
                if lab[i] < self.nb and lab[i] >= 0:
                    cc = c[i]
                    if state[cc] == -1 or (state[cc] == 1 and not self.cap):
                        emit = (cc, state[cc])
                else:
                    sts = [state[c[k]] for k in grp]
                    ins = [k for k in grp if state[c[k]] == -1]
                    if len(ins) == 1 and len(grp) == 2:
                        emit = (c[ins[0]], -1)
                    elif len(grp) == 1 and lone(c[i], (a[i], b[i])):
                        emit = (c[i], sts[0])
                if emit is not None:
                    cc, s = emit
                    cen = self._cell_centroid(R, lc, cc, Xall)
                    p, q = a[i], b[i]
                    e = Xall[q] - Xall[p]
                    r = cen - Xall[p]
                    cross = e[0] * r[1] - e[1] * r[0]
                    # inside cell (s=-1) must be on the left; outside cell (s=+1) on the right
                    if (s == -1) != (cross > 0):
                        p, q = q, p
                    out_v += [p, q]
                    out_r.append(cc)
                    out_u.append(abs(cross) <= 2 * (abs(e).sum() + abs(r).sum())
                                 * self._round_off())
                i = j
            return (np.asarray(out_v, np.int64), np.full(len(out_r), 2, np.int64),
                    np.asarray(out_r, np.int64), np.asarray(out_u, dtype=bool))
        # 3-D: group the half-records of candidate cells by (cell, face label)
        cand = (~crossed) & np.bincount(lc[zrec], minlength=nc).astype(bool)
        rsel = cand[lc]
        idx = np.nonzero(rsel)[0]
        L = self.n_labels
        hk = np.concatenate([lc[idx] * L + R[idx, 2], lc[idx] * L + R[idx, 3]])
        hz = np.concatenate([(sa[idx] == 0) & (sb[idx] == 0)] * 2)
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
        # the emitted faces: their edges (linked into cycles below), cell, outward direction
        e_grp, e_rec, out_r, dirs = [], [], [], []
        for (lab, verts), own in faces.items():
            owners = [o for o, _recs in own]
            emit = None
            if lab < self.nb:
                # a box side in the level set: part of the solid's boundary if the cell is
                # inside; without caps also when it only touches (the level set is there)
                cc = owners[0]
                if state[cc] == -1 or (state[cc] == 1 and not self.cap):
                    emit = (cc, state[cc])
            else:
                sts = [state[o] for o in owners]
                if len(owners) == 2 and sorted(sts)[0] == -1 and sorted(sts)[1] != -1:
                    emit = (owners[sts.index(-1)], -1)
                elif len(owners) == 1 and lone(owners[0], verts):
                    emit = (owners[0], sts[0])
            if emit is None:
                continue
            cc, s = emit
            cen = self._cell_centroid(R, lc, cc, Xall)
            fc = Xall[np.asarray(verts, np.int64)].mean(axis=0)
            # normal must point to the positive (outside) side
            dirs.append((fc - cen) if s == -1 else (cen - fc))
            recs = own[owners.index(cc)][1]
            e_grp.append(np.full(len(recs), len(out_r), dtype=np.int64))
            e_rec.append(recs)
            out_r.append(cc)
        if not out_r:
            return empty
        # corners in the order of the cell's edges (an angular sort mixes up corners closer
        # than round-off), turned to the outward direction
        recs = np.concatenate(e_rec)
        okg, gid, vid = _link_cycles(np.concatenate(e_grp), R[recs, 0], R[recs, 1], len(out_r))
        self.degenerate += int((~okg).sum())
        if len(gid) == 0:
            return empty
        starts, sizes, gnum, _nxt = _cycle_layout(gid)
        cyc = gid[starts]
        dirs = np.asarray(dirs)[cyc]
        nrm = _cycle_normals(gid, vid, Xall)
        dot = np.einsum("ij,ij->i", nrm, dirs)
        vid = _reverse_cycles(gid, vid, dot < 0)
        ext = np.maximum.reduceat(np.abs(Xall[vid] - Xall[vid[starts]][gnum]).max(axis=1), starts)
        # unsure: the face's area or its offset from the cell's centroid is below round-off
        unsure = np.abs(dot) <= 2 * np.linalg.norm(dirs, axis=1) * sizes * ext * self._round_off() \
            + 4 * np.linalg.norm(nrm, axis=1) * self._round_off()
        return vid, sizes, np.asarray(out_r, np.int64)[cyc], unsure

    def _cell_centroid(self, R, lc, c, X):
        sel = lc == c
        v = np.unique(np.concatenate([R[sel, 0], R[sel, 1]]))
        return X[v].mean(axis=0)

    def _caps(self, R, lc, sa, sb, Xall, edge_point):
        """The parts of the box sides where f < c (3-D polygons, 2-D segments)."""
        d = self.d
        nb = self.nb
        if d == 2:
            onbox = (R[:, 2] >= 0) & (R[:, 2] < nb)
            sel = onbox & ((sa < 0) | (sb < 0))
            idx = np.nonzero(sel)[0]
            a, b = R[idx, 0], R[idx, 1]
            s_a, s_b = sa[idx], sb[idx]
            xm = (s_a.astype(np.int16) * s_b) < 0
            # keep the negative part of crossed edges
            mm = np.full(len(idx), -1, dtype=np.int64)
            mm[xm] = edge_point(a[xm], b[xm])
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
            return (np.stack([p, q], axis=1).ravel(), np.full(len(idx), 2, np.int64), lc[idx],
                    np.abs(pb - pa) <= self._round_off())
        # 3-D: each box face of a cell with a negative vertex, as an oriented cycle (outward
        # box normal); its negative part is read off the signs around it.
        nb = self.nb
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
        okg, gid, vid = _link_cycles(ginv.ravel(), np.concatenate(ra)[sel], np.concatenate(rb)[sel],
                                     len(ukey))
        self.degenerate += int((~okg).sum())
        if len(gid) == 0:
            return empty
        labs = ukey % nb
        # orientation: the Newell normal against the outward box normal, where it is larger
        # than its round-off; a face too small for that (a sliver whose corners round onto a
        # line) follows its neighbours (see _repair_orientation)
        starts, sizes, gnum, nxt = _cycle_layout(gid)
        cyc = gid[starts]
        area2 = _cycle_normals(gid, vid, Xall)[np.arange(len(starts)), labs[cyc] // 2]
        area2 = np.where(labs[cyc] % 2 == 1, area2, -area2)
        ext = np.maximum.reduceat(np.abs(Xall[vid] - Xall[vid[starts]][gnum]).max(axis=1), starts)
        unsure = np.zeros(len(ukey), dtype=bool)
        unsure[cyc] = np.abs(area2) <= 2 * sizes * ext * self._round_off()
        vid = _reverse_cycles(gid, vid, area2 < 0)
        sv = np.zeros(len(Xall), dtype=np.int8)
        sv[R[:, 0]] = sa
        sv[R[:, 1]] = sb
        s_ = sv[vid]
        sn = s_[nxt]
        keep_v = s_ <= 0
        cross = (s_.astype(np.int16) * sn) < 0
        # the crossing points: the new vertices numbered after the complex's vertices
        mpt = edge_point(vid[cross], vid[nxt[cross]])
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

    def _round_off(self) -> float:
        """A bound of the round-off in vertex coordinates (interpolated, layer after layer)."""
        extent = max(float(np.abs(self.lo).max()), float(np.abs(self.hi).max()))
        return 256 * float(np.finfo(np.float64).eps) * extent

    def _patterns(self, cell_ids: np.ndarray) -> np.ndarray:
        """Activation pattern (z > tolerance) of each listed cell, at its vertex centroid."""
        n = self.net.n_neurons
        if len(cell_ids) == 0:
            return np.zeros((0, n), dtype=bool)
        cells = self.cells.view
        st, ct = cells[cell_ids, 0], cells[cell_ids, 1]
        R = self.rec.view[_ranges(st, ct)]
        lc = np.repeat(np.arange(len(cell_ids)), ct)
        X = self.X.view
        # vertex centroid (vertices counted with multiplicity of edge ends: still interior)
        cen = np.zeros((len(cell_ids), self.d))
        cnt = np.bincount(lc, minlength=len(cell_ids)) * 2
        for k in range(self.d):
            cen[:, k] = (np.bincount(lc, weights=X[R[:, 0], k], minlength=len(cell_ids))
                         + np.bincount(lc, weights=X[R[:, 1], k], minlength=len(cell_ids)))
        cen /= np.maximum(cnt, 1)[:, None]
        pats = []
        h = cen
        for layer in self.net.layers:
            z = layer.preactivation(h)
            pats.append(z > 0)
            h = layer.activation(z)
        return np.concatenate(pats, axis=1)


def _link_cycles(grp: np.ndarray, a: np.ndarray, b: np.ndarray, ngroups: int):
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


def _repair_orientation(corners: np.ndarray, sizes: np.ndarray, free: np.ndarray, iters: int = 20):
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


def _cycle_layout(gid):
    """Start, size, cycle number per position and successor position of listed cycles."""
    starts = np.flatnonzero(np.r_[True, gid[1:] != gid[:-1]])
    sizes = np.diff(np.r_[starts, len(gid)])
    gnum = np.repeat(np.arange(len(starts)), sizes)
    nxt = np.arange(len(gid)) + 1
    nxt[starts + sizes - 1] = starts
    return starts, sizes, gnum, nxt


def _cycle_normals(gid, vid, X):
    """Newell normal of every cycle (2-D points get z = 0, so z is twice the signed area)."""
    starts, _sizes, gnum, nxt = _cycle_layout(gid)
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


def _reverse_cycles(gid, vid, flip):
    """Reverse the cycles (in listed order) where ``flip`` is True."""
    if not np.any(flip):
        return vid
    starts, sizes, gnum, _nxt = _cycle_layout(gid)
    pos = np.arange(len(vid))
    st = starts[gnum]
    rev = st + sizes[gnum] - 1 - (pos - st)
    return vid[np.where(flip[gnum], rev, pos)]


def _transitions(gid, vid, sv, edge_point):
    """Where oriented cycles pass from negative to positive (p) and back (q).

    ``sv``: vertex signs; ``edge_point(u, v)``: the vertex on a crossing edge. Returns per
    cycle (in listed order) ``p``, ``q`` and whether exactly one of each was found.
    """
    starts, _sizes, gnum, nxt = _cycle_layout(gid)
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


# ---------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------
def extract_level_set_exact(net: Network, level: float = 0.0, bbox=(-1.0, 1.0), *, cap: bool = False,
                            inside: str = "below", merge_coplanar: bool = False,
                            tolerance: float = TOLERANCE, progress=None, prune: bool = True,
                            workers: int | None = None) -> PolyMesh:
    """Exact level set ``f = level`` of a piecewise-linear network in a box.

    See the module docstring for the method, the tolerance policy and the output. Parameters
    are those of :func:`extract_level_set`; ``prune=False`` refines the whole box (for testing).

    Raises
    ------
    ExtractionError
        If the network has a non-piecewise-linear activation, or its input is not 2-D or 3-D.
    Cancelled
        If ``progress`` returned False.
    """
    check_request(net, level, inside)
    net.require_piecewise_linear("use method='marching'")
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance < 1e-3):
        raise ExtractionError(f"tolerance must be a number in [0, 1e-3), got {tolerance!r}")
    lo, hi = parse_bbox(bbox, net.dim)
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ExtractionError(f"workers must be a positive integer, got {workers!r}")
    ex = _ExactExtractor(net, level, lo, hi, cap, inside, tolerance, progress, prune, int(workers))
    mesh = ex.run()
    if merge_coplanar and net.dim == 3 and mesh.n_faces:
        info = dict(mesh.info)
        n_surf = mesh.n_faces - info["cap_faces"]
        merged, groups = merge_coplanar_groups(mesh)
        # a merged face is a cap face when all its pieces were; caps stay last
        is_cap = np.array([min(g) >= n_surf for g in groups], dtype=bool)
        order = np.argsort(is_cap, kind="stable")
        faces = merged.faces
        mesh = PolyMesh.from_faces(merged.vertices, [faces[i] for i in order], merged.region_ids[order],
                                   region_patterns=merged.region_patterns)
        info.update(vertices=mesh.n_vertices, faces=mesh.n_faces, cap_faces=int(is_cap.sum()),
                    closed=bool(mesh.is_closed_manifold()), watertight=is_watertight(mesh),
                    max_level_error=mesh.level_error(net, level, cap_faces=int(is_cap.sum())))
        mesh.info = info
    return mesh

