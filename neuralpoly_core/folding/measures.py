"""The space-folding measures of a walk ``pi_1 .. pi_n`` on the Hamming cube {0, 1}^N.

Lewandowski et al., "On Space Folds of ReLU Neural Networks" (TMLR 2025):

* ``r1 = max_i d_H(pi_1, pi_i)``, the range: how far the walk gets from its start;
* ``r2 = sum_i d_H(pi_i, pi_{i+1})``, the distance travelled;
* ``chi = 1 - r1 / r2`` in [0, 1] (0 for a walk that never doubles back, and for ``r2 = 0``);
  ``chi(-Gamma)`` walks backwards (its range is measured from ``pi_n``);
  ``d_chi = (chi(Gamma) + chi(-Gamma)) / 2``, a pseudo-metric;
* the global folding ``Phi`` of a network: the median of ``chi`` over the paths with ``chi > 0``
  (0 when no path folds);
* the interaction coefficient ``I(k) = chi(Gamma_1 + Gamma_2) - chi(Gamma_1) - chi(Gamma_2)`` of
  the walk split at region ``k`` (0-based): ``Gamma_1 = pi_0 .. pi_k``, ``Gamma_2 = pi_k .. pi_{n-1}``.

Repeating a pattern (several steps in one region) changes none of them. Patterns are boolean
arrays of shape (n, N); the batched functions take many walks at once, their patterns packed
eight bits a byte (:func:`numpy.packbits` along the last axis) and ``offsets`` marking where
each walk starts.
"""

from __future__ import annotations

import numpy as np

from ..errors import NeuralPolyError

__all__ = ["as_patterns", "hamming", "distances_from_start", "range_r1", "range_r2", "chi_of_ranges", "chi",
           "chi_reverse", "global_folding", "interaction", "interactions", "packed_hamming", "batch_ranges"]

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def as_patterns(patterns) -> np.ndarray:
    """Patterns as a boolean (n, N) array: from 0/1 or boolean arrays, or strings like ``"0111"``."""
    if isinstance(patterns, (list, tuple)) and patterns and all(isinstance(p, str) for p in patterns):
        if any(set(p) - {"0", "1"} for p in patterns) or len({len(p) for p in patterns}) != 1:
            raise NeuralPolyError("pattern strings must be 0/1 strings of one length, e.g. '0111'")
        return np.array([[c == "1" for c in p] for p in patterns], dtype=bool)
    a = np.asarray(patterns)
    if a.ndim != 2 or a.shape[0] == 0:
        raise NeuralPolyError(f"patterns must be a non-empty (n, N) array, got shape {a.shape}")
    if a.dtype != bool:
        if not np.all(np.isin(a, (0, 1))):
            raise NeuralPolyError("patterns must hold only 0 and 1 (or True and False)")
        a = a.astype(bool)
    return a


def hamming(a, b) -> np.ndarray:
    """``d_H(a, b)``, the number of differing bits (broadcast over leading axes)."""
    return np.count_nonzero(np.asarray(a) != np.asarray(b), axis=-1)


def distances_from_start(patterns) -> np.ndarray:
    """``d_H(pi_1, pi_i)`` for every ``i``."""
    p = as_patterns(patterns)
    return hamming(p, p[0])


def range_r1(patterns) -> int:
    """``max_i d_H(pi_1, pi_i)``."""
    return int(distances_from_start(patterns).max())


def range_r2(patterns) -> int:
    """``sum_i d_H(pi_i, pi_{i+1})``."""
    p = as_patterns(patterns)
    return int(hamming(p[1:], p[:-1]).sum())


def chi_of_ranges(r1, r2):
    """``1 - r1 / r2`` (0 where ``r2 = 0``), for numbers or arrays."""
    r1, r2 = np.asarray(r1, dtype=np.float64), np.asarray(r2, dtype=np.float64)
    out = np.where(r2 > 0, 1.0 - r1 / np.where(r2 > 0, r2, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def chi(patterns) -> float:
    """The space-folding measure ``chi(Gamma)`` of a walk."""
    return chi_of_ranges(range_r1(patterns), range_r2(patterns))


def chi_reverse(patterns) -> float:
    """``chi(-Gamma)``: the walk backwards."""
    return chi(as_patterns(patterns)[::-1])


def global_folding(chis) -> float:
    """``Phi``: the median of the values ``chi > 0`` (0 when there are none)."""
    c = np.asarray(chis, dtype=np.float64).ravel()
    if not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(c > 1):
        raise NeuralPolyError("chi values must be finite numbers in [0, 1]")
    c = c[c > 0]
    return float(np.median(c)) if len(c) else 0.0


def interactions(patterns) -> np.ndarray:
    """``I(k)`` for every split ``k = 0 .. n-1`` (a part of one pattern has ``chi = 0``)."""
    p = as_patterns(patterns)
    n = len(p)
    steps = hamming(p[1:], p[:-1])
    cum = np.concatenate([[0], np.cumsum(steps)])
    pair = hamming(p[:, None, :], p[None, :, :])                  # (n, n)
    r1_head = np.maximum.accumulate(pair[0])                      # Gamma_1 = pi_0 .. pi_k
    upper = np.where(np.arange(n)[None, :] >= np.arange(n)[:, None], pair, 0)
    r1_tail = upper.max(axis=1)                                   # Gamma_2 = pi_k .. pi_{n-1}
    whole = chi_of_ranges(r1_head[-1], cum[-1])
    return whole - chi_of_ranges(r1_head, cum) - chi_of_ranges(r1_tail, cum[-1] - cum)


def interaction(patterns, k: int) -> float:
    """``I(k) = chi(Gamma_1 + Gamma_2) - chi(Gamma_1) - chi(Gamma_2)``, split at region ``k`` (0-based)."""
    p = as_patterns(patterns)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(p):
        raise NeuralPolyError(f"split index k must be a whole number in 0..{len(p) - 1}, got {k!r}")
    return float(chi(p) - chi(p[:k + 1]) - chi(p[k:]))


def packed_hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``d_H`` of patterns packed with :func:`numpy.packbits` along the last axis."""
    return _POPCOUNT[np.bitwise_xor(a, b)].sum(axis=-1, dtype=np.int64)


def batch_ranges(packed: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(r1, r1 of the reversed walk, r2)`` of many walks (each at least one pattern long).

    ``packed`` holds all walks' patterns one after the other, walk ``p`` in rows
    ``offsets[p] .. offsets[p+1] - 1``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    starts, ends = offsets[:-1], offsets[1:] - 1
    walk = np.repeat(np.arange(len(starts)), np.diff(offsets))
    r1 = np.maximum.reduceat(packed_hamming(packed, packed[starts[walk]]), starts)
    r1_rev = np.maximum.reduceat(packed_hamming(packed, packed[ends[walk]]), starts)
    steps = packed_hamming(packed[1:], packed[:-1]) * (walk[1:] == walk[:-1])
    cum = np.concatenate([[0], np.cumsum(steps)])
    return r1, r1_rev, cum[ends] - cum[starts]
