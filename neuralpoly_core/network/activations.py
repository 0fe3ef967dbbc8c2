"""Activations and the one table of what each kind does: value, derivative, interval image,
linear relaxation, kink, homogeneity, group size.

Every part of the project that needs to know how an activation behaves (forward passes,
back-propagation, pruning bounds, linear regions, training) asks the :class:`Activation`,
which asks its entry of :data:`KINDS`; nothing outside this module switches on the name.

=========  =====================  ======================  =========  ========
kind       value                  derivative              kink at 0  degree
=========  =====================  ======================  =========  ========
abs_pow    ``|z|**p``             ``p |z|**(p-1) sgn z``  yes        p
relu       ``max(z, 0)``          ``z > 0``               yes        1
sigmoid    ``1/(1+e^(-s z))``     ``s σ (1 - σ)``         no         --
identity   ``z``                  ``1``                   no         1
maxout     ``max_j z[u*k + j]``   one-hot of the max      no         1
=========  =====================  ======================  =========  ========

At a kink the derivative is the one-sided value the table gives (0 for ``relu`` and
``|z|**p`` at 0); ``|z|**p`` with p < 1 has its derivative capped at 1e12 near 0.

Every kind but ``maxout`` is elementwise (``group`` 1: one pre-activation row per unit).
A rank-``k`` ``maxout`` layer has ``group`` k: unit ``u`` takes the maximum of the rows
``u*k .. u*k + k - 1`` of its pre-activations (the rows of its weight and bias in that order),
so its value and interval image have ``rows // k`` entries, while its derivative (the
subgradient of the max piece: 1 on the first largest row of each unit, 0 elsewhere) and its
pattern keep one entry per row. :meth:`Activation.backward` applies the Jacobian for every kind.
It has no kink at 0 and no elementwise linear relaxation; its regions are cut where two pieces
tie, which the exact extractors do not enumerate yet (see ``Network.piecewise_linear_issue``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_float, check_int
from ..errors import ModelFormatError

__all__ = ["Activation", "ACTIVATIONS", "KINDS"]

_DERIVATIVE_CAP = 1e12


class _Kind:
    """One row of the table. ``act`` is the :class:`Activation` (for its parameters)."""

    name = ""
    params: tuple[str, ...] = ()     # required parameters
    kinked = False                   # a kink at 0: its zero set cuts linear regions

    def value(self, act, z):
        raise NotImplementedError

    def derivative(self, act, z):
        raise NotImplementedError

    def interval(self, act, lo, hi):
        """The image of ``[lo, hi]`` (elementwise)."""
        raise NotImplementedError

    def relaxation(self, act, lo, hi):
        raise ValueError(f"activation {act.label} is not piecewise linear: it has no linear relaxation")

    def piecewise_linear(self, act) -> bool:
        return False

    def degree(self, act) -> float | None:
        return None

    def group(self, act) -> int:
        """Pre-activation rows per unit (1: elementwise)."""
        return 1

    def slopes(self, act) -> tuple[float, float] | None:
        """``(below, above)``: the slopes on either side of 0 of an elementwise piecewise-linear
        kind (its value is ``below * z`` for z <= 0 and ``above * z`` for z >= 0); None otherwise."""
        return None

    def pattern(self, act, z):
        """The activation pattern of pre-activations ``z``: the side of 0 of each row."""
        return z > 0

    def backward(self, act, z, g):
        """``g`` (one entry per unit) times the Jacobian at ``z``: one entry per row."""
        return g * self.derivative(act, z)


class _AbsPow(_Kind):
    name, params, kinked = "abs_pow", ("p",), True

    def value(self, act, z):
        a = np.abs(z)
        return a if act.p == 1.0 else a ** act.p

    def derivative(self, act, z):
        if act.p == 1.0:
            return np.sign(z)
        a = np.abs(z)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = act.p * np.where(a > 0, a ** (act.p - 1.0), 0.0) * np.sign(z)
        return np.clip(d, -_DERIVATIVE_CAP, _DERIVATIVE_CAP)

    def interval(self, act, lo, hi):
        alo = np.where(lo > 0, lo, np.where(hi < 0, -hi, 0.0))
        ahi = np.maximum(np.abs(lo), np.abs(hi))
        return (alo, ahi) if act.p == 1.0 else (alo ** act.p, ahi ** act.p)

    def relaxation(self, act, lo, hi):
        if act.p != 1.0:
            return super().relaxation(act, lo, hi)
        pos = lo >= 0
        neg = hi <= 0
        unst = ~pos & ~neg
        su = np.where(unst, (hi + lo) / np.where(unst, hi - lo, 1.0), 0.0)
        fixed = np.where(pos, 1.0, -1.0)
        up_s = np.where(unst, su, fixed)
        low_s = np.where(unst, np.where(hi > -lo, 1.0, -1.0), fixed)
        return up_s, np.where(unst, -su * lo - lo, 0.0), low_s

    def piecewise_linear(self, act):
        return act.p == 1.0

    def degree(self, act):
        return act.p

    def slopes(self, act):
        return (-1.0, 1.0) if act.p == 1.0 else None


class _Relu(_Kind):
    name, kinked = "relu", True

    def value(self, act, z):
        return np.maximum(z, 0.0)

    def derivative(self, act, z):
        return z > 0

    def interval(self, act, lo, hi):
        return np.maximum(lo, 0.0), np.maximum(hi, 0.0)

    def relaxation(self, act, lo, hi):
        on = lo >= 0
        unst = (lo < 0) & (hi > 0)
        su = np.where(unst, hi / np.where(unst, hi - lo, 1.0), 0.0)
        up_s = np.where(unst, su, on)
        low_s = np.where(unst, hi > -lo, on).astype(np.float64)
        return up_s, -su * lo, low_s

    def piecewise_linear(self, act):
        return True

    def degree(self, act):
        return 1.0

    def slopes(self, act):
        return 0.0, 1.0


class _Sigmoid(_Kind):
    name, params = "sigmoid", ("scale",)

    def value(self, act, z):
        # numerically stable logistic; a huge scale saturates to exactly 0 or 1 (t = +-inf)
        with np.errstate(over="ignore"):
            t = act.scale * z
        out = np.empty_like(t)
        pos = t >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-t[pos]))
        e = np.exp(t[~pos])
        out[~pos] = e / (1.0 + e)
        return out

    def derivative(self, act, z):
        s = self.value(act, z)
        return act.scale * s * (1.0 - s)

    def interval(self, act, lo, hi):
        return self.value(act, lo), self.value(act, hi)


class _Identity(_Kind):
    name = "identity"

    def value(self, act, z):
        return z

    def derivative(self, act, z):
        return np.ones_like(z)

    def interval(self, act, lo, hi):
        return lo, hi

    def relaxation(self, act, lo, hi):
        return None

    def piecewise_linear(self, act):
        return True

    def degree(self, act):
        return 1.0

    def slopes(self, act):
        return 1.0, 1.0


class _Maxout(_Kind):
    """Rank-k maxout: unit u is the largest of the rows ``u*k .. u*k + k - 1``."""

    name, params = "maxout", ("k",)

    @staticmethod
    def _pieces(act, z):
        z = np.asarray(z)
        return z.reshape(z.shape[:-1] + (z.shape[-1] // act.k, act.k))

    def value(self, act, z):
        return self._pieces(act, z).max(axis=-1)

    def derivative(self, act, z):
        pieces = self._pieces(act, z)
        best = np.argmax(pieces, axis=-1)[..., None]
        return (np.arange(act.k) == best).astype(np.float64).reshape(np.shape(z))

    def interval(self, act, lo, hi):
        return self._pieces(act, lo).max(axis=-1), self._pieces(act, hi).max(axis=-1)

    def relaxation(self, act, lo, hi):
        raise ValueError("activation maxout is not elementwise: it has no elementwise linear relaxation")

    def piecewise_linear(self, act):
        return True

    def degree(self, act):
        return 1.0

    def group(self, act):
        return act.k

    def pattern(self, act, z):
        return self.derivative(act, z) > 0

    def backward(self, act, z, g):
        return np.repeat(g, act.k, axis=-1) * self.derivative(act, z)


#: The table: one entry per activation kind of the model format.
KINDS: dict[str, _Kind] = {k.name: k for k in (_AbsPow(), _Relu(), _Sigmoid(), _Identity(), _Maxout())}
ACTIVATIONS = tuple(KINDS)


@dataclass(frozen=True)
class Activation:
    """An activation function.

    Parameters
    ----------
    name : {'abs_pow', 'relu', 'sigmoid', 'identity', 'maxout'}
        ``abs_pow`` is ``|x|**p``; ``sigmoid`` is ``1 / (1 + exp(-scale * x))``; ``maxout``
        is the maximum of each unit's ``k`` pieces (see the module docstring).
    p : float, optional
        Exponent of ``abs_pow`` (required, > 0).
    scale : float, optional
        Sharpness of ``sigmoid`` (required, > 0).
    k : int, optional
        Rank of ``maxout``: pieces per unit (required, >= 2).
    """

    name: str
    p: float | None = None
    scale: float | None = None
    k: int | None = None

    def __post_init__(self):
        if self.name not in KINDS:
            raise ModelFormatError(
                f"unknown activation {self.name!r}; expected one of {', '.join(ACTIVATIONS)}")
        params = KINDS[self.name].params
        for key, what in (("p", "an exponent 'p'"), ("scale", "a 'scale'")):
            value = getattr(self, key)
            if key in params:
                if value is None:
                    raise ModelFormatError(f"activation {self.name!r} needs {what}")
                label = "abs_pow exponent p" if key == "p" else "sigmoid scale"
                object.__setattr__(self, key, check_float(value, label, 0.0, lo_open=True, error=ModelFormatError))
            elif value is not None:
                raise ModelFormatError(f"activation {self.name!r} takes no {what.split(' ', 1)[1]}")
        if "k" in params:
            if self.k is None:
                raise ModelFormatError(f"activation {self.name!r} needs a rank 'k' (pieces per unit)")
            object.__setattr__(self, "k", check_int(self.k, "maxout rank k", 2, 1024, error=ModelFormatError))
        elif self.k is not None:
            raise ModelFormatError(f"activation {self.name!r} takes no rank 'k'")

    @property
    def _kind(self) -> _Kind:
        return KINDS[self.name]

    # -- the table -------------------------------------------------------------------
    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self._kind.value(self, z)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """d act / dz at ``z`` (one-sided at a kink, see the module docstring)."""
        return self._kind.derivative(self, z)

    def interval(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact image ``(lo', hi')`` of the intervals ``[lo, hi]`` (elementwise)."""
        return self._kind.interval(self, lo, hi)

    def relaxation(self, lo: np.ndarray, hi: np.ndarray):
        """Linear relaxation on pre-activation ranges ``[lo, hi]`` (piecewise-linear kinds).

        Returns ``(up_s, up_c, low_s)``: the upper chord ``up_s * z + up_c`` and the lower line
        ``low_s * z`` through the origin (the better of the two supporting lines for an unstable
        unit, as in CROWN); the parallel relaxation of a forward symbolic bound is the chord with
        half its intercept as radius (DeepZ). None for ``identity`` (nothing to relax).

        Raises
        ------
        ValueError
            For an activation that is not piecewise linear.
        """
        return self._kind.relaxation(self, lo, hi)

    def pattern(self, z: np.ndarray) -> np.ndarray:
        """Boolean activation pattern, one entry per row of ``z``: ``z > 0`` for the elementwise
        kinds, the one-hot of each unit's (first) largest piece for ``maxout``."""
        return self._kind.pattern(self, z)

    def backward(self, z: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Back-propagate ``g`` (one entry per unit) through the activation at ``z``: one entry
        per row (``g * derivative(z)`` for the elementwise kinds)."""
        return self._kind.backward(self, z, g)

    @property
    def group(self) -> int:
        """Pre-activation rows per unit: 1 for the elementwise kinds, ``k`` for ``maxout``."""
        return self._kind.group(self)

    def width_of(self, rows: int) -> int:
        """Units of a layer with ``rows`` pre-activation rows."""
        return rows // self.group

    @property
    def slopes(self) -> tuple[float, float] | None:
        """``(below, above)`` slopes on either side of 0 of an elementwise piecewise-linear kind:
        ``(0, 1)`` for relu, ``(-1, 1)`` for ``|x|``, ``(1, 1)`` for identity; None otherwise."""
        return self._kind.slopes(self)

    @property
    def kinked(self) -> bool:
        """A kink at 0: the neuron's zero set cuts linear regions (``relu``, ``|x|^p``)."""
        return self._kind.kinked

    @property
    def piecewise_linear(self) -> bool:
        """True for ``relu``, ``identity``, ``abs_pow`` with p = 1 and ``maxout``."""
        return self._kind.piecewise_linear(self)

    @property
    def degree(self) -> float | None:
        """Degree of positive homogeneity (``act(t z) = t**degree act(z)`` for t > 0), or None."""
        return self._kind.degree(self)

    @property
    def label(self) -> str:
        """Short text for messages: ``relu``, ``|x|^0.6``, ``sigmoid``, ``maxout(k=3)``."""
        if self.name == "abs_pow":
            return f"|x|^{self.p:g}"
        return f"maxout(k={self.k})" if self.name == "maxout" else self.name

    # -- serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {"name": self.name}
        for key in self._kind.params:
            d[key] = getattr(self, key)
        return d

    @classmethod
    def from_dict(cls, d, where: str = "activation") -> "Activation":
        if not isinstance(d, dict):
            raise ModelFormatError(f"{where} must be an object like {{\"name\": \"relu\"}}, got {d!r}")
        unknown = set(d) - {"name", "p", "scale", "k"}
        if unknown:
            raise ModelFormatError(f"{where} has unknown keys {sorted(unknown)}")
        if "name" not in d:
            raise ModelFormatError(f"{where} has no 'name'")
        try:
            return cls(d["name"], d.get("p"), d.get("scale"), d.get("k"))
        except ModelFormatError as e:
            raise ModelFormatError(f"{where}: {e}") from None
