"""3-D slices of d > 3 neural polytopes through linear subspaces.

A bias-free network restricted to a subspace through the origin stays bias-free and
positively homogeneous, so the slice of the level set is itself a star-shaped level set in
3-D: extract ``net.restrict(basis)`` and map vertices back with ``basis``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import NeuralPolyError

__all__ = ["paper_slice_basis"]


def paper_slice_basis(dim: int, theta: float) -> np.ndarray:
    """The slice of the paper's Fig. 5, generalised to any d > 3.

    Keeps x1 and x2 free, sets x3 = ... = x_{d-2} = 0 and ``x_{d-1} = x_d * tan(theta)``;
    for d = 5 this is the paper's plane ``x3 = 0, x4 = x5 tan(theta)``.
    """
    if dim <= 3:
        raise NeuralPolyError(f"slices are for d > 3; a {dim}-D polytope is extracted whole")
    if not math.isfinite(theta):
        raise NeuralPolyError(f"slice angle theta must be finite, got {theta!r}")
    B = np.zeros((dim, 3))
    B[0, 0] = 1.0
    B[1, 1] = 1.0
    B[dim - 2, 2] = math.sin(theta)
    B[dim - 1, 2] = math.cos(theta)
    return B
