"""Where a network's box sits in the world: the similarity transform of a fitted mesh.

A network fitted to a mesh works in its own box (``[-1, 1]^3``); the mesh was somewhere else.
A :class:`Placement` ``world = scale * x + offset`` (a uniform scale, so distances scale by
``scale`` and shapes are not distorted) maps the network's coordinates ``x`` back. It travels
in the model file as the optional top-level field ``"placement"`` (see
:mod:`neuralpoly_core.network.modelfile`)::

    "placement": {"scale": 0.37, "offset": [0.1, -2.0, 0.5], "box": [-1.0, 1.0]}

``box`` is the cube ``[lo, hi]^3`` of network coordinates that was fitted (the box to extract
in). Files without the field load as before (no placement: network and world coordinates agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ModelFormatError, NeuralPolyError

__all__ = ["Placement"]


@dataclass(frozen=True)
class Placement:
    """``world = scale * x + offset`` for network coordinates ``x`` in the cube ``box``."""

    scale: float
    offset: tuple[float, ...]
    box: tuple[float, float] = (-1.0, 1.0)

    def __post_init__(self):
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise ModelFormatError(f"placement scale must be a positive finite number, got {self.scale!r}")
        off = tuple(float(v) for v in self.offset)
        if not off or not all(math.isfinite(v) for v in off):
            raise ModelFormatError(f"placement offset must be finite numbers, got {self.offset!r}")
        lo, hi = (float(v) for v in self.box)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ModelFormatError(f"placement box must be [lo, hi] with lo < hi, got {self.box!r}")
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "offset", off)
        object.__setattr__(self, "box", (lo, hi))

    @classmethod
    def fit(cls, vertices, box=(-1.0, 1.0), margin: float = 0.1) -> "Placement":
        """The placement that centres the bounding box of ``vertices`` in the cube ``box`` with
        its longest side filling ``1 - 2 margin`` of the cube's side.

        Raises
        ------
        NeuralPolyError
            No vertices, non-finite coordinates, or all vertices at one point.
        """
        V = np.asarray(vertices, dtype=np.float64)
        if V.ndim != 2 or not len(V):
            raise NeuralPolyError("the mesh has no vertices to place")
        if not np.all(np.isfinite(V)):
            raise NeuralPolyError("the mesh has NaN or infinite vertex coordinates")
        if not 0 <= margin < 0.5:
            raise NeuralPolyError(f"margin must be in [0, 0.5), got {margin!r}")
        lo, hi = V.min(axis=0), V.max(axis=0)
        extent = float(np.max(hi - lo))
        if not extent > 0:
            raise NeuralPolyError("the mesh is a single point: nothing to fit")
        blo, bhi = float(box[0]), float(box[1])
        scale = extent / ((bhi - blo) * (1 - 2 * margin))
        center_box = (blo + bhi) / 2
        offset = (lo + hi) / 2 - scale * center_box
        return cls(scale, tuple(offset.tolist()), (blo, bhi))

    def to_world(self, x) -> np.ndarray:
        """Network coordinates -> world coordinates."""
        return np.asarray(x, dtype=np.float64) * self.scale + np.asarray(self.offset)

    def to_network(self, p) -> np.ndarray:
        """World coordinates -> network coordinates."""
        return (np.asarray(p, dtype=np.float64) - np.asarray(self.offset)) / self.scale

    def to_dict(self) -> dict:
        return {"scale": self.scale, "offset": list(self.offset), "box": list(self.box)}

    @classmethod
    def from_dict(cls, d) -> "Placement":
        if not isinstance(d, dict):
            raise ModelFormatError("'placement' must be an object")
        unknown = set(d) - {"scale", "offset", "box"}
        if unknown:
            raise ModelFormatError(f"placement has unknown keys {sorted(unknown)}")
        if "scale" not in d or "offset" not in d:
            raise ModelFormatError("placement needs 'scale' and 'offset'")
        off, box = d["offset"], d.get("box", [-1.0, 1.0])
        if not isinstance(off, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in off):
            raise ModelFormatError("placement 'offset' must be a list of numbers")
        if not isinstance(box, list) or len(box) != 2:
            raise ModelFormatError("placement 'box' must be [lo, hi]")
        return cls(d["scale"], tuple(off), tuple(box))
