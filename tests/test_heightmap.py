"""Metaball height field (neuralpoly_core.construct.heightmap)."""

import numpy as np
import pytest

from neuralpoly_core.construct import boolean as B
from neuralpoly_core.construct import heightmap as H
from neuralpoly_core.errors import NeuralPolyError

CENTERS = [[-0.2, -0.1], [0.25, 0.1], [0.0, 0.3]]
RADII = [0.15, 0.12, 0.1]


def test_three_sigmoid_layers_and_blob_values():
    net = H.metaball_network(CENTERS, RADII, sharpness=20.0, directions=8)
    assert net.dim == 2 and net.widths == (24, 3, 1)
    assert [l.activation.name for l in net.layers] == ["sigmoid"] * 3
    C, R = np.array(CENTERS), np.array(RADII)
    logic = 1 / (1 + np.exp(-B.LOGIC_SHARPNESS * 0.5))          # union of one blob at its plateau
    assert np.all(net(C) > 0.98)
    # on a lone blob's rim (along a half-plane normal) the value is exactly 1/2
    lone = H.metaball_network([[0.1, -0.2]], 0.15, sharpness=20.0)
    for u in ([1, 0], [0, -1], [np.sqrt(0.5), np.sqrt(0.5)]):
        assert lone(np.array([[0.1, -0.2]]) + 0.15 * np.array([u]))[0] == pytest.approx(0.5, abs=1e-12)
    assert net([[0.48, -0.48]])[0] < 1 - logic + 1e-3  # far away: the union's floor
    tall = H.metaball_network(CENTERS, RADII, sharpness=20.0, height=2.5)
    assert np.allclose(tall(C), 2.5 * net(C))


def test_blobs_merge_like_metaballs():
    pair = [[-0.11, 0.0], [0.11, 0.0]]                 # rims 0.02 apart
    soft = H.metaball_network(pair, 0.1, sharpness=8.0)
    sharp = H.metaball_network(pair, 0.1, sharpness=80.0)
    mid = [[0.0, 0.0]]
    assert soft(mid)[0] > 0.5 > sharp(mid)[0]        # soft blobs bridge the gap


def test_height_grid_mesh():
    net = H.metaball_network(CENTERS, RADII, sharpness=20.0)
    m = H.height_grid(net, 1.0, 20)
    assert m.n_vertices == 21 * 21 and m.n_faces == 400 and np.all(m.face_sizes == 4)
    assert np.allclose(m.vertices[:, 2], net(m.vertices[:, :2]))
    assert m.vertices[:, :2].min() == -0.5 and m.vertices[:, :2].max() == 0.5
    assert np.all(m.face_normals()[:, 2] > 0)          # counter-clockwise from above
    assert m.info["max_height"] == pytest.approx(m.vertices[:, 2].max())
    assert m.euler_characteristic == 1                  # a disc
    xs, ys, F = H.grid_values(net, (0.0, 2.0), 4)
    assert xs.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0] and F.shape == (5, 5)
    assert F[1, 2] == pytest.approx(net([[0.5, 1.0]])[0])
    scaled = H.height_grid(net, 1.0, 4, height_scale=3.0)
    assert np.allclose(scaled.vertices[:, 2], 3.0 * net(scaled.vertices[:, :2]))


def test_animation_moves_the_blobs_through_layer_one_biases():
    net = H.metaball_network(CENTERS, RADII, sharpness=20.0)
    b0 = H.animated_biases(CENTERS, RADII, 0)
    assert np.allclose(b0, net.layers[0].bias)
    assert np.allclose(H.animated_biases(CENTERS, RADII, 120, period=120), b0)
    assert np.allclose(H.blob_centers_at(CENTERS, 0), CENTERS)
    moved_c = H.blob_centers_at(CENTERS, 30, amplitude=0.15, period=120)
    assert np.allclose(np.linalg.norm(moved_c - CENTERS, axis=1), 0.15 * np.sqrt(2))   # a quarter turn
    moved = H.set_layer1_biases(net, H.animated_biases(CENTERS, RADII, 30))
    assert np.all(moved(moved_c) > 0.98)
    assert np.allclose(net.layers[0].bias, b0)           # the original network is unchanged
    # only layer 1's biases differ
    for a, b in zip(net.layers[1:], moved.layers[1:]):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    assert np.array_equal(net.layers[0].weight, moved.layers[0].weight)


def test_bad_inputs():
    with pytest.raises(NeuralPolyError, match="radius"):
        H.metaball_network(CENTERS, [0.1, -0.1, 0.1])
    with pytest.raises(NeuralPolyError, match="one per centre"):
        H.metaball_network(CENTERS, [0.1, 0.1])
    with pytest.raises(NeuralPolyError, match="centers"):
        H.metaball_network([[0, 0, 0]], 0.1)
    with pytest.raises(NeuralPolyError, match="directions"):
        H.metaball_network(CENTERS, 0.1, directions=2)
    with pytest.raises(NeuralPolyError, match="sharpness"):
        H.metaball_network(CENTERS, 0.1, sharpness=0)
    net = H.metaball_network(CENTERS, RADII)
    with pytest.raises(NeuralPolyError, match="biases"):
        H.set_layer1_biases(net, np.zeros(3))
    with pytest.raises(NeuralPolyError, match="resolution"):
        H.height_grid(net, 1.0, 0)
    with pytest.raises(NeuralPolyError, match="size"):
        H.height_grid(net, (1.0, 0.0), 8)
    with pytest.raises(NeuralPolyError, match="2 inputs"):
        from neuralpoly_core.network import polytope_network
        H.height_grid(polytope_network(3, [np.eye(3)], [2.0]), 1.0, 4)
