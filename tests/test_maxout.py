"""Maxout layers: the model format, evaluation, the activation table, training, and the exact
extractors' refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuralpoly_core import extract_level_set, extract_polytope
from neuralpoly_core.errors import ExtractionError, ModelFormatError
from neuralpoly_core.network import Activation, Layer, Network, Output
from neuralpoly_core.network.modelfile import model_from_json, model_to_json

MAX3 = Activation("maxout", k=3)


def maxout_net(seed=0, bias=True):
    rng = np.random.default_rng(seed)
    return Network(2, [Layer(rng.normal(size=(6, 2)), rng.normal(size=6) if bias else None, MAX3),
                       Layer(rng.normal(size=(4, 2)), rng.normal(size=4) if bias else None,
                             Activation("maxout", k=2))],
                   Output("linear", rng.normal(size=(1, 2))))


def test_a_unit_is_the_max_of_its_consecutive_rows():
    z = np.array([[1.0, 5.0, 2.0, -1.0, -3.0, -2.0]])
    assert MAX3(z).tolist() == [[5.0, -1.0]]
    assert MAX3.derivative(z).tolist() == [[0, 1, 0, 1, 0, 0]]
    assert MAX3.pattern(z).tolist() == [[False, True, False, True, False, False]]
    assert MAX3.backward(z, np.array([[2.0, -1.0]])).tolist() == [[0, 2, 0, -1, 0, 0]]
    lo, hi = MAX3.interval(np.array([0.0, -1.0, 1.0, -5.0, -5.0, -5.0]), np.array([1.0, 3.0, 2.0, -4.0, 0.0, -1.0]))
    assert lo.tolist() == [1.0, -5.0] and hi.tolist() == [3.0, 0.0]
    assert MAX3.group == 3 and MAX3.width_of(6) == 2 and MAX3.slopes is None and not MAX3.kinked
    assert MAX3.piecewise_linear and MAX3.degree == 1.0 and MAX3.label == "maxout(k=3)"
    with pytest.raises(ValueError, match="not elementwise"):
        MAX3.relaxation(lo, hi)


def test_layer_width_network_evaluation_and_the_model_file():
    net = maxout_net()
    assert net.widths == (2, 2) and net.layers[0].rows == 6 and net.n_neurons == 4
    X = np.random.default_rng(1).normal(size=(50, 2))
    h = np.max((X @ net.layers[0].weight.T + net.layers[0].bias).reshape(50, 2, 3), axis=2)
    h = np.max((h @ net.layers[1].weight.T + net.layers[1].bias).reshape(50, 2, 2), axis=2)
    assert np.allclose(net(X), h @ net.output.weight[0])
    assert net.activation_pattern(X).shape == (50, 10)
    text = model_to_json(net)
    assert json.loads(text)["layers"][0]["activation"] == {"name": "maxout", "k": 3}
    again, _ = model_from_json(text)
    assert np.array_equal(again(X), net(X)) and again.layers[1].activation == Activation("maxout", k=2)
    assert net.degree is None and maxout_net(bias=False).degree == 1.0


def test_backward_is_the_gradient():
    net = maxout_net(2)
    x = np.array([0.3, -0.7])
    zs, h = [], x
    for layer in net.layers:
        zs.append(layer.preactivation(h))
        h = layer.activation(zs[-1])
    g = net.output.weight[0]
    for layer, z in zip(reversed(net.layers), reversed(zs)):
        g = layer.activation.backward(z, g) @ layer.weight
    eps = 1e-6
    fd = [(net(x + eps * e) - net(x - eps * e)) / (2 * eps) for e in np.eye(2)]
    assert np.allclose(g, fd, atol=1e-6)
    relu = Activation("relu")
    z = np.array([-1.0, 2.0])
    assert relu.backward(z, np.array([3.0, 4.0])).tolist() == [0.0, 4.0]


@pytest.mark.parametrize("d, fragment", [
    ({"name": "maxout"}, "needs a rank 'k'"),
    ({"name": "maxout", "k": 1}, "maxout rank k"),
    ({"name": "maxout", "k": 2.5}, "maxout rank k"),
    ({"name": "relu", "k": 2}, "takes no rank"),
])
def test_bad_maxout_activations(d, fragment):
    with pytest.raises(ModelFormatError, match=fragment):
        Activation.from_dict(d)


def test_rows_must_come_in_groups_of_k():
    with pytest.raises(ModelFormatError, match="multiple of 3 weight rows"):
        Layer(np.ones((5, 2)), None, MAX3)
    with pytest.raises(ModelFormatError, match="expected 2"):
        Network(2, [Layer(np.ones((6, 2)), None, MAX3), Layer(np.ones((1, 6)), None, Activation("relu"))])


def test_the_exact_extractors_refuse_maxout_with_a_clear_message():
    net = maxout_net()
    assert not net.is_piecewise_linear
    assert "rank-3 maxout layer" in net.piecewise_linear_issue("use x")
    with pytest.raises(ExtractionError, match="maxout layers yet"):
        extract_level_set(net, 0.0, (-1.0, 1.0), method="exact")
    poly = Network(3, [Layer(np.vstack([np.eye(3), -np.eye(3)]), None, Activation("maxout", k=2))])
    with pytest.raises(ExtractionError, match="maxout layers yet"):
        extract_polytope(poly, method="exact")


def test_training_a_maxout_classifier():
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from neuralpoly_core.training.classifier import train_classifier
    from neuralpoly_core.training.datasets import load_digits_split
    data = load_digits_split(0.2, seed=0)
    res = train_classifier(data, (8, 6), epochs=20, seed=1, activation="maxout", k=3)
    net = res.network
    assert net.widths == (8, 6) and net.layers[0].rows == 24 and net.layers[1].weight.shape == (18, 8)
    assert res.meta["activation"] == {"name": "maxout", "k": 3}
    assert res.train_accuracy > 0.9 and res.val_accuracy > 0.85
    again = train_classifier(data, (8, 6), epochs=20, seed=1, activation="maxout", k=3).network
    assert np.array_equal(again.layers[0].weight, net.layers[0].weight)
