"""Neural polytopes: the star-shaped level sets f = 1 of bias-free networks, exact or radial."""

from .._compat import deprecated_names
from .api import METHODS, extract_polytope
from .exact import LEVEL_GUARANTEE, POSITIVE_FLOOR, exact_extraction_issue, extract_polytope_exact, max_level_error
from .icosphere import icosphere
from .radial import extract_radial, radial_function
from .slicing import paper_slice_basis
from .sweep import sweep_order, sweep_shapes

__all__ = ["extract_polytope", "METHODS", "extract_polytope_exact", "exact_extraction_issue",
           "max_level_error", "extract_radial", "radial_function", "icosphere", "paper_slice_basis",
           "POSITIVE_FLOOR", "LEVEL_GUARANTEE", "sweep_order", "sweep_shapes"]

__getattr__ = deprecated_names(__name__, {"extract_exact": ".exact:extract_polytope_exact"})
