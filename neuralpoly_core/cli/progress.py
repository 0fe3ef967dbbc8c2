"""A terminal progress bar for the CLI (stderr, only when it is a terminal)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Callable ``progress(fraction, message)`` that draws a bar on a terminal.

    On a non-terminal stream it stays silent, so ``--json`` output and logs stay clean.
    """

    def __init__(self, label: str = "", stream=None, width: int = 30, min_interval: float = 0.05):
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label, self.width, self.min_interval = label, width, min_interval
        self._last = 0.0
        self._shown = False

    def __call__(self, fraction: float, message: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self.min_interval and fraction < 1.0:
            return
        self._last = now
        f = min(max(float(fraction), 0.0), 1.0)
        n = int(round(f * self.width))
        text = f"\r{self.label} [{'#' * n}{'.' * (self.width - n)}] {f * 100:5.1f}% {message}"
        self.stream.write(text[:120].ljust(80))
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
