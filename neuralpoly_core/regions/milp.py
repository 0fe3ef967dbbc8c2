"""Counting linear regions by mixed-integer programming (Serra, Tjandraatmadja & Ramalingam 2018).

The network on the input box is the model of :mod:`~neuralpoly_core.regions.formulation`:
one binary per kink (per piece for maxout), big-M constraints with per-row bounds, and a
margin ``f`` that keeps every counted pattern off the measure-zero ones. The count runs in
two phases, each solve handing the model and its cuts to HiGHS (:mod:`.solver`):

1. **Feasibility with margin** ``F``: find any pattern whose region holds a point where every
   pre-activation is at least ``F`` away from 0 on its side (and every maxout unit leads by
   ``F``); record it, exclude it with a no-good cut on the free binaries, repeat until the
   model is infeasible. Each solve stops at the first feasible point.
2. **Certificate** (Serra et al.'s objective): maximise ``f`` in ``[0, F]`` over the
   patterns left. While the optimum exceeds ``tolerance``, it is a region thinner than ``F``:
   record, cut, repeat. An optimum at or below ``tolerance`` (or an infeasible model) proves
   the count complete: what is left is measure zero, up to the solver's tolerances.

Every recorded pattern is checked with numpy at its witness point; one that does not
reproduce is re-solved with its pattern's binaries fixed (the witness of the
largest margin), and counted as ``unverified`` if that fails too. Time and region limits
stop the count: its result then says the count is a lower bound.
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import check_callable, check_choice, check_float, check_int
from ..budget import check_memory
from ..reporting import Reporter
from .formulation import TIGHTENINGS, build_formulation, check_box, check_countable, model_size
from .result import RegionCount
from .solver import check_backend, open_model, scipy_parts, solve, solver_name

__all__ = ["count_regions_milp", "estimate_bytes", "DEFAULTS"]

#: Defaults of :func:`count_regions_milp` (and of the CLI).
DEFAULTS = {"time_limit": 60.0, "max_regions": 100_000, "margin": 1e-3, "tolerance": 1e-6, "tighten": "interval"}

_BYTES_PER_NONZERO = 80          # the matrix, scipy's copy and HiGHS's copies (column-wise, presolved)
_BYTES_PER_ROW_OR_VAR = 64


def estimate_bytes(net, max_regions: int) -> int:
    """Peak memory of a solve with ``max_regions`` no-good cuts (each over every binary)."""
    n_vars, rows, nnz, binaries = model_size(net)
    return _BYTES_PER_NONZERO * (nnz + max_regions * binaries) + _BYTES_PER_ROW_OR_VAR * (
        n_vars + rows + max_regions)


class _Enumeration:
    """The cuts so far, the patterns found and the solves that find them."""

    def __init__(self, net, form, tolerance: float, backend: str):
        self.net, self.form, self.tolerance = net, form, tolerance
        self.free_cols = form.binaries[form.free]
        self.model = open_model(form.A, form.row_lo, form.row_hi, form.integer, backend)
        self.cuts = 0
        self.patterns, self.witnesses, self.margins = [], [], []
        self.solves = self.thin = self.unverified = 0

    def next(self, certify: bool, time_limit: float):
        """One solve: ``('found', pattern, witness, margin)``, ``('none',)`` or ``(status,)``."""
        f = self.form
        c = np.zeros(f.n_vars)
        lb, ub = f.lb.copy(), f.ub.copy()
        if certify:
            c[f.f], lb[f.f] = -1.0, 0.0
        self.solves += 1
        sol = self.model.solve(c, lb, ub, time_limit)
        if sol.status == "infeasible":
            return ("none",)
        if sol.x is None:
            return (sol.status,)
        margin = float(sol.x[f.f])
        if certify and margin <= self.tolerance:
            return ("none",)
        witness = np.clip(sol.x[f.x], f.lb[f.x], f.ub[f.x])          # the solver's 1e-9 off the box
        return ("found", np.round(sol.x[f.binaries]).astype(bool), witness, margin)

    def _pattern_at(self, x) -> np.ndarray:
        return self.net.activation_pattern(x)[self.form.pattern_columns]

    def _polish(self, pattern):
        """The model with the pattern's binaries fixed (an LP but for the zero binaries): its witness
        of largest margin, or None."""
        f = self.form
        lb, ub = f.lb.copy(), f.ub.copy()
        lb[f.binaries] = ub[f.binaries] = pattern.astype(np.float64)
        lb[f.f] = 0.0
        c = np.zeros(f.n_vars)
        c[f.f] = -1.0
        self.solves += 1
        sol = solve(c, f.A, f.row_lo, f.row_hi, lb, ub, f.integer)       # the zero binaries stay whole
        if sol.status != "optimal" or sol.x[f.f] <= self.tolerance:
            return None
        return np.clip(sol.x[f.x], f.lb[f.x], f.ub[f.x]), float(sol.x[f.f])

    def record(self, pattern, witness, margin, certify: bool) -> bool:
        """Check the pattern at its witness, keep it (True) or only cut it (False)."""
        counted = True
        if not np.array_equal(self._pattern_at(witness), pattern):
            polished = self._polish(pattern)
            if polished is None:
                counted = False
            else:
                witness, margin = polished
                self.unverified += int(not np.array_equal(self._pattern_at(witness), pattern))
        if counted:
            self.patterns.append(pattern)
            self.witnesses.append(witness)
            self.margins.append(margin)
            self.thin += int(certify)
        self._cut(pattern)
        return counted

    def _cut(self, pattern) -> None:
        free = pattern[self.form.free]           # sum_{z*=0} z - sum_{z*=1} z >= 1 - |z*=1|
        self.model.add_row(self.free_cols, np.where(free, -1.0, 1.0), 1.0 - float(free.sum()))
        self.cuts += 1


def _check_args(time_limit, max_regions, margin, tolerance, tighten, progress, cancel):
    time_limit = check_float(time_limit, "time_limit", 0.0, lo_open=True)
    max_regions = check_int(max_regions, "max_regions", 1)
    margin = check_float(margin, "margin", 0.0, lo_open=True)
    tolerance = check_float(tolerance, "tolerance", 0.0, margin, lo_open=True, hi_open=True)
    check_choice(tighten, TIGHTENINGS, "bound tightening")
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    return time_limit, max_regions, margin, tolerance


def count_regions_milp(net, bbox=(-1.0, 1.0), *, time_limit: float = DEFAULTS["time_limit"],
                       max_regions: int = DEFAULTS["max_regions"], margin: float = DEFAULTS["margin"],
                       tolerance: float = DEFAULTS["tolerance"], tighten: str = DEFAULTS["tighten"],
                       solver: str | None = None, progress=None, cancel=None) -> RegionCount:
    """Count the linear regions of ``net`` in the box ``bbox`` by mixed-integer programming.

    Parameters
    ----------
    net : Network
        Hidden layers ``relu``, ``|x|`` (``abs_pow`` with p = 1), ``identity`` or ``maxout``;
        the output head is ignored (it cuts no region).
    bbox : (lo, hi)
        The input box: numbers, or ``dim`` numbers each.
    time_limit : float
        Seconds for the whole count (building the model included).
    max_regions : int
        Stop after this many regions (the count is then a lower bound); it also bounds the
        memory the cuts take, which is checked before the model is built.
    margin : float
        ``F``: phase 1 counts regions that hold a point every pre-activation of which is at
        least ``F`` from 0; phase 2 finds the thinner ones.
    tolerance : float
        Margins at or below it count as zero (degenerate patterns); below ``margin``.
    tighten : {'interval', 'lp'}
        Big-M bounds by interval arithmetic, or tightened by linear programmes.
    solver : {'highspy', 'scipy'}, optional
        The back-end (:mod:`.solver`): incremental HiGHS through highspy (the default when it is
        installed) or ``scipy.optimize.milp``, which rebuilds the model per solve.
    progress, cancel : callable, optional
        See :mod:`neuralpoly_core.reporting`.

    Returns
    -------
    RegionCount
        ``complete`` is False when the time or region limit stopped the count.

    Raises
    ------
    NeuralPolyError
        A layer that is not piecewise linear, a bad box or argument, a model over the memory
        budget (the message names ``max_regions``), or scipy missing.
    Cancelled
        If ``cancel()`` returned True.
    """
    time_limit, max_regions, margin, tolerance = _check_args(time_limit, max_regions, margin, tolerance, tighten,
                                                             progress, cancel)
    lo, hi = check_box(bbox, net.dim)
    check_countable(net)
    scipy_parts()
    backend = check_backend(solver)
    check_memory(estimate_bytes(net, max_regions), f"counting the regions of {net!r} with up to {max_regions:,} "
                 "no-good cuts", "lower max_regions (--max-regions)")
    report = Reporter(progress, cancel, what="counting regions", interval=0.1)
    t0 = time.perf_counter()
    form = build_formulation(net, lo, hi, margin=margin, tighten=tighten)
    run = _Enumeration(net, form, tolerance, backend)
    certify, stopped = False, "complete"
    while True:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            stopped = "time limit"
            break
        if len(run.patterns) >= max_regions:
            stopped = "region limit"
            break
        if not run.free_cols.size and run.cuts:        # one pattern fits the whole box
            break
        outcome = run.next(certify, left)
        if outcome[0] == "none":
            if certify:
                break
            certify = True
            continue
        if outcome[0] != "found":
            stopped = "time limit" if outcome[0] == "limit" else "solver failed"
            break
        run.record(*outcome[1:], certify)
        n = len(run.patterns)
        report(max(n / max_regions, (time.perf_counter() - t0) / time_limit), f"{n:,} regions")
    seconds = time.perf_counter() - t0
    B = len(form.binaries)
    details = {"solver": solver_name(backend), "backend": backend, "margin": margin, "tolerance": tolerance, "tighten": tighten,
               "solves": run.solves, "thin_regions": run.thin, "unverified": run.unverified,
               "binaries": int(B), "free_binaries": int(form.free.sum()),
               "regions_per_second": len(run.patterns) / seconds if seconds > 0 else None}
    return RegionCount(len(run.patterns), stopped == "complete", stopped, "milp", net.dim, seconds, lo, hi,
                       np.array(run.patterns, dtype=bool).reshape(-1, B),
                       np.array(run.witnesses, dtype=np.float64).reshape(-1, net.dim), form.pattern_columns, details)
