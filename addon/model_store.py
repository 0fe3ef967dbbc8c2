"""The model an object remembers: ``Object.neuralpoly``, saved in the .blend file.

Every neural polytope object keeps its network as the core's ``neuralpoly.model`` JSON
(with ``meta``: type, training loss, seed, name) plus the settings and facts of its last
extraction. That is enough to re-extract at another resolution or slice without
retraining, after a save and reload, and even without PyTorch. The data are ID properties
saved in the .blend file; without the add-on they stay readable (Blender 5:
``obj.bl_system_properties_get()["neuralpoly"]["model_json"]``; 4.x: ``obj["neuralpoly"]``).
"""

from __future__ import annotations

import json
from enum import StrEnum

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, StringProperty)

from .neuralpoly_core.errors import ModelFormatError, NeuralPolyError
from .neuralpoly_core.fileio import parse_json
from .neuralpoly_core.network.modelfile import model_from_json, model_from_json_placed, model_to_json
from .neuralpoly_core.network import Network
from .neuralpoly_core.network.placement import Placement



class Kind(StrEnum):
    """What an object is. The values are what ``Object.neuralpoly.kind`` stores (and reads back).

    The stored values and their order are a format inside users' .blend files: Blender keeps an
    enum property as the number of its item (:data:`KIND_ITEMS`), so members are only ever added
    at the end.
    """

    NONE = "NONE"
    POLYTOPE = "POLYTOPE"
    SWEEP = "SWEEP"
    LEVELSET = "LEVELSET"
    BOOLEAN = "BOOLEAN"
    HEIGHTMAP = "HEIGHTMAP"
    LOWPOLY = "LOWPOLY"


_KIND_TEXT = {
    Kind.NONE: ("None", "Not a neural polytope"),
    Kind.POLYTOPE: ("Polytope", "One network's level set f = 1"),
    Kind.SWEEP: ("p-Sweep", "Several networks morphed with shape keys over frames"),
    Kind.LEVELSET: ("Level Set", "Any network's level set f = c inside a box"),
    Kind.BOOLEAN: ("Boolean", "Union, intersection or difference of convex objects, as a network"),
    Kind.HEIGHTMAP: ("Heightmap", "Metaball height field of a sigmoid network, blobs moved by animated biases"),
    Kind.LOWPOLY: ("Neural Low-Poly", "The level set f = 0 of a network fitted to a mesh's signed distance"),
}
#: EnumProperty items of ``kind``: (value, label, description, the number saved in .blend files).
KIND_ITEMS = [(k.value, *_KIND_TEXT[k], i) for i, k in enumerate(Kind)]
#: Kinds whose mesh is a level set f = c of one network in a box (see ``levelset_objects``).
LEVEL_SET_KINDS = frozenset({Kind.LEVELSET, Kind.BOOLEAN, Kind.LOWPOLY})
#: Kinds rebuilt by ``api.reextract_level_set``: level sets and heightmaps.
BOX_KINDS = LEVEL_SET_KINDS | {Kind.HEIGHTMAP}
#: Kinds that store one network in ``model_json``.
SINGLE_MODEL_KINDS = frozenset({Kind.POLYTOPE, Kind.HEIGHTMAP}) | LEVEL_SET_KINDS


class NeuralPolyBias(bpy.types.PropertyGroup):
    """One animatable bias of a heightmap's first layer (``Object.neuralpoly.biases[i].value``)."""

    value: FloatProperty(name="Bias", description="Bias of one layer-1 neuron")  # type: ignore[valid-type]


class NeuralPolyObjectProperties(bpy.types.PropertyGroup):
    """What a neural polytope object remembers (``Object.neuralpoly``)."""

    kind: EnumProperty(name="Kind", items=KIND_ITEMS, default=Kind.NONE.value)  # type: ignore[valid-type]
    model_json: StringProperty(  # type: ignore[valid-type]
        name="Model", description="The network as neuralpoly.model JSON (a JSON list of them for a p-sweep)",
        options={"HIDDEN"})
    arch_type: StringProperty(name="Type", description="Architecture type (n1,...;p1,...)")  # type: ignore[valid-type]
    dim: IntProperty(name="Dimension", description="Input dimension d of the network")  # type: ignore[valid-type]
    loss: FloatProperty(name="Loss", description="Training MSE of f - 1 on the sphere")  # type: ignore[valid-type]
    polytope_name: StringProperty(name="Name", description="Name of the polytope, if it has one")  # type: ignore[valid-type]
    method: StringProperty(name="Method", description="Extraction method used: exact or radial")  # type: ignore[valid-type]
    resolution: IntProperty(name="Resolution", default=32, description="Radial extraction resolution")  # type: ignore[valid-type]
    slice_theta: FloatProperty(  # type: ignore[valid-type]
        name="Slice Angle", subtype="ANGLE", description="d > 3: angle theta of the 3-D slice")
    size: FloatProperty(name="Size", default=1.0, description="Scale applied to the level set")  # type: ignore[valid-type]
    f_vector: StringProperty(name="f-vector", description="(vertices, edges, faces)")  # type: ignore[valid-type]
    face_sizes: StringProperty(name="Faces", description="Number of faces of each size")  # type: ignore[valid-type]
    max_level_error: FloatProperty(name="Level Error", description="max |f(v) - 1| over the vertices")  # type: ignore[valid-type]
    regions: IntProperty(name="Regions", description="Number of distinct linear regions of the faces")  # type: ignore[valid-type]
    frame_start: IntProperty(name="Start Frame", default=1)  # type: ignore[valid-type]
    frames_per_step: IntProperty(name="Frames per Step", default=24)  # type: ignore[valid-type]
    # level sets (LEVELSET, BOOLEAN): the level c, the box and the settings of the last extraction
    level: FloatProperty(name="Level", description="The level c of the level set f = c")  # type: ignore[valid-type]
    bbox_min: FloatVectorProperty(name="Box Min", size=3, description="Lower corner of the extraction box")  # type: ignore[valid-type]
    bbox_max: FloatVectorProperty(name="Box Max", size=3, description="Upper corner of the extraction box")  # type: ignore[valid-type]
    cap: BoolProperty(name="Cap", description="The surface was closed with the box sides")  # type: ignore[valid-type]
    # level sets (LOWPOLY, LEVELSET): the simplification of the last extraction (0 / 0.0: none)
    vertex_budget: IntProperty(  # type: ignore[valid-type]
        name="Vertex Budget", min=0, description="The mesh was simplified to at most this many vertices (0: no limit)")
    min_region_area: FloatProperty(  # type: ignore[valid-type]
        name="Min Region Area", min=0.0, max=1.0,
        description="Faces below this fraction of the total area were collapsed (0: none)")
    # BOOLEAN: the neuralpoly.boolean description (world-space convex meshes) and its mode;
    # HEIGHTMAP: the blob parameters (JSON)
    source_json: StringProperty(  # type: ignore[valid-type]
        name="Source", options={"HIDDEN"},
        description="What the network was built from: a neuralpoly.boolean description or heightmap settings")
    operation: StringProperty(name="Operation", description="Boolean operation: union, intersection or difference")  # type: ignore[valid-type]
    boolean_mode: StringProperty(name="Mode", description="hard (exact ReLU network) or soft (sigmoid network)")  # type: ignore[valid-type]
    sharpness: FloatProperty(name="Sharpness", description="Soft mode: sigmoid scale of the half-spaces")  # type: ignore[valid-type]
    # HEIGHTMAP: layer 1's biases, keyframed to move the blobs
    biases: CollectionProperty(type=NeuralPolyBias, name="Layer-1 Biases")  # type: ignore[valid-type]


def props(obj: bpy.types.Object) -> NeuralPolyObjectProperties:
    return obj.neuralpoly  # type: ignore[attr-defined]


def kind_of(obj: bpy.types.Object | None) -> Kind:
    """The object's :class:`Kind` (``Kind.NONE`` also for None, non-mesh objects and objects
    without a stored model)."""
    if obj is None or obj.type != "MESH":
        return Kind.NONE
    p = props(obj)
    return Kind(p.kind) if p.model_json else Kind.NONE


def store_model(obj: bpy.types.Object, net: Network, meta: dict, kind: Kind = Kind.POLYTOPE,
                placement: Placement | None = None) -> None:
    """Remember ``net`` (with ``meta``, and the ``placement`` of a network fitted to a mesh) as
    the object's model; ``kind`` is one of SINGLE_MODEL_KINDS."""
    if kind not in SINGLE_MODEL_KINDS:
        raise ValueError(f"kind must be one of {sorted(SINGLE_MODEL_KINDS)}, got {kind!r}")
    p = props(obj)
    p.kind = Kind(kind).value
    p.model_json = model_to_json(net, meta, indent=None, placement=placement)
    p.arch_type = str(meta.get("type") or "")
    p.dim = net.dim
    loss = meta.get("loss")
    p.loss = float(loss) if isinstance(loss, (int, float)) else 0.0


def load_model(obj: bpy.types.Object) -> tuple[Network, dict]:
    """The ``(network, meta)`` an object of one model remembers (polytope, level set, boolean, heightmap).

    Raises
    ------
    ModelFormatError
        If the object has no model, or its stored model is damaged.
    """
    if kind_of(obj) not in SINGLE_MODEL_KINDS:
        raise ModelFormatError(f"object {obj.name!r} has no neural polytope model")
    try:
        return model_from_json(props(obj).model_json)
    except ModelFormatError as e:
        raise ModelFormatError(f"the model stored in {obj.name!r} is damaged: {e}") from None


def load_placement(obj: bpy.types.Object) -> Placement | None:
    """The placement stored with the object's model (networks fitted to a mesh), else None."""
    if kind_of(obj) not in SINGLE_MODEL_KINDS:
        raise ModelFormatError(f"object {obj.name!r} has no neural polytope model")
    try:
        return model_from_json_placed(props(obj).model_json)[2]
    except ModelFormatError as e:
        raise ModelFormatError(f"the model stored in {obj.name!r} is damaged: {e}") from None


def store_sweep(obj: bpy.types.Object, models: list[tuple[Network, dict]], label: str) -> None:
    p = props(obj)
    p.kind = Kind.SWEEP.value
    p.model_json = json.dumps([model_to_json(n, m, indent=None) for n, m in models])
    p.arch_type = label
    p.dim = models[0][0].dim
    p.loss = max(float(m.get("loss") or 0.0) for _, m in models)


def load_sweep(obj: bpy.types.Object) -> list[tuple[Network, dict]]:
    if kind_of(obj) != Kind.SWEEP:
        raise ModelFormatError(f"object {obj.name!r} is not a p-sweep animation")
    try:
        texts = parse_json(props(obj).model_json, "stored models")
        if not isinstance(texts, list) or not texts:
            raise ModelFormatError("expected a non-empty list of models")
        return [model_from_json(t) for t in texts]
    except (ValueError, TypeError) as e:
        raise ModelFormatError(f"the models stored in {obj.name!r} are damaged: {e}") from None


def store_facts(obj: bpy.types.Object, summary: dict, *, method: str, resolution: int,
                slice_theta: float | None, size: float) -> None:
    """Record the facts of the last extraction (shown in the panel)."""
    p = props(obj)
    p.polytope_name = summary.get("name") or ""
    p.method = method
    p.resolution = int(resolution)
    p.slice_theta = 0.0 if slice_theta is None else float(slice_theta)
    p.size = float(size)
    p.f_vector = ", ".join(str(int(n)) for n in summary.get("f_vector", ()))
    p.face_sizes = ", ".join(f"{c}\u00d7{k}-gon" for k, c in (summary.get("face_sizes") or {}).items())
    p.max_level_error = float(summary.get("max_level_error") or 0.0)
    p.regions = int(summary.get("regions") or 0)


def stored_source(obj: bpy.types.Object, kind: Kind, noun: str, what: str) -> dict:
    """The JSON object a ``kind`` object keeps in ``source_json``.

    ``noun`` names the kind of object and ``what`` the stored data in error messages.
    """
    if kind_of(obj) != kind:
        raise ModelFormatError(f"object {obj.name!r} is not a {noun}")
    try:
        d = parse_json(props(obj).source_json, f"stored {what}")
    except ValueError as e:
        raise ModelFormatError(f"the {what} stored in {obj.name!r} cannot be read: {e}") from None
    if not isinstance(d, dict):
        raise ModelFormatError(f"the {what} stored in {obj.name!r} cannot be read: not a JSON object")
    return d


def require_alive(obj: bpy.types.Object) -> None:
    """Raise :class:`NeuralPolyError` if ``obj`` was deleted (or undone) since it was looked up,
    e.g. while a job for it ran in the worker."""
    try:
        obj.name
    except ReferenceError:
        raise NeuralPolyError("the object was deleted while its new mesh was being made; nothing was changed") from None
