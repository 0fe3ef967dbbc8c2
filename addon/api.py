"""Scripting API of the add-on: everything the operators do, as plain functions.

The operators are thin wrappers around these functions; scripts, ``blender -b`` runs and
the ``bpy`` module call them directly (or the operators, which behave the same). Every
function either completes or raises :class:`neuralpoly_core.errors.NeuralPolyError` (bad
settings, a damaged model file, missing PyTorch, a diverged training) or
:class:`neuralpoly_core.errors.Cancelled` -- and then leaves the scene as it was.

Training happens in a separate worker process (see :mod:`.trainer`); these functions
wait for it. Models trained in this session are cached by their settings. Level sets
(:func:`load_level_set`, :func:`reextract_level_set`, :func:`add_boolean`) are extracted by
the core's job ``extract_level_set``, here in this process; their ``plan_*`` twins return
the same work as a :class:`Plan` (the job, and what its result then changes in the scene)
that the add-on's modal operators run in the worker process, so Blender does not freeze.

Example (inside Blender, the package name depends on the repository it was installed to)::

    import sys
    npb = sys.modules[next(m for m in bpy.context.preferences.addons.keys()
                           if m.endswith(".neuralpoly"))]
    obj = npb.api.add_polytope(dim=3, widths="4", p="1", seed=0)
    print(obj.neuralpoly.polytope_name)          # cuboctahedron
    npb.api.reextract(obj, method="radial", resolution=48)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import bpy

from . import blender_mesh, boolean_objects, heightmap_objects, levelset_objects, model_store, presets, trainer
from . import lowpoly_objects
from .folding_objects import measure as measure_folding, remeasure as remeasure_folding
from .levelset_objects import LevelSetSettings
from .lowpoly_objects import LowPolySettings
from .regions_objects import plan_show_regions, show_regions
from .model_store import Kind
from .neuralpoly_core.errors import ExtractionError, NeuralPolyError
from .neuralpoly_core.fileio import atomic_write_text
from .neuralpoly_core.mesh import PolyMesh
from .neuralpoly_core.network import Network
from .neuralpoly_core.network.architecture import ArchType, check_dim, type_of
from .neuralpoly_core.network.modelfile import load_model_placed, model_to_json
from .neuralpoly_core.network.placement import Placement
from .neuralpoly_core.polytope import METHODS, extract_polytope
from .neuralpoly_core.polytope.slicing import paper_slice_basis
from .neuralpoly_core.polytope.sweep import sweep_order
from .neuralpoly_core.summary import summarize
from .trainer import TrainSettings
from .worker_client import Plan, run_here

__all__ = [
    "ExtractSettings", "TrainSettings", "prepare", "add_polytope", "insert_polytope",
    "load_model_file", "save_model_file", "model_of", "reextract", "add_figure",
    "animate_sweep", "export_selection", "EXPORT_FORMATS",
    "LevelSetSettings", "insert_level_set", "load_level_set", "reextract_level_set",
    "add_boolean", "add_heightmap", "Kind",
    "Plan", "run_plan", "plan_model_file", "plan_level_set", "plan_load_level_set", "plan_reextract_level_set",
    "plan_boolean", "measure_folding", "remeasure_folding", "show_regions", "plan_show_regions",
    "LowPolySettings", "plan_lowpoly", "add_lowpoly",
]

EXPORT_FORMATS = ("OBJ", "STL")
Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


@dataclass(frozen=True)
class ExtractSettings:
    """How to turn a network into a mesh.

    method : 'auto' (exact for p = 1, radial otherwise), 'exact' or 'radial'
    resolution : radial extraction resolution (icosahedron edge subdivisions; 2-D: directions)
    slice_theta : d > 3 only: the 3-D slice x3 = .. = 0, x_{d-1} = x_d tan(theta) (radians)
    size : scale of the level set (f = 1 lies near the unit sphere)
    """

    method: str = "auto"
    resolution: int = 32
    slice_theta: float | None = None
    size: float = 1.0

    def validated(self, dim: int, piecewise_linear: bool, what: str = "this network") -> "ExtractSettings":
        method = str(self.method).lower()
        if method not in METHODS:
            raise ExtractionError(f"extraction method must be Auto, Exact or Radial, got {self.method!r}")
        if method == "exact" and not piecewise_linear:
            raise ExtractionError(f"exact extraction needs p = 1 in every layer; {what} is not "
                                  "piecewise linear (use Radial or Auto)")
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, int) or self.resolution < 3:
            raise ExtractionError(f"resolution must be a whole number >= 3, got {self.resolution!r}")
        if not (isinstance(self.size, (int, float)) and math.isfinite(self.size) and self.size > 0):
            raise ExtractionError(f"size must be a number > 0, got {self.size!r}")
        theta = self.slice_theta
        if dim > 3:
            if theta is None:
                raise ExtractionError(
                    f"a {dim}-D polytope cannot be shown whole: turn on Slice and choose the angle "
                    f"theta of the 3-D slice x3 = .. = 0, x{dim - 1} = x{dim} tan(theta)")
            if not math.isfinite(theta):
                raise ExtractionError(f"slice angle must be finite, got {theta!r}")
        else:
            theta = None  # a slice is only meaningful for d > 3
        return ExtractSettings(method, self.resolution, theta, float(self.size))

    def basis(self, dim: int):
        return None if self.slice_theta is None else paper_slice_basis(dim, self.slice_theta)


def _context(context) -> bpy.types.Context:
    return bpy.context if context is None else context


def prepare(*, dim: int, widths, p, method: str = "auto", resolution: int = 32,
            slice_theta: float | None = None, size: float = 1.0) -> tuple[tuple[int, ArchType], ExtractSettings]:
    """Validate settings before any training: ``((dim, type), extraction settings)``."""
    dim = check_dim(dim)
    arch = ArchType.from_strings(widths, p)
    ex = ExtractSettings(method, resolution, slice_theta, size).validated(dim, arch.piecewise_linear, str(arch))
    return (dim, arch), ex


def extract(net: Network, meta: dict, ex: ExtractSettings) -> tuple[PolyMesh, dict]:
    """Mesh and facts (:func:`neuralpoly_core.summary.summarize`) of a network."""
    mesh = extract_polytope(net, ex.method, resolution=ex.resolution, basis=ex.basis(net.dim))
    summary = summarize(net, mesh, arch=meta.get("type"), loss=meta.get("loss"))
    return mesh, summary


def object_name(meta: dict, net: Network, slice_theta: float | None) -> str:
    """``NeuralPolytope (4;1)``; slices add their angle."""
    arch = meta.get("type") or f"{net.dim}D model"
    name = f"NeuralPolytope {arch}"
    if slice_theta is not None:
        name += f" {presets.slice_label(slice_theta).replace(' ', '')}"
    return name


def _link(context, obj: bpy.types.Object, collection: bpy.types.Collection | None) -> None:
    target = collection or context.collection or context.scene.collection
    target.objects.link(obj)


def _select_only(context, objects: Sequence[bpy.types.Object]) -> None:
    for o in context.view_layer.objects:
        if o.select_get():
            o.select_set(False)
    for o in objects:
        o.select_set(True)
    if objects:
        context.view_layer.objects.active = objects[-1]


def _create_object(context, net: Network, meta: dict, mesh: PolyMesh, summary: dict, ex: ExtractSettings, *,
                   name: str, location, collection: bpy.types.Collection | None) -> bpy.types.Object:
    me = blender_mesh.new_mesh(name, mesh, size=ex.size, smooth=mesh.info.get("method") == "radial")
    obj = bpy.data.objects.new(name, me)
    try:
        obj.location = location
        model_store.store_model(obj, net, meta)
        model_store.store_facts(obj, summary, method=str(mesh.info.get("method", ex.method)),
                                resolution=ex.resolution, slice_theta=ex.slice_theta, size=ex.size)
        _link(context, obj, collection)
    except BaseException:
        blender_mesh.remove_object(obj)
        raise
    return obj


def insert_polytope(context, net: Network, meta: dict, ex: ExtractSettings | None = None, *,
                    location=None, name: str | None = None,
                    collection: bpy.types.Collection | None = None, select: bool = True) -> bpy.types.Object:
    """Extract ``net`` and add it as a new active object (no training, no torch).

    ``location`` defaults to the 3D cursor; ``meta`` is the model's metadata (type, loss, ...).
    """
    context = _context(context)
    if not net.is_neural_polytope:
        raise ExtractionError("this network is not a neural polytope (it has biases, non-homogeneous "
                              "activations or no sum head), so its level set f = 1 is not star-shaped: "
                              "draw it in a box with insert_level_set")
    ex = (ex or ExtractSettings()).validated(net.dim, net.is_piecewise_linear, str(meta.get("type") or "the network"))
    mesh, summary = extract(net, meta, ex)
    meta = dict(meta, name=summary.get("name"))
    loc = tuple(context.scene.cursor.location) if location is None else tuple(location)
    obj = _create_object(context, net, meta, mesh, summary, ex, name=name or object_name(meta, net, ex.slice_theta),
                         location=loc, collection=collection)
    if select:
        _select_only(context, [obj])
    return obj


def add_polytope(context=None, *, dim: int = 3, widths="4", p="1", seed: int = 0, restarts: int = 8,
                 steps: int = 0, device: str = "auto", method: str = "auto", resolution: int = 32,
                 slice_theta: float | None = None, size: float = 1.0, location=None,
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> bpy.types.Object:
    """Train (or reuse) a neural polytope and add it at the 3D cursor as the active object.

    ``widths`` and ``p`` are comma-separated text or sequences (``"4,2"``, ``"1"`` or one p
    per layer); ``steps = 0`` trains until converged; ``slice_theta`` is required for d > 3.
    """
    context = _context(context)
    spec, ex = prepare(dim=dim, widths=widths, p=p, method=method, resolution=resolution,
                       slice_theta=slice_theta, size=size)
    settings = TrainSettings(seed, restarts, steps, device).validated()
    (net, meta), = trainer.train_blocking([spec], settings, progress=progress, cancel=cancel)
    return insert_polytope(context, net, meta, ex, location=location)


def _read_model(filepath) -> tuple[Network, dict, Placement | None]:
    return load_model_placed(Path(bpy.path.abspath(str(filepath))))


def plan_model_file(context, filepath, ex: ExtractSettings | None = None, *, location=None,
                    level_set: LevelSetSettings | None = None) -> Plan:
    """The plan of :func:`load_model_file`: the file is read and checked now."""
    net, meta, placement = _read_model(filepath)
    if not net.is_neural_polytope:
        return plan_level_set(context, net, meta, level_set, location=location, placement=placement)
    if not meta.get("type"):
        arch = type_of(net)
        meta = dict(meta, type=None if arch is None else str(arch))
    return Plan(None, {}, lambda _: insert_polytope(context, net, meta, ex, location=location), "Extraction")


def load_model_file(context, filepath, ex: ExtractSettings | None = None, *, location=None,
                    level_set: LevelSetSettings | None = None, progress: Progress | None = None,
                    cancel: Cancel | None = None) -> bpy.types.Object:
    """Add the polytope of a ``neuralpoly.model`` JSON file (no training, no torch).

    A network that is not a neural polytope (:attr:`Network.is_neural_polytope`: biases, a
    linear head, sigmoids) is drawn as its level set in a box instead (:func:`insert_level_set`
    with ``level_set``, by default the file's ``meta`` level and box, else f = 0 in [-1, 1]^d).
    """
    return run_plan(plan_model_file(context, filepath, ex, location=location, level_set=level_set),
                    progress, cancel)


def model_of(obj: bpy.types.Object) -> tuple[Network, dict]:
    """The ``(network, meta)`` a neural polytope object remembers."""
    return model_store.load_model(obj)


def save_model_file(obj: bpy.types.Object, filepath) -> Path:
    """Write the object's model to a JSON model file (atomically)."""
    net, meta = model_of(obj)
    path = Path(bpy.path.abspath(str(filepath)))
    if not path.parent.is_dir():
        raise NeuralPolyError(f"folder {str(path.parent)!r} does not exist")
    placement = model_store.load_placement(obj)      # networks fitted to a mesh: where it was
    atomic_write_text(path, model_to_json(net, meta, placement=placement) + "\n")
    return path


def reextract(obj: bpy.types.Object, *, method: str | None = None, resolution: int | None = None,
              slice_theta: float | None = None, size: float | None = None) -> bpy.types.Object:
    """Rebuild the object's mesh from its stored model; unset settings keep their last values.

    The object keeps its name, transform and materials; its mesh datablock is replaced.
    A p-sweep object is rebuilt (all shape keys) at the new resolution. Level-set, boolean
    and heightmap objects go to :func:`reextract_level_set` (method and resolution only).
    """
    p = model_store.props(obj)
    kind = model_store.kind_of(obj)
    if kind in model_store.BOX_KINDS:
        # level sets know no radial method and no slices; size is the box's business
        if method is not None and method.lower() not in levelset_objects.METHODS:
            raise ExtractionError(f"{obj.name!r} is a level set in a box: extract it with Auto, Exact or "
                                  f"Marching, not {method!r}")
        if kind == Kind.HEIGHTMAP:
            return reextract_level_set(obj, resolution=resolution)
        return reextract_level_set(obj, method=method, resolution=resolution)
    res = p.resolution if resolution is None else resolution
    sz = p.size if size is None else size
    if kind == Kind.SWEEP:
        models = model_store.load_sweep(obj)
        ExtractSettings("radial", res, None, sz).validated(models[0][0].dim, False)
        name = obj.data.name if obj.data is not None else obj.name
        presets.build_sweep_mesh(obj, name, models, resolution=res, size=sz,
                                 frame_start=p.frame_start, frames_per_step=p.frames_per_step)
        p.resolution, p.size = res, float(sz)
        return obj
    net, meta = model_of(obj)
    theta = (p.slice_theta if net.dim > 3 else None) if slice_theta is None else slice_theta
    ex = ExtractSettings(method or "auto", res, theta, sz).validated(
        net.dim, net.is_piecewise_linear, str(meta.get("type") or "the network"))
    mesh, summary = extract(net, meta, ex)
    if not isinstance(obj.data, bpy.types.Mesh):
        raise NeuralPolyError(f"object {obj.name!r} is not a mesh")
    blender_mesh.replace_data(obj, blender_mesh.new_mesh(
        obj.data.name, mesh, size=ex.size, smooth=mesh.info.get("method") == "radial"))
    model_store.store_facts(obj, summary, method=str(mesh.info.get("method", ex.method)),
                            resolution=ex.resolution, slice_theta=ex.slice_theta, size=ex.size)
    return obj


# ----------------------------------------------------------------------------------------
# paper presets
# ----------------------------------------------------------------------------------------
def add_figure(context=None, figure: int = 7, *, seed: int = 0, restarts: int = 8, steps: int = 0,
               device: str = "auto", method: str = "auto", resolution: int = 32, size: float = 1.0,
               gap: float = 0.6, location=None, progress: Progress | None = None,
               cancel: Callable[[], bool] | None = None) -> list[bpy.types.Object]:
    """Lay out a whole paper figure in a row from the 3D cursor, each object labelled.

    Returns the polytope objects (left to right), in a new collection named after the figure.
    """
    context = _context(context)
    entries = presets.figure_entries(figure)
    settings = TrainSettings(seed, restarts, steps, device).validated()
    specs = [(e.net.dim, e.net.arch) for e in entries]
    models = trainer.train_blocking(specs, settings, progress=progress, cancel=cancel)
    built = []
    for entry, (net, meta) in zip(entries, models):
        ex = ExtractSettings(method, resolution, entry.slice_theta, size).validated(
            net.dim, net.is_piecewise_linear, str(entry.net.arch))
        mesh, summary = extract(net, meta, ex)
        built.append((entry, net, dict(meta, name=summary.get("name")), mesh, summary, ex))
    radii = [float(max(1e-9, (mesh.vertices ** 2).sum(1).max() ** 0.5)) * size for _, _, _, mesh, _, _ in built]
    xs = presets.row_positions(radii, gap * size)
    origin = tuple(context.scene.cursor.location) if location is None else tuple(location)
    caption = presets.FIGURE_CAPTIONS.get(int(figure), "")
    coll = bpy.data.collections.new(f"Fig. {int(figure)}" + (f": {caption}" if caption else ""))
    objects: list[bpy.types.Object] = []
    try:
        (context.collection or context.scene.collection).children.link(coll)
        for (entry, net, meta, mesh, summary, ex), x, r in zip(built, xs, radii):
            obj = _create_object(context, net, meta, mesh, summary, ex,
                                 name=object_name(meta, net, ex.slice_theta),
                                 location=(origin[0] + x, origin[1], origin[2]), collection=coll)
            objects.append(obj)
            text = entry.label + (f"\n{summary['name']}" if summary.get("name") else "")
            presets.add_label(coll, obj, text, radius=r, size=size, flat=mesh.dim == 2)
    except BaseException:
        _remove_collection(coll)
        raise
    _select_only(context, objects)
    return objects


def _remove_collection(coll: bpy.types.Collection) -> None:
    for obj in list(coll.objects):
        data = obj.data
        bpy.data.objects.remove(obj)
        if data is not None and data.users == 0:
            if isinstance(data, bpy.types.Mesh):
                bpy.data.meshes.remove(data)
            elif isinstance(data, bpy.types.Curve):
                bpy.data.curves.remove(data)
    bpy.data.collections.remove(coll)


def sweep_label(models: Sequence[tuple[Network, dict]]) -> str:
    degrees = sorted(float(n.degree or 0.0) for n, _ in models)
    widths = ",".join(str(w) for w in models[0][0].widths)
    return f"({widths};p), p = {degrees[0]:g} \u2026 {degrees[-1]:g}"


def animate_sweep(context=None, models: Iterable[tuple[Network, dict]] | None = None, *,
                  figure: int | None = None, objects: Iterable[bpy.types.Object] | None = None,
                  seed: int = 0, restarts: int = 8, steps: int = 0, device: str = "auto",
                  resolution: int = 16, size: float = 1.0, frame_start: int | None = None,
                  frames_per_step: int = 24, location=None, progress: Progress | None = None,
                  cancel: Callable[[], bool] | None = None) -> bpy.types.Object:
    """One object that morphs through a p-sweep with shape keys over frames.

    The networks come from ``models``, from a sweep ``figure`` (6-9: trained, or reused
    from the cache), or from the neural polytope ``objects`` (e.g. a laid-out figure; left
    to right), and are ordered by degree (p). Networks of different widths morph too (keys
    named by type). Key k is reached at ``frame_start + k * frames_per_step``.
    """
    context = _context(context)
    chosen = [x is not None for x in (models, figure, objects)]
    if sum(chosen) != 1:
        raise NeuralPolyError("give exactly one of models, figure or objects for a p-sweep")
    if isinstance(frames_per_step, bool) or not isinstance(frames_per_step, int) or frames_per_step < 1:
        raise NeuralPolyError(f"frames per step must be at least 1, got {frames_per_step!r}")
    if figure is not None:
        if int(figure) not in presets.SWEEP_FIGURES:
            raise NeuralPolyError(f"Fig. {figure} is not a p-sweep; p-sweeps are Figs. "
                                  f"{', '.join(str(f) for f in presets.SWEEP_FIGURES)}")
        settings = TrainSettings(seed, restarts, steps, device).validated()
        specs = [(n.dim, n.arch) for n in presets.FIGURES[int(figure)]]
        model_list = trainer.train_blocking(specs, settings, progress=progress, cancel=cancel)
    elif objects is not None:
        objs = [o for o in objects if model_store.kind_of(o) == Kind.POLYTOPE]
        if len(objs) < 2:
            raise NeuralPolyError("select at least two neural polytope objects of one p-sweep")
        objs.sort(key=lambda o: (o.matrix_world.translation.x, o.matrix_world.translation.y))  # a row: left to right
        model_list = [model_of(o) for o in objs]
    else:
        model_list = list(models or [])
    model_list = sweep_order(model_list)
    ExtractSettings("radial", resolution, None, size).validated(model_list[0][0].dim, False)
    start = context.scene.frame_start if frame_start is None else int(frame_start)
    label = sweep_label(model_list)
    name = f"NeuralPolytope {label}"
    obj = bpy.data.objects.new(name, bpy.data.meshes.new(name))
    placeholder = obj.data
    try:
        presets.build_sweep_mesh(obj, name, model_list, resolution=resolution, size=size,
                                 frame_start=start, frames_per_step=frames_per_step)
        model_store.store_sweep(obj, model_list, label)
        p = model_store.props(obj)
        p.resolution, p.size, p.method = resolution, float(size), "radial"
        p.frame_start, p.frames_per_step = start, frames_per_step
        p.polytope_name = f"{len(model_list)} shapes"
        obj.location = tuple(context.scene.cursor.location) if location is None else tuple(location)
        _link(context, obj, None)
    except BaseException:
        data = obj.data
        bpy.data.objects.remove(obj)
        for me in {placeholder, data}:
            if isinstance(me, bpy.types.Mesh) and me.users == 0:
                bpy.data.meshes.remove(me)
        raise
    end = start + (len(model_list) - 1) * frames_per_step
    if context.scene.frame_end < end:
        context.scene.frame_end = end
    _select_only(context, [obj])
    return obj


# ----------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------
def export_selection(context, filepath, fmt: str = "OBJ") -> Path:
    """Export the selected mesh objects with Blender's own exporter: OBJ (n-gons) or STL."""
    context = _context(context)
    fmt = str(fmt).upper()
    if fmt not in EXPORT_FORMATS:
        raise NeuralPolyError(f"export format must be OBJ or STL, got {fmt!r}")
    path = Path(bpy.path.abspath(str(filepath)))
    if path.suffix.lower() != f".{fmt.lower()}":
        path = path.with_suffix(f".{fmt.lower()}")
    if not path.parent.is_dir():
        raise NeuralPolyError(f"folder {str(path.parent)!r} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise NeuralPolyError(f"folder {str(path.parent)!r} is not writable")
    meshes = [o for o in context.selected_objects if o.type == "MESH"]
    if not meshes:
        raise NeuralPolyError("select the mesh objects to export first")
    if fmt == "OBJ":
        result = bpy.ops.wm.obj_export(filepath=str(path), export_selected_objects=True,
                                       export_materials=False, export_triangulated_mesh=False,
                                       apply_modifiers=True)
    else:
        result = bpy.ops.wm.stl_export(filepath=str(path), export_selected_objects=True,
                                       ascii_format=False, apply_modifiers=True)
    if "FINISHED" not in (result or set()) or not path.is_file():
        raise NeuralPolyError(f"Blender's {fmt} exporter did not write {str(path)!r}")
    return path



# ----------------------------------------------------------------------------------------
# general networks: level sets in a box, boolean algebra of neurons, metaball heightmaps
# ----------------------------------------------------------------------------------------
def _network_title(net: Network, meta: dict) -> str:
    acts = sorted({layer.activation.name for layer in net.layers})
    return str(meta.get("type") or f"{net.dim}D {'/'.join(acts)} {','.join(str(w) for w in net.widths)}")


def run_plan(plan: Plan, progress: Progress | None = None, cancel: Cancel | None = None):
    """Run a plan here, synchronously (its job in this process, then its finish): what the
    modal operators run in the worker process."""
    return run_here(plan, progress, cancel)


def _selecting(context, plan: Plan, select: bool) -> Plan:
    """``plan`` whose finish also makes its new object the only selected and active one."""
    if select:
        finish = plan.finish

        def finish_and_select(result):
            obj = finish(result)
            _select_only(context, [obj])
            return obj
        plan.finish = finish_and_select
    return plan


def plan_level_set(context, net: Network, meta: dict, ls: LevelSetSettings | None = None, *,
                   location=None, name: str | None = None, select: bool = True,
                   placement: Placement | None = None) -> Plan:
    """The plan of :func:`insert_level_set`: the settings are checked now. A network fitted to a
    mesh (its model file's ``placement``) is extracted in the placement's box and lands where
    the mesh was (``location`` is then ignored; see :func:`levelset_objects.placed`)."""
    context = _context(context)
    ls = levelset_objects.settings_from_meta(meta, levelset_objects.placed(ls, placement)).validated(net)
    loc = tuple(context.scene.cursor.location) if location is None else tuple(location)
    loc = loc if placement is None else tuple(placement.offset)
    title = name or f"LevelSet {_network_title(net, meta)}"

    def finish(mesh: PolyMesh, summary: dict) -> bpy.types.Object:
        return levelset_objects.create_object(context, net, meta, ls, mesh, summary, kind=Kind.LEVELSET,
                                              name=title, location=loc, placement=placement)
    return _selecting(context, levelset_objects.extraction_plan(net, ls, finish), select)


def insert_level_set(context, net: Network, meta: dict, ls: LevelSetSettings | None = None, *,
                     location=None, name: str | None = None, select: bool = True,
                     progress: Progress | None = None, cancel: Cancel | None = None) -> bpy.types.Object:
    """Extract the level set ``f = c`` of any network in a box and add it as the active object.

    ``ls`` defaults to the model's ``meta["level"]`` and ``meta["bbox"]`` (else level 0 in
    the cube [-1, 1]^d), method 'auto' (exact for piecewise-linear networks, else marching);
    a level or box of None in ``ls`` is taken from the meta too.
    """
    return run_plan(plan_level_set(context, net, meta, ls, location=location, name=name, select=select),
                    progress, cancel)


def plan_load_level_set(context, filepath, ls: LevelSetSettings | None = None, *, location=None) -> Plan:
    """The plan of :func:`load_level_set`: the file is read and the settings checked now."""
    net, meta, placement = _read_model(filepath)
    return plan_level_set(context, net, meta, ls, location=location, placement=placement)


def load_level_set(context, filepath, ls: LevelSetSettings | None = None, *, location=None,
                   progress: Progress | None = None, cancel: Cancel | None = None) -> bpy.types.Object:
    """Add the level set ``f = c`` in a box of any ``neuralpoly.model`` file (no torch).

    Unlike :func:`load_model_file`, a neural polytope is drawn this way too (e.g. its level
    f = 1 in a box, exactly or by marching cubes).
    """
    return run_plan(plan_load_level_set(context, filepath, ls, location=location), progress, cancel)


def plan_reextract_level_set(obj: bpy.types.Object, *, level: float | None = None, bbox=None,
                             method: str | None = None, resolution: int | None = None, cap: bool | None = None,
                             mode: str | None = None, sharpness: float | None = None,
                             margin: float | None = None, vertex_budget: int | None = None,
                             min_region_area: float | None = None) -> Plan:
    """The plan of :func:`reextract_level_set`: the settings are checked now."""
    kind = model_store.kind_of(obj)
    if kind == Kind.HEIGHTMAP:
        if vertex_budget is not None or min_region_area is not None:
            raise NeuralPolyError("a heightmap is a grid: a vertex budget or minimum region area applies to "
                                  "level sets and low-poly objects")
        return Plan(None, {}, lambda _: heightmap_objects.rebuild(obj, resolution=resolution), "Rebuilding")
    if kind == Kind.BOOLEAN:
        if vertex_budget is not None or min_region_area is not None:
            raise NeuralPolyError("a neural boolean is not simplified: a vertex budget or minimum region area "
                                  "applies to level sets and low-poly objects")
        if level is not None or bbox is not None or cap is not None:
            raise NeuralPolyError("a neural boolean is always the level f = 0 of its network in a box around "
                                  "its inputs: change its margin, mode, sharpness or resolution instead")
        return boolean_objects.plan_reextract_boolean(obj, mode=mode, sharpness=sharpness, method=method,
                                                      resolution=resolution, margin=margin)
    if kind not in (Kind.LEVELSET, Kind.LOWPOLY):
        raise NeuralPolyError(f"object {obj.name!r} is not a level set, neural boolean or heightmap")
    if mode is not None or sharpness is not None or margin is not None:
        raise NeuralPolyError("mode, sharpness and margin apply to neural booleans only")
    net, meta = model_of(obj)
    old = levelset_objects.stored_settings(obj, net.dim)
    if kind == Kind.LOWPOLY and not model_store.props(obj).is_property_set("vertex_budget"):
        old = old.with_simplification(lowpoly_objects.made_with_budget(obj), None)   # saved before it was stored
    ls = LevelSetSettings(old.level if level is None else level, old.bbox if bbox is None else bbox,
                          old.method if method is None else method,
                          old.resolution if resolution is None else resolution,
                          old.cap if cap is None else cap, old.vertex_budget, old.min_region_area
                          ).with_simplification(vertex_budget, min_region_area).validated(net)

    def finish(mesh: PolyMesh, summary: dict) -> bpy.types.Object:
        model_store.require_alive(obj)
        levelset_objects.replace_mesh(obj, mesh)
        levelset_objects.store_settings(obj, ls, summary)
        return obj
    return levelset_objects.extraction_plan(net, ls, finish)


def reextract_level_set(obj: bpy.types.Object, *, level: float | None = None, bbox=None,
                        method: str | None = None, resolution: int | None = None, cap: bool | None = None,
                        mode: str | None = None, sharpness: float | None = None,
                        margin: float | None = None, vertex_budget: int | None = None,
                        min_region_area: float | None = None, progress: Progress | None = None,
                        cancel: Cancel | None = None) -> bpy.types.Object:
    """Rebuild a level-set, boolean or heightmap object; settings left out keep their last values.

    Level sets (and low-poly objects): ``level``, ``bbox``, ``method`` ('auto', 'exact',
    'marching'), ``resolution``, ``cap``, ``vertex_budget`` (0: no limit) and ``min_region_area``
    (0: none) of the simplification (:func:`neuralpoly_core.mesh.simplify.simplify_mesh`; a
    low-poly object keeps the budget it was made with). Booleans: ``mode`` ('hard', 'soft'),
    ``sharpness``, ``margin`` (box around the inputs), ``method``, ``resolution``. Heightmaps:
    ``resolution``.
    """
    return run_plan(plan_reextract_level_set(obj, level=level, bbox=bbox, method=method, resolution=resolution,
                                             cap=cap, mode=mode, sharpness=sharpness, margin=margin,
                                             vertex_budget=vertex_budget, min_region_area=min_region_area),
                    progress, cancel)


def plan_boolean(context=None, objects: Iterable[bpy.types.Object] | None = None, *,
                 active: bpy.types.Object | None = None, operation: str = "union", mode: str = "hard",
                 sharpness: float = boolean_objects.DEFAULT_SHARPNESS, method: str = "auto", resolution: int = 64,
                 margin: float = 0.25, select: bool = True) -> Plan:
    """The plan of :func:`add_boolean`: the inputs are read and the settings checked now."""
    context = _context(context)
    objs = list(context.selected_objects if objects is None else objects)
    act = context.active_object if active is None else active
    plan = boolean_objects.plan_boolean(context, objs, active=act, operation=operation, mode=mode,
                                        sharpness=sharpness, method=method, resolution=resolution, margin=margin)
    return _selecting(context, plan, select)


def add_boolean(context=None, objects: Iterable[bpy.types.Object] | None = None, *,
                active: bpy.types.Object | None = None, operation: str = "union", mode: str = "hard",
                sharpness: float = boolean_objects.DEFAULT_SHARPNESS, method: str = "auto", resolution: int = 64,
                margin: float = 0.25, select: bool = True, progress: Progress | None = None,
                cancel: Cancel | None = None) -> bpy.types.Object:
    """Union, intersection or difference (active minus the others) of convex mesh objects.

    ``objects`` and ``active`` default to the selection and the active object. The new
    object stores its network and can be re-extracted (:func:`reextract_level_set`) at
    another mode, sharpness or resolution; the inputs are left untouched. See
    :mod:`.boolean_objects`.
    """
    return run_plan(plan_boolean(context, objects, active=active, operation=operation, mode=mode,
                                 sharpness=sharpness, method=method, resolution=resolution, margin=margin,
                                 select=select), progress, cancel)


def add_heightmap(context=None, *, select: bool = True, **settings) -> bpy.types.Object:
    """Add a metaball heightmap whose blobs move over the timeline (see :mod:`.heightmap_objects`).

    Settings: ``blobs``, ``seed``, ``radius``, ``sharpness``, ``size``, ``resolution``,
    ``height``, ``amplitude``, ``period``, ``keyframe_step``, ``frame_start``, ``frame_end``,
    ``location``.
    """
    context = _context(context)
    obj = heightmap_objects.add_heightmap(context, **settings)
    if select:
        _select_only(context, [obj])
    return obj


# ----------------------------------------------------------------------------------------
# neural low-poly: a network fitted to a mesh object's signed distance
# ----------------------------------------------------------------------------------------
def plan_lowpoly(context=None, obj: bpy.types.Object | None = None, settings: LowPolySettings | None = None, *,
                 name: str | None = None, select: bool = True) -> Plan:
    """The plan of :func:`add_lowpoly`: the input is read and the settings checked now."""
    context = _context(context)
    obj = lowpoly_objects.input_object(context) if obj is None else obj
    return _selecting(context, lowpoly_objects.plan_lowpoly(context, obj, settings, name=name), select)


def add_lowpoly(context=None, obj: bpy.types.Object | None = None, settings: LowPolySettings | None = None, *,
                name: str | None = None, select: bool = True, progress: Progress | None = None,
                cancel: Cancel | None = None) -> bpy.types.Object:
    """Fit a network to the signed distance of the mesh object ``obj`` (default: the selected
    one; modifiers and transform applied) and add its exact low-poly surface as a new object
    where ``obj`` is; ``obj`` is not changed. See :mod:`.lowpoly_objects`."""
    return run_plan(plan_lowpoly(context, obj, settings, name=name, select=select), progress, cancel)
