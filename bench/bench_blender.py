#!/usr/bin/env python3
"""Benchmarks of the Blender add-on in real Blender (the bpy module, Python 3.11).

1. Inserting a mesh of about 1,000,000 triangles: ``Mesh.from_pydata`` (Python lists)
   against the add-on's ``blender_mesh.new_mesh`` (``foreach_set`` on numpy buffers,
   plus the ``region_id`` face attribute).
2. Generate-to-object for the paper's figure networks: ``bpy.ops.neuralpoly.add_polytope``
   with the training worker warm (as after the first Generate in a session), a new seed
   each time so nothing comes from the cache; and once cold (worker start + torch import).

    BLENDER_USER_RESOURCES=$(mktemp -d) .venv/bin/python bench/bench_blender.py [--repeat N]

Prints medians (seconds) and ratios. The extension is built and installed into the
temporary user folders first.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _temp_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def install_extension():
    if "BLENDER_USER_RESOURCES" not in os.environ:
        os.environ["BLENDER_USER_RESOURCES"] = _temp_dir("neuralpoly-bench-user-")
    spec = importlib.util.spec_from_file_location("neuralpoly_build_script", ROOT / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    out = Path(_temp_dir("neuralpoly-bench-dist-"))
    zip_path = build.build(out, out / "stage")
    import bpy
    bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                             enable_on_install=True)
    return bpy, sys.modules["bl_ext.user_default.neuralpoly"]


def median_time(fn, repeat: int, setup=None) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def bench_insert(bpy, npb, repeat: int) -> None:
    core = npb.neuralpoly_core
    U, tris = core.radial.icosphere(224)             # 20 * 224^2 = 1,003,520 triangles
    mesh = core.mesh.PolyMesh(U, tris.ravel(), [3] * len(tris))
    verts, faces = U.tolist(), tris.tolist()
    print(f"mesh: {mesh.n_vertices:,} vertices, {mesh.n_faces:,} triangles")

    def clear():
        for me in list(bpy.data.meshes):
            bpy.data.meshes.remove(me)

    def pydata():
        me = bpy.data.meshes.new("pydata")
        me.from_pydata(verts, [], faces)
        me.update()

    def pydata_arrays():
        me = bpy.data.meshes.new("pydata")
        me.from_pydata(U, [], tris)
        me.update()

    def bulk():
        npb.blender_mesh.new_mesh("bulk", mesh)

    t_arr, all_arr = median_time(pydata_arrays, max(1, repeat // 2), clear)
    t_py, all_py = median_time(pydata, repeat, clear)
    t_bulk, all_bulk = median_time(bulk, repeat, clear)
    clear()
    fmt = lambda ts: "[" + ", ".join(f"{t:.3f}" for t in ts) + "]"
    print(f"insert 1M triangles, from_pydata(numpy arrays):  median {t_arr:.3f} s  {fmt(all_arr)}")
    print(f"insert 1M triangles, from_pydata(lists ready):   median {t_py:.3f} s  {fmt(all_py)}")
    print(f"insert 1M triangles, add-on (foreach_set):       median {t_bulk:.3f} s  {fmt(all_bulk)}")
    print(f"speed-up: {t_arr / t_bulk:.1f}x over from_pydata(arrays), {t_py / t_bulk:.1f}x over from_pydata(lists)")


def bench_generate(bpy, npb, repeat: int) -> None:
    figure_nets = [(2, "2", "1"), (3, "3", "1"), (3, "4", "1"), (3, "6", "1"), (3, "12", "1"),
                   (3, "8,2", "1"), (3, "3", "0.6"), (3, "4", "10")]
    bpy.ops.wm.read_homefile(use_empty=True)
    npb.worker_client.shutdown_shared_worker()
    t0 = time.perf_counter()
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=1000)
    print(f"generate (4;1) with a cold worker (start + torch import + train + extract + insert): "
          f"{time.perf_counter() - t0:.3f} s")
    seed = [2000]

    for dim, widths, p in figure_nets:
        def generate():
            seed[0] += 1
            bpy.ops.neuralpoly.add_polytope(dim=dim, widths=widths, p=p, seed=seed[0], resolution=32)
        t, all_t = median_time(generate, repeat)
        obj = bpy.context.active_object
        print(f"generate {dim}D ({widths};{p}) warm worker: median {t:.3f} s "
              f"[{min(all_t):.3f}-{max(all_t):.3f}]  -> {len(obj.data.vertices)} vertices, "
              f"{len(obj.data.polygons)} faces ({obj.neuralpoly.method})")
        bpy.ops.wm.read_homefile(use_empty=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["insert", "generate"])
    args = parser.parse_args()
    bpy, npb = install_extension()
    print(f"Blender {bpy.app.version_string}, Python {sys.version.split()[0]}, {os.cpu_count()} CPU cores")
    if args.only in (None, "insert"):
        bench_insert(bpy, npb, args.repeat)
    if args.only in (None, "generate"):
        bench_generate(bpy, npb, args.repeat)
    npb.worker_client.shutdown_shared_worker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
