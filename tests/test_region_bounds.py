"""Bounds on the number of linear regions: exact integers, hand-computed cases, the known order."""

from __future__ import annotations

import itertools
import math

import pytest

from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.network import Activation, Layer, Network
from neuralpoly_core.regions import (all_bounds, bounds_of, layer_product_bound, maxout_bound, montufar_bound,
                                     montufar_lower_bound, serra_bound, shallow_regions, zaslavsky)


def serra_by_enumeration(dim, widths):
    """Theorem 1 summed over J as written (for small cases)."""
    total = 0
    for js in itertools.product(*(range(n + 1) for n in widths)):
        cap, ok = dim, True
        for n, j in zip(widths, js):
            if j > min(cap, n):
                ok = False
                break
            cap = min(cap, n - j)
        if ok:
            total += math.prod(math.comb(n, j) for n, j in zip(widths, js))
    return total


def test_hand_computed_cases():
    assert zaslavsky(3, 2) == 7                       # three lines cut the plane into 7
    assert zaslavsky(4, 2) == 11 and zaslavsky(4, 10) == 16 and zaslavsky(0, 3) == 1
    assert shallow_regions(2, (2, 2)) == 11
    assert layer_product_bound(1, (2, 2)) == 9 and montufar_bound(1, (2, 2)) == 9
    # (1; 2, 2): J = {0, 1}^2, each term C(2, j1) C(2, j2): (1 + 2)^2
    assert serra_bound(1, (2, 2)) == 9
    # (2; 2, 3): j1 <= 2; j2 <= min(2, 2 - j1, 3)
    assert serra_bound(2, (2, 3)) == (1 * (1 + 3 + 3)) + (2 * (1 + 3)) + (1 * 1)
    assert montufar_lower_bound(1, (2, 2)) == 2 * 3
    assert montufar_lower_bound(2, (4, 4, 3)) == 2 ** 2 * 2 ** 2 * 7
    assert montufar_lower_bound(3, (2, 5)) is None    # a layer narrower than n0
    assert maxout_bound(2, (3,), 3) == zaslavsky(9, 2)
    assert maxout_bound(2, (2, 1), 2) == zaslavsky(2, 2) * zaslavsky(1, 1)


@pytest.mark.parametrize("dim, widths", [(1, (3,)), (2, (3, 2)), (3, (4, 2, 3)), (2, (1, 4, 4)), (4, (3, 5, 2, 2)),
                                         (5, (6, 6))])
def test_dynamic_programme_matches_the_sum_over_j(dim, widths):
    assert serra_bound(dim, widths) == serra_by_enumeration(dim, widths)


@pytest.mark.parametrize("dim", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("widths", [(5,), (3, 3), (10, 12), (12, 10), (4, 8, 2), (7, 7, 7, 7)])
def test_known_order_of_the_bounds(dim, widths):
    b = all_bounds(dim, widths)
    assert b["serra"] <= b["montufar2017"] <= b["layer_product"] <= b["patterns"]
    if b["montufar2014_lower"] is not None:
        assert b["montufar2014_lower"] <= b["serra"]
    if len(widths) == 1:                              # Theorem 1 is Zaslavsky's count for one layer
        assert b["serra"] == b["first_layer"] == zaslavsky(widths[0], dim) == b["montufar2017"]
    assert all(isinstance(v, int) for k, v in b.items() if k not in ("widths", "montufar2014_lower"))


def test_large_architectures():
    b = all_bounds(784, (100, 100, 100))
    m = maxout_bound(784, (100, 100, 100), 4)
    assert b["serra"] < b["montufar2017"] <= b["layer_product"] == 2 ** 300
    assert b["serra"].bit_length() > 250 and m > 2 ** 300


def test_huge_widths_need_only_the_binomials_up_to_the_input_dimension():
    # Theorem 1 for (3; n, n) written out: j1 <= 3, j2 <= min(3, n - j1); n = 10^8 units per layer
    n = 10 ** 8
    direct = sum(math.comb(n, j1) * math.comb(n, j2) for j1 in range(4) for j2 in range(min(3, n - j1) + 1))
    assert serra_bound(3, (n, n)) == direct
    assert all_bounds(3, (n, n))["serra"] == direct


def test_maxout_bounds_and_networks():
    b = all_bounds(3, (4, 2), maxout=3)
    assert b == {"dim": 3, "widths": [4, 2], "maxout_rank": 3, "serra_maxout": maxout_bound(3, (4, 2), 3),
                 "patterns": 3 ** 6}
    relu = Network(2, [Layer([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], None, Activation("relu"))])
    assert bounds_of(relu)["serra"] == 7
    mo = Network(2, [Layer([[1.0, 0.0]] * 4, None, Activation("maxout", k=2))])
    assert bounds_of(mo)["serra_maxout"] == zaslavsky(2, 2)
    with pytest.raises(NeuralPolyError, match="ReLU networks or rank-k maxout"):
        bounds_of(Network(2, [Layer([[1.0, 0.0]], None, Activation("abs_pow", p=1.0))]))


@pytest.mark.parametrize("call, fragment", [
    (lambda: serra_bound(0, (2,)), "input dimension"),
    (lambda: serra_bound(2, ()), "at least one hidden layer"),
    (lambda: serra_bound(2, (3, 0)), "width of layer 2"),
    (lambda: serra_bound(2, "3,4"), "sequence of layer widths"),
    (lambda: maxout_bound(2, (3,), 1), "maxout rank"),
])
def test_bad_architectures_are_named(call, fragment):
    with pytest.raises(NeuralPolyError, match=fragment):
        call()
