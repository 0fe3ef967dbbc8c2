"""Adversarial perturbations (exact input gradients) and the folding-digits experiment."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from neuralpoly_core import Activation, Layer, Network, Output  # noqa: E402
from neuralpoly_core.cli import main  # noqa: E402
from neuralpoly_core.errors import Cancelled, NeuralPolyError  # noqa: E402
from neuralpoly_core.experiments.folding_digits import centroids, format_table, run  # noqa: E402
from neuralpoly_core.training.adversarial import fgsm, loss_gradient, pgd  # noqa: E402


def classifier(seed=0, act=Activation("relu")):
    rng = np.random.default_rng(seed)
    dims = (6, 9, 7)
    layers = [Layer(rng.normal(size=(b, a)), rng.normal(size=b), act) for a, b in zip(dims[:-1], dims[1:])]
    return Network(6, layers, Output("linear", rng.normal(size=(4, 7)), rng.normal(size=4)))


@pytest.mark.parametrize("act, torch_act", [(Activation("relu"), torch.relu), (Activation("abs_pow", p=1), torch.abs),
                                            (Activation("sigmoid", scale=1.5), lambda z: torch.sigmoid(1.5 * z))])
def test_input_gradient_matches_torch_autograd(act, torch_act):
    net = classifier(1, act)
    X = np.random.default_rng(2).normal(size=(20, 6))
    y = np.arange(20) % 4
    loss, grad = loss_gradient(net, X, y)
    x = torch.tensor(X, requires_grad=True)
    h = x
    for layer in net.layers:
        h = torch_act(h @ torch.tensor(layer.weight).T + torch.tensor(layer.bias))
    logits = h @ torch.tensor(net.output.weight).T + torch.tensor(net.output.bias)
    t_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none")
    t_loss.sum().backward()
    assert np.allclose(loss, t_loss.detach().numpy(), atol=1e-12)
    assert np.allclose(grad, x.grad.numpy(), atol=1e-10)


def test_fgsm_and_pgd_raise_the_loss_inside_the_ball():
    net = classifier(3)
    X = np.random.default_rng(4).uniform(0.2, 0.8, (30, 6))
    y = np.argmax(net(X), axis=1)
    base = loss_gradient(net, X, y)[0]
    for adv in (fgsm(net, X, y, 0.05), pgd(net, X, y, 0.05, steps=8)):
        assert np.max(np.abs(adv - X)) <= 0.05 + 1e-12 and adv.min() >= 0 and adv.max() <= 1
        assert loss_gradient(net, adv, y)[0].mean() > base.mean()
    assert loss_gradient(net, pgd(net, X, y, 0.05, steps=8), y)[0].mean() >= \
        loss_gradient(net, fgsm(net, X, y, 0.05), y)[0].mean() - 1e-9
    with pytest.raises(NeuralPolyError, match="labels"):
        fgsm(net, X, y + 4, 0.1)
    with pytest.raises(NeuralPolyError, match="classifier"):
        fgsm(Network(6, net.layers), X, y, 0.1)


def test_centroids_per_label():
    x = np.vstack([np.zeros((10, 2)), np.ones((10, 2)) * 5])
    y = np.repeat([0, 1], 10)
    C, labels = centroids(x + np.random.default_rng(0).normal(size=x.shape) * 0.01, y, 2, 0)
    assert C.shape == (4, 2) and labels.tolist() == [0, 0, 1, 1]
    assert np.allclose(C[:2], 0, atol=0.05) and np.allclose(C[2:], 5, atol=0.05)


def test_folding_digits_experiment_writes_its_report(tmp_path, capsys):
    out = tmp_path / "fd"
    result = run(out, depths=(1, 2), width=12, epochs=4, clusters=1, samples=20, seed=1)
    rows = result["rows"]
    assert [r["depth"] for r in rows] == [1, 2] and result["paths"] == 90 and result["centroids"] == 10
    assert rows[0]["phi"] == 0.0 and rows[0]["folded_fraction"] == 0.0    # one hidden layer never folds
    for r in rows:
        assert 0.0 <= r["phi"] <= 1.0 and 0.0 <= r["val_accuracy"] <= 1.0
        assert r["adversarial_accuracy"] <= r["centroid_accuracy"]
    report = json.loads((out / "folding_digits.json").read_text())
    assert report["rows"] == json.loads(json.dumps(rows))
    assert (out / "folding_digits.png").stat().st_size > 1000
    assert (out / "digits_depth2.json").is_file()
    assert format_table(result).count("\n") == 2
    with pytest.raises(Cancelled):
        run(tmp_path / "c", depths=(1,), epochs=2, clusters=1, png=False, cancel=lambda: True)
    with pytest.raises(NeuralPolyError, match="depth"):
        run(tmp_path / "d", depths=(0,))
    assert not (tmp_path / "d").exists()
    code = main(["experiment", "folding-digits", "--out", str(tmp_path / "cli"), "--depths", "1", "--epochs", "2",
                 "--clusters", "1", "--width", "8", "--no-png", "--json"])
    printed = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and printed[0].startswith("depth") and json.loads(printed[-1])["rows"][0]["depth"] == 1
    assert not (tmp_path / "cli" / "folding_digits.png").exists()
