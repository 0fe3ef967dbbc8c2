"""Type-check the add-on with mypy against fake-bpy-module's stubs for Blender 5.0.

The check runs on the staged extension folder (as build.py assembles it), where the core
is the subpackage ``neuralpoly.neuralpoly_core``, exactly as Blender imports it. mypy's
cache lives in build/mypy-cache: the first run reads the large bpy stubs (about a minute),
later runs take seconds.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from npb_helpers import REQUIRE_BLENDER

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "mypy.ini"


def _stubs_version() -> str | None:
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name.startswith("fake-bpy-module"):
            return f"{name} {dist.version}"
    return None


def test_addon_type_checks_with_blender_stubs(build_script, tmp_path):
    missing = [what for what, ok in (("mypy", importlib.util.find_spec("mypy") is not None),
                                     ("fake-bpy-module-5.0", _stubs_version() is not None)) if not ok]
    if missing:
        message = f"type check needs {' and '.join(missing)} (pip install fake-bpy-module-5.0 mypy)"
        if REQUIRE_BLENDER:
            pytest.fail(message)
        pytest.skip(message)
    staged = build_script.stage(tmp_path)
    cache = ROOT / "build" / "mypy-cache"
    proc = subprocess.run([sys.executable, "-m", "mypy", "-p", staged.name, "--config-file", str(CONFIG),
                           "--cache-dir", str(cache), "--no-error-summary"],
                          cwd=staged.parent, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"mypy ({_stubs_version()}) found problems:\n{proc.stdout}{proc.stderr}"
