"""Fixtures for the add-on's tests in real Blender (the ``bpy`` module, 5.0.1, Python 3.11).

The extension is built with ``build.py`` into a temporary folder, installed with
``bpy.ops.extensions.package_install_files`` and enabled, once per session. Blender's
user folders point at a temporary directory (``BLENDER_USER_RESOURCES``), so the tests
never touch a real Blender configuration. Each test starts from an empty scene
(``wm.read_homefile(use_empty=True)``, which keeps the add-on enabled).

Where the ``bpy`` module cannot run (it needs Python 3.11), the tests are not collected
and ``test_blender_environment.py`` skips with the reason -- or fails, when
``NEURALPOLY_REQUIRE_BLENDER=1`` (set by CI).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from npb_helpers import ADDON_MODULE, SKIP_REASON  # noqa: E402


def pytest_ignore_collect(collection_path, config):
    """Without a usable bpy module, only the environment test is collected (it says why)."""
    if SKIP_REASON is None:
        return None
    name = collection_path.name
    if name.startswith("test_blender_") and name != "test_blender_environment.py":
        return True
    return None


_OWN_USER_RESOURCES = None
if "BLENDER_USER_RESOURCES" not in os.environ:
    # bpy reads this when it is first imported: never let tests touch a real configuration
    _OWN_USER_RESOURCES = tempfile.mkdtemp(prefix="neuralpoly-blender-user-")
    os.environ["BLENDER_USER_RESOURCES"] = _OWN_USER_RESOURCES


def pytest_sessionfinish(session, exitstatus):
    if _OWN_USER_RESOURCES is not None:
        shutil.rmtree(_OWN_USER_RESOURCES, ignore_errors=True)


def load_build_script():
    """The repository's build.py as a module (loaded by path: "build" is also a PyPI name)."""
    spec = importlib.util.spec_from_file_location("neuralpoly_build_script", ROOT / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def build_script():
    return load_build_script()


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory, build_script) -> Path:
    """The extension built by build.py (Blender's own extension tool validates it)."""
    out = tmp_path_factory.mktemp("dist")
    return build_script.build(out, out / "stage")


@pytest.fixture(scope="session")
def addon(extension_zip):
    """The installed, enabled extension's Python package (``bl_ext.user_default.neuralpoly``)."""
    import bpy

    repo_dir = Path(os.environ["BLENDER_USER_RESOURCES"]) / "extensions" / "user_default"
    assert bpy.ops.extensions.package_install_files(
        filepath=str(extension_zip), repo="user_default", enable_on_install=True) == {"FINISHED"}
    name = ADDON_MODULE
    # the operator reports some failures only on the console: check the result itself
    assert (repo_dir / "neuralpoly" / "__init__.py").is_file(), "the extension was not installed"
    assert name in bpy.context.preferences.addons, "the extension was installed but not enabled"
    module = sys.modules[name]
    yield module
    module.worker_client.shutdown_shared_worker()


@pytest.fixture(autouse=True)
def empty_scene(request):
    """Every Blender test starts from an empty scene (the add-on stays enabled)."""
    if SKIP_REASON is not None or "addon" not in request.fixturenames:
        yield
        return
    import bpy
    bpy.ops.wm.read_homefile(use_empty=True)
    yield
