"""Objects that show the level set ``f = c`` of any network inside a box.

Neural polytopes (bias-free, positively homogeneous networks) are star-shaped and are
extracted along rays (:mod:`.api`). Every other network the model format describes -- ReLU
networks with biases, linear heads, sigmoid networks, the boolean-algebra networks of
:mod:`.boolean_objects` -- is drawn here: its level set ``f = c`` inside a box, by exact
extraction (piecewise-linear networks: planar n-gon faces, merged where coplanar) or by
marching cubes (any network), with :func:`neuralpoly_core.levelset.extract_level_set`.

An object made here stores its network (``model_json``), its kind (``LEVELSET`` or
``BOOLEAN``) and the settings of its last extraction (level, box, method, resolution, cap,
and the vertex budget and minimum region area it was simplified to)
in ``Object.neuralpoly`` (see :mod:`.model_store`), so it can be re-extracted with other
settings, after a save and reload, without the file it came from. Mesh vertices are the
network's input coordinates (the object's transform maps them into the scene).

A 2-D network's level set is a set of curves: its object is a mesh of edges in z = 0.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from typing import Any, Callable

import bpy
import numpy as np

from . import blender_mesh, model_store
from .model_store import Kind
from .neuralpoly_core._checks import check_float, check_int
from .neuralpoly_core.errors import ExtractionError, NeuralPolyError
from .neuralpoly_core.jobs import read_mesh_npz
from .neuralpoly_core.levelset import parse_bbox
from .neuralpoly_core.mesh import PolyMesh
from .neuralpoly_core.network import Network
from .neuralpoly_core.network.modelfile import model_to_json
from .worker_client import Plan

__all__ = ["require_trilinear", "placed", "METHODS", "DEFAULT_BBOX", "MAX_RESOLUTION", "LevelSetSettings", "settings_from_meta",
           "extraction_plan", "facts", "create_object", "replace_mesh", "store_settings", "stored_settings"]

#: Extraction methods of level sets: 'auto' is exact for piecewise-linear networks, else marching.
METHODS = ("auto", "exact", "marching", "trilinear")
#: The box used when neither the caller nor the model's meta names one.
DEFAULT_BBOX = (-1.0, 1.0)
#: Largest marching-cubes grid (cells per axis) the add-on accepts.
MAX_RESOLUTION = 512

Box = tuple[tuple[float, ...], tuple[float, ...]]


def require_trilinear(net: Network) -> None:
    """ExtractionError unless ``net`` has a trilinear hash-grid encoding (Kim's method needs one)."""
    enc = getattr(net, "encoding", None)
    if enc is None or enc.is_piecewise_linear:
        what = "no hash-grid encoding" if enc is None else "a simplex hash grid (extract it with Exact)"
        raise ExtractionError(f"the Trilinear method is for networks with a trilinear hash-grid encoding; this "
                              f"network has {what}")


@dataclass(frozen=True)
class LevelSetSettings:
    """How to draw a network's level set ``f = level`` in a box.

    level : the level c; None: the model's ``meta["level"]``, else 0
    bbox : ``(lo, hi)`` for the cube ``[lo, hi]^d``, or ``((lo_1..lo_d), (hi_1..hi_d))`` (a
        2-D network also takes 3-D corners, as Blender's vector properties give: z is left
        out); None: the model's ``meta["bbox"]``, else :data:`DEFAULT_BBOX`
    method : 'auto' (exact for piecewise-linear networks, else marching), 'exact' or 'marching'
    resolution : marching grid cells per axis (exact extraction ignores it)
    cap : close the surface with the box sides inside the solid ``f < level``
    vertex_budget : simplify a closed 3-D surface to at most this many vertices (0: no limit;
        else at least 4), see :func:`neuralpoly_core.mesh.simplify.simplify_mesh`
    min_region_area : collapse faces below this fraction of the total area (0: none)
    """

    level: float | None = 0.0
    bbox: tuple | None = None
    method: str = "auto"
    resolution: int = 64
    cap: bool = False
    vertex_budget: int = 0
    min_region_area: float = 0.0

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
        level = check_float(0.0 if self.level is None else self.level, "level", error=ExtractionError)
        method = str(self.method).lower()
        if method not in METHODS:
            raise ExtractionError(f"level-set extraction method must be Auto, Exact, Marching or Trilinear, "
                                  f"got {self.method!r}")
        if method == "auto":
            method = "exact" if net.is_piecewise_linear else "marching"
        if method == "exact":
            net.require_piecewise_linear("use Marching or Auto")
        if method == "trilinear":
            require_trilinear(net)
        res = check_int(self.resolution, "resolution", 4, MAX_RESOLUTION, error=ExtractionError)
        lo, hi = parse_bbox(DEFAULT_BBOX if self.bbox is None else _as_box_array(self.bbox, net.dim), net.dim)
        box = (tuple(float(v) for v in lo), tuple(float(v) for v in hi))
        budget = check_int(self.vertex_budget, "vertex budget", 0, error=ExtractionError)
        if 0 < budget < 4:
            raise ExtractionError(f"a vertex budget must be 0 (no limit) or at least 4 (a tetrahedron), got {budget}")
        min_area = check_float(self.min_region_area, "minimum region area (fraction of the total)", 0.0, 1.0,
                               error=ExtractionError)
        if (budget or min_area) and (net.dim != 3 or self.cap):
            raise ExtractionError("a vertex budget or minimum region area simplifies closed 3-D surfaces "
                                  "(a network with 3 inputs, no Cap)")
        return LevelSetSettings(level, box, method, res, bool(self.cap), budget, min_area)

    def with_simplification(self, vertex_budget: int | None, min_region_area: float | None) -> "LevelSetSettings":
        """These settings with the budget and minimum area given (None: as they are)."""
        return replace(self, vertex_budget=self.vertex_budget if vertex_budget is None else vertex_budget,
                       min_region_area=self.min_region_area if min_region_area is None else min_region_area)

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
    if dim == 2 and b.shape == (2, 3):   # Blender's 3-D corners: a 2-D network uses x, y
        b = b[:, :2]
    if b.shape == (2, dim):          # two corners
        return b.T
    return b


def settings_from_meta(meta: dict, base: LevelSetSettings | None = None) -> LevelSetSettings:
    """Settings for a loaded model: ``base`` with its open level and box filled from the model's meta.

    A model file may say where its level set lives: ``meta["level"]`` (a number, used when
    ``base`` is None or its level is None) and ``meta["bbox"]`` (``[lo, hi]`` or
    ``[[lo..], [hi..]]``, used when ``base.bbox`` is None).
    """
    base = base or LevelSetSettings(level=None)
    level = meta.get("level", 0.0) if base.level is None else base.level
    bbox = meta.get("bbox") if base.bbox is None else base.bbox
    return replace(base, level=level, bbox=bbox)


def _job_arguments(net: Network, ls: LevelSetSettings, output: str) -> dict:
    args = {"model": model_to_json(net, indent=None), "level": ls.level,
            "bbox": np.stack([ls.lo, ls.hi], axis=1).tolist(), "method": ls.method, "resolution": ls.resolution,
            "cap": ls.cap, "merge_coplanar": ls.method == "exact" and net.dim == 3, "output": output}
    if ls.vertex_budget:
        args["vertex_budget"] = ls.vertex_budget
    if ls.min_region_area:
        args["min_region_area"] = ls.min_region_area
    return args


def extraction_plan(net: Network, ls: LevelSetSettings, finish: Callable[[PolyMesh, dict], Any], *,
                    what: str = "Level-set extraction", title: str = "Extracting the level set") -> Plan:
    """The plan of extracting ``net``'s level set under validated settings ``ls`` (3-D exact:
    coplanar faces merged) with the core's job ``extract_level_set``, then calling
    ``finish(mesh, summary)`` (``summary``: :func:`neuralpoly_core.summary.summarize`).

    The mesh comes back as an .npz file in a temporary folder that the plan removes.
    """
    folder = tempfile.mkdtemp(prefix="neuralpoly-")

    def done(result: dict) -> Any:
        return finish(read_mesh_npz(result["mesh"]), result["summary"])
    return Plan("extract_level_set", _job_arguments(net, ls, os.path.join(folder, "mesh.npz")), done, what, title,
                cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))


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


def facts(summary: dict) -> dict:
    """The facts of a level set shown in the panel, from its :func:`~neuralpoly_core.summary.summarize`
    summary: the same, but face sizes only for exact extraction (marching gives triangles)."""
    return summary if summary.get("method") == "exact" else dict(summary, face_sizes={})


def store_settings(obj: bpy.types.Object, ls: LevelSetSettings, summary: dict) -> None:
    """Record the settings and facts (``summary`` of the mesh) of the last extraction in ``obj.neuralpoly``."""
    p = model_store.props(obj)
    model_store.store_facts(obj, facts(summary), method=ls.method, resolution=ls.resolution,
                            slice_theta=None, size=1.0)
    p.level = ls.level
    pad = [0.0] * (3 - len(ls.lo))
    p.bbox_min = tuple(ls.lo.tolist()) + tuple(pad)
    p.bbox_max = tuple(ls.hi.tolist()) + tuple(pad)
    p.cap = ls.cap
    p.vertex_budget = ls.vertex_budget
    p.min_region_area = ls.min_region_area


def stored_settings(obj: bpy.types.Object, dim: int) -> LevelSetSettings:
    """The settings of the object's last extraction (unvalidated)."""
    p = model_store.props(obj)
    box = (tuple(p.bbox_min)[:dim], tuple(p.bbox_max)[:dim])
    return LevelSetSettings(float(p.level), box, p.method or "auto", int(p.resolution), bool(p.cap),
                            int(p.vertex_budget), float(p.min_region_area))


def placed(ls: LevelSetSettings | None, placement) -> LevelSetSettings | None:
    """``ls`` for a network fitted to a mesh: an open box becomes the ``placement``'s box (the
    object then gets the placement as its transform, :func:`create_object`)."""
    if placement is None:
        return ls
    ls = ls or LevelSetSettings(level=None)
    if ls.bbox is not None:
        return ls
    lo, hi = placement.box
    return replace(ls, bbox=((lo,) * 3, (hi,) * 3))


def create_object(context, net: Network, meta: dict, ls: LevelSetSettings, mesh: PolyMesh, summary: dict, *,
                  kind: Kind, name: str, location,
                  collection: bpy.types.Collection | None = None, placement=None) -> bpy.types.Object:
    """A new object showing ``mesh`` (extracted from ``net`` with ``ls``; ``summary`` its facts),
    remembering all of it (with the ``placement`` of a network fitted to a mesh, whose scale it
    takes: ``mesh`` is in network coordinates, ``location`` the placement's offset). Nothing is
    left behind if anything fails.
    """
    if kind not in model_store.LEVEL_SET_KINDS:
        raise ValueError(f"kind must be one of {sorted(model_store.LEVEL_SET_KINDS)}, got {kind!r}")
    me = _blender_mesh(name, mesh)
    obj = bpy.data.objects.new(name, me)
    try:
        obj.location = tuple(location)
        if placement is not None:
            obj.scale = (placement.scale,) * 3
        model_store.store_model(obj, net, meta, kind=kind, placement=placement)
        store_settings(obj, ls, summary)
        (collection or context.collection or context.scene.collection).objects.link(obj)
    except BaseException:
        blender_mesh.remove_object(obj)
        raise
    return obj


def replace_mesh(obj: bpy.types.Object, mesh: PolyMesh) -> None:
    """Give ``obj`` a new mesh datablock holding ``mesh``; name and materials are kept."""
    if not isinstance(obj.data, bpy.types.Mesh):
        raise NeuralPolyError(f"object {obj.name!r} is not a mesh")
    blender_mesh.replace_data(obj, _blender_mesh(obj.data.name, mesh))
