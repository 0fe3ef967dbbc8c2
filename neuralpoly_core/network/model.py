"""The one network representation of neuralpoly, evaluated with numpy.

A :class:`Network` is a stack of fully connected :class:`Layer` objects, each with a
weight matrix (rows = outputs), an optional bias and an :class:`Activation`, followed by
an :class:`Output` head: the sum of the last layer, or a linear head with one output row.
This covers the bias-free neural polytopes (``abs_pow`` layers, ``sum`` output), ReLU
networks with biases, hand-built sigmoid networks and maxout networks (a rank-k ``maxout``
layer has k weight rows per unit, see :mod:`~neuralpoly_core.network.activations`).

Nothing here imports torch: Blender evaluates and extracts stored models with numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ExtractionError, ModelFormatError
from .activations import ACTIVATIONS, Activation
from .encoding import HashGridEncoding

__all__ = ["Network", "Layer", "Output", "Activation", "polytope_network", "ACTIVATIONS", "OUTPUTS"]

OUTPUTS = ("sum", "linear")


def _as_matrix(value, what: str, shape=None) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{what} must be a list of lists of numbers") from None
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ModelFormatError(f"{what} must be a non-empty 2-D matrix, got shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ModelFormatError(f"{what} has shape {a.shape}, expected {shape}")
    if not np.all(np.isfinite(a)):
        raise ModelFormatError(f"{what} contains NaN or infinite entries")
    return a


def _as_vector(value, what: str, n: int) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{what} must be a list of numbers") from None
    if a.shape != (n,):
        raise ModelFormatError(f"{what} has shape {a.shape}, expected ({n},)")
    if not np.all(np.isfinite(a)):
        raise ModelFormatError(f"{what} contains NaN or infinite entries")
    return a


@dataclass(eq=False)
class Layer:
    """A fully connected layer ``act(weight @ x + bias)``; ``weight`` has shape (rows, in).

    Elementwise activations have one row per unit; a rank-k ``maxout`` layer has k rows per
    unit (unit u's pieces are rows ``u*k .. u*k + k - 1``, and its biases likewise).
    """

    weight: np.ndarray
    bias: np.ndarray | None
    activation: Activation

    def __post_init__(self):
        self.weight = _as_matrix(self.weight, "layer weight")
        if self.bias is not None:
            self.bias = _as_vector(self.bias, "layer bias", self.weight.shape[0])
        group = self.activation.group
        if self.weight.shape[0] % group:
            raise ModelFormatError(
                f"a {self.activation.label} layer needs a multiple of {group} weight rows ({group} pieces "
                f"per unit), got {self.weight.shape[0]}")

    @property
    def width(self) -> int:
        """Units: what the next layer takes (rows // k for maxout)."""
        return self.activation.width_of(self.weight.shape[0])

    @property
    def rows(self) -> int:
        """Pre-activation rows: ``weight.shape[0]`` (``width * k`` for maxout)."""
        return self.weight.shape[0]

    def preactivation(self, h: np.ndarray) -> np.ndarray:
        z = h @ self.weight.T
        if self.bias is not None:
            z = z + self.bias
        return z


@dataclass(eq=False)
class Output:
    """The output head: ``sum`` of the last layer, or ``linear`` (``K`` rows, optional bias).

    A network with a one-row head computes one number (level sets and neural polytopes need
    that); a head of ``K > 1`` rows computes ``K`` outputs, e.g. the logits of a classifier,
    whose linear regions and activation patterns are measured the same way.
    """

    name: str = "sum"
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None

    def __post_init__(self):
        if self.name not in OUTPUTS:
            raise ModelFormatError(f"unknown output {self.name!r}; expected 'sum' or 'linear'")
        if self.name == "sum":
            if self.weight is not None or self.bias is not None:
                raise ModelFormatError("output 'sum' takes no weight or bias")
        else:
            if self.weight is None:
                raise ModelFormatError("output 'linear' needs a 'weight' (one row per output)")
            self.weight = _as_matrix(self.weight, "output weight")
            if self.bias is not None:
                self.bias = _as_vector(self.bias, "output bias", self.weight.shape[0])

    @property
    def n_outputs(self) -> int:
        """How many numbers the head computes (1 for ``sum``)."""
        return 1 if self.name == "sum" else self.weight.shape[0]

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """Shape (...) for one output, (..., K) for K outputs."""
        if self.name == "sum":
            return h.sum(axis=-1)
        if self.weight.shape[0] > 1:
            y = h @ self.weight.T
            return y if self.bias is None else y + self.bias
        y = h @ self.weight[0]
        if self.bias is not None:
            y = y + self.bias[0]
        return y

    def to_dict(self) -> dict:
        if self.name == "sum":
            return {"name": "sum"}
        return {"name": "linear", "weight": self.weight.tolist(),
                "bias": None if self.bias is None else self.bias.tolist()}


@dataclass(eq=False)
class Network:
    """A multilayer perceptron ``R^dim -> R`` (or ``R^K`` with a K-row linear head).

    Parameters
    ----------
    dim : int
        Input dimension.
    layers : list of Layer
        Hidden layers, first to last; layer ``l`` has ``weight.shape[1]`` equal to the
        width of layer ``l - 1`` (or ``dim``).
    output : Output
        Output head (default: sum of the last layer).
    encoding : HashGridEncoding, optional
        An input encoding (:mod:`~neuralpoly_core.network.encoding`) applied before the first
        layer, which then reads its ``n_outputs`` features instead of the ``dim`` coordinates.
    """

    dim: int
    layers: list[Layer]
    output: Output = field(default_factory=Output)
    encoding: HashGridEncoding | None = None

    def __post_init__(self):
        if isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
            raise ModelFormatError(f"dim must be a positive integer, got {self.dim!r}")
        self.dim = int(self.dim)
        if not self.layers:
            raise ModelFormatError("a network needs at least one layer")
        n_in = self.dim
        first = "input dimension"
        if self.encoding is not None:
            if self.encoding.dim != self.dim:
                raise ModelFormatError(f"the encoding's box has {self.encoding.dim} axes, expected {self.dim}")
            n_in = self.encoding.n_outputs
            first = "encoding's levels * features"
        for i, layer in enumerate(self.layers):
            if layer.weight.shape[1] != n_in:
                raise ModelFormatError(
                    f"layer {i} weight has {layer.weight.shape[1]} columns, expected {n_in} "
                    f"(the {first if i == 0 else f'width of layer {i - 1}'})")
            n_in = layer.width
        if self.output.name == "linear" and self.output.weight.shape[1] != n_in:
            raise ModelFormatError(
                f"output weight has {self.output.weight.shape[1]} columns, expected {n_in} "
                "(the width of the last layer)")

    # -- structure -------------------------------------------------------------------
    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(layer.width for layer in self.layers)

    @property
    def n_neurons(self) -> int:
        return sum(self.widths)

    @property
    def is_bias_free(self) -> bool:
        return all(l.bias is None or not np.any(l.bias) for l in self.layers) and (
            self.output.bias is None or not np.any(self.output.bias))

    @property
    def is_piecewise_linear(self) -> bool:
        """True when the exact extractors take the network (:meth:`piecewise_linear_issue`):
        every activation elementwise and piecewise linear (relu, identity, |x|^1). A maxout
        network is piecewise linear but not elementwise: False until the region enumeration
        takes it (its linear regions are counted by :mod:`neuralpoly_core.regions`)."""
        return self.piecewise_linear_issue("") is None

    def piecewise_linear_issue(self, alternative: str) -> str | None:
        """Why exact extraction cannot take this network, or None when it can.

        The one rule of every exact method: each activation piecewise linear and elementwise
        (``relu``, ``identity``, ``|x|^1``; not yet ``maxout``), and an encoding, if any, with
        ``simplex`` interpolation (a ``trilinear`` hash grid is smooth inside its cells). The
        message names the first layer that is not and ends with ``alternative`` (what to use
        instead, e.g. "use method='marching'").
        """
        if self.encoding is not None and not self.encoding.is_piecewise_linear:
            return (f"the hash-grid encoding uses {self.encoding.interpolation} interpolation, which is not "
                    "piecewise linear (it is smooth inside each grid cell); exact extraction needs "
                    "interpolation 'simplex'; for a trilinear grid use method='trilinear' (Kim 2024: planar "
                    f"within each trilinear cell, approximate) ({alternative})")
        for i, layer in enumerate(self.layers):
            act = layer.activation
            if not act.piecewise_linear:
                return (f"layer {i} has activation {act.label}, which is not piecewise "
                        f"linear; exact extraction needs relu, identity or |x|^1 ({alternative})")
            if act.group > 1:
                return (f"layer {i} is a rank-{act.group} maxout layer; exact extraction does not take "
                        f"maxout layers yet (it cuts space along one hyperplane per neuron; a rank-{act.group} "
                        f"maxout unit is cut by {act.group * (act.group - 1) // 2} tie hyperplanes) "
                        f"({alternative})")
        return None

    @property
    def n_outputs(self) -> int:
        """How many numbers the network computes (see :class:`Output`)."""
        return self.output.n_outputs

    def require_scalar(self, what: str) -> None:
        """Raise :class:`~neuralpoly_core.errors.ExtractionError` unless the network computes one
        number: ``what`` (a level set, a neural polytope) needs a function ``R^dim -> R``."""
        if self.n_outputs != 1:
            raise ExtractionError(f"{what} needs a network with one output; this one has {self.n_outputs} "
                                  "(its output weight has one row per output)")

    def homogeneity_issue(self, alternative: str) -> str | None:
        """Why ``f`` is not positively homogeneous (``f(t x) = t**k f(x)``, t > 0), or None.

        The one rule of every star-shaped (neural polytope) method: no bias in any layer or the
        head, every activation homogeneous (``abs_pow``, ``relu``, ``identity``). The message
        names the first offending layer and ends with ``alternative``.
        """
        if self.encoding is not None:
            return f"the network has a hash-grid encoding, so f is not positively homogeneous ({alternative})"
        for i, layer in enumerate(self.layers):
            if layer.bias is not None and np.any(layer.bias):
                return (f"layer {i} has a nonzero bias, so f is not positively homogeneous and f = 1 "
                        f"need not be star-shaped ({alternative})")
        if self.output.bias is not None and np.any(self.output.bias):
            return ("the output head has a nonzero bias, so f is not positively homogeneous "
                    f"({alternative})")
        for i, layer in enumerate(self.layers):
            if layer.activation.degree is None:
                return (f"layer {i} has activation {layer.activation.label}, which is not positively "
                        f"homogeneous ({alternative})")
        return None

    def require_homogeneous(self, alternative: str) -> float:
        """The degree of homogeneity, or :class:`~neuralpoly_core.errors.ExtractionError` with
        :meth:`homogeneity_issue`."""
        issue = self.homogeneity_issue(alternative)
        if issue is not None:
            raise ExtractionError(issue)
        return float(self.degree)

    def require_plain_input(self, what: str) -> None:
        """Raise :class:`~neuralpoly_core.errors.ExtractionError` when the network has an input
        encoding: ``what`` (an LP or MILP over the first layer, exact path crossings) reads the
        first layer as an affine map of the coordinates, which an encoding is not."""
        if self.encoding is not None:
            raise ExtractionError(f"{what} takes networks without an input encoding; this one has a "
                                  f"{self.encoding.interpolation} hash-grid encoding (its first layer reads "
                                  "encoded features, not coordinates)")

    def require_piecewise_linear(self, alternative: str) -> None:
        """Raise :class:`~neuralpoly_core.errors.ExtractionError` with
        :meth:`piecewise_linear_issue` unless every activation is piecewise linear."""
        issue = self.piecewise_linear_issue(alternative)
        if issue is not None:
            raise ExtractionError(issue)

    @property
    def is_neural_polytope(self) -> bool:
        """A neural polytope: bias-free, every activation positively homogeneous, a ``sum`` head.

        Its level set f = 1 is star-shaped (:func:`neuralpoly_core.polytope.extract_polytope`);
        every other network is drawn as a level set in a box
        (:func:`neuralpoly_core.levelset.extract_level_set`). The CLI and the add-on both ask this.
        """
        return self.degree is not None and self.output.name == "sum"

    @property
    def degree(self) -> float | None:
        """Degree of positive homogeneity ``f(t x) = t**degree f(x)`` (t > 0), or None.

        Defined for bias-free networks whose activations are all homogeneous
        (``abs_pow``, ``relu``, ``identity``): the product of the layer degrees.
        """
        if not self.is_bias_free or self.encoding is not None:
            return None
        deg = 1.0
        for layer in self.layers:
            d = layer.activation.degree
            if d is None:
                return None
            deg *= d
        return deg

    # -- evaluation ------------------------------------------------------------------
    def _check_input(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] != self.dim:
            raise ValueError(f"points must have {self.dim} coordinates, got shape {X.shape}")
        return X if self.encoding is None else self.encoding(X)

    def first_input(self, X) -> np.ndarray:
        """What the first layer reads at points ``X``: the coordinates, or the encoded features."""
        return self._check_input(X)

    def __call__(self, X) -> np.ndarray:
        return self.evaluate(X)

    def evaluate(self, X) -> np.ndarray:
        """f(X) for points ``X`` of shape (..., dim); returns shape (...)."""
        h = self._check_input(X)
        for layer in self.layers:
            h = layer.activation(layer.preactivation(h))
        return self.output(h)

    def preactivations(self, X) -> list[np.ndarray]:
        """Per-layer pre-activations ``W h + b``, each of shape (..., rows)."""
        h = self._check_input(X)
        out = []
        for layer in self.layers:
            z = layer.preactivation(h)
            out.append(z)
            h = layer.activation(z)
        return out

    def activation_pattern(self, X) -> np.ndarray:
        """Boolean activation pattern, one entry per pre-activation row: shape (..., sum of
        ``layer.rows``), which is (..., n_neurons) for elementwise activations.

        For ``relu`` this is the usual on/off pattern (pre-activation > 0), for ``abs_pow`` the
        sign, for ``sigmoid`` the side of the threshold 0 (as in the space-folding literature),
        for ``maxout`` the one-hot of each unit's largest piece.
        """
        return np.concatenate([l.activation.pattern(z) for l, z in zip(self.layers, self.preactivations(X))],
                              axis=-1)

    # -- derived networks ------------------------------------------------------------
    def restrict(self, basis) -> "Network":
        """The network on a linear subspace: ``g(y) = f(basis @ y)``.

        ``basis`` has shape (dim, k); the result has input dimension k. Used for the 3D
        slices of d > 3 polytopes. Bias-free networks stay bias-free (the subspace passes
        through the origin).
        """
        if self.encoding is not None:
            raise ExtractionError("a network with a hash-grid encoding cannot be restricted to a subspace")
        B = np.asarray(basis, dtype=np.float64)
        if B.ndim != 2 or B.shape[0] != self.dim:
            raise ValueError(f"basis must have shape ({self.dim}, k), got {B.shape}")
        first = self.layers[0]
        layers = [Layer(first.weight @ B, None if first.bias is None else first.bias.copy(),
                        first.activation)] + [
            Layer(l.weight.copy(), None if l.bias is None else l.bias.copy(), l.activation)
            for l in self.layers[1:]]
        return Network(B.shape[1], layers, self.output)

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        """The ``neuralpoly.model`` dictionary (see README, "Model files"); an encoding, if
        any, comes before the layers."""
        d = {"format": "neuralpoly.model", "version": 1, "dim": self.dim}
        if self.encoding is not None:
            d["encoding"] = self.encoding.to_dict()
        return d | {
            "layers": [
                {"weight": l.weight.tolist(),
                 "bias": None if l.bias is None else l.bias.tolist(),
                 "activation": l.activation.to_dict()}
                for l in self.layers],
            "output": self.output.to_dict(),
        }

    @classmethod
    def from_dict(cls, d) -> "Network":
        """Parse and validate a ``neuralpoly.model`` dictionary."""
        if not isinstance(d, dict):
            raise ModelFormatError("a model must be a JSON object")
        if d.get("format") != "neuralpoly.model":
            raise ModelFormatError(
                f"not a neuralpoly model: 'format' is {d.get('format')!r}, expected 'neuralpoly.model'")
        if d.get("version") != 1:
            raise ModelFormatError(f"unsupported model version {d.get('version')!r}; this reads version 1")
        unknown = set(d) - {"format", "version", "dim", "encoding", "layers", "output", "meta"}
        if unknown:
            raise ModelFormatError(f"model has unknown keys {sorted(unknown)}")
        dim = d.get("dim")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ModelFormatError(f"'dim' must be a positive integer, got {dim!r}")
        layers_d = d.get("layers")
        if not isinstance(layers_d, list) or not layers_d:
            raise ModelFormatError("'layers' must be a non-empty list")
        layers = []
        for i, ld in enumerate(layers_d):
            where = f"layer {i}"
            if not isinstance(ld, dict):
                raise ModelFormatError(f"{where} must be an object")
            unknown = set(ld) - {"weight", "bias", "activation"}
            if unknown:
                raise ModelFormatError(f"{where} has unknown keys {sorted(unknown)}")
            if "weight" not in ld or "activation" not in ld:
                raise ModelFormatError(f"{where} needs 'weight' and 'activation'")
            try:
                w = _as_matrix(ld["weight"], f"{where} weight")
                b = None if ld.get("bias") is None else _as_vector(ld["bias"], f"{where} bias", w.shape[0])
            except ModelFormatError:
                raise
            act = Activation.from_dict(ld["activation"], f"{where} activation")
            layers.append(Layer(w, b, act))
        od = d.get("output", {"name": "sum"})
        if not isinstance(od, dict) or "name" not in od:
            raise ModelFormatError("'output' must be an object with a 'name'")
        unknown = set(od) - {"name", "weight", "bias"}
        if unknown:
            raise ModelFormatError(f"output has unknown keys {sorted(unknown)}")
        output = Output(od["name"], od.get("weight"), od.get("bias"))
        encoding = None if d.get("encoding") is None else HashGridEncoding.from_dict(d["encoding"])
        return cls(dim, layers, output, encoding)

    def copy(self) -> "Network":
        return Network.from_dict(self.to_dict())

    def __repr__(self) -> str:
        acts = ",".join(l.activation.label for l in self.layers)
        enc = "" if self.encoding is None else f"encoding={self.encoding!r}, "
        return f"Network(dim={self.dim}, {enc}widths={self.widths}, activations={acts}, output={self.output.name})"


def polytope_network(dim: int, weights, ps) -> Network:
    """A bias-free neural-polytope network: ``abs_pow`` layers and a ``sum`` output.

    ``weights`` is a list of (out, in) matrices, ``ps`` one exponent per layer.
    """
    if len(weights) != len(ps):
        raise ModelFormatError(f"{len(weights)} weight matrices but {len(ps)} exponents")
    return Network(dim, [Layer(w, None, Activation("abs_pow", p=p)) for w, p in zip(weights, ps)])
