"""The solver: HiGHS through ``scipy.optimize.milp``, imported when first needed.

``highspy`` (HiGHS's own Python interface, which can add rows to a model and solve it again)
is not installed here, so every solve hands the whole model to ``scipy.optimize.milp``, which
ships HiGHS with scipy (>= 1.9). Blender's Python has numpy but no scipy: a missing scipy
is a :class:`~neuralpoly_core.errors.NeuralPolyError` that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..errors import NeuralPolyError

__all__ = ["SOLVER", "scipy_parts", "Solution", "solve"]

SOLVER = "HiGHS via scipy.optimize.milp"

_STATUS = {0: "optimal", 1: "limit", 2: "infeasible", 3: "unbounded", 4: "failed"}


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
