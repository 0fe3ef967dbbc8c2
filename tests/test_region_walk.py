"""Counting linear regions by walking the adjacency graph, against exact enumeration and the MILP."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("scipy")

from neuralpoly_core.errors import Cancelled, NeuralPolyError  # noqa: E402
from neuralpoly_core.network import Activation, Layer, Network  # noqa: E402
from neuralpoly_core.regions import count_regions, count_regions_milp, count_regions_walk  # noqa: E402

RELU, ABS, IDENTITY = Activation("relu"), Activation("abs_pow", p=1.0), Activation("identity")


def he(dims, seed, act=RELU):
    rng = np.random.default_rng(seed)
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2 / a), rng.uniform(-1, 1, size=b), act)
              for a, b in zip(dims[:-1], dims[1:])]
    return Network(dims[0], layers)


def same_patterns(a, b):
    return {bytes(p) for p in np.packbits(a.patterns, axis=1)} == {bytes(p) for p in np.packbits(b.patterns, axis=1)}


def nets():
    rng = np.random.default_rng(3)
    r = lambda *s: rng.normal(size=s)  # noqa: E731
    return {
        "relu 2x16,16": he((2, 16, 16), 0),
        "relu 2x8,8,8": he((2, 8, 8, 8), 1),
        "relu 3x8,8": he((3, 8, 8), 2),
        "abs 2x6,6": he((2, 6, 6), 3, ABS),
        "identity": Network(2, [Layer(r(3, 2), r(3), RELU), Layer(r(2, 3), r(2), IDENTITY), Layer(r(3, 2), r(3), RELU)]),
        "maxout": Network(2, [Layer(r(6, 2), r(6), Activation("maxout", k=3)),
                              Layer(r(4, 2), r(4), Activation("maxout", k=2))]),
        # duplicate and opposite neurons: one line each
        "duplicates": Network(2, [Layer([[1.0, 0.5], [2.0, 1.0], [-1.0, -0.5], [0.0, 1.0]], [0.1, 0.2, -0.1, 0.3],
                                        RELU), Layer(r(3, 4), r(3), RELU)]),
        # bias-free: the dead quadrant is one region
        "bias-free": Network(2, [Layer([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], None, RELU),
                                 Layer([[1.0, -1.0, 0.5], [-1.0, 2.0, -1.0]], None, RELU)]),
    }


@pytest.mark.parametrize("name", sorted(nets()))
def test_the_walk_finds_exactly_the_enumerated_regions(name):
    net = nets()[name]
    exact = count_regions(net, (-1.0, 1.0), method="exact")
    res = count_regions(net, (-1.0, 1.0), method="walk")
    assert res.complete and res.method == "walk" and res.stopped == "complete"
    assert res.regions == exact.regions and same_patterns(res, exact)
    # every witness is inside the box and reproduces its pattern
    assert np.all(res.witnesses >= -1.0) and np.all(res.witnesses <= 1.0)
    assert np.array_equal(net.activation_pattern(res.witnesses)[:, res.pattern_columns], res.patterns)


@pytest.mark.parametrize("n, d, seed", [(7, 2, 1), (6, 3, 2), (6, 5, 3)])
def test_one_layer_in_general_position_has_zaslavskys_count(n, d, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(n, d)), rng.normal(size=n) * 0.2
    res = count_regions_walk(Network(d, [Layer(W, b, RELU)]), (-50.0, 50.0))
    assert res.complete and res.regions == sum(math.comb(n, i) for i in range(d + 1))


@pytest.mark.parametrize("dims, seed", [((5, 6, 4), 0), ((8, 5, 5), 1)])
def test_the_walk_equals_the_milp_in_higher_dimensions(dims, seed):
    net = he(dims, seed)
    walk = count_regions_walk(net, (0.0, 1.0))
    milp = count_regions_milp(net, (0.0, 1.0))
    assert walk.complete and milp.complete
    assert walk.regions == milp.regions and same_patterns(walk, milp)


def test_limits_give_lower_bounds():
    net = he((2, 16, 16), 0)
    res = count_regions_walk(net, (-1.0, 1.0), max_regions=10)
    assert not res.complete and res.stopped == "region limit" and res.regions == 10
    assert "the count is a lower bound" in res.message
    res = count_regions_walk(net, (-1.0, 1.0), time_limit=1e-9)
    assert not res.complete and res.stopped == "time limit" and 1 <= res.regions < 259


def test_progress_cancel_and_refusals():
    seen = []
    count_regions_walk(he((2, 4), 0), (-1.0, 1.0), progress=lambda f, m: seen.append(m))
    assert seen and "regions" in seen[-1]
    with pytest.raises(Cancelled):
        count_regions_walk(he((2, 8, 8), 0), (-1.0, 1.0), cancel=lambda: True)
    with pytest.raises(NeuralPolyError, match="not piecewise linear"):
        count_regions_walk(Network(2, [Layer([[1.0, 1.0]], None, Activation("sigmoid", scale=1.0))]))
    with pytest.raises(NeuralPolyError, match="options time_limit, max_regions, tolerance and seed"):
        count_regions(he((2, 4), 0), method="walk", margin=1e-3)
