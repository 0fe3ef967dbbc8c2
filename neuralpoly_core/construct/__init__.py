"""Networks built by hand: the boolean algebra of neurons and the metaball height field."""

from .boolean import Convex, HalfSpace, compile_network, difference, intersection, network_from_description, union
from .heightmap import height_grid, metaball_network

__all__ = ["Convex", "HalfSpace", "union", "intersection", "difference", "compile_network",
           "network_from_description", "metaball_network", "height_grid"]
