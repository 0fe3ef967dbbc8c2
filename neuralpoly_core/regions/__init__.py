"""Linear regions of piecewise-linear networks: bounds on how many there can be, counts (MILP) and exact enumeration."""

from .bounds import (BOUND_NAMES, all_bounds, bounds_of, layer_product_bound, maxout_bound, montufar_bound,
                     montufar_lower_bound, serra_bound, shallow_regions, zaslavsky)
from .count import METHODS, count_regions
from .display import bounds_summary, face_data, plot_regions_png, popcounts, region_colors, region_mesh
from .exact import enumerate_regions
from .milp import count_regions_milp
from .result import RegionCount
from .tessellation import RegionTessellation
from .walk import count_regions_walk

__all__ = ["zaslavsky", "shallow_regions", "layer_product_bound", "montufar_bound", "serra_bound",
           "montufar_lower_bound", "maxout_bound", "all_bounds", "bounds_of", "BOUND_NAMES",
           "count_regions", "count_regions_milp", "count_regions_walk", "RegionCount", "METHODS", "enumerate_regions",
           "RegionTessellation", "region_colors", "region_mesh", "face_data", "popcounts", "plot_regions_png", "bounds_summary"]
