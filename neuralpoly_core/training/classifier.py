"""Classifiers with torch: ReLU or maxout networks trained on labelled samples, returned as a Network.

The trained network keeps every hidden layer with its bias and a linear head of one row per
class (the logits), so its linear regions, activation patterns and space folding are measured
on exactly what was trained. Training is full-precision-reproducible by seed: one torch
thread, a seeded generator for initialisation and batches, float32 arithmetic, weights
returned as float64.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_callable, check_choice, check_float, check_int
from ..budget import check_memory
from ..errors import NeuralPolyError
from ..network.activations import Activation
from ..network.model import Layer, Network, Output
from ..reporting import Reporter
from .datasets import Dataset
from .torch_access import require_torch, torch_threads

__all__ = ["ClassifierResult", "train_classifier", "accuracy", "HIDDEN_ACTIVATIONS"]

#: Hidden activations :func:`train_classifier` trains.
HIDDEN_ACTIVATIONS = ("relu", "maxout")


@dataclass
class ClassifierResult:
    """A trained classifier and how well it does.

    Attributes
    ----------
    network : Network
        ReLU (or rank-k maxout) hidden layers with biases and a linear head with one row per class.
    train_accuracy, val_accuracy : float
        Fraction of samples whose largest logit is their label.
    train_error : float
        ``1 - train_accuracy``.
    loss : float
        Cross-entropy of the last epoch (mean over training samples).
    seconds : float
    meta : dict
        What produced the model (widths, epochs, seed, ...), for the model file.
    """

    network: Network
    train_accuracy: float
    val_accuracy: float
    loss: float
    seconds: float
    meta: dict = field(default_factory=dict)

    @property
    def train_error(self) -> float:
        return 1.0 - self.train_accuracy


def accuracy(net: Network, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples ``x`` whose largest output of ``net`` is the label ``y``."""
    if len(y) == 0:
        return float("nan")
    return float(np.mean(np.argmax(net(x), axis=-1) == y))


def _check_widths(widths) -> tuple[int, ...]:
    try:
        out = tuple(widths)
    except TypeError:
        raise NeuralPolyError(f"widths must be a list of layer widths, got {widths!r}") from None
    if not out:
        raise NeuralPolyError("a classifier needs at least one hidden layer")
    return tuple(check_int(w, f"width of layer {i}", 1, 100_000) for i, w in enumerate(out))


def _network_of(linears, act: Activation) -> Network:
    layers = [Layer(m.weight.detach().double().numpy(), m.bias.detach().double().numpy(), act)
              for m in linears[:-1]]
    head = linears[-1]
    return Network(layers[0].weight.shape[1], layers,
                   Output("linear", head.weight.detach().double().numpy(), head.bias.detach().double().numpy()))


def _maxout_module(torch, k: int):
    """Unit u of the layer is the largest of the rows ``u*k .. u*k + k - 1`` (the model format's order)."""
    class Maxout(torch.nn.Module):
        def forward(self, z):
            return z.unflatten(-1, (z.shape[-1] // k, k)).amax(dim=-1)
    return Maxout()


def _check_classifier_memory(data: Dataset, widths, group: int, batch_size: int) -> None:
    """Refuse before training what would not fit: weights with gradients and Adam's two moments,
    the float32 training set, and the activations of one batch (float32 throughout)."""
    dims = (data.dim,) + tuple(widths)
    rows = tuple(w * group for w in widths) + (data.n_classes,)
    weights = sum((a + 1) * b for a, b in zip(dims, rows))
    n = len(data.y_train)
    need = 4 * (4 * weights + n * (data.dim + 2) + 4 * min(batch_size, n) * sum(rows))
    check_memory(need, f"training a classifier with widths {tuple(widths)} ({weights:,} weights)",
                 "lower the widths or the batch size")


def train_classifier(data: Dataset, widths, *, epochs: int = 200, batch_size: int = 64, lr: float = 3e-3,
                     weight_decay: float = 0.0, seed: int = 0, activation: str = "relu", k: int = 2,
                     progress=None, cancel=None) -> ClassifierResult:
    """Train a ReLU (or maxout) classifier (hidden layers ``widths``) with Adam on cross-entropy.

    Parameters
    ----------
    data : Dataset
        Samples and labels (e.g. :func:`~neuralpoly_core.training.datasets.load_digits_split`).
    widths : sequence of int
        Hidden layer widths, e.g. ``(12, 10)``.
    epochs, batch_size : int
        Passes over the training samples and samples per step (reshuffled every epoch).
    lr, weight_decay : float
        Adam's step size and L2 weight decay.
    seed : int
        Seeds the initialisation and the batches: the same call gives the same weights.
    activation : {'relu', 'maxout'}
        Hidden activation. ``maxout`` layers have ``k`` weight rows per unit (``widths`` counts
        units), in the model format's order (unit u: rows ``u*k .. u*k + k - 1``).
    k : int
        Rank of ``maxout`` (pieces per unit, >= 2); ignored for ``relu``.
    progress, cancel : callable, optional
        ``progress(fraction, message)`` and ``cancel()`` (see :mod:`neuralpoly_core.reporting`).

    Raises
    ------
    NeuralPolyError
        Bad arguments, or PyTorch missing.
    Cancelled
        If ``cancel()`` returned True.
    """
    widths = _check_widths(widths)
    epochs = check_int(epochs, "epochs", 1, 1_000_000)
    batch_size = check_int(batch_size, "batch_size", 1)
    lr = check_float(lr, "lr", 0.0, lo_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", 0.0)
    seed = check_int(seed, "seed", 0)
    check_choice(activation, HIDDEN_ACTIVATIONS, "hidden activation")
    act = Activation("relu") if activation == "relu" else Activation("maxout", k=check_int(k, "maxout rank k", 2, 1024))
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    _check_classifier_memory(data, widths, act.group, batch_size)
    torch = require_torch()
    report = Reporter(progress, cancel, what="training", interval=0.05)
    t0 = time.perf_counter()
    with torch_threads(1):
        gen = torch.Generator().manual_seed(seed)
        dims = (data.dim,) + widths + (data.n_classes,)
        rows = tuple(w * act.group for w in widths) + (data.n_classes,)
        linears = [torch.nn.Linear(a, b) for a, b in zip(dims[:-1], rows)]
        with torch.no_grad():
            for m in linears:                       # He initialisation from the seeded generator
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / m.in_features) ** 0.5)
                m.bias.zero_()
        mods = []
        for m in linears[:-1]:
            mods += [m, torch.nn.ReLU() if act.group == 1 else _maxout_module(torch, act.group)]
        model = torch.nn.Sequential(*mods, linears[-1])
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        x = torch.as_tensor(data.x_train, dtype=torch.float32)
        y = torch.as_tensor(data.y_train, dtype=torch.int64)
        loss_value = float("nan")
        for epoch in range(epochs):
            order = torch.randperm(len(y), generator=gen)
            total = 0.0
            for start in range(0, len(y), batch_size):
                idx = order[start:start + batch_size]
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            loss_value = total / len(y)
            if not np.isfinite(loss_value):
                raise NeuralPolyError(f"training diverged at epoch {epoch} (loss {loss_value}); lower lr")
            report((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}, loss {loss_value:.4f}")
    net = _network_of(linears, act)
    meta = {"type": "classifier", "dataset": data.name, "widths": list(widths), "activation": act.to_dict(),
            "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "seed": seed, "loss": loss_value}
    result = ClassifierResult(net, accuracy(net, data.x_train, data.y_train), accuracy(net, data.x_val, data.y_val),
                              loss_value, time.perf_counter() - t0, meta)
    meta.update(train_accuracy=result.train_accuracy, val_accuracy=result.val_accuracy)
    return result
