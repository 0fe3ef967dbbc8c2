"""3-D slices of d > 3 neural polytopes through linear subspaces.

A bias-free network restricted to a subspace through the origin stays bias-free and
positively homogeneous, so the slice of the level set is itself a star-shaped level set in
3-D: extract ``net.restrict(basis)`` and map vertices back with ``basis``.
:func:`slice_network` is that step (with the checks of the basis) for every extraction method.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ExtractionError, NeuralPolyError
from ..network.model import Network

__all__ = ["paper_slice_basis", "check_basis", "slice_network"]


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


def check_basis(basis, dim: int) -> np.ndarray:
    """``basis`` as a float64 ``(dim, 3)`` (or ``(dim, 2)``, a planar slice) matrix.

    Raises
    ------
    ExtractionError
        If it is not a matrix of numbers of that shape, has NaN or infinite entries, or its
        columns are linearly dependent (they span no 3-D, or 2-D, subspace).
    """
    try:
        B = np.asarray(basis, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExtractionError(f"slice basis must be a ({dim}, 3) matrix of numbers") from None
    if B.ndim != 2 or B.shape[0] != dim or B.shape[1] not in (2, 3):
        raise ExtractionError(f"slice basis must have shape ({dim}, 3) (or ({dim}, 2) for a planar "
                              f"slice), got {B.shape}")
    if not np.all(np.isfinite(B)):
        raise ExtractionError("slice basis contains NaN or infinite entries")
    if np.linalg.matrix_rank(B) < B.shape[1]:
        raise ExtractionError("slice basis columns are linearly dependent: they do not span a "
                              f"{B.shape[1]}-D subspace")
    return B


def slice_network(net: Network, basis) -> tuple[Network, np.ndarray | None]:
    """The network to extract and the checked basis (None for no slice).

    With a basis: ``net.restrict(basis)`` (see :func:`check_basis`). Without one, ``net``
    itself, which must then have at most 3 inputs (a d > 3 polytope cannot be shown whole).

    Raises
    ------
    ExtractionError
        For a bad basis, or a network of more than 3 inputs without one.
    """
    if basis is not None:
        B = check_basis(basis, net.dim)
        return net.restrict(B), B
    if net.dim > 3:
        raise ExtractionError(
            f"the network has {net.dim} inputs: pass a 3-D slice basis of shape ({net.dim}, 3), "
            f"e.g. basis=paper_slice_basis({net.dim}, theta) from neuralpoly_core.polytope.slicing")
    return net, None
