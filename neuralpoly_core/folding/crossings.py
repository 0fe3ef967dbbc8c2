"""Exact crossings of straight segments with the zero sets of a piecewise-linear network.

Along ``x(t) = x1 + t (x2 - x1)``, ``t`` in [0, 1], every layer's pre-activations are
continuous and affine between the *knots* found so far (at first the two end points). A layer
is therefore handled on all knots of all paths at once: ``z = W h + b`` at the knots, then
on every piece between two knots of a path where some neuron's ``z - c`` changes sign
strictly (``c`` = 0 at a kink, and the bit threshold of a selected layer), a new knot at
``t = t_a + (t_b - t_a) (z_a - c) / (z_a - z_b)``, with every pre-activation of the layer
interpolated there (exact: they are affine on the piece); then ``h = act(z)`` at all knots
for the next layer. The network is affine, and the pattern constant, on each piece between
two consecutive knots; a region's pattern is read at its piece's midpoint.

The tie rule
------------
This is the one statement of it; :mod:`.patterns` (the bits of points, also used by the
sampled method) and :mod:`.convexity` apply it as written here.

1. **Equal to the level.** A pre-activation ``z`` counts as equal to the level ``c`` when
   ``|z - c| <= TOLERANCE * (s + |c|)`` (``TOLERANCE`` = 1e-12), where
   ``s = sum_i |w_i| m_i + |b|`` is the neuron's rounding scale at that point and ``m_i``
   the magnitude of input ``i`` there or, if larger, the magnitude of input ``i``'s own
   terms (``sum_k |w_ik| |h_k| + |b_i|`` in the layer before: an input that is a small
   difference of large terms carries their round-off, one layer deep, so the scale does not
   compound with depth). A value equal to the level gives the **bit 0**
   (bit = ``z > c`` strictly).
2. **Only strict sign changes are crossings.** A neuron is crossed on a piece only where
   ``z - c`` goes from one side to the other (both ends outside the band of rule 1). A zero
   at a knot (the segment passes through a vertex of the arrangement, or starts or ends on a
   hyperplane), a zero that is only touched (``relu(2 T(x))`` at ``T(x) = 0``), and a neuron
   identically equal to ``c`` over an interval create no knot.
3. **Simultaneous flips are one step.** Knots closer than ``TOLERANCE`` in ``t`` are one
   knot (the first; a path's end point always stays). A segment through a point where
   several neurons -- of one layer or of several -- change sign at once therefore enters
   one new region there, and ``d_H`` of that step is the number of bits that flip.

What follows, and what the tests check:

* a segment through a vertex where k neurons flip at once: one breakpoint, one step of k bits;
* a segment lying inside a hyperplane: that neuron's bit is 0 all along (rule 1), and
  the hyperplane creates no region (rule 2);
* a segment that starts or ends on a hyperplane: no region of length 0 at that end;
* the sampled method: a sample exactly on a hyperplane gets the bit 0 (rule 1).
"""

from __future__ import annotations

import numpy as np

from ..network.model import Network
from .patterns import TOLERANCE, layer_terms

__all__ = ["segment_knots"]


def _crossings(z, s, pid, levels):
    """(piece index j, fraction lam, neuron k, level) of the strict sign changes of ``z - c``."""
    same = pid[1:] == pid[:-1]
    js, lams, ks, cs = [], [], [], []
    for c in levels:
        zz = z - c
        eps = TOLERANCE * (s + abs(c))
        sign = np.where(zz > eps, 1, np.where(zz < -eps, -1, 0)).astype(np.int8)
        j, k = np.nonzero((sign[:-1] * sign[1:] < 0) & same[:, None])
        if len(j):
            a, b = zz[j, k], zz[j + 1, k]
            js.append(j)
            lams.append(a / (a - b))
            ks.append(k)
            cs.append(np.full(len(j), c))
    if not js:
        return None
    return np.concatenate(js), np.concatenate(lams), np.concatenate(ks), np.concatenate(cs)


def _insert(found, pid, t, z, s):
    """Add the new knots in order; ``s`` (scales) takes the larger value of the piece's ends."""
    j, lam, k, c = found
    z_new = z[j] + lam[:, None] * (z[j + 1] - z[j])
    z_new[np.arange(len(j)), k] = c                      # the crossing neuron is at its level
    s_new = np.maximum(s[j], s[j + 1])
    # sort by (piece, fraction): an old knot i is (i, 0); lexsort is stable, so it stays first
    order = np.lexsort((np.concatenate([np.zeros(len(t)), lam]), np.concatenate([np.arange(len(t)), j])))
    t_new = t[j] + lam * (t[j + 1] - t[j])
    return (np.concatenate([pid, pid[j]])[order], np.concatenate([t, t_new])[order],
            np.concatenate([z, z_new])[order], np.concatenate([s, s_new])[order])


def _merge_close(pid, t):
    """Drop knots within TOLERANCE of the previous knot of their path (a path's end point stays:
    the knot it would merge into goes instead)."""
    n = len(t)
    close = np.zeros(n, dtype=bool)
    close[1:] = (pid[1:] == pid[:-1]) & (np.diff(t) <= TOLERANCE)
    keep = ~close
    ends = np.flatnonzero(np.r_[pid[1:] != pid[:-1], True] & close)
    if len(ends):
        last_kept = np.maximum.accumulate(np.where(keep, np.arange(n), 0))
        keep[last_kept[ends]] = False
        keep[ends] = True
    return pid[keep], t[keep]


def segment_knots(net: Network, X1: np.ndarray, X2: np.ndarray, bit_layers: tuple[int, ...],
                  threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Knots of many segments: ``(pid, t)``, sorted by path then ``t``.

    Every path has its end points ``t = 0`` and ``t = 1`` and a knot wherever a kinked neuron's
    pre-activation crosses 0 or a neuron of a ``bit_layers`` layer crosses ``threshold``;
    the network is affine, and the pattern constant, on each piece between two knots.
    ``net`` must be piecewise linear (the caller checks).
    """
    P = len(X1)
    D = X2 - X1
    pid = np.repeat(np.arange(P), 2)
    t = np.tile([0.0, 1.0], P)
    h = X1[pid] + t[:, None] * D[pid]
    m = np.abs(h)
    wanted = set(bit_layers)
    last = max(bit_layers)
    for i, layer in enumerate(net.layers[:last + 1]):
        W, b, aW, ab = layer_terms(layer)
        z = h @ W.T + b
        s = m @ aW.T + ab                   # the rounding scale of the tie rule
        terms = np.abs(h) @ aW.T + ab       # the magnitude of z's own terms, for the next layer
        levels = [0.0] if layer.activation.kinked else []
        if i in wanted and threshold not in levels:
            levels.append(threshold)
        found = _crossings(z, s, pid, levels) if levels else None
        if found is not None:
            pid, t, z, both = _insert(found, pid, t, z, np.hstack([s, terms]))
            terms = both[:, layer.rows:]
        if i < last:
            h = layer.activation(z)
            m = np.maximum(np.abs(h), terms)
    return _merge_close(pid, t)
