"""The paper's training recipe (the baseline of the batched trainer) and judges of a trained loss.

* :func:`recipe_train`: Adam on minibatches of random sphere points, float32, as the paper
  trains (``bench/bench_training.py`` compares :func:`~.polytope.train_sweep` with it);
* :func:`dense_sphere_mse`: the loss on a million independent random points (numpy);
* :func:`sphere_mse_exact`: the exact loss over the sphere, in closed form, for one ``|x|``
  or ``x^2`` layer.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from .._checks import check_callable, check_float, check_int
from ..errors import NeuralPolyError, TrainingDivergedError
from ..network.architecture import ArchType, check_dim
from ..network.model import Network, polytope_network
from ..reporting import Reporter
from .polytope import TrainResult
from .sampling import sphere_points
from .torch_access import require_torch

__all__ = ["recipe_train", "dense_sphere_mse", "sphere_mse_exact"]


def recipe_train(dim: int, arch, *, seed: int = 0, n_points: int = 10000, batch: int = 1000,
                 epochs: int = 10000, lr: float = 1e-3,
                 progress: Callable[[float, str], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> TrainResult:
    """The paper's recipe in plain PyTorch: Adam on shuffled minibatches, float32, CPU.

    ``n_points`` uniform random points of the sphere, target 1, minibatches of ``batch``
    points, ``epochs`` passes (the paper: about 10,000 points, batch 1000, 10,000 epochs,
    i.e. 100,000 Adam steps), ``torch.nn.Linear`` layers without bias initialised as
    PyTorch does (uniform in +-1/sqrt(fan_in)) from a generator seeded by ``seed``. No
    speed-ups: this is the baseline that :func:`~.polytope.train_sweep` is measured
    against.

    Returns
    -------
    TrainResult
        ``loss`` is the final MSE on all training points; ``steps`` the number of Adam steps.
    """
    torch = require_torch()
    t0 = time.perf_counter()
    dim = check_dim(dim)
    arch = ArchType.parse(arch)
    seed = check_int(seed, "seed", 0)
    n_points = check_int(n_points, "n_points", 1)
    batch = check_int(batch, "batch", 1)
    epochs = check_int(epochs, "epochs", 1)
    lr = check_float(lr, "lr", 0.0, lo_open=True)
    report = Reporter(check_callable(progress, "progress"), check_callable(cancel, "cancel"), what="training")
    gen = torch.Generator().manual_seed(seed)
    layers = []
    n_in = dim
    for n in arch.widths:
        lin = torch.nn.Linear(n_in, n, bias=False)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(n_in)
            lin.weight.copy_(torch.rand(n, n_in, generator=gen) * (2 * bound) - bound)
        layers.append(lin)
        n_in = n
    model = torch.nn.ModuleList(layers)
    ps = list(arch.ps)

    def forward(x):
        h = x
        for lin, p in zip(model, ps):
            h = lin(h).abs()
            if p != 1.0:
                h = h.pow(p)
        return h.sum(-1)

    X = torch.as_tensor(sphere_points(dim, n_points, "random", seed), dtype=torch.float32)
    y = torch.ones(n_points)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = 0
    for epoch in range(epochs):
        report.check()
        perm = torch.randperm(n_points, generator=gen)
        for i in range(0, n_points, batch):
            idx = perm[i:i + batch]
            loss = torch.mean((forward(X[idx]) - y[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        if epoch % 100 == 0 or epoch == epochs - 1:
            last = loss.item()
            if not math.isfinite(last):
                raise TrainingDivergedError(f"recipe training of {arch} in {dim}D diverged at step {steps}")
            report((epoch + 1) / epochs, f"recipe {arch} in {dim}D: epoch {epoch + 1}/{epochs}, "
                                         f"batch loss {last:.3e}")
    with torch.no_grad():
        final = float(torch.mean((forward(X) - 1.0) ** 2))
    if not math.isfinite(final):
        raise TrainingDivergedError(f"recipe training of {arch} in {dim}D diverged: final loss {final}")
    net = polytope_network(dim, [lin.weight.detach().double().numpy() for lin in model], ps)
    return TrainResult(network=net, arch=arch, dim=dim, loss=final, restart_losses=[final], steps=steps,
                       seconds=time.perf_counter() - t0, device="cpu", converged=True, seed=seed,
                       optimizer="recipe-adam", dtype="float32", sampling="random", n_points=n_points)


def dense_sphere_mse(network: Network, n: int = 1_000_000, seed: int = 12345, chunk: int = 200_000) -> float:
    """MSE of ``f - 1`` on ``n`` independent uniform random points of the sphere (numpy).

    The judge of a trained network's loss, independent of its training points. Evaluated
    in chunks of ``chunk`` points; the same ``(n, seed, chunk)`` always uses the same
    points. Its Monte-Carlo error is about ``std((f-1)^2) / sqrt(n)``.
    """
    n = check_int(n, "n", 1)
    seed = check_int(seed, "seed", 0)
    chunk = check_int(chunk, "chunk", 1)
    ss = np.random.SeedSequence(seed)
    total, done = 0.0, 0
    for child in ss.spawn((n + chunk - 1) // chunk):
        m = min(chunk, n - done)
        X = sphere_points(network.dim, m, "random", int(child.generate_state(1)[0]))
        r = network.evaluate(X) - 1.0
        total += float(np.dot(r, r))
        done += m
    return total / n


def sphere_mse_exact(network: Network) -> float:
    """The exact mean of ``(f - 1)^2`` over the uniform sphere, for one ``|x|`` or ``x^2`` layer.

    For ``f(x) = sum_j |w_j . x|`` (type ``(n;1)``), with ``x`` uniform on S^(d-1)::

        E|w.x| = |w| c_d,        c_d = Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2))
        E|u.x||v.x| = |u||v| (2/pi) (sin t + (pi/2 - t) cos t) / d,  t = angle of the lines

    and for ``f(x) = x^T A x`` (type ``(n;2)``, ``A = W^T W``): ``E f = tr A / d``,
    ``E f^2 = (tr(A)^2 + 2 tr(A^2)) / (d (d + 2))``.

    Raises
    ------
    NeuralPolyError
        For any other network.
    """
    layers = network.layers
    if (len(layers) != 1 or network.output.name != "sum" or layers[0].bias is not None
            or layers[0].activation.name != "abs_pow" or layers[0].activation.p not in (1.0, 2.0)):
        raise NeuralPolyError(
            "the exact sphere MSE is known for one bias-free |x| or x^2 layer with a sum output "
            f"(types (n;1) and (n;2)); got {network!r}")
    W = layers[0].weight
    d = network.dim
    if layers[0].activation.p == 2.0:
        A = W.T @ W
        ef = np.trace(A) / d
        ef2 = (np.trace(A) ** 2 + 2.0 * np.sum(A * A)) / (d * (d + 2))
        return float(ef2 - 2.0 * ef + 1.0)
    norms = np.linalg.norm(W, axis=1)
    keep = norms > 0
    W, norms = W[keep], norms[keep]
    c_d = math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)
    U = W / norms[:, None]
    t = np.arccos(np.clip(np.abs(U @ U.T), 0.0, 1.0))
    G = (2.0 / math.pi) * (np.sin(t) + (math.pi / 2 - t) * np.cos(t)) / d
    ef = c_d * norms.sum()
    ef2 = norms @ G @ norms
    return float(ef2 - 2.0 * ef + 1.0)
