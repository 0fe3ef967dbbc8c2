"""A geodesic triangulation of the unit sphere (the start mesh of radial extraction)."""

from __future__ import annotations

import numpy as np

from ..errors import ExtractionError
from ..mesh.shapes import geodesic_sphere

__all__ = ["icosphere"]


def icosphere(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neuralpoly_core.mesh.shapes.geodesic_sphere` (``10 R^2 + 2`` unit vectors,
    ``20 R^2`` triangles counter-clockwise from outside); a bad ``resolution`` raises
    :class:`~neuralpoly_core.errors.ExtractionError`."""
    return geodesic_sphere(resolution, error=ExtractionError)
