"""Exact enumeration of the linear regions of a piecewise-linear network in a low-dimensional box.

:func:`enumerate_regions` cuts the box (1-D, 2-D or 3-D; or a segment, plane or 3-D slice of a
higher-dimensional input, ``origin`` + ``basis``) layer by layer with the exact level-set
extractor's cell complex (:class:`~neuralpoly_core.levelset.complex.CellComplex`), without a
level set and without pruning:

* a ``relu`` or ``|x|`` unit cuts every cell where its pre-activation (affine on the cell)
  changes sign, as in the extractor;
* a rank-k ``maxout`` unit cuts by ``z_t - max(z_0 .. z_{t-1})`` for ``t = 1 .. k-1`` (a
  continuous function affine on every cell once the earlier ties are cut), so afterwards its
  argmax is constant on every cell; the ties cut more than the argmax needs (the region
  where ``z_2`` leads is split by the tie ``z_0 = z_1``), so cells with the same pattern are
  merged at the end (a region of a fixed pattern is convex, hence one set of cells);
* ``identity`` layers cut nothing.

Tolerance policy: that of the extractor (:mod:`neuralpoly_core.levelset.exact`): float64, one
relative tolerance ``TOLERANCE = 1e-12`` of each unit's rounding scale for the zero test, the
near-tie re-signing of :mod:`neuralpoly_core.levelset.cuts`. A cut only splits cells with a
strictly positive and a strictly negative vertex, so a hyperplane through vertices (or a box
corner), a duplicate or parallel unit, or a dead one makes no empty or duplicate region.

BLAS runs single-threaded (threadpoolctl, when installed): its products here are small.

In 2-D, :mod:`.compiled2d` is tried first where numba is installed and loaded (the box cut unit
by unit as a polygon mesh in machine code; a process loads it once numpy's path has taken 0.5 s,
or at once after :func:`.compiled2d.warm_up`), then :mod:`.lean2d` (numpy: each layer cuts
every cell at once as a line arrangement; 3-10x faster than the cell complex on small nets).
Both give up on anything not in general position (lines through or near vertices), and the box
is then cut unit by unit as above. Which one made a tessellation is ``info["cutting"]``
(``"compiled"``, ``"arrangements"`` or ``"cell complex"``).

Each region's pattern is read from the unit's values at the region's vertices (``+1``/``-1``
where all are on one side, ``0`` where the unit vanishes on the region: off), its affine map
of ``f`` (the head's first output) by back-propagating the head through the pattern
(exact, not fitted), in the input's coordinates and in the box's local ones.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from .._checks import check_callable, check_int
from ..budget import check_memory
from ..errors import NeuralPolyError
from ..levelset.arrays import Grow, GrowCols
from ..levelset.complex import TOLERANCE, CellComplex
from ..levelset.exact import rounding_scale, single_threaded_blas
from ..network.model import Layer, Network
from ..reporting import Reporter
from .formulation import check_box, check_countable
from . import compiled2d
from .lean2d import lean_regions_2d, lean_tessellation_args
from .tessellation import RegionTessellation

__all__ = ["enumerate_regions"]

#: Cut 2-D boxes by the line arrangements of :mod:`.lean2d` first (the cell complex when they
#: give up); False: always by the cell complex (tests compare the two).
FAST_2D = True
#: Before them, the compiled cut of :mod:`.compiled2d` where numba is installed (once loaded:
#: see :func:`.compiled2d.wanted`, :func:`.compiled2d.warm_up`); False: skip it.
COMPILED_2D = True

_MIXED = 2                      # pattern code of a cell a unit was left uncut on (degenerate)
_BYTES_PER_VALUE = 8 * 4         # a carried value, its growth headroom and the temporaries


def _local_network(net: Network, origin, basis):
    """The network on the local coordinates ``y`` (``x = origin + y @ basis``) and the two arrays."""
    if basis is None:
        if origin is not None:
            raise NeuralPolyError("origin needs a basis (k, n_in) of the slice's directions")
        if net.dim not in (1, 2, 3):
            raise NeuralPolyError(
                f"exact region enumeration takes 1-, 2- or 3-D inputs; this network has {net.dim} inputs: "
                "give origin and basis (k, n_in), k in 1..3, for a segment, plane or 3-D slice, or count "
                "by MILP (method='milp')")
        return net, np.zeros(net.dim), np.eye(net.dim)
    try:
        B = np.array(basis, dtype=np.float64, ndmin=2)
        o = np.zeros(net.dim) if origin is None else np.asarray(origin, dtype=np.float64)
    except (TypeError, ValueError):
        raise NeuralPolyError("basis and origin must be arrays of numbers") from None
    if B.ndim != 2 or B.shape[1] != net.dim or not 1 <= B.shape[0] <= 3:
        raise NeuralPolyError(f"basis must have shape (k, {net.dim}) with k in 1..3, got {B.shape}")
    if o.shape != (net.dim,):
        raise NeuralPolyError(f"origin must have shape ({net.dim},), got {o.shape}")
    if not (np.all(np.isfinite(B)) and np.all(np.isfinite(o))):
        raise NeuralPolyError("basis and origin must be finite")
    if np.linalg.matrix_rank(B) < B.shape[0]:
        raise NeuralPolyError("the basis vectors must be linearly independent")
    first = net.layers[0]
    b = first.weight @ o + (0.0 if first.bias is None else first.bias)
    layers = [Layer(first.weight @ B.T, b, first.activation)] + list(net.layers[1:])
    return Network(B.shape[0], layers, net.output), o, B


def _bit_words(mask: np.ndarray) -> np.ndarray:
    """(k, n) bool -> (n, ceil(k / 64)) uint64: the k flags of each column as bits."""
    k, n = mask.shape
    nbytes = -(-k // 64) * 8
    packed = np.zeros((n, nbytes), dtype=np.uint8)
    packed[:, :-(-k // 8)] = np.packbits(mask.T, axis=1, bitorder="little")
    return packed.view(np.uint64)


def cell_sides(cx: CellComplex, Z: np.ndarray, eps: np.ndarray):
    """Per cell and function (rows of ``Z``, values at the vertices): some vertex above
    ``eps``, some vertex below ``-eps``; two (n_cells, k) bool arrays.

    The flags of each vertex are packed in 64-bit words and or-ed over the ends of each cell's
    edge records (every vertex of a cell ends one of its edges): one gather per word, not per
    function, and no sort.
    """
    k = Z.shape[0]
    R, ct = cx.cell_records(np.arange(cx.n_cells))
    off = np.cumsum(ct) - ct
    out = []
    for mask in (Z > eps[:, None], Z < -eps[:, None]):
        W = _bit_words(mask)
        words = np.bitwise_or.reduceat(W[R[:, 0]] | W[R[:, 1]], off, axis=0)
        out.append(np.unpackbits(words.view(np.uint8), axis=1, bitorder="little", count=k).astype(bool))
    return out[0], out[1]


class _Enumerator:
    """One enumeration: cut the box by every unit, keeping a pattern code per cell."""

    def __init__(self, net: Network, lo, hi, reporter: Reporter, max_regions: int | None):
        self.net = net
        self.lo, self.hi = lo, hi
        self.reporter = reporter
        self.max_regions = max_regions
        acts = [layer.activation for layer in net.layers]
        self.cuts_per_layer = [l.width * (a.group - 1) if a.group > 1 else (l.width if a.kinked else 0)
                               for l, a in zip(net.layers, acts)]
        self.total_cuts = sum(self.cuts_per_layer)
        self.cx = CellComplex(lo, hi, max(1, self.total_cuts), TOLERANCE)
        offs = np.cumsum([0] + list(net.widths))
        self.slices = [slice(int(a), int(b)) for a, b in zip(offs[:-1], offs[1:])]
        self.n_units = int(offs[-1])
        self.layer_codes = []       # per layer: the codes of its units on the cells at its end
        self.lineage = []           # per layer: each cell's ancestor at the layer's start
        self.codes = self.anc = None
        self.plane = 0
        self.done = 0

    def run(self):
        cx = self.cx
        Z, terms = None, None
        for li, layer in enumerate(self.net.layers):
            self.reporter.check()
            if li == 0:
                H = cx.points.T
                hmax = np.maximum(np.abs(self.lo), np.abs(self.hi))
            else:
                prev = self.net.layers[li - 1].activation
                H = prev(Z.view.T).T
                hmax = np.abs(H).max(axis=1)
                if prev.group > 1:           # a maxout unit carries its pieces' round-off
                    terms = terms.reshape(-1, prev.group).max(axis=1)
            self._check_memory(layer.rows, li)
            Z = self._preactivations(layer, H, Z)
            zscale, terms = rounding_scale(layer.weight, layer.bias, hmax, terms)
            act = layer.activation
            self._start_codes(layer.width)
            if act.group > 1:
                self._cut_maxout(li, Z, zscale, act.group)
            elif act.kinked:
                self._cut_kinks(li, Z, zscale)
            self.layer_codes.append(self.codes.view)
            self.lineage.append(self.anc.view[:, 0])
        return Z

    @staticmethod
    def _preactivations(layer, H: np.ndarray, Z: GrowCols | None) -> GrowCols:
        """The layer's pre-activations at the vertices, written into the previous layer's
        buffer when it has the room."""
        n = H.shape[1]
        if Z is not None and np.may_share_memory(H, Z.a):      # an identity layer's output
            H = H.copy()
        if Z is None or Z.a.shape[0] != layer.rows or Z.a.shape[1] < n:
            Zv = layer.weight @ H
            if layer.bias is not None:
                Zv += layer.bias[:, None]
            return GrowCols(Zv)
        out = Z.a[:, :n]
        np.matmul(layer.weight, H, out=out)
        if layer.bias is not None:
            out += layer.bias[:, None]
        Z.n = n
        return Z

    def _start_codes(self, width: int):
        n = self.cx.n_cells
        self.codes = Grow(width, np.int16, cap=max(256, 2 * n))
        self.codes.extend(np.zeros((n, width), dtype=np.int16))
        self.anc = Grow(1, np.int64, cap=max(256, 2 * n))
        self.anc.extend(np.arange(n)[:, None])

    def pattern_codes(self) -> np.ndarray:
        """(n_cells, N) int16: every unit's code on every cell (from the layers' codes through
        the cells' lineage)."""
        idx = np.arange(self.cx.n_cells)
        out = np.zeros((len(idx), max(1, self.n_units)), dtype=np.int16)
        for li in range(len(self.layer_codes) - 1, -1, -1):
            out[:, self.slices[li]] = self.layer_codes[li][idx]
            idx = self.lineage[li][idx]
        return out

    def _check_memory(self, rows: int, li: int):
        cx = self.cx
        nbytes = _BYTES_PER_VALUE * (rows + cx.d + 4) * max(cx.X.n, cx.cells.n) \
            + 8 * 4 * 2 * cx.rec.n
        check_memory(nbytes, f"enumerating the regions of {self.net!r} (layer {li + 1}, {cx.n_cells:,} cells)",
                     "use a smaller box, a smaller network or max_regions")

    def _split(self, parents: np.ndarray):
        """Children of a cut inherit their parents' codes; enforce ``max_regions``."""
        if len(parents):
            self.codes.extend(self.codes.a[parents])
            self.anc.extend(self.anc.a[parents])
            if self.max_regions is not None and self.cx.n_cells > self.max_regions:
                raise NeuralPolyError(
                    f"the network has more than max_regions = {self.max_regions:,} regions in the box "
                    f"(the enumeration stopped at {self.cx.n_cells:,} cells); raise max_regions or shrink the box")

    def _progress(self, li: int):
        self.done += 1
        self.reporter(self.done / max(self.total_cuts, 1), f"layer {li + 1} of {len(self.net.layers)}")

    def _cut_kinks(self, li: int, Z: GrowCols, zscale):
        """Cut by every unit of a relu / |x| layer (as the extractor does), reading each
        unit's sign on every cell as it goes: from the ranges at the start of the layer where
        the unit cannot cross the cell, else from the vertex signs of its cut."""
        cx = self.cx
        width = len(zscale)
        eps = cx.tol * zscale
        pos, neg = cell_sides(cx, Z.view, eps)
        cand = Grow(width, bool, cap=max(256, 2 * cx.n_cells))
        cand.extend(pos & neg)
        code = pos.astype(np.int16) - neg.astype(np.int16)
        code[pos & neg] = _MIXED
        self.codes.view[:] = code
        for j in range(width):
            S = np.nonzero(cand.view[:, j])[0]
            if len(S):
                self._cut_one(Z, j, zscale[j], S, j, cand)
            self._progress(li)
        self.plane += width

    def _cut_one(self, Z: GrowCols, j: int, scale: float, S: np.ndarray, col: int, cand: Grow):
        """Cut the cells ``S`` by unit ``j`` (row ``j`` of ``Z``, pattern column ``col``)."""
        cx = self.cx
        zv = Z.view[j]
        cut, sv = cx.plan(zv, scale, S)
        if cut is None:
            rest = S
        else:
            crossed = np.zeros(cx.n_cells, dtype=bool)
            crossed[cut.cells] = True
            rest = S[~crossed[S]]
        if len(rest):                    # not crossed: one side, or the unit vanishes there
            R, ct = cx.cell_records(rest)
            off = np.cumsum(ct) - ct
            sa, sb = sv[R[:, 0]], sv[R[:, 1]]
            p = np.logical_or.reduceat((sa > 0) | (sb > 0), off)
            n = np.logical_or.reduceat((sa < 0) | (sb < 0), off)
            self.codes.a[rest, col] = p.astype(np.int16) - n.astype(np.int16)
        if cut is None:
            return
        self.codes.a[cut.cells[~cut.good], col] = _MIXED
        cx.add_vertices(cut, zv, Z, j)
        parents = cx.apply(cut, self.plane + j)
        if len(parents):
            cand.a[parents, j] = False
            cand.extend(cand.a[parents])
            self.codes.a[parents, col] = 1
            self._split(parents)
            self.codes.a[self.codes.n - len(parents):self.codes.n, col] = -1

    def _cut_maxout(self, li: int, Z: GrowCols, zscale, k: int):
        """Cut by the running ties of every rank-k unit, then read each unit's argmax (pieces
        within the zero test's tolerance of the largest tie: the first of them, as numpy's
        argmax on exact values; two pieces equal on a whole cell can differ by rounding)."""
        cx = self.cx
        width = len(zscale) // k
        for u in range(width):
            r0 = u * k
            for t in range(1, k):
                Zv = Z.view
                g = Zv[r0 + t] - Zv[r0:r0 + t].max(axis=0)
                parents = cx.cut(g, float(zscale[r0:r0 + t + 1].max()), self.plane, carry=Z)
                self.plane += 1
                self._split(parents)
                self._progress(li)
        cvv, off, cnt = cx.cell_vertices(np.arange(cx.n_cells))
        cen = np.add.reduceat(Z.view[:, cvv], off, axis=1) / cnt
        C = cen.T.reshape(cx.n_cells, width, k)
        eps = cx.tol * zscale.reshape(width, k).max(axis=1)
        best = (C >= C.max(axis=2, keepdims=True) - eps[:, None]).argmax(axis=2)
        self.codes.view[:] = best


def enumerate_regions(net, bbox=(-1.0, 1.0), *, origin=None, basis=None, progress=None, cancel=None,
                      max_regions: int | None = None) -> RegionTessellation:
    """Every linear region of ``net`` inside a box, exactly (see the module docstring).

    Parameters
    ----------
    net : Network
        Hidden layers ``relu``, ``|x|`` (``abs_pow`` with p = 1), ``identity`` or ``maxout``
        (any depth, biases), a ``sum`` or ``linear`` head (``f`` is its first output).
    bbox : (lo, hi)
        The box, each a number or one number per (local) coordinate.
    origin, basis : arrays, optional
        For an input of any dimension ``n_in``: the regions of the segment / plane / 3-D slice
        ``x = origin + y @ basis`` (``basis`` (k, n_in), k in 1..3, ``origin`` (n_in,), default
        0), ``y`` in the box. Without them the input must be 1-, 2- or 3-D.
    progress, cancel : callable, optional
        See :class:`~neuralpoly_core.reporting.Reporter` ("layer 3 of 8").
    max_regions : int, optional
        Stop with :class:`~neuralpoly_core.errors.NeuralPolyError` (naming the limit) once the
        complex holds more cells than this (for maxout layers, cells before merging).

    Returns
    -------
    RegionTessellation

    Raises
    ------
    NeuralPolyError
        A layer that is not piecewise linear (sigmoid, ``|x|^p`` with p != 1), an input of more
        than 3 dimensions without a basis, a bad box, basis or origin, the region limit, or a
        complex over the memory budget.
    Cancelled
        If ``cancel()`` returned True or ``progress`` returned False.
    """
    t0 = time.perf_counter()
    if not isinstance(net, Network):
        raise NeuralPolyError(f"expected a Network, got {type(net).__name__}")
    check_countable(net)
    if max_regions is not None:
        max_regions = check_int(max_regions, "max_regions", 1)
    local, o, B = _local_network(net, origin, basis)
    lo, hi = check_box(bbox, local.dim)
    reporter = Reporter(check_callable(progress, "progress"), check_callable(cancel, "cancel"),
                        what="region enumeration", interval=0.05)
    with contextlib.ExitStack() as stack:     # the fast path limits BLAS only once cells are many
        fast = None
        if FAST_2D and local.dim == 2:
            if COMPILED_2D and compiled2d.wanted():
                fast, cutting = compiled2d.compiled_regions_2d(local, lo, hi, reporter, max_regions), "compiled"
            if fast is None:
                t1 = time.perf_counter()
                fast, cutting = lean_regions_2d(local, lo, hi, reporter, max_regions, stack), "arrangements"
                compiled2d.note_numpy_seconds(time.perf_counter() - t1)
        if fast is not None:                  # 2-D in general position: see .compiled2d, .lean2d
            offs = np.cumsum([0] + list(net.widths))
            slices = [slice(int(a), int(b)) for a, b in zip(offs[:-1], offs[1:])]
            return RegionTessellation(**lean_tessellation_args(net, fast, slices, o, B, lo, hi, cutting),
                                      seconds=time.perf_counter() - t0)
    en = _Enumerator(local, lo, hi, reporter, max_regions)
    with single_threaded_blas():          # small products: BLAS threads would only spin
        en.run()
        cx = en.cx
        widest = max(layer.rows for layer in net.layers)
        check_memory(cx.n_cells * (6 * max(1, en.n_units) + 8 * (3 * widest + net.dim + 2 * cx.d + 8))
                     + 8 * 8 * cx.rec.n, f"the {cx.n_cells:,} regions' patterns and affine maps",
                     "use a smaller box, a smaller network or max_regions")
        T = RegionTessellation.from_complex(net, cx, en.pattern_codes(), en.slices, o, B, lo, hi, t0,
                                            max_regions=max_regions)
    T.info["cutting"] = "cell complex"
    return T
