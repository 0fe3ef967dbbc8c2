"""What a count of linear regions found: :class:`RegionCount`, the same for every method."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RegionCount", "STOPS"]

#: Why a count ended: it is complete, or a limit stopped it (the count is then a lower bound).
STOPS = ("complete", "time limit", "region limit", "solver failed")


@dataclass
class RegionCount:
    """Linear regions (activation regions) of a network in an input box.

    A region is a set of inputs that share an activation pattern and contain an open set:
    patterns realised only on a set of measure zero are not counted.

    Attributes
    ----------
    regions : int
        Regions found.
    complete : bool
        True when every region is found (up to the solver's tolerance, see ``docs/regions.md``);
        False when a limit stopped the count, which is then a lower bound.
    stopped : str
        One of :data:`STOPS`.
    method : str
        ``'milp'`` or ``'exact'`` (the enumeration of the cell complex, :mod:`.exact`).
    dim : int
        Input dimension.
    seconds : float
        Wall time of the count.
    lo, hi : (dim,) float
        The input box.
    patterns : (regions, B) bool
        The pattern of each region, columns ``pattern_columns`` of
        :meth:`~neuralpoly_core.network.model.Network.activation_pattern`.
    witnesses : (regions, dim) float
        A point inside each region (its pattern, evaluated with numpy, is the region's).
    pattern_columns : (B,) int
    details : dict
        Method-specific facts (solver, margin, solves, regions thinner than the margin, ...;
        ``exact``: ``pieces``, ``cells``, ``degenerate_cells``).
    tessellation : RegionTessellation or None
        ``exact``: the regions themselves (:class:`~neuralpoly_core.regions.RegionTessellation`).
    """

    regions: int
    complete: bool
    stopped: str
    method: str
    dim: int
    seconds: float
    lo: np.ndarray
    hi: np.ndarray
    patterns: np.ndarray
    witnesses: np.ndarray
    pattern_columns: np.ndarray
    details: dict = field(default_factory=dict)
    tessellation: object = None

    @property
    def message(self) -> str:
        """One line: ``"1,234 regions (complete)"`` or ``"stopped after 1,234 regions / 60.0 s (time
        limit): the count is a lower bound"``."""
        if self.complete:
            return f"{self.regions:,} regions (complete, {self.seconds:.1f} s)"
        return (f"stopped after {self.regions:,} regions / {self.seconds:.1f} s ({self.stopped}): "
                "the count is a lower bound")

    def to_dict(self, patterns: bool = False) -> dict:
        """A JSON-ready summary; ``patterns=True`` adds the patterns (0/1) and witness points."""
        lo, hi = self.lo.tolist(), self.hi.tolist()
        d = {"regions": self.regions, "complete": self.complete, "lower_bound": not self.complete,
             "stopped": self.stopped, "method": self.method, "dim": self.dim, "seconds": self.seconds,
             "bbox": [lo[0], hi[0]] if len(set(lo)) == 1 and len(set(hi)) == 1 else [lo, hi],
             "message": self.message}
        d.update(self.details)
        if patterns:
            d["patterns"] = self.patterns.astype(np.int8).tolist()
            d["witnesses"] = self.witnesses.tolist()
        return d
