"""Boolean algebra of neurons in Blender: convex mesh objects -> one network -> a new mesh.

The selected convex mesh objects become convex solids (one half-space neuron per face
plane, :meth:`neuralpoly_core.construct.boolean.Convex.from_mesh`), in world space: each object's
evaluated mesh (its modifiers applied) is transformed by its world matrix first. Their
union, intersection or difference (the active object minus the others) is written as a
``neuralpoly.boolean`` description and compiled by
:func:`neuralpoly_core.construct.boolean.network_from_description`:

* **hard** mode: an exact ReLU network; the level set ``f = 0`` is the polyhedral solid
  itself, extracted exactly (planar faces, coplanar pieces merged), so its volume agrees
  with Blender's Boolean modifier (exact solver);
* **soft** mode: the seed note's four sigmoid layers with the given ``sharpness`` (per unit
  of distance): low values blend the solids like metaballs. Extracted by marching cubes and
  capped by the box, so the surface is always closed.

The new object stores its network, the description (so another sharpness or mode can be
compiled later) and the extraction settings; the inputs are never modified. Its mesh is in
world coordinates (the object sits at the origin with no rotation or scale).

The extraction is the core's job ``extract_level_set``: :func:`plan_boolean` and
:func:`plan_reextract_boolean` say what to run and what its result then changes (see
:class:`.worker_client.Plan`), so operators can run it in the worker process.
"""

from __future__ import annotations

import json

import bpy
import numpy as np

from . import blender_mesh, levelset_objects, model_store
from .levelset_objects import LevelSetSettings
from .model_store import Kind
from .neuralpoly_core._checks import check_choice, check_float
from .neuralpoly_core.construct.boolean import network_from_description
from .neuralpoly_core.errors import ModelFormatError, NeuralPolyError
from .neuralpoly_core.mesh import PolyMesh
from .neuralpoly_core.network import Network
from .worker_client import Plan

__all__ = ["OPERATIONS", "MODES", "DEFAULT_SHARPNESS", "CONVEX_TOLERANCE", "convex_description",
           "description", "network_of", "extraction_box", "plan_boolean", "plan_reextract_boolean"]

OPERATIONS = ("union", "intersection", "difference")
MODES = ("hard", "soft")
DEFAULT_SHARPNESS = 8.0
#: Relative tolerance of the convexity test (Blender stores vertices in float32).
CONVEX_TOLERANCE = 1e-6


def convex_description(obj: bpy.types.Object, depsgraph) -> dict:
    """``{"mesh": {"vertices": ..., "faces": ...}}`` of a closed convex mesh object, world space.

    Raises
    ------
    NeuralPolyError
        Naming the object, if it is not a mesh, not closed, degenerate or not convex.
    """
    from .neuralpoly_core.construct.boolean import Convex
    mesh = blender_mesh.world_mesh(obj, depsgraph)
    V = mesh.vertices
    faces = [f.tolist() for f in mesh.faces]
    if not faces or len(V) < 4:
        raise NeuralPolyError(f"object {obj.name!r} has no closed surface: a convex solid needs faces")
    if not np.all(np.isfinite(V)):
        raise NeuralPolyError(f"object {obj.name!r} has vertices that are not finite")
    if not mesh.is_closed_manifold():
        raise NeuralPolyError(f"object {obj.name!r} is not a closed mesh (it has holes or loose "
                              "geometry); the boolean needs closed convex solids")
    try:
        Convex.from_mesh(V, faces, tolerance=CONVEX_TOLERANCE)
    except NeuralPolyError as e:
        raise NeuralPolyError(f"object {obj.name!r} cannot be used: {e}") from None
    if abs(mesh.volume()) <= 1e-9 * float(np.ptp(V, axis=0).max()) ** 3:
        raise NeuralPolyError(f"object {obj.name!r} is flat: a convex solid needs volume")
    return {"mesh": {"vertices": V.tolist(), "faces": faces}}


def _choice(value, choices: tuple[str, ...], what: str) -> str:
    """``value`` in lower case, one of ``choices`` (operator enums are upper case)."""
    return check_choice(str(value).lower(), choices, what)


def _sharpness(sharpness) -> float:
    return check_float(sharpness, "sharpness", 0.0, lo_open=True)


def ordered_inputs(objects, active: bpy.types.Object | None, operation: str) -> list[bpy.types.Object]:
    """The operands in order: the active object first (a difference subtracts the others from it),
    the others by name. Objects listed twice count once."""
    objs = list(dict.fromkeys(objects))
    if operation == "difference":
        if active is None or active not in objs:
            raise NeuralPolyError("a difference subtracts the other selected objects from the active "
                                  "object: make one of the selected objects active")
    if len(objs) < 2:
        raise NeuralPolyError(f"select at least two convex mesh objects for a {operation} "
                              f"(got {len(objs)})")
    first = [active] if active is not None and active in objs else []
    return first + sorted((o for o in objs if o is not active), key=lambda o: o.name)


def description(objects, *, operation: str, mode: str = "hard", sharpness: float = DEFAULT_SHARPNESS,
                depsgraph=None) -> dict:
    """The ``neuralpoly.boolean`` description of ``operation`` over ``objects`` (in that order)."""
    operation = _choice(operation, OPERATIONS, "operation")
    mode = _choice(mode, MODES, "mode")
    depsgraph = depsgraph or bpy.context.evaluated_depsgraph_get()
    parts = [convex_description(o, depsgraph) for o in objects]
    desc = {"format": "neuralpoly.boolean", "version": 1, "dim": 3, "mode": mode,
            "solid": {operation: parts}}
    if mode == "soft":
        desc["sharpness"] = _sharpness(sharpness)
    return desc


def with_mode(desc: dict, mode: str, sharpness: float | None) -> dict:
    """``desc`` switched to ``mode`` (soft: at ``sharpness``, or its own, or the default)."""
    mode = _choice(mode, MODES, "mode")
    out = {k: v for k, v in desc.items() if k not in ("mode", "sharpness", "logic_sharpness", "domain")}
    out["mode"] = mode
    if mode == "soft":
        out["sharpness"] = _sharpness(desc.get("sharpness", DEFAULT_SHARPNESS) if sharpness is None else sharpness)
    return out


def network_of(desc: dict) -> Network:
    """Compile a description; malformed ones raise :class:`ModelFormatError`."""
    return network_from_description(desc)


def _solid_points(desc: dict) -> np.ndarray:
    pts = []

    def walk(e):
        (kind, arg), = e.items()
        if kind == "mesh":
            pts.append(np.asarray(arg["vertices"], dtype=np.float64))
        elif isinstance(arg, list):
            for x in arg:
                walk(x)
    walk(desc["solid"])
    if not pts:
        raise ModelFormatError("the boolean description has no meshes")
    return np.concatenate(pts)


def extraction_box(desc: dict, margin: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The inputs' bounding box, grown by ``margin`` times its largest side on every side."""
    margin = check_float(margin, "margin", 0.0, 10.0)
    P = _solid_points(desc)
    lo, hi = P.min(axis=0), P.max(axis=0)
    pad = max(float(margin) * float((hi - lo).max()), 1e-6 * max(1.0, float(np.abs(P).max())))
    return tuple((lo - pad).tolist()), tuple((hi + pad).tolist())


def _settings(desc: dict, box, method: str, resolution: int) -> LevelSetSettings:
    # soft solids may reach past the inputs' box: capping keeps the surface closed
    return LevelSetSettings(0.0, box, method, resolution, cap=desc["mode"] == "soft")


def _store_source(obj: bpy.types.Object, desc: dict, operation: str) -> None:
    p = model_store.props(obj)
    p.source_json = json.dumps(desc, separators=(",", ":"))
    p.operation = operation
    p.boolean_mode = desc["mode"]
    p.sharpness = float(desc.get("sharpness", 0.0))
    p.arch_type = f"{operation} of {len(desc['solid'][operation])}, {desc['mode']}"


def plan_boolean(context, objects, *, active: bpy.types.Object | None = None, operation: str = "union",
                 mode: str = "hard", sharpness: float = DEFAULT_SHARPNESS, method: str = "auto",
                 resolution: int = 64, margin: float = 0.25, name: str | None = None) -> Plan:
    """The plan of a new object: the union, intersection or difference (``active`` minus the
    others) of the convex mesh ``objects``, drawn by a network built from their faces.

    Every setting is checked and the inputs are read now; the plan's job extracts the level set
    and its finish adds the object. The inputs are not changed; on any error nothing is added.
    """
    operation = _choice(operation, OPERATIONS, "operation")
    inputs = ordered_inputs(objects, active, operation)
    desc = description(inputs, operation=operation, mode=mode, sharpness=sharpness,
                       depsgraph=context.evaluated_depsgraph_get())
    net = network_of(desc)
    ls = _settings(desc, extraction_box(desc, margin), method, resolution).validated(net)
    info: dict = {"operation": operation, "mode": desc["mode"], "objects": [o.name for o in inputs]}
    if desc["mode"] == "soft":
        info["sharpness"] = desc["sharpness"]
    meta = {"boolean": info, "level": 0.0, "bbox": [list(ls.lo), list(ls.hi)]}
    title = name or f"NeuralBoolean {operation.title()}"

    def finish(mesh: PolyMesh, summary: dict) -> bpy.types.Object:
        obj = levelset_objects.create_object(context, net, meta, ls, mesh, summary, kind=Kind.BOOLEAN,
                                             name=title, location=(0.0, 0.0, 0.0))
        try:
            _store_source(obj, desc, operation)
        except BaseException:
            blender_mesh.remove_object(obj)
            raise
        return obj
    return levelset_objects.extraction_plan(net, ls, finish, what="Neural boolean",
                                            title=f"Extracting the {operation}")


def stored_description(obj: bpy.types.Object) -> dict:
    """The boolean description a BOOLEAN object remembers."""
    desc = model_store.stored_source(obj, Kind.BOOLEAN, "neural boolean", "boolean description")
    if not isinstance(desc.get("solid"), dict):
        raise ModelFormatError(f"the boolean description stored in {obj.name!r} is damaged")
    return desc


def plan_reextract_boolean(obj: bpy.types.Object, *, mode: str | None = None, sharpness: float | None = None,
                           method: str | None = None, resolution: int | None = None,
                           margin: float | None = None) -> Plan:
    """The plan of rebuilding a neural boolean at another mode, sharpness, method, resolution or margin.

    Settings left out keep their last values; a new mode or sharpness recompiles the network
    from the stored description (the input objects are not needed any more).
    """
    p = model_store.props(obj)
    desc = stored_description(obj)
    net, meta = model_store.load_model(obj)
    if mode is not None or sharpness is not None:
        desc = with_mode(desc, mode or desc.get("mode", "hard"), sharpness)
        net = network_of(desc)
    old = levelset_objects.stored_settings(obj, 3)
    box = old.bbox if margin is None else extraction_box(desc, margin)
    if method is None:
        # a mode change picks the method that mode needs unless one is asked for
        method = "auto" if desc["mode"] != p.boolean_mode else old.method
    ls = _settings(desc, box, method, old.resolution if resolution is None else resolution).validated(net)
    meta = dict(meta, bbox=[list(ls.lo), list(ls.hi)])
    meta["boolean"] = dict(meta.get("boolean") or {}, mode=desc["mode"])
    if desc["mode"] == "soft":
        meta["boolean"]["sharpness"] = desc["sharpness"]
    else:
        meta["boolean"].pop("sharpness", None)
    operation = p.operation or next(iter(desc["solid"]))

    def finish(mesh: PolyMesh, summary: dict) -> bpy.types.Object:
        model_store.require_alive(obj)
        levelset_objects.replace_mesh(obj, mesh)
        model_store.store_model(obj, net, meta, kind=Kind.BOOLEAN)
        levelset_objects.store_settings(obj, ls, summary)
        _store_source(obj, desc, operation)
        return obj
    return levelset_objects.extraction_plan(net, ls, finish, what="Neural boolean",
                                            title=f"Extracting the {operation}")
