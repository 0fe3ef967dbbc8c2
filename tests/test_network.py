import json

import numpy as np
import pytest

from neuralpoly_core import (Activation, Layer, ModelFormatError, Network, Output, load_model,
                             load_model_with_meta, polytope_network, save_model)
from neuralpoly_core.network.modelfile import model_from_json, model_to_json


def test_octahedron_network_closed_form():
    net = polytope_network(3, [np.eye(3)], [1.0])
    X = np.array([[1.0, 0, 0], [0.3, -0.4, 0.3], [2.0, 2.0, -2.0]])
    assert np.allclose(net(X), np.abs(X).sum(1))
    assert net.degree == 1.0 and net.is_bias_free and net.is_piecewise_linear


def test_deep_abs_pow_matches_manual_and_homogeneity():
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(4, 3)), rng.normal(size=(2, 4))
    net = polytope_network(3, [W1, W2], [1.5, 0.8])
    X = rng.normal(size=(50, 3))
    manual = (np.abs(np.abs(X @ W1.T) ** 1.5 @ W2.T) ** 0.8).sum(1)
    assert np.allclose(net(X), manual, rtol=1e-13)
    assert net.degree == pytest.approx(1.2)
    t = 2.7
    assert np.allclose(net(t * X), t ** 1.2 * net(X), rtol=1e-12)


def test_relu_bias_linear_head_and_patterns():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([0.0, -1.0, 0.5])
    net = Network(2, [Layer(W, b, Activation("relu"))],
                  Output("linear", [[1.0, -2.0, 0.5]], [0.25]))
    X = np.array([[1.0, 2.0], [-1.0, 0.0]])
    z = X @ W.T + b
    assert np.allclose(net.preactivations(X)[0], z)
    assert np.allclose(net(X), np.maximum(z, 0) @ [1.0, -2.0, 0.5] + 0.25)
    assert net.activation_pattern(X).tolist() == [[True, True, True], [False, False, False]]
    assert net.degree is None and not net.is_bias_free


def test_sigmoid_stable_and_scaled():
    act = Activation("sigmoid", scale=10.0)
    z = np.array([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    y = act(z)
    assert np.all(np.isfinite(y))
    assert y[2] == 0.5 and y[0] == 0.0 and y[4] == 1.0
    assert y[3] == pytest.approx(1 / (1 + np.exp(-10.0)))


def test_a_huge_sigmoid_scale_is_a_step_without_overflow_warnings():
    act = Activation("sigmoid", scale=1e308)
    with np.errstate(over="raise", invalid="raise", divide="raise"):     # underflow to 0 is the answer
        assert act(np.array([-2.0, -1e-300, 0.0, 3.0])).tolist() == [0.0, 0.0, 0.5, 1.0]


def test_restrict_is_composition_with_basis():
    rng = np.random.default_rng(1)
    net = polytope_network(5, [rng.normal(size=(8, 5))], [1.0])
    B = np.linalg.qr(rng.normal(size=(5, 3)))[0]
    sub = net.restrict(B)
    Y = rng.normal(size=(20, 3))
    assert sub.dim == 3 and np.allclose(sub(Y), net(Y @ B.T))


@pytest.mark.parametrize("act", [
    {"name": "abs_pow", "p": 1.0}, {"name": "relu"}, {"name": "sigmoid", "scale": 4.0},
    {"name": "identity"}])
def test_json_round_trip_exact(tmp_path, act):
    rng = np.random.default_rng(2)
    layers = [Layer(rng.normal(size=(4, 3)), rng.normal(size=4), Activation.from_dict(act)),
              Layer(rng.normal(size=(2, 4)), None, Activation("relu"))]
    net = Network(3, layers, Output("linear", rng.normal(size=(1, 2)), [0.5]))
    path = save_model(net, tmp_path / "m.json", meta={"type": "x", "loss": np.float64(0.25)})
    d = json.loads(path.read_text())
    assert d["format"] == "neuralpoly.model" and d["version"] == 1 and d["dim"] == 3
    assert d["layers"][0]["activation"] == act and d["layers"][1]["bias"] is None
    assert d["output"]["name"] == "linear"
    net2, meta = load_model_with_meta(path)
    assert meta == {"type": "x", "loss": 0.25}
    X = rng.normal(size=(10, 3))
    assert np.array_equal(net(X), net2(X))  # repr-exact floats in JSON
    for a, b in zip(net.layers, net2.layers):
        assert np.array_equal(a.weight, b.weight)


def _good():
    return {"format": "neuralpoly.model", "version": 1, "dim": 2,
            "layers": [{"weight": [[1, 0], [0, 1]], "bias": None,
                        "activation": {"name": "abs_pow", "p": 1.0}}],
            "output": {"name": "sum"}}


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.update(format="other"), "not a neuralpoly model"),
    (lambda d: d.update(version=2), "unsupported model version"),
    (lambda d: d.update(dim=3), "columns, expected 3"),
    (lambda d: d.update(dim=0), "'dim' must be a positive integer"),
    (lambda d: d.update(layers=[]), "non-empty list"),
    (lambda d: d["layers"][0].update(weight=[[1, 0], [0]]), "weight"),
    (lambda d: d["layers"][0].update(bias=[1, 2, 3]), "bias has shape"),
    (lambda d: d["layers"][0].update(activation={"name": "tanh"}), "unknown activation"),
    (lambda d: d["layers"][0].update(activation={"name": "abs_pow", "p": -1}), "p must be > 0"),
    (lambda d: d["layers"][0].update(activation={"name": "abs_pow"}), "needs an exponent"),
    (lambda d: d["layers"][0].update(activation={"name": "sigmoid"}), "needs a 'scale'"),
    (lambda d: d.update(output={"name": "linear", "weight": [[1, 2, 3]]}), "output weight has 3 columns"),
    (lambda d: d.update(output={"name": "linear", "weight": [[1, 2], [3, 4]], "bias": [0.0]}),
     "output bias has shape (1,), expected (2,)"),
    (lambda d: d.update(extra=1), "unknown keys"),
])
def test_malformed_models_fail_clearly(mutate, fragment):
    d = _good()
    mutate(d)
    with pytest.raises(ModelFormatError) as e:
        model_from_json(json.dumps(d))
    assert fragment in str(e.value)


def test_bad_files(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"format": "neuralpoly.model", "version": 1, "dim": 2, "layers": [')
    with pytest.raises(ModelFormatError, match="broken.json: model is not valid JSON"):
        load_model(p)
    with pytest.raises(ModelFormatError, match="does not exist"):
        load_model(tmp_path / "missing.json")
    p.write_text(json.dumps(_good()).replace("1.0", "NaN"))
    with pytest.raises(ModelFormatError, match="NaN"):
        load_model(p)


def test_save_is_atomic(tmp_path, monkeypatch):
    net = polytope_network(2, [np.eye(2)], [1.0])
    path = tmp_path / "m.json"
    save_model(net, path)
    before = path.read_bytes()
    import neuralpoly_core.fileio as fileio

    def boom(*a, **k):
        raise OSError("disk full")
    with monkeypatch.context() as m:  # fail after the new text was written, before the rename
        m.setattr(fileio.os, "fsync", boom)
        with pytest.raises(OSError, match="disk full"):
            save_model(polytope_network(2, [2 * np.eye(2)], [1.0]), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_model(net, tmp_path / "nope" / "m.json")


def test_polymesh_area_of_polygon_and_of_oriented_segments():
    from neuralpoly_core import PolyMesh
    sq = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]])
    assert PolyMesh(sq, [0, 1, 2, 3], [4]).volume() == 2.0
    assert PolyMesh(sq, [3, 2, 1, 0], [4]).volume() == -2.0
    # the same square as a level curve of four oriented segments, plus a clockwise hole
    hole = np.array([[0.5, 0.25], [1.5, 0.25], [1.5, 0.75], [0.5, 0.75]])
    V = np.concatenate([sq, hole])
    segs = [0, 1, 1, 2, 2, 3, 3, 0, 4, 7, 7, 6, 6, 5, 5, 4]
    assert PolyMesh(V, segs, [2] * 8).volume() == pytest.approx(2.0 - 0.5)


def test_a_linear_head_of_several_rows_computes_several_outputs():
    """A classifier's logits: K rows, K outputs; it round-trips through the model file and the
    extractors refuse it with a clear message (a level set needs one number)."""
    from neuralpoly_core.errors import ExtractionError
    from neuralpoly_core.levelset import extract_level_set
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 2)), rng.normal(size=4)
    head_w, head_b = rng.normal(size=(3, 4)), rng.normal(size=3)
    net = Network(2, [Layer(W, b, Activation("relu"))], Output("linear", head_w, head_b))
    X = rng.normal(size=(5, 2))
    assert net.n_outputs == 3
    assert np.allclose(net(X), np.maximum(X @ W.T + b, 0) @ head_w.T + head_b, rtol=0, atol=1e-14)
    again = model_from_json(model_to_json(net))[0]
    assert np.array_equal(again(X), net(X)) and again.n_outputs == 3
    with pytest.raises(ExtractionError, match="one output; this one has 3"):
        extract_level_set(net, 0.0)
