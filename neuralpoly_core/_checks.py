"""The argument checks every layer shares: whole numbers, finite numbers, choices, callables.

Each check returns the value normalised (``int``, ``float``, ...) or raises the given error
class (default :class:`~neuralpoly_core.errors.NeuralPolyError`) with a message that names
the argument, what it must be, and what it got. ``bool`` is never taken for a number.
"""

from __future__ import annotations

import math
import numbers

from .errors import NeuralPolyError

__all__ = ["check_int", "check_float", "check_choice", "check_callable", "check_bool"]


def _range_text(lo, hi) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def check_int(value, what: str, lo: int | None = None, hi: int | None = None, *,
              error: type[Exception] = NeuralPolyError) -> int:
    """``value`` as an ``int`` in ``[lo, hi]`` (either bound may be None).

    Messages: ``"{what} must be a whole number, got 1.5"``, ``"{what} must be at least 1,
    got 0"``, ``"{what} must be a whole number in 2..1024, got 4096"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{what} must be a whole number{_range_text(lo, hi) if hi is not None else ''}, "
                    f"got {value!r}")
    value = int(value)
    if hi is not None and ((lo is not None and value < lo) or value > hi):
        raise error(f"{what} must be a whole number{_range_text(lo, hi)}, got {value}")
    if lo is not None and value < lo:
        raise error(f"{what} must be at least {lo}, got {value}")
    return value


def check_float(value, what: str, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False,
                error: type[Exception] = NeuralPolyError) -> float:
    """``value`` as a finite ``float`` within the bounds (open where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{what} must be finite, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise error(f"{what} must be {'>' if lo_open else '>='} {lo:g}, got {value:g}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise error(f"{what} must be {'<' if hi_open else '<='} {hi:g}, got {value:g}")
    return value


def check_choice(value, choices, what: str, *, error: type[Exception] = NeuralPolyError):
    """``value`` if it is one of ``choices``; the message lists them."""
    if not isinstance(value, str) or value not in choices:
        raise error(f"unknown {what} {value!r}; expected one of {', '.join(map(str, choices))}")
    return value


def check_bool(value, what: str, *, error: type[Exception] = NeuralPolyError) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy booleans included)."""
    if not isinstance(value, (bool,)) and type(value).__name__ != "bool_":
        raise error(f"{what} must be True or False, got {value!r}")
    return bool(value)


def check_callable(value, what: str, *, error: type[Exception] = NeuralPolyError):
    """``value`` if it is callable or None."""
    if value is not None and not callable(value):
        raise error(f"{what} must be callable or None, got {value!r}")
    return value
