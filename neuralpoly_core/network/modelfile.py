"""Model files: plain JSON in the ``neuralpoly.model`` format (never pickle).

See README, "Model files", for the format. An optional ``"meta"`` object (type, loss,
name, training settings) may accompany the network; readers that do not know it ignore it.

An optional ``"placement"`` object (:class:`~neuralpoly_core.network.placement.Placement`:
``{"scale", "offset", "box"}``, world = scale * x + offset) says where the network's box sits
in the world, for networks fitted to a mesh; :func:`load_model_placed` and
:func:`model_from_json_placed` return it (None when absent). Files without it load exactly as
before; readers of :func:`load_model_with_meta` accept files with it and ignore it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..budget import check_memory
from ..errors import ModelFormatError, NeuralPolyError
from ..fileio import MAX_JSON_BYTES, atomic_write_text, parse_json, read_limited
from .model import Network
from .placement import Placement

__all__ = ["save_model", "load_model", "load_model_with_meta", "model_to_json", "model_from_json",
           "load_model_placed", "model_from_json_placed"]


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


def model_to_json(net: Network, meta: dict | None = None, indent: int | None = 1,
                  placement: Placement | None = None) -> str:
    """Serialise a network (and optional metadata and placement) to ``neuralpoly.model`` JSON text."""
    d = net.to_dict()
    meta = _clean_meta(meta)
    if meta:
        d["meta"] = meta
    if placement is not None:
        d["placement"] = placement.to_dict()
    return json.dumps(d, indent=indent, allow_nan=False)


def model_from_json(text: str | bytes) -> tuple[Network, dict]:
    """Parse ``neuralpoly.model`` JSON text; returns ``(network, meta)``."""
    net, meta, _ = model_from_json_placed(text)
    return net, meta


def model_from_json_placed(text: str | bytes) -> tuple[Network, dict, Placement | None]:
    """Parse ``neuralpoly.model`` JSON text; returns ``(network, meta, placement or None)``.

    The text is parsed by :func:`neuralpoly_core.fileio.parse_json`: NaN/Infinity, non-UTF-8
    bytes and nesting deeper than :data:`~neuralpoly_core.fileio.MAX_JSON_DEPTH` are refused.
    """
    try:
        d = parse_json(text, "model")
    except NeuralPolyError as e:
        raise ModelFormatError(str(e)) from None
    placement = None
    if isinstance(d, dict) and "placement" in d:
        d = dict(d)
        placement = Placement.from_dict(d.pop("placement"))
    net = Network.from_dict(d)
    meta = d.get("meta") or {}
    if not isinstance(meta, dict):
        raise ModelFormatError("'meta' must be an object")
    return net, meta, placement


def save_model(net: Network, path, meta: dict | None = None, placement: Placement | None = None) -> Path:
    """Write a model file atomically (with the optional placement of a fitted mesh)."""
    path = Path(path)
    atomic_write_text(path, model_to_json(net, meta, placement=placement) + "\n")
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
    """:func:`load_model` with the file's ``meta`` object (``{}`` when it has none)."""
    net, meta, _ = load_model_placed(path)
    return net, meta


def load_model_placed(path) -> tuple[Network, dict, Placement | None]:
    """Read a model file: ``(network, meta, placement or None)``.

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
        return model_from_json_placed(text)
    except ModelFormatError as e:
        raise ModelFormatError(f"{path.name}: {e}") from None
