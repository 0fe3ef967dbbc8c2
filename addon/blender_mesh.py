"""PolyMesh -> Blender mesh, in bulk: ``foreach_set`` on float32/int32 arrays.

``Mesh.from_pydata`` walks Python lists element by element; for a million triangles that
takes seconds. Here vertices, face corners and face starts go in as three flat numpy
buffers, n-gon faces are kept as they are, and each face gets the INT attribute
``region_id`` (the linear region of the network it lies in, -1 where undefined).
"""

from __future__ import annotations

from typing import Any, cast

import bpy
import numpy as np

from .neuralpoly_core.errors import NeuralPolyError
from .neuralpoly_core.mesh import PolyMesh

REGION_ATTRIBUTE = "region_id"


def _set_attribute(me: bpy.types.Mesh, name: str, key: str, values: np.ndarray) -> bool:
    """Bulk-write a built-in attribute by name; False if this Blender has no such attribute."""
    attr = me.attributes.get(name)
    if attr is None:
        return False
    cast(Any, attr).data.foreach_set(key, values)
    return True


def fill_mesh(me: bpy.types.Mesh, mesh: PolyMesh, *, size: float = 1.0, smooth: bool = False) -> None:
    """Write ``mesh`` (scaled by ``size``) into the empty Blender mesh ``me``.

    A 2-D polygon becomes one face in the z = 0 plane: its closed loop of edges.
    Positions and face corners go straight into the ``position`` and ``.corner_vert``
    attributes (one buffer copy each); Blender then derives the edges.
    """
    if len(me.vertices) or len(me.polygons):
        raise ValueError(f"mesh {me.name!r} is not empty")
    co = np.ascontiguousarray(mesh.vertices3d(), dtype=np.float32)
    if size != 1.0:
        co *= np.float32(size)
    co = co.ravel()
    corners = np.ascontiguousarray(mesh.corners, dtype=np.int32)
    sizes = mesh.face_sizes
    starts = np.zeros(len(sizes), dtype=np.int32)
    if len(sizes) > 1:
        np.cumsum(sizes[:-1], out=starts[1:])

    me.vertices.add(len(mesh.vertices))
    if not _set_attribute(me, "position", "vector", co):
        me.vertices.foreach_set("co", co)
    me.loops.add(len(corners))
    if not _set_attribute(me, ".corner_vert", "value", corners):
        me.loops.foreach_set("vertex_index", corners)
    me.polygons.add(len(sizes))
    me.polygons.foreach_set("loop_start", starts)
    me.update(calc_edges=True)

    attr = cast(bpy.types.IntAttribute, me.attributes.new(REGION_ATTRIBUTE, "INT", "FACE"))
    attr.data.foreach_set("value", np.ascontiguousarray(mesh.region_ids, dtype=np.int32))
    if not smooth:  # flat shading: what Mesh.shade_flat() does, without a pass over the faces
        sharp = cast(bpy.types.BoolAttribute, me.attributes.new("sharp_face", "BOOLEAN", "FACE"))
        sharp.data.foreach_set("value", np.ones(len(sizes), dtype=bool))


def new_mesh(name: str, mesh: PolyMesh, *, size: float = 1.0, smooth: bool = False) -> bpy.types.Mesh:
    """A new Blender mesh datablock holding ``mesh``; nothing is left behind on failure."""
    me = bpy.data.meshes.new(name)
    try:
        fill_mesh(me, mesh, size=size, smooth=smooth)
    except BaseException:
        bpy.data.meshes.remove(me)
        raise
    return me


def replace_data(obj: bpy.types.Object, me: bpy.types.Mesh) -> None:
    """Give ``obj`` the new mesh datablock ``me``, keeping the old one's name and materials."""
    old = obj.data
    if not isinstance(old, bpy.types.Mesh):
        bpy.data.meshes.remove(me)
        raise TypeError(f"object {obj.name!r} is not a mesh")
    old_name = old.name
    for mat in old.materials:
        me.materials.append(mat)
    obj.data = me
    if old.users == 0:
        bpy.data.meshes.remove(old)
        me.name = old_name


def remove_object(obj: bpy.types.Object) -> None:
    """Remove ``obj`` that an operator made and could not finish, and its mesh (if nothing else uses
    it): what the operator added is gone again."""
    me = obj.data
    bpy.data.objects.remove(obj)
    if isinstance(me, bpy.types.Mesh) and me.users == 0:
        bpy.data.meshes.remove(me)


def mesh_arrays(me: bpy.types.Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertices (V, 3) float64, corners (C,) and face sizes (F,) of a Blender mesh."""
    co = np.empty(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", co)
    corners = np.empty(len(me.loops), dtype=np.int32)
    me.loops.foreach_get("vertex_index", corners)
    sizes = np.empty(len(me.polygons), dtype=np.int32)
    me.polygons.foreach_get("loop_total", sizes)
    return co.reshape(-1, 3).astype(np.float64), corners.astype(np.int64), sizes.astype(np.int64)


def world_mesh(obj: bpy.types.Object, depsgraph) -> PolyMesh:
    """``obj``'s evaluated mesh (modifiers applied) in world coordinates (float64)."""
    if obj.type != "MESH":
        raise NeuralPolyError(f"object {obj.name!r} is not a mesh (it is a {obj.type.lower()})")
    evaluated = obj.evaluated_get(depsgraph)
    me = evaluated.to_mesh()
    try:
        co, corners, sizes = mesh_arrays(me)
        M = np.array(evaluated.matrix_world, dtype=np.float64)     # up to date with the depsgraph
    finally:
        evaluated.to_mesh_clear()
    return PolyMesh(co @ M[:3, :3].T + M[:3, 3], corners, sizes)


def region_ids(me: bpy.types.Mesh) -> np.ndarray | None:
    """The ``region_id`` face attribute, or None if the mesh has none."""
    attr = me.attributes.get(REGION_ATTRIBUTE)
    if attr is None or attr.domain != "FACE" or attr.data_type != "INT":
        return None
    out = np.empty(len(me.polygons), dtype=np.int32)
    cast(bpy.types.IntAttribute, attr).data.foreach_get("value", out)
    return out
