"""Counting linear regions by mixed-integer programming, against answers known another way."""

from __future__ import annotations

import importlib.util
import itertools
import math
import sys

import numpy as np
import pytest

pytest.importorskip("scipy")

from neuralpoly_core.budget import MemoryBudgetError, set_memory_budget  # noqa: E402
from neuralpoly_core.errors import Cancelled, NeuralPolyError  # noqa: E402
from neuralpoly_core.network import Activation, Layer, Network, Output  # noqa: E402
from neuralpoly_core.regions import count_regions, count_regions_milp  # noqa: E402

RELU, ABS, IDENTITY = Activation("relu"), Activation("abs_pow", p=1.0), Activation("identity")

#: Both solver back-ends (highspy skipped where it is not installed).
BACKENDS = ["scipy", pytest.param("highspy", marks=pytest.mark.skipif(
    importlib.util.find_spec("highspy") is None, reason="highspy not installed"))]


def vertex_box(W, b):
    """A box holding every vertex of the arrangement W x + b = 0 (and the origin), with room."""
    n, d = W.shape
    pts = [np.zeros(d)]
    for rows in itertools.combinations(range(n), d):
        pts.append(np.linalg.solve(W[list(rows)], -b[list(rows)]))
    pts = np.array(pts)
    return pts.min(axis=0) - 1.0, pts.max(axis=0) + 1.0


def grid_count(net, lo, hi, columns, n=1201):
    """Distinct patterns on a fine grid, shifted (differently per axis) off the rational lines a
    tiny net is built on: a lower bound that a fine grid makes exact for a tiny net."""
    t = np.linspace(lo, hi, n)
    X = np.stack(np.meshgrid(t + (hi - lo) * math.sqrt(2) * 1e-4, t + (hi - lo) * math.sqrt(3) * 1e-4), -1)
    X = X.reshape(-1, 2)
    return len(np.unique(np.packbits(net.activation_pattern(X)[:, columns], axis=1), axis=0))


def tent(L):
    """T(x) = 2 relu(x) - 2 relu(x - 1/2) composed L times: 2^L pieces on [0, 1]."""
    first = Layer([[2.0], [4.0]], [0.0, -2.0], RELU)
    later = [Layer([[2.0, -2.0], [4.0, -4.0]], [0.0, -2.0], RELU) for _ in range(L - 1)]
    return Network(1, [first] + later, Output("linear", [[1.0, -1.0]]))


@pytest.mark.parametrize("solver", BACKENDS)
@pytest.mark.parametrize("n, d, seed", [(5, 2, 0), (7, 2, 1), (6, 3, 2), (4, 4, 3)])
def test_one_layer_in_general_position_has_zaslavskys_count(n, d, seed, solver):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(n, d)), rng.normal(size=n)
    res = count_regions_milp(Network(d, [Layer(W, b, RELU)]), vertex_box(W, b), solver=solver)
    assert res.details["backend"] == solver
    assert res.complete and res.stopped == "complete"
    assert res.regions == sum(math.comb(n, i) for i in range(d + 1))
    assert res.details["unverified"] == 0


@pytest.mark.parametrize("L", [1, 2, 3, 5])
def test_tent_map_compositions_have_two_to_the_l_pieces(L):
    res = count_regions(tent(L), (0.0, 1.0))
    assert res.complete and res.regions == 2 ** L
    # the witnesses are points of distinct pieces: sorted, they alternate the tent's slope sign
    assert len(np.unique(res.patterns, axis=0)) == 2 ** L


def nets():
    rng = np.random.default_rng(3)
    r = lambda *s: rng.normal(size=s)  # noqa: E731
    return {
        "relu": Network(2, [Layer(r(4, 2), r(4), RELU), Layer(r(3, 4), r(3), RELU)]),
        "abs": Network(2, [Layer(r(3, 2), r(3), ABS), Layer(r(3, 3), r(3), ABS)]),
        "identity": Network(2, [Layer(r(3, 2), r(3), RELU), Layer(r(2, 3), r(2), IDENTITY), Layer(r(3, 2), r(3), RELU)]),
        "maxout": Network(2, [Layer(r(6, 2), r(6), Activation("maxout", k=3)),
                              Layer(r(4, 2), r(4), Activation("maxout", k=2))]),
        # bias-free: in the quadrant where the first layer is off, the second is identically 0
        "bias-free": Network(2, [Layer([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], None, RELU),
                                 Layer([[1.0, -1.0, 0.5], [-1.0, 2.0, -1.0]], None, RELU)]),
        # |relu(x) - relu(y)| and its negation: a line of ties and a dead quadrant
        "dead-abs": Network(2, [Layer([[1.0, 0.0], [0.0, 1.0]], None, RELU), Layer([[1.0, -1.0]], None, IDENTITY),
                                Layer([[1.0], [-1.0]], None, ABS)]),
    }


@pytest.mark.parametrize("solver", BACKENDS)
@pytest.mark.parametrize("name", sorted(nets()))
@pytest.mark.parametrize("tighten", ["interval", "lp"])
def test_small_2d_nets_match_a_dense_grid(name, tighten, solver):
    net = nets()[name]
    res = count_regions_milp(net, (-2.0, 2.0), tighten=tighten, solver=solver)
    assert res.complete and res.details["unverified"] == 0
    assert res.regions == grid_count(net, -2.0, 2.0, res.pattern_columns)
    # every witness lies inside the box and reproduces its region's pattern
    assert np.all(res.witnesses >= -2.0) and np.all(res.witnesses <= 2.0)
    assert np.array_equal(net.activation_pattern(res.witnesses)[:, res.pattern_columns], res.patterns)


@pytest.mark.parametrize("solver", BACKENDS)
@pytest.mark.parametrize("tighten", ["interval", "lp"])
@pytest.mark.parametrize("seed, count", [(1, 23), (10, 26), (17, 32), (115, 4)])
def test_units_identically_zero_by_cancellation_are_off_without_a_margin(seed, count, tighten, solver):
    # integer weights: on some regions a unit's affine map cancels to 0 (seed 1: -h1 + h2 - 1/2
    # with h1 off and h2 the constant 1/2; seed 10: u0 - 2 u1 - u2 + 2 u3 = 0). The margin rows
    # made those regions infeasible: the MILP found 21 and 22 (seeds 1 and 10) before.
    from test_regions_exact import integer_net
    net = integer_net(seed)
    exact = count_regions(net, (-1.0, 1.0), method="exact")
    walk = count_regions(net, (-1.0, 1.0), method="walk")
    res = count_regions_milp(net, (-1.0, 1.0), tighten=tighten, solver=solver)
    assert res.complete and res.details["unverified"] == 0
    assert exact.regions == walk.regions == res.regions == count
    packed = lambda r: {bytes(p) for p in np.packbits(r.patterns, axis=1)}  # noqa: E731
    assert packed(res) == packed(exact)
    assert np.array_equal(net.activation_pattern(res.witnesses)[:, res.pattern_columns], res.patterns)


def test_a_unit_identically_zero_on_a_region_by_cancellation():
    # g = u1 - u2 with u1 = relu(x), u2 = relu(x) + relu(-x - 1/2): g = 0 wherever x > -1/2, on
    # two whole regions, though u1 and u2 are on there (not a bias-free unit with its inputs off)
    net = Network(2, [Layer([[1.0, 0.0], [-1.0, 0.0]], [0.0, -0.5], RELU),
                      Layer([[1.0, 0.0], [1.0, 1.0]], [0.0, 0.0], IDENTITY),
                      Layer([[1.0, -1.0]], [0.0], RELU)])
    exact = count_regions(net, (-1.0, 1.0), method="exact")
    res = count_regions_milp(net, (-1.0, 1.0))
    assert res.complete and res.regions == exact.regions == 3


def test_the_dead_quadrant_is_one_region():
    res = count_regions_milp(nets()["bias-free"], (-1.0, 1.0))
    assert [0, 0, 0, 0, 0] in res.patterns.astype(int).tolist()
    assert res.regions == 8


def test_degenerate_patterns_are_not_counted():
    # relu(x) and relu(-x): the pattern (off, off) holds only at x = 0
    net = Network(1, [Layer([[1.0], [-1.0]], None, RELU)])
    res = count_regions_milp(net, (-1.0, 1.0))
    assert res.complete and res.regions == 2
    # g = 1 - x on [0, 1]: off only at the box's face x = 1
    res = count_regions_milp(Network(1, [Layer([[-1.0]], [1.0], RELU)]), (0.0, 1.0))
    assert res.regions == 1


@pytest.mark.parametrize("solver", BACKENDS)
def test_thin_regions_are_found_by_the_certificate_phase(solver):
    # two lines 1e-5 apart: the strip between them is thinner than the margin 1e-3
    net = Network(2, [Layer([[1.0, 0.0], [1.0, 0.0]], [0.0, -1e-5], RELU)])
    res = count_regions_milp(net, (-1.0, 1.0), margin=1e-3, tolerance=1e-7, solver=solver)
    assert res.complete and res.regions == 3 and res.details["thin_regions"] == 1


@pytest.mark.parametrize("solver", BACKENDS)
def test_limits_give_lower_bounds(solver):
    net = nets()["abs"]
    res = count_regions_milp(net, (-2.0, 2.0), max_regions=3, solver=solver)
    assert not res.complete and res.stopped == "region limit" and res.regions == 3
    assert "the count is a lower bound" in res.message and res.to_dict()["lower_bound"]
    res = count_regions_milp(net, (-2.0, 2.0), time_limit=1e-6, solver=solver)
    assert not res.complete and res.stopped == "time limit" and res.regions == 0
    d = res.to_dict()
    assert {"regions", "complete", "dim", "seconds", "method", "bbox"} <= set(d) and d["method"] == "milp"


def test_a_64_input_net_counts_and_every_pattern_is_checked():
    rng = np.random.default_rng(0)
    net = Network(64, [Layer(rng.normal(size=(6, 64)) / 8, rng.normal(size=6) * 0.1, RELU),
                       Layer(rng.normal(size=(5, 6)), rng.normal(size=5) * 0.1, RELU)],
                  Output("linear", rng.normal(size=(10, 5))))
    res = count_regions_milp(net, (0.0, 1.0), max_regions=15)
    assert res.regions == 15 and res.witnesses.shape == (15, 64)
    assert np.array_equal(net.activation_pattern(res.witnesses), res.patterns)
    assert len(np.unique(res.patterns, axis=0)) == 15


def test_progress_and_cancel():
    seen = []
    count_regions_milp(tent(3), (0.0, 1.0), progress=lambda f, m: seen.append((f, m)))
    assert seen and "regions" in seen[-1][1]
    with pytest.raises(Cancelled):
        count_regions_milp(tent(3), (0.0, 1.0), cancel=lambda: True)


@pytest.mark.parametrize("net, kwargs, fragment", [
    (Network(2, [Layer([[1.0, 1.0]], None, Activation("sigmoid", scale=1.0))]), {}, "not piecewise linear"),
    (Network(2, [Layer([[1.0, 1.0]], None, Activation("abs_pow", p=2.0))]), {}, "not piecewise linear"),
    (tent(1), {"bbox": (1.0, 0.0)}, "lo < hi"),
    (tent(1), {"bbox": (0.0, np.inf)}, "finite"),
    (tent(1), {"max_regions": 0}, "max_regions"),
    (tent(1), {"margin": 1e-3, "tolerance": 1e-2}, "tolerance"),
    (tent(1), {"tighten": "sdp"}, "bound tightening"),
    (tent(1), {"solver": "cplex"}, "back-end"),
    (tent(1), {"method": "simplex"}, "region-counting method"),
    (tent(1), {"method": "exact", "time_limit": 5}, "options origin, basis and max_regions"),
])
def test_refusals_name_the_problem(net, kwargs, fragment):
    kwargs = dict(kwargs)
    bbox = kwargs.pop("bbox", (0.0, 1.0))
    with pytest.raises(NeuralPolyError, match=fragment):
        count_regions(net, bbox, **kwargs)


def test_memory_budget_names_the_option():
    set_memory_budget("1M")
    try:
        with pytest.raises(MemoryBudgetError, match="max-regions"):
            count_regions_milp(tent(3), (0.0, 1.0), max_regions=1_000_000)
    finally:
        set_memory_budget(None)


def test_missing_scipy_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(NeuralPolyError, match="needs scipy"):
        count_regions_milp(tent(1), (0.0, 1.0))


def mixed_integer_net(seed, dim=2, ranks=(2,)):
    """A net of 2 or 3 layers of 2 or 3 units, each relu, |x| or maxout of a rank in ``ranks``,
    small integer weights, biases in {-1, -1/2, 0, 1/2, 1} for odd seeds, none for even ones:
    pieces that tie identically on a region and units that cancel."""
    rng = np.random.default_rng(1000 + seed if (dim, tuple(ranks)) == (2, (2,)) else 7000 + 10 * seed + dim)
    acts, layers, a = [RELU, ABS] + [Activation("maxout", k=k) for k in ranks], [], dim
    for _ in range(int(rng.integers(2, 4))):
        act = acts[int(rng.integers(0, len(acts)))]
        units = int(rng.integers(2, 4))
        W = rng.integers(-2, 3, size=(units * act.group, a)).astype(float)
        bias = rng.integers(-2, 3, size=units * act.group).astype(float) * 0.5 if seed % 2 else None
        layers.append(Layer(W, bias, act))
        a = units
    return Network(dim, layers)


@pytest.mark.parametrize("seed, count", [(8, 5), (10, 8), (22, 4)])
def test_integer_maxout_and_abs_nets_match_the_exact_count(seed, count):
    # small integer weights with relu, |x| and rank-2 maxout layers: pieces that tie identically
    # on a region (the tie goes to the first piece, as numpy's argmax) and |x| units that cancel
    net = mixed_integer_net(seed)
    exact = count_regions(net, (-1.0, 1.0), method="exact")
    res = count_regions_milp(net, (-1.0, 1.0))
    assert res.complete and res.details["unverified"] == 0
    assert res.regions == exact.regions == count
