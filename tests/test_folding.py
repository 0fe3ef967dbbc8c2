"""Space folding along straight paths: exact crossings, the tie rule, the measures and their known values."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output
from neuralpoly_core.construct.cantor import cantor_chi, cantor_network, generating_function
from neuralpoly_core.construct.tent import tent_map_chi, tent_map_network
from neuralpoly_core.errors import ExtractionError, NeuralPolyError
from neuralpoly_core.folding import (chi, chi_reverse, fold_path, fold_paths, global_folding, interaction,
                                     interactions, path_geometry, range_r1, range_r2)

RELU, ABS = Activation("relu"), Activation("abs_pow", p=1)


def random_net(dims, seed=0, act=RELU, heads=1):
    rng = np.random.default_rng(seed)
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.normal(size=b) * 0.3, act)
              for a, b in zip(dims[:-1], dims[1:])]
    return Network(dims[0], layers, Output("linear", rng.normal(size=(heads, dims[-1])), np.zeros(heads)))


def lines_net(act=RELU):
    """Two lines through (0.1, 0.1), written so that their crossings round differently."""
    return Network(2, [Layer(np.array([[1.0, 0.0], [0.0, 7.0]]), np.array([-0.1, -0.7]), act)])


# -- the measures on pattern sequences ---------------------------------------------------------
def test_measures_of_a_walk_and_its_edge_cases():
    walk = ["000", "100", "110", "010", "011"]            # goes out 2, back 1, out again
    assert range_r1(walk) == 2 and range_r2(walk) == 4 and chi(walk) == pytest.approx(0.5)
    assert chi_reverse(walk) == pytest.approx(1 - 3 / 4)     # from 011, 100 is 3 bits away
    assert chi(["0101"]) == 0.0                           # one region: r2 = 0
    assert chi(["00", "01", "11"]) == 0.0                 # monotone walk
    loop = ["00", "01", "11", "10", "00"]                  # a loop: far more travelled than reached
    assert chi(loop) == pytest.approx(1 - 2 / 4)
    assert chi(walk) == chi(walk[:2] + walk[1:2] + walk[2:])   # stability: a repeated region changes nothing
    # asymmetry, and flatness invariance: chi = 0 iff chi(-G) = 0
    assert chi(walk) != chi_reverse(walk)
    for w in (walk, loop, ["00", "01", "11"], ["0000", "1000", "1100", "1110", "0110"]):
        assert (chi(w) > 0) == (chi_reverse(w) > 0)
    assert global_folding([0.0, 0.5, 0.25, 0.0, 1.0]) == 0.5 and global_folding([0.0, 0.0]) == 0.0
    with pytest.raises(NeuralPolyError, match="0/1 strings"):
        chi(["01", "2"])


def test_interaction_coefficient_splits_the_walk():
    walk = ["000", "100", "110", "010", "011", "001"]
    I = interactions(walk)
    for k in range(len(walk)):
        expected = chi(walk) - chi(walk[:k + 1]) - chi(walk[k:])
        assert I[k] == pytest.approx(expected) and interaction(walk, k) == pytest.approx(expected)
    with pytest.raises(NeuralPolyError, match="split index"):
        interaction(walk, 6)


# -- known values ------------------------------------------------------------------------------
@pytest.mark.parametrize("depth, value", [(1, 0.0), (2, 1 / 3), (3, 4 / 7), (4, 11 / 15), (5, 26 / 31)])
def test_tent_map_folding_reproduces_the_known_values(depth, value):
    f = fold_path(tent_map_network(depth), [0.0], [1.0])
    assert f.chi == pytest.approx(value, abs=1e-15) and tent_map_chi(depth) == pytest.approx(value)
    assert (f.regions, f.r1, f.r2) == (2 ** depth, depth, 2 ** depth - 1)
    # T^L is affine between consecutive breakpoints, which are the dyadic points k / 2^L
    assert np.array_equal(f.breakpoints, np.arange(1, 2 ** depth) / 2 ** depth)


def test_deep_folds_stay_exact():
    """The tie rule's scale does not compound with depth: 2^16 regions of T^16, 3^11 breakpoints of CantorNet."""
    f = fold_path(tent_map_network(16), [0.0], [1.0])
    assert (f.regions, f.r1, f.r2) == (2 ** 16, 16, 2 ** 16 - 1) and f.chi == pytest.approx(tent_map_chi(16))
    g = fold_path(cantor_network(10), [0.0, 0.5], [1.0, 0.5])
    assert (g.r1, g.r2) == (20, 2 ** 11 - 2) and g.chi == pytest.approx(cantor_chi(10))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_cantornet_folding_matches_the_closed_form(k):
    net = cantor_network(k)
    xy = np.random.default_rng(k).uniform(0, 1, (200, 2))
    assert np.allclose(net(xy), xy[:, 1] - (1 + generating_function(xy[:, 0], k)) / 2, atol=1e-12)
    f = fold_path(net, [0.0, 0.5], [1.0, 0.5])
    assert f.chi == pytest.approx(cantor_chi(k), abs=1e-12) == pytest.approx(1 - k / (2 ** k - 1))
    assert (f.r1, f.r2, f.regions) == (2 * k, 2 ** (k + 1) - 2, 2 ** (k + 1) - 1)
    # the breakpoints are where some A^m(x) reaches 1/3 or 2/3: multiples of 3^-(k+1)
    assert np.allclose(f.breakpoints * 3 ** (k + 1), np.round(f.breakpoints * 3 ** (k + 1)), atol=1e-9)


@pytest.mark.parametrize("act, threshold", [(RELU, 0.0), (ABS, 0.0), (RELU, 0.4), (Activation("sigmoid", scale=2.0), 0.3)])
def test_one_hidden_layer_never_folds(act, threshold):
    net = random_net((3, 12), seed=1, act=act)
    rng = np.random.default_rng(2)
    X1, X2 = rng.normal(size=(200, 3)) * 2, rng.normal(size=(200, 3)) * 2
    samples = None if act.piecewise_linear else 500
    fs = fold_paths(net, X1, X2, threshold=threshold, samples=samples)
    assert np.all(fs.chi == 0.0) and np.all(fs.chi_reverse == 0.0) and fs.phi == 0.0
    assert np.array_equal(fs.r1, fs.r2) and fs.regions.max() > 3


# -- the exact method --------------------------------------------------------------------------
def test_every_region_appears_once_in_order_with_its_entry_t():
    net = random_net((3, 16, 16, 16), seed=3)
    x1, x2 = np.array([-2.0, -1.0, 0.5]), np.array([2.0, 1.5, -1.0])
    f = fold_path(net, x1, x2)
    assert f.regions > 20 and f.t[0] == 0.0 and np.all(np.diff(f.t) > 0)
    ends = np.r_[f.t, 1.0]
    mids = 0.5 * (ends[:-1] + ends[1:])
    assert np.array_equal(net.activation_pattern(x1 + mids[:, None] * (x2 - x1)), f.patterns)
    assert np.all(np.any(f.patterns[1:] != f.patterns[:-1], axis=1))
    # just after each entry the region's pattern, just before it the previous one
    delta = 1e-9
    after = net.activation_pattern(x1 + (f.breakpoints + delta)[:, None] * (x2 - x1))
    before = net.activation_pattern(x1 + (f.breakpoints - delta)[:, None] * (x2 - x1))
    assert np.array_equal(after, f.patterns[1:]) and np.array_equal(before, f.patterns[:-1])
    # dense sampling finds the same walk (every region here is longer than the spacing)
    assert np.diff(ends).min() > 1e-5
    s = fold_path(net, x1, x2, samples=200_001)
    assert np.array_equal(s.patterns, f.patterns) and (s.chi, s.r1, s.r2) == (f.chi, f.r1, f.r2)


def test_sampling_understates_r2_and_chi():
    net = tent_map_network(5)
    exact = fold_path(net, [0.001], [0.999])
    assert exact.chi == pytest.approx(26 / 31)              # same regions as 0 -> 1
    for n, (regions, r2) in {5: (5, 13), 10: (10, 17), 16: (16, 29), 20: (20, 31), 40: (32, 31)}.items():
        sampled = fold_path(net, [0.001], [0.999], samples=n)
        assert (sampled.regions, sampled.r2) == (regions, r2) and sampled.chi <= exact.chi
        assert sampled.method == "sampled" and sampled.samples == n
    # a region missed between two samples hides its back-and-forth flips: r2 and chi drop
    assert fold_path(net, [0.001], [0.999], samples=10).chi < exact.chi


def test_batched_paths_equal_one_at_a_time():
    net = random_net((4, 10, 10, 10), seed=4)
    rng = np.random.default_rng(5)
    X1, X2 = rng.normal(size=(37, 4)), rng.normal(size=(37, 4))
    fs = fold_paths(net, X1, X2, chunk=8)
    assert len(fs) == 37
    for p in (0, 7, 8, 36):
        one = fold_path(net, X1[p], X2[p])
        assert np.array_equal(fs[p].patterns, one.patterns) and np.array_equal(fs[p].t, one.t)
        assert (fs.r1[p], fs.r2[p], fs.r1_reverse[p]) == (one.r1, one.r2, one.r1_reverse)
        assert fs.chi[p] == one.chi and fs.d_chi[p] == pytest.approx(0.5 * (one.chi + one.chi_reverse))
    back = fold_path(net, X2[3], X1[3])
    fwd = fold_path(net, X1[3], X2[3])
    assert back.chi == pytest.approx(fwd.chi_reverse) and np.array_equal(back.patterns, fwd.patterns[::-1])
    assert np.allclose(fwd.reversed().t, back.t, atol=1e-12)


# -- the tie rule ------------------------------------------------------------------------------
def test_simultaneous_flips_through_a_vertex_are_one_step():
    f = fold_path(lines_net(), [0.0, 0.0], [0.3, 0.3])
    assert f.regions == 2 and f.steps.tolist() == [2] and f.breakpoints == pytest.approx([1 / 3])
    assert f.patterns.astype(int).tolist() == [[0, 0], [1, 1]]


def test_a_segment_inside_a_hyperplane_keeps_the_bit_zero():
    f = fold_path(lines_net(), [0.1, 0.0], [0.1, 0.3])       # on x = 0.1 all along
    assert f.patterns.astype(int).tolist() == [[0, 0], [0, 1]]
    g = fold_path(lines_net(ABS), [0.1, 0.0], [0.1, 0.3])
    assert g.patterns.astype(int).tolist() == [[0, 0], [0, 1]]


def test_a_zero_at_an_end_point_is_no_region():
    f = fold_path(lines_net(), [0.1, 0.1], [0.5, 0.5])       # starts on both lines
    assert f.regions == 1 and f.patterns.astype(int).tolist() == [[1, 1]]
    g = fold_path(lines_net(), [0.5, 0.5], [0.1, 0.1])
    assert g.regions == 1 and g.r2 == 0


def test_a_neuron_that_touches_zero_does_not_flip():
    # relu(2 T^2(x)) touches 0 at x = 1/2 in layer 3 of the tent map: no knot, no flip
    f = fold_path(tent_map_network(3), [0.0], [1.0])
    first_bits_of_layer_3 = f.patterns[:, 4]
    assert first_bits_of_layer_3.all()


# -- variants ------------------------------------------------------------------------------------
def test_per_layer_patterns_and_identity_layers():
    net = tent_map_network(4)
    f = fold_path(net, [0.0], [1.0], layers=[3])
    assert f.patterns.shape[1] == 2 and f.r2 == 8 and f.regions == 9 and f.layers == (3,)
    ident = Network(1, [Layer(np.array([[1.0]]), None, Activation("identity"))] + tent_map_network(2).layers,
                    Output("linear", np.array([[1.0, -1.0]])))
    g = fold_path(ident, [0.0], [1.0])
    assert g.layers == (1, 2) and g.patterns.shape[1] == 4 and g.chi == pytest.approx(1 / 3)
    with pytest.raises(NeuralPolyError, match="affine: it contributes no activation bits"):
        fold_path(ident, [0.0], [1.0], layers=[0])
    with pytest.raises(NeuralPolyError, match="twice"):
        fold_path(net, [0.0], [1.0], layers=[1, 1])


def test_thresholds_other_than_zero():
    net = tent_map_network(3)
    f = fold_path(net, [0.0], [1.0], threshold=0.5)
    X = np.linspace(0, 1, 100_001)[1:-1, None]
    bits = np.concatenate([z > 0.5 for z in net.preactivations(X)], axis=1)
    walk = bits[np.r_[True, np.any(bits[1:] != bits[:-1], axis=1)]]
    assert np.array_equal(walk, f.patterns)
    assert f.regions > fold_path(net, [0.0], [1.0], threshold=3.0).regions


def test_abs_networks_use_the_sign():
    net = random_net((2, 8, 8), seed=6, act=ABS)
    x1, x2 = np.array([-1.5, 1.0]), np.array([1.5, -0.5])
    f = fold_path(net, x1, x2)
    ends = np.r_[f.t, 1.0]
    mids = 0.5 * (ends[:-1] + ends[1:])
    assert np.array_equal(net.activation_pattern(x1 + mids[:, None] * (x2 - x1)), f.patterns)


# -- what the Blender add-on draws ----------------------------------------------------------------
def test_path_geometry_gives_crossings_coloured_by_distance():
    g = path_geometry(cantor_network(2), [0.0, 0.5], [1.0, 0.5])
    n = g["regions"]
    assert g["vertices"].shape == (n + 1, 2) and g["t"][0] == 0.0 and g["t"][-1] == 1.0
    assert np.allclose(g["vertices"][1:-1, 0], g["breakpoints"]) and np.all(g["vertices"][:, 1] == 0.5)
    assert g["edge_distance"].tolist() == g["distances"] and len(g["vertex_distance"]) == n + 1
    assert g["edge_distance"][0] == 0 and g["edge_distance"].max() == g["r1"] == 4
    assert g["steps"].sum() == g["r2"] and g["chi"] == pytest.approx(1 / 3)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("x1, x2, fragment", [
    ([0.0, 0.0, 0.0], [1.0, 1.0], "must have 2 coordinates"),
    ([0.5, 0.5], [0.5, 0.5], "equal end points"),
    ([np.nan, 0.0], [1.0, 1.0], "NaN or infinite"),
    ([0.0, np.inf], [1.0, 1.0], "NaN or infinite"),
    ("a,b", [1.0, 1.0], "must be"),
])
def test_bad_end_points_are_refused(x1, x2, fragment):
    with pytest.raises(NeuralPolyError, match=fragment):
        fold_path(lines_net(), x1, x2)


def test_the_exact_method_needs_a_piecewise_linear_network():
    smooth = Network(2, [Layer(np.eye(2), None, Activation("sigmoid", scale=1.0))])
    with pytest.raises(ExtractionError, match="not piecewise linear.*samples=N"):
        fold_path(smooth, [-1.0, -1.0], [1.0, 1.0])
    f = fold_path(smooth, [-1.0, -0.5], [1.0, 1.0], samples=101)
    assert f.regions == 3 and f.chi == 0.0
    with pytest.raises(NeuralPolyError, match="samples"):
        fold_path(smooth, [-1.0, -1.0], [1.0, 1.0], samples=1)
    with pytest.raises(NeuralPolyError, match="threshold"):
        fold_path(lines_net(), [0, 0], [1, 1], threshold=float("nan"))
