"""Neural low-poly in Blender: a mesh object -> a network fitted to its signed distance -> a new object.

:func:`plan_lowpoly` reads the selected object's evaluated mesh (its modifiers applied) in
world space (its world matrix applied), checks it (the core's
:func:`~neuralpoly_core.training.lowpoly.check_input_mesh`: empty, flat and non-finite
meshes are refused before anything runs), writes it to a temporary ``.npz`` file and plans
the core's job ``fit_sdf`` (:mod:`neuralpoly_core.jobs`): fitting, exact (or marching-cubes)
extraction and the comparison with the input, in the worker process.

The new object is a ``LOWPOLY`` object (:class:`.model_store.Kind`): it stores its network
with the **placement** (network box -> world) in ``model_json``, the settings of its
extraction like a level set (level 0 in the placement's box, and its vertex budget: a
re-extraction simplifies to it again unless told another), and the fit's facts (Chamfer
and Hausdorff distance to the input, vertex and face counts, train and extract seconds) in
``source_json``. Its mesh is in network coordinates and its transform is the placement
(a uniform scale and a translation), so it lands where the input was, and re-extraction
(``neuralpoly.reextract_level_set``) and saving the model work as for any level set. The
input object is never changed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass

import bpy

from . import blender_mesh, levelset_objects, model_store
from .levelset_objects import LevelSetSettings
from .model_store import Kind
from .neuralpoly_core._checks import check_choice, check_float, check_int
from .neuralpoly_core.errors import ModelFormatError, NeuralPolyError
from .neuralpoly_core.jobs import read_mesh_npz, write_mesh_npz
from .neuralpoly_core.mesh import PolyMesh
from .neuralpoly_core.network.modelfile import model_from_json_placed
from .neuralpoly_core.summary import summarize
from .neuralpoly_core.training.lowpoly import EXTRACTION_METHODS, check_input_mesh, parse_net_spec
from .worker_client import Plan

__all__ = ["NET_KINDS", "METHODS", "DEVICES", "FACT_KEYS", "LowPolySettings", "input_object",
           "plan_lowpoly", "fit_facts", "fact_lines", "made_with_budget"]

#: Network kinds of the spec ``KIND:SIZE`` (``relu:8x32``, ``hashgrid:simplex,levels=4,mlp=2x32``).
NET_KINDS = ("relu", "hashgrid")
#: Extraction methods of the fitted surface (the core's ``EXTRACTION_METHODS``).
METHODS = EXTRACTION_METHODS
DEVICES = ("auto", "cpu", "cuda")
#: The facts of the fit an object keeps (from the job's summary) and the panel shows.
FACT_KEYS = ("chamfer", "chamfer_rel", "hausdorff", "hausdorff_rel", "vertices", "faces", "train_seconds",
             "extract_seconds", "max_level_error", "net", "steps", "seed", "method", "input_vertices",
             "input_faces", "vertices_before_simplify", "faces_before_simplify", "chamfer_before_simplify",
             "chamfer_rel_before_simplify", "vertex_budget", "max_planarity", "faces_split")
#: Longest time budget accepted (a day); the fit itself stops at its budget.
MAX_SECONDS = 86400.0


@dataclass(frozen=True)
class LowPolySettings:
    """How to fit and extract.

    net : network spec ``KIND:SIZE``, e.g. ``relu:8x32`` (see
        :func:`neuralpoly_core.training.lowpoly.parse_net_spec`)
    seconds : training time budget (> 0)
    seed : seeds the samples, the batches and the initial weights
    method : 'exact' (planar n-gons; ReLU MLPs, simplex hash grids), 'marching' (marching cubes on a
        ``resolution^3`` grid) or 'trilinear' (Kim's method; trilinear hash grids only)
    resolution : marching grid cells per axis (exact extraction ignores it)
    device : 'auto', 'cpu' or 'cuda'
    samples : points each way for the Chamfer/Hausdorff comparison with the input
    vertex_budget : at most this many vertices (0: no simplification; else at least 4), see
        :func:`neuralpoly_core.mesh.simplify.simplify_mesh`
    """

    net: str = "relu:8x32"
    seconds: float = 30.0
    seed: int = 0
    method: str = "exact"
    resolution: int = 128
    device: str = "cpu"
    samples: int = 200_000
    vertex_budget: int = 0

    def validated(self) -> "LowPolySettings":
        """Checked settings (the spec in its normal form), or NeuralPolyError naming the setting."""
        parsed = parse_net_spec(self.net)
        spec = parsed.text
        seconds = check_float(self.seconds, "time budget (seconds)", 0.0, MAX_SECONDS, lo_open=True)
        seed = check_int(self.seed, "seed", 0)
        method = check_choice(str(self.method).lower(), METHODS, "extraction method")
        resolution = check_int(self.resolution, "resolution", 4, levelset_objects.MAX_RESOLUTION)
        device = check_choice(str(self.device).lower(), DEVICES, "device")
        samples = check_int(self.samples, "comparison samples", 1000)
        budget = check_int(self.vertex_budget, "vertex budget", 0)
        if 0 < budget < 4:
            raise NeuralPolyError(f"a vertex budget must be 0 (no limit) or at least 4 (a tetrahedron), got {budget}")
        _check_method(parsed, method)
        return LowPolySettings(spec, seconds, seed, method, resolution, device, samples, budget)


def _check_method(spec, method: str) -> None:
    """The extraction method fits the network: trilinear for trilinear hash grids, exact for the rest."""
    trilinear = getattr(spec, "interpolation", None) == "trilinear"
    if method == "trilinear" and not trilinear:
        raise NeuralPolyError(f"the Trilinear extraction is for trilinear hash grids (e.g. hashgrid:trilinear,"
                              f"levels=4,res=4-32,mlp=2x32); {spec.text} has no trilinear encoding: use Exact")
    if method == "exact" and trilinear:
        raise NeuralPolyError(f"{spec.text} is a trilinear hash grid, not piecewise linear: extract it with "
                              "Trilinear (Kim's method) or Marching")


def input_object(context) -> bpy.types.Object:
    """The mesh object to fit: the active object if it is a selected mesh, else the one selected mesh."""
    active = context.active_object
    if active is not None and active.type == "MESH" and active.select_get():
        return active
    meshes = [o for o in context.selected_objects if o.type == "MESH"]
    if len(meshes) == 1:
        return meshes[0]
    if not meshes:
        raise NeuralPolyError("select the mesh object to fit first (no mesh object is selected)")
    raise NeuralPolyError(f"{len(meshes)} mesh objects are selected and none of them is active: "
                          "make the one to fit active")


def _checked_input(obj: bpy.types.Object, depsgraph) -> PolyMesh:
    mesh = blender_mesh.world_mesh(obj, depsgraph)
    try:
        check_input_mesh(mesh)
    except NeuralPolyError as e:
        raise NeuralPolyError(f"object {obj.name!r} cannot be fitted: {e}") from None
    return mesh


def fit_facts(summary: dict) -> dict:
    """The facts of a fit the object keeps (:data:`FACT_KEYS` of the job's summary)."""
    return {k: summary.get(k) for k in FACT_KEYS}


def _store_fit(obj: bpy.types.Object, facts: dict, source: str) -> None:
    p = model_store.props(obj)
    p.source_json = json.dumps({"input": source, "fit": facts}, separators=(",", ":"), allow_nan=False)
    p.arch_type = str(facts.get("net") or "")


def stored_fit(obj: bpy.types.Object) -> dict:
    """``{"input": name, "fit": facts}`` a LOWPOLY object keeps."""
    d = model_store.stored_source(obj, Kind.LOWPOLY, "neural low-poly", "fit facts")
    if not isinstance(d.get("fit"), dict):
        raise ModelFormatError(f"the fit facts stored in {obj.name!r} are damaged")
    return d


def made_with_budget(obj: bpy.types.Object) -> int:
    """The vertex budget the object's fit was simplified to (0: none), from its fit facts; for
    objects saved before ``Object.neuralpoly.vertex_budget`` existed."""
    try:
        budget = stored_fit(obj)["fit"].get("vertex_budget")
    except ModelFormatError:
        return 0
    return budget if isinstance(budget, int) and budget >= 4 else 0


def _num(value, fmt: str) -> str:
    return "?" if not isinstance(value, (int, float)) or not math.isfinite(value) else format(value, fmt)


def fact_lines(obj: bpy.types.Object) -> list[str]:
    """The panel's lines about the fit of a LOWPOLY object (at the time it was made)."""
    try:
        d = stored_fit(obj)
    except ModelFormatError as e:
        return [str(e)]
    f = d["fit"]

    def pct(v) -> str:
        return _num(100 * v, ".3g") if isinstance(v, (int, float)) else "?"
    return [f"Fitted to: {d.get('input')}",
            f"Network: {f.get('net')}, {f.get('steps')} steps, seed {f.get('seed')}",
            f"Chamfer: {_num(f.get('chamfer'), '.4g')} ({pct(f.get('chamfer_rel'))} % of the diagonal)",
            f"Hausdorff: {_num(f.get('hausdorff'), '.4g')} ({pct(f.get('hausdorff_rel'))} %)",
            f"Vertices: {f.get('vertices')}, faces: {f.get('faces')} ({f.get('method')}; input "
            f"{f.get('input_vertices')} / {f.get('input_faces')})",
            f"Train: {_num(f.get('train_seconds'), '.2f')} s, extract: {_num(f.get('extract_seconds'), '.2f')} s"
            ] + ([f"Simplified from {f.get('vertices_before_simplify')} vertices (budget {f.get('vertex_budget')}; "
                  f"Chamfer before: {pct(f.get('chamfer_rel_before_simplify'))} %)",
                  f"Planar faces: within {_num(f.get('max_planarity'), '.2g')} "
                  f"({f.get('faces_split')} bent faces split)"]
                 if f.get("vertex_budget") else [])


def _job_arguments(path_in: str, path_out: str, s: LowPolySettings) -> dict:
    args = {"mesh": path_in, "output": path_out, "net": s.net, "seconds": s.seconds, "seed": s.seed,
            "device": s.device, "method": s.method, "resolution": s.resolution, "samples": s.samples}
    if s.vertex_budget:
        args["vertex_budget"] = s.vertex_budget
    return args


def _create(context, result: dict, ls_of, name: str, source: str) -> bpy.types.Object:
    """The new object from the job's result (mesh in world coordinates -> network coordinates)."""
    net, meta, placement = model_from_json_placed(result["model"])
    if placement is None:
        raise ModelFormatError("the fitted model has no placement")
    world = read_mesh_npz(result["mesh"])
    mesh = world.copy()
    mesh.vertices = placement.to_network(world.vertices)
    ls = ls_of(placement).validated(net)
    facts = fit_facts(result["summary"])
    summary = summarize(net, mesh, level=0.0)
    obj = levelset_objects.create_object(context, net, meta, ls, mesh, summary, kind=Kind.LOWPOLY, name=name,
                                         location=placement.offset, placement=placement)
    try:
        _store_fit(obj, facts, source)
    except BaseException:
        blender_mesh.remove_object(obj)
        raise
    return obj


def plan_lowpoly(context, obj: bpy.types.Object, settings: LowPolySettings | None = None, *,
                 name: str | None = None) -> Plan:
    """The plan of a new low-poly object fitted to the mesh object ``obj``.

    The settings and the input are checked and the input mesh is written now; the plan's job
    ``fit_sdf`` fits and extracts, its finish adds the object (the input is not changed; on
    any error or cancel nothing is added, and the temporary files go).
    """
    s = (settings or LowPolySettings()).validated()
    mesh = _checked_input(obj, context.evaluated_depsgraph_get())
    source, title = obj.name, name or f"{obj.name} LowPoly"
    folder = tempfile.mkdtemp(prefix="neuralpoly-lowpoly-")
    try:
        path_in = str(write_mesh_npz(mesh, os.path.join(folder, "input.npz")))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    def ls_of(placement) -> LevelSetSettings:
        lo, hi = placement.box
        return LevelSetSettings(0.0, ((lo,) * 3, (hi,) * 3), s.method, s.resolution, vertex_budget=s.vertex_budget)

    def finish(result: dict) -> bpy.types.Object:
        return _create(context, result, ls_of, title, source)
    return Plan("fit_sdf", _job_arguments(path_in, os.path.join(folder, "lowpoly.npz"), s), finish,
                "Neural low-poly", f"Fitting {s.net} to {source}",
                cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))
