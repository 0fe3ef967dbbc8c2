"""Training of neural polytopes: many small networks at once, to convergence (the API of training).

A neural polytope of type ``(n1,...,nN; p1,...,pN)`` in ``d`` dimensions is the level set
``f = 1`` of the bias-free network ``f(x) = sum(|W_N ... |W_1 x|^p1 ... |^pN)``, trained so
that ``f = 1`` on the unit sphere S^(d-1): the loss is the mean of ``(f(x) - 1)**2`` over
points ``x`` of the sphere.

The paper trains each network with Adam on minibatches of random points for 100,000 steps
(:func:`recipe_train` reproduces that recipe, the baseline of ``bench/bench_training.py``).
These networks have at most a few dozen weights, so here every problem is solved
full-batch on quasi-uniform sphere points by a second-order method, and all problems of a
call -- every spec and every random start -- share the same batched tensor operations:

* problems with the same input dimension and widths form a group (exponents ``p`` may
  differ inside a group: a per-problem tensor); each iteration builds every problem's
  per-point Jacobian analytically, forms ``J^T J`` with one batched matrix product, adds
  the exact second-order term for one-layer networks (Newton; deeper networks use
  Gauss-Newton with a doubled trial step, which measured faster there), and solves the
  damped systems with batched Cholesky factorisations; the damping adapts per problem
  (Levenberg-Marquardt with Nielsen's rule); converged problems leave the batch;
* a *search* phase runs every start on a coarser point set with the kinks of ``|z|^p``
  rounded off over a wide band (a smoother landscape with fewer local minima), then the
  best start of each spec is *polished* on the full point set with a band as narrow as
  the point spacing (see :class:`~.batch.PolytopeBatch`);
* hidden layers (all but the last) are kept at unit row norm, which fixes the scale
  symmetry ``W_l[j] -> t W_l[j]``, ``W_(l+1)[:, j] -> t^-p W_(l+1)[:, j]``.

Inside the band the activation is a quadratic, so the derivative of ``|z|^p`` stays finite
for ``p < 1``. Steps that do not lower the loss (including non-finite trial losses) are
rejected; should a loss or weight nevertheless become non-finite,
:class:`~neuralpoly_core.errors.TrainingDivergedError` is raised.

This module turns specs into batched problems (:mod:`.batch`), runs the optimizers
(:mod:`.optimizers`) on them and picks each spec's best start (:func:`train_sweep`,
:func:`train_polytope`, :class:`TrainResult`). torch is imported on first use
(:mod:`.torch_access`): ``import neuralpoly_core`` works without it.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .._checks import check_callable, check_choice, check_float, check_int
from ..budget import MemoryBudgetError, check_memory, format_bytes
from ..errors import NeuralPolyError
from ..network.architecture import ArchType, check_dim
from ..network.model import Network, polytope_network
from ..reporting import Reporter
from .batch import CHUNK_ELEMENTS, PolytopeBatch
from .optimizers import adam, adam_bytes, diverged_error, lm_bytes, newton_lm
from .sampling import METHODS, sphere_points
from .torch_access import device_free_memory, require_torch, resolve_device, resolve_dtype, torch_threads

__all__ = ["TrainResult", "train_polytope", "train_sweep", "default_n_points", "OPTIMIZERS", "DEFAULT_TOL"]

OPTIMIZERS = ("auto", "lm", "adam")

#: Default relative tolerance on the loss decrease of one step (float64 / float32).
DEFAULT_TOL = {"float64": 1e-8, "float32": 1e-5}


@dataclass
class TrainResult:
    """One trained neural polytope.

    Attributes
    ----------
    network : Network
        The trained network (float64 weights, ``abs_pow`` layers, ``sum`` output).
    arch : ArchType
        Its architecture type.
    dim : int
        Input dimension d.
    loss : float
        MSE of ``f - 1`` of the kept network on its training points (the exact ``|z|^p``
        network, no smoothing band).
    restart_losses : list of float
        The same MSE for every start, in start order: the kept start after polishing, the
        others as they left the search phase (they were not polished, so they are not
        directly comparable with ``loss``).
    steps : int
        Optimizer iterations spent on the kept start (search + polish).
    seconds : float
        Wall time of the call, divided equally among the distinct specs it trained (for
        :func:`train_polytope`, the whole call).
    device : str
        Torch device used.
    converged : bool
        Whether the kept start met the convergence test before ``max_steps``.
    seed : int
        The seed of the call.
    optimizer, dtype, sampling : str
        Settings used.
    n_points : int
        Number of training points on the sphere.
    """

    network: Network
    arch: ArchType
    dim: int
    loss: float
    restart_losses: list
    steps: int
    seconds: float
    device: str
    converged: bool
    seed: int
    optimizer: str = "lm"
    dtype: str = "float64"
    sampling: str = "quasi"
    n_points: int = 0

    @property
    def restarts(self) -> int:
        return len(self.restart_losses)

    def meta(self) -> dict:
        """JSON-able training metadata for a model file's ``"meta"`` object."""
        return {
            "type": str(self.arch),
            "dim": int(self.dim),
            "loss": float(self.loss),
            "seed": int(self.seed),
            "restarts": int(self.restarts),
            "steps": int(self.steps),
            "optimizer": self.optimizer,
            "device": self.device,
            "dtype": self.dtype,
            "sampling": self.sampling,
            "n_points": int(self.n_points),
            "converged": bool(self.converged),
        }


def _normalise_spec(spec, i: int) -> tuple[int, ArchType]:
    """``(dim, arch)`` of spec ``i``: a ``(dim, type)`` pair or an object with ``dim`` and ``arch``."""
    if hasattr(spec, "dim") and hasattr(spec, "arch"):
        dim, arch = spec.dim, spec.arch
    else:
        try:
            dim, arch = spec
        except (TypeError, ValueError):
            raise NeuralPolyError(
                f"spec {i} must be a (dim, type) pair such as (3, '(4;1)'), got {spec!r}") from None
    return check_dim(dim), ArchType.parse(arch)


def _spec_key(dim: int, arch: ArchType) -> str:
    return f"{dim}:{arch}"


def _sphere_spacing(dim: int, n: int) -> float:
    """Typical distance between n quasi-uniform points of S^(dim-1)."""
    area = 2.0 * math.pi ** (dim / 2) / math.gamma(dim / 2)
    return (area / n) ** (1.0 / (dim - 1))


def _initial_params(dim: int, arch: ArchType, seed: int, restarts: int) -> np.ndarray:
    """Random starts of one spec, shape (restarts, P); independent of the batch it is in.

    Gaussian weights with variance 1/fan_in, from a generator seeded by (seed, spec, start).
    """
    key = zlib.crc32(_spec_key(dim, arch).encode())
    out = []
    for r in range(restarts):
        rng = np.random.default_rng(np.random.SeedSequence([seed, key, r]))
        n_in, parts = dim, []
        for n in arch.widths:
            parts.append(rng.standard_normal((n, n_in)) / math.sqrt(n_in))
            n_in = n
        out.append(np.concatenate([w.ravel() for w in parts]))
    return np.stack(out)


#: Band half-width during the search, relative to the RMS pre-activation.
SEARCH_BAND = 0.1
#: Band half-width when polishing, relative to (point spacing x RMS pre-activation).
POLISH_BAND = 1.0
#: Relative loss decrease that ends the search phase of a start.
SEARCH_TOL = 1e-5
#: Number of starts per spec (the best after the search) that are polished.
POLISH_TOP = 1
#: Iteration limit of the search phase (the polish continues from wherever it stopped).
SEARCH_STEPS = 60
#: The search phase uses n_points // SEARCH_FRACTION points, at least SEARCH_PER_WEIGHT per weight.
SEARCH_FRACTION = 8
SEARCH_PER_WEIGHT = 12


def default_n_points(dim: int) -> int:
    """Default number of quasi-uniform training points on S^(dim-1) (the polishing set)."""
    dim = check_dim(dim)
    return {2: 2048, 3: 4000}.get(dim, 4000 * (dim - 2))


def _search_points(n_points: int, n_params: int) -> int:
    """Size of the coarser point set of the search phase."""
    return min(n_points, max(n_points // SEARCH_FRACTION, SEARCH_PER_WEIGHT * n_params))


def train_sweep(specs: Iterable, *, seed: int = 0, restarts: int = 8, n_points: int | None = None,
                sampling: str = "quasi", optimizer: str = "auto", max_steps: int | None = None,
                tol: float | None = None, dtype: str = "float64", device: str = "auto",
                progress: Callable[[float, str], None] | None = None,
                cancel: Callable[[], bool] | None = None, lr: float | None = None,
                threads: int | None = 1) -> list[TrainResult]:
    """Train many neural polytopes in one batched computation.

    Parameters
    ----------
    specs : iterable
        ``(dim, type)`` pairs, e.g. ``[(3, "(4;1)"), (2, "(3;1.5)")]``, or objects with
        ``dim`` and ``arch`` attributes (such as :class:`neuralpoly_core.sweeps.figures.FigureNet`).
        Repeated specs are trained once.
    seed : int
        Seeds the training points and the random starts; the same seed gives the same
        weights (on the same device and dtype).
    restarts : int
        Random starts per spec. All are searched; the best (lowest search loss) is
        polished and kept.
    n_points : int, optional
        Number of training points on the sphere (default :func:`default_n_points`: 2048 on
        the circle, 4000 on S^2, 4000 (d - 2) beyond); the search phase uses a coarser set
        of ``n_points // 8`` points (at least 12 per weight).
    sampling : {'quasi', 'random'}
        Training points: quasi-uniform (default) or uniform random (the paper's).
    optimizer : {'auto', 'lm', 'adam'}
        ``'lm'`` (= ``'auto'``): Levenberg-Marquardt-damped Newton / Gauss-Newton, search
        then polish (see the module docstring). ``'adam'``: full-batch Adam on the full point
        set, all starts to the end, step size ``lr`` (default 0.01) times the RMS initial
        weight; slower, for comparison.
    max_steps : int, optional
        Iteration limit of the polish phase (default 300; the search phase stops at
        ``min(max_steps, 60)``) or of Adam (default 5000).
    tol : float, optional
        Relative loss decrease per step below which a problem counts as converged (default
        1e-8 for float64, 1e-5 for float32); the search phase stops at ``max(tol, 1e-5)``.
    dtype : {'float64', 'float32'}
        Working precision; returned weights are float64 either way.
    device : {'auto', 'cpu', 'cuda'}
        'auto' picks CUDA when available.
    progress : callable, optional
        ``progress(fraction, message)``, called at most every 50 ms with fraction in [0, 1].
    cancel : callable, optional
        Polled every iteration; returning True raises :class:`~neuralpoly_core.errors.Cancelled`.
    lr : float, optional
        Adam step size (only with ``optimizer='adam'``).
    threads : int or None
        CPU threads torch may use while training (default 1: the batched problems are
        small, and a second thread mostly waits for the first -- measured 6.95 s with one
        thread vs 9.7 s with two for the 63 figure networks on 2 cores). The previous
        setting is restored afterwards; None leaves torch's setting alone.

    Returns
    -------
    list of TrainResult
        One per spec, in the order given.

    Raises
    ------
    NeuralPolyError
        Bad arguments, torch missing, CUDA requested but unavailable.
    TrainingDivergedError
        A loss or weight became non-finite.
    Cancelled
        ``cancel()`` returned True.
    """
    require_torch()
    t_start = time.perf_counter()
    seed = check_int(seed, "seed", 0)
    restarts = check_int(restarts, "restarts", 1)
    if n_points is not None:
        n_points = check_int(n_points, "n_points", 8)
    check_choice(sampling, METHODS, "sampling")
    opt = "adam" if check_choice(optimizer, OPTIMIZERS, "optimizer") == "adam" else "lm"
    if max_steps is not None:
        max_steps = check_int(max_steps, "max_steps", 1)
    else:
        max_steps = 5000 if opt == "adam" else 300
    tdtype, dtype_name = resolve_dtype(dtype)
    tol = check_float(DEFAULT_TOL[dtype_name] if tol is None else tol, "tol", 0.0, 1.0, lo_open=True, hi_open=True)
    if lr is not None and opt != "adam":
        raise NeuralPolyError("lr applies to optimizer='adam' only")
    lr = 0.01 if lr is None else check_float(lr, "lr", 0.0, lo_open=True)
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    dev = resolve_device(device)
    specs = [_normalise_spec(s, i) for i, s in enumerate(specs)]
    if not specs:
        return []
    unique = list(dict.fromkeys(specs))
    chunks = _plan_chunks(unique, n_points, restarts, opt)
    for ch in chunks:
        _check_chunk_memory(ch, restarts, opt, 4 if dtype_name == "float32" else 8, dev)
    report = Reporter(progress, cancel, what="training", interval=0.05)
    report(0.0, "training", force=True)
    parts = iter(report.parts(w for ch in chunks for w in ch["weights"]))
    results = {}
    with torch_threads(threads):
        for ch in chunks:
            results.update(_train_chunk(ch, restarts=restarts, seed=seed, sampling=sampling, tdtype=tdtype,
                                        dev=dev, opt=opt, max_steps=max_steps, tol=tol, lr=lr,
                                        reports=[next(parts) for _ in ch["weights"]]))
    report(1.0, f"trained {len(unique)} type(s)", force=True)
    seconds = (time.perf_counter() - t_start) / len(unique)
    out = []
    for dim, arch in specs:
        r = results[(dim, arch)]
        out.append(TrainResult(network=r["network"].copy(), arch=arch, dim=dim, loss=r["loss"],
                               restart_losses=list(r["restart_losses"]), steps=r["steps"], seconds=seconds,
                               device=str(dev), converged=r["converged"], seed=seed, optimizer=opt,
                               dtype=dtype_name, sampling=sampling, n_points=r["n_points"]))
    return out


def _plan_chunks(unique, n_points: int | None, restarts: int, opt: str) -> list[dict]:
    """The specs in groups of equal (dim, widths), split into chunks that fit in memory.

    Each chunk also gets the rough cost of its phases (``weights``: search and polish, or
    Adam's one phase), which share out the progress fraction.
    """
    groups: dict = {}
    for s in unique:
        groups.setdefault((s[0], s[1].widths), []).append(s)
    chunks = []
    for (dim, widths), members in groups.items():
        M = n_points or default_n_points(dim)
        P = sum(a * b for a, b in zip(widths, (dim,) + widths[:-1]))
        Mc = _search_points(M, P)
        per_spec = restarts * Mc * (P + sum(widths)) + M * (P + sum(widths))
        per_chunk = max(1, CHUNK_ELEMENTS // max(per_spec, 1))
        for i in range(0, len(members), per_chunk):
            part = members[i:i + per_chunk]
            search = len(part) * restarts * Mc * P * P          # rough cost of an iteration
            polish = len(part) * min(POLISH_TOP, restarts) * M * P * P
            chunks.append(dict(dim=dim, widths=widths, part=part, M=M, Mc=Mc, P=P,
                               weights=(search + polish,) if opt == "adam" else (search, polish)))
    return chunks


def _check_chunk_memory(ch, restarts: int, opt: str, itemsize: int, dev) -> None:
    """Refuse a chunk whose training would need more memory than the budget, or than the GPU
    has free (before any work)."""
    S, P, ws = len(ch["part"]), ch["P"], sum(ch["widths"])
    if opt == "adam":
        need = adam_bytes(S * restarts, P, ch["M"], ws, itemsize)
    else:
        newton = len(ch["widths"]) == 1
        need = max(lm_bytes(S * restarts, P, ch["Mc"], ws, itemsize, newton),
                   lm_bytes(S * min(POLISH_TOP, restarts), P, ch["M"], ws, itemsize, newton))
    need += 2 * ch["M"] * ch["dim"] * itemsize           # the training points, fine and coarse
    types = ", ".join(str(a) for _, a in ch["part"])
    what = f"training {types} in {ch['dim']}D ({P:,} weights, {restarts} restart(s), {ch['M']:,} points, optimizer {opt})"
    lower = ("lower the widths (--widths), the restarts (--restarts) or the training points (n_points)"
             + ("; optimizer='adam' needs no P x P matrices" if opt == "lm" else ""))
    free = device_free_memory(dev)
    if free is not None and need > 0.9 * free:
        raise MemoryBudgetError(f"{what} would need about {format_bytes(need)} of GPU memory, over the "
                                f"{format_bytes(free)} free on {dev}; {lower} (or train with --device cpu)")
    check_memory(need, what, lower)


def _train_chunk(ch, *, restarts, seed, sampling, tdtype, dev, opt, max_steps, tol, lr, reports) -> dict:
    """Train the specs of one chunk (same dim and widths): search, polish, pick.

    ``reports`` has one :class:`Reporter` per phase of the chunk (Adam's one, or search and polish).
    """
    torch = require_torch()
    dim, widths, part, M, Mc = ch["dim"], ch["widths"], ch["part"], ch["M"], ch["Mc"]
    S, R = len(part), restarts
    labels = [f"{arch} in {dim}D (start {r})" for _, arch in part for r in range(R)]
    msg = f"{', '.join(str(a) for _, a in part)} in {dim}D"
    X = torch.as_tensor(sphere_points(dim, M, sampling, seed), dtype=tdtype, device=dev)
    Xc = X if Mc >= M else torch.as_tensor(sphere_points(dim, Mc, sampling, seed), dtype=tdtype, device=dev)
    ps = np.repeat(np.array([arch.ps for _, arch in part]), R, axis=0)
    batch = PolytopeBatch(dim, widths, ps, tdtype, dev)
    params = torch.as_tensor(np.concatenate([_initial_params(dim, arch, seed, R) for _, arch in part]),
                             dtype=tdtype, device=dev)
    params = batch.scale_to_sphere(batch.normalise_hidden(params), Xc)
    polish_band = POLISH_BAND * _sphere_spacing(dim, M)

    if opt == "adam":
        bands = [polish_band * sc for sc in batch.band_scales(params, X)]
        params, obj, steps, conv = adam(batch.with_bands(bands), params, X, max_steps=max_steps, tol=tol, lr=lr,
                                        labels=labels, report=reports[0], message=f"training {msg}")
        keep = torch.argmin(obj.reshape(S, R), dim=1) + torch.arange(S, device=dev) * R
    else:
        newton = batch.depth == 1
        # search: every start, coarse points, wide band
        search_band = max(SEARCH_BAND, POLISH_BAND * _sphere_spacing(dim, Mc))
        bands = [search_band * sc for sc in batch.band_scales(params, Xc)]
        params, obj, steps, conv = newton_lm(batch.with_bands(bands), params, Xc,
                                             max_steps=min(max_steps, SEARCH_STEPS), tol=max(tol, SEARCH_TOL),
                                             newton=newton, labels=labels, report=reports[0],
                                             message=f"searching {msg}")
        # polish the best POLISH_TOP starts of every spec on the full point set, band of the spacing
        top = min(POLISH_TOP, R)
        cand = (torch.argsort(obj.reshape(S, R), dim=1)[:, :top]
                + torch.arange(S, device=dev).unsqueeze(1) * R).reshape(-1)
        sub = batch.subset(cand)
        pc = params.index_select(0, cand)
        bands = [polish_band * sc for sc in sub.band_scales(pc, X)]
        pc, obj_c, st2, cv2 = newton_lm(sub.with_bands(bands), pc, X, max_steps=max_steps, tol=tol,
                                        newton=newton, labels=[labels[int(i)] for i in cand], report=reports[1],
                                        message=f"polishing {msg}")
        params = params.index_copy(0, cand, pc)
        steps = steps.index_copy(0, cand, steps.index_select(0, cand) + st2)
        conv = conv.index_copy(0, cand, cv2)
        keep = cand.reshape(S, top).gather(1, torch.argmin(obj_c.reshape(S, top), dim=1, keepdim=True)).squeeze(1)
    loss = (batch.sse(params, X) / M).reshape(S, R)
    if not bool(torch.isfinite(loss).all()):
        bad = int(torch.nonzero(~torch.isfinite(loss.reshape(-1)))[0])
        raise diverged_error(labels, bad, int(steps[bad]), "the final loss is not finite")
    params_np = params.detach().cpu().numpy().astype(np.float64)
    loss_np = loss.detach().cpu().numpy().astype(np.float64).reshape(-1)
    steps_np = steps.cpu().numpy()
    conv_np = conv.cpu().numpy()
    keep_np = keep.cpu().numpy()
    out = {}
    for k, (d_, arch) in enumerate(part):
        j = int(keep_np[k])
        out[(d_, arch)] = dict(
            network=polytope_network(dim, batch.to_numpy_weights(params_np[j]), list(arch.ps)),
            loss=float(loss_np[j]), restart_losses=[float(v) for v in loss_np[k * R:(k + 1) * R]],
            steps=int(steps_np[j]), converged=bool(conv_np[j]), n_points=M)
    return out


def train_polytope(dim: int, arch, *, seed: int = 0, restarts: int = 8, n_points: int | None = None,
                   sampling: str = "quasi", optimizer: str = "auto", max_steps: int | None = None,
                   tol: float | None = None, dtype: str = "float64", device: str = "auto",
                   progress: Callable[[float, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None, lr: float | None = None,
                   threads: int | None = 1) -> TrainResult:
    """Train one neural polytope of type ``arch`` in ``dim`` dimensions.

    ``arch`` is an :class:`ArchType` or text such as ``"(4,2;1)"``. This is
    :func:`train_sweep` of the single spec ``(dim, arch)``; see it for the options.

    Examples
    --------
    >>> r = train_polytope(3, "(4;1)")          # doctest: +SKIP
    >>> round(r.loss, 5)                         # the cuboctahedron  # doctest: +SKIP
    0.00563
    """
    return train_sweep([(dim, arch)], seed=seed, restarts=restarts, n_points=n_points, sampling=sampling,
                       optimizer=optimizer, max_steps=max_steps, tol=tol, dtype=dtype, device=device,
                       progress=progress, cancel=cancel, lr=lr, threads=threads)[0]

