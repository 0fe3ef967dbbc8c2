"""Timing of radial extraction and mesh export.

Run: ``.venv/bin/python bench/bench_radial.py [--repeat N]``. Prints the median wall and
CPU time of ``extract_radial`` (resolution 32, refinement on) for paper-style networks,
the mesh sizes, the ratio to the unrefined extraction, and the time to write each format.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from neuralpoly_core import polytope_network
from neuralpoly_core.mesh.files import export_mesh
from neuralpoly_core.polytope.radial import extract_radial
from timing import timed  # noqa: E402  (bench/timing.py, beside this script)


def unit_rows(n, d, seed):
    W = np.random.default_rng(seed).normal(size=(n, d))
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    nets = {
        "(5;0.6) random rows": polytope_network(3, [unit_rows(5, 3, 0)], [0.6]),
        "(3;0.6) W=I": polytope_network(3, [np.eye(3)], [0.6]),
        "(3;2) sphere": polytope_network(3, [np.eye(3)], [2.0]),
        "(4;10) random rows": polytope_network(3, [unit_rows(4, 3, 1)], [10.0]),
        "(6,3;1,0.8) deep": polytope_network(3, [unit_rows(6, 3, 2), unit_rows(3, 6, 3)], [1.0, 0.8]),
    }
    print(f"extract_radial(resolution=32), median of {args.repeat}")
    print(f"{'network':24s} {'wall s':>8s} {'cpu s':>8s} {'vs unrefined':>13s} {'triangles':>10s} {'max|f-1|':>9s}")
    for label, net in nets.items():
        w, c, mesh = timed(lambda: extract_radial(net, resolution=32), args.repeat)
        w0, _, _ = timed(lambda: extract_radial(net, resolution=32, refine=False), args.repeat)
        err = float(np.max(np.abs(net(mesh.vertices) - 1.0)))
        print(f"{label:24s} {w:8.3f} {c:8.3f} {w / w0:12.1f}x {mesh.n_faces:10d} {err:9.1e}")
        if label.startswith("(5;0.6)"):
            bench_mesh = mesh
    print(f"\nexport of the (5;0.6) mesh ({bench_mesh.n_vertices} vertices, {bench_mesh.n_faces} faces)")
    with tempfile.TemporaryDirectory() as d:
        for name, kw in [("m.obj", {}), ("m.stl", {}), ("m.ply", {}), ("a.ply", {"binary": False})]:
            path = Path(d) / name
            w, c, _ = timed(lambda: export_mesh(bench_mesh, path, **kw), args.repeat)
            print(f"{name + (' ascii' if kw else ''):12s} {w:8.3f} s  {path.stat().st_size / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()
