"""The benchmarks' one timer: medians of repeated calls (the machines are noisy; quote medians)."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeat: int):
    """Median wall and CPU seconds of ``repeat`` calls of ``fn()``, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out
