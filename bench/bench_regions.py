"""Timing of the exact enumeration of linear regions against regioncam.

Run: ``.venv/bin/python bench/bench_regions.py [--repeat N] [--out bench/data/regions.json]``
(``--only-pairs``: only items 2 to 4, into ``bench/data/regions_pairs.json``).

He-initialised ReLU nets (weights N(0, 2 / fan_in), biases uniform in [-1, 1], a ``sum``
head), the box [-1, 1]^n0:

1. 2 inputs, hidden layers 2x16, 3x32, 8x32, 4x64: the count and the median wall time of
   :func:`neuralpoly_core.regions.enumerate_regions` (everything: cutting, patterns, affine
   maps, pieces; ``cutting`` says which path cut the box: ``compiled``, the numba path of
   ``regions/compiled2d.py`` where numba is installed, ``arrangements``, numpy's fast path of
   ``regions/lean2d.py``, or the unit-by-unit ``cell complex``; where the compiled path ran,
   ``numpy_seconds`` times numpy's path too, which Blender's Python runs) and of regioncam (PyPI
   ``regioncam``, Rust, float32: ``Regioncam(1.0)``, then ``linear(W.T, b)`` and ``relu()`` per
   layer; skipped when not installed) on the same nets, the two called in turn (so that the
   shared machine's load hits both alike; ``ratio`` is ours / regioncam in that one run, wall
   time, ``cpu_ratio`` the same in CPU time: under load the longer calls are preempted more), and
   ``complex_seconds``: the cell complex alone (``regions.exact.FAST_2D = False``), for
   reference;
2. 3 inputs, 8x32 (regioncam has no 3-D): count and median time (the goal is under 5 s);
3. on that net's 172,599 regions, the pairs of regions sharing 3 vertices (adjacency and
   pieces start from them): numpy's :func:`neuralpoly_core.mesh.graph.sharing_pairs` (what
   the enumeration uses, so that it runs in Blender's Python) against the scipy sparse
   product ``M @ M.T`` of the region-vertex incidence matrix it replaced (skipped without
   scipy), run alternately in one process, medians;
4. on the same regions, :meth:`RegionTessellation.adjacent_pairs` (the pairs of item 3 whose
   shared vertices span a plane, tested all at once), median of ``--repeat-pairs`` calls
   (the regions' vertex lists already made).

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
from neuralpoly_core.mesh.graph import sharing_pairs  # noqa: E402
from neuralpoly_core.regions import compiled2d, enumerate_regions, exact  # noqa: E402
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


def scipy_sharing_pairs(members, counts, min_shared):
    """The pairs as the enumeration found them with scipy: the upper triangle of ``M @ M.T``."""
    from scipy import sparse
    own = np.repeat(np.arange(len(counts)), counts)
    M = sparse.csr_matrix((np.ones(len(own), dtype=np.int32), (own, members)),
                          shape=(len(counts), int(members.max()) + 1))
    S = sparse.triu(M @ M.T, k=1).tocoo()
    keep = S.data >= min_shared
    return S.row[keep], S.col[keep], S.data[keep]


def numpy_path(net):
    """The enumeration without the compiled path (numpy's fast path of ``regions/lean2d.py``)."""
    exact.COMPILED_2D = False
    try:
        return enumerate_regions(net)
    finally:
        exact.COMPILED_2D = True


def _numba_version():
    try:
        import numba
    except ImportError:
        return None
    return numba.__version__


def pairs_row(T, repeat):
    """numpy against scipy on the regions' vertex lists of ``T`` (ids of distinct points)."""
    cnt = np.array([len(v) for v in T.vertices])
    ids = np.unique(np.concatenate(T.vertices), axis=0, return_inverse=True)[1].ravel().astype(np.int64)
    try:
        import scipy.sparse  # noqa: F401
    except ImportError:
        scipy_fn = None
    else:
        scipy_fn = scipy_sharing_pairs
    walls = {"numpy": [], "scipy": []}
    cpus = {"numpy": [], "scipy": []}
    results = {}
    for _ in range(repeat):                       # alternately: the machine's load hits both alike
        for name, fn in (("numpy", sharing_pairs), ("scipy", scipy_fn)):
            if fn is not None:
                w, c, results[name] = timed(lambda: fn(ids, cnt, T.dim), 1)
                walls[name].append(w)
                cpus[name].append(c)
    row = {"dim": T.dim, "net": "8x32", "what": "regions sharing 3 vertices", "regions": T.count,
           "vertex_entries": int(cnt.sum()), "pairs": int(len(results["numpy"][0])),
           "numpy_seconds": round(float(np.median(walls["numpy"])), 3),
           "numpy_cpu_seconds": round(float(np.median(cpus["numpy"])), 3)}
    if scipy_fn is not None:
        a, b, n = results["scipy"]
        o = np.lexsort((b, a))
        row.update(scipy_seconds=round(float(np.median(walls["scipy"])), 3),
                   scipy_cpu_seconds=round(float(np.median(cpus["scipy"])), 3),
                   same_pairs=all(np.array_equal(x, y) for x, y in zip((a[o], b[o], n[o]), results["numpy"])))
        row["ratio"] = round(row["numpy_seconds"] / row["scipy_seconds"], 2)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--repeat-3d", type=int, default=3)
    ap.add_argument("--repeat-pairs", type=int, default=9)
    ap.add_argument("--only-pairs", action="store_true", help="only the 3-D net and its sharing pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="default bench/data/regions.json (--only-pairs: regions_pairs.json)")
    args = ap.parse_args(argv)
    out = args.out or str(Path(__file__).resolve().parent / "data" /
                          ("regions_pairs.json" if args.only_pairs else "regions.json"))
    try:
        import regioncam  # noqa: F401
        have_rc = True
    except ImportError:
        have_rc = False
    compiled2d.warm_up()                               # numba's compiled path from the first call
    enumerate_regions(he_net(2, 2, 8))                 # warm up imports
    rows = []
    for depth, width in [] if args.only_pairs else NETS_2D:
        net = he_net(2, depth, width, args.seed)
        t0 = time.perf_counter()
        T0 = enumerate_regions(net)
        repeat = min(200, max(args.repeat, int(0.5 / (time.perf_counter() - t0))))
        fns = [lambda: enumerate_regions(net)] + ([lambda: regioncam_count(net)] if have_rc else [])
        compiled = T0.info["cutting"] == "compiled"
        if compiled:                                  # numpy's fast path too (what Blender's Python runs)
            fns.append(lambda: numpy_path(net))
        res = timed_alternating(fns, repeat)
        t, c, T = res[0]
        row = {"dim": 2, "net": f"{depth}x{width}", "regions": T.count, "pieces": T.pieces, "seconds": round(t, 5),
               "cpu_seconds": round(c, 5), "cutting": T.info["cutting"], "repeat": repeat}
        if have_rc:
            trc, crc, nrc = res[1]
            row.update(regioncam_regions=nrc, regioncam_seconds=round(trc, 5), regioncam_cpu_seconds=round(crc, 5),
                       ratio=round(t / trc, 2), cpu_ratio=round(c / crc, 2))
        if compiled:
            tnp, cnp, Tnp = res[-1]
            row.update(numpy_regions=Tnp.count, numpy_cutting=Tnp.info["cutting"], numpy_seconds=round(tnp, 5),
                       numpy_cpu_seconds=round(cnp, 5))
            if have_rc:
                row["numpy_ratio"] = round(tnp / trc, 2)
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
    row = pairs_row(T, args.repeat_pairs)
    rows.append(row)
    print(json.dumps(row), flush=True)
    t, c, P = timed(T.adjacent_pairs, args.repeat_pairs)
    row = {"dim": 3, "net": "8x32", "what": "adjacent pairs (facets)", "regions": T.count, "pairs": int(len(P)),
           "seconds": round(t, 3), "cpu_seconds": round(c, 3)}
    rows.append(row)
    print(json.dumps(row), flush=True)
    result = {"machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "numpy": np.__version__, "numba": _numba_version(), "seed": args.seed, "repeat": args.repeat, "rows": rows}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
