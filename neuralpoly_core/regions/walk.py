"""Counting linear regions by walking the region adjacency graph (exact, any input dimension).

A region with activation pattern ``P`` is the polytope ``{x in box : s_r (A_r x + b_r) >= 0}``:
one row per kinked unit (``A_r, b_r`` its pre-activation as an affine map of the input on the
region, ``s_r`` the pattern's side) and, per maxout unit, one row ``g_win - g_j`` per losing
piece. Every row is normalised (``|A_r| = 1``); rows that are constant on the region bound
nothing. The regions of the box and their shared facets form a connected graph, so a
breadth-first walk from any region finds every full-dimensional one:

* **Facets by LP.** Row ``r`` (with the rows on the same hyperplane) is a facet when the
  hyperplane ``A_r x + b_r = 0`` holds a point at distance ``t > tolerance`` from every other
  row's hyperplane and from the box's faces: ``max t`` over ``(x, t)``, one small LP per row,
  all rows of a region in one HiGHS model whose row ``r`` is switched to an equality in turn
  (``highspy``; ``scipy.optimize.milp`` without integers when highspy is missing). Units that
  interval arithmetic proves stable on the whole box are never facets and cost nothing.
* **Neighbours by numpy.** The point ``y`` just across the facet (a small fraction of ``t``
  off it) lies in the neighbour; its pattern is evaluated with numpy at ``y`` (in a deep net a
  flip can move later units' hyperplanes, so the neighbour's pattern is not a bit flip). A
  point counts as a witness only when no pre-activation row is within rounding of 0 there
  (rows identically 0 on the region, dead units, excepted): the region then holds an open set.

Time and region limits stop the walk with a lower bound.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from .._checks import check_callable, check_float, check_int
from ..reporting import Reporter
from .formulation import check_box, check_countable, interval_bounds
from .result import RegionCount
from .solver import highspy_module, new_highs, solve

__all__ = ["count_regions_walk", "region_rows", "DEFAULTS"]

#: Defaults of :func:`count_regions_walk`.
DEFAULTS = {"time_limit": 60.0, "max_regions": 1_000_000, "tolerance": 1e-9}

_ZERO = 1e-12            # |A_r| below this (relative): the row is constant on the region
_STEPS = (1e-3, 1e-2, 1e-1, 0.45)    # how far across a facet, as fractions of its margin t


def _identical(dG, dg) -> bool:
    """True where the affine map ``dG x + dg`` is identically 0 (two maxout pieces that tie on
    the whole region: argmax keeps the first, as in the exact enumeration; no boundary)."""
    return bool(np.abs(dG).max(initial=0.0) <= _ZERO and abs(dg) <= _ZERO)


def _pattern_columns(net) -> np.ndarray:
    cols, row = [], 0
    for layer in net.layers:
        if layer.activation.group > 1 or layer.activation.kinked:
            cols.append(row + np.arange(layer.rows))
        row += layer.rows
    return np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)


def region_rows(net, x, candidates):
    """The region at ``x``: its pattern (all rows), its constraint rows ``A y + b >= 0`` (one per
    kinked row, ``k - 1`` per maxout unit), whether each row may be a facet (``candidates``
    filters units stable on the box), and whether ``x`` is strictly inside (no row at 0)."""
    M, c = np.eye(net.dim), np.zeros(net.dim)
    As, bs, cand, pattern = [], [], [], []
    strict = True
    row0 = 0
    for layer in net.layers:
        act = layer.activation
        G = layer.weight @ M
        g = layer.weight @ c + (layer.bias if layer.bias is not None else 0.0)
        z = G @ x + g
        pattern.append(act.pattern(z))
        scale = 1e-10 * (1.0 + np.abs(G) @ np.abs(x) + np.abs(g))
        live = ~((np.abs(G).max(axis=1, initial=0.0) <= _ZERO) & (np.abs(g) <= _ZERO))
        if act.group > 1:
            k = act.group
            units = layer.rows // k
            win = np.argmax(z.reshape(units, k), axis=1) + np.arange(units) * k
            for u in range(units):
                for j in range(u * k, u * k + k):
                    if j != win[u]:
                        As.append(G[win[u]] - G[j])
                        bs.append(g[win[u]] - g[j])
                        cand.append(bool(candidates[row0 + j] and candidates[row0 + win[u]]))
                        strict &= bool(z[win[u]] - z[j] > scale[j] + scale[win[u]]
                                       or _identical(G[win[u]] - G[j], g[win[u]] - g[j]))
            d = np.zeros(layer.rows)
            d[win] = 1.0
            M = (d[:, None] * G).reshape(units, k, -1).sum(axis=1)
            c = (d * g).reshape(units, k).sum(axis=1)
        else:
            if act.kinked:
                s = np.where(z > 0, 1.0, -1.0)
                As.extend(s[:, None] * G)
                bs.extend(s * g)
                cand.extend(candidates[row0:row0 + layer.rows] & live)
                strict &= bool(np.all((np.abs(z) > scale) | ~live))
            d = act.derivative(z)
            M, c = d[:, None] * G, d * g
        row0 += layer.rows
    A = np.array(As, dtype=np.float64).reshape(-1, net.dim)
    return (np.concatenate(pattern), A, np.array(bs, dtype=np.float64), np.array(cand, dtype=bool), strict)


def _stable_rows(net, lo, hi) -> np.ndarray:
    """True for rows that interval arithmetic does not prove stable on the whole box: a kinked
    row whose sign it does not fix; a maxout piece whose difference with some other piece of
    its unit it does not prove of one sign (a piece's own sign says nothing about its ties)."""
    out, hlo, hhi = [], lo, hi
    for layer, (glo, ghi) in zip(net.layers, interval_bounds(net, lo, hi)):
        k = layer.activation.group
        if k > 1:
            out.append(_tying_pieces(layer, k, hlo, hhi, glo, ghi))
        else:
            out.append((glo < 0.0) & (ghi > 0.0))
        hlo, hhi = layer.activation.interval(glo, ghi)
    return np.concatenate(out)


def _tying_pieces(layer, k, hlo, hhi, glo, ghi) -> np.ndarray:
    """Per maxout row: whether it may tie with another piece of its unit that may win, for layer
    inputs in ``[hlo, hhi]`` (pre-activations in ``[glo, ghi]``): neither is below some piece
    everywhere, and their difference's interval (widened like :func:`interval_bounds`) holds 0."""
    W = layer.weight.reshape(-1, k, layer.weight.shape[1])
    b = np.zeros(W.shape[:2]) if layer.bias is None else np.asarray(layer.bias, dtype=np.float64).reshape(-1, k)
    D, e = W[:, :, None] - W[:, None], b[:, :, None] - b[:, None]          # (units, k, k, inputs)
    dlo = np.maximum(D, 0.0) @ hlo + np.minimum(D, 0.0) @ hhi + e
    dhi = np.maximum(D, 0.0) @ hhi + np.minimum(D, 0.0) @ hlo + e
    pad = 1e-9 * (1.0 + np.maximum(np.abs(dlo), np.abs(dhi)))
    may = (dlo - pad <= 0.0) & (dhi + pad >= 0.0)
    may[:, np.arange(k), np.arange(k)] = False
    up = ghi.reshape(-1, k) >= glo.reshape(-1, k).max(axis=1, keepdims=True)   # may win somewhere
    return (up & (may & up[:, None, :]).any(axis=2)).reshape(-1)


class _FacetLP:
    """max t subject to A_j x + b_j >= t (j != r), A_r x + b_r = 0, the box shrunk by t."""

    def __init__(self, A, b, lo, hi, tcap):
        self.A, self.b, self.lo, self.hi, self.tcap = A, b, lo, hi, tcap
        R, d = A.shape
        self.R, self.d = R, d
        self.hp = highspy_module()
        if self.hp is not None:
            self._highs()

    def _matrix(self):
        d, R = self.d, self.R
        eye = np.eye(d)
        top = np.hstack([self.A, -np.ones((R, 1))])
        box_lo = np.hstack([eye, -np.ones((d, 1))])
        box_hi = np.hstack([eye, np.ones((d, 1))])
        M = np.vstack([top, box_lo, box_hi])
        rlo = np.concatenate([-self.b, self.lo, np.full(d, -np.inf)])
        rhi = np.concatenate([np.full(R, np.inf), np.full(d, np.inf), self.hi])
        return M, rlo, rhi

    def _highs(self):
        # slack form, so that a facet changes only bounds (HiGHS keeps its basis between LPs):
        # A x - s = -b, s - t >= 0, x - t >= lo, x + t <= hi; facet r: s_r = 0, its row s_r - t free
        hp, d, R = self.hp, self.d, self.R
        eye_d, eye_r = np.eye(d), np.eye(R)
        M = np.vstack([np.hstack([self.A, -eye_r, np.zeros((R, 1))]),
                       np.hstack([np.zeros((R, d)), eye_r, -np.ones((R, 1))]),
                       np.hstack([eye_d, np.zeros((d, R)), -np.ones((d, 1))]),
                       np.hstack([eye_d, np.zeros((d, R)), np.ones((d, 1))])])
        inf = hp.kHighsInf
        rlo = np.concatenate([-self.b, np.zeros(R), self.lo, np.full(d, -inf)])
        rhi = np.concatenate([-self.b, np.full(R, inf), np.full(d, inf), self.hi])
        h = new_highs(hp)
        h.setOptionValue("presolve", "off")
        lp = hp.HighsLp()
        n = d + R + 1
        lp.num_col_, lp.num_row_ = n, M.shape[0]
        lp.col_cost_ = np.concatenate([np.zeros(d + R), [-1.0]])
        lp.col_lower_ = np.concatenate([self.lo, np.zeros(R), [0.0]])
        lp.col_upper_ = np.concatenate([self.hi, np.full(R, inf), [self.tcap]])
        lp.row_lower_, lp.row_upper_ = rlo, rhi
        nz = np.nonzero(M)
        starts = np.searchsorted(nz[0], np.arange(M.shape[0] + 1))
        lp.a_matrix_.format_ = hp.MatrixFormat.kRowwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = starts, nz[1], M[nz]
        h.passModel(lp)
        self.h = h

    def center(self):
        """``(t, x)``: the centre of the region's largest ball that keeps off the box's faces (None
        when the LP fails)."""
        if self.hp is None:
            M, rlo, rhi = self._matrix()
            c = np.zeros(self.d + 1)
            c[-1] = -1.0
            sol = solve(c, M, rlo, rhi, np.concatenate([self.lo, [0.0]]), np.concatenate([self.hi, [self.tcap]]), None)
            return None if sol.status != "optimal" else (float(sol.x[-1]), sol.x[:-1])
        self.h.run()
        if self.h.getModelStatus() != self.hp.HighsModelStatus.kOptimal:
            return None
        x = np.array(self.h.getSolution().col_value)
        return float(x[-1]), x[:self.d]

    def facet(self, r, group):
        """``(t, x)`` of row ``r`` (``group``: the rows on its hyperplane, r included), or None."""
        if self.hp is None:
            return self._facet_scipy(r, group)
        h, inf, d, R = self.h, self.hp.kHighsInf, self.d, self.R
        for j in group:
            h.changeRowBounds(int(R + j), -inf, inf)
        h.changeColBounds(int(d + r), 0.0, 0.0)
        h.run()
        ok = h.getModelStatus() == self.hp.HighsModelStatus.kOptimal
        x = np.array(h.getSolution().col_value) if ok else None
        for j in group:
            h.changeRowBounds(int(R + j), 0.0, inf)
        h.changeColBounds(int(d + r), 0.0, inf)
        return None if x is None else (float(x[-1]), x[:d])

    def _facet_scipy(self, r, group):
        M, rlo, rhi = self._matrix()
        M[group, -1] = 0.0
        rlo[group], rhi[group] = -np.inf, np.inf
        rlo[r] = rhi[r] = -self.b[r]
        c = np.zeros(self.d + 1)
        c[-1] = -1.0
        sol = solve(c, M, rlo, rhi, np.concatenate([self.lo, [0.0]]), np.concatenate([self.hi, [self.tcap]]), None)
        return None if sol.status != "optimal" else (float(sol.x[-1]), sol.x[:-1])


def _groups(A, b, cand):
    """For each candidate row, the rows on its hyperplane (same or opposite normalised (A, b))."""
    V = np.hstack([A, b[:, None]])
    close = (np.linalg.norm(V[:, None] - V[None], axis=2) < 1e-9) | (np.linalg.norm(V[:, None] + V[None], axis=2)
                                                                    < 1e-9)
    seen, out = set(), []
    for r in np.flatnonzero(cand):
        if r in seen:
            continue
        group = np.flatnonzero(close[r])
        seen.update(group.tolist())
        out.append((r, group))
    return out


def _projected(A, b, r, group, c, target, iters: int = 6):
    """A point of row ``r``'s hyperplane clear of every other row (the box's faces are rows too)
    by at least ``target``, without an LP: the centre ``c`` projected onto the hyperplane, then
    moved within it, one violated row at a time. ``(margin, point)``, or None when it stalls."""
    p = c - (A[r] @ c + b[r]) * A[r]
    for _ in range(iters):
        values = A @ p + b
        values[group] = np.inf
        j = int(np.argmin(values))
        if values[j] >= target:
            return float(values[j]), p
        u = A[j] - (A[j] @ A[r]) * A[r]           # along the hyperplane, towards row j's side
        uu = float(u @ u)
        if uu < 1e-12:
            return None
        p = p + (2.0 * target - values[j]) / uu * u
    return None


def _start(net, lo, hi, cand, rng):
    for _ in range(1000):
        x = lo + (hi - lo) * (0.5 + 0.49 * (rng.random(net.dim) - 0.5) * 2.0)
        if region_rows(net, x, cand)[4]:
            return x
    return None


class _Walk:
    def __init__(self, net, lo, hi, tolerance):
        self.net, self.lo, self.hi, self.tol = net, lo, hi, tolerance
        self.cols = _pattern_columns(net)
        self.cand = _stable_rows(net, lo, hi)
        self.tcap = float(np.min(hi - lo)) / 2.0
        self.seen: set[bytes] = set()
        self.patterns, self.witnesses = [], []
        self.queue: deque = deque()
        self.lps = self.facets = 0

    def key(self, pattern) -> bytes:
        return np.packbits(pattern[self.cols]).tobytes()

    def push(self, x) -> bool:
        """Record the region at ``x`` (True) unless ``x`` is on a boundary (False) or it is known (None)."""
        pattern, *_, strict = region_rows(self.net, x, self.cand)
        if not strict:
            return False
        k = self.key(pattern)
        if k in self.seen:
            return None
        self.seen.add(k)
        self.patterns.append(pattern[self.cols])
        self.witnesses.append(x)
        self.queue.append(x)
        return True

    def expand(self, x) -> None:
        """Every facet of the region at ``x``: push the neighbour across it."""
        _, A, b, cand, _ = region_rows(self.net, x, self.cand)
        norms = np.linalg.norm(A, axis=1)
        keep = norms > _ZERO * (1.0 + np.abs(b))
        A, b, cand = A[keep] / norms[keep, None], b[keep] / norms[keep], cand[keep]
        if not cand.any():
            return
        lp = _FacetLP(A, b, self.lo, self.hi, self.tcap)
        self.lps += 1
        center = lp.center()
        d = self.net.dim
        Ab = np.vstack([A, np.eye(d), -np.eye(d)])                  # the box's faces as rows
        bb = np.concatenate([b, -self.lo, self.hi])
        for r, group in _groups(A, b, cand):
            got = None
            if center is not None and center[0] > self.tol:
                got = _projected(Ab, bb, r, group, center[1], 0.05 * center[0])
            if got is None or got[0] <= self.tol:
                self.lps += 1
                got = lp.facet(r, group)
            if got is None or got[0] <= self.tol:
                continue
            self.facets += 1
            t, xf = got
            for step in _STEPS:
                if self.push(xf - step * t * A[r]) is not False:
                    break


def count_regions_walk(net, bbox=(-1.0, 1.0), *, time_limit: float = DEFAULTS["time_limit"],
                       max_regions: int = DEFAULTS["max_regions"], tolerance: float = DEFAULTS["tolerance"],
                       seed: int = 0, progress=None, cancel=None) -> RegionCount:
    """Count the linear regions of ``net`` in the box ``bbox`` by walking from region to region.

    Parameters
    ----------
    net : Network
        Hidden layers ``relu``, ``|x|``, ``identity`` or ``maxout``; the head is ignored.
    bbox : (lo, hi)
        The input box: numbers, or ``dim`` numbers each.
    time_limit : float
        Seconds for the whole walk.
    max_regions : int
        Stop after this many regions.
    tolerance : float
        A facet counts when it holds a point at least this far (in input units) from every other
        hyperplane of the region and from the box's faces: regions thinner than that can be missed.
    seed : int
        Seed of the random start point.
    progress, cancel : callable, optional
        See :mod:`neuralpoly_core.reporting`.

    Returns
    -------
    RegionCount
        ``method`` 'walk'; ``complete`` False when a limit stopped the walk (a lower bound).
    """
    time_limit = check_float(time_limit, "time_limit", 0.0, lo_open=True)
    max_regions = check_int(max_regions, "max_regions", 1)
    tolerance = check_float(tolerance, "tolerance", 0.0, lo_open=True)
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    lo, hi = check_box(bbox, net.dim)
    check_countable(net)
    report = Reporter(progress, cancel, what="walking the regions", interval=0.1)
    t0 = time.perf_counter()
    walk = _Walk(net, lo, hi, tolerance)
    x0 = _start(net, lo, hi, walk.cand, np.random.default_rng(seed))
    stopped = "complete" if x0 is not None else "solver failed"
    if x0 is not None:
        walk.push(x0)
    while walk.queue:
        if time.perf_counter() - t0 >= time_limit:
            stopped = "time limit"
            break
        if len(walk.patterns) >= max_regions:
            stopped = "region limit"
            break
        walk.expand(walk.queue.popleft())
        n = len(walk.patterns)
        report(max(min(n / max_regions, 1.0), (time.perf_counter() - t0) / time_limit), f"{n:,} regions")
    if len(walk.patterns) > max_regions:
        del walk.patterns[max_regions:], walk.witnesses[max_regions:]
        stopped = "region limit"
    seconds = time.perf_counter() - t0
    B = len(walk.cols)
    details = {"solver": "HiGHS via highspy" if highspy_module() is not None else "HiGHS via scipy.optimize.milp",
               "tolerance": tolerance, "lps": walk.lps, "facets": walk.facets, "frontier": len(walk.queue),
               "regions_per_second": len(walk.patterns) / seconds if seconds > 0 else None}
    return RegionCount(len(walk.patterns), stopped == "complete", stopped, "walk", net.dim, seconds, lo, hi,
                       np.array(walk.patterns, dtype=bool).reshape(-1, B),
                       np.array(walk.witnesses, dtype=np.float64).reshape(-1, net.dim), walk.cols, details)
