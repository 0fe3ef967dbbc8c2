"""Progress and cancel: the one protocol of every long computation (training, extraction, jobs).

A caller passes ``progress(fraction, message)`` (fraction in [0, 1]) and ``cancel()`` (True to
stop); the computation raises :class:`~neuralpoly_core.errors.Cancelled` at its next check.
For older callers, a ``progress`` that takes one argument is called with the fraction only,
and a ``progress`` that returns ``False`` cancels as well.
"""

from __future__ import annotations

import inspect
import time

from .errors import Cancelled

__all__ = ["Reporter"]


def _takes_message(progress) -> bool:
    try:
        params = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


class Reporter:
    """Wraps ``progress`` and ``cancel`` for a computation, or a part of one.

    Parameters
    ----------
    progress : callable, optional
        ``progress(fraction, message)`` (or ``progress(fraction)``).
    cancel : callable, optional
        ``cancel()``: True to stop.
    what : str
        What is running, for the :class:`Cancelled` message ("training", ...).
    start, span : float
        This reporter covers ``[start, start + span]`` of the caller's fraction.
    interval : float
        At most one ``progress`` call per this many seconds (the last one always goes out).
    """

    def __init__(self, progress=None, cancel=None, *, what: str = "computation", start: float = 0.0,
                 span: float = 1.0, interval: float = 0.0):
        self.progress, self.cancel, self.what = progress, cancel, what
        self.start, self.span, self.interval = float(start), float(span), float(interval)
        self._last = -1.0
        self._message = progress is not None and _takes_message(progress)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the caller asked to stop."""
        if self.cancel is not None and self.cancel():
            raise Cancelled(f"{self.what} cancelled")

    def __call__(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        """Report ``fraction`` of this part done (and check for cancel)."""
        self.check()
        if self.progress is None:
            return
        now = time.perf_counter()
        if not force and fraction < 1.0 and now - self._last < self.interval:
            return
        self._last = now
        f = self.start + self.span * min(max(float(fraction), 0.0), 1.0)
        answer = self.progress(f, message) if self._message else self.progress(f)
        if answer is False:
            raise Cancelled(f"{self.what} cancelled")

    def part(self, start: float, span: float) -> "Reporter":
        """A reporter for ``[start, start + span]`` of this one's range."""
        sub = Reporter(None, self.cancel, what=self.what, start=self.start + self.span * start,
                       span=self.span * span, interval=self.interval)
        sub.progress, sub._message = self.progress, self._message
        return sub
