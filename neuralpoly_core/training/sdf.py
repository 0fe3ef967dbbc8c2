"""Fitting a ReLU network to a signed-distance function (SDF), so that its level set 0 is the surface.

:func:`fit_sdf` trains a ReLU MLP (``depth`` hidden layers of ``width`` units and a linear
head) by L1 regression on points drawn afresh every step: uniform points of a box and points
near the surface. The result is a :class:`~neuralpoly_core.network.Network` whose exact level
set ``f = 0`` :func:`~neuralpoly_core.levelset.extract_level_set` extracts.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from .._checks import check_callable, check_float, check_int
from ..errors import NeuralPolyError, TrainingDivergedError
from ..network import Activation, Layer, Network, Output
from ..network.architecture import check_dim
from ..reporting import Reporter
from .torch_access import require_torch, resolve_device, torch_threads

__all__ = ["fit_sdf", "relu_mlp", "torch_to_network"]


def fit_sdf(sdf: Callable[[np.ndarray], np.ndarray], *, steps: int = 12000, depth: int = 8, width: int = 32,
            seed: int = 0, rng=None, band: float = 0.08, n_uniform: int = 1024, n_near: int = 1024,
            n_candidates: int = 8192, max_lr: float = 2e-3, clamp: float | None = None,
            bbox=(-1.0, 1.0), dim: int = 3, threads: int | None = 1, device: str = "cpu",
            progress: Callable[[float, str], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> tuple[Network, dict]:
    """Train a ReLU network to fit the signed-distance function ``sdf``.

    Every step draws ``n_uniform`` uniform points of the box ``[lo, hi]^dim`` and
    ``n_candidates`` uniform candidates, of which the first ``n_near`` with
    ``|sdf| < band`` join the batch (points near the surface, where the fit matters), and
    takes one Adam step on the L1 loss ``mean |f - sdf|`` of the batch. The learning rate
    follows a one-cycle schedule (peak ``max_lr``) over the ``steps``. float32; the
    initial weights are PyTorch's defaults for ``torch.nn.Linear`` drawn after seeding
    torch's generator with ``seed`` (torch's global random state is left as it was).

    Parameters
    ----------
    sdf : callable
        ``sdf(points)`` for points of shape (n, dim): the signed distances, shape (n,),
        negative inside.
    steps : int
        Number of Adam steps (the budget of the schedule).
    depth, width : int
        Number of hidden ReLU layers and their width.
    seed : int
        Seeds the initial weights (and the points, unless ``rng`` is given).
    rng : numpy.random.Generator or int, optional
        Source of the training points (default ``numpy.random.default_rng(seed)``); a
        generator is used from its current state and advanced.
    band : float
        Points with ``|sdf| < band`` count as near the surface.
    n_uniform, n_near, n_candidates : int
        Uniform points per step, most near points per step, and candidates they are
        picked from.
    max_lr : float
        Peak learning rate of the one-cycle schedule.
    clamp : float, optional
        With a value, DeepSDF's clamped L1 loss ``|clamp(f) - clamp(sdf)|``, both clamped
        to ``[-clamp, clamp]``: only the surface's neighbourhood is fitted.
    bbox : (float, float)
        The box ``[lo, hi]^dim`` the points are drawn from.
    dim : int
        Input dimension (3 for surfaces, 2 for curves).
    threads : int or None
        CPU threads torch may use (default 1: the same weights on every machine); the
        previous setting is restored afterwards. None leaves torch's setting alone.
    device : {'cpu', 'cuda', 'auto'}
        Where to train (weights are the same bit for bit only on the same device).
    progress : callable, optional
        ``progress(fraction, message)``, at most every 50 ms.
    cancel : callable, optional
        Polled every step; returning True raises :class:`~neuralpoly_core.errors.Cancelled`.

    Returns
    -------
    (Network, dict)
        The network (``dim`` inputs, ReLU layers, linear head, float64 weights) and facts:
        ``loss`` (the last step's loss), ``first_loss`` (the first step's), ``steps`` and
        ``train_seconds``.

    Raises
    ------
    NeuralPolyError
        Bad arguments, torch missing, ``sdf`` returning values of the wrong shape or not
        finite.
    TrainingDivergedError
        The loss became non-finite.
    Cancelled
        ``cancel()`` returned True.

    Examples
    --------
    >>> net, facts = fit_sdf(lambda p: np.linalg.norm(p, axis=1) - 0.5, steps=300,
    ...                      depth=2, width=16)                     # doctest: +SKIP
    """
    torch = require_torch()
    if not callable(sdf):
        raise NeuralPolyError(f"sdf must be a function of an (n, dim) array of points, got {sdf!r}")
    steps = check_int(steps, "steps", 1)
    depth, width = check_int(depth, "depth", 1), check_int(width, "width", 1)
    seed = check_int(seed, "seed", 0)
    rng = _points_rng(rng, seed)
    band = check_float(band, "band", 0.0, lo_open=True)
    n_uniform = check_int(n_uniform, "n_uniform", 1)
    n_near, n_candidates = check_int(n_near, "n_near", 0), check_int(n_candidates, "n_candidates", 0)
    max_lr = check_float(max_lr, "max_lr", 0.0, lo_open=True)
    clamp = None if clamp is None else check_float(clamp, "clamp", 0.0, lo_open=True)
    lo, hi = _check_bbox(bbox)
    dim = check_dim(dim)
    report = Reporter(check_callable(progress, "progress"), check_callable(cancel, "cancel"),
                      what="SDF fitting", interval=0.05)
    dev = resolve_device(device)
    with torch_threads(threads):
        model = relu_mlp(torch, dim, depth, width, seed).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps)
        t0 = time.perf_counter()
        report(0.0, "fitting SDF", force=True)
        first = last = None
        for step in range(steps):
            u = rng.uniform(lo, hi, (n_uniform, dim))
            v = rng.uniform(lo, hi, (n_candidates, dim))
            v = v[np.abs(_sdf_values(sdf, v)) < band][:n_near]
            x = np.concatenate([u, v])
            y = _sdf_values(sdf, x)
            xt = torch.from_numpy(x.astype(np.float32)).to(dev)
            yt = torch.from_numpy(y.astype(np.float32))[:, None].to(dev)
            pred = model(xt)
            if clamp is not None:
                pred, yt = pred.clamp(-clamp, clamp), yt.clamp(-clamp, clamp)
            loss = torch.nn.functional.l1_loss(pred, yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            last = loss.item()
            if not math.isfinite(last):
                raise TrainingDivergedError(f"SDF fitting diverged at step {step + 1}: loss {last}")
            first = last if first is None else first
            report((step + 1) / steps, f"fitting SDF: step {step + 1}/{steps}, loss {last:.3e}")
        seconds = time.perf_counter() - t0
    return torch_to_network(torch, model, dim), {"loss": last, "first_loss": first, "steps": steps, "train_seconds": seconds}


def _points_rng(rng, seed: int) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(seed)
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(check_int(rng, "rng (a numpy Generator or a seed)", 0))


def _check_bbox(bbox) -> tuple[float, float]:
    try:
        lo, hi = bbox
    except (TypeError, ValueError):
        raise NeuralPolyError(f"bbox must be a pair (lo, hi), got {bbox!r}") from None
    lo, hi = check_float(lo, "bbox lo"), check_float(hi, "bbox hi")
    if not lo < hi:
        raise NeuralPolyError(f"bbox must have lo < hi, got ({lo:g}, {hi:g})")
    return lo, hi


def _sdf_values(sdf, points: np.ndarray) -> np.ndarray:
    """``sdf(points)`` as a float64 array of shape (n,), checked."""
    values = np.asarray(sdf(points), dtype=np.float64)
    if values.shape != (len(points),):
        raise NeuralPolyError(f"sdf must return one value per point, shape ({len(points)},), "
                              f"for points of shape {points.shape}; got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise NeuralPolyError("sdf returned values that are not finite")
    return values


def relu_mlp(torch, dim: int, depth: int, width: int, seed: int):
    """``torch.nn.Sequential`` of ``depth`` (Linear, ReLU) pairs and a Linear head, on the CPU.

    Initialised as PyTorch initialises ``Linear`` layers, after seeding torch's CPU
    generator with ``seed``; the generator's state is restored afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)     # what torch.manual_seed does on the CPU
        dims = [dim] + [width] * depth
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        mods.append(torch.nn.Linear(width, 1))
        return torch.nn.Sequential(*mods)


def torch_to_network(torch, model, dim: int) -> Network:
    """The trained ``Sequential`` as a float64 :class:`Network` (ReLU layers, linear head)."""
    lin = [m for m in model if isinstance(m, torch.nn.Linear)]

    def arrays(m):
        return m.weight.detach().cpu().double().numpy(), m.bias.detach().cpu().double().numpy()

    layers = [Layer(*arrays(m), Activation("relu")) for m in lin[:-1]]
    return Network(dim, layers, Output("linear", *arrays(lin[-1])))
