"""Named jobs: the long computations that a worker process (or, later, a cluster) runs.

A job is a name in :data:`JOBS` and a function ``run(arguments, progress, cancel) -> result``:

* ``arguments`` and ``result`` are JSON objects (dicts of plain data): a job can be sent to
  another process as one JSON line, queued, retried or resumed anywhere the core is
  installed; it reads nothing but its arguments and the files they name;
* ``progress(fraction, message)`` reports (fraction in [0, 1]) and ``cancel()`` says stop:
  the one protocol of :mod:`neuralpoly_core.reporting`. A cancelled job raises
  :class:`~neuralpoly_core.errors.Cancelled`; bad arguments raise a
  :class:`~neuralpoly_core.errors.NeuralPolyError` that names the problem;
* large arrays do not travel as JSON: a job writes them to an ``.npz`` file (numpy's own
  format, no pickles: :func:`write_mesh_npz`, :func:`read_mesh_npz`) at the path given as
  ``arguments["output"]`` (else a new temporary file) and returns that path. The caller
  owns the file and removes it.

Run one with :func:`run_job`; add one with the :func:`job` decorator, e.g.::

    @job("count_regions", "Count the linear regions of a network in a box")
    def _count_regions(arguments, progress, cancel):
        ...
        return {"regions": n}

The jobs now: ``train`` (neural polytopes, batched, with torch), ``fit_sdf`` (a network fitted
to a mesh, its low-poly mesh), ``count_regions`` (linear regions, :mod:`neuralpoly_core.regions`)
and ``extract_level_set``
(a network's level set f = c in a box, as a mesh file). The Blender add-on's worker process
answers requests by running these (``addon/worker.py``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._checks import check_choice, check_float, check_int
from .errors import ExtractionError, ModelFormatError, NeuralPolyError
from .fileio import parse_json, read_npz
from .levelset.api import extract_level_set
from .levelset.box import parse_bbox
from .mesh.polymesh import PolyMesh
from .network.modelfile import model_from_json
from .reporting import Reporter
from .summary import summarize

__all__ = ["Job", "JOBS", "job", "run_job", "job_names", "write_mesh_npz", "read_mesh_npz", "plain",
           "TRAIN_OPTIONS", "LEVEL_SET_OPTIONS", "FIT_SDF_OPTIONS", "REGION_OPTIONS", "SIMPLIFY_OPTIONS"]

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]
JobFunction = Callable[[dict, Progress, Cancel], dict]


@dataclass(frozen=True)
class Job:
    """A named job: ``run(arguments, progress, cancel) -> result`` (JSON in, JSON out)."""

    name: str
    run: JobFunction
    summary: str


#: The registry: job name -> :class:`Job`.
JOBS: dict[str, Job] = {}


def job(name: str, summary: str) -> Callable[[JobFunction], JobFunction]:
    """Register the decorated function as the job ``name`` (``summary``: one line of what it does)."""
    def register(fn: JobFunction) -> JobFunction:
        if name in JOBS:
            raise ValueError(f"job {name!r} is registered twice")
        JOBS[name] = Job(name, fn, summary)
        return fn
    return register


def job_names() -> list[str]:
    return sorted(JOBS)


def run_job(name: str, arguments: dict, progress: Progress | None = None, cancel: Cancel | None = None) -> dict:
    """Run the job ``name`` here with JSON ``arguments``; returns its JSON result.

    Raises
    ------
    NeuralPolyError
        For an unknown job, arguments that are not a JSON object, or what the job refuses.
    Cancelled
        If ``cancel()`` returned True.
    """
    check_choice(name, JOBS, "job")
    if not isinstance(arguments, dict):
        raise NeuralPolyError(f"the arguments of job {name!r} must be a JSON object, got {type(arguments).__name__}")
    reporter = Reporter(progress, cancel, what=name.replace("_", " "))
    result = JOBS[name].run(arguments, reporter, lambda: cancel is not None and bool(cancel()))
    reporter.check()
    return result


def _options(arguments: dict, allowed: tuple[str, ...], required: tuple[str, ...], name: str) -> dict:
    unknown = set(arguments) - set(allowed) - set(required)
    if unknown:
        raise NeuralPolyError(f"unknown arguments of job {name!r}: {sorted(unknown)}; it takes "
                              f"{', '.join(required + allowed)}")
    missing = [k for k in required if k not in arguments]
    if missing:
        raise NeuralPolyError(f"job {name!r} needs the arguments {', '.join(missing)}")
    return {k: arguments[k] for k in allowed if k in arguments}


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays (in dicts, lists, tuples) made plain JSON data;
    non-finite floats become None, anything else unknown its ``str``."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


# ----------------------------------------------------------------------------------------
# meshes as .npz files
# ----------------------------------------------------------------------------------------
#: The array fields of a :class:`PolyMesh` that travel (those that are not None).
MESH_ARRAYS = ("vertices", "corners", "face_sizes", "region_ids", "region_patterns", "basis")


def write_mesh_npz(mesh: PolyMesh, path) -> Path:
    """Write ``mesh`` (arrays and ``info``) to the ``.npz`` file ``path``, atomically."""
    path = Path(path)
    arrays = {k: getattr(mesh, k) for k in MESH_ARRAYS if getattr(mesh, k) is not None}
    arrays["info"] = np.array(json.dumps(plain(mesh.info)))
    fd, part = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(part, path)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return path


def read_mesh_npz(path) -> PolyMesh:
    """The mesh that :func:`write_mesh_npz` wrote (never unpickles anything).

    Raises
    ------
    ModelFormatError
        If the file is missing or not such a mesh.
    """
    try:
        z = read_npz(path, "mesh file")
        fields = {k: z[k] for k in MESH_ARRAYS if k in z}
        info = parse_json(str(z["info"]), "mesh info")
        return PolyMesh(**fields, info=info)
    except (KeyError, ValueError, TypeError) as e:
        raise ModelFormatError(f"cannot read the mesh file {str(path)!r}: {e}") from None


def _output_path(arguments: dict) -> Path:
    out = arguments.get("output")
    if out is None:
        fd, name = tempfile.mkstemp(prefix="neuralpoly-mesh-", suffix=".npz")
        os.close(fd)
        return Path(name)
    if not isinstance(out, str) or not out.endswith(".npz"):
        raise NeuralPolyError(f"output must be the path of an .npz file, got {out!r}")
    return Path(out)


# ----------------------------------------------------------------------------------------
# the jobs
# ----------------------------------------------------------------------------------------
#: Keyword arguments of :func:`neuralpoly_core.training.train_sweep` a ``train`` job passes on.
TRAIN_OPTIONS = ("seed", "restarts", "max_steps", "device", "dtype", "n_points", "sampling")


@job("train", "Train neural polytopes of (dim, type) specs in one batched computation (torch)")
def _train(arguments: dict, progress: Progress, cancel: Cancel) -> dict:
    """Arguments: ``specs`` (``[[3, "(4;1)"], ...]``), ``options`` (:data:`TRAIN_OPTIONS`).
    Result: ``{"models": [neuralpoly.model JSON text with meta, one per spec]}``."""
    from .network.modelfile import model_to_json
    from .training import train_sweep

    _options(arguments, ("options",), ("specs",), "train")
    specs = arguments["specs"]
    if not isinstance(specs, list) or not specs or not all(isinstance(s, (list, tuple)) for s in specs):
        raise NeuralPolyError("a training request needs a non-empty list of [dim, type] specs")
    options = arguments.get("options") or {}
    if not isinstance(options, dict):
        raise NeuralPolyError("training options must be a JSON object")
    unknown = set(options) - set(TRAIN_OPTIONS)
    if unknown:
        raise NeuralPolyError(f"unknown training options {sorted(unknown)}")
    results = train_sweep([tuple(s) for s in specs], progress=progress, cancel=cancel, **options)
    return {"models": [model_to_json(r.network, r.meta(), indent=None) for r in results]}


#: Arguments of an ``extract_level_set`` job besides ``model`` (see :func:`extract_level_set`).
LEVEL_SET_OPTIONS = ("level", "bbox", "method", "resolution", "cap", "inside", "merge_coplanar",
                     "newton_steps", "workers", "trilinear_correction")


def _box_text(lo: np.ndarray, hi: np.ndarray) -> str:
    return " x ".join(f"[{a:g}, {b:g}]" for a, b in zip(lo.tolist(), hi.tolist()))


#: Arguments of an ``extract_level_set`` job that simplify its mesh (as in ``fit_sdf``).
SIMPLIFY_OPTIONS = ("vertex_budget", "min_region_area")


def _simplify_options(options: dict) -> tuple[int | None, float]:
    """The checked ``vertex_budget`` (None: no budget) and ``min_region_area`` taken out of ``options``."""
    budget = options.pop("vertex_budget", None)
    if budget is not None:
        budget = check_int(budget, "vertex budget", 4)
    min_area = options.pop("min_region_area", None)
    min_area = check_float(0.0 if min_area is None else min_area, "minimum region area (fraction of the total)",
                           0.0, 1.0)
    return budget, min_area


def _simplified(net, level: float, mesh: PolyMesh, budget: int | None, min_area: float, progress: Progress,
                cancel: Cancel) -> PolyMesh:
    from .mesh.simplify import simplify_mesh

    if mesh.dim != 3 or not mesh.is_closed_manifold():
        raise ExtractionError("a vertex budget or minimum region area simplifies a closed 3-D surface; this level "
                              "set is not closed in its box (it reaches the box: enlarge it, or extract without "
                              "simplification)")
    return simplify_mesh(mesh, vertex_budget=budget, min_region_area=min_area, f=net, level=level,
                         progress=lambda f, m: progress(0.9 + 0.1 * f, f"Simplifying: {m}"), cancel=cancel)


@job("extract_level_set", "The level set f = c of a network in a box, as an .npz mesh file")
def _extract_level_set(arguments: dict, progress: Progress, cancel: Cancel) -> dict:
    """Arguments: ``model`` (neuralpoly.model JSON text or object), the keywords of
    :func:`~neuralpoly_core.levelset.extract_level_set` (:data:`LEVEL_SET_OPTIONS`; ``bbox``
    as ``[lo, hi]`` or one ``[lo, hi]`` per axis), ``output`` (the .npz path, optional);
    :data:`SIMPLIFY_OPTIONS` (``vertex_budget``: an int >= 4, ``min_region_area``: a fraction
    in [0, 1]; checked before extracting, as in ``fit_sdf``) simplify the mesh
    (:func:`~neuralpoly_core.mesh.simplify.simplify_mesh`, a closed 3-D surface only).

    Result: ``{"mesh": path, "summary": summarize(...), "seconds": s}``; simplified, the summary
    also has the keys of :func:`~neuralpoly_core.mesh.simplify.simplify_summary`.

    Raises
    ------
    ExtractionError
        Also when the level set does not cross the box (nothing to draw).
    """
    options = _options(arguments, LEVEL_SET_OPTIONS + SIMPLIFY_OPTIONS + ("output",), ("model",),
                       "extract_level_set")
    options.pop("output", None)
    budget, min_area = _simplify_options(options)
    model = arguments["model"]
    if not isinstance(model, (str, dict)):
        raise ModelFormatError("the model of a level-set job must be neuralpoly.model JSON (text or object)")
    net, _ = model_from_json(model if isinstance(model, str) else json.dumps(model))
    check_choice(options.setdefault("method", "exact"), ("exact", "marching", "trilinear"), "level-set method",
                 error=ExtractionError)
    if "bbox" in options:
        options["bbox"] = np.asarray(options["bbox"], dtype=np.float64)
    level = options.pop("level", 0.0)
    t0 = time.perf_counter()
    simplify = budget is not None or min_area > 0
    share = 0.9 if simplify else 1.0
    mesh = extract_level_set(net, level, progress=lambda f: progress(share * f, "Extracting the level set"),
                             **options)
    if mesh.n_faces == 0:
        lo, hi = parse_bbox(options.get("bbox", (-1.0, 1.0)), net.dim)
        raise ExtractionError(f"the level set f = {level:g} does not cross the box {_box_text(lo, hi)}: "
                              "nothing to draw (choose another level or a larger box)")
    if simplify:
        mesh = _simplified(net, level, mesh, budget, min_area, progress, cancel)
    summary = summarize(net, mesh, level=level)
    if simplify:
        from .mesh.simplify import simplify_summary
        summary.update(simplify_summary(mesh))
    path = write_mesh_npz(mesh, _output_path(arguments))
    return {"mesh": str(path), "summary": plain(summary), "seconds": time.perf_counter() - t0}


#: Arguments of a ``fit_sdf`` job besides ``mesh`` (see :func:`neuralpoly_core.training.lowpoly.fit_and_extract`).
FIT_SDF_OPTIONS = ("net", "seconds", "steps", "seed", "device", "method", "resolution", "samples",
                   "vertex_budget", "min_region_area")


@job("fit_sdf", "Fit a network to a mesh's signed distance; extract the low-poly mesh as an .npz file")
def _fit_sdf(arguments: dict, progress: Progress, cancel: Cancel) -> dict:
    """Arguments: ``mesh`` (path of an .npz of :func:`write_mesh_npz`, or an .obj/.stl/.ply
    file, in world coordinates), :data:`FIT_SDF_OPTIONS`, ``output`` (the .npz path, optional).

    Result: ``{"mesh": path, "model": neuralpoly.model JSON text with meta and placement,
    "summary": {chamfer, chamfer_rel, hausdorff, vertices, faces, train_seconds, ...}}``.
    """
    from .mesh.files import read_mesh
    from .network.modelfile import model_to_json
    from .training.lowpoly import fit_and_extract

    options = _options(arguments, FIT_SDF_OPTIONS + ("output",), ("mesh",), "fit_sdf")
    options.pop("output", None)
    source = arguments["mesh"]
    if not isinstance(source, str):
        raise NeuralPolyError(f"the mesh of a fit_sdf job must be a file path, got {source!r}")
    mesh = read_mesh_npz(source) if source.endswith(".npz") else read_mesh(source)
    if "seconds" not in options and "steps" not in options:
        options["seconds"] = 60.0
    fit, out, summary = fit_and_extract(mesh, progress=progress, cancel=cancel, **options)
    path = write_mesh_npz(out, _output_path(arguments))
    return {"mesh": str(path), "model": model_to_json(fit.network, fit.meta(), indent=None, placement=fit.placement),
            "summary": plain(summary)}
#: Arguments of a ``count_regions`` job besides ``model`` and ``output``.
REGION_OPTIONS = ("bbox", "method", "origin", "basis", "max_regions", "time_limit", "shrink")


@job("count_regions", "The linear regions of a network in a box: the count, and (exact) the regions as an .npz mesh")
def _count_regions(arguments: dict, progress: Progress, cancel: Cancel) -> dict:
    """Arguments: ``model`` (neuralpoly.model JSON text or object), ``bbox`` (``[lo, hi]``,
    default ``[-1, 1]``), ``method`` (``'exact'``, the default, or ``'milp'``), ``origin`` /
    ``basis`` (a slice, exact only), ``max_regions``, ``time_limit`` (milp), ``shrink`` (the
    mesh's cells moved that fraction towards their centroids, default 0), ``output`` (the .npz).

    Result: ``{"summary": {regions, pieces, dim, seconds, method, complete, lower_bound, ...},
    "bounds": all_bounds (huge integers as strings) or None, "mesh": path or None}``. The mesh
    (:func:`~neuralpoly_core.regions.region_mesh`, 2-D or 3-D exact counts only) carries
    ``region_ids`` per face and ``region_patterns`` per region; a 1-D count has ``breakpoints``
    in the summary instead.
    """
    from .regions import bounds_of, bounds_summary, count_regions, region_mesh
    options = _options(arguments, REGION_OPTIONS + ("output",), ("model",), "count_regions")
    model = arguments["model"]
    if not isinstance(model, (str, dict)):
        raise ModelFormatError("the model of a region job must be neuralpoly.model JSON (text or object)")
    net, _ = model_from_json(model if isinstance(model, str) else json.dumps(model))
    method = options.pop("method", "exact")
    shrink = options.pop("shrink", 0.0)
    options.pop("output", None)
    bbox = options.pop("bbox", (-1.0, 1.0))
    for key in ("origin", "basis"):
        if key in options:
            options[key] = np.asarray(options[key], dtype=np.float64)
    count = count_regions(net, np.asarray(bbox, dtype=np.float64), method=method,
                          progress=lambda f, m="": progress(f, m or "Counting linear regions"), cancel=cancel, **options)
    summary = plain(count.to_dict())
    summary.setdefault("pieces", None)
    tess, path = count.tessellation, None
    if tess is not None:
        summary.update(dim=tess.dim, pieces=tess.pieces)
        if tess.dim == 1:
            summary["breakpoints"] = tess.breakpoints.tolist()
        else:
            path = str(write_mesh_npz(region_mesh(tess, shrink), _output_path(arguments)))
    try:
        bounds = bounds_summary(bounds_of(net))
    except NeuralPolyError:
        bounds = None
    return {"summary": summary, "bounds": bounds, "mesh": path}
