"""Model files: plain JSON in the ``neuralpoly.model`` format (never pickle).

See README, "Model files", for the format. An optional ``"meta"`` object (type, loss,
name, training settings) may accompany the network; readers that do not know it ignore it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..budget import check_memory
from ..errors import ModelFormatError, NeuralPolyError
from ..fileio import MAX_JSON_BYTES, atomic_write_text, parse_json, read_limited
from .model import Network

__all__ = ["save_model", "load_model", "load_model_with_meta", "model_to_json", "model_from_json"]


def _clean_meta(meta):
    if meta is None:
        return None
    def conv(v):
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 1) == 0:
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if v is None or isinstance(v, (str, int, float, bool)):
            return v
        return str(v)
    return conv(dict(meta))


def model_to_json(net: Network, meta: dict | None = None, indent: int | None = 1) -> str:
    """Serialise a network (and optional metadata) to ``neuralpoly.model`` JSON text."""
    d = net.to_dict()
    meta = _clean_meta(meta)
    if meta:
        d["meta"] = meta
    return json.dumps(d, indent=indent, allow_nan=False)


def model_from_json(text: str | bytes) -> tuple[Network, dict]:
    """Parse ``neuralpoly.model`` JSON text; returns ``(network, meta)``.

    The text is parsed by :func:`neuralpoly_core.fileio.parse_json`: NaN/Infinity, non-UTF-8
    bytes and nesting deeper than :data:`~neuralpoly_core.fileio.MAX_JSON_DEPTH` are refused.
    """
    try:
        d = parse_json(text, "model")
    except NeuralPolyError as e:
        raise ModelFormatError(str(e)) from None
    net = Network.from_dict(d)
    meta = d.get("meta") or {}
    if not isinstance(meta, dict):
        raise ModelFormatError("'meta' must be an object")
    return net, meta


def save_model(net: Network, path, meta: dict | None = None) -> Path:
    """Write a model file atomically."""
    path = Path(path)
    atomic_write_text(path, model_to_json(net, meta) + "\n")
    return path


def load_model(path) -> Network:
    """Read and validate a model file; errors name the file and the problem.

    Raises
    ------
    ModelFormatError
        The file is missing, not a plain file, over the size limit, empty, not UTF-8, not
        JSON, nested too deeply, holds NaN/Infinity, or is not a valid ``neuralpoly.model``.
    """
    return load_model_with_meta(path)[0]


def load_model_with_meta(path) -> tuple[Network, dict]:
    """:func:`load_model` with the file's ``meta`` object (``{}`` when it has none).

    The file is read by :func:`neuralpoly_core.fileio.read_limited`: only a plain file within
    the size limit (a FIFO, a device or a folder is refused without blocking).
    """
    path = Path(path)
    try:
        text = read_limited(path, "model file", MAX_JSON_BYTES)
    except NeuralPolyError as e:
        raise ModelFormatError(str(e)) from None
    if not text.strip():
        raise ModelFormatError(f"model file {str(path)!r} is empty")
    check_memory(20 * len(text), f"reading model file {path.name}", "use a smaller model file")
    try:
        return model_from_json(text)
    except ModelFormatError as e:
        raise ModelFormatError(f"{path.name}: {e}") from None
