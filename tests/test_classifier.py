"""Digit classifiers trained with torch and returned as networks with a K-row head."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from neuralpoly_core.errors import Cancelled, NeuralPolyError  # noqa: E402
from neuralpoly_core.network.modelfile import model_from_json, model_to_json  # noqa: E402
from neuralpoly_core.training.classifier import accuracy, train_classifier  # noqa: E402
from neuralpoly_core.training.datasets import load_digits_split  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(0.2, seed=0)


def test_digits_split_is_stratified_and_scaled(digits):
    assert digits.dim == 64 and digits.n_classes == 10
    assert len(digits.y_train) + len(digits.y_val) == 1797
    assert 0.0 <= digits.x_train.min() and digits.x_train.max() == 1.0
    counts = np.bincount(digits.y_val, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38          # 20 % of ~180 per label
    again = load_digits_split(0.2, seed=0)
    assert np.array_equal(again.x_val, digits.x_val)


def test_a_small_relu_net_learns_the_digits_reproducibly(digits):
    res = train_classifier(digits, (12, 10), epochs=30, seed=3)
    net = res.network
    assert net.widths == (12, 10) and net.n_outputs == 10 and net.dim == 64
    assert [l.activation.name for l in net.layers] == ["relu", "relu"]
    assert res.train_accuracy > 0.9 and res.val_accuracy > 0.85
    assert res.train_accuracy == pytest.approx(accuracy(net, digits.x_train, digits.y_train))
    assert res.meta["val_accuracy"] == res.val_accuracy
    again = train_classifier(digits, (12, 10), epochs=30, seed=3).network
    assert all(np.array_equal(a.weight, b.weight) for a, b in zip(net.layers, again.layers))
    assert np.array_equal(model_from_json(model_to_json(net))[0](digits.x_val), net(digits.x_val))


def test_cancel_and_bad_arguments(digits):
    with pytest.raises(Cancelled):
        train_classifier(digits, (8,), epochs=5, cancel=lambda: True)
    for kwargs, fragment in ((dict(widths=()), "at least one hidden layer"),
                             (dict(widths=(0,)), "width of layer 0"),
                             (dict(widths=(8,), epochs=0), "epochs"),
                             (dict(widths=(8,), lr=-1.0), "lr")):
        with pytest.raises(NeuralPolyError, match=fragment):
            train_classifier(digits, **kwargs)
