"""Access to PyTorch: whether it is installed, importing it on first use, devices, dtypes, threads.

Every training module gets torch from :func:`require_torch`, so ``import neuralpoly_core``
and ``import neuralpoly_core.training`` work (and stay fast) without it; a training call
without torch raises a :class:`~neuralpoly_core.errors.NeuralPolyError` that says how to
install it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys

from .._checks import check_int
from ..errors import NeuralPolyError

__all__ = ["torch_available", "require_torch", "resolve_device", "resolve_dtype", "torch_threads",
           "device_free_memory"]


def torch_available() -> bool:
    """True when PyTorch is installed (training needs it; evaluation does not).

    Cheap: looks the package up without importing it.
    """
    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def require_torch():
    """The ``torch`` module, imported now if it was not yet.

    Raises
    ------
    NeuralPolyError
        PyTorch is not installed (the message says how to install it).
    """
    try:
        import torch
    except ImportError:
        raise NeuralPolyError(
            "training needs PyTorch, which is not installed; install it with "
            "'pip install torch==2.13.0' (CPU wheels: add "
            "'--index-url https://download.pytorch.org/whl/cpu')") from None
    return torch


def resolve_device(device: str):
    """The ``torch.device`` of ``'auto'`` (CUDA when available), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    Raises
    ------
    NeuralPolyError
        Any other value, or CUDA asked for but not available (or no such CUDA device).
    """
    torch = require_torch()
    if not isinstance(device, str):
        raise NeuralPolyError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise NeuralPolyError(
                f"device {device!r} requested but CUDA is not available to PyTorch "
                f"(torch {torch.__version__}); use device='cpu' or 'auto'")
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise NeuralPolyError(f"invalid CUDA device {device!r}") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise NeuralPolyError(
                f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return dev
    raise NeuralPolyError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


def device_free_memory(dev) -> int | None:
    """Free bytes of a CUDA device (``torch.cuda.mem_get_info``); None for the CPU (the memory
    budget of :mod:`neuralpoly_core.budget` applies there)."""
    if getattr(dev, "type", "cpu") != "cuda":
        return None
    return int(require_torch().cuda.mem_get_info(dev)[0])


def resolve_dtype(dtype):
    """``(torch dtype, name)`` of ``'float64'`` / ``'double'`` or ``'float32'`` / ``'float'``.

    Raises
    ------
    NeuralPolyError
        Any other value.
    """
    torch = require_torch()
    if dtype in ("float64", "double", torch.float64):
        return torch.float64, "float64"
    if dtype in ("float32", "float", torch.float32):
        return torch.float32, "float32"
    raise NeuralPolyError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Let torch use ``threads`` CPU threads inside the ``with`` block (None: leave it alone).

    The previous setting is restored on the way out, also after an error.
    """
    torch = require_torch()
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_int(threads, "threads", 1))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
