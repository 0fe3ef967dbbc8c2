"""Space folding: the activation patterns a straight path passes through, the measures chi and Phi, and Hamming-cube convexity."""

from .api import check_end_points, fold_path, fold_paths, hamming_colors, path_geometry, scene_path
from .measures import (as_patterns, chi, chi_of_ranges, chi_reverse, distances_from_start, global_folding, hamming,
                       interaction, interactions, range_r1, range_r2)
from .patterns import TOLERANCE, bit_layers, gives_bits, patterns_at
from .results import FoldingSet, PathFolding

__all__ = ["fold_path", "fold_paths", "path_geometry", "scene_path", "hamming_colors", "check_end_points",
           "PathFolding", "FoldingSet",
           "chi", "chi_reverse", "chi_of_ranges", "range_r1", "range_r2", "distances_from_start", "hamming",
           "global_folding", "interaction", "interactions", "as_patterns", "bit_layers", "gives_bits",
           "patterns_at", "TOLERANCE"]
