"""build.py: a validated extension zip with the core inside, and the rules it enforces."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_zip_holds_the_addon_and_the_whole_core(extension_zip):
    names = set(zipfile.ZipFile(extension_zip).namelist())
    core = {p.relative_to(ROOT).as_posix() for p in (ROOT / "neuralpoly_core").rglob("*.py")
            if "__pycache__" not in p.parts}
    # every subpackage's files reach the zip, not only the top folder's
    assert "neuralpoly_core/levelset/exact.py" in core and "neuralpoly_core/network/model.py" in core
    assert core <= names
    addon = {p.name for p in (ROOT / "addon").glob("*.py")}
    assert addon <= names
    assert "blender_manifest.toml" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_manifest_fields(extension_zip):
    with zipfile.ZipFile(extension_zip) as z:
        manifest = tomllib.loads(z.read("blender_manifest.toml").decode())
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == "neuralpoly"
    assert manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0"
    assert all(lic.startswith("SPDX:") for lic in manifest["license"])
    assert "Add Mesh" in manifest["tags"]
    assert set(manifest["permissions"]) == {"files", "network"}
    assert all(len(reason) > 10 for reason in manifest["permissions"].values())
    assert extension_zip.name == f"neuralpoly-{manifest['version']}.zip"


def test_addon_imports_are_relative(extension_zip):
    """Installed as bl_ext.<repo>.neuralpoly: no module may name its own package."""
    with zipfile.ZipFile(extension_zip) as z:
        for name in z.namelist():
            if name.endswith(".py") and "/" not in name and name != "worker.py":
                text = z.read(name).decode()
                assert not re.search(r"^\s*(from|import)\s+(neuralpoly_core|bl_ext|neuralpoly)\b", text, re.M), name


def test_build_cli_writes_a_zip(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "--output-dir", str(tmp_path / "out"),
                           "--stage-dir", str(tmp_path / "stage")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    zip_path = Path(proc.stdout.strip().splitlines()[-1])
    assert zip_path.is_file() and zip_path.parent == tmp_path / "out"
    assert zipfile.ZipFile(zip_path).testzip() is None


def test_extension_tool_validates_the_zip(extension_zip, build_script):
    cli, _ = build_script.find_bpy_extension_cli()
    proc = subprocess.run([sys.executable, str(cli), "validate", str(extension_zip)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout


def _sources(tmp_path: Path, core_text: str, addon_text: str, worker_text: str = "import json\n"):
    core, addon = tmp_path / "core", tmp_path / "addon"
    core.mkdir()
    addon.mkdir()
    (core / "mod.py").write_text(core_text)
    (addon / "ops.py").write_text(addon_text)
    (addon / "worker.py").write_text(worker_text)
    return addon, core


def test_check_sources_refuses_bpy_in_the_core(tmp_path, build_script):
    addon, core = _sources(tmp_path, "import numpy\nimport bpy\n", "from .neuralpoly_core import x\n")
    with pytest.raises(build_script.BuildError, match="mod.py imports bpy"):
        build_script.check_sources(addon, core)


def test_check_sources_refuses_bpy_in_the_worker(tmp_path, build_script):
    addon, core = _sources(tmp_path, "import numpy\n", "import bpy\n", worker_text="from bpy import types\n")
    with pytest.raises(build_script.BuildError, match="worker.py imports bpy"):
        build_script.check_sources(addon, core)


def test_check_sources_refuses_absolute_core_imports(tmp_path, build_script):
    addon, core = _sources(tmp_path, "import numpy\n", "import bpy\nfrom neuralpoly_core.mesh import PolyMesh\n")
    with pytest.raises(build_script.BuildError, match="ops.py imports 'neuralpoly_core' absolutely"):
        build_script.check_sources(addon, core)


def test_check_sources_accepts_the_rules(tmp_path, build_script):
    addon, core = _sources(tmp_path, "import numpy\n", "import bpy\nfrom .neuralpoly_core.mesh import PolyMesh\n")
    build_script.check_sources(addon, core)


def test_check_sources_looks_into_subpackages(tmp_path, build_script):
    addon, core = _sources(tmp_path, "import numpy\n", "import bpy\n")
    (core / "deep" / "deeper").mkdir(parents=True)
    (core / "deep" / "deeper" / "leaf.py").write_text("from bpy import types\n")
    with pytest.raises(build_script.BuildError, match="leaf.py imports bpy"):
        build_script.check_sources(addon, core)
