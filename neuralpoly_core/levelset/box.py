"""The box and the arguments every level-set extractor takes (exact and marching alike)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ExtractionError
from ..network.model import Network

__all__ = ["parse_bbox", "check_request"]


def parse_bbox(bbox, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` arrays of shape (dim,) from a cube ``(lo, hi)`` or a (dim, 2) array.

    Raises
    ------
    ExtractionError
        If the box is malformed, not finite, or empty in some axis.
    """
    try:
        b = np.asarray(bbox, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExtractionError(f"bbox must be (lo, hi) or a ({dim}, 2) array, got {bbox!r}") from None
    if b.shape == (2,):
        lo, hi = np.full(dim, b[0]), np.full(dim, b[1])
    elif b.shape == (dim, 2):
        lo, hi = b[:, 0].copy(), b[:, 1].copy()
    else:
        raise ExtractionError(f"bbox must be (lo, hi) or a ({dim}, 2) array, got shape {b.shape}")
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ExtractionError("bbox must be finite")
    if np.any(hi <= lo):
        raise ExtractionError(f"bbox is empty: every hi must exceed its lo, got lo={lo.tolist()}, "
                              f"hi={hi.tolist()}")
    return lo, hi


def check_request(net, level, inside) -> None:
    """The arguments every level-set extractor takes: a 2-D or 3-D network, a finite level,
    and which side is inside.

    Raises
    ------
    ExtractionError
        Naming the argument that is wrong.
    """
    if not isinstance(net, Network):
        raise ExtractionError(f"expected a Network, got {type(net).__name__}")
    net.require_scalar("a level set")
    if net.dim not in (2, 3):
        raise ExtractionError(
            f"level sets are extracted for 2-D and 3-D inputs; this network has {net.dim} inputs "
            "(restrict it to a slice first, see neuralpoly_core.polytope.slicing)")
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(level)):
        raise ExtractionError(f"level must be a finite number, got {level!r}")
    if inside not in ("below", "above"):
        raise ExtractionError(f"inside must be 'below' (f < level) or 'above', got {inside!r}")
