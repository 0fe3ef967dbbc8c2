"""Linear-region objects: the region tessellation of a model object's network as a mesh.

:func:`plan_show_regions` checks the settings now and returns the :class:`~.worker_client.Plan`
of the core's job ``count_regions`` (:mod:`neuralpoly_core.jobs`), whose finish adds a mesh
object with one face per region (2-D inputs, or a plane slice) or every 3-D region's closed
boundary, each cell shrunk towards its centroid. Its faces carry the INT attributes
``region_id`` and ``popcount`` (ones in the region's activation pattern), the FLOAT_COLOR
attribute ``region_color`` (distinct colours, :func:`neuralpoly_core.regions.region_colors`)
and the corner colour attribute ``region_color_corners`` (the same, for the viewport and the
material ``NeuralPoly Regions``, which shows it). The count, pieces and bounds are kept as
the JSON ID property :data:`FACTS` on the new object and on the model object. The exact
enumeration needs numpy only, so it runs in Blender's own Python (the MILP, which needs scipy
or highspy, is the command line's).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any, cast

import bpy
import numpy as np

from . import blender_mesh, model_store
from .neuralpoly_core.errors import NeuralPolyError
from .neuralpoly_core.fileio import parse_json
from .neuralpoly_core.jobs import read_mesh_npz
from .neuralpoly_core.network.modelfile import model_to_json
from .neuralpoly_core.regions import region_colors
from .neuralpoly_core.regions.formulation import check_countable
from .worker_client import Plan

__all__ = ["plan_show_regions", "show_regions", "facts_of", "FACTS", "MATERIAL", "COLOR_ATTRIBUTE",
           "CORNER_COLOR_ATTRIBUTE", "POPCOUNT_ATTRIBUTE"]

#: ID property (JSON text) with the summary and bounds of the last count.
FACTS = "neuralpoly_regions"
MATERIAL = "NeuralPoly Regions"
COLOR_ATTRIBUTE = "region_color"
CORNER_COLOR_ATTRIBUTE = "region_color_corners"
POPCOUNT_ATTRIBUTE = "popcount"


def facts_of(obj: bpy.types.Object | None) -> dict | None:
    """The facts of the last region count stored on ``obj`` (None if there are none)."""
    if obj is None or FACTS not in obj.keys():
        return None
    try:
        d = parse_json(obj[FACTS], "stored region facts")
    except (NeuralPolyError, TypeError):
        return None
    return d if isinstance(d, dict) else None


def _arguments(obj, bbox, use_plane: bool, shrink: float, max_regions: int, output: str) -> dict:
    net, _ = model_store.load_model(obj)
    check_countable(net)                       # sigmoid, |x|^p with p != 1: refused before any work
    if not (isinstance(max_regions, int) and max_regions >= 1):
        raise NeuralPolyError(f"the region limit must be a whole number >= 1, got {max_regions!r}")
    if not 0.0 <= shrink < 1.0:
        raise NeuralPolyError(f"shrink must lie in [0, 1), got {shrink:g}")
    if net.dim == 1:
        raise NeuralPolyError("a 1-D network's regions are intervals, not polygons: count them with "
                              "'neuralpoly regions' (its breakpoints)")
    plane = net.dim > 3 or (use_plane and net.dim == 3)
    dim = 2 if plane else net.dim
    if bbox is None:
        p = model_store.props(obj)
        stored = model_store.kind_of(obj) in model_store.LEVEL_SET_KINDS
        lo = np.array(tuple(p.bbox_min)[:dim]) if stored else np.full(dim, -1.5)
        hi = np.array(tuple(p.bbox_max)[:dim]) if stored else np.full(dim, 1.5)
    else:
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64), (dim,)).copy() for v in bbox)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
        raise NeuralPolyError(f"the box needs finite lo < hi on every axis, got lo {lo.tolist()} hi {hi.tolist()}")
    args: dict[str, Any] = {"model": model_to_json(net, indent=None), "bbox": [lo.tolist(), hi.tolist()],
                            "method": "exact", "max_regions": int(max_regions),
                            "shrink": float(shrink) if dim == 3 else 0.0, "output": output}
    if plane:
        args.update(origin=[0.0] * net.dim, basis=np.eye(2, net.dim).tolist())
    return args


def _material() -> bpy.types.Material:
    mat = bpy.data.materials.get(MATERIAL)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(MATERIAL)
    if mat.node_tree is None:           # Blender 4.x; from 5.0 every material has its node tree
        mat.use_nodes = True
    tree = cast(bpy.types.ShaderNodeTree, mat.node_tree)
    bsdf = next((n for n in tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
    attr = cast(bpy.types.ShaderNodeAttribute, tree.nodes.new("ShaderNodeAttribute"))
    attr.attribute_type = "GEOMETRY"
    attr.attribute_name = CORNER_COLOR_ATTRIBUTE
    attr.location = (bsdf.location[0] - 300, bsdf.location[1])
    tree.links.new(cast(Any, attr).outputs["Color"], cast(Any, bsdf).inputs["Base Color"])
    return mat


def _build(name: str, mesh, source: bpy.types.Object, facts: dict, collection) -> bpy.types.Object:
    me = blender_mesh.new_mesh(name, mesh)
    try:
        rid = np.ascontiguousarray(mesh.region_ids, dtype=np.int64)
        count = int(facts["regions"])
        colors = region_colors(count)[rid].astype(np.float32)
        rgba = np.concatenate([colors, np.ones((len(rid), 1), np.float32)], axis=1)
        face_col = me.attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "FACE")
        cast(Any, face_col).data.foreach_set("color", rgba.ravel())
        corners = me.color_attributes.new(CORNER_COLOR_ATTRIBUTE, "FLOAT_COLOR", "CORNER")
        cast(Any, corners).data.foreach_set("color", np.repeat(rgba, mesh.face_sizes, axis=0).ravel())
        me.color_attributes.active_color = corners
        pop = mesh.region_patterns.sum(axis=1)[rid] if mesh.region_patterns is not None else np.zeros(len(rid))
        pc = me.attributes.new(POPCOUNT_ATTRIBUTE, "INT", "FACE")
        cast(Any, pc).data.foreach_set("value", np.ascontiguousarray(pop, dtype=np.int32))
        me.materials.append(_material())
    except BaseException:
        bpy.data.meshes.remove(me)
        raise
    obj = bpy.data.objects.new(name, me)
    try:
        obj.matrix_world = source.matrix_world.copy()
        obj[FACTS] = json.dumps(facts)
        collection.objects.link(obj)
    except BaseException:
        blender_mesh.remove_object(obj)
        raise
    return obj


def plan_show_regions(context, obj: bpy.types.Object | None = None, *, bbox=None, use_plane: bool = False,
                      shrink: float = 0.1, max_regions: int = 200_000, select: bool = True) -> Plan:
    """The plan of :func:`show_regions`; every setting is checked now.

    Raises
    ------
    NeuralPolyError
        No model object, a network that is not piecewise linear, a 1-D input, a bad box,
        shrink or region limit.
    """
    obj = context.active_object if obj is None else obj
    if obj is None or model_store.kind_of(obj) not in model_store.SINGLE_MODEL_KINDS:
        raise NeuralPolyError("the active object has no neural network model (a polytope, level set, "
                              "neural boolean or heightmap)")
    folder = tempfile.mkdtemp(prefix="neuralpoly-")
    try:
        args = _arguments(obj, bbox, use_plane, float(shrink), max_regions, os.path.join(folder, "regions.npz"))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    name = f"Regions {obj.name}"
    collection = context.collection or context.scene.collection

    def finish(result: dict) -> bpy.types.Object:
        model_store.require_alive(obj)
        facts = {**result["summary"], "bounds": result["bounds"], "model_object": obj.name}
        new = _build(name, read_mesh_npz(result["mesh"]), obj, facts, collection)
        obj[FACTS] = json.dumps(facts)
        if select:
            for o in context.selected_objects:
                o.select_set(False)
            new.select_set(True)
            context.view_layer.objects.active = new
        return new
    return Plan("count_regions", args, finish, "Region count", "Counting linear regions",
                cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))


def show_regions(context, obj: bpy.types.Object | None = None, *, progress=None, cancel=None,
                 **settings) -> bpy.types.Object:
    """Add the linear regions of ``obj``'s (default: the active object's) network as a mesh
    object, here and now (the operator runs the same plan in the worker)."""
    from .worker_client import run_here
    return run_here(plan_show_regions(context, obj, **settings), progress, cancel)
