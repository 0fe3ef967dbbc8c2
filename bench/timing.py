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


def timed_alternating(fns, repeat: int):
    """Like :func:`timed` for several functions called in turn (``f0, f1, ..., f0, f1, ...``), so
    that a change of the machine's load hits all of them alike: a list of (median wall, median
    CPU seconds, last result), one per function."""
    walls = [[] for _ in fns]
    cpus = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            outs[i] = fn()
            walls[i].append(time.perf_counter() - t0)
            cpus[i].append(time.process_time() - c0)
    return [(statistics.median(w), statistics.median(c), o) for w, c, o in zip(walls, cpus, outs)]
