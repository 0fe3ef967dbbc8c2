"""Memory budgets: estimate what a computation needs before allocating it, refuse above a budget.

The budget is, by default, 80 % of the memory the machine has available when asked
(``MemAvailable`` of ``/proc/meminfo``, read at most every 0.25 s; elsewhere 80 % of the
physical memory, or 4 GiB when neither is known). ``NEURALPOLY_MEMORY_BUDGET`` (bytes, or with
a unit: ``512M``, ``8G``) or :func:`set_memory_budget` override it. A refusal is a
:class:`MemoryBudgetError` (a :class:`~neuralpoly_core.errors.NeuralPolyError`) that says how
much would be needed, the budget, and which option lowers the need -- never a raw allocator
error after minutes of work.
"""

from __future__ import annotations

import os
import re
import time

from .errors import NeuralPolyError

__all__ = ["MemoryBudgetError", "memory_budget", "set_memory_budget", "check_memory", "format_bytes",
           "parse_bytes"]

_override: int | None = None
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class MemoryBudgetError(NeuralPolyError):
    """A computation would need more memory than the budget allows."""


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``340 MB``, ``12 kB``, ``100 bytes`` (binary units)."""
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912; plain numbers are bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", str(text), re.I)
    if not m:
        raise NeuralPolyError(f"a memory size must be a number of bytes or like 512M / 8G, got {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


_AVAILABLE_FOR = 0.25            # seconds a reading of the available memory is reused
_last_reading: tuple[float, int | None] | None = None


def _available() -> int | None:
    """The memory available now; a reading is reused for ``_AVAILABLE_FOR`` seconds (reading
    ``/proc/meminfo`` takes longer than a small computation that checks its budget)."""
    global _last_reading
    now = time.monotonic()
    if _last_reading is not None and now - _last_reading[0] < _AVAILABLE_FOR:
        return _last_reading[1]
    value = _read_available()
    _last_reading = (now, value)
    return value


def _read_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_budget() -> int:
    """The budget in bytes (see the module docstring)."""
    if _override is not None:
        return _override
    env = os.environ.get("NEURALPOLY_MEMORY_BUDGET")
    if env:
        return parse_bytes(env)
    avail = _available()
    return int(0.8 * avail) if avail else 4 << 30


def set_memory_budget(nbytes: int | str | None) -> None:
    """Set the budget for this process (bytes or ``"8G"``); None returns to the default."""
    global _override
    _override = None if nbytes is None else (parse_bytes(nbytes) if isinstance(nbytes, str) else int(nbytes))


def check_memory(nbytes: float, what: str, lower: str) -> None:
    """Refuse ``what`` if it needs more than the budget.

    Parameters
    ----------
    nbytes : float
        The estimate of the peak memory the computation allocates.
    what : str
        The computation, e.g. ``"training (20000;1) with 8 restarts"``.
    lower : str
        How to need less, e.g. ``"lower --restarts or --widths"``.
    """
    budget = memory_budget()
    if nbytes > budget:
        raise MemoryBudgetError(f"{what} would need about {format_bytes(nbytes)} of memory, over the budget of "
                                f"{format_bytes(budget)}; {lower} (or raise NEURALPOLY_MEMORY_BUDGET)")
