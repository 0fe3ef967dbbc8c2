"""Convexity in the Hamming cube (Definition 2 of the space-folding slides) and Lemma 1.

A set ``S`` of patterns is **convex** when, for every two members ``a, b``, every *observable*
pattern on a shortest path between them is a member. The points on shortest paths between
``a`` and ``b`` are exactly the patterns that agree with both wherever ``a`` and ``b`` agree
(the sub-cube their differing bits span), so ``S`` is convex iff no observable non-member
lies in such a sub-cube. Only patterns realised as linear regions are observable; how that is
decided is the caller's choice (``observable``):

* an array of the realised patterns (e.g. the regions a region enumeration, or
  :func:`realised_patterns` of many sample points, found);
* a callable ``pattern -> bool``, e.g. :func:`region_exists`, the LP test below;
* ``None``: every point of the cube counts (the plain cube notion).

:func:`region_exists` decides whether a full pattern is a region of a piecewise-linear network
with a linear program (scipy's HiGHS): with the pattern fixed every pre-activation is affine in
``x``, and the region is the polyhedron where each has its bit's sign; it is observable when
it contains a ball of radius > ``1e-9`` (the Chebyshev LP ``max r`` subject to
``sign_k (a_k x + c_k) >= r |a_k|``), inside ``box`` if one is given. A neuron constant on the
region must have its bit's sign there (a constant 0 gives the bit 0, the tie rule).

**Lemma 1** (Lewandowski et al. 2025): the union of the regions labelled by ``S`` (a subset of
the realised patterns ``A``) is convex in R^n iff ``S`` is convex in the Hamming cube with
``A`` observable. Its proof walks a segment through the regions flipping one bit per
hyperplane, each crossed once: it holds for one hidden layer (a hyperplane arrangement);
for deeper networks the test is the paper's criterion, not a proof of Euclidean convexity.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .._checks import check_int
from ..errors import NeuralPolyError
from ..network.model import Network
from .measures import as_patterns
from .patterns import bit_layers, pattern_width, patterns_at

__all__ = ["Convexity", "hamming_convex", "region_exists", "realised_patterns", "union_is_convex"]

#: Radius of the largest ball a region must contain to be observable (LP test).
MIN_RADIUS = 1e-9


@dataclass(frozen=True)
class Convexity:
    """The verdict of a convexity test.

    Attributes
    ----------
    convex : bool
    witness : tuple of three bool arrays, or None
        When not convex: members ``a``, ``b`` and an observable non-member on a shortest path
        between them.
    """

    convex: bool
    witness: tuple | None = None

    def __bool__(self) -> bool:
        return self.convex


def _key(p: np.ndarray) -> bytes:
    return np.packbits(p).tobytes()


def _subcube(a, b, limit):
    """Every pattern agreeing with ``a`` where ``a == b`` (the shortest paths' points)."""
    free = np.flatnonzero(a != b)
    if len(free) > limit:
        raise NeuralPolyError(f"two members differ in {len(free)} bits: their {2 ** len(free)} shortest-path "
                              f"points are too many to test one by one (limit 2^{limit}); give the "
                              "observable patterns as an array instead")
    codes = (np.arange(2 ** len(free))[:, None] >> np.arange(len(free))) & 1
    out = np.repeat(a[None, :], len(codes), axis=0)
    out[:, free] = codes.astype(bool)
    return out


def hamming_convex(members, observable=None, *, max_free_bits: int = 16) -> Convexity:
    """Definition 2: is the set of patterns ``members`` convex in the Hamming cube?

    Parameters
    ----------
    members : (m, N) bool array, or list of 0/1 strings
    observable : (q, N) bool array, callable or None
        The realised patterns, a test ``pattern -> bool``, or None (every pattern observable).
    max_free_bits : int
        With a callable or None, the shortest-path points of each pair are enumerated: at most
        ``2^max_free_bits`` per pair.
    """
    S = np.unique(as_patterns(members), axis=0)
    keys = {_key(p) for p in S}
    if observable is not None and not callable(observable):
        O = as_patterns(observable)
        if O.shape[1] != S.shape[1]:
            raise NeuralPolyError(f"observable patterns have {O.shape[1]} bits, members {S.shape[1]}")
        O = O[[_key(o) not in keys for o in O]]
        for i, j in combinations(range(len(S)), 2):
            a, b = S[i], S[j]
            inside = ~np.any((O != a) & (a == b), axis=1)
            if np.any(inside):
                return Convexity(False, (a, b, O[np.flatnonzero(inside)[0]]))
        return Convexity(True)
    limit = check_int(max_free_bits, "max_free_bits", 1, 24)
    seen: dict[bytes, bool] = {}
    for i, j in combinations(range(len(S)), 2):
        for p in _subcube(S[i], S[j], limit):
            k = _key(p)
            if k in keys:
                continue
            if k not in seen:
                seen[k] = True if observable is None else bool(observable(p))
            if seen[k]:
                return Convexity(False, (S[i], S[j], p))
    return Convexity(True)


def _affine_pieces(net: Network, pattern: np.ndarray):
    """Rows ``(A, c)`` of every bit neuron's pre-activation ``A x + c`` on the pattern's region."""
    layers = bit_layers(net)
    if len(pattern) != pattern_width(net, layers):
        raise NeuralPolyError(f"a pattern of this network has {pattern_width(net, layers)} bits, got {len(pattern)}")
    A, c = np.eye(net.dim), np.zeros(net.dim)
    rows, consts, start = [], [], 0
    for i, layer in enumerate(net.layers[:max(layers) + 1]):
        b = layer.bias if layer.bias is not None else np.zeros(layer.width)
        A, c = layer.weight @ A, layer.weight @ c + b
        if i in layers:
            bits = pattern[start:start + layer.width]
            start += layer.width
            rows.append(A)
            consts.append(c)
            slope = layer.activation.derivative(np.where(bits, 1.0, -1.0))
        else:
            slope = layer.activation.derivative(np.ones(layer.width))
        A, c = slope[:, None] * A, slope * c
    return np.vstack(rows), np.concatenate(consts)


def region_exists(net: Network, pattern, *, box=None) -> bool:
    """Is ``pattern`` (all bit layers, threshold 0) a linear region of ``net``? (LP, HiGHS)

    ``box``: ``(lo, hi)`` scalars or per-coordinate arrays bounding the inputs; None for all
    of R^dim. See the module docstring for the rule.
    """
    net.require_piecewise_linear("the LP test needs a piecewise-linear network; give the realised patterns")
    net.require_plain_input("the LP test of a region")
    p = as_patterns([pattern] if isinstance(pattern, str) else np.atleast_2d(pattern))[0]
    try:
        from scipy.optimize import linprog
    except ImportError:
        raise NeuralPolyError("the LP region test needs scipy: pip install scipy") from None
    A, c = _affine_pieces(net, p)
    sign = np.where(p, 1.0, -1.0)
    norm = np.linalg.norm(A, axis=1)
    scale = np.abs(A).sum(axis=1) + np.abs(c) + 1.0
    flat = norm <= 1e-12 * scale
    if np.any(np.where(p[flat], c[flat] <= 1e-12 * scale[flat], c[flat] > 1e-12 * scale[flat])):
        return False                                   # a constant neuron with the wrong bit
    A, c, sign, norm = A[~flat], c[~flat], sign[~flat], norm[~flat]
    # variables (x, r): maximise r subject to -sign (A x + c) + r |a| <= 0, r <= 1
    A_ub = np.hstack([-sign[:, None] * A, norm[:, None]])
    bounds = [(None, None)] * net.dim
    if box is not None:
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64), (net.dim,)) for v in box)
        bounds = list(zip(lo.tolist(), hi.tolist()))
    cost = np.zeros(net.dim + 1)
    cost[-1] = -1.0
    if len(A) == 0:
        return True
    res = linprog(cost, A_ub=A_ub, b_ub=sign * c, bounds=bounds + [(None, 1.0)], method="highs")
    return bool(res.status == 0 and -res.fun > MIN_RADIUS)


def realised_patterns(net: Network, X, *, layers=None, threshold: float = 0.0) -> np.ndarray:
    """The distinct patterns of sample points ``X`` (each an observable region, points on a
    boundary aside)."""
    layers = bit_layers(net, layers)
    return np.unique(patterns_at(net, np.atleast_2d(np.asarray(X, dtype=np.float64)), layers, threshold), axis=0)


def union_is_convex(net: Network, members, *, observable=None, box=None) -> Convexity:
    """Lemma 1: is the union of the regions labelled by ``members`` convex?

    ``observable`` as in :func:`hamming_convex`; by default the LP test :func:`region_exists`
    (inside ``box``) decides which patterns are regions. Exact for one hidden layer; for deeper
    networks the paper's criterion (see the module docstring).
    """
    if observable is None:
        observable = lambda p: region_exists(net, p, box=box)  # noqa: E731
    return hamming_convex(members, observable)
