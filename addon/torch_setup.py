"""PyTorch for training: where it is, which version, and installing it on request.

Blender ships no PyTorch. Training (Generate, paper presets, p-sweeps) needs it; loading
model files, re-extracting and exporting do not. The add-on never imports torch into
Blender's process: the training worker does. Torch is found on Blender's own ``sys.path``
or in the extension's user folder (``extension_path_user(..., "site-packages")``), where
the Install button puts it -- only when the user clicks, and only when Blender's
"Allow Online Access" is on (``bpy.app.online_access``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import bpy

from .neuralpoly_core.errors import NeuralPolyError

FEATURES_NEEDING_TORCH = "Generate, paper presets and p-sweep animations"
FEATURES_WITHOUT_TORCH = "loading model files, re-extracting and export"
#: pip index of the CPU-only wheels (a few hundred MB instead of several GB with CUDA).
CPU_INDEX_URL = "https://download.pytorch.org/whl/cpu"


def site_packages() -> str:
    """The extension's private ``site-packages`` folder (created on first use)."""
    return bpy.utils.extension_path_user(__package__, path="site-packages", create=True)


@dataclass(frozen=True)
class TorchStatus:
    installed: bool
    version: str | None
    location: str | None

    def summary(self) -> str:
        if not self.installed:
            return "PyTorch is not installed"
        return f"PyTorch {self.version or '(unknown version)'}"


_status_cache: tuple[float, TorchStatus] | None = None
#: Seconds a looked-up status is reused (panels redraw often).
STATUS_MAX_AGE = 3.0


def torch_status(refresh: bool = False) -> TorchStatus:
    """Whether PyTorch can be imported by the worker, without importing it here."""
    global _status_cache
    now = time.monotonic()
    if not refresh and _status_cache is not None and now - _status_cache[0] < STATUS_MAX_AGE:
        return _status_cache[1]
    status = _find_torch()
    _status_cache = (now, status)
    return status


def _find_torch() -> TorchStatus:
    try:
        spec = importlib.util.find_spec("torch")  # honours sys.modules["torch"] = None
    except (ImportError, ValueError):
        spec = None
    if spec is None and "torch" not in sys.modules:
        spec = importlib.machinery.PathFinder.find_spec("torch", [site_packages()])
    if spec is None or not spec.origin:
        return TorchStatus(False, None, None)
    location = os.path.dirname(os.path.dirname(spec.origin))
    version = None
    try:
        for dist in importlib.metadata.distributions(name="torch", path=[location]):
            version = dist.version
            break
    except Exception:
        version = None
    return TorchStatus(True, version, location)


def worker_paths() -> list[str]:
    """Folders the training worker adds to its ``sys.path``."""
    return [site_packages()]


def require_torch() -> None:
    """Raise a clear error when training is asked for and PyTorch is missing."""
    if not torch_status(refresh=True).installed:
        raise NeuralPolyError(
            f"PyTorch is not installed, and {FEATURES_NEEDING_TORCH} need it to train networks. "
            "Install it in Preferences > Add-ons > Neural Polytopes, or load a model file instead "
            f"({FEATURES_WITHOUT_TORCH} work without it)")


def check_online_access() -> None:
    if not bpy.app.online_access:
        raise NeuralPolyError(
            "Online access is disabled in Blender (Preferences > System > Network > Allow Online "
            "Access, or --online-mode on the command line); PyTorch cannot be downloaded")


def install_command(cpu_only: bool) -> list[str]:
    """The pip command that installs torch into the extension's own folder."""
    cmd = [sys.executable, "-m", "pip", "install", "--upgrade", "--no-input",
           "--disable-pip-version-check", "--target", site_packages()]
    if cpu_only:
        cmd += ["--index-url", CPU_INDEX_URL]
    return cmd + ["torch"]


class TorchInstall:
    """A running ``pip install`` (started with :meth:`start`, polled by a modal operator)."""

    def __init__(self, cpu_only: bool = True) -> None:
        self.cpu_only = cpu_only
        self.process: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()
        self.steps: list[list[str]] = []

    def start(self) -> None:
        check_online_access()
        if importlib.util.find_spec("pip") is None:
            self.steps.append([sys.executable, "-m", "ensurepip", "--default-pip"])
        self.steps.append(install_command(self.cpu_only))
        self._next()

    def _next(self) -> None:
        cmd = self.steps.pop(0)
        kwargs: dict = {}
        if os.name == "nt":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        try:
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                            stderr=subprocess.STDOUT, **kwargs)
        except OSError as e:
            raise NeuralPolyError(f"cannot run pip ({cmd[0]}): {e}") from None

    def poll(self) -> bool:
        """True once finished; raises NeuralPolyError with pip's last words if it failed."""
        assert self.process is not None
        code = self.process.poll()
        if code is None:
            return False
        if code != 0:
            raise NeuralPolyError(f"installing PyTorch failed (pip exit code {code}): {self.tail()}")
        if self.steps:
            self._next()
            return False
        return True

    def tail(self, n_lines: int = 3) -> str:
        self.log.seek(0)
        lines = [ln for ln in self.log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return " | ".join(lines[-n_lines:])

    def last_line(self) -> str:
        return self.tail(1)

    def cancel(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
