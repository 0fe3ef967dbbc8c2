"""Files of paths: the end-point pairs of many straight paths, as JSON or ``.npy``.

* ``.json``: a list of pairs ``[[x1_0, x1_1, ...], [x2_0, x2_1, ...]]``, or an object whose
  ``"paths"`` key holds that list (other keys are ignored), e.g.
  ``{"paths": [[[0, 0], [1, 1]], [[0, 1], [1, 0]]]}``;
* ``.npy``: a float array of shape (P, 2, dim) (``[:, 0]`` the start points, ``[:, 1]`` the
  end points), read without pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import NeuralPolyError
from ..fileio import atomic_open, atomic_write_text, read_json, read_npy

__all__ = ["load_paths", "save_paths"]


def _pairs_from_json(data, name: str) -> np.ndarray:
    if isinstance(data, dict):
        if "paths" not in data:
            raise NeuralPolyError(f"{name}: a JSON object of paths needs a 'paths' list")
        data = data["paths"]
    if not isinstance(data, list) or not data:
        raise NeuralPolyError(f"{name}: expected a non-empty list of [start, end] pairs")
    for i, pair in enumerate(data):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, list) and p for p in pair)
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for p in pair for v in p)):
            raise NeuralPolyError(f"{name}: path {i} is not a pair of coordinate lists [[x1...], [x2...]]")
        if len(pair[0]) != len(pair[1]) or len(pair[0]) != len(data[0][0]):
            raise NeuralPolyError(f"{name}: path {i} has end points of {len(pair[0])} and {len(pair[1])} "
                                  f"coordinates; every point needs {len(data[0][0])}")
    return np.array(data, dtype=np.float64)


def load_paths(path, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read a paths file: ``(X1, X2)``, each (P, dim). ``dim``: the coordinates every point needs.

    Raises
    ------
    NeuralPolyError
        A missing or malformed file, or points of the wrong dimension (the message names the file).
    """
    path = Path(path)
    name = path.name
    suffix = path.suffix.lower()
    if suffix not in (".json", ".npy"):
        raise NeuralPolyError(f"{name}: a paths file must be .json or .npy")
    if suffix == ".json":
        pairs = _pairs_from_json(read_json(path, "paths file"), name)
    else:
        pairs = read_npy(path, "paths file")
        if pairs.ndim != 3 or pairs.shape[1] != 2 or pairs.shape[0] == 0 or pairs.shape[2] == 0 \
                or not np.issubdtype(pairs.dtype, np.number):
            raise NeuralPolyError(f"{name}: expected a numeric array of shape (P, 2, dim), got {pairs.dtype} "
                                  f"{pairs.shape}")
        pairs = pairs.astype(np.float64)
    if dim is not None and pairs.shape[2] != dim:
        raise NeuralPolyError(f"{name}: the points have {pairs.shape[2]} coordinates; the network takes {dim}")
    if not np.all(np.isfinite(pairs)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(pairs), axis=(1, 2)))[0])
        raise NeuralPolyError(f"{name}: path {bad} has a NaN or infinite coordinate")
    return pairs[:, 0], pairs[:, 1]


def save_paths(path, X1, X2) -> Path:
    """Write end-point pairs as a paths file (``.json`` or ``.npy``, by the suffix), atomically."""
    path = Path(path)
    pairs = np.stack([np.asarray(X1, dtype=np.float64), np.asarray(X2, dtype=np.float64)], axis=1)
    if path.suffix.lower() == ".npy":
        with atomic_open(path, "wb") as fh:
            np.save(fh, pairs, allow_pickle=False)
    elif path.suffix.lower() == ".json":
        atomic_write_text(path, json.dumps({"paths": pairs.tolist()}) + "\n")
    else:
        raise NeuralPolyError(f"{path.name}: a paths file must be .json or .npy")
    return path
