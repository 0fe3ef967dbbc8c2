"""Progress and cancel: the one protocol of every long computation (training, extraction, jobs).

A caller passes ``progress(fraction, message)`` (fraction in [0, 1]) and ``cancel()`` (True to
stop); the computation raises :class:`~neuralpoly_core.errors.Cancelled` at its next check.
For older callers, a ``progress`` that takes one argument is called with the fraction only,
and a ``progress`` that returns ``False`` cancels as well.
"""

from __future__ import annotations

import inspect
import time

from .errors import Cancelled, NeuralPolyError

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
        At most one ``progress`` call per this many seconds, counted over this reporter and
        all its parts (a fraction of 1 and a ``force`` call always go out).

    The fractions a reporter passes on never leave its range ``[start, start + span]``;
    the parts made by :meth:`parts` share their end points exactly, so a computation that
    runs them in order reports fractions that never go down.
    """

    def __init__(self, progress=None, cancel=None, *, what: str = "computation", start: float = 0.0,
                 span: float = 1.0, interval: float = 0.0):
        self.progress, self.cancel, self.what = progress, cancel, what
        self.start, self.span, self.interval = float(start), float(span), float(interval)
        self._end = self.start + self.span
        self._last = [-1.0]                   # time of the last call, shared with the parts
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
        if not force and fraction < 1.0 and now - self._last[0] < self.interval:
            return
        self._last[0] = now
        f = self._at(fraction)
        answer = self.progress(f, message) if self._message else self.progress(f)
        if answer is False:
            raise Cancelled(f"{self.what} cancelled")

    def _at(self, fraction: float) -> float:
        """The caller's fraction at ``fraction`` of this range (clamped to the range)."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        return self._end if fraction == 1.0 else min(self.start + self.span * fraction, self._end)

    def _sub(self, start: float, end: float) -> "Reporter":
        sub = Reporter(None, self.cancel, what=self.what, start=start, span=end - start,
                       interval=self.interval)
        sub.progress, sub._message, sub._end, sub._last = self.progress, self._message, end, self._last
        return sub

    def part(self, start: float, span: float) -> "Reporter":
        """A reporter for ``[start, start + span]`` of this one's range."""
        return self._sub(self._at(start), self._at(start + span))

    def parts(self, weights) -> list["Reporter"]:
        """Reporters for consecutive parts of this one's range, as long as ``weights`` say.

        Parameters
        ----------
        weights : iterable of float
            One non-negative weight per part (the work it does, in any unit).

        Returns
        -------
        list of Reporter
            Part ``i`` covers ``[W_i, W_(i+1)] / W`` of this range, with ``W_i`` the sum of
            the weights before it and ``W`` their total; where one part ends the next
            begins, exactly. If every weight is 0, every part covers the range's start.
        """
        weights = [float(w) for w in weights]
        if any(not w >= 0.0 for w in weights):
            raise NeuralPolyError(f"weights of parts must be >= 0, got {weights}")
        total, bounds, done = sum(weights), [self.start], 0.0
        for w in weights:
            done += w
            bounds.append(self._at(done / total) if total > 0 else self.start)
        return [self._sub(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
