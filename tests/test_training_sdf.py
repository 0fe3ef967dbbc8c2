"""Fitting a ReLU network to a signed-distance function (neuralpoly_core.training.sdf)."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core.errors import Cancelled, NeuralPolyError, TrainingDivergedError

torch = pytest.importorskip("torch")

from neuralpoly_core.training import fit_sdf  # noqa: E402

SMALL = dict(depth=2, width=16, n_uniform=256, n_near=256, n_candidates=1024)


def sphere_sdf(p):
    return np.linalg.norm(p, axis=1) - 0.5


def weights(net):
    return [a for layer in net.layers for a in (layer.weight, layer.bias)] + [net.output.weight, net.output.bias]


def test_the_loss_decreases_and_the_net_draws_the_sphere():
    net, facts = fit_sdf(sphere_sdf, steps=300, **SMALL)
    assert facts["steps"] == 300 and facts["train_seconds"] > 0
    assert facts["loss"] < 0.25 * facts["first_loss"]
    assert net.dim == 3 and len(net.layers) == 2 and net.output.name == "linear"
    assert all(layer.activation.name == "relu" for layer in net.layers)
    assert all(w.dtype == np.float64 for w in weights(net))
    p = np.random.default_rng(5).uniform(-1, 1, (20000, 3))
    f = net(p).ravel()
    assert np.mean(np.abs(f - sphere_sdf(p))) < 0.05
    assert np.mean(np.sign(f) == np.sign(sphere_sdf(p))) > 0.97


def test_same_seed_same_weights_and_torch_state_left_alone():
    threads = torch.get_num_threads()
    state = torch.random.get_rng_state()
    a, _ = fit_sdf(sphere_sdf, steps=20, seed=4, **SMALL)
    b, _ = fit_sdf(sphere_sdf, steps=20, seed=4, **SMALL)
    c, _ = fit_sdf(sphere_sdf, steps=20, seed=5, **SMALL)
    d, _ = fit_sdf(sphere_sdf, steps=20, seed=4, rng=np.random.default_rng(9), **SMALL)
    assert all(np.array_equal(x, y) for x, y in zip(weights(a), weights(b)))
    assert not np.array_equal(weights(a)[0], weights(c)[0])
    assert not all(np.array_equal(x, y) for x, y in zip(weights(a), weights(d)))
    assert torch.equal(torch.random.get_rng_state(), state) and torch.get_num_threads() == threads


def test_a_curve_in_a_larger_box():
    circle = lambda p: np.linalg.norm(p, axis=1) - 1.5  # noqa: E731
    net, facts = fit_sdf(circle, steps=200, dim=2, bbox=(-2.0, 2.0), clamp=0.2, **SMALL)
    assert net.dim == 2 and np.isfinite(facts["loss"])


def test_progress_and_cancel():
    seen = []
    fit_sdf(sphere_sdf, steps=30, progress=lambda f, m: seen.append((f, m)), **SMALL)
    fracs = [f for f, _ in seen]
    assert fracs[0] == 0.0 and fracs[-1] == 1.0 and fracs == sorted(fracs)
    assert all(isinstance(m, str) and m for _, m in seen)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled, match="SDF fitting cancelled"):
        fit_sdf(sphere_sdf, steps=1000, cancel=cancel, **SMALL)
    assert len(calls) == 4


def test_divergence_raises():
    with pytest.raises(TrainingDivergedError, match="diverged at step"):
        fit_sdf(lambda p: 1e38 * np.ones(len(p)), steps=50, max_lr=1e30, **SMALL)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps must be at least 1"), (dict(depth=0), "depth"), (dict(width=2.5), "width"),
    (dict(seed=-1), "seed"), (dict(band=0.0), "band"), (dict(max_lr=-1.0), "max_lr"), (dict(clamp=0), "clamp"),
    (dict(n_uniform=0), "n_uniform"), (dict(n_near=-1), "n_near"), (dict(bbox=(1.0, -1.0)), "lo < hi"),
    (dict(bbox=3), "bbox"), (dict(dim=1), "dimension"), (dict(rng="x"), "rng"), (dict(progress=3), "progress"),
    (dict(cancel="no"), "cancel"), (dict(threads=0), "threads"), (dict(device="tpu"), "device")])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(NeuralPolyError, match=match):
        fit_sdf(sphere_sdf, steps=kwargs.pop("steps", 2), **kwargs)


@pytest.mark.parametrize("sdf, match", [
    ("sphere", "sdf must be a function"),
    (lambda p: np.zeros((len(p), 1)), "one value per point"),
    (lambda p: np.full(len(p), np.nan), "not finite")])
def test_bad_sdfs_are_named(sdf, match):
    with pytest.raises(NeuralPolyError, match=match):
        fit_sdf(sdf, steps=2, **SMALL)
