"""Level sets f = c of any network inside a box: exact for piecewise-linear nets, marching otherwise."""

from .._compat import deprecated_names
from ..mesh.topology import curve_loops, is_watertight, merge_coplanar_faces
from .api import extract_level_set
from .box import parse_bbox
from .complex import CellComplex
from .exact import TOLERANCE, ExactOptions, default_workers, extract_level_set_exact
from .marching import extract_marching, project_to_level, value_and_gradient

__all__ = ["extract_level_set", "extract_level_set_exact", "extract_marching", "TOLERANCE",
           "ExactOptions", "CellComplex", "default_workers", "parse_bbox", "curve_loops",
           "is_watertight", "merge_coplanar_faces", "value_and_gradient", "project_to_level"]

__getattr__ = deprecated_names(__name__, {"extract_exact": ".exact:extract_level_set_exact"})
