"""Activation patterns: which layers give bits, the tie rule, and the pattern of points.

A neuron's **bit** is ``z > threshold`` for its pre-activation ``z`` (ReLU: on/off; ``|x|``: the
sign; a sigmoid: the side of the threshold, as the space-folding slides threshold any
activation). A rank-k ``maxout`` unit gives k bits, the one-hot of its (first) largest piece,
as :meth:`Network.activation_pattern` (the threshold does not apply; the exact method refuses
maxout, the sampled method takes it). Only layers whose activation is not affine give bits:
``identity`` layers cut nothing and contribute no bits (:func:`bit_layers` refuses to select one).

Values at the threshold follow the tie rule, stated once in :mod:`.crossings` (a value within
``TOLERANCE`` times the neuron's rounding scale of the threshold equals it, and gives the bit 0).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float, check_int
from ..errors import NeuralPolyError
from ..network.model import Network

__all__ = ["TOLERANCE", "gives_bits", "bit_layers", "check_threshold", "pattern_width", "layer_terms",
           "patterns_at", "pattern_slices", "unit_terms"]

#: Relative tolerance of the tie rule (stated in :mod:`.crossings`).
TOLERANCE = 1e-12


def gives_bits(activation) -> bool:
    """True when a layer with this activation has an activation pattern (it is not affine)."""
    return activation.kinked or not activation.piecewise_linear or activation.group > 1


def bit_layers(net: Network, layers=None) -> tuple[int, ...]:
    """The hidden layers (0-based) whose neurons make the pattern, checked.

    ``None`` selects every layer that gives bits (all but ``identity`` layers). A selection
    must name each layer once; an ``identity`` layer is refused (it contributes no bits).
    """
    allowed = [i for i, layer in enumerate(net.layers) if gives_bits(layer.activation)]
    if layers is None:
        if not allowed:
            raise NeuralPolyError("this network has no layer that gives activation bits "
                                  "(identity layers contribute no bits)")
        return tuple(allowed)
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise NeuralPolyError(f"layers must be a list of layer indices, got {layers!r}")
    chosen = [check_int(i, "layer index", 0, len(net.layers) - 1) for i in layers]
    if not chosen:
        raise NeuralPolyError("layers selects no layer; give at least one layer index")
    if len(set(chosen)) != len(chosen):
        raise NeuralPolyError(f"layers names a layer twice: {chosen}")
    for i in chosen:
        if i not in allowed:
            raise NeuralPolyError(f"layer {i} has activation {net.layers[i].activation.label}, which is affine: "
                                  "it contributes no activation bits")
    return tuple(sorted(chosen))


def check_threshold(threshold) -> float:
    return check_float(threshold, "threshold")


def pattern_width(net: Network, layers: tuple[int, ...]) -> int:
    """N, the number of bits of a pattern over ``layers`` (a maxout layer: ``k`` bits per unit)."""
    return sum(net.layers[i].rows for i in layers)


def pattern_slices(net: Network, layers: tuple[int, ...]) -> dict[int, slice]:
    """Where each selected layer's bits sit in a pattern."""
    out, start = {}, 0
    for i in layers:
        out[i] = slice(start, start + net.layers[i].rows)
        start += net.layers[i].rows
    return out


def layer_terms(layer):
    """``(W, b, |W|, |b|)`` of a layer, with a zero bias where it has none."""
    b = layer.bias if layer.bias is not None else np.zeros(layer.rows)
    return layer.weight, b, np.abs(layer.weight), np.abs(b)


def unit_terms(activation, terms: np.ndarray) -> np.ndarray:
    """Per-row term magnitudes as per-unit ones (a maxout unit: the largest of its rows)."""
    k = activation.group
    return terms if k == 1 else terms.reshape(terms.shape[:-1] + (-1, k)).max(axis=-1)


def patterns_at(net: Network, X, layers: tuple[int, ...], threshold: float = 0.0) -> np.ndarray:
    """Boolean patterns of points ``X`` (shape (n, dim)) over ``layers``: shape (n, N).

    Values at the threshold give 0 (the tie rule of :mod:`.crossings`).
    """
    h = np.asarray(X, dtype=np.float64)
    m = np.abs(h)
    out = []
    wanted = set(layers)
    for i, layer in enumerate(net.layers[:max(layers) + 1]):
        W, b, aW, ab = layer_terms(layer)
        z = h @ W.T + b
        s = m @ aW.T + ab
        act = layer.activation
        if i in wanted:
            out.append(act.pattern(z) if act.group > 1 else z - threshold > TOLERANCE * (s + abs(threshold)))
        terms = unit_terms(act, np.abs(h) @ aW.T + ab)
        h = act(z)
        m = np.maximum(np.abs(h), terms)
    return np.concatenate(out, axis=1)
