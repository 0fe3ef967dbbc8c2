"""The solver: HiGHS, through ``highspy`` when it is installed, else ``scipy.optimize.milp``.

Two back-ends behind one incremental model (:func:`open_model`):

* ``'highspy'`` (HiGHS's own Python interface, the ``milp`` extra): the model is passed to
  HiGHS once; each no-good cut is one ``Highs.addRow``, and each solve changes only the
  bounds and the objective, so HiGHS keeps its model (and basis) between solves. Options
  tuned for the count (profiled on the digits nets, where every solve's time went into the
  root node: cut separation and the RINS / RENS / feasibility-jump heuristics): those
  heuristics and symmetry detection off, presolve on. About 2x faster per solve than
  rebuilding, and no model rebuild per pattern.
* ``'scipy'``: every solve hands the whole model to ``scipy.optimize.milp`` (HiGHS shipped
  with scipy >= 1.9). The fallback when highspy is missing.

Blender's Python has numpy but neither: a missing scipy is a
:class:`~neuralpoly_core.errors.NeuralPolyError` that says so.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..errors import NeuralPolyError

__all__ = ["SOLVER", "BACKENDS", "scipy_parts", "highspy_module", "new_highs", "default_backend", "solver_name", "Solution",
           "solve", "open_model"]

#: The back-ends, best first.
BACKENDS = ("highspy", "scipy")

SOLVER = "HiGHS via scipy.optimize.milp"        # the scipy back-end's name (kept for old callers)
_NAMES = {"highspy": "HiGHS via highspy (incremental)", "scipy": SOLVER}

_STATUS = {0: "optimal", 1: "limit", 2: "infeasible", 3: "unbounded", 4: "failed"}

#: HiGHS options of the highspy back-end (see the module docstring).
HIGHS_OPTIONS = {"output_flag": False, "mip_detect_symmetry": False, "mip_heuristic_run_rins": False,
                 "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
                 "mip_heuristic_run_feasibility_jump": False, "mip_rel_gap": 0.0}


def scipy_parts() -> SimpleNamespace:
    """``milp``, ``LinearConstraint``, ``Bounds``, ``csr_matrix``, ``vstack`` from scipy."""
    try:
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_matrix, vstack
    except ImportError:
        raise NeuralPolyError(
            "counting linear regions needs scipy >= 1.9 (scipy.optimize.milp, with HiGHS), which this Python "
            "does not have: pip install scipy (Blender's Python has none: use the neuralpoly command line)") from None
    return SimpleNamespace(milp=milp, LinearConstraint=LinearConstraint, Bounds=Bounds, csr_matrix=csr_matrix,
                           vstack=vstack)


def highspy_module():
    """``highspy``, or None when it is not installed."""
    try:
        import highspy
    except ImportError:
        return None
    return highspy


def default_backend() -> str:
    """``'highspy'`` when it is installed, else ``'scipy'``."""
    return "highspy" if highspy_module() is not None else "scipy"


def check_backend(backend) -> str:
    """``backend`` (None: the default), refused when unknown or not installed."""
    if backend is None:
        return default_backend()
    if backend not in BACKENDS:
        raise NeuralPolyError(f"unknown MILP solver back-end {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "highspy" and highspy_module() is None:
        raise NeuralPolyError("the MILP back-end 'highspy' needs the highspy package: pip install highspy "
                              "(or choose solver='scipy')")
    return backend


def solver_name(backend: str) -> str:
    """The back-end as the results name it."""
    return _NAMES[backend]


@dataclass
class Solution:
    """What one solve found: ``status`` ('optimal', 'limit', 'infeasible', 'unbounded',
    'failed'), the point ``x`` (None when none was found) and the objective ``fun``."""

    status: str
    x: np.ndarray | None
    fun: float | None


def solve(c, A, row_lo, row_hi, lb, ub, integer, time_limit: float | None = None) -> Solution:
    """Minimise ``c . v`` subject to ``row_lo <= A v <= row_hi``, ``lb <= v <= ub``, ``v[integer]`` whole."""
    sp = scipy_parts()
    options = {"presolve": True, "disp": False}
    if time_limit is not None:
        options["time_limit"] = max(float(time_limit), 1e-3)
    res = sp.milp(c, constraints=sp.LinearConstraint(A, row_lo, row_hi), bounds=sp.Bounds(lb, ub),
                  integrality=None if integer is None else integer.astype(np.uint8), options=options)
    return Solution(_STATUS.get(res.status, "failed"), res.x, None if res.x is None else float(res.fun))


class _ScipyModel:
    """The model and its added rows, re-solved from scratch by ``scipy.optimize.milp``."""

    def __init__(self, A, row_lo, row_hi, integer):
        self.A, self.row_lo, self.row_hi, self.integer = A, row_lo, row_hi, integer
        self.cut_rows, self.cut_lo = [], []

    def add_row(self, cols, coefs, lo: float) -> None:
        self.cut_rows.append((np.asarray(cols), np.asarray(coefs, dtype=np.float64)))
        self.cut_lo.append(float(lo))

    def solve(self, c, lb, ub, time_limit=None) -> Solution:
        A, lo, hi = self.A, self.row_lo, self.row_hi
        if self.cut_rows:
            sp = scipy_parts()
            r = len(self.cut_rows)
            rows = np.concatenate([np.full(len(cl), i) for i, (cl, _) in enumerate(self.cut_rows)])
            cut = sp.csr_matrix((np.concatenate([v for _, v in self.cut_rows]),
                                 (rows, np.concatenate([cl for cl, _ in self.cut_rows]))), shape=(r, A.shape[1]))
            A = sp.vstack([A, cut], format="csr")
            lo, hi = np.concatenate([lo, self.cut_lo]), np.concatenate([hi, np.full(r, np.inf)])
        return solve(c, A, lo, hi, lb, ub, self.integer, time_limit)


_BANNER = {"silenced": False}


def new_highs(hp=None):
    """A silent ``highspy.Highs``. The first one a process makes prints HiGHS's banner on file
    descriptor 1 (C level: ``sys.stdout`` redirection misses it), which is the CLI's JSON output;
    so that one is made with descriptor 1 pointed at ``/dev/null``."""
    hp = hp if hp is not None else highspy_module()
    if _BANNER["silenced"]:
        h = hp.Highs()
    else:
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError, AttributeError):     # no descriptor 1 (embedded): nothing to keep clean
            saved = None
        try:
            if saved is not None:
                with open(os.devnull, "w") as null:
                    os.dup2(null.fileno(), 1)
            h = hp.Highs()
        finally:
            if saved is not None:
                os.dup2(saved, 1)
                os.close(saved)
        _BANNER["silenced"] = True
    h.setOptionValue("output_flag", False)
    return h


class _HighsModel:
    """The model held by one ``highspy.Highs``: rows added in place, bounds and costs changed per solve."""

    def __init__(self, A, row_lo, row_hi, integer):
        hp = highspy_module()
        self.hp = hp
        self.h = h = new_highs(hp)
        for k, v in HIGHS_OPTIONS.items():
            h.setOptionValue(k, v)
        A = A.tocsr()
        n = A.shape[1]
        lp = hp.HighsLp()
        lp.num_col_, lp.num_row_ = n, A.shape[0]
        lp.col_cost_ = np.zeros(n)
        lp.col_lower_, lp.col_upper_ = np.zeros(n), np.zeros(n)
        lp.row_lower_ = np.maximum(row_lo, -hp.kHighsInf)
        lp.row_upper_ = np.minimum(row_hi, hp.kHighsInf)
        lp.a_matrix_.format_ = hp.MatrixFormat.kRowwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
        if integer is not None and integer.any():
            lp.integrality_ = [hp.HighsVarType.kInteger if i else hp.HighsVarType.kContinuous for i in integer]
        h.passModel(lp)
        self.n = n
        self.all_cols = np.arange(n, dtype=np.int32)

    def add_row(self, cols, coefs, lo: float) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        self.h.addRow(float(lo), self.hp.kHighsInf, len(cols), cols, np.asarray(coefs, dtype=np.float64))

    def solve(self, c, lb, ub, time_limit=None) -> Solution:
        hp, h = self.hp, self.h
        h.changeColsCost(self.n, self.all_cols, np.asarray(c, dtype=np.float64))
        h.changeColsBounds(self.n, self.all_cols, np.asarray(lb, dtype=np.float64), np.asarray(ub, dtype=np.float64))
        h.setOptionValue("time_limit", max(float(time_limit), 1e-3) if time_limit is not None else hp.kHighsInf)
        h.run()
        st = h.getModelStatus()
        M = hp.HighsModelStatus
        has_x = h.getInfo().primal_solution_status == 2          # kSolutionStatusFeasible
        x = np.array(h.getSolution().col_value) if has_x else None
        if st == M.kOptimal:
            status = "optimal"
        elif st == M.kInfeasible:
            status, x = "infeasible", None
        elif st in (M.kTimeLimit, M.kIterationLimit, M.kSolutionLimit, M.kInterrupt):
            status = "limit"
        elif st in (M.kUnbounded, M.kUnboundedOrInfeasible):
            status, x = "unbounded", None
        else:
            status = "failed"
        return Solution(status, x, None if x is None else float(np.dot(c, x)))


def open_model(A, row_lo, row_hi, integer, backend: str):
    """An incremental model ``row_lo <= A v <= row_hi`` (``v[integer]`` whole) on ``backend``:
    ``add_row(cols, coefs, lo)`` adds ``sum coefs v[cols] >= lo``; ``solve(c, lb, ub, time_limit)``
    minimises ``c . v`` within the bounds ``lb <= v <= ub``, returning a :class:`Solution`."""
    return (_HighsModel if backend == "highspy" else _ScipyModel)(A, row_lo, row_hi, integer)
