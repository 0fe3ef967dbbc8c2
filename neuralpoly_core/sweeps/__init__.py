"""The paper's figures as data, and the gallery that trains, extracts and draws them all."""

from .figures import FIGURE_CAPTIONS, FIGURES, FigureNet, all_figure_networks, figure_networks
from .gallery import run_gallery

__all__ = ["FIGURES", "FIGURE_CAPTIONS", "FigureNet", "figure_networks", "all_figure_networks", "run_gallery"]
