"""Bounds on the number of linear regions of an architecture, in exact integer arithmetic.

An architecture is written ``(n0; n1, ..., nL)``: ``n0`` inputs and ``L`` hidden layers of
``n_l`` units (the output head does not cut regions). Every function returns a Python
``int`` (no overflow, no rounding), computed without enumerating index sets: the sums over
``J`` of Serra et al.'s Theorem 1 run as a dynamic programme over the one number that
constrains the next index, so ``(784; 100, 100, 100)`` takes milliseconds.

References
----------
* T. Zaslavsky, *Facing up to arrangements: face-count formulas for partitions of space by
  hyperplanes*, Memoirs of the AMS 154, 1975.
* G. Montúfar, R. Pascanu, K. Cho, Y. Bengio, *On the number of linear regions of deep neural
  networks*, NIPS 2014.
* R. Pascanu, G. Montúfar, Y. Bengio, *On the number of response regions of deep feed forward
  networks with piece-wise linear activations*, ICLR 2014.
* M. Raghu, B. Poole, J. Kleinberg, S. Ganguli, J. Sohl-Dickstein, *On the expressive power
  of deep neural networks*, ICML 2017.
* G. Montúfar, *Notes on the number of linear regions of deep neural networks*, SampTA 2017.
* T. Serra, C. Tjandraatmadja, S. Ramalingam, *Bounding and counting linear regions of deep
  neural networks*, ICML 2018.
"""

from __future__ import annotations

import math

from .._checks import check_int
from ..errors import NeuralPolyError

__all__ = ["zaslavsky", "shallow_regions", "layer_product_bound", "montufar_bound", "serra_bound",
           "montufar_lower_bound", "maxout_bound", "all_bounds", "bounds_of", "BOUND_NAMES"]

#: What each key of :func:`all_bounds` is, for tables and plots.
BOUND_NAMES = {
    "first_layer": "Zaslavsky 1975, the first layer alone",
    "shallow": "one layer of all N units (Zaslavsky; not a bound for deep networks)",
    "patterns": "activation patterns (2^N, or k^N for rank-k maxout)",
    "layer_product": "product of Zaslavsky's bound per layer in n0 dimensions (Raghu et al. 2017)",
    "montufar2017": "Montufar 2017 (as stated in Serra et al. 2018, Section 3)",
    "serra": "Serra et al. 2018, Theorem 1",
    "montufar2014_lower": "Montufar et al. 2014, Theorem 4 (a lower bound on the maximum)",
    "serra_maxout": "Serra et al. 2018, Theorem 2 of the poster (rank-k maxout)",
}


def _check(dim, widths) -> tuple[int, tuple[int, ...]]:
    dim = check_int(dim, "the input dimension n0", 1)
    if isinstance(widths, (str, bytes)):
        raise NeuralPolyError(f"widths must be a sequence of layer widths, got {widths!r}")
    try:
        widths = tuple(widths)
    except TypeError:
        raise NeuralPolyError(f"widths must be a sequence of layer widths, got {widths!r}") from None
    if not widths:
        raise NeuralPolyError("an architecture needs at least one hidden layer")
    return dim, tuple(check_int(n, f"width of layer {i + 1}", 1) for i, n in enumerate(widths))


def zaslavsky(hyperplanes: int, dim: int) -> int:
    """The most regions ``n`` hyperplanes cut ``R^dim`` into: ``sum_{j=0}^{dim} C(n, j)``.

    Zaslavsky 1975 (Theorem A, the count for an arrangement in general position, which is the
    maximum). For one layer of ``n`` ReLUs on ``n0`` inputs this is the maximal number of
    linear regions, ``zaslavsky(n1, n0)`` (Serra et al. 2018, Section 3).
    """
    n = check_int(hyperplanes, "the number of hyperplanes", 0)
    d = check_int(dim, "the dimension", 0)
    return sum(math.comb(n, j) for j in range(min(n, d) + 1))


def shallow_regions(dim: int, widths) -> int:
    """``sum_{j<=n0} C(N, j)``, N the total number of units: the maximum of a *shallow* network.

    One hidden layer of all ``N`` units attains it (Zaslavsky 1975); Serra et al. 2018
    (Section 3, "deep vs. shallow") compare deep networks with it. It is **not** an upper bound
    for deep networks: ``(1; 2, 2)`` has 9 regions at most and 5 here.
    """
    dim, widths = _check(dim, widths)
    return zaslavsky(sum(widths), dim)


def layer_product_bound(dim: int, widths) -> int:
    """``prod_l sum_{j<=n0} C(n_l, j)``: every layer's ``n_l`` hyperplanes cut every region of
    the layers before it (a polyhedron of dimension at most ``n0``) into at most Zaslavsky's
    number of pieces.

    The argument of Raghu et al. 2017 (Theorem 1, ``O(n^(n0 L))``) and Pascanu et al. 2014;
    :func:`montufar_bound` and :func:`serra_bound` tighten it.
    """
    dim, widths = _check(dim, widths)
    return math.prod(zaslavsky(n, dim) for n in widths)


def montufar_bound(dim: int, widths) -> int:
    """``prod_l sum_{j<=d_l} C(n_l, j)`` with ``d_l = min(n0, n1, ..., n_l)``.

    Montúfar 2017 (in the form Serra et al. 2018, Section 3, state it): the image of a region
    after layer ``l`` has dimension at most ``d_l``, so layer ``l`` cuts it as an arrangement
    in ``d_l`` dimensions.
    """
    dim, widths = _check(dim, widths)
    out, d = 1, dim
    for n in widths:
        d = min(d, n)
        out *= zaslavsky(n, d)
    return out


def serra_bound(dim: int, widths) -> int:
    """Serra et al. 2018, Theorem 1: ``sum_{(j_1..j_L) in J} prod_l C(n_l, j_l)`` with

    ``J = {0 <= j_l <= min(n0, n1 - j1, ..., n_{l-1} - j_{l-1}, n_l) for all l}``:
    ``j_l`` counts the units of layer ``l`` active in a region, and the ``n_l - j_l`` inactive
    ones cap the dimension of what follows. Tight for one layer (it is then
    :func:`zaslavsky`), and at most :func:`montufar_bound`.

    The sum runs as a dynamic programme over ``m = min(n0, n1 - j1, ..., n_{l-1} - j_{l-1})``,
    the cap on the next index: at most ``min(n0, n_l) + 1`` states per layer.
    """
    dim, widths = _check(dim, widths)
    states = {dim: 1}                               # cap m -> summed weight of the prefixes
    for n in widths:
        comb = [math.comb(n, j) for j in range(min(dim, n) + 1)]   # j <= m <= dim
        new: dict[int, int] = {}
        for m, weight in states.items():
            for j in range(min(m, n) + 1):
                key = min(m, n - j)
                new[key] = new.get(key, 0) + weight * comb[j]
        states = new
    return sum(states.values())


def montufar_lower_bound(dim: int, widths) -> int | None:
    """``(prod_{l<L} floor(n_l / n0)^n0) sum_{j<=n0} C(n_L, j)``: regions that some weights attain.

    Montúfar et al. 2014, Theorem 4 (the count its construction reaches: each of the first
    ``L - 1`` layers folds each input coordinate ``floor(n_l / n0)`` times, the last layer is
    an arrangement in general position). A lower bound on the *maximum* over weights, defined
    when every layer but the last has ``n_l >= n0``; None otherwise.
    """
    dim, widths = _check(dim, widths)
    if any(n < dim for n in widths[:-1]):
        return None
    return math.prod((n // dim) ** dim for n in widths[:-1]) * zaslavsky(widths[-1], dim)


def maxout_bound(dim: int, widths, k: int) -> int:
    """Serra et al. 2018, Theorem 2 (of the poster; the maxout theorem of the paper):
    ``prod_l sum_{j<=d_l} C(k(k-1)/2 * n_l, j)``,
    ``d_l = min(n0, n1, ..., n_l)``, for rank-``k`` maxout layers.

    A rank-k maxout unit is cut by the ``k(k-1)/2`` hyperplanes where two of its pieces tie.
    """
    dim, widths = _check(dim, widths)
    k = check_int(k, "the maxout rank k", 2)
    ties = k * (k - 1) // 2
    out, d = 1, dim
    for n in widths:
        d = min(d, n)
        out *= zaslavsky(ties * n, d)
    return out


def all_bounds(dim: int, widths, maxout: int | None = None) -> dict:
    """Every bound of this module for ``(dim; widths)``, keyed as in :data:`BOUND_NAMES`.

    ReLU layers by default; ``maxout=k`` for rank-k maxout layers (then ``serra_maxout`` and
    ``patterns`` only: the ReLU bounds do not apply).
    """
    dim, widths = _check(dim, widths)
    n = sum(widths)
    out = {"dim": dim, "widths": list(widths)}
    if maxout is not None:
        k = check_int(maxout, "the maxout rank k", 2)
        out.update(maxout_rank=k, serra_maxout=maxout_bound(dim, widths, k), patterns=k ** n)
        return out
    out.update(first_layer=zaslavsky(widths[0], dim), shallow=shallow_regions(dim, widths), patterns=2 ** n,
               layer_product=layer_product_bound(dim, widths), montufar2017=montufar_bound(dim, widths),
               serra=serra_bound(dim, widths), montufar2014_lower=montufar_lower_bound(dim, widths))
    return out


def bounds_of(net) -> dict:
    """:func:`all_bounds` for a network whose hidden layers are all ReLU, or all rank-k maxout.

    Raises
    ------
    NeuralPolyError
        For other layers (identity, ``|x|``, smooth ones): the theorems are about ReLU and
        maxout networks.
    """
    acts = [layer.activation for layer in net.layers]
    if all(a.slopes == (0.0, 1.0) for a in acts):
        return all_bounds(net.dim, net.widths)
    if all(a.group > 1 for a in acts) and len({a.group for a in acts}) == 1:
        return all_bounds(net.dim, net.widths, maxout=acts[0].group)
    labels = ", ".join(a.label for a in acts)
    raise NeuralPolyError(f"the region bounds are for ReLU networks or rank-k maxout networks; this one "
                          f"has layers {labels}")
