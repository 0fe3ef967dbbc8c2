"""Objects that show the level set ``f = c`` of any network inside a box.

Neural polytopes (bias-free, positively homogeneous networks) are star-shaped and are
extracted along rays (:mod:`.api`). Every other network the model format describes -- ReLU
networks with biases, linear heads, sigmoid networks, the boolean-algebra networks of
:mod:`.boolean_ops` -- is drawn here: its level set ``f = c`` inside a box, by exact
extraction (piecewise-linear networks: planar n-gon faces, merged where coplanar) or by
marching cubes (any network), with :func:`neuralpoly_core.levelset.extract_level_set`.

An object made here stores its network (``model_json``), its kind (``LEVELSET`` or
``BOOLEAN``) and the settings of its last extraction (level, box, method, resolution, cap)
in ``Object.neuralpoly`` (see :mod:`.model_store`), so it can be re-extracted with other
settings, after a save and reload, without the file it came from. Mesh vertices are the
network's input coordinates (the object's transform maps them into the scene).

A 2-D network's level set is a set of curves: its object is a mesh of edges in z = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np

from . import blender_mesh, model_store
from .neuralpoly_core.errors import ExtractionError, NeuralPolyError
from .neuralpoly_core.levelset import extract_level_set, parse_bbox
from .neuralpoly_core.mesh import PolyMesh
from .neuralpoly_core.mesh.naming import describe as describe_shape
from .neuralpoly_core.network import Network

__all__ = ["METHODS", "DEFAULT_BBOX", "MAX_RESOLUTION", "LevelSetSettings", "extract", "settings_from_meta",
           "create_object", "replace_mesh", "store_settings", "stored_settings", "describe"]

#: Extraction methods of level sets: 'auto' is exact for piecewise-linear networks, else marching.
METHODS = ("auto", "exact", "marching")
#: The box used when neither the caller nor the model's meta names one.
DEFAULT_BBOX = (-1.0, 1.0)
#: Largest marching-cubes grid (cells per axis) the add-on accepts.
MAX_RESOLUTION = 512

Box = tuple[tuple[float, ...], tuple[float, ...]]


def _number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)):
        raise ExtractionError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class LevelSetSettings:
    """How to draw a network's level set ``f = level`` in a box.

    level : the level c
    bbox : ``(lo, hi)`` for the cube ``[lo, hi]^d``, or ``((lo_1..lo_d), (hi_1..hi_d))``;
        None: the model's ``meta["bbox"]``, else :data:`DEFAULT_BBOX`
    method : 'auto' (exact for piecewise-linear networks, else marching), 'exact' or 'marching'
    resolution : marching grid cells per axis (exact extraction ignores it)
    cap : close the surface with the box sides inside the solid ``f < level``
    """

    level: float = 0.0
    bbox: tuple | None = None
    method: str = "auto"
    resolution: int = 64
    cap: bool = False

    def validated(self, net: Network) -> "LevelSetSettings":
        """Checked settings for ``net`` with 'auto' resolved and the box as per-axis corners.

        Raises
        ------
        ExtractionError
            Naming the setting that is wrong.
        """
        if net.dim not in (2, 3):
            raise ExtractionError(f"level sets are drawn for networks with 2 or 3 inputs; this one has "
                                  f"{net.dim} (restrict it to a 3-D slice first)")
        level = _number(self.level, "level")
        method = str(self.method).lower()
        if method not in METHODS:
            raise ExtractionError(f"level-set extraction method must be Auto, Exact or Marching, got {self.method!r}")
        if method == "auto":
            method = "exact" if net.is_piecewise_linear else "marching"
        if method == "exact" and not net.is_piecewise_linear:
            bad = sorted({layer.activation.name if layer.activation.name != "abs_pow" else
                          f"abs_pow with p = {layer.activation.p:g}"
                          for layer in net.layers if not layer.activation.piecewise_linear})
            raise ExtractionError(f"exact extraction needs a piecewise-linear network; this one has "
                                  f"{', '.join(bad)} (use Marching or Auto)")
        res = self.resolution
        if isinstance(res, bool) or not isinstance(res, (int, np.integer)) or not 4 <= int(res) <= MAX_RESOLUTION:
            raise ExtractionError(f"resolution must be a whole number in 4..{MAX_RESOLUTION}, got {res!r}")
        lo, hi = parse_bbox(DEFAULT_BBOX if self.bbox is None else _as_box_array(self.bbox, net.dim), net.dim)
        box = (tuple(float(v) for v in lo), tuple(float(v) for v in hi))
        return LevelSetSettings(level, box, method, int(res), bool(self.cap))

    @property
    def lo(self) -> np.ndarray:
        assert self.bbox is not None
        return np.asarray(self.bbox[0], dtype=np.float64)

    @property
    def hi(self) -> np.ndarray:
        assert self.bbox is not None
        return np.asarray(self.bbox[1], dtype=np.float64)


def _as_box_array(bbox, dim: int):
    """``(lo, hi)`` scalars, ``((lo..), (hi..))`` corners or a (dim, 2) array -> what parse_bbox takes."""
    try:
        b = np.asarray(bbox, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExtractionError(f"bbox must be (lo, hi) or two corners, got {bbox!r}") from None
    if b.shape == (2, dim):          # two corners
        return b.T
    return b


def settings_from_meta(meta: dict, base: LevelSetSettings | None = None) -> LevelSetSettings:
    """Settings for a loaded model: ``base`` with its open box filled from the model's meta.

    A model file may say where its level set lives: ``meta["level"]`` (a number, used when no
    ``base`` is given) and ``meta["bbox"]`` (``[lo, hi]`` or ``[[lo..], [hi..]]``, used when
    ``base.bbox`` is None).
    """
    if base is None:
        base = LevelSetSettings(level=meta.get("level", 0.0))
    if base.bbox is None and meta.get("bbox") is not None:
        base = LevelSetSettings(base.level, meta["bbox"], base.method, base.resolution, base.cap)
    return base


def extract(net: Network, ls: LevelSetSettings, progress=None) -> PolyMesh:
    """The level set of ``net`` under validated settings ``ls`` (3-D exact: coplanar faces merged)."""
    mesh = extract_level_set(net, ls.level, np.stack([ls.lo, ls.hi], axis=1), method=ls.method,
                             resolution=ls.resolution, cap=ls.cap,
                             merge_coplanar=ls.method == "exact" and net.dim == 3, progress=progress)
    if mesh.n_faces == 0:
        raise ExtractionError(
            f"the level set f = {ls.level:g} does not cross the box {_box_text(ls)}: nothing to draw "
            "(choose another level or a larger box)")
    return mesh


def _box_text(ls: LevelSetSettings) -> str:
    return " x ".join(f"[{a:g}, {b:g}]" for a, b in zip(ls.lo.tolist(), ls.hi.tolist()))


def _curve_mesh(name: str, mesh: PolyMesh) -> bpy.types.Mesh:
    """A 2-D level set (segments) as a Blender mesh of vertices and edges in z = 0."""
    me = bpy.data.meshes.new(name)
    try:
        co = np.ascontiguousarray(mesh.vertices3d(), dtype=np.float32).ravel()
        seg = np.ascontiguousarray(mesh.corners.reshape(-1, 2), dtype=np.int32).ravel()
        me.vertices.add(mesh.n_vertices)
        me.vertices.foreach_set("co", co)
        me.edges.add(len(seg) // 2)
        me.edges.foreach_set("vertices", seg)
        me.update()
    except BaseException:
        bpy.data.meshes.remove(me)
        raise
    return me


def _blender_mesh(name: str, mesh: PolyMesh) -> bpy.types.Mesh:
    if mesh.dim == 2:
        return _curve_mesh(name, mesh)
    return blender_mesh.new_mesh(name, mesh, smooth=mesh.info.get("method") == "marching")


def describe(mesh: PolyMesh) -> dict:
    """Facts of an extracted level set for the panel: f-vector, face sizes, level error, regions."""
    ids = np.asarray(mesh.region_ids)
    regions = ids[ids >= 0]
    return {
        "f_vector": list(mesh.f_vector) if mesh.dim == 3 else [mesh.n_vertices, mesh.n_faces],
        "face_sizes": ({str(k): v for k, v in mesh.face_size_counts().items()}
                       if mesh.dim == 3 and mesh.info.get("method") == "exact" else {}),
        "max_level_error": float(mesh.info.get("max_level_error") or 0.0),
        "regions": int(len(np.unique(regions))),
        # "cube", "square with a square hole", ... (None for unnamed shapes and open curves)
        "name": describe_shape(mesh)["name"] if mesh.n_faces else None,
    }


def store_settings(obj: bpy.types.Object, ls: LevelSetSettings, mesh: PolyMesh) -> None:
    """Record the settings and facts of the last extraction in ``obj.neuralpoly``."""
    p = model_store.props(obj)
    model_store.store_facts(obj, describe(mesh), method=ls.method, resolution=ls.resolution,
                            slice_theta=None, size=1.0)
    p.level = ls.level
    pad = [0.0] * (3 - len(ls.lo))
    p.bbox_min = tuple(ls.lo.tolist()) + tuple(pad)
    p.bbox_max = tuple(ls.hi.tolist()) + tuple(pad)
    p.cap = ls.cap


def stored_settings(obj: bpy.types.Object, dim: int) -> LevelSetSettings:
    """The settings of the object's last extraction (unvalidated)."""
    p = model_store.props(obj)
    box = (tuple(p.bbox_min)[:dim], tuple(p.bbox_max)[:dim])
    return LevelSetSettings(float(p.level), box, p.method or "auto", int(p.resolution), bool(p.cap))


def create_object(context, net: Network, meta: dict, ls: LevelSetSettings, mesh: PolyMesh, *, kind: str,
                  name: str, location, collection: bpy.types.Collection | None = None) -> bpy.types.Object:
    """A new object showing ``mesh`` (extracted from ``net`` with ``ls``), remembering all of it.

    Nothing is left behind if anything fails.
    """
    if kind not in model_store.LEVEL_SET_KINDS:
        raise ValueError(f"kind must be one of {model_store.LEVEL_SET_KINDS}, got {kind!r}")
    me = _blender_mesh(name, mesh)
    obj = bpy.data.objects.new(name, me)
    try:
        obj.location = tuple(location)
        model_store.store_model(obj, net, meta, kind=kind)
        store_settings(obj, ls, mesh)
        (collection or context.collection or context.scene.collection).objects.link(obj)
    except BaseException:
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(me)
        raise
    return obj


def replace_mesh(obj: bpy.types.Object, mesh: PolyMesh) -> None:
    """Give ``obj`` a new mesh datablock holding ``mesh``; name and materials are kept."""
    if not isinstance(obj.data, bpy.types.Mesh):
        raise NeuralPolyError(f"object {obj.name!r} is not a mesh")
    blender_mesh.replace_data(obj, _blender_mesh(obj.data.name, mesh))