"""Polygon meshes: the PolyMesh container, topology, exact triangulation, names, distances and mesh files."""

from .files import MESH_FORMATS, check_format, export_mesh, read_mesh
from .naming import describe, name_polytope
from .polymesh import PolyMesh
from .topology import curve_loops, is_watertight, merge_coplanar_faces

__all__ = ["PolyMesh", "export_mesh", "read_mesh", "check_format", "MESH_FORMATS", "describe",
           "name_polytope", "curve_loops", "is_watertight", "merge_coplanar_faces"]
