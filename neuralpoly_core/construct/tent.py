"""The tent map folded L times: the textbook network whose space folding is known exactly.

``T(x) = 2x`` on [0, 1/2], ``2 - 2x`` on [1/2, 1], written with two ReLUs as
``T(x) = relu(2x) - relu(4x - 2)``; ``tent_map_network(L)`` computes ``T^L`` (L layers of two
ReLUs, a linear head ``[1, -1]``). On [0, 1], ``T^L`` has ``2^L`` linear pieces. Along the path
``0 -> 1`` the first neuron of every layer after the first stays on (its input ``T^(l-1)``
only touches 0), the second flips ``2^(l-1)`` times, so ``r2 = 2^L - 1``; near ``x = 2/3``
every second neuron is on, so ``r1 = L`` and ``chi(0 -> 1) = 1 - L / (2^L - 1)``:
0, 1/3, 4/7, 11/15, 26/31 for L = 1..5.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int
from ..network.activations import Activation
from ..network.model import Layer, Network, Output

__all__ = ["tent_map_network", "tent_map_chi"]


def tent_map_network(depth: int) -> Network:
    """``T^depth`` on the line: ``depth`` layers of two ReLUs and the head ``[1, -1]``."""
    depth = check_int(depth, "depth", 1, 60)
    relu = Activation("relu")
    first = Layer(np.array([[2.0], [4.0]]), np.array([0.0, -2.0]), relu)
    fold = np.array([[2.0, -2.0], [4.0, -4.0]])
    rest = [Layer(fold.copy(), np.array([0.0, -2.0]), relu) for _ in range(depth - 1)]
    return Network(1, [first] + rest, Output("linear", np.array([[1.0, -1.0]]), np.zeros(1)))


def tent_map_chi(depth: int) -> float:
    """The closed form ``chi(0 -> 1) = 1 - L / (2^L - 1)`` of :func:`tent_map_network`."""
    depth = check_int(depth, "depth", 1, 60)
    return 1.0 - depth / (2.0 ** depth - 1.0)
