"""Convexity in the Hamming cube (Definition 2), observability by LP, and Lemma 1 on hyperplane arrangements."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("scipy")

from neuralpoly_core import Activation, Layer, Network  # noqa: E402
from neuralpoly_core.errors import NeuralPolyError  # noqa: E402
from neuralpoly_core.folding import fold_paths  # noqa: E402
from neuralpoly_core.folding.convexity import (hamming_convex, realised_patterns, region_exists,  # noqa: E402
                                               union_is_convex)

RELU = Activation("relu")


def arrangement():
    """Lines x = 0, y = 0, x + y = 1: seven regions (x < 0, y < 0, x + y > 1 is empty)."""
    return Network(2, [Layer(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), np.array([0.0, 0.0, 1.0]), RELU)])


def test_the_slides_example_is_convex_when_only_its_patterns_are_observable():
    S = ["0111", "0001", "1011"]
    assert hamming_convex(S, observable=S).convex
    verdict = hamming_convex(S)                          # every pattern observable: 0011 etc. are missing
    assert not verdict and verdict.witness is not None
    a, b, p = verdict.witness
    assert np.all((p == a) | (a != b)) and "".join("1" if v else "0" for v in p) not in S
    assert not hamming_convex(S, observable=["0111", "0001", "1011", "0011"])
    assert hamming_convex(S, observable=lambda p: "".join("1" if v else "0" for v in p) in S)


def test_lp_decides_which_patterns_are_regions():
    net = arrangement()
    exists = {p: region_exists(net, np.array(p, dtype=bool)) for p in itertools.product([0, 1], repeat=3)}
    assert [p for p, e in exists.items() if not e] == [(0, 0, 0)]
    X = np.random.default_rng(0).uniform(-3, 3, (2000, 2))
    assert {tuple(map(int, p)) for p in realised_patterns(net, X)} == {p for p, e in exists.items() if e}
    # inside the box [0.2, 0.7]^2 only the regions of x, y > 0 remain
    inside = [p for p in exists if region_exists(net, np.array(p, dtype=bool), box=(0.2, 0.7))]
    assert inside == [(1, 1, 0), (1, 1, 1)]
    # deeper networks: a region of a two-layer net is found where sampling finds it
    deep = Network(2, [Layer(np.array([[1.0, -1.0], [1.0, 1.0]]), np.array([0.0, -0.5]), RELU),
                       Layer(np.array([[1.0, -2.0]]), np.array([-0.1]), RELU)])
    seen = {tuple(map(int, p)) for p in realised_patterns(deep, X)}
    assert seen == {p for p in itertools.product([0, 1], repeat=3) if region_exists(deep, np.array(p, dtype=bool))}
    with pytest.raises(NeuralPolyError, match="has 3 bits"):
        region_exists(deep, [1, 0])


def _geometrically_convex(net, members, regions_points, rng):
    """Segments between random points of every two members' regions: does any leave the union?"""
    keys = {tuple(m) for m in members}
    X1, X2 = [], []
    for a, b in itertools.combinations_with_replacement(sorted(keys), 2):
        pa, pb = regions_points[a], regions_points[b]
        X1.append(pa[rng.integers(0, len(pa), 60)])
        X2.append(pb[rng.integers(0, len(pb), 60)])
    X1, X2 = np.vstack(X1), np.vstack(X2)
    ok = np.any(X1 != X2, axis=1)
    fs = fold_paths(net, X1[ok], X2[ok])
    patterns = np.unpackbits(fs.packed, axis=1, count=fs.n_bits)
    return all(tuple(map(int, p)) in keys for p in patterns)


def test_lemma_1_union_of_regions_convex_iff_convex_in_the_cube():
    net = Network(2, [Layer(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [1.0, -2.0]]),
                            np.array([0.0, 0.0, 1.0, 0.3]), RELU)])
    rng = np.random.default_rng(1)
    X = np.vstack([rng.uniform(-4, 4, (20000, 2)), rng.uniform(-0.5, 0.5, (5000, 2))])
    P = net.activation_pattern(X)
    names = [p for p in itertools.product([0, 1], repeat=4) if region_exists(net, np.array(p, dtype=bool))]
    regions = {p: X[np.all(P == np.array(p, dtype=bool), axis=1)] for p in names}
    assert len(names) == 11 and min(len(v) for v in regions.values()) > 20
    observable = np.array(names, dtype=bool)
    agree = 0
    for size in (2, 3, 4):
        for members in itertools.combinations(names, size):
            verdict = union_is_convex(net, np.array(members, dtype=bool), observable=observable)
            assert verdict.convex == _geometrically_convex(net, members, regions, rng), members
            agree += verdict.convex
    assert agree > 5
    # the LP decides observability the same way
    two = [names[0], names[1]]
    assert union_is_convex(net, np.array(two, dtype=bool)).convex == \
        union_is_convex(net, np.array(two, dtype=bool), observable=observable).convex


def test_too_many_shortest_path_points_need_an_explicit_set():
    a, b = np.zeros(30, dtype=bool), np.ones(30, dtype=bool)
    with pytest.raises(NeuralPolyError, match="too many to test one by one"):
        hamming_convex(np.vstack([a, b]))
    assert hamming_convex(np.vstack([a, b]), observable=np.vstack([a, b]))
