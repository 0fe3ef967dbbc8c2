"""What a folding computation returns: one path (:class:`PathFolding`) or many (:class:`FoldingSet`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .measures import (batch_ranges, chi_of_ranges, distances_from_start, global_folding, hamming, interaction,
                       interactions)

__all__ = ["PathFolding", "FoldingSet"]


@dataclass(frozen=True, eq=False)
class PathFolding:
    """The regions a segment ``x1 -> x2`` passes through, in order, and its folding measures.

    Attributes
    ----------
    x1, x2 : (dim,) float64
        End points; the segment is ``x(t) = x1 + t (x2 - x1)``, ``t`` in [0, 1].
    t : (n,) float64
        Entry ``t`` of each region (``t[0] = 0``). Exact method: where the pattern changes;
        sampled method: the first sample in the region.
    patterns : (n, N) bool
        The pattern of each region (consecutive patterns differ).
    method : {'exact', 'sampled'}
    layers : tuple of int
        The hidden layers (0-based) whose neurons make the pattern.
    threshold : float
        A bit is ``pre-activation > threshold``.
    samples : int or None
        Sample points of the sampled method.
    """

    x1: np.ndarray
    x2: np.ndarray
    t: np.ndarray
    patterns: np.ndarray
    method: str = "exact"
    layers: tuple[int, ...] = ()
    threshold: float = 0.0
    samples: int | None = None

    # -- the walk ----------------------------------------------------------------------
    @property
    def regions(self) -> int:
        """Number of regions the segment passes through (n)."""
        return len(self.t)

    @property
    def breakpoints(self) -> np.ndarray:
        """``t`` of each pattern change (``t[1:]``)."""
        return self.t[1:]

    @property
    def points(self) -> np.ndarray:
        """Coordinates of the pattern changes, shape (n - 1, dim)."""
        return self.x1 + self.breakpoints[:, None] * (self.x2 - self.x1)

    @property
    def distances(self) -> np.ndarray:
        """``d_H(pi_1, pi_i)`` for each region."""
        return distances_from_start(self.patterns)

    @property
    def steps(self) -> np.ndarray:
        """``d_H(pi_i, pi_{i+1})`` at each pattern change (bits that flip there)."""
        return hamming(self.patterns[1:], self.patterns[:-1])

    # -- the measures --------------------------------------------------------------------
    @property
    def r1(self) -> int:
        return int(self.distances.max())

    @property
    def r1_reverse(self) -> int:
        """The range of ``-Gamma``: ``max_i d_H(pi_n, pi_i)``."""
        return int(hamming(self.patterns, self.patterns[-1]).max())

    @property
    def r2(self) -> int:
        return int(self.steps.sum())

    @property
    def chi(self) -> float:
        return chi_of_ranges(self.r1, self.r2)

    @property
    def chi_reverse(self) -> float:
        return chi_of_ranges(self.r1_reverse, self.r2)

    @property
    def d_chi(self) -> float:
        return 0.5 * (self.chi + self.chi_reverse)

    @property
    def chi_fraction(self) -> Fraction:
        """``chi`` as the exact fraction ``(r2 - r1) / r2`` (0 for ``r2 = 0``), for comparing with closed forms."""
        return Fraction(self.r2 - self.r1, self.r2) if self.r2 else Fraction(0)

    @property
    def chi_reverse_fraction(self) -> Fraction:
        """``chi(-Gamma)`` as an exact fraction."""
        return Fraction(self.r2 - self.r1_reverse, self.r2) if self.r2 else Fraction(0)

    def interaction(self, k: int) -> float:
        """``I(k)``: the walk split at region ``k`` (0-based), see :mod:`.measures`."""
        return interaction(self.patterns, k)

    def interactions(self) -> np.ndarray:
        """``I(k)`` for every ``k``."""
        return interactions(self.patterns)

    def reversed(self) -> "PathFolding":
        """The same segment walked from ``x2`` to ``x1``."""
        n = self.regions
        t = np.concatenate([[0.0], 1.0 - self.t[:0:-1]]) if n > 1 else np.zeros(1)
        return PathFolding(self.x2, self.x1, t, self.patterns[::-1], self.method, self.layers,
                           self.threshold, self.samples)

    # -- output ----------------------------------------------------------------------------
    def summary(self) -> dict:
        """The numbers, JSON-ready: chi, chi_reverse, d_chi, r1, r1_reverse, r2, regions, bits,
        breakpoints, distances (d_H from the first region, per region) and the method."""
        return {"method": self.method, "samples": self.samples, "layers": list(self.layers),
                "threshold": self.threshold, "chi": self.chi, "chi_reverse": self.chi_reverse,
                "d_chi": self.d_chi, "r1": self.r1, "r1_reverse": self.r1_reverse, "r2": self.r2,
                "regions": self.regions, "bits": int(self.patterns.shape[1]),
                "breakpoints": self.breakpoints.tolist(), "distances": self.distances.tolist()}

    def geometry(self) -> dict:
        """What a viewer draws (the Blender add-on's edge mesh): a polyline with a vertex per crossing.

        Returns
        -------
        dict
            ``vertices`` (n + 1, dim): ``x1``, the crossing points, ``x2``; ``t`` (n + 1,) their
            parameters; ``edge_distance`` (n,): ``d_H(pi_1, pi_i)`` of the region each edge
            lies in; ``vertex_distance`` (n + 1,): that of the region a vertex enters (the last
            vertex: the last region); ``steps`` (n - 1,): bits flipping at each crossing; and
            the numbers of :meth:`summary` (chi, chi_reverse, d_chi, r1, r2, regions, ...).
        """
        tv = np.concatenate([self.t, [1.0]])
        d = self.distances
        out = self.summary()
        out.update(vertices=self.x1 + tv[:, None] * (self.x2 - self.x1), t=tv, edge_distance=d,
                   vertex_distance=np.concatenate([d, d[-1:]]), steps=self.steps)
        return out


@dataclass(eq=False)
class FoldingSet:
    """Many paths at once: their region walks packed, and the measures as arrays.

    Attributes
    ----------
    x1, x2 : (P, dim) float64
    offsets : (P + 1,) int64
        Path ``p``'s regions are rows ``offsets[p] .. offsets[p+1] - 1`` of ``t`` and ``packed``.
    t : (R,) float64
        Entry ``t`` of every region.
    packed : (R, ceil(N / 8)) uint8
        The regions' patterns, :func:`numpy.packbits` along the last axis.
    n_bits : int
        N, bits per pattern.
    method, layers, threshold, samples
        As in :class:`PathFolding`.
    r1, r1_reverse, r2 : (P,) int64
        Computed on construction.
    """

    x1: np.ndarray
    x2: np.ndarray
    offsets: np.ndarray
    t: np.ndarray
    packed: np.ndarray
    n_bits: int
    method: str = "exact"
    layers: tuple[int, ...] = ()
    threshold: float = 0.0
    samples: int | None = None
    r1: np.ndarray = field(init=False)
    r1_reverse: np.ndarray = field(init=False)
    r2: np.ndarray = field(init=False)

    def __post_init__(self):
        self.r1, self.r1_reverse, self.r2 = batch_ranges(self.packed, self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, p: int) -> PathFolding:
        """Path ``p`` (negative counts from the end, as for lists; IndexError out of range)."""
        n = len(self)
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"paths are indexed by whole numbers, got {p!r}")
        if not -n <= p < n:
            raise IndexError(f"path {p} of {n}")
        p = int(p) % n
        a, b = self.offsets[p], self.offsets[p + 1]
        patterns = np.unpackbits(self.packed[a:b], axis=1, count=self.n_bits).astype(bool)
        return PathFolding(self.x1[p], self.x2[p], self.t[a:b], patterns, self.method, self.layers,
                           self.threshold, self.samples)

    @property
    def regions(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def chi(self) -> np.ndarray:
        return chi_of_ranges(self.r1, self.r2)

    @property
    def chi_reverse(self) -> np.ndarray:
        return chi_of_ranges(self.r1_reverse, self.r2)

    @property
    def d_chi(self) -> np.ndarray:
        return 0.5 * (self.chi + self.chi_reverse)

    @property
    def folded(self) -> np.ndarray:
        """Paths with ``chi > 0`` (``r1 < r2``)."""
        return self.r1 < self.r2

    @property
    def phi(self) -> float:
        """The global folding ``Phi``: median ``chi`` of the paths with ``chi > 0``."""
        return global_folding(self.chi)

    def summary(self, per_path: bool = True) -> dict:
        """JSON-ready: phi, paths, folded (how many have chi > 0), and per path (``per_path``)
        chi, chi_reverse, d_chi, r1, r2 and regions."""
        out = {"method": self.method, "samples": self.samples, "layers": list(self.layers),
               "threshold": self.threshold, "paths": len(self), "phi": self.phi,
               "folded": int(self.folded.sum()), "bits": self.n_bits,
               "median_chi": float(np.median(self.chi)), "median_d_chi": float(np.median(self.d_chi)),
               "mean_regions": float(self.regions.mean())}
        if per_path:
            out.update(chi=self.chi.tolist(), chi_reverse=self.chi_reverse.tolist(), d_chi=self.d_chi.tolist(),
                       r1=self.r1.tolist(), r2=self.r2.tolist(), regions=self.regions.tolist())
        return out
