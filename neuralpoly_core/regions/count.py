"""``count_regions``: the one entry point for counting linear regions, whatever the method.

``method='milp'`` (:mod:`.milp`) works in any input dimension and stops at a time or region
limit with a lower bound. ``method='exact'`` is reserved for the enumeration of the cells of
the exact extractor's cell complex (low input dimensions), which is not in this version yet.
"""

from __future__ import annotations

from .._checks import check_choice
from ..errors import NeuralPolyError
from .milp import count_regions_milp
from .result import RegionCount

__all__ = ["count_regions", "METHODS"]

#: The methods :func:`count_regions` knows; ``exact`` is not available yet.
METHODS = ("milp", "exact")


def count_regions(net, bbox=(-1.0, 1.0), *, method: str = "milp", progress=None, cancel=None,
                  **options) -> RegionCount:
    """Count the linear regions of ``net`` inside the box ``bbox``.

    Parameters
    ----------
    net : Network
        Piecewise-linear hidden layers (relu, ``|x|``, identity, maxout); the head is ignored.
    bbox : (lo, hi)
        The input box (numbers, or one number per input).
    method : {'milp', 'exact'}
        ``milp``: mixed-integer programming (:func:`~neuralpoly_core.regions.milp.count_regions_milp`,
        whose keyword options -- ``time_limit``, ``max_regions``, ``margin``, ``tolerance``,
        ``tighten`` -- pass through).
    progress, cancel : callable, optional
        See :mod:`neuralpoly_core.reporting`.

    Raises
    ------
    NeuralPolyError
        An unknown method, ``exact`` (not available yet), or what the method refuses.
    """
    check_choice(method, METHODS, "region-counting method")
    if method == "exact":
        raise NeuralPolyError("method 'exact' (enumerating the cells of the exact cell complex, for low input "
                              "dimensions) is not available yet; use method='milp'")
    return count_regions_milp(net, bbox, progress=progress, cancel=cancel, **options)
