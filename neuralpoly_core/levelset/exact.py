"""Exact level sets ``f = c`` of piecewise-linear networks inside a box (2-D and 3-D inputs).

A network whose activations are all ``relu``, ``identity`` or ``abs_pow`` with p = 1 (biases and
a ``sum`` or ``linear`` head allowed) is continuous and piecewise affine: its *linear regions*
are convex polytopes, and each neuron of layer l is an affine function on every region of
layers 1..l-1, its zero set a hyperplane "folded" across them. :func:`extract_level_set_exact`
(``extract_level_set(method="exact")``) computes the level set exactly, by **edge subdivision
of a box complex, neuron by neuron** (Berzins 2023; Kim 2024), with pruning:

1. The complex starts as the box: one convex cell, stored as edge records
   (:mod:`neuralpoly_core.levelset.complex`).
2. Layer by layer, every neuron with a kink (``relu``, ``|x|``; ``identity`` layers cut
   nothing) cuts the cells where its pre-activation changes sign
   (:meth:`CellComplex.cut <neuralpoly_core.levelset.complex.CellComplex.cut>`). All neurons of
   a layer are affine on every cell of the complex built by the earlier layers, so their values
   at new vertices are interpolated along the cut edge exactly; the next layer's values are one
   matrix product at the end of the layer.
3. Pruning (:mod:`neuralpoly_core.levelset.bounds`): at the start of every layer, cells that
   cannot meet the level set are dropped. Inside a layer the cells cut since the last check are
   bounded again whenever they number as many as the cells alive at that check
   (:class:`ExactOptions` ``mid_min``, ``mid_frac``).
4. After the last layer ``f`` is affine on every remaining cell and the cells are cut by
   ``f = c`` one last time: the cross-sections, faces in the level set and caps are the surface
   (:mod:`neuralpoly_core.levelset.surface`, which also says which level set and the output).

Tolerance policy
----------------
Float64 throughout, one relative tolerance ``TOLERANCE = 1e-12``: the zero test, consistency of
a cut and the near-tie re-signing are in :mod:`~neuralpoly_core.levelset.complex`, the margins
of pruning in :mod:`~neuralpoly_core.levelset.bounds`, the orientation of faces smaller than
round-off in :mod:`~neuralpoly_core.levelset.surface`.

*Scale* (this module). Every neuron (and ``f - c``) has a **rounding scale**
``s = sum_i |w_i| m_i + |b|``: ``m_i`` is the largest magnitude of input ``i`` over the vertices
of the complex, or, if larger, the rounding scale of input ``i``'s own terms
(``sum_k |w_ik| max|h_k| + |b_i|``; an input that is a small difference of large terms carries
their round-off, one layer deep); for the first layer ``m_i`` is the box's extent. A value is
zero when ``|z| <= TOLERANCE * s``; ``info["level_scale"]`` is the scale of ``f``. Thresholds of
the near-tie re-signing stay within ``100 * TOLERANCE * s``, so the surface's vertices stay
within about ``1e-10 * level_scale`` of the level set (``info["max_level_error"]``, measured).
A cell still inconsistent stays uncut and is counted in ``info["degenerate_cells"]``
(``info["watertight"]`` then tells whether the result is closed).

Threads
-------
Blocks of cells are bounded in ``workers`` threads (default :func:`default_workers`) while BLAS
runs single-threaded (threadpoolctl, when installed): numpy releases the GIL, BLAS threads would
oversubscribe the cores, and the result does not depend on the number of threads.

Output
------
A :class:`~neuralpoly_core.mesh.PolyMesh` (see :mod:`~neuralpoly_core.levelset.surface`;
non-convex faces after ``merge_coplanar``). ``mesh.info`` holds ``method``, ``level``,
``vertices``, ``faces``, ``regions_crossed``, ``cap_faces``, ``seconds``, ``max_level_error``
(max |f(v) - c| over the level-set vertices, by a fresh forward pass), ``level_scale`` (the
rounding scale of ``f``), ``closed`` (a closed manifold), ``watertight`` (see
:func:`is_watertight`), ``cells_max`` (most cells held at once), ``degenerate_cells``,
``reoriented_faces``, ``pruned_mid_layer`` and ``layers`` (cells before and after pruning at
each layer, with timestamps).
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .._checks import check_bool, check_callable, check_float, check_int
from ..budget import check_memory, format_bytes
from ..errors import ExtractionError
from ..mesh.polymesh import PolyMesh
from ..mesh.topology import is_watertight, merge_coplanar_groups
from ..network.model import Network
from ..reporting import Reporter
from .arrays import Grow, GrowCols
from .bounds import LevelPruner
from .box import check_request, parse_bbox
from .complex import TOLERANCE, CellComplex
from .gridcuts import GridCuts, check_grid_box, flatness_error, grid_plane_keys
from .surface import emit_surface
from .trilinear import SurfaceTable, check_correction, correct_vertices

__all__ = ["TOLERANCE", "ExactOptions", "extract_level_set_exact", "default_workers", "rounding_scale",
           "single_threaded_blas"]


def rounding_scale(W, b, hmax, terms=None):
    """Rounding scale of the affine map ``W h + b`` (see the module docstring): ``|W| m + |b|``
    with ``m`` the larger of the inputs' largest magnitudes ``hmax`` and ``terms``, the
    rounding scales of the inputs' own terms (an input that is a small difference of large
    terms carries their round-off; None for the first layer). Returns ``(scale, terms)``,
    the second to pass with the next layer.
    """
    absb = np.abs(b) if b is not None else 0.0
    m = hmax if terms is None else np.maximum(hmax, terms)
    return np.abs(W) @ m + absb, np.abs(W) @ hmax + absb


@dataclass(frozen=True)
class ExactOptions:
    """Tuning knobs of exact extraction, for tests and benchmarks: the mesh never depends on
    them, only the time and memory do.

    Parameters
    ----------
    chunk : int
        Cells per block of the interval and symbolic bounds (blocks are shared between the
        threads).
    symbolic : bool
        Prune with the symbolic bound after interval arithmetic.
    backward : bool
        Follow the symbolic bound with back-substitution (CROWN).
    mid_min : int
        Mid-layer pruning: re-bound the cells cut since the last check when there are at least
        this many ...
    mid_frac : float
        ... and at least this fraction of the cells alive at the last check.
    """

    chunk: int = 2048
    symbolic: bool = True
    backward: bool = True
    mid_min: int = 256
    mid_frac: float = 1.0

    def __post_init__(self):
        check_int(self.chunk, "chunk", 1, error=ExtractionError)
        check_bool(self.symbolic, "symbolic", error=ExtractionError)
        check_bool(self.backward, "backward", error=ExtractionError)
        check_int(self.mid_min, "mid_min", 0, error=ExtractionError)
        check_float(self.mid_frac, "mid_frac", 0.0, error=ExtractionError)


def default_workers() -> int:
    """Threads used by exact extraction by default: the usable cores, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def single_threaded_blas():
    """Limit BLAS to one thread (threadpoolctl) while our own threads run, or while many small
    products would only make BLAS threads spin; a no-op context when threadpoolctl is not
    installed."""
    controller = _blas_controller()
    return contextlib.nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def _blas_controller():
    """One ``threadpoolctl.ThreadpoolController`` for the process (None without threadpoolctl):
    making one scans the loaded libraries, about 1 ms, which small extractions and region
    counts paid on every call. numpy's BLAS is loaded before the first call."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@dataclass(eq=False)
class _LayerCut:
    """The state of cutting by one layer with a kink: what its neurons still have to cut."""

    #: The layer's pre-activations at the vertices (a row per neuron; new vertices appended).
    Z: GrowCols
    #: Rounding scale of each neuron, and its zero threshold ``tolerance * zscale``.
    zscale: np.ndarray
    eps: np.ndarray
    #: (cells, width) bool: neuron j may cross the cell (it has values on both sides of 0).
    cand: Grow
    #: (cells, 1) bool: cut since the last pruning pass.
    dirty: Grow
    #: Cells alive at the last pruning pass.
    last_pass: int


class _ExactExtractor:
    """One exact extraction (see the module docstring); ``run()`` returns the mesh."""

    def __init__(self, net: Network, level: float, lo, hi, cap: bool, inside: str,
                 tolerance: float, reporter: Reporter, prune: bool, workers: int,
                 options: ExactOptions, trilinear_cells: str = "kuhn", correction: str = "none"):
        self.net = net
        self.level = float(level)
        self.lo, self.hi = lo, hi
        self.cap = bool(cap)
        self.flip = inside == "above"
        self.tol = float(tolerance)
        self.reporter = reporter
        self.prune = prune
        self.options = options
        self.workers = workers      # threads bounding blocks at once
        self.map = map              # a thread pool's map while run() runs with several workers
        self.kinked = [l.activation.kinked for l in net.layers]
        offs = [0]
        for l in net.layers:
            offs.append(offs[-1] + l.width)
        self.plane_offset = offs[:-1]           # plane of neuron j of layer l: offset[l] + j
        self.n_kinked = sum(l.width for l, k in zip(net.layers, self.kinked) if k)
        # planes: one per neuron, then the level, then the hash grid's facet planes
        self.trilinear = net.encoding is not None and not net.encoding.is_piecewise_linear
        diagonal = not self.trilinear or trilinear_cells == "kuhn"
        n_grid = 0 if net.encoding is None else len(grid_plane_keys(net, lo, hi, diagonal))
        self.flatness = None
        self.correction = correction if self.trilinear else "none"
        self.corrected = None       # the facts of the trilinear correction
        self.cx = CellComplex(lo, hi, offs[-1] + 1 + n_grid, self.tol)
        self.pruner = LevelPruner(net, self.level, lo, hi, self.tol, cap=self.cap, flip=self.flip,
                                  symbolic=options.symbolic, backward=options.backward,
                                  chunk=options.chunk)
        self.grid = None if net.encoding is None else GridCuts(
            self.cx, net, offs[-1] + 1, self.level, self.pruner.margin, self.cap, self.flip, diagonal)
        self.done = 0               # neurons cut so far (for progress)
        self.layer_stats = []
        self.pruned_mid = 0
        self._terms = None          # rounding scale of the previous layer's terms

    def run(self) -> PolyMesh:
        # BLAS runs single-threaded: its threads would oversubscribe the cores with ours, and
        # spin on the small products used here; this also makes the result independent of the
        # number of threads (blocks of cells are bounded in parallel, numpy releases the GIL)
        with single_threaded_blas():
            if self.workers <= 1:
                return self._run()
            with ThreadPoolExecutor(self.workers) as pool:
                self.map = pool.map
                try:
                    return self._run()
                finally:
                    self.map = map

    def _run(self) -> PolyMesh:
        t0 = time.perf_counter()
        cx = self.cx
        layers = self.net.layers
        Z = None
        if self.grid is not None:       # the encoding is affine on every cell from here on
            self.layer_stats.extend(self.grid.run(self.prune, self.reporter))
            if self.trilinear and self.net.dim == 3:
                self.flatness = self._flatness()
        for li, layer in enumerate(layers):
            if cx.n_cells == 0:
                break
            self.reporter.check()
            n_before = cx.n_cells
            Z, zscale, zmin, zmax = self._start_layer(li, Z)
            self.layer_stats.append({"layer": li, "cells": n_before, "kept": cx.n_cells,
                                     "seconds": round(time.perf_counter() - t0, 4)})
            if cx.n_cells == 0:
                break
            if not self.kinked[li]:
                continue
            self._cut_layer(li, Z, zscale, zmin, zmax)
            Z.reset(Z.view[:, cx.compact()])
        if cx.n_cells == 0:
            return self._empty(t0)
        G, fscale = self._level_values(Z)
        trace = {} if self.trilinear else None
        mesh, stats = emit_surface(cx, self.net, G, fscale, self.cap, trace)
        if self.trilinear:
            table = SurfaceTable(self.net, self.lo, self.hi, self.grid.plane_equations())
            self.corrected = correct_vertices(mesh, trace, self.net, self.level, self.correction, table)
        self._info(mesh, t0, stats, fscale)
        return mesh

    def _start_layer(self, li: int, Z: GrowCols | None):
        """Layer ``li``'s pre-activations at the vertices (from the previous layer's), their
        rounding scales and exact ranges on the cells, after pruning the cells."""
        cx = self.cx
        layer = self.net.layers[li]
        Wl, bl = layer.weight, layer.bias
        if li == 0 and self.net.encoding is not None:
            Zv = Wl @ self.net.first_input(cx.points).T
            hmax = np.maximum(*np.abs(self.net.encoding.feature_ranges()))
        elif li == 0:
            Zv = Wl @ cx.points.T
            hmax = np.maximum(np.abs(self.lo), np.abs(self.hi))
        else:
            H = self.net.layers[li - 1].activation(Z.view)
            hmax = np.abs(H).max(axis=1) if H.shape[1] else np.zeros(H.shape[0])
            Zv = Wl @ H
        if bl is not None:
            Zv += bl[:, None]
        zscale = self._rounding_scale(Wl, bl, hmax)
        Z = GrowCols(Zv)
        self.pruner.new_layer()
        allc = np.arange(cx.n_cells)
        cvv, off, cnt = cx.cell_vertices(allc)
        zmin, zmax = cx.value_ranges(Z.view, cvv, off, map=self.map, workers=self.workers)
        if self.prune:
            keep = self.pruner.keep(cx, li, allc, cvv, off, cnt, zmin, zmax, zscale, Z.view,
                                    map=self.map, workers=self.workers)
            if not keep.all():
                used = cx.compact(keep)
                Z.reset(Z.view[:, used])
                self.pruner.renumber(used)
                zmin, zmax = zmin[keep], zmax[keep]
        return Z, zscale, zmin, zmax

    def _flatness(self) -> float:
        """Kim's flatness error on the bounding boxes of the cells that f = level crosses (the
        trilinear cells themselves with ``trilinear_cells='cubes'``)."""
        cx = self.cx
        cvv, off, cnt = cx.cell_vertices(np.arange(cx.n_cells))
        _cen, bmin, bmax = cx.geometry(cvv, off, cnt)
        fv = self.net(cx.points)[cvv] - self.level
        crossed = (np.minimum.reduceat(fv, off) < 0) & (np.maximum.reduceat(fv, off) > 0)
        return flatness_error(self.net, bmin[crossed], bmax[crossed])

    def _cut_layer(self, li: int, Z: GrowCols, zscale, zmin, zmax):
        """Cut the cells by every neuron of layer ``li`` in turn, pruning mid-layer."""
        cx = self.cx
        width = self.net.layers[li].width
        nc = cx.n_cells
        eps = self.tol * zscale
        cand = Grow(width, bool, cap=max(256, 2 * nc))
        cand.extend((zmin < -eps) & (zmax > eps))
        dirty = Grow(1, bool, cap=max(256, 2 * nc))
        dirty.extend(np.zeros((nc, 1), dtype=bool))
        state = _LayerCut(Z, zscale, eps, cand, dirty, nc)
        message = f"layer {li + 1} of {len(self.net.layers)}"
        for j in range(width):
            S = np.nonzero(cand.view[:, j])[0]
            if len(S):
                self._check_growth(li, Z, cand)
                parents = cx.cut(Z.view[j], zscale[j], self.plane_offset[li] + j, cells=S,
                                 carry=Z, carry_row=j)
                if len(parents):
                    cand.a[parents, j] = False
                    cand.extend(cand.a[parents])
                    dirty.a[parents, 0] = True
                    dirty.extend(np.ones((len(parents), 1), dtype=bool))
            self.done += 1
            self.reporter(self.done / max(self.n_kinked, 1), message)
            if self.prune and j + 1 < width:
                sel = np.nonzero(dirty.view[:, 0])[0]
                opts = self.options
                if len(sel) >= max(opts.mid_min, opts.mid_frac * state.last_pass):
                    self._prune_pass(li, sel, state, j + 1)
                    state.last_pass = int(cx.alive.view.sum())

    def _check_growth(self, li: int, Z: GrowCols, cand: Grow) -> None:
        """Refuse before the complex's arrays grow past the budget: a cut can double them."""
        cx = self.cx
        held = sum(a.a.nbytes for a in (Z, cand, cx.X, cx.rec, cx.cells, cx.alive))
        check_memory(3 * held, f"exact extraction (layer {li + 1}: {cx.n_cells:,} cells, {format_bytes(held)} "
                               "so far)", "use --method marching, a smaller box or a network with fewer neurons")

    def _prune_pass(self, li: int, sel: np.ndarray, state: _LayerCut, j_next: int):
        """Bound the cells ``sel`` mid-layer; drop those that cannot meet the level set and
        refresh their candidate flags (neurons ``j_next`` on) from exact ranges."""
        cx = self.cx
        cvv, off, cnt = cx.cell_vertices(sel)
        zmin, zmax = cx.value_ranges(state.Z.view, cvv, off, map=self.map, workers=self.workers)
        keep = self.pruner.keep(cx, li, sel, cvv, off, cnt, zmin, zmax, state.zscale,
                                state.Z.view, map=self.map, workers=self.workers)
        dead = sel[~keep]
        cx.drop(dead)
        cand = state.cand
        cand.a[dead] = False
        ks = sel[keep]
        w = cand.a.shape[1]
        eps = state.eps
        cand.a[ks] = (zmin[keep] < -eps) & (zmax[keep] > eps) & (np.arange(w) >= j_next)[None, :]
        state.dirty.a[sel, 0] = False
        self.pruned_mid += len(dead)

    def _level_values(self, Z: GrowCols):
        """``g = f - c`` at the vertices (negated for inside='above') and f's rounding scale."""
        net = self.net
        H = net.layers[-1].activation(Z.view)
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
        G = F - self.level
        if self.flip:
            G = -G
        return G, fscale

    def _rounding_scale(self, W, b, hmax):
        """:func:`rounding_scale` of the next layer (or the output), remembering the terms'
        scale for the next call; call once per layer, in order."""
        scale, self._terms = rounding_scale(W, b, hmax, self._terms)
        return scale

    def _empty(self, t0):
        mesh = PolyMesh(np.zeros((0, self.net.dim)), np.zeros(0, np.int64), np.zeros(0, np.int64),
                        region_patterns=np.zeros((0, self.net.n_neurons), dtype=bool))
        stats = {"regions_crossed": 0, "cap_faces": 0, "reoriented_faces": 0, "degenerate": 0}
        self._info(mesh, t0, stats, 0.0)
        return mesh

    def _info(self, mesh, t0, stats, fscale):
        capfaces = stats["cap_faces"]
        if self.trilinear:
            mesh.info.update({"method": "trilinear", "flatness_error": self.flatness})
            mesh.info.update(self.corrected or {"trilinear_correction": self.correction})
        mesh.info.update({
            "method": "exact" if not self.trilinear else "trilinear", "level": self.level, "vertices": mesh.n_vertices,
            "faces": mesh.n_faces, "regions_crossed": int(stats["regions_crossed"]),
            "cap_faces": int(capfaces), "seconds": time.perf_counter() - t0,
            "level_scale": float(fscale), "cells_max": int(self.cx.cells_max),
            "degenerate_cells": int(self.cx.degenerate + stats["degenerate"]),
            "layers": self.layer_stats, "pruned_mid_layer": int(self.pruned_mid),
            "max_level_error": mesh.level_error(self.net, self.level, cap_faces=capfaces),
            "closed": bool(mesh.n_faces > 0 and mesh.is_closed_manifold()),
            "watertight": is_watertight(mesh),
            "reoriented_faces": int(stats["reoriented_faces"]),
        })


def extract_level_set_exact(net: Network, level: float = 0.0, bbox=(-1.0, 1.0), *, cap: bool = False,
                            inside: str = "below", merge_coplanar: bool = False,
                            tolerance: float = TOLERANCE, progress=None, cancel=None,
                            prune: bool = True, workers: int | None = None,
                            options: ExactOptions | None = None, trilinear: bool = False,
                            trilinear_cells: str = "kuhn", trilinear_correction="surfaces") -> PolyMesh:
    """Exact level set ``f = level`` of a piecewise-linear network in a box.

    See the module docstring for the method, the tolerance policy and the output. Parameters
    are those of :func:`~neuralpoly_core.levelset.extract_level_set`, and:

    Parameters
    ----------
    tolerance : float
        Relative tolerance of the zero test, in [0, 1e-3) (default :data:`TOLERANCE`).
    progress, cancel : callable, optional
        ``progress(fraction, message)`` ("layer 3 of 8"; a one-argument ``progress(fraction)``
        works too, and returning False cancels) and ``cancel()`` (True stops), see
        :class:`~neuralpoly_core.reporting.Reporter`.
    prune : bool
        False refines the whole box (for testing: the surface is the same).
    options : ExactOptions, optional
        Tuning knobs (block size, bounds used, mid-layer pruning); the mesh does not depend
        on them.
    trilinear : bool
        Kim 2024's method for a ``trilinear`` hash grid (an approximation): the complex is cut by
        the grid's cube faces of every level, then neuron by neuron as if f were affine on each
        trilinear cell (new vertices interpolated linearly; Thm 4.5: nearly so for an
        eikonal-trained SDF). ``info["flatness_error"]`` is the paper's flatness MAE on the cells
        the surface crosses, ``info["max_level_error"]`` the true ``|f(v) - c|``.
    trilinear_cells : {'kuhn', 'cubes'}
        ``'cubes'``: Kim's initial complex, the cube faces only; a cell whose corner signs no
        plane can produce (f far from flat there) stays uncut and leaves a hole
        (``info["degenerate_cells"]``). ``'kuhn'`` (default) also cuts the Kuhn diagonals, so
        every cell is a piece of a tetrahedron, where the vertex values always define one
        affine function: the surface is watertight, the level set of the piecewise-linear
        interpolant of f's values at the grid-cut vertices.
    trilinear_correction : {'surfaces', 'kim', 'edge', 'none'}
        Where the level-set vertices go (:mod:`~neuralpoly_core.levelset.trilinear`):
        ``'surfaces'`` (default; Kim's Thm 4.7 solved exactly) where f = level meets the two
        curved faces of the edge's cell, by Newton's method; ``'kim'`` Thm 4.7's own
        diagonal-plane quartic; ``'edge'`` the root of f - level on the straight edge;
        ``'none'`` the planar (linearly interpolated) vertices, Kim's default.
        The combinatorics are the same in all four; ``info["planar_level_error"]`` is the
        error before the correction. True/False mean 'surfaces'/'none'.

    Raises
    ------
    ExtractionError
        If the network has a non-piecewise-linear activation, or its input is not 2-D or 3-D.
    Cancelled
        If ``cancel()`` returned True or ``progress`` returned False.
    """
    check_request(net, level, inside)
    if trilinear:
        if net.encoding is None or net.encoding.is_piecewise_linear:
            raise ExtractionError("method='trilinear' is for networks with a trilinear hash-grid encoding; "
                                  "use method='exact'")
        plain = Network(net.encoding.n_outputs, net.layers, net.output)     # the MLP alone
        plain.require_piecewise_linear("use method='marching'")
        options = ExactOptions(symbolic=False) if options is None else options
    else:
        net.require_piecewise_linear("use method='marching'")
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance < 1e-3):
        raise ExtractionError(f"tolerance must be a number in [0, 1e-3), got {tolerance!r}")
    lo, hi = parse_bbox(bbox, net.dim)
    if net.encoding is not None:
        check_grid_box(net, lo, hi)
    if workers is None:
        workers = default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ExtractionError(f"workers must be a positive integer, got {workers!r}")
    if options is None:
        options = ExactOptions()
    elif not isinstance(options, ExactOptions):
        raise ExtractionError(f"options must be an ExactOptions, got {type(options).__name__}")
    reporter = Reporter(check_callable(progress, "progress", error=ExtractionError),
                        check_callable(cancel, "cancel", error=ExtractionError),
                        what="level-set extraction")
    if trilinear_cells not in ("kuhn", "cubes"):
        raise ExtractionError(f"trilinear_cells must be 'kuhn' or 'cubes', got {trilinear_cells!r}")
    correction = check_correction(trilinear_correction)
    ex = _ExactExtractor(net, level, lo, hi, cap, inside, tolerance, reporter, prune, int(workers),
                         options, trilinear_cells, correction)
    mesh = ex.run()
    if merge_coplanar and net.dim == 3 and mesh.n_faces:
        mesh = _merged(mesh, net, level)
    return mesh


def _merged(mesh: PolyMesh, net: Network, level: float) -> PolyMesh:
    """``mesh`` with adjacent coplanar faces merged (:func:`merge_coplanar_groups`), caps last."""
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
