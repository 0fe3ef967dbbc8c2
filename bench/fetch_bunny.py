#!/usr/bin/env python3
"""Fetch the Stanford bunny that the ``pymeshlab`` wheel ships, without installing pymeshlab.

    .venv/bin/python bench/fetch_bunny.py [--out DIR]

``pip download pymeshlab --no-deps`` puts the wheel (about 106 MB) in a temporary folder; the
two bunnies of its test data are copied out of the zip and the wheel is deleted:

* ``bunny.obj``: the watertight reconstruction (28,088 vertices, 56,172 triangles);
* ``bunny10k.obj``: the 10k-triangle version (its texture coordinates are left in the file).

Default folder: ``$XDG_CACHE_HOME/neuralpoly/meshes`` (``~/.cache/neuralpoly/meshes``), where
``bench/bench_lowpoly.py`` looks for the bunny. Prints the paths. Needs the network once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MEMBERS = {"bunny.obj": "sample_meshes/bunny.obj", "bunny10k.obj": "sample_meshes/bunny10k_textured.obj"}


def cache_dir() -> Path:
    """Where fetched meshes are kept."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "neuralpoly" / "meshes"


def fetch(out: Path) -> dict:
    """Copy the bunnies into ``out`` (skips those already there); name -> path."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in MEMBERS}
    if all(p.exists() for p in paths.values()):
        return paths
    with tempfile.TemporaryDirectory(prefix="pymeshlab-wheel-") as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "pymeshlab", "--no-deps", "--only-binary", ":all:",
                        "-d", tmp, "-q"], check=True)
        wheel = next(Path(tmp).glob("pymeshlab-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
            for name, tail in MEMBERS.items():
                member = next(n for n in names if n.endswith("tests/" + tail))
                part = paths[name].with_suffix(".part")
                part.write_bytes(z.read(member))
                part.replace(paths[name])
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=cache_dir(), help="folder for the meshes (default: %(default)s)")
    args = ap.parse_args(argv)
    for path in fetch(args.out).values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
