"""Space folding in the scene: a straight path through a model's input space, measured exactly.

:func:`measure` draws the path between two points of the active model object's input space
(a model with 2 or 3 inputs: a polytope, level set or boolean object): two empties (start,
end) and an edge mesh with one vertex at each crossing of the path with a zero set of the
network (and at the two ends). The mesh has the per-vertex float attribute ``hamming``
(``d_H(pi_1, pi_i)``, the distance of the region a vertex enters from the first region) and
the colour attribute ``hamming_color`` (blue at 0, red at ``r1``) that its material shows.
The numbers chi, chi(-Gamma), d_chi, r1, r2 and regions are kept in
``Object.neuralpoly_folding`` and shown in the sidebar. All of it comes from the core's
:func:`neuralpoly_core.folding.scene_path`; this module only turns it into Blender data.

The empties live in the scene; the network sees their locations in the model object's local
space (its mesh vertices are the network's input coordinates). A 2-input model ignores their
z: its path lies at z = 0. :func:`remeasure` recomputes a path from the empties' current
locations; with *Auto Update* on, a ``depsgraph_update_post`` handler does that whenever an
empty (or the model) moves. Nothing is added or changed when the input is bad.
"""

from __future__ import annotations

from typing import Any, cast

import bpy
import numpy as np
from bpy.app.handlers import persistent
from bpy.props import BoolProperty, FloatProperty, FloatVectorProperty, IntProperty, PointerProperty, StringProperty
from mathutils import Matrix, Vector

from . import model_store
from .neuralpoly_core.errors import NeuralPolyError
from .neuralpoly_core.folding import scene_path

__all__ = ["NeuralPolyFoldingProperties", "HAMMING_ATTRIBUTE", "COLOR_ATTRIBUTE", "MATERIAL_NAME", "folding_props",
           "is_path", "path_of", "default_end_points", "measure", "remeasure", "register", "unregister"]

HAMMING_ATTRIBUTE = "hamming"
COLOR_ATTRIBUTE = "hamming_color"
MATERIAL_NAME = "NeuralPoly Hamming Distance"


class NeuralPolyFoldingProperties(bpy.types.PropertyGroup):
    """What a space-folding path object remembers (``Object.neuralpoly_folding``)."""

    model: PointerProperty(type=bpy.types.Object, name="Model",  # type: ignore[valid-type]
                           description="The model object whose network the path goes through")
    start: PointerProperty(type=bpy.types.Object, name="Start", description="Empty at the path's start")  # type: ignore[valid-type]
    end: PointerProperty(type=bpy.types.Object, name="End", description="Empty at the path's end")  # type: ignore[valid-type]
    samples: IntProperty(name="Samples", min=0, description="0: exact crossings; n >= 2: the sampled method")  # type: ignore[valid-type]
    auto_update: BoolProperty(  # type: ignore[valid-type]
        name="Auto Update", default=True, description="Re-measure whenever the start or end empty (or the model) moves")
    x1: FloatVectorProperty(name="From", size=3, description="Start point (model space) of the last measurement")  # type: ignore[valid-type]
    x2: FloatVectorProperty(name="To", size=3, description="End point (model space) of the last measurement")  # type: ignore[valid-type]
    chi: FloatProperty(name="chi", description="Space folding chi = 1 - r1/r2 of the path")  # type: ignore[valid-type]
    chi_reverse: FloatProperty(name="chi(-G)", description="chi of the path walked backwards")  # type: ignore[valid-type]
    d_chi: FloatProperty(name="d_chi", description="(chi + chi(-G)) / 2")  # type: ignore[valid-type]
    r1: IntProperty(name="r1", description="max_i d_H(pi_1, pi_i)")  # type: ignore[valid-type]
    r2: IntProperty(name="r2", description="sum_i d_H(pi_i, pi_i+1)")  # type: ignore[valid-type]
    regions: IntProperty(name="Regions", description="Linear regions the path passes through")  # type: ignore[valid-type]
    method: StringProperty(name="Method", description="exact or sampled")  # type: ignore[valid-type]
    error: StringProperty(name="Error", description="Why the last automatic re-measurement failed")  # type: ignore[valid-type]


def folding_props(obj: bpy.types.Object) -> NeuralPolyFoldingProperties:
    return obj.neuralpoly_folding  # type: ignore[attr-defined]


def is_path(obj: bpy.types.Object | None) -> bool:
    """True for a path object made by :func:`measure`."""
    return obj is not None and obj.type == "MESH" and folding_props(obj).model is not None


def path_of(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The path object ``obj`` is, or whose start or end empty it is; None otherwise."""
    if obj is None:
        return None
    if is_path(obj):
        return obj
    if obj.type == "EMPTY":
        for other in bpy.data.objects:
            if is_path(other) and obj in (folding_props(other).start, folding_props(other).end):
                return other
    return None


def default_end_points(model: bpy.types.Object) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The diagonal of the model's stored box (level sets, booleans), else (-1, -1, -1) -> (1, 1, 1);
    z = 0 for a 2-input model."""
    p = model_store.props(model)
    lo, hi = np.array(p.bbox_min, dtype=np.float64), np.array(p.bbox_max, dtype=np.float64)
    if not np.any(hi > lo):
        lo, hi = -np.ones(3), np.ones(3)
    if p.dim == 2:
        lo[2] = hi[2] = 0.0
    return tuple(lo.tolist()), tuple(hi.tolist())


def _world(obj: bpy.types.Object) -> Matrix:
    """``obj``'s world matrix from its own transform and its parents' (``matrix_world`` is only
    brought up to date by a depsgraph update, which a script that just moved an object has not had)."""
    m = obj.matrix_basis.copy()
    if obj.parent is not None:
        m = _world(obj.parent) @ obj.matrix_parent_inverse @ m
    return m


def _model_space(model: bpy.types.Object, obj: bpy.types.Object) -> np.ndarray:
    return np.array(_world(model).inverted() @ _world(obj).translation, dtype=np.float64)


def _geometry(model: bpy.types.Object, x1, x2, samples: int) -> dict:
    """The core's :func:`scene_path` for the model object's network (all checks happen here)."""
    if model_store.kind_of(model) not in model_store.SINGLE_MODEL_KINDS:
        raise NeuralPolyError(f"{model.name!r} is not a model object (a polytope, level set, boolean or heightmap)")
    net, _ = model_store.load_model(model)
    if net.dim not in (2, 3):
        raise NeuralPolyError(f"space folding paths are drawn for models with 2 or 3 inputs; {model.name!r} has "
                              f"{net.dim}")
    return scene_path(net, x1, x2, samples=samples or None)


def _material() -> bpy.types.Material:
    """The shared material showing the ``hamming_color`` attribute (made once)."""
    mat = bpy.data.materials.get(MATERIAL_NAME)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(MATERIAL_NAME)
    if mat.node_tree is None:            # Blender 4.x; Blender 5 materials always have nodes
        mat.use_nodes = True
    tree = mat.node_tree
    assert tree is not None
    tree.nodes.clear()
    attr = cast(Any, tree.nodes.new("ShaderNodeAttribute"))
    attr.attribute_name = COLOR_ATTRIBUTE
    emit = tree.nodes.new("ShaderNodeEmission")
    out = tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(attr.outputs["Color"], emit.inputs["Color"])
    tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return mat


def _path_mesh(name: str, g: dict) -> bpy.types.Mesh:
    """An edge mesh: a vertex at each end and crossing, ``hamming`` and ``hamming_color`` per vertex."""
    me = bpy.data.meshes.new(name)
    try:
        co = np.ascontiguousarray(g["vertices3d"], dtype=np.float32)
        n = len(co)
        me.vertices.add(n)
        me.vertices.foreach_set("co", co.ravel())
        me.edges.add(n - 1)
        me.edges.foreach_set("vertices", np.repeat(np.arange(n, dtype=np.int32), 2)[1:-1])
        ham = cast(bpy.types.FloatAttribute, me.attributes.new(HAMMING_ATTRIBUTE, "FLOAT", "POINT"))
        ham.data.foreach_set("value", np.asarray(g["hamming"], dtype=np.float32))
        col = cast(Any, me.color_attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT"))
        col.data.foreach_set("color", np.ascontiguousarray(g["colors"], dtype=np.float32).ravel())
        me.color_attributes.active_color = col
        me.materials.append(_material())
        me.update()
    except BaseException:
        bpy.data.meshes.remove(me)
        raise
    return me


def _store(obj: bpy.types.Object, g: dict, x1, x2, samples: int) -> None:
    f = folding_props(obj)
    f.x1, f.x2 = tuple(x1), tuple(x2)
    f.samples = int(samples)
    f.chi, f.chi_reverse, f.d_chi = g["chi"], g["chi_reverse"], g["d_chi"]
    f.r1, f.r2, f.regions = g["r1"], g["r2"], g["regions"]
    f.method = g["method"]
    f.error = ""


def _empty(name: str, model: bpy.types.Object, x, size: float) -> bpy.types.Object:
    e = bpy.data.objects.new(name, None)
    e.empty_display_type = "SPHERE"
    e.empty_display_size = size
    e.location = _world(model) @ Vector(x)
    return e


def _point3(x, what: str) -> np.ndarray:
    """A point as 3 floats (a 2-D point gets z = 0)."""
    try:
        a = np.array(x, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise NeuralPolyError(f"the {what} point must be numbers, got {x!r}") from None
    if len(a) == 2:
        a = np.append(a, 0.0)
    if len(a) != 3:
        raise NeuralPolyError(f"the {what} point must have 3 coordinates (or 2 for a 2-input model), got {len(a)}")
    return a


def measure(context, model: bpy.types.Object, x1=None, x2=None, *, samples: int = 0,
            collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """Draw and measure the path ``x1 -> x2`` (3-D points in the model's local space; default
    :func:`default_end_points`) through ``model``'s network: a new path object and its two
    empties, linked to ``collection`` (default: the context's). Returns the path object, which
    becomes active and selected. ``samples`` 0: exact crossings; n >= 2: the sampled method.

    Raises
    ------
    NeuralPolyError
        Not a model object, a model without 2 or 3 inputs, x1 == x2, or a model that is not
        piecewise linear with ``samples = 0``; nothing is added then.
    """
    d1, d2 = default_end_points(model)
    x1, x2 = _point3(d1 if x1 is None else x1, "start"), _point3(d2 if x2 is None else x2, "end")
    if model_store.props(model).dim == 2:
        x1[2] = x2[2] = 0.0
    g = _geometry(model, x1, x2, samples)
    size = 0.04 * float(np.linalg.norm(x2 - x1)) or 0.05
    created: list = []
    try:
        me = _path_mesh(f"{model.name} Folding", g)
        created.append(me)
        obj = bpy.data.objects.new(me.name, me)
        created.append(obj)
        start = _empty(f"{obj.name} Start", model, x1, size)
        created.append(start)
        end = _empty(f"{obj.name} End", model, x2, size)
        created.append(end)
        obj.matrix_world = _world(model)
        f = folding_props(obj)
        f.model, f.start, f.end = model, start, end
        _store(obj, g, x1, x2, samples)
        coll = collection or context.collection or context.scene.collection
        for o in (obj, start, end):
            coll.objects.link(o)
    except BaseException:
        for thing in reversed(created):
            (bpy.data.meshes if isinstance(thing, bpy.types.Mesh) else bpy.data.objects).remove(thing)
        raise
    for o in context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    context.view_layer.objects.active = obj
    return obj


def remeasure(path: bpy.types.Object) -> bpy.types.Object:
    """Recompute ``path`` (a path object, or one of its empties) from its empties' current
    locations: new mesh, new numbers. Returns the path object.

    Raises
    ------
    NeuralPolyError
        Not a path, its model or an empty was deleted, or the new segment is refused (e.g.
        x1 == x2); the path is unchanged then.
    """
    obj = path_of(path)
    if obj is None:
        raise NeuralPolyError(f"{path.name!r} is not a space-folding path or one of its end points")
    f = folding_props(obj)
    for what, other in (("model", f.model), ("start empty", f.start), ("end empty", f.end)):
        if other is None or other.name not in bpy.data.objects:
            raise NeuralPolyError(f"the {what} of path {obj.name!r} was deleted; measure a new path")
    model = f.model
    x1, x2 = _model_space(model, f.start), _model_space(model, f.end)
    if model_store.props(model).dim == 2:
        x1[2] = x2[2] = 0.0
    g = _geometry(model, x1, x2, f.samples)
    old = obj.data
    if not isinstance(old, bpy.types.Mesh):
        raise NeuralPolyError(f"path {obj.name!r} is not a mesh")
    me = _path_mesh(old.name, g)
    obj.data = me
    if old.users == 0:
        name = old.name
        bpy.data.meshes.remove(old)
        me.name = name
    obj.matrix_world = _world(model)
    _store(obj, g, x1, x2, f.samples)
    return obj


def _moved(obj: bpy.types.Object) -> bool:
    f = folding_props(obj)
    if f.model is None or f.start is None or f.end is None:
        return False
    x1, x2 = _model_space(f.model, f.start), _model_space(f.model, f.end)
    if model_store.props(f.model).dim == 2:
        x1[2] = x2[2] = 0.0
    return not (np.allclose(x1, f.x1, rtol=0, atol=1e-7) and np.allclose(x2, f.x2, rtol=0, atol=1e-7)
                and np.allclose(np.array(_world(obj)), np.array(_world(f.model)), rtol=0, atol=1e-7))


_busy = False


@persistent
def _on_depsgraph_update(scene, depsgraph=None) -> None:
    """Re-measure the scene's auto-updating paths whose empties or model moved."""
    global _busy
    if _busy:
        return
    _busy = True
    try:
        for obj in list(scene.objects):
            if not is_path(obj) or not folding_props(obj).auto_update or not _moved(obj):
                continue
            try:
                remeasure(obj)
            except NeuralPolyError as e:    # keep the last result; say why in the panel
                f = folding_props(obj)
                f.x1, f.x2 = tuple(_model_space(f.model, f.start)), tuple(_model_space(f.model, f.end))
                f.error = str(e)
    finally:
        _busy = False


def register() -> None:
    bpy.utils.register_class(NeuralPolyFoldingProperties)
    bpy.types.Object.neuralpoly_folding = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=NeuralPolyFoldingProperties)
    if _on_depsgraph_update not in bpy.app.handlers.depsgraph_update_post:
        bpy.app.handlers.depsgraph_update_post.append(_on_depsgraph_update)


def unregister() -> None:
    while _on_depsgraph_update in bpy.app.handlers.depsgraph_update_post:
        bpy.app.handlers.depsgraph_update_post.remove(_on_depsgraph_update)
    del bpy.types.Object.neuralpoly_folding  # type: ignore[attr-defined]
    bpy.utils.unregister_class(NeuralPolyFoldingProperties)

