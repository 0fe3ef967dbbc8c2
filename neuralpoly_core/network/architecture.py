"""Architecture types of neural polytopes, written as in the paper: ``(n1,...,nN; p1,...,pN)``.

``(4;1)`` is one hidden layer of 4 units with ``|x|``; ``(4,2;1)`` two layers sharing p = 1;
``(4,2;1,2)`` gives one p per layer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import TypeSpecError

if TYPE_CHECKING:
    from .model import Network

__all__ = ["ArchType", "parse_type", "parse_widths", "parse_ps", "format_p", "check_dim", "type_of"]


def format_p(p: float) -> str:
    """Shortest faithful text for an exponent: ``1``, ``0.8``, ``1.5``."""
    return format(float(p), "g") if float(p) == float(format(float(p), "g")) else repr(float(p))


def _parse_int(tok: str, what: str) -> int:
    tok = tok.strip()
    if not tok:
        raise TypeSpecError(f"empty {what} (check for a stray comma)")
    if not re.fullmatch(r"[+]?\d+", tok):
        raise TypeSpecError(f"{what} must be a whole number, got {tok!r}")
    n = int(tok)
    if n < 1:
        raise TypeSpecError(f"{what} must be at least 1, got {n}")
    return n


def _parse_float(tok: str, what: str) -> float:
    tok = tok.strip()
    if not tok:
        raise TypeSpecError(f"empty {what} (check for a stray comma)")
    try:
        p = float(tok)
    except ValueError:
        raise TypeSpecError(f"{what} must be a number, got {tok!r}") from None
    if not math.isfinite(p):
        raise TypeSpecError(f"{what} must be finite, got {tok!r}")
    if p <= 0:
        raise TypeSpecError(f"{what} must be > 0, got {tok}")
    return p


def parse_widths(text) -> tuple[int, ...]:
    """Parse layer widths: ``"4,2"``, ``[4, 2]`` or ``4``."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if isinstance(text, (list, tuple)):
        toks = [str(t) for t in text]
    else:
        if not isinstance(text, str):
            raise TypeSpecError(f"widths must be text like '4,2', got {text!r}")
        toks = text.split(",")
    if not toks or (len(toks) == 1 and not toks[0].strip()):
        raise TypeSpecError("no layer widths given")
    return tuple(_parse_int(t, f"width of layer {i + 1}") for i, t in enumerate(toks))


def parse_ps(text, n_layers: int | None = None) -> tuple[float, ...]:
    """Parse exponents: one for all layers or one per layer (``"1"``, ``"1,2"``, ``[1, 2]``).

    With ``n_layers``, a single value is repeated and a count mismatch is an error.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        toks = [repr(float(text))]
    elif isinstance(text, (list, tuple)):
        toks = [str(t) for t in text]
    elif isinstance(text, str):
        toks = text.split(",")
    else:
        raise TypeSpecError(f"p must be text like '1' or '1,2', got {text!r}")
    if not toks or (len(toks) == 1 and not toks[0].strip()):
        raise TypeSpecError("no exponent p given")
    ps = tuple(_parse_float(t, "exponent p" if len(toks) == 1 else f"exponent p of layer {i + 1}")
               for i, t in enumerate(toks))
    if n_layers is not None:
        if len(ps) == 1:
            ps = ps * n_layers
        elif len(ps) != n_layers:
            raise TypeSpecError(
                f"{len(ps)} exponents given for {n_layers} layers: give one p for all layers "
                f"or exactly one per layer")
    return ps


def check_dim(dim) -> int:
    """Validate an input dimension (d >= 2)."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        try:
            if float(dim) != int(dim):
                raise ValueError
            dim = int(dim)
        except (TypeError, ValueError):
            raise TypeSpecError(f"dimension must be a whole number, got {dim!r}") from None
    if dim < 2:
        raise TypeSpecError(f"dimension d must be at least 2 (the level set of f on R^d), got {dim}")
    return dim


@dataclass(frozen=True)
class ArchType:
    """An architecture type ``(n1,...,nN; p1,...,pN)``: widths and one p per layer."""

    widths: tuple[int, ...]
    ps: tuple[float, ...]

    def __post_init__(self):
        widths = parse_widths(list(self.widths))
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "ps", parse_ps(list(self.ps), len(widths)))

    @classmethod
    def parse(cls, text: str) -> "ArchType":
        """Parse ``"(4;1)"``, ``"(4,2;1)"``, ``"(4,2;1,2)"`` (parentheses optional)."""
        if isinstance(text, ArchType):
            return text
        if not isinstance(text, str):
            raise TypeSpecError(f"a type must be text like '(4,2;1)', got {text!r}")
        s = text.strip()
        if s.startswith("(") != s.endswith(")"):
            raise TypeSpecError(f"unbalanced parentheses in type {text!r}")
        if s.startswith("("):
            s = s[1:-1]
        parts = s.split(";")
        if len(parts) != 2:
            raise TypeSpecError(
                f"type {text!r} must have the form (widths; p), e.g. (4;1) or (4,2;1,2)")
        try:
            widths = parse_widths(parts[0])
            ps = parse_ps(parts[1], len(widths))
        except TypeSpecError as e:
            raise TypeSpecError(f"in type {text!r}: {e}") from None
        return cls(widths, ps)

    @classmethod
    def from_strings(cls, widths, p) -> "ArchType":
        """From separate widths (``"4,2"``) and p (``"1"`` or ``"1,2"``)."""
        w = parse_widths(widths)
        return cls(w, parse_ps(p, len(w)))

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def degree(self) -> float:
        """Degree of homogeneity of the network function: the product of the p's."""
        return math.prod(self.ps)

    @property
    def piecewise_linear(self) -> bool:
        return all(p == 1.0 for p in self.ps)

    def __str__(self) -> str:
        w = ",".join(str(n) for n in self.widths)
        if len(set(self.ps)) == 1:
            p = format_p(self.ps[0])
        else:
            p = ",".join(format_p(x) for x in self.ps)
        return f"({w};{p})"


def parse_type(text) -> ArchType:
    """Parse an architecture type; see :meth:`ArchType.parse`."""
    return ArchType.parse(text)


def type_of(net: "Network") -> ArchType | None:
    """The architecture type of a neural-polytope network, e.g. ``(4,2;1)``, or None.

    None unless ``net`` is a neural polytope (:attr:`Network.is_neural_polytope`) whose every
    layer has an exponent p (``|x|^p``): ``relu`` layers, biases or a linear head have no type.
    """
    if not net.is_neural_polytope:
        return None
    ps = [layer.activation.p for layer in net.layers]
    if any(p is None for p in ps):
        return None
    return ArchType(net.widths, tuple(float(p) for p in ps))
