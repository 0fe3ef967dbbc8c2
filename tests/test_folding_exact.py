"""Audit of the space-folding measure against exact values: fractions, the tie rule, asymmetry, bad input.

The closed forms compared here are derived in the docstrings of :mod:`neuralpoly_core.construct.tent`
and :mod:`neuralpoly_core.construct.cantor`; the tie rule is stated in
:mod:`neuralpoly_core.folding.crossings`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output
from neuralpoly_core.construct.cantor import cantor_network
from neuralpoly_core.construct.tent import tent_map_network
from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.folding import fold_path, fold_paths

RELU = Activation("relu")


@pytest.mark.parametrize("depth, value", [(1, Fraction(0)), (2, Fraction(1, 3)), (3, Fraction(4, 7)),
                                          (4, Fraction(11, 15)), (5, Fraction(26, 31))])
def test_tent_map_chi_is_the_exact_fraction(depth, value):
    f = fold_path(tent_map_network(depth), [0.0], [1.0])
    assert f.chi_fraction == value == Fraction(2 ** depth - 1 - depth, 2 ** depth - 1)
    assert abs(f.chi - float(value)) <= 2.0 ** -52            # the float is 1 - r1 / r2, within an ulp
    assert (f.r1, f.r2) == (depth, 2 ** depth - 1)


@pytest.mark.parametrize("k, value", [(1, Fraction(0)), (2, Fraction(1, 3)), (3, Fraction(4, 7)),
                                      (4, Fraction(11, 15)), (5, Fraction(26, 31))])
def test_cantornet_chi_is_the_derived_closed_form(k, value):
    """chi_k = 1 - k / (2^k - 1) for the path (0, y) -> (1, y), both directions (cantor.py)."""
    for y in (0.5, -0.25, 3.0):                      # y is carried exactly: its bits never flip
        f = fold_path(cantor_network(k), [0.0, y], [1.0, y])
        assert f.chi_fraction == value == 1 - Fraction(k, 2 ** k - 1)
        assert f.chi_reverse_fraction == value and f.r1_reverse == 2 * k
        assert (f.r1, f.r2, f.regions) == (2 * k, 2 ** (k + 1) - 2, 2 ** (k + 1) - 1)


def test_the_measure_is_asymmetric_on_a_network():
    """T^3 on 0 -> 0.6: regions 000, 001, 011, 010, 110 (the flipping bits of layers 1-3)."""
    f = fold_path(tent_map_network(3), [0.0], [0.6])
    assert np.allclose(f.breakpoints * 0.6, [0.125, 0.25, 0.375, 0.5], rtol=0, atol=1e-15)
    assert (f.r1, f.r1_reverse, f.r2) == (2, 3, 4)
    assert f.chi_fraction == Fraction(1, 2) and f.chi_reverse_fraction == Fraction(1, 4)
    assert f.d_chi == pytest.approx(3 / 8, abs=1e-15)
    back = fold_path(tent_map_network(3), [0.6], [0.0])
    assert back.chi_fraction == Fraction(1, 4) and back.chi_reverse_fraction == Fraction(1, 2)
    assert back.d_chi == f.d_chi                          # d_chi is symmetric


@pytest.mark.parametrize("act", [RELU, Activation("abs_pow", p=1)])
def test_one_hidden_layer_gives_chi_zero_on_random_segments(act):
    rng = np.random.default_rng(11)
    for seed in range(5):
        dim = 2 + seed % 3
        W = rng.normal(size=(20, dim))
        net = Network(dim, [Layer(W, rng.normal(size=20), act)], Output("linear", rng.normal(size=(1, 20))))
        X1, X2 = rng.normal(size=(300, dim)) * 3, rng.normal(size=(300, dim)) * 3
        fs = fold_paths(net, X1, X2)
        assert np.all(fs.r1 == fs.r2) and np.all(fs.r1_reverse == fs.r2) and fs.phi == 0.0
        assert np.all(fs.chi == 0.0) and fs.regions.sum() > 300 * 3


def test_sampling_understates_r2_relative_to_exact():
    rng = np.random.default_rng(3)
    dims = (3, 16, 16, 16)
    net = Network(3, [Layer(rng.normal(size=(b, a)) / np.sqrt(a / 2), rng.normal(size=b) * 0.3, RELU)
                      for a, b in zip(dims[:-1], dims[1:])])
    rng = np.random.default_rng(9)
    X1, X2 = rng.normal(size=(100, 3)) * 2, rng.normal(size=(100, 3)) * 2
    exact = fold_paths(net, X1, X2)
    for n in (5, 20, 100):
        sampled = fold_paths(net, X1, X2, samples=n)
        # a sampled walk is the exact walk with regions left out: never more travelled, never more regions
        assert np.all(sampled.r2 <= exact.r2) and np.all(sampled.regions <= exact.regions)
        assert sampled.r2.sum() < exact.r2.sum()
    assert fold_paths(net, X1, X2, samples=5).r2.sum() < fold_paths(net, X1, X2, samples=100).r2.sum()


# -- the tie rule (crossings.py) -----------------------------------------------------------
def vertex_net():
    """Layer 1: relu(x - 0.1), relu(0.1 - x), relu(7y - 0.7); layer 2: relu(h1 - h2) = relu(x - 0.1).

    All four neurons, in two layers, change sign at (0.1, 0.1); 7y - 0.7 rounds differently from x - 0.1.
    """
    first = Layer(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 7.0]]), np.array([-0.1, 0.1, -0.7]), RELU)
    second = Layer(np.array([[1.0, -1.0, 0.0]]), np.zeros(1), RELU)
    return Network(2, [first, second])


def test_four_neurons_of_two_layers_flipping_at_one_vertex_are_one_step():
    f = fold_path(vertex_net(), [0.0, 0.0], [0.3, 0.3])
    assert f.regions == 2 and f.steps.tolist() == [4] and f.breakpoints == pytest.approx([1 / 3], abs=1e-15)
    assert f.patterns.astype(int).tolist() == [[0, 1, 0, 0], [1, 0, 1, 1]]
    assert (f.r1, f.r2, f.chi_fraction) == (4, 4, Fraction(0))
    back = fold_path(vertex_net(), [0.3, 0.3], [0.0, 0.0])
    assert back.regions == 2 and back.steps.tolist() == [4] and back.breakpoints == pytest.approx([2 / 3], abs=1e-15)


def test_a_segment_starting_or_ending_at_the_vertex_has_no_empty_region():
    for a, b, pattern in (([0.1, 0.1], [0.3, 0.3], [1, 0, 1, 1]), ([0.0, 0.0], [0.1, 0.1], [0, 1, 0, 0])):
        f = fold_path(vertex_net(), a, b)
        assert f.regions == 1 and f.patterns.astype(int).tolist() == [pattern] and f.r2 == 0


def test_a_segment_inside_hyperplanes_of_two_layers_keeps_their_bits_zero():
    # on x = 0.1: neurons 1, 2 (layer 1) and the layer-2 neuron are 0 all along; only 7y - 0.7 flips
    f = fold_path(vertex_net(), [0.1, 0.0], [0.1, 0.3])
    assert f.patterns.astype(int).tolist() == [[0, 0, 0, 0], [0, 0, 1, 0]]
    assert f.breakpoints == pytest.approx([1 / 3], abs=1e-15) and f.r2 == 1
    s = fold_path(vertex_net(), [0.1, 0.0], [0.1, 0.3], samples=31)      # sample 10 is on y = 0.1: bit 0
    assert s.patterns.astype(int).tolist() == f.patterns.astype(int).tolist() and s.t[1] == pytest.approx(11 / 30)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("x1, x2, fragment", [
    ([0.0], [1.0], "must have 2 coordinates"),
    ([0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0], "must have 2 coordinates"),
    ([[0.0, 0.0]], [[1.0, 1.0], [2.0, 2.0]], "1 start points but 2 end points"),
    ([0.2, 0.3], [0.2, 0.3], r"equal end points \(x1 == x2\)"),
    ([[0.0, 0.0], [1.0, 2.0]], [[1.0, 1.0], [1.0, 2.0]], "path 1 has equal end points"),
])
def test_bad_segments_are_neural_poly_errors(x1, x2, fragment):
    with pytest.raises(NeuralPolyError, match=fragment):
        fold_paths(vertex_net(), x1, x2)
    with pytest.raises(NeuralPolyError, match=fragment):
        fold_paths(vertex_net(), x1, x2, samples=10)


@pytest.mark.parametrize("act", [Activation("sigmoid", scale=1.0), Activation("abs_pow", p=2)])
def test_the_exact_method_refuses_a_network_that_is_not_piecewise_linear(act):
    net = Network(2, [Layer(np.eye(2), np.array([0.1, -0.2]), act), Layer(np.ones((2, 2)), None, RELU)])
    with pytest.raises(NeuralPolyError, match="not piecewise linear"):
        fold_path(net, [-1.0, -1.0], [1.0, 1.0])
    assert fold_path(net, [-1.0, -1.0], [1.0, 1.0], samples=1001).regions >= 2


# -- what the Blender add-on draws: scene_path -------------------------------------------------
def test_scene_path_of_a_2d_network_ignores_z_and_lies_at_z_0():
    from neuralpoly_core.folding import hamming_colors, scene_path
    g = scene_path(cantor_network(2), [0.0, 0.5, 7.0], [1.0, 0.5, -3.0])
    f = fold_path(cantor_network(2), [0.0, 0.5], [1.0, 0.5])
    assert g["x1"].tolist() == [0.0, 0.5] and g["x2"].tolist() == [1.0, 0.5]
    assert g["vertices3d"].shape == (f.regions + 1, 3) and np.all(g["vertices3d"][:, 2] == 0.0)
    assert np.array_equal(g["vertices3d"][1:-1, :2], f.points)
    assert g["hamming"].tolist() == f.distances.tolist() + [f.distances[-1]]
    assert (g["chi"], g["chi_reverse"], g["r1"], g["r2"], g["regions"]) == (f.chi, f.chi_reverse, f.r1, f.r2, f.regions)
    c = g["colors"]
    assert c.shape == (f.regions + 1, 4) and np.array_equal(c, hamming_colors(g["hamming"], f.r1))
    far = g["hamming"] == f.r1
    assert np.allclose(c[far], [1.0, 0.15, 0.05, 1.0]) and np.allclose(c[g["hamming"] == 0], [0.05, 0.25, 1.0, 1.0])


def test_scene_path_of_a_3d_network_and_its_bad_input():
    from neuralpoly_core.folding import scene_path
    rng = np.random.default_rng(0)
    net = Network(3, [Layer(rng.normal(size=(8, 3)), rng.normal(size=8), RELU), Layer(rng.normal(size=(8, 8)), None, RELU)])
    g = scene_path(net, [-1.0, -1.0, -1.0], [1.0, 0.5, 1.0])
    f = fold_path(net, [-1.0, -1.0, -1.0], [1.0, 0.5, 1.0])
    assert np.array_equal(g["vertices3d"][1:-1], f.points) and g["d_chi"] == f.d_chi
    five = Network(5, [Layer(rng.normal(size=(4, 5)), None, RELU)])
    with pytest.raises(NeuralPolyError, match="2 or 3 inputs; this one has 5"):
        scene_path(five, [0, 0, 0], [1, 1, 1])
    with pytest.raises(NeuralPolyError, match="must have 3 coordinates"):
        scene_path(net, [0, 0, 0, 0], [1, 1, 1])
    with pytest.raises(NeuralPolyError, match="equal end points"):
        scene_path(cantor_network(1), [0.2, 0.3, 0.0], [0.2, 0.3, 5.0])        # the same 2-D point


def test_sampling_understates_r1_and_r2_but_chi_can_go_either_way():
    """A sampled walk skips regions: by the triangle inequality r2 (and r1) can only drop, so chi,
    their ratio, can rise: CantorNet k = 3 with 10 samples folds *more* than it does."""
    exact = fold_path(cantor_network(3), [0.0, 0.5], [1.0, 0.5])
    sampled = fold_path(cantor_network(3), [0.0, 0.5], [1.0, 0.5], samples=10)
    assert (exact.r1, exact.r2, exact.regions) == (6, 14, 15) and (sampled.r1, sampled.r2, sampled.regions) == (5, 14, 5)
    assert sampled.chi_fraction == Fraction(9, 14) > exact.chi_fraction == Fraction(4, 7)
    tent = fold_path(tent_map_network(5), [0.001], [0.999], samples=10)
    assert tent.chi_fraction < fold_path(tent_map_network(5), [0.0], [1.0]).chi_fraction     # and here less


def test_maxout_networks_fold_by_sampling_with_one_hot_bits():
    """A rank-k maxout unit gives k bits (the one-hot of its largest piece); the exact method refuses it."""
    rng = np.random.default_rng(0)
    mx = Activation("maxout", k=2)
    net = Network(2, [Layer(rng.normal(size=(8, 2)), rng.normal(size=8), mx),
                      Layer(rng.normal(size=(6, 4)), rng.normal(size=6), mx)], Output("linear", np.ones((1, 3))))
    f = fold_path(net, [-1.0, -1.0], [1.0, 1.0], samples=2001)
    X = np.linspace(-1.0, 1.0, 2001)[:, None] * np.ones(2)
    walk = net.activation_pattern(X)
    walk = walk[np.r_[True, np.any(walk[1:] != walk[:-1], axis=1)]]
    assert f.patterns.shape[1] == 14 and np.array_equal(f.patterns, walk) and f.regions > 3
    assert np.all(f.patterns.reshape(len(f.patterns), 7, 2).sum(axis=2) == 1)
    assert np.all(f.steps % 2 == 0) and f.r2 == f.steps.sum()        # a unit switching pieces flips 2 bits
    with pytest.raises(NeuralPolyError, match="maxout"):
        fold_path(net, [-1.0, -1.0], [1.0, 1.0])


def test_a_folding_set_is_indexed_like_a_list():
    fs = fold_paths(tent_map_network(3), [[0.0], [0.2]], [[1.0], [0.9]])
    assert fs[-1].regions == fs[1].regions == fold_path(tent_map_network(3), [0.2], [0.9]).regions
    assert fs[-2].chi_fraction == Fraction(4, 7) and [f.r2 for f in fs] == fs.r2.tolist()
    with pytest.raises(IndexError):
        fs[2]
    with pytest.raises(IndexError):
        fs[-3]
