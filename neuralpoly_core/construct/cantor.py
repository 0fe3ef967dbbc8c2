"""CantorNet (Lewandowski, Eghbalzadeh, Moser 2024): a ReLU network whose decision boundary
follows the Cantor set's construction, built by its recursion.

The generating function ``A(x) = max(-3x + 1, 0, 3x - 2)`` maps [0, 1] onto [0, 1] with three
pieces (its zeros are the middle third); ``A^k`` is zero exactly on the middle thirds that the
k-th stage of the Cantor construction removes, and 1 on the ends of the intervals left. Because the
two outer pieces never overlap, ``A(x) = relu(-3x + 1) + relu(3x - 2)``: one layer of two
ReLUs per recursion level, the *recursion-based* representation (O(k) neurons). The network
here takes ``(x, y)`` and computes

    ``f_k(x, y) = y - (1 + A^k(x)) / 2``,

whose zero set is the CantorNet decision boundary (the region ``R_k = {f_k <= 0}`` lies under
the ragged curve). ``y`` is carried through every layer as ``relu(y) - relu(-y)`` (exact for
any ``y``), so each layer has four ReLUs: two for ``A``, two that carry ``y``.

Space folding along the horizontal path ``(0, y) -> (1, y)`` (y fixed, the carrying bits
constant): layer ``l`` sees ``u = A^(l-1)(x)``, its two ``A`` bits are ``(u < 1/3, u > 2/3)``,
and ``A^(l-1)`` sweeps [0, 1] ``2^(l-1)`` times, each sweep flipping both bits once, so
``r2 = 2 + 4 + ... + 2^k = 2^(k+1) - 2``. The path starts with ``x < 1/3`` and ``A^m(x) > 2/3``
for every later layer; at ``x = 3/4`` (``A(3/4) = 1/4``, a fixed point of ``A``) every bit of
every layer is the opposite, so ``r1 = 2k`` and

    ``chi_k = 1 - k / (2^k - 1)``: 0, 1/3, 4/7, 11/15, 26/31 for k = 1..5,

the same as the tent map of the same depth. The reversed path ``(1, y) -> (0, y)`` has the
same range (``x = 1`` has the bits ``(0, 1)`` in every layer, ``x = 1/4``, the other fixed
point of ``A``, the bits ``(1, 0)``: ``r1 = 2k`` again), so ``chi(-Gamma) = chi(Gamma)`` here.
The seed slides state no closed form for CantorNet and the paper's text could not be
consulted; this derivation is what
:func:`cantor_chi` returns and what the tests compare to, as exact fractions.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..network.activations import Activation
from ..network.model import Layer, Network, Output

__all__ = ["cantor_network", "cantor_chi", "generating_function"]


def generating_function(x, k: int = 1) -> np.ndarray:
    """``A^k(x)``, ``A(x) = max(-3x + 1, 0, 3x - 2)``, evaluated directly (for checks)."""
    k = check_int(k, "k", 0, 60)
    u = np.asarray(x, dtype=np.float64)
    for _ in range(k):
        u = np.maximum(np.maximum(-3.0 * u + 1.0, 0.0), 3.0 * u - 2.0)
    return u


def cantor_network(k: int) -> Network:
    """CantorNet with ``k`` recursion levels: ``f_k(x, y) = y - (1 + A^k(x)) / 2``.

    ``k`` layers of four ReLUs (two for ``A``, two carrying ``y``) and a linear head.
    """
    k = check_int(k, "k", 1, 60)
    relu = Activation("relu")
    bias = np.array([1.0, -2.0, 0.0, 0.0])
    first = Layer(np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, -1.0]]), bias.copy(), relu)
    step = np.array([[-3.0, -3.0, 0.0, 0.0], [3.0, 3.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [0.0, 0.0, -1.0, 1.0]])
    rest = [Layer(step.copy(), bias.copy(), relu) for _ in range(k - 1)]
    head = Output("linear", np.array([[-0.5, -0.5, 1.0, -1.0]]), np.array([-0.5]))
    return Network(2, [first] + rest, head)


def cantor_chi(k: int) -> float:
    """``chi`` of the path ``(0, y) -> (1, y)`` through :func:`cantor_network`: ``1 - k / (2^k - 1)``."""
    k = check_int(k, "k", 1, 60)
    return 1.0 - k / (2.0 ** k - 1.0)
