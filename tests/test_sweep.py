"""p-sweeps (neuralpoly_core.polytope.sweep): order by degree, one mesh of directions, shapes on f = 1."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, NeuralPolyError, Output, polytope_network
from neuralpoly_core.polytope import sweep_order, sweep_shapes


def superball(dim: int, p: float) -> Network:
    """f(x) = sum |x_i|^p: its level set f = 1 is the unit ball of the p-norm."""
    return polytope_network(dim, [np.eye(dim)], [p])


def test_sweep_order_sorts_by_degree_keeping_ties():
    models = [(superball(3, 2.0), {"type": "b"}), (superball(3, 1.0), {"type": "a"}),
              (superball(3, 2.0), {"type": "c"})]
    assert [m["type"] for _, m in sweep_order(models)] == ["a", "b", "c"]


@pytest.mark.parametrize("models, message", [
    ([(superball(3, 1.0), {})], "at least two networks"),
    ([(superball(3, 1.0), {}), (superball(2, 2.0), {})], "one input dimension, got \\[2, 3\\]"),
    ([(superball(4, 1.0), {}), (superball(4, 2.0), {})], "2-D or 3-D; these networks have d = 4"),
    ([(superball(3, 1.0), {}),
      (Network(3, [Layer(np.eye(3), None, Activation("relu"))], Output("linear", np.ones((1, 3)))), {"type": "lin"})],
     "network 'lin' is not a neural polytope"),
])
def test_sweep_order_refuses_what_is_not_a_sweep(models, message):
    with pytest.raises(NeuralPolyError, match=message):
        sweep_order(models)


def test_sweep_shapes_put_one_icosphere_on_every_level_set():
    models = sweep_order([(superball(3, p), {}) for p in (1.0, 2.0, 4.0)])
    topology, shapes = sweep_shapes(models, 4)
    assert topology.n_vertices == 10 * 4 ** 2 + 2 and topology.n_faces == 20 * 4 ** 2
    np.testing.assert_allclose(np.linalg.norm(topology.vertices, axis=1), 1.0)
    for (net, _), P in zip(models, shapes):
        assert P.shape == (topology.n_vertices, 3)
        np.testing.assert_allclose(net(P), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(shapes[1], axis=1), 1.0)      # p = 2: the sphere


def test_two_dimensional_sweeps_are_polygons_in_the_plane():
    models = [(superball(2, 1.0), {}), (superball(2, 3.0), {})]
    topology, shapes = sweep_shapes(models, 12)
    assert topology.n_faces == 1 and list(topology.face_sizes) == [12]
    for (net, _), P in zip(models, shapes):
        assert np.all(P[:, 2] == 0.0)
        np.testing.assert_allclose(net(P[:, :2]), 1.0, atol=1e-12)
    with pytest.raises(NeuralPolyError, match="resolution >= 3"):
        sweep_shapes(models, 2)
