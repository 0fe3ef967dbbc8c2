"""Adversarial perturbations of a classifier's inputs: FGSM and PGD on the cross-entropy of its logits.

The gradient of the loss with respect to the input is back-propagated through the stored
network with the activation table's derivatives (``act.derivative``), in numpy: for a
piecewise-linear network it is the exact gradient of the linear region the point lies in
(what torch's autograd gives for the same weights; ``tests/test_folding_digits.py`` checks
this), and nothing here needs torch or switches on activation names.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from ..errors import NeuralPolyError
from ..network.model import Network

__all__ = ["loss_gradient", "fgsm", "pgd"]


def _check(net: Network, X, labels) -> tuple[np.ndarray, np.ndarray]:
    if net.n_outputs < 2:
        raise NeuralPolyError("adversarial examples need a classifier: a linear head with one row per class")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != net.dim:
        raise NeuralPolyError(f"inputs must have shape (n, {net.dim}), got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise NeuralPolyError("inputs contain NaN or infinite values")
    y = np.asarray(labels)
    if y.shape != (len(X),) or not np.issubdtype(y.dtype, np.integer) or np.any((y < 0) | (y >= net.n_outputs)):
        raise NeuralPolyError(f"labels must be {len(X)} whole numbers in 0..{net.n_outputs - 1}")
    return X, y


def loss_gradient(net: Network, X, labels) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy of the logits ``net(X)`` against ``labels`` and its gradient in ``X``.

    Returns ``(loss per sample (n,), gradient (n, dim))``.
    """
    X, y = _check(net, X, labels)
    zs = net.preactivations(X)
    h = net.layers[-1].activation(zs[-1])
    logits = net.output(h)
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    g = np.exp(logp)
    g[rows, y] -= 1.0                                        # d loss / d logits
    g = g @ net.output.weight
    for layer, z in zip(reversed(net.layers), reversed(zs)):
        g = (g * layer.activation.derivative(z)) @ layer.weight
    return -logp[rows, y], g


def _clip(X, clip):
    return X if clip is None else np.clip(X, clip[0], clip[1])


def fgsm(net: Network, X, labels, eps: float, *, clip=(0.0, 1.0)) -> np.ndarray:
    """One signed-gradient step of size ``eps`` that raises the loss (Goodfellow et al. 2015).

    ``clip``: the inputs' valid range ``(lo, hi)`` (digits: [0, 1]) or None.
    """
    eps = check_float(eps, "eps", 0.0)
    X = np.asarray(X, dtype=np.float64)
    return _clip(X + eps * np.sign(loss_gradient(net, X, labels)[1]), clip)


def pgd(net: Network, X, labels, eps: float, *, steps: int = 10, step_size: float | None = None,
        clip=(0.0, 1.0)) -> np.ndarray:
    """Projected gradient ascent on the loss within the L-infinity ball of radius ``eps``
    (Madry et al. 2018), from ``X`` itself (no random start: reproducible).

    ``step_size`` defaults to ``2.5 eps / steps``.
    """
    eps = check_float(eps, "eps", 0.0)
    steps = check_int(steps, "steps", 1, 100_000)
    step_size = 2.5 * eps / steps if step_size is None else check_float(step_size, "step_size", 0.0)
    X0 = np.asarray(X, dtype=np.float64)
    X = X0.copy()
    for _ in range(steps):
        X = X + step_size * np.sign(loss_gradient(net, X, labels)[1])
        X = _clip(np.clip(X, X0 - eps, X0 + eps), clip)
    return X
