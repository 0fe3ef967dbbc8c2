#!/usr/bin/env python3
"""Build the Blender extension: a validated, installable zip in ``dist/``.

    python build.py                       # -> dist/neuralpoly-<version>.zip
    python build.py --output-dir DIR      # elsewhere
    python build.py --stage-only          # only assemble build/extension/neuralpoly/
    python build.py --blender /path/to/blender   # use a Blender binary's CLI instead

The extension is ``addon/`` plus a copy of the pure-Python core ``neuralpoly_core/``
(imported relatively by the add-on, so nothing depends on the name Blender installs it
under). The zip is built and then validated by Blender's own extension tool,
``blender_ext.py``, which ships inside the ``bpy`` module (``pip install bpy==5.0.1`` on
Python 3.11): no Blender binary is needed. Without the ``bpy`` module, pass ``--blender``
(or have ``blender`` on PATH) to run ``blender --command extension build`` instead.

Exit status 0 on success; on failure a message says what is wrong, and no zip is left.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent
ADDON_DIR = ROOT / "addon"
CORE_DIR = ROOT / "neuralpoly_core"
DEFAULT_STAGE = ROOT / "build" / "extension"
DEFAULT_DIST = ROOT / "dist"


class BuildError(Exception):
    """A build step failed; the message says which and why."""


def read_manifest(addon_dir: Path = ADDON_DIR) -> dict:
    """The manifest's top-level keys (Blender's tool validates the whole file later)."""
    path = addon_dir / "blender_manifest.toml"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BuildError(f"{path} is missing") from None
    if tomllib is not None:
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise BuildError(f"{path} is not valid TOML: {e}") from None
    # Python 3.10 has no TOML reader: the simple string keys are all this script needs
    head = raw.decode("utf-8").split("\n[", 1)[0]
    return dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', head, re.M))


def core_version(core_dir: Path = CORE_DIR) -> str:
    text = (core_dir / "version.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.M)
    if not m:
        raise BuildError(f"{core_dir / 'version.py'} defines no __version__")
    return m.group(1)


def _python_files(folder: Path) -> list[Path]:
    """Every ``.py`` file under ``folder``, subpackages included (``__pycache__`` left out)."""
    return sorted(p for p in folder.rglob("*.py") if p.is_file() and "__pycache__" not in p.parts)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def check_sources(addon_dir: Path = ADDON_DIR, core_dir: Path = CORE_DIR) -> None:
    """The rules the extension relies on, checked before anything is built.

    * the core never imports ``bpy`` (it also runs in the training worker and without Blender);
    * the worker script imports neither ``bpy`` nor the add-on's own modules;
    * the add-on imports the core relatively (``from .neuralpoly_core ...``), never by a
      hard-coded package name (Blender installs it as ``bl_ext.<repo>.<id>``).
    """
    bpy_import = re.compile(r"^\s*(import\s+bpy\b|from\s+bpy\b)", re.M)
    for path in _python_files(core_dir) + [addon_dir / "worker.py"]:
        if bpy_import.search(path.read_text(encoding="utf-8")):
            raise BuildError(f"{_shown(path)} imports bpy; the core and the worker must not")
    absolute = re.compile(r"^\s*(from|import)\s+(neuralpoly_core|bl_ext)\b", re.M)
    for path in _python_files(addon_dir):
        if path.relative_to(addon_dir).parts[0] == "neuralpoly_core" or path.name == "worker.py":
            continue
        m = absolute.search(path.read_text(encoding="utf-8"))
        if m:
            raise BuildError(f"{_shown(path)} imports {m.group(2)!r} absolutely; "
                             "use a relative import (from .neuralpoly_core import ...)")


def stage(stage_root: Path = DEFAULT_STAGE) -> Path:
    """Assemble the extension folder ``stage_root/<id>/``: add-on files plus the core."""
    manifest = read_manifest()
    ext_id = manifest.get("id")
    if not isinstance(ext_id, str) or not ext_id:
        raise BuildError("blender_manifest.toml has no 'id'")
    if manifest.get("version") != core_version():
        raise BuildError(f"extension version {manifest.get('version')!r} (addon/blender_manifest.toml) "
                         f"differs from neuralpoly_core.__version__ {core_version()!r}; make them equal")
    check_sources()
    target = stage_root / ext_id
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(ADDON_DIR / "blender_manifest.toml", target / "blender_manifest.toml")
    for source, dest in ((ADDON_DIR, target), (CORE_DIR, target / "neuralpoly_core")):
        for path in _python_files(source):
            out = dest / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
    return target


def find_bpy_extension_cli() -> tuple[Path, Path] | None:
    """``blender_ext.py`` and the valid-tags file inside the installed ``bpy`` module, if any.

    Looks the module up without importing it (importing ``bpy`` starts Blender).
    """
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.origin:
        return None
    bpy_dir = Path(spec.origin).parent
    for version_dir in sorted(bpy_dir.glob("[0-9]*.[0-9]*"), reverse=True):
        cli = version_dir / "scripts" / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
        tags = version_dir / "scripts" / "modules" / "_bpy_internal" / "extensions" / "tags.py"
        if cli.is_file():
            return cli, tags
    return None


def _run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    # blender_ext reports problems as FATAL_ERROR/ERROR lines, not always with a non-zero status
    if proc.returncode != 0 or re.search(r"^(FATAL_)?ERROR", out, re.M):
        raise BuildError(f"{what} failed:\n{out}")
    return out


def build(output_dir: Path = DEFAULT_DIST, stage_root: Path = DEFAULT_STAGE,
          blender: str | None = None, verbose: bool = False) -> Path:
    """Stage, build and validate; returns the path of the zip."""
    source = stage(stage_root)
    manifest = read_manifest()
    output_dir.mkdir(parents=True, exist_ok=True)
    zip_path = output_dir / f"{manifest['id']}-{manifest['version']}.zip"
    if zip_path.exists():
        zip_path.unlink()
    found = None if blender else find_bpy_extension_cli()
    if found is not None:
        cli, tags = found
        base = [sys.executable, str(cli)]
        build_cmd = base + ["build", "--source-dir", str(source), "--output-filepath", str(zip_path)]
        if tags.is_file():
            build_cmd.append(f"--valid-tags={tags}")
        validate_cmd = base + ["validate", str(zip_path)]
    else:
        exe = blender or shutil.which("blender")
        if exe is None:
            raise BuildError(
                "building needs Blender's extension tool: install the bpy module "
                "(pip install bpy==5.0.1, Python 3.11) or pass --blender /path/to/blender")
        base = [exe, "--factory-startup", "--command", "extension"]
        build_cmd = base + ["build", "--source-dir", str(source), "--output-filepath", str(zip_path)]
        validate_cmd = base + ["validate", str(zip_path)]
    try:
        out = _run(build_cmd, "building the extension")
        if verbose:
            print(out)
        out = _run(validate_cmd, f"validating {zip_path.name}")
        if verbose:
            print(out)
    except BaseException:
        if zip_path.exists():
            zip_path.unlink()
        raise
    if not zip_path.is_file():
        raise BuildError(f"the extension tool reported success but wrote no {zip_path}")
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the neuralpoly Blender extension zip.")
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_DIST,
                        help=f"where the zip goes (default {DEFAULT_DIST.relative_to(ROOT)})")
    parser.add_argument("--stage-dir", type=Path, default=DEFAULT_STAGE,
                        help=f"where the extension folder is assembled (default {DEFAULT_STAGE.relative_to(ROOT)})")
    parser.add_argument("--stage-only", action="store_true", help="assemble the folder, build no zip")
    parser.add_argument("--blender", help="Blender binary whose extension CLI to use instead of the bpy module")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.stage_only:
            print(stage(args.stage_dir.resolve()))
        else:
            print(build(args.output_dir.resolve(), args.stage_dir.resolve(), args.blender, args.verbose))
    except BuildError as e:
        print(f"build.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
