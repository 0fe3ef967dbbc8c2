"""Networks built by hand: the boolean algebra of neurons, the metaball height field, and the folding examples (tent map, CantorNet)."""

from .boolean import Convex, HalfSpace, compile_network, difference, intersection, network_from_description, union
from .cantor import cantor_chi, cantor_network
from .heightmap import height_grid, metaball_network
from .tent import tent_map_chi, tent_map_network

__all__ = ["Convex", "HalfSpace", "union", "intersection", "difference", "compile_network",
           "network_from_description", "metaball_network", "height_grid", "cantor_network", "cantor_chi",
           "tent_map_network", "tent_map_chi"]
