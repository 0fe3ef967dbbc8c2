"""Training of neural polytopes: sphere points, loss judges, the batched trainer.

Closed forms used below, for x uniform on S^(d-1):
  E|x_1| = Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2))        (1/2 on S^2, 2/pi on S^1)
  E|x_1 x_2| = 2 / (pi d)                                 (2/(3 pi) on S^2)
so f = |x|+|y|+|z| has E f = 3/2, E f^2 = 1 + 6 * 2/(3 pi) = 1 + 4/pi and
E (f-1)^2 = 4/pi - 1 = 0.27324. The best multiple t f (t = E f / E f^2) is the regular
octahedron, with MSE 1 - (E f)^2 / E f^2 = 1 - 2.25 / (1 + 4/pi) = 0.0102231.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from neuralpoly_core.network import modelfile
from neuralpoly_core.errors import Cancelled, NeuralPolyError, TrainingDivergedError
from neuralpoly_core.network import polytope_network
from neuralpoly_core.training.sampling import halton, random_rotation, sphere_points

torch = pytest.importorskip("torch")

from neuralpoly_core.training import batch as batch_module  # noqa: E402
from neuralpoly_core.training import (  # noqa: E402
    dense_sphere_mse, recipe_train, sphere_mse_exact, train_polytope, train_sweep)
from neuralpoly_core.training.batch import PolytopeBatch  # noqa: E402

OCTAHEDRON_MSE = 1.0 - 2.25 / (1.0 + 4.0 / math.pi)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Many tiny ops: on a shared 2-core machine one intra-op thread is faster and steadier."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
L1_MSE = 4.0 / math.pi - 1.0


def abs_mean(dim: int) -> float:
    return math.exp(math.lgamma(dim / 2) - math.lgamma((dim + 1) / 2)) / math.sqrt(math.pi)


def best_scaled_mse(W) -> float:
    """Exact MSE of the optimal multiple of the (n;1) network with rows W."""
    net = polytope_network(W.shape[1], [W], [1.0])
    ef = abs_mean(W.shape[1]) * np.linalg.norm(W, axis=1).sum()
    # E f^2 = MSE + 2 E f - 1
    ef2 = sphere_mse_exact(net) + 2.0 * ef - 1.0
    return 1.0 - ef * ef / ef2


def cuboctahedron_mse() -> float:
    D = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]], float) / math.sqrt(3)
    return best_scaled_mse(D)


def regular_polygon_mse(n: int) -> float:
    a = np.arange(n) * math.pi / n
    return best_scaled_mse(np.stack([np.cos(a), np.sin(a)], 1))


# ---------------------------------------------------------------------------------------
# sphere points
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3, 4, 5, 8])
@pytest.mark.parametrize("method", ["random", "quasi"])
def test_sphere_points_are_unit_vectors_and_reproducible(dim, method):
    X = sphere_points(dim, 777, method, seed=3)
    assert X.shape == (777, dim) and X.dtype == np.float64
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-14)
    assert np.array_equal(X, sphere_points(dim, 777, method, seed=3))
    assert not np.allclose(X, sphere_points(dim, 777, method, seed=4))


@pytest.mark.parametrize("dim,n,quasi_tol", [(2, 500, 5e-5), (3, 2000, 1e-4), (5, 4000, 4e-3)])
def test_quasi_points_integrate_better_than_random(dim, n, quasi_tol):
    # E|x . v| for a unit vector v is the closed form E|x_1|
    v = np.ones(dim) / math.sqrt(dim)
    exact = abs_mean(dim)
    err_q = max(abs(np.mean(np.abs(sphere_points(dim, n, "quasi", s) @ v)) - exact) / exact for s in range(3))
    err_r = np.mean([abs(np.mean(np.abs(sphere_points(dim, n, "random", s) @ v)) - exact) / exact
                     for s in range(3)])
    assert err_q < quasi_tol
    assert err_q < err_r


def test_quasi_circle_points_are_equally_spaced():
    X = sphere_points(2, 64, "quasi", seed=1)
    ang = np.sort(np.mod(np.arctan2(X[:, 1], X[:, 0]), 2 * math.pi))
    gaps = np.diff(np.concatenate([ang, [ang[0] + 2 * math.pi]]))
    assert np.allclose(gaps, 2 * math.pi / 64, atol=1e-12)


def test_halton_and_rotation():
    H = halton(8, 2)
    assert np.allclose(H[:, 0], [1 / 2, 1 / 4, 3 / 4, 1 / 8, 5 / 8, 3 / 8, 7 / 8, 1 / 16])
    assert np.allclose(H[:3, 1], [1 / 3, 2 / 3, 1 / 9])
    Q = random_rotation(5, np.random.default_rng(0))
    assert np.allclose(Q @ Q.T, np.eye(5), atol=1e-12)


@pytest.mark.parametrize("args", [(1, 10), (3, 0), (3, 2.5), (3, 10, "grid"), (3, 10, "random", -1),
                                  ("x", 10), (3, True)])
def test_sphere_points_rejects_bad_arguments(args):
    with pytest.raises(NeuralPolyError):
        sphere_points(*args)


# ---------------------------------------------------------------------------------------
# judges of the loss
# ---------------------------------------------------------------------------------------
def test_exact_mse_closed_forms():
    l1 = polytope_network(3, [np.eye(3)], [1.0])
    assert sphere_mse_exact(l1) == pytest.approx(L1_MSE, rel=1e-14)
    assert sphere_mse_exact(polytope_network(3, [np.eye(3)], [2.0])) == pytest.approx(0.0, abs=1e-15)
    # x^2 + y^2 on S^2: E f = 2/3, E f^2 = 8/15
    assert sphere_mse_exact(polytope_network(3, [np.eye(3)[:2]], [2.0])) == pytest.approx(
        8 / 15 - 4 / 3 + 1, rel=1e-14)
    assert best_scaled_mse(np.eye(3)) == pytest.approx(OCTAHEDRON_MSE, rel=1e-14)
    # the square |x| + |y| on the circle: E f = 4/pi, E f^2 = 1 + 2/pi
    sq = polytope_network(2, [np.eye(2)], [1.0])
    assert sphere_mse_exact(sq) == pytest.approx(1 + 2 / math.pi - 8 / math.pi + 1, rel=1e-14)
    with pytest.raises(NeuralPolyError):
        sphere_mse_exact(polytope_network(3, [np.eye(3)], [1.5]))
    with pytest.raises(NeuralPolyError):
        sphere_mse_exact(polytope_network(3, [np.eye(3), np.ones((1, 3))], [1.0, 1.0]))


def test_dense_and_quasi_mse_match_the_closed_form():
    net = polytope_network(3, [np.eye(3)], [1.0])
    dense = dense_sphere_mse(net, n=200_000)
    assert dense == pytest.approx(L1_MSE, rel=1e-2)
    assert dense == dense_sphere_mse(net, n=200_000)
    X = sphere_points(3, 20000, "quasi", seed=0)
    assert np.mean((net.evaluate(X) - 1) ** 2) == pytest.approx(L1_MSE, rel=1e-4)
    with pytest.raises(NeuralPolyError):
        dense_sphere_mse(net, n=0)


# ---------------------------------------------------------------------------------------
# the batched trainer
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("widths,ps", [((4,), [[1.0], [0.6], [3.0]]),
                                       ((4, 2), [[1.0, 1.0], [0.7, 1.3], [2.0, 1.0]]),
                                       ((3, 2, 2), [[1.0, 1.0, 1.0], [1.5, 1.0, 0.8], [0.5, 2.0, 1.0]])])
def test_analytic_derivatives_match_autograd(widths, ps):
    X = torch.as_tensor(sphere_points(3, 150, "quasi", 0))
    batch = PolytopeBatch(3, widths, ps, torch.float64, torch.device("cpu"))
    params = torch.as_tensor(np.random.default_rng(1).standard_normal((len(ps), batch.P)) * 0.5)
    batch = batch.with_bands([0.3 * s for s in batch.band_scales(params, X)])
    sse, g, H, _ = batch.normal_equations(params, X, newton=True)
    _, g2 = batch.gradient(params, X)
    for i in range(len(ps)):
        one = batch.subset(torch.tensor([i]))
        half_sse = lambda th: 0.5 * one.sse(th.unsqueeze(0), X)[0]  # noqa: E731
        assert sse[i] == pytest.approx(float(2 * half_sse(params[i])), rel=1e-13)
        ga = torch.autograd.functional.jacobian(half_sse, params[i])
        Ha = torch.autograd.functional.hessian(half_sse, params[i])
        assert torch.allclose(g[i], ga, rtol=1e-10, atol=1e-12)
        assert torch.allclose(g2[i], ga, rtol=1e-10, atol=1e-12)
        assert torch.allclose(H[i], Ha, rtol=1e-9, atol=1e-11)


def test_octahedron():
    r = train_polytope(3, "(3;1)")
    W = r.network.layers[0].weight
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    assert np.abs(U @ U.T - np.eye(3)).max() < 2e-3            # three orthogonal axes
    assert sphere_mse_exact(r.network) == pytest.approx(OCTAHEDRON_MSE, rel=2e-5)
    assert r.loss == pytest.approx(OCTAHEDRON_MSE, rel=3e-3)    # on 4000 training points
    assert r.converged and r.dim == 3 and str(r.arch) == "(3;1)" and len(r.restart_losses) == 8


def test_cuboctahedron_for_every_seed():
    exact = []
    for seed in range(5):
        r = train_polytope(3, "(4;1)", seed=seed)
        W = r.network.layers[0].weight
        U = W / np.linalg.norm(W, axis=1, keepdims=True)
        C = np.abs(U @ U.T)[~np.eye(4, dtype=bool)]
        assert np.allclose(C, 1 / 3, atol=3e-3), seed             # the four cube diagonals
        assert r.loss == pytest.approx(5.62e-3, rel=3e-3), seed     # MSE on the 4000 training points
        exact.append(sphere_mse_exact(r.network))
    # the true sphere MSE: the optimum up to the polishing band's bias, equal for all seeds
    assert np.allclose(exact, cuboctahedron_mse(), rtol=5e-5)
    assert (max(exact) - min(exact)) / min(exact) < 5e-6


def test_regular_polygons():
    results = train_sweep([(2, f"({n};1)") for n in range(2, 8)], restarts=4)
    for n, r in zip(range(2, 8), results):
        W = r.network.layers[0].weight
        ang = np.sort(np.mod(np.arctan2(W[:, 1], W[:, 0]), math.pi))
        gaps = np.diff(np.concatenate([ang, [ang[0] + math.pi]]))
        assert np.allclose(gaps, math.pi / n, atol=1e-3), n       # equally spaced lines: a regular 2n-gon
        assert sphere_mse_exact(r.network) == pytest.approx(regular_polygon_mse(n), rel=3e-5)


def test_p2_learns_the_sphere_exactly():
    r = train_polytope(3, "(3;2)", restarts=2)
    assert r.loss < 1e-20
    assert sphere_mse_exact(r.network) < 1e-15
    W = r.network.layers[0].weight
    assert np.allclose(W.T @ W, np.eye(3), atol=1e-10)


@pytest.mark.parametrize("arch", ["(3;0.6)", "(4;0.5)"])
def test_p_below_one_stays_finite(arch):
    r = train_polytope(3, arch, restarts=3, n_points=1500)
    assert np.isfinite(r.loss) and all(np.isfinite(r.restart_losses))
    assert np.all(np.isfinite(r.network.layers[0].weight))
    assert r.loss < 0.02
    assert dense_sphere_mse(r.network, n=50_000) < 0.03


def test_two_layer_network_trains():
    r = train_polytope(3, "(4,2;1)", restarts=8, n_points=2000)
    assert r.network.widths == (4, 2)
    assert np.allclose(np.linalg.norm(r.network.layers[0].weight, axis=1), 1.0)   # hidden rows normalised
    assert r.loss < 0.0014          # the best (4,2;1) network; (4;1) alone reaches only 5.6e-3


def test_sweep_keeps_order_dedupes_and_matches_single_training():
    specs = [(3, "(3;1)"), (2, "(3;1.5)"), (3, "(3;1)"), (2, "(2;1)")]
    res = train_sweep(specs, restarts=2, n_points=800)
    assert [(r.dim, str(r.arch)) for r in res] == [(3, "(3;1)"), (2, "(3;1.5)"), (3, "(3;1)"), (2, "(2;1)")]
    assert np.array_equal(res[0].network.layers[0].weight, res[2].network.layers[0].weight)
    assert res[0].network is not res[2].network
    single = train_polytope(2, "(3;1.5)", restarts=2, n_points=800)
    assert single.loss == pytest.approx(res[1].loss, rel=1e-6)


def test_reproducible_by_seed_and_same_loss_for_other_seeds():
    a = train_polytope(2, "(3;1)", seed=7, restarts=2)
    b = train_polytope(2, "(3;1)", seed=7, restarts=2)
    c = train_polytope(2, "(3;1)", seed=8, restarts=2)
    assert np.array_equal(a.network.layers[0].weight, b.network.layers[0].weight)
    assert a.restart_losses == b.restart_losses
    assert not np.allclose(a.network.layers[0].weight, c.network.layers[0].weight)
    assert a.loss == pytest.approx(c.loss, rel=1e-6)


def test_float32_and_adam():
    r32 = train_polytope(3, "(3;1)", dtype="float32", restarts=2, n_points=1000)
    assert r32.network.layers[0].weight.dtype == np.float64 and r32.dtype == "float32"
    assert sphere_mse_exact(r32.network) == pytest.approx(OCTAHEDRON_MSE, rel=1e-3)
    ra = train_polytope(2, "(2;1)", optimizer="adam", restarts=2, max_steps=1500, lr=0.02)
    assert ra.optimizer == "adam"
    assert sphere_mse_exact(ra.network) == pytest.approx(regular_polygon_mse(2), rel=1e-3)


def test_divergence_raises():
    with pytest.raises(TrainingDivergedError, match=r"\(3;3\) in 3D .* diverged at step"):
        train_polytope(3, "(3;3)", optimizer="adam", lr=1e300, restarts=1, n_points=200, max_steps=50)


def test_divergence_of_the_lm_path_raises(monkeypatch):
    real = PolytopeBatch.normal_equations

    def poisoned(self, params, X, newton):
        sse, g, H, d = real(self, params, X, newton)
        return sse * float("nan"), g, H, d

    monkeypatch.setattr(PolytopeBatch, "normal_equations", poisoned)
    with pytest.raises(TrainingDivergedError, match=r"\(4;1\) in 3D \(start 0\) diverged at step 0"):
        train_polytope(3, "(4;1)", restarts=1, n_points=200)


def test_cancel_and_progress():
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(Cancelled):
        train_polytope(3, "(5;1)", cancel=cancel, n_points=800)
    assert len(calls) == 6

    seen = []
    train_sweep([(2, "(3;1)"), (3, "(3;1)")], restarts=2, n_points=800,
                progress=lambda f, m: seen.append((f, m)))
    fracs = [f for f, _ in seen]
    assert len(seen) >= 2 and all(0.0 <= f <= 1.0 for f in fracs)
    assert fracs == sorted(fracs) and fracs[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)


def test_meta_round_trips_through_a_model_file(tmp_path):
    r = train_polytope(2, "(2;1.5)", restarts=1, n_points=256)
    meta = r.meta()
    json.dumps(meta)
    assert meta["type"] == "(2;1.5)" and meta["dim"] == 2 and meta["restarts"] == 1
    assert {"loss", "seed", "steps", "optimizer", "device", "dtype"} <= set(meta)
    path = modelfile.save_model(r.network, tmp_path / "m.json", meta)
    net, meta2 = modelfile.load_model_with_meta(path)
    assert meta2 == meta
    X = sphere_points(2, 100, "random", 0)
    assert np.array_equal(net.evaluate(X), r.network.evaluate(X))


@pytest.mark.parametrize("kwargs", [
    dict(restarts=0), dict(n_points=3), dict(sampling="grid"), dict(optimizer="sgd"),
    dict(dtype="float16"), dict(device="tpu"), dict(tol=0.0), dict(tol=2.0), dict(lr=0.1),
    dict(max_steps=0), dict(seed=-1), dict(progress=3), dict(cancel="no")])
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(NeuralPolyError):
        train_polytope(2, "(2;1)", **kwargs)


@pytest.mark.parametrize("spec", [(1, "(2;1)"), (3, "(2;"), (3, "(0;1)"), (3, "(2;-1)"), "(3;1)", (3,)])
def test_bad_specs_are_rejected(spec):
    with pytest.raises(NeuralPolyError):
        train_sweep([spec], restarts=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable_is_a_clear_error():
    with pytest.raises(NeuralPolyError, match="CUDA is not available"):
        train_polytope(2, "(2;1)", device="cuda")


def test_recipe_baseline_runs_the_papers_loop():
    seen = []
    r = recipe_train(3, "(3;1)", n_points=400, batch=100, epochs=3, progress=lambda f, m: seen.append(f))
    assert r.steps == 12 and r.dtype == "float32" and r.optimizer == "recipe-adam"
    assert np.isfinite(r.loss) and r.network.layers[0].weight.dtype == np.float64
    X = sphere_points(3, 400, "random", 0)
    assert r.loss == pytest.approx(float(np.mean((r.network.evaluate(X) - 1) ** 2)), rel=1e-4)
    assert seen[-1] == 1.0


def test_without_torch_training_is_a_clear_error():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import neuralpoly_core, neuralpoly_core.training as t\n"
            "assert not t.torch_available()\n"
            "try:\n    t.train_polytope(2, '(2;1)')\n"
            "except neuralpoly_core.NeuralPolyError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install torch==2.13.0" in out.stdout


def test_normal_equations_in_point_chunks_are_exact(monkeypatch):
    X = torch.as_tensor(sphere_points(3, 3000, "quasi", 0))
    for widths in [(5,), (4, 3)]:
        b = PolytopeBatch(3, widths, [[1.0] * len(widths)] * 4, torch.float64, torch.device("cpu"))
        params = torch.as_tensor(np.random.default_rng(2).standard_normal((4, b.P)))
        b = b.with_bands([0.1 * s for s in b.band_scales(params, X)])
        whole = b.normal_equations(params, X, True)
        monkeypatch.setattr(batch_module, "CHUNK_ELEMENTS", 1000)
        chunked = b.normal_equations(params, X, True)
        monkeypatch.undo()
        for u, v in zip(whole, chunked):
            assert torch.allclose(u, v, rtol=1e-12, atol=1e-12 * float(u.abs().max()))
