"""Neural low-poly: fit a network to a mesh's signed distance, then extract its level set exactly.

:func:`fit_mesh_sdf` places the mesh in the network's box (:class:`Placement`), draws samples
with libigl's ground truth once (:func:`~neuralpoly_core.mesh.sdf.training_samples`) and
trains, every step on a fresh batch of them, with three losses:

* **SDF**: DeepSDF's clamped L1, ``|clamp(f(x)) - clamp(sdf(x))|`` (clamped to
  ``[-CLAMP, CLAMP]`` in network units) on near-surface and uniform points, plus ``|f|`` on
  surface points;
* **eikonal**: ``| |grad f| - 1 |`` on the same points (a distance has unit gradient);
* **normal**: ``1 - cos(grad f, n)`` on surface points with the input's face normals.

float32, Adam, a per-step learning-rate schedule (linear warm-up over :data:`WARMUP` steps, the
peak until a quarter of the steps, cosine decay to the end), batches drawn by a numpy generator
seeded with ``seed``: the same seed, step count and device give the same weights. With a time
budget (``seconds``) and no ``steps``, the step reached after a quarter of the budget, times 4,
is the step count (reported as ``facts['steps']``; pass it as ``steps`` to reproduce the
weights). Should the machine slow down so that the budget is exceeded by 10 %, training stops
there (``facts['stopped_early']``; those weights are not reproducible by step count).

A fit **collapses** when ``f`` has one sign on the whole box (no surface): it is detected on a
grid and the fit restarts with the next seed (``facts['restarts']``).

Networks are named by a spec (:func:`parse_net_spec`): ``relu:DEPTHxWIDTH`` (ReLU MLP with
biases and a linear head, e.g. ``relu:8x32``) or ``hashgrid:...`` (a multi-resolution hash-grid
encoding and a small ReLU MLP, :func:`~neuralpoly_core.training.hashgrid_torch.parse_hashgrid_spec`,
e.g. ``hashgrid:simplex,levels=4,res=4-32,mlp=2x32``). Simplex grids extract exactly
(``method='exact'``); trilinear grids by Kim's method (``method='trilinear'``).
"""

from __future__ import annotations

import math
import re
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_callable, check_choice, check_float, check_int
from ..errors import NeuralPolyError, TrainingDivergedError
from ..levelset.api import extract_level_set
from ..mesh.polymesh import PolyMesh
from ..mesh.sdf import mesh_problems, training_samples
from ..mesh.simplify import collapse_kind, simplify_mesh, simplify_summary
from ..network.model import Network
from ..network.placement import Placement
from ..reporting import Reporter
from ..summary import trilinear_facts
from .hashgrid_torch import HashGridSpec, parse_hashgrid_spec
from .sdf import relu_mlp, torch_to_network
from .torch_access import require_torch, resolve_device, torch_threads

__all__ = ["NetSpec", "parse_net_spec", "FitResult", "fit_mesh_sdf", "extract_fitted", "simplify_fitted",
           "sign_changes", "fit_and_extract", "check_input_mesh",
           "CLAMP", "BOX", "WARMUP"]

#: Clamp of the SDF loss, in network units (the box is [-1, 1]^3).
CLAMP = 0.1
#: The network's box.
BOX = (-1.0, 1.0)
#: How a fitted network's surface is extracted: exact (ReLU MLPs, simplex hash grids), marching
#: cubes, or Kim's trilinear method (trilinear hash grids).
EXTRACTION_METHODS = ("exact", "marching", "trilinear")
#: Warm-up steps (linear learning-rate ramp; also what a time budget is calibrated on).
WARMUP = 50
#: Loss weights: SDF (points and surface), eikonal, normal alignment.
WEIGHTS = {"sdf": 1.0, "surface": 1.0, "eikonal": 0.1, "normal": 0.05}


@dataclass(frozen=True)
class NetSpec:
    """A network named by a spec string: ``kind`` and its sizes."""

    kind: str
    depth: int
    width: int
    text: str

    def build(self, torch, seed: int):
        """The torch module, initialised from ``seed``."""
        return relu_mlp(torch, 3, self.depth, self.width, seed)

    def to_network(self, torch, module) -> Network:
        return torch_to_network(torch, module, 3)


def parse_net_spec(text) -> NetSpec | HashGridSpec:
    """``'relu:8x32'`` -> ReLU MLP of 8 hidden layers of 32 units (``relu:DEPTHxWIDTH``);
    ``'hashgrid:...'`` -> a hash-grid network (:func:`parse_hashgrid_spec`).

    Raises
    ------
    NeuralPolyError
        Anything else, naming what is wrong.
    """
    if not isinstance(text, str):
        raise NeuralPolyError(f"a network spec must be text like 'relu:8x32', got {text!r}")
    kind, _, rest = text.strip().partition(":")
    if kind == "hashgrid":
        return parse_hashgrid_spec(text)
    m = re.fullmatch(r"(\d+)x(\d+)", rest.strip())
    if kind != "relu" or m is None:
        raise NeuralPolyError(f"unknown network spec {text!r}; expected relu:DEPTHxWIDTH, e.g. relu:8x32")
    depth, width = int(m.group(1)), int(m.group(2))
    if not (1 <= depth <= 64 and 1 <= width <= 4096):
        raise NeuralPolyError(f"network spec {text!r}: depth must be 1-64 and width 1-4096")
    return NetSpec("relu", depth, width, f"relu:{depth}x{width}")


@dataclass
class FitResult:
    """A fitted network, where its box sits in the world, and facts of the fit."""

    network: Network
    placement: Placement
    spec: NetSpec | HashGridSpec
    facts: dict = field(default_factory=dict)

    def meta(self) -> dict:
        """Model-file metadata (``type`` is the net spec)."""
        keep = ("steps", "seed", "loss", "train_seconds", "device", "restarts")
        return {"type": self.spec.text, "kind": "mesh_sdf", **{k: self.facts.get(k) for k in keep}}


def check_input_mesh(mesh) -> list[str]:
    """Refuse meshes that cannot be fitted (NeuralPolyError); return warnings for the others."""
    if not isinstance(mesh, PolyMesh):
        raise NeuralPolyError(f"the mesh to fit must be a PolyMesh, got {type(mesh).__name__}")
    if mesh.dim != 3:
        raise NeuralPolyError("the mesh to fit is 2-D; a signed-distance fit needs a 3-D mesh")
    if mesh.n_faces == 0 or mesh.n_vertices == 0:
        raise NeuralPolyError("the mesh to fit is empty (no faces)")
    if not np.all(np.isfinite(mesh.vertices)):
        raise NeuralPolyError("the mesh to fit has NaN or infinite vertex coordinates")
    used = mesh.vertices[np.unique(mesh.corners)]
    ext = used.max(axis=0) - used.min(axis=0)
    if not ext.max() > 0 or ext.min() <= 1e-9 * ext.max():
        raise NeuralPolyError(f"the mesh to fit is flat (extent {ext.min():.3g} along one axis): it encloses "
                              "no volume, so it has no inside and no signed distance")
    return mesh_problems(mesh)


def sign_changes(net: Network, box=BOX, n: int = 24) -> bool:
    """True when ``net`` takes both signs on an ``n^3`` grid of the cube ``box`` (no collapse)."""
    t = np.linspace(box[0], box[1], n)
    g = np.stack(np.meshgrid(t, t, t, indexing="ij"), axis=-1).reshape(-1, 3)
    v = net(g).ravel()
    return bool(v.min() < 0 < v.max())


def _lr(step: int, total: int | None, peak: float) -> float:
    """Linear warm-up over :data:`WARMUP` steps, the peak until ``total // 4``, then cosine
    decay to 1 % of the peak at ``total`` (None: not known yet, the peak)."""
    if step < WARMUP:
        return peak * (step + 1) / WARMUP
    hold = max(WARMUP, (total or 0) // 4)
    if total is None or step < hold:
        return peak
    t = (step - hold) / max(1, total - hold)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def _losses(torch, model, x, y, s, nrm):
    """The weighted loss of a batch and its parts (floats)."""
    pts = torch.cat([x, s]).requires_grad_(True)
    f = model(pts)[:, 0]
    g = torch.autograd.grad(f.sum(), pts, create_graph=True)[0]
    fx, fs = f[:len(x)], f[len(x):]
    gn = g.norm(dim=1)
    parts = {
        "sdf": (fx.clamp(-CLAMP, CLAMP) - y.clamp(-CLAMP, CLAMP)).abs().mean(),
        "surface": fs.abs().mean(),
        "eikonal": (gn - 1).abs().mean(),
        "normal": (1 - (g[len(x):] * nrm).sum(dim=1) / gn[len(x):].clamp_min(1e-8)).mean(),
    }
    total = sum(WEIGHTS[k] * v for k, v in parts.items())
    return total, parts


def _train_once(torch, spec, data, seed, steps, seconds, dev, lr, batch, report):
    """One training run; returns (module, facts)."""
    rng = np.random.default_rng(seed)
    X, Y, S, N = data
    model = spec.build(torch, seed).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    total = steps if steps is not None else None
    t0 = time.perf_counter()
    step, loss, parts, stopped = 0, float("nan"), {}, False
    ns = max(1, batch // 4)
    while total is None or step < total:
        if total is None and step >= WARMUP and time.perf_counter() - t0 >= seconds / 4:
            total = 4 * step                  # a quarter of the budget at the peak: the speed is known
        for group in opt.param_groups:
            group["lr"] = _lr(step, total, lr)
        i, j = rng.integers(0, len(X), batch), rng.integers(0, len(S), ns)
        lt, p = _losses(torch, model, X[i], Y[i], S[j], N[j])
        opt.zero_grad()
        lt.backward()
        opt.step()
        step += 1
        if step % 25 == 0 or step == total:
            loss, parts = lt.item(), {k: v.item() for k, v in p.items()}
            if not math.isfinite(loss):
                raise TrainingDivergedError(f"the fit diverged at step {step}: loss {loss}")
        elapsed = time.perf_counter() - t0
        frac = step / total if total else min(elapsed / seconds, 0.99) if seconds else 0.0
        report(min(frac, 1.0), f"fitting {spec.text}: step {step}" + (f"/{total}" if total else ""))
        if seconds is not None and steps is None and elapsed > 1.1 * seconds:
            stopped = True                    # the machine slowed down: stop at the budget
            break
    return model, {"steps": step, "planned_steps": total, "stopped_early": stopped, "loss": loss, "losses": parts,
                   "train_seconds": time.perf_counter() - t0}


def fit_mesh_sdf(mesh: PolyMesh, net="relu:8x32", seconds: float | None = None, steps: int | None = None,
                 seed: int = 0, device: str = "cpu", progress=None, cancel=None, *, lr: float = 2e-3,
                 batch: int | None = None, restarts: int = 2, threads: int | None = 1,
                 n_samples: int = 300_000) -> FitResult:
    """Fit a network's level set ``f = 0`` to the surface of ``mesh`` (see the module docstring).

    Parameters
    ----------
    mesh : PolyMesh
        3-D mesh with faces (open or several parts work; the sign is the winding number's).
    net : str or NetSpec
        Network spec (:func:`parse_net_spec`).
    seconds, steps : float, int
        Time budget of the training (seconds > 0) and/or its number of steps; at least one
        (with both, ``steps`` is the schedule and ``seconds`` is ignored).
    seed : int
        Seeds the samples, the batches and the initial weights.
    device : {'cpu', 'cuda', 'auto'}
    progress, cancel : callable, optional
        ``progress(fraction, message)``; ``cancel()`` returning True raises Cancelled.
    lr, batch : float, int
        Peak learning rate; points per batch (plus a quarter of that on the surface; default
        512 on the CPU, where more, smaller steps fit better in a time budget -- measured on
        Suzanne, 8x32, 30 s: 0.48 / 0.37 / 0.33 / 0.40 % Chamfer at 4096 / 1024 / 512 / 256 --
        and 8192 on CUDA, not tuned).
    restarts : int
        Further tries (next seeds) after a collapsed fit.
    threads : int or None
        CPU threads torch may use (default 1, reproducible; restored afterwards).
    n_samples : int
        Size of the sample pool (surface points: a third of it; near and uniform: the rest).

    Returns
    -------
    FitResult
        ``facts``: steps, loss (and its parts), train_seconds, sample_seconds, restarts,
        seed (the one that was kept), warnings (e.g. a non-manifold mesh).

    Raises
    ------
    NeuralPolyError
        Empty, flat or non-finite meshes, bad budgets or specs, all tries collapsed.
    """
    torch = require_torch()
    spec = net if isinstance(net, (NetSpec, HashGridSpec)) else parse_net_spec(net)
    problems = check_input_mesh(mesh)
    if seconds is None and steps is None:
        raise NeuralPolyError("give a time budget (seconds) or a number of steps")
    if seconds is not None:
        seconds = check_float(seconds, "time budget (seconds)", 0.0, lo_open=True)
    steps = None if steps is None else check_int(steps, "steps", 1)
    seed, restarts = check_int(seed, "seed", 0), check_int(restarts, "restarts", 0)
    lr = check_float(lr, "learning rate", 0.0, lo_open=True)
    n_samples = check_int(n_samples, "n_samples", 1000)
    report = Reporter(check_callable(progress, "progress"), check_callable(cancel, "cancel"),
                      what="fitting", interval=0.05)
    if problems:
        warnings.warn("the mesh is not a closed manifold (" + "; ".join(problems) + "): fitting it anyway, "
                      "inside is where the winding number exceeds 1/2", stacklevel=2)
    dev = resolve_device(device)
    batch = (512 if dev.type == "cpu" else 8192) if batch is None else check_int(batch, "batch", 16)
    placement = Placement.fit(mesh.vertices[np.unique(mesh.corners)], BOX, margin=0.1)
    t0 = time.perf_counter()
    report(0.0, "sampling the signed distance", force=True)
    lo, hi = placement.to_world(np.full(3, BOX[0])), placement.to_world(np.full(3, BOX[1]))
    smp = training_samples(mesh, n_samples // 3, n_samples // 2, n_samples - n_samples // 3 - n_samples // 2,
                           box=(lo, hi), seed=seed).transformed(placement.scale, placement.offset)
    sample_seconds = time.perf_counter() - t0
    with torch_threads(threads):
        data = [torch.from_numpy(a.astype(np.float32)).to(dev) for a in (smp.points, smp.sdf, smp.surface, smp.normals)]
        for k in range(restarts + 1):
            model, facts = _train_once(torch, spec, data, seed + k, steps, seconds, dev, lr, batch, report)
            network = spec.to_network(torch, model)
            if sign_changes(network):
                break
        else:
            raise NeuralPolyError(f"the fit collapsed {restarts + 1} times (the network has one sign on the whole "
                                  "box: no surface); try more steps, another seed or a larger network")
    report(1.0, "fitted", force=True)
    facts.update(seed=seed + k, restarts=k, sample_seconds=sample_seconds, device=str(dev),
                 net=spec.text, warnings=[f"not a closed manifold: {p}" for p in problems])
    return FitResult(network, placement, spec, facts)


def _net_and_placement(result_or_net, placement: Placement | None, doing: str) -> tuple[Network, Placement]:
    """The network and placement of a :class:`FitResult`, or ``result_or_net`` with ``placement``."""
    if isinstance(result_or_net, FitResult):
        result_or_net, placement = result_or_net.network, result_or_net.placement
    if placement is None:
        raise NeuralPolyError(f"{doing} needs its placement (none in the model file?)")
    return result_or_net, placement


def extract_fitted(result_or_net, placement: Placement | None = None, *, method: str = "exact",
                   resolution: int = 128, progress=None, cancel=None,
                   trilinear_correction="surfaces") -> PolyMesh:
    """The fitted surface ``f = 0`` in world coordinates (where the input mesh was).

    ``result_or_net``: a :class:`FitResult`, or a network and its ``placement``. ``exact``
    for ReLU networks (planar n-gons, ``info['max_level_error']`` measured in network
    units); ``marching`` on a ``resolution^3`` grid of the box; ``trilinear`` (trilinear hash
    grids) with ``trilinear_correction`` (see :func:`~neuralpoly_core.levelset.extract_level_set`).
    """
    net, placement = _net_and_placement(result_or_net, placement, "extracting a fitted network")
    check_choice(method, EXTRACTION_METHODS, "extraction method")
    mesh = extract_level_set(net, 0.0, placement.box, method=method, resolution=resolution,
                             progress=progress, cancel=cancel, trilinear_correction=trilinear_correction)
    if mesh.n_faces == 0:
        raise NeuralPolyError("the fitted network has no surface in its box (f has one sign)")
    out = mesh.copy()
    out.vertices = placement.to_world(mesh.vertices)
    return out


def simplify_fitted(result_or_net, mesh: PolyMesh, placement: Placement | None = None, *,
                    vertex_budget: int | None = None, min_region_area: float = 0.0, collapse: str = "auto",
                    progress=None, cancel=None) -> PolyMesh:
    """A fitted surface ``mesh`` (world coordinates) simplified by
    :func:`~neuralpoly_core.mesh.simplify.simplify_mesh` (coplanar merging, then small patches
    and edges or faces collapsed down to ``vertex_budget``: ``collapse``), its level error
    measured in network units (``info['simplify']['max_level_error']``)."""
    net, placement = _net_and_placement(result_or_net, placement, "simplifying a fitted surface")
    if not mesh.is_closed_manifold():
        raise NeuralPolyError("the fitted surface is not a closed manifold (it reaches the network's box or touches "
                              "itself), so it cannot be simplified and stay closed: fit longer, or extract "
                              "without a vertex budget")
    return simplify_mesh(mesh, vertex_budget=vertex_budget, min_region_area=min_region_area,
                         f=lambda X: net(placement.to_network(X)), level=0.0, collapse=collapse, progress=progress,
                         cancel=cancel)


def _metrics(mesh: PolyMesh, out: PolyMesh, samples: int, seed: int) -> dict:
    from ..mesh.sdf import surface_metrics

    m = surface_metrics(mesh, out, samples, seed=seed)
    return {k: m[k] for k in ("chamfer", "chamfer_rel", "hausdorff", "hausdorff_rel", "normal_consistency",
                              "bbox_diagonal")}


def fit_and_extract(mesh: PolyMesh, net="relu:8x32", *, seconds: float | None = None, steps: int | None = None,
                    seed: int = 0, device: str = "cpu", method: str = "exact", resolution: int = 128,
                    samples: int = 200_000, vertex_budget: int | None = None, min_region_area: float = 0.0,
                    collapse: str = "auto", progress=None, cancel=None,
                    trilinear_correction="surfaces") -> tuple[FitResult, PolyMesh, dict]:
    """Fit (:func:`fit_mesh_sdf`), extract (:func:`extract_fitted`), simplify when asked
    (:func:`simplify_fitted`: ``vertex_budget``, ``min_region_area``, ``collapse``) and compare with the input
    (:func:`~neuralpoly_core.mesh.sdf.surface_metrics`, ``samples`` points each way).

    Returns ``(fit, mesh, summary)``; ``summary`` has ``chamfer``, ``chamfer_rel`` (of the
    input's bounding-box diagonal), ``hausdorff``, ``hausdorff_rel``, ``normal_consistency``,
    ``vertices``, ``faces``, ``train_seconds``, ``extract_seconds``, ``max_level_error``
    (``|f(v)|`` over the output's vertices, network units, after simplification), ``net``,
    ``steps``, ``seed``, ``method``, ``warnings``; and ``vertices_before_simplify``,
    ``faces_before_simplify`` (the extracted mesh; equal to ``vertices`` / ``faces`` without
    simplification), with simplification also ``chamfer_before_simplify``,
    ``chamfer_rel_before_simplify``, ``max_level_error_before_simplify``, ``simplify_seconds``,
    ``max_planarity`` (farthest corner from its face's plane, world units; within 1e-9 of the
    diagonal, the faces the collapses bent being split: ``faces_split``, and
    ``max_planarity_collapsed`` before that split), ``collapse``; with
    ``method='trilinear'`` also ``flatness_error``, ``trilinear_correction``,
    ``planar_level_error`` (:func:`~neuralpoly_core.summary.trilinear_facts`, of the extraction).
    """
    check_choice(method, EXTRACTION_METHODS, "extraction method")
    samples = check_int(samples, "samples", 1)
    if vertex_budget is not None:                  # checked before the fit, not after it
        vertex_budget = check_int(vertex_budget, "vertex budget", 4)
    min_region_area = check_float(min_region_area, "minimum region area (fraction of the total)", 0.0, 1.0)
    collapse = collapse_kind(collapse)
    simplify = vertex_budget is not None or min_region_area > 0
    report = Reporter(check_callable(progress, "progress"), check_callable(cancel, "cancel"), what="low-poly")
    fit_part, extract_part, simplify_part = report.parts([0.85, 0.1, 0.05] if simplify else [0.9, 0.1, 0.0])
    fit = fit_mesh_sdf(mesh, net, seconds=seconds, steps=steps, seed=seed, device=device,
                       progress=fit_part, cancel=cancel)
    t0 = time.perf_counter()
    out = extract_fitted(fit, method=method, resolution=resolution, progress=extract_part, cancel=cancel,
                         trilinear_correction=trilinear_correction)
    extract_seconds = time.perf_counter() - t0
    extra = {"vertices_before_simplify": out.n_vertices, "faces_before_simplify": out.n_faces, **trilinear_facts(out)}
    if simplify:
        before = _metrics(mesh, out, samples, seed)
        t0 = time.perf_counter()
        out = simplify_fitted(fit, out, vertex_budget=vertex_budget, min_region_area=min_region_area,
                              collapse=collapse, progress=simplify_part, cancel=cancel)
        extra.update(simplify_summary(out), chamfer_before_simplify=before["chamfer"],
                     chamfer_rel_before_simplify=before["chamfer_rel"], simplify_seconds=time.perf_counter() - t0)
    level_error = float(np.max(np.abs(fit.network(fit.placement.to_network(out.vertices)))))
    summary = _metrics(mesh, out, samples, seed)
    summary.update(vertices=out.n_vertices, faces=out.n_faces, train_seconds=fit.facts["train_seconds"],
                   extract_seconds=extract_seconds, max_level_error=level_error, net=fit.spec.text,
                   steps=fit.facts["steps"], seed=fit.facts["seed"], restarts=fit.facts["restarts"],
                   method=method, input_vertices=mesh.n_vertices, input_faces=mesh.n_faces,
                   warnings=fit.facts["warnings"], **extra)
    return fit, out, summary
