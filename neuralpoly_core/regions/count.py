"""``count_regions``: the one entry point for counting linear regions, whatever the method.

``method='milp'`` (:mod:`.milp`) works in any input dimension and stops at a time or region
limit with a lower bound. ``method='exact'`` (:mod:`.exact`) enumerates the cells of the exact
extractor's cell complex: 1-D to 3-D inputs, or a segment / plane / 3-D slice of any input.
``method='walk'`` (:mod:`.walk`) walks the region adjacency graph by facet LPs: exact in any
input dimension, often far faster than the MILP, a lower bound when its time limit stops it.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice
from ..errors import NeuralPolyError
from .exact import enumerate_regions
from .milp import count_regions_milp
from .result import RegionCount
from .walk import count_regions_walk

__all__ = ["count_regions", "exact_count", "METHODS"]

#: The methods :func:`count_regions` knows.
METHODS = ("milp", "exact", "walk")


def count_regions(net, bbox=(-1.0, 1.0), *, method: str = "milp", progress=None, cancel=None,
                  **options) -> RegionCount:
    """Count the linear regions of ``net`` inside the box ``bbox``.

    Parameters
    ----------
    net : Network
        Piecewise-linear hidden layers (relu, ``|x|``, identity, maxout); the head is ignored.
    bbox : (lo, hi)
        The input box (numbers, or one number per input).
    method : {'milp', 'exact', 'walk'}
        ``milp``: mixed-integer programming (:func:`~neuralpoly_core.regions.milp.count_regions_milp`,
        whose keyword options -- ``time_limit``, ``max_regions``, ``margin``, ``tolerance``,
        ``tighten`` -- pass through); ``exact``: :func:`~neuralpoly_core.regions.enumerate_regions`
        (options ``origin``, ``basis``, ``max_regions``; the count is always complete: the
        region limit raises instead), with ``details`` ``pieces``, ``cells``,
        ``degenerate_cells``, and ``tessellation`` on the result; ``walk``:
        :func:`~neuralpoly_core.regions.walk.count_regions_walk` (options ``time_limit``,
        ``max_regions``, ``tolerance``, ``seed``).
    progress, cancel : callable, optional
        See :mod:`neuralpoly_core.reporting`.

    Raises
    ------
    NeuralPolyError
        An unknown method or option, or what the method refuses.
    """
    check_choice(method, METHODS, "region-counting method")
    if method == "exact":
        unknown = set(options) - {"origin", "basis", "max_regions"}
        if unknown:
            raise NeuralPolyError(f"method 'exact' takes the options origin, basis and max_regions, not "
                                  f"{', '.join(sorted(unknown))}")
        return exact_count(enumerate_regions(net, bbox, progress=progress, cancel=cancel, **options), net)
    if method == "walk":
        unknown = set(options) - {"time_limit", "max_regions", "tolerance", "seed"}
        if unknown:
            raise NeuralPolyError(f"method 'walk' takes the options time_limit, max_regions, tolerance and seed, "
                                  f"not {', '.join(sorted(unknown))}")
        return count_regions_walk(net, bbox, progress=progress, cancel=cancel, **options)
    return count_regions_milp(net, bbox, progress=progress, cancel=cancel, **options)


def exact_count(tess, net) -> RegionCount:
    """The :class:`RegionCount` of a :class:`~neuralpoly_core.regions.RegionTessellation` of ``net``:
    patterns in the columns of :meth:`Network.activation_pattern` that the MILP count uses
    (kinked units, and each maxout unit's one-hot rows), witnesses at the regions' centroids
    (input coordinates); ``tessellation`` is attached to the result."""
    cols, row = [], 0
    for layer in net.layers:
        if layer.activation.group > 1 or layer.activation.kinked:
            cols.append(row + np.arange(layer.rows))
        row += layer.rows
    columns = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    R = tess.count
    patterns = tess.row_patterns()[:, columns]
    witnesses = tess.origin + tess.centroids() @ tess.basis
    details = {"pieces": tess.pieces, "cells": tess.info["cells"], "degenerate_cells": tess.info["degenerate_cells"]}
    return RegionCount(R, True, "complete", "exact", net.dim, tess.seconds, tess.lo, tess.hi, patterns, witnesses,
                       columns, details, tessellation=tess)
