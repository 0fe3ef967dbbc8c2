"""Timing of the exact enumeration of linear regions against regioncam.

Run: ``.venv/bin/python bench/bench_regions.py [--repeat N] [--out bench/data/regions.json]``.

He-initialised ReLU nets (weights N(0, 2 / fan_in), biases uniform in [-1, 1], a ``sum``
head), the box [-1, 1]^n0:

1. 2 inputs, hidden layers 2x16, 3x32, 8x32, 4x64: the count and the median wall time of
   :func:`neuralpoly_core.regions.enumerate_regions` (everything: cutting, patterns, affine
   maps, pieces; ``cutting`` says which path cut the box: ``arrangements``, the 2-D fast path
   of ``regions/lean2d.py``, or the unit-by-unit ``cell complex``) and of regioncam (PyPI
   ``regioncam``, Rust, float32: ``Regioncam(1.0)``, then ``linear(W.T, b)`` and ``relu()`` per
   layer; skipped when not installed) on the same nets, the two called in turn (so that the
   shared machine's load hits both alike; ``ratio`` is ours / regioncam in that one run, wall
   time, ``cpu_ratio`` the same in CPU time: under load the longer calls are preempted more), and
   ``complex_seconds``: the cell complex alone (``regions.exact.FAST_2D = False``), for
   reference;
2. 3 inputs, 8x32 (regioncam has no 3-D): count and median time (the goal is under 5 s).

Small nets are timed ``max(--repeat, 0.5 s / first call)`` times (at most 200). Writes the rows
(median wall and CPU seconds, the machine's load average) as JSON (``--out``) and prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuralpoly_core import Activation, Layer, Network, Output  # noqa: E402
from neuralpoly_core.fileio import atomic_write_text  # noqa: E402
from neuralpoly_core.regions import enumerate_regions, exact  # noqa: E402
from timing import timed, timed_alternating  # noqa: E402  (bench/timing.py, beside this script)

NETS_2D = [(2, 16), (3, 32), (8, 32), (4, 64)]       # (depth, width)


def he_net(dim, depth, width, seed=0):
    rng = np.random.default_rng(seed)
    dims = [dim] + [width] * depth
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.uniform(-1.0, 1.0, size=b), Activation("relu"))
              for a, b in zip(dims[:-1], dims[1:])]
    return Network(dim, layers, Output("sum"))


def regioncam_count(net):
    import regioncam
    rc = regioncam.Regioncam(1.0)
    for layer in net.layers:
        rc.linear(layer.weight.T.astype(np.float32), layer.bias.astype(np.float32))
        rc.relu()
    return rc.num_faces


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--repeat-3d", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "data" / "regions.json"))
    args = ap.parse_args(argv)
    try:
        import regioncam  # noqa: F401
        have_rc = True
    except ImportError:
        have_rc = False
    enumerate_regions(he_net(2, 2, 8))                 # warm up imports
    rows = []
    for depth, width in NETS_2D:
        net = he_net(2, depth, width, args.seed)
        t0 = time.perf_counter()
        enumerate_regions(net)
        repeat = min(200, max(args.repeat, int(0.5 / (time.perf_counter() - t0))))
        fns = [lambda: enumerate_regions(net)] + ([lambda: regioncam_count(net)] if have_rc else [])
        res = timed_alternating(fns, repeat)
        t, c, T = res[0]
        row = {"dim": 2, "net": f"{depth}x{width}", "regions": T.count, "pieces": T.pieces, "seconds": round(t, 5),
               "cpu_seconds": round(c, 5), "cutting": T.info["cutting"], "repeat": repeat}
        if have_rc:
            trc, crc, nrc = res[1]
            row.update(regioncam_regions=nrc, regioncam_seconds=round(trc, 5), regioncam_cpu_seconds=round(crc, 5),
                       ratio=round(t / trc, 2), cpu_ratio=round(c / crc, 2))
        exact.FAST_2D = False
        try:
            tcx, _c, Tcx = timed(lambda: enumerate_regions(net), max(3, min(repeat, args.repeat)))
        finally:
            exact.FAST_2D = True
        row.update(complex_regions=Tcx.count, complex_seconds=round(tcx, 5))
        rows.append(row)
        print(json.dumps(row), flush=True)
    net = he_net(3, 8, 32, args.seed)
    t, c, T = timed(lambda: enumerate_regions(net), args.repeat_3d)
    row = {"dim": 3, "net": "8x32", "regions": T.count, "pieces": T.pieces, "seconds": round(t, 3),
           "cpu_seconds": round(c, 3)}
    rows.append(row)
    print(json.dumps(row), flush=True)
    result = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "numpy": np.__version__, "seed": args.seed, "repeat": args.repeat, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
