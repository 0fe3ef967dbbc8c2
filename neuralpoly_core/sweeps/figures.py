"""The networks of the Neural Polytopes paper's figures (Figs. 2-9), as data.

Each figure is a list of :class:`FigureNet` entries: input dimension, architecture type and,
for Fig. 5, the slice angles at which the 5-polytope is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..network.architecture import ArchType

__all__ = ["FigureNet", "FIGURES", "figure_networks", "all_figure_networks"]

P_SWEEP_2D = (0.8, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0)
P_SWEEP_3D = (0.6, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True)
class FigureNet:
    figure: int
    dim: int
    arch: ArchType
    slice_thetas: tuple[float, ...] = field(default=())

    @property
    def label(self) -> str:
        return f"{self.dim}D {self.arch}"


def _fig(figure, dim, archs, thetas=()):
    return [FigureNet(figure, dim, ArchType.parse(a), tuple(thetas)) for a in archs]


FIGURES: dict[int, list[FigureNet]] = {
    2: _fig(2, 2, [f"({n};1)" for n in range(2, 8)]),
    3: _fig(3, 3, [f"({n};1)" for n in range(3, 13)]),
    4: _fig(4, 3, [f"({n},2;1)" for n in range(4, 12)]),
    5: _fig(5, 5, ["(8;1)"], [n * math.pi / 10 for n in range(10)]),
    6: _fig(6, 2, [f"(2;{p:g})" for p in P_SWEEP_2D]),
    7: _fig(7, 3, [f"(3;{p:g})" for p in P_SWEEP_3D]),
    8: _fig(8, 3, [f"(4;{p:g})" for p in P_SWEEP_3D]),
    9: _fig(9, 3, [f"(5;{p:g})" for p in P_SWEEP_3D]),
}

FIGURE_CAPTIONS = {
    2: "Neural polygons of type (n;1), n = 2..7: regular 2n-gons",
    3: "Neural polyhedra of type (n;1), n = 3..12",
    4: "Neural polyhedra of type (n,2;1), n = 4..11",
    5: "Neural 5-polytope of type (8;1), sliced at x3 = 0, x4 = x5 tan(theta), theta = n pi/10",
    6: "Neural polygons of type (2;p)",
    7: "Neural polyhedra of type (3;p)",
    8: "Neural polyhedra of type (4;p)",
    9: "Neural polyhedra of type (5;p)",
}


def figure_networks(figure: int) -> list[FigureNet]:
    try:
        return FIGURES[int(figure)]
    except (KeyError, ValueError, TypeError):
        from ..errors import NeuralPolyError
        raise NeuralPolyError(
            f"no paper figure {figure!r}; figures with networks are {', '.join(map(str, FIGURES))}") from None


def all_figure_networks() -> list[FigureNet]:
    return [n for f in sorted(FIGURES) for n in FIGURES[f]]
