"""Training of neural polytopes with PyTorch: many small networks at once, to convergence.

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
  the point spacing (see :class:`_Batch`);
* hidden layers (all but the last) are kept at unit row norm, which fixes the scale
  symmetry ``W_l[j] -> t W_l[j]``, ``W_(l+1)[:, j] -> t^-p W_(l+1)[:, j]``.

Inside the band the activation is a quadratic, so the derivative of ``|z|^p`` stays finite
for ``p < 1``. Steps that do not lower the loss (including non-finite trial losses) are
rejected; should a loss or weight nevertheless become non-finite,
:class:`~neuralpoly_core.errors.TrainingDivergedError` is raised.

torch is imported lazily: ``import neuralpoly_core`` works without it.
"""

from __future__ import annotations

import importlib.util
import math
import numbers
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from ..network.architecture import ArchType, check_dim
from ..errors import Cancelled, NeuralPolyError, TrainingDivergedError
from ..network.model import Network, polytope_network
from .sampling import METHODS, sphere_points

__all__ = ["TrainResult", "torch_available", "train_polytope", "train_sweep", "recipe_train",
           "dense_sphere_mse", "sphere_mse_exact", "default_n_points", "OPTIMIZERS"]

OPTIMIZERS = ("auto", "lm", "adam")

#: Default relative tolerance on the loss decrease of one step (float64 / float32).
DEFAULT_TOL = {"float64": 1e-8, "float32": 1e-5}


# ----------------------------------------------------------------------------------------
# torch access
# ----------------------------------------------------------------------------------------
def torch_available() -> bool:
    """True when PyTorch is installed (training needs it; evaluation does not).

    Cheap: looks the package up without importing it.
    """
    if "torch" in sys.modules:
        return sys.modules["torch"] is not None
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _torch():
    try:
        import torch
    except ImportError:
        raise NeuralPolyError(
            "training needs PyTorch, which is not installed; install it with "
            "'pip install torch==2.13.0' (CPU wheels: add "
            "'--index-url https://download.pytorch.org/whl/cpu')") from None
    return torch


def _resolve_device(device: str):
    torch = _torch()
    if not isinstance(device, str):
        raise NeuralPolyError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise NeuralPolyError(
                f"device {device!r} requested but CUDA is not available to PyTorch "
                f"(torch {torch.__version__}); use device='cpu' or 'auto'")
        try:
            dev = torch.device(device)
        except RuntimeError:
            raise NeuralPolyError(f"invalid CUDA device {device!r}") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise NeuralPolyError(
                f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return dev
    raise NeuralPolyError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


def _resolve_dtype(dtype):
    torch = _torch()
    if dtype in ("float64", "double", torch.float64):
        return torch.float64, "float64"
    if dtype in ("float32", "float", torch.float32):
        return torch.float32, "float32"
    raise NeuralPolyError(f"dtype must be 'float64' or 'float32', got {dtype!r}")


# ----------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------
# argument handling
# ----------------------------------------------------------------------------------------
def _check_int(value, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NeuralPolyError(f"{what} must be a whole number, got {value!r}")
    value = int(value)
    if value < minimum:
        raise NeuralPolyError(f"{what} must be at least {minimum}, got {value}")
    return value


def _check_callable(value, what: str):
    if value is not None and not callable(value):
        raise NeuralPolyError(f"{what} must be callable or None, got {value!r}")
    return value


def _normalise_spec(spec, i: int) -> tuple[int, ArchType]:
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


# ----------------------------------------------------------------------------------------
# the batched network: activations with a smoothing band, loss, gradient, Hessian
# ----------------------------------------------------------------------------------------
def _blockdiag(blocks):
    """(B, n, k, k) blocks -> (B, n*k, n*k) block-diagonal matrices."""
    torch = _torch()
    B, n, k, _ = blocks.shape
    out = torch.zeros(B, n, k, n, k, dtype=blocks.dtype, device=blocks.device)
    idx = torch.arange(n, device=blocks.device)
    out[:, idx, :, idx, :] = blocks.transpose(0, 1)
    return out.reshape(B, n * k, n * k)


class _Batch:
    """A batch of problems with the same input dimension and widths.

    Parameters of problem ``b`` are the row ``params[b]``: the weight matrices (out, in),
    row-major, first layer first. Exponents may differ per problem (``ps``, shape (B, L)).

    ``bands`` (one (B, 1, 1) tensor per layer, or None) replaces ``|z|^p`` inside
    ``|z| < e`` by the quadratic with the same value and slope at ``|z| = e``:
    ``e^p (1 - p/2) + (p/2) e^(p-2) z^2``. The function is then C^1 with bounded second
    derivative (also for p < 1, whose derivative is otherwise infinite at 0) and is exactly
    ``|z|^p`` outside the band. Bands of the order of the spacing of the training points
    make the finite-point loss a faithful quadrature of the sphere integral (without them
    every point crossing a kink adds a spurious local minimum); wide bands smooth the
    landscape for the search phase.
    """

    def __init__(self, dim: int, widths, ps, dtype, device):
        torch = _torch()
        self.dim = dim
        self.widths = tuple(widths)
        self.shapes = []
        n_in = dim
        for n in self.widths:
            self.shapes.append((n, n_in))
            n_in = n
        self.sizes = [a * b for a, b in self.shapes]
        self.offsets = [0]
        for s in self.sizes:
            self.offsets.append(self.offsets[-1] + s)
        self.P = self.offsets[-1]
        self.ps = torch.as_tensor(np.asarray(ps, dtype=np.float64), dtype=dtype, device=device)
        self.bands = None
        self._derive()

    def _derive(self):
        ps = self.ps.detach().cpu().numpy()
        # per layer: None when every problem has p = 1 (cheaper formulas), else (B, 1, 1)
        self.layer_p = [None if np.all(ps[:, l] == 1.0) else self.ps[:, l].reshape(-1, 1, 1)
                        for l in range(len(self.widths))]

    def _new(self, ps, bands) -> "_Batch":
        other = object.__new__(_Batch)
        other.__dict__.update(self.__dict__)
        other.ps = ps
        other.bands = bands
        other._derive()
        return other

    @property
    def depth(self) -> int:
        return len(self.widths)

    def subset(self, idx) -> "_Batch":
        return self._new(self.ps.index_select(0, idx),
                         None if self.bands is None else [b.index_select(0, idx) for b in self.bands])

    def with_bands(self, bands) -> "_Batch":
        return self._new(self.ps, bands)

    def weights(self, params):
        B = params.shape[0]
        return [params[:, o:o + s].reshape(B, *shape)
                for o, s, shape in zip(self.offsets, self.sizes, self.shapes)]

    def normalise_hidden(self, params):
        """Rows of every layer but the last scaled to unit norm, compensated in the next layer.

        ``|t w.h|^p = t^p |w.h|^p``, so dividing row ``j`` of layer ``l`` by ``t`` and
        multiplying column ``j`` of layer ``l + 1`` by ``t^p_l`` leaves the (band-free)
        network function unchanged. Fixing this scale symmetry keeps the hidden
        pre-activations on the scale of the bands.
        """
        if self.depth == 1:
            return params
        torch = _torch()
        Ws = [W.clone() for W in self.weights(params)]
        for l in range(self.depth - 1):
            t = Ws[l].norm(dim=2).clamp_min(torch.finfo(params.dtype).tiny)      # (B, n_l)
            Ws[l] = Ws[l] / t.unsqueeze(2)
            p = self.layer_p[l]
            Ws[l + 1] = Ws[l + 1] * (t if p is None else t.pow(p.reshape(-1, 1))).unsqueeze(1)
        return torch.cat([W.reshape(params.shape[0], -1) for W in Ws], dim=1)

    def to_numpy_weights(self, row: np.ndarray) -> list[np.ndarray]:
        return [row[o:o + s].reshape(shape) for o, s, shape in zip(self.offsets, self.sizes, self.shapes)]

    # -- activation ------------------------------------------------------------------
    def _phi(self, z, l: int, order: int):
        """Activation of layer ``l`` and, for ``order`` >= 1 (2), its first (second) derivative.

        Derivatives are only taken with bands set; a second derivative of None means 0.
        """
        torch = _torch()
        p = self.layer_p[l]
        a = z.abs()
        h = a if p is None else a.pow(p)
        if order == 0 and self.bands is None:
            return h, None, None
        if self.bands is None:
            raise RuntimeError("derivatives of |z|^p are only taken with smoothing bands")
        e = self.bands[l]
        inside = a < e
        if p is None:
            h = torch.where(inside, 0.5 * (e + z * z / e), h)
            if order == 0:
                return h, None, None
            d1 = torch.where(inside, z / e, torch.sign(z))
            d2 = torch.where(inside, 1.0 / e, torch.zeros_like(z)) if order >= 2 else None
            return h, d1, d2
        ep2 = e.pow(p - 2.0)
        h_in = e.pow(p) * (1.0 - 0.5 * p) + 0.5 * p * ep2 * z * z
        if order == 0:
            return torch.where(inside, h_in, h), None, None
        inv = 1.0 / torch.maximum(a, e)       # outside the band |z| >= e > 0
        d1_out = p * h * inv                  # p |z|^(p-1), without a second pow
        d1 = torch.where(inside, p * ep2 * z, d1_out * torch.sign(z))
        d2 = None
        if order >= 2:
            d2 = torch.where(inside, p * ep2, (p - 1.0) * d1_out * inv)
        return torch.where(inside, h_in, h), d1, d2

    # -- loss and derivatives --------------------------------------------------------------
    def sse(self, params, X):
        """Sum over the points X (M, d) of (f - 1)^2 for every problem: shape (B,)."""
        h = X
        for l, W in enumerate(self.weights(params)):
            h, _, _ = self._phi(h @ W.transpose(1, 2), l, 0)
        r = h.sum(-1) - 1.0
        return (r * r).sum(1)

    def band_scales(self, params, X):
        """Root-mean-square pre-activation of every layer and problem, (B, 1, 1) each."""
        torch = _torch()
        out, h = [], X
        for l, W in enumerate(self.weights(params)):
            z = h @ W.transpose(1, 2)
            out.append(z.pow(2).mean(dim=(1, 2), keepdim=True).sqrt()
                       .clamp_min(torch.finfo(z.dtype).tiny))
            h, _, _ = self._phi(z, l, 0)
        return out

    def _backprop(self, params, X, order: int):
        Ws = self.weights(params)
        hs, d1s, d2s = [X], [], []
        for l, W in enumerate(Ws):
            h, d1, d2 = self._phi(hs[-1] @ W.transpose(1, 2), l, order)
            hs.append(h)
            d1s.append(d1)
            d2s.append(d2)
        r = hs[-1].sum(-1) - 1.0
        es = [None] * len(Ws)          # d f / d z_l, (B, M, n_l)
        es[-1] = d1s[-1]
        for l in range(len(Ws) - 2, -1, -1):
            es[l] = (es[l + 1] @ Ws[l + 1]) * d1s[l]
        return Ws, hs, d1s, d2s, r, es

    def gradient(self, params, X):
        """``sse`` (B,) and the gradient of ``sse / 2`` (B, P), without forming the Jacobian."""
        torch = _torch()
        _, hs, _, _, r, es = self._backprop(params, X, 1)
        B = params.shape[0]
        gs = [((es[l] * r.unsqueeze(2)).transpose(1, 2) @ hs[l]).reshape(B, -1) for l in range(self.depth)]
        return (r * r).sum(1), (gs[0] if len(gs) == 1 else torch.cat(gs, dim=1))

    def normal_equations(self, params, X, newton: bool):
        """``sse``, gradient ``g = J^T r``, matrix ``H`` and ``diag(J^T J)`` for every problem.

        ``H`` is the Gauss-Newton matrix ``J^T J`` or, with ``newton``, the full Hessian of
        ``sse / 2``: ``J^T J + sum_i r_i d2f_i/dtheta2`` (see :meth:`_curvature`). All four
        are sums over the points, so large problems are evaluated in chunks of points.
        """
        B, M = params.shape[0], X.shape[0]
        per_point = B * (self.P + sum(self.widths) * (self.depth + 1))
        step = max(1, _CHUNK_ELEMENTS // per_point)
        if M <= step:
            return self._normal_equations(params, X, newton)
        parts = [self._normal_equations(params, X[i:i + step], newton) for i in range(0, M, step)]
        return tuple(sum(p[k] for p in parts) for k in range(4))

    def _normal_equations(self, params, X, newton: bool):
        torch = _torch()
        Ws, hs, d1s, d2s, r, es = self._backprop(params, X, 2 if newton else 1)
        B, M = params.shape[0], X.shape[0]
        ins = [X.expand(B, M, self.dim)] + hs[1:-1]
        blocks = [(es[l].unsqueeze(3) * ins[l].unsqueeze(2)).reshape(B, M, -1) for l in range(self.depth)]
        J = blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=2)
        H = J.transpose(1, 2) @ J
        gs = [((es[l] * r.unsqueeze(2)).transpose(1, 2) @ ins[l]).reshape(B, -1) for l in range(self.depth)]
        g = gs[0] if len(gs) == 1 else torch.cat(gs, dim=1)
        dgn = torch.diagonal(H, dim1=1, dim2=2).clone()
        if newton:
            H = H + self._curvature(Ws, ins, d1s, d2s, r, es)
        return (r * r).sum(1), g, H, dgn

    def _curvature(self, Ws, ins, d1s, d2s, r, es):
        """``sum_i r_i d2f_i / dtheta2`` (B, P, P), exactly, for any depth.

        With ``delta_m = df/dz_m``, ``Hz_m = d2f/dz_m2`` and ``G_ab = dz_a/dz_b`` (per point),
        for layers m >= m' and weights ``W_m[k, j]``, ``W_m'[k', j']``::

            d2f = (Hz_m G_mm')[k, k'] h_(m-1)[j] h_(m'-1)[j']
                  + [m' < m] delta_m[k] phi'_(m-1)[j] G_(m-1)m'[j, k'] h_(m'-1)[j']

        ``Hz_N = diag(phi''_N)``,
        ``Hz_l = diag(phi'_l) W_(l+1)^T Hz_(l+1) W_(l+1) diag(phi'_l) + diag(df/dh_l phi''_l)``.
        """
        torch = _torch()
        L = self.depth
        B, M = r.shape
        ns = (self.dim,) + self.widths
        d2s = [torch.zeros_like(d1s[l]) if d2s[l] is None else d2s[l] for l in range(L)]
        if L == 1:      # block diagonal: one (d, d) block per unit
            X = ins[0][0]
            d = self.dim
            XX = (X.unsqueeze(2) * X.unsqueeze(1)).reshape(M, d * d)
            S = ((r.unsqueeze(2) * d2s[0]).transpose(1, 2) @ XX).reshape(B, self.widths[0], d, d)
            return _blockdiag(S)
        Hz = [None] * L
        Hz[L - 1] = torch.diag_embed(d2s[L - 1])
        for l in range(L - 2, -1, -1):
            A = Ws[l + 1].unsqueeze(1)                                    # (B, 1, n_l+1, n_l)
            Q = A.transpose(2, 3) @ Hz[l + 1] @ A                          # (B, M, n_l, n_l)
            dfdh = es[l + 1] @ Ws[l + 1]                                   # (B, M, n_l)
            Hz[l] = d1s[l].unsqueeze(3) * Q * d1s[l].unsqueeze(2) + torch.diag_embed(dfdh * d2s[l])
        # G[a][b] = dz_a / dz_b for a >= b, (B, M, n_a, n_b)
        G = [[None] * L for _ in range(L)]
        for b in range(L):
            G[b][b] = torch.diag_embed(torch.ones_like(d1s[b]))
            for a in range(b + 1, L):
                G[a][b] = Ws[a].unsqueeze(1) @ (d1s[a - 1].unsqueeze(3) * G[a - 1][b])
        S = torch.zeros(B, self.P, self.P, dtype=r.dtype, device=r.device)
        rr = r.unsqueeze(2).unsqueeze(3)
        for m in range(L):
            for mp in range(m + 1):
                nm, nmi, nmp, nmpi = ns[m + 1], ns[m], ns[mp + 1], ns[mp]
                HG = (rr * (Hz[m] @ G[m][mp])).reshape(B, M, nm * nmp)      # [k, k']
                T = (HG.unsqueeze(3) * ins[m].unsqueeze(2)).reshape(B, M, nm * nmp * nmi)   # [k, k', j]
                T = (T.transpose(1, 2) @ ins[mp]).reshape(B, nm, nmp, nmi, nmpi)           # [k, k', j, j']
                T = T.permute(0, 1, 3, 2, 4).reshape(B, nm * nmi, nmp * nmpi)
                if mp < m:
                    C = (d1s[m - 1].unsqueeze(3) * G[m - 1][mp])                          # [j, k']
                    C = (C.unsqueeze(4) * ins[mp].unsqueeze(2).unsqueeze(3)).reshape(B, M, -1)  # [j, k', j']
                    T2 = ((r.unsqueeze(2) * es[m]).transpose(1, 2) @ C)                    # [k, (j, k', j')]
                    T = T + T2.reshape(B, nm * nmi, nmp * nmpi)
                o, op = self.offsets[m], self.offsets[mp]
                S[:, o:o + nm * nmi, op:op + nmp * nmpi] = T
                if mp < m:
                    S[:, op:op + nmp * nmpi, o:o + nm * nmi] = T.transpose(1, 2)
        return S


#: Largest tensor (elements) one batched evaluation may build; larger work is split.
_CHUNK_ELEMENTS = 8_000_000


def _sphere_spacing(dim: int, n: int) -> float:
    """Typical distance between n quasi-uniform points of S^(dim-1)."""
    area = 2.0 * math.pi ** (dim / 2) / math.gamma(dim / 2)
    return (area / n) ** (1.0 / (dim - 1))


# ----------------------------------------------------------------------------------------
# initialisation
# ----------------------------------------------------------------------------------------
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


def _scale_to_sphere(batch: _Batch, params, X):
    """Scale each problem's last layer so that the multiple of f is optimal on the points X.

    f is positively homogeneous of degree ``p_N`` in the last layer's weights, so
    ``W_N -> c W_N`` multiplies f by ``c**p_N``; the best multiple is ``sum(f) / sum(f^2)``.
    """
    torch = _torch()
    tiny = torch.finfo(params.dtype).tiny
    h = X
    for l, W in enumerate(batch.weights(params)):
        h, _, _ = batch._phi(h @ W.transpose(1, 2), l, 0)
    f = h.sum(-1)
    t = f.sum(1) / (f * f).sum(1).clamp_min(tiny)
    c = t.clamp_min(tiny).pow(1.0 / batch.ps[:, -1])
    c = torch.where(torch.isfinite(c) & (c > 0), c, torch.ones_like(c))
    params = params.clone()
    params[:, batch.offsets[-2]:] *= c.unsqueeze(1)
    return params


# ----------------------------------------------------------------------------------------
# progress and cancellation
# ----------------------------------------------------------------------------------------
class _Ticker:
    """Calls ``cancel`` every step and ``progress`` at most every 50 ms."""

    def __init__(self, cancel, progress, total_weight: float):
        self.cancel = cancel
        self.progress = progress
        self.total = max(float(total_weight), 1e-300)
        self.done = 0.0
        self.last = -1.0

    def check(self):
        if self.cancel is not None and self.cancel():
            raise Cancelled("training cancelled")

    def report(self, within: float, weight: float, message: str, force: bool = False):
        if self.progress is None:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.05:
            return
        self.last = now
        frac = (self.done + weight * min(max(within, 0.0), 1.0)) / self.total
        self.progress(min(1.0, max(0.0, frac)), message)

    def advance(self, weight: float):
        self.done += weight


# ----------------------------------------------------------------------------------------
# Levenberg-Marquardt / damped Newton on a batch of problems
# ----------------------------------------------------------------------------------------
_LAMBDA_MIN, _LAMBDA_MAX = 1e-15, 1e16


def _diverged(labels, i: int, step: int, what: str):
    return TrainingDivergedError(f"training {labels[i]} diverged at step {step}: {what}")


def _newton_lm(batch: _Batch, params, X, *, max_steps: int, tol: float, newton: bool, labels,
               ticker: _Ticker, weight: float, message: str):
    """Minimise the (banded) sum of squares of every problem of ``batch`` on the points X.

    Each iteration solves ``(H + lambda D) delta = -g`` by batched Cholesky (D: the
    diagonal of J^T J), evaluates the loss at the trial point, accepts it if the loss went
    down and adapts lambda by Nielsen's rule from the ratio of actual to predicted decrease.
    Without ``newton`` (Gauss-Newton), a step twice as long is also tried. A problem has
    converged after two consecutive accepted near-Newton steps (lambda <= 0.01) that lower
    the loss by less than ``tol`` relative, or when no damping gives a lower loss.
    Converged problems leave the batch.

    Returns ``(params, sse, steps, converged)`` with one entry per problem.
    """
    torch = _torch()
    B, P = params.shape
    dtype, dev = params.dtype, params.device
    tiny = torch.finfo(dtype).tiny
    floor = X.shape[0] * torch.finfo(dtype).eps ** 2     # residuals at rounding level: exact fit
    out_params = params.clone()
    out_sse = torch.full((B,), math.inf, dtype=dtype, device=dev)
    out_steps = torch.zeros(B, dtype=torch.long, device=dev)
    out_conv = torch.zeros(B, dtype=torch.bool, device=dev)

    active = torch.arange(B, device=dev)
    sub = batch
    sse, g, H, dgn = sub.normal_equations(params, X, newton)
    if not bool(torch.isfinite(sse).all()):
        raise _diverged(labels, int(torch.nonzero(~torch.isfinite(sse))[0]), 0, "the initial loss is not finite")
    lam = torch.full((B,), 1e-3, dtype=dtype, device=dev)
    nu = torch.full((B,), 2.0, dtype=dtype, device=dev)
    small = torch.zeros(B, dtype=torch.long, device=dev)
    steps = torch.zeros(B, dtype=torch.long, device=dev)

    for it in range(max_steps):
        ticker.check()
        steps += 1
        dscale = torch.maximum(dgn, 1e-10 * dgn.mean(1, keepdim=True)).clamp_min(tiny)
        A = H + torch.diag_embed(lam.unsqueeze(1) * dscale)
        L, info = torch.linalg.cholesky_ex(A)
        ok = info == 0
        delta = -torch.cholesky_solve(g.unsqueeze(2), L).squeeze(2)
        ok = ok & torch.isfinite(delta).all(1)
        delta = torch.where(ok.unsqueeze(1), delta, torch.zeros_like(delta))
        trial = sub.normalise_hidden(params + delta)
        sse_t = sub.sse(trial, X)
        pred = -(2.0 * (delta * g).sum(1) + (delta.unsqueeze(1) @ H @ delta.unsqueeze(2)).reshape(-1))
        actual = sse - sse_t
        accept = ok & torch.isfinite(sse_t) & (actual > 0)
        rho = actual / pred.clamp_min(tiny)
        if not newton:
            trial2 = sub.normalise_hidden(params + 2.0 * delta)
            sse_t2 = sub.sse(trial2, X)
            longer = accept & torch.isfinite(sse_t2) & (sse_t2 < sse_t)
            trial = torch.where(longer.unsqueeze(1), trial2, trial)
            sse_t = torch.where(longer, sse_t2, sse_t)
            actual = sse - sse_t
        lam = torch.where(accept, lam * torch.clamp(1.0 - (2.0 * rho - 1.0) ** 3, min=1.0 / 3.0), lam * nu)
        lam = lam.clamp(_LAMBDA_MIN, _LAMBDA_MAX)
        nu = torch.where(accept, torch.full_like(nu, 2.0), nu * 2.0)
        tiny_step = accept & (actual <= tol * sse) & (lam <= 1e-2)
        small = torch.where(tiny_step, small + 1, torch.where(accept, torch.zeros_like(small), small))
        done = (small >= 2) | (lam >= _LAMBDA_MAX) | (sse <= floor)
        if bool(accept.any()):
            ai = torch.nonzero(accept).squeeze(1)
            params = params.index_copy(0, ai, trial.index_select(0, ai))
            s_a, g_a, H_a, d_a = sub.subset(ai).normal_equations(params.index_select(0, ai), X, newton)
            sse = sse.index_copy(0, ai, s_a)
            g = g.index_copy(0, ai, g_a)
            H = H.index_copy(0, ai, H_a)
            dgn = dgn.index_copy(0, ai, d_a)
            if not bool(torch.isfinite(params).all() and torch.isfinite(sse).all()):
                bad = int(torch.nonzero(~(torch.isfinite(params).all(1) & torch.isfinite(sse)))[0])
                raise _diverged(labels, int(active[bad]), it + 1, "the loss or the weights are not finite")
        last = it == max_steps - 1
        if last or bool(done.any()):
            fin = torch.ones_like(done) if last else done
            fi = torch.nonzero(fin).squeeze(1)
            gi = active.index_select(0, fi)
            out_params.index_copy_(0, gi, params.index_select(0, fi))
            out_sse.index_copy_(0, gi, sse.index_select(0, fi))
            out_steps.index_copy_(0, gi, steps.index_select(0, fi))
            out_conv.index_copy_(0, gi, done.index_select(0, fi))
            keep = torch.nonzero(~fin).squeeze(1)
            if keep.numel() == 0:
                break
            active = active.index_select(0, keep)
            params, sse, g, H, dgn = (t.index_select(0, keep) for t in (params, sse, g, H, dgn))
            lam, nu, small, steps = (t.index_select(0, keep) for t in (lam, nu, small, steps))
            sub = batch.subset(active)
        ticker.report(max((B - active.numel()) / B, (it + 1) / max_steps), weight,
                      f"{message}: {B - active.numel()}/{B} converged, step {it + 1}")
    return out_params, out_sse, out_steps, out_conv


# ----------------------------------------------------------------------------------------
# full-batch Adam (the optimizer='adam' alternative)
# ----------------------------------------------------------------------------------------
def _adam(batch: _Batch, params, X, *, max_steps: int, tol: float, lr: float, labels, ticker: _Ticker,
          weight: float, message: str):
    """Full-batch Adam on every problem (batched); keeps each problem's best iterate.

    The step size is ``lr`` times the problem's initial RMS weight. A problem has converged
    when its best loss improved by less than ``tol`` (relative) over the last 100 steps.
    """
    torch = _torch()
    B, P = params.shape
    beta1, beta2, eps = 0.9, 0.999, 1e-12
    m = torch.zeros_like(params)
    v = torch.zeros_like(params)
    step_size = lr * params.pow(2).mean(1, keepdim=True).sqrt()
    best = params.clone()
    best_sse = torch.full((B,), math.inf, dtype=params.dtype, device=params.device)
    mark = best_sse.clone()
    conv = torch.zeros(B, dtype=torch.bool, device=params.device)
    steps = torch.zeros(B, dtype=torch.long, device=params.device)
    for it in range(max_steps):
        ticker.check()
        sse, g = batch.gradient(params, X)
        bad = ~(torch.isfinite(sse) & torch.isfinite(g).all(1))
        if bool(bad.any()):
            raise _diverged(labels, int(torch.nonzero(bad)[0]), it, "the loss or its gradient is not finite")
        better = sse < best_sse
        best = torch.where(better.unsqueeze(1), params, best)
        best_sse = torch.where(better, sse, best_sse)
        steps = torch.where(conv, steps, steps + 1)
        if (it + 1) % 100 == 0:
            conv = conv | (best_sse >= mark * (1.0 - tol))
            mark = best_sse.clone()
            if bool(conv.all()):
                break
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        mh = m / (1 - beta1 ** (it + 1))
        vh = v / (1 - beta2 ** (it + 1))
        params = torch.where(conv.unsqueeze(1), params,
                             batch.normalise_hidden(params - step_size * mh / (vh.sqrt() + eps)))
        ticker.report((it + 1) / max_steps, weight, f"{message}: Adam step {it + 1}")
    sse = batch.sse(best, X)
    if not bool(torch.isfinite(sse).all()):
        raise _diverged(labels, int(torch.nonzero(~torch.isfinite(sse))[0]), max_steps, "the loss is not finite")
    return best, sse, steps, conv


# ----------------------------------------------------------------------------------------
# public entry points
# ----------------------------------------------------------------------------------------
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
    torch = _torch()
    t_start = time.perf_counter()
    seed = _check_int(seed, "seed", 0)
    restarts = _check_int(restarts, "restarts", 1)
    if n_points is not None:
        n_points = _check_int(n_points, "n_points", 8)
    if sampling not in METHODS:
        raise NeuralPolyError(f"sampling must be one of {', '.join(METHODS)}, got {sampling!r}")
    if optimizer not in OPTIMIZERS:
        raise NeuralPolyError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    opt = "adam" if optimizer == "adam" else "lm"
    if max_steps is not None:
        max_steps = _check_int(max_steps, "max_steps", 1)
    else:
        max_steps = 5000 if opt == "adam" else 300
    tdtype, dtype_name = _resolve_dtype(dtype)
    if tol is None:
        tol = DEFAULT_TOL[dtype_name]
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not (0.0 < float(tol) < 1.0):
        raise NeuralPolyError(f"tol must be a number in (0, 1), got {tol!r}")
    tol = float(tol)
    if lr is not None:
        if opt != "adam":
            raise NeuralPolyError("lr applies to optimizer='adam' only")
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (float(lr) > 0 and math.isfinite(lr)):
            raise NeuralPolyError(f"lr must be a positive number, got {lr!r}")
    lr = 0.01 if lr is None else float(lr)
    _check_callable(progress, "progress")
    _check_callable(cancel, "cancel")
    dev = _resolve_device(device)
    specs = [_normalise_spec(s, i) for i, s in enumerate(specs)]
    if not specs:
        return []
    unique = list(dict.fromkeys(specs))

    # groups of equal (dim, widths), split into chunks that fit in memory
    groups: dict = {}
    for s in unique:
        groups.setdefault((s[0], s[1].widths), []).append(s)
    chunks = []
    for (dim, widths), members in groups.items():
        M = n_points or default_n_points(dim)
        P = sum(a * b for a, b in zip(widths, (dim,) + widths[:-1]))
        Mc = _search_points(M, P)
        per_spec = restarts * Mc * (P + sum(widths)) + M * (P + sum(widths))
        per_chunk = max(1, _CHUNK_ELEMENTS // max(per_spec, 1))
        for i in range(0, len(members), per_chunk):
            part = members[i:i + per_chunk]
            search = len(part) * restarts * Mc * P * P          # rough cost of an iteration
            polish = len(part) * min(POLISH_TOP, restarts) * M * P * P
            chunks.append(dict(dim=dim, widths=widths, part=part, M=M, Mc=Mc, P=P,
                               cost=search + polish, search_cost=search))
    ticker = _Ticker(cancel, progress, sum(c["cost"] for c in chunks))
    ticker.check()
    ticker.report(0.0, 0.0, "training", force=True)
    results = {}
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(_check_int(threads, "threads", 1))
    try:
        for ch in chunks:
            results.update(_train_chunk(ch, restarts=restarts, seed=seed, sampling=sampling, tdtype=tdtype,
                                        dev=dev, opt=opt, max_steps=max_steps, tol=tol, lr=lr, ticker=ticker))
    finally:
        torch.set_num_threads(previous_threads)
    ticker.report(1.0, 0.0, f"trained {len(unique)} type(s)", force=True)
    seconds = (time.perf_counter() - t_start) / len(unique)
    out = []
    for dim, arch in specs:
        r = results[(dim, arch)]
        out.append(TrainResult(network=r["network"].copy(), arch=arch, dim=dim, loss=r["loss"],
                               restart_losses=list(r["restart_losses"]), steps=r["steps"], seconds=seconds,
                               device=str(dev), converged=r["converged"], seed=seed, optimizer=opt,
                               dtype=dtype_name, sampling=sampling, n_points=r["n_points"]))
    return out


def _train_chunk(ch, *, restarts, seed, sampling, tdtype, dev, opt, max_steps, tol, lr, ticker) -> dict:
    """Train the specs of one chunk (same dim and widths): search, polish, pick."""
    torch = _torch()
    dim, widths, part, M, Mc = ch["dim"], ch["widths"], ch["part"], ch["M"], ch["Mc"]
    S, R = len(part), restarts
    cost = ch["cost"]
    labels = [f"{arch} in {dim}D (start {r})" for _, arch in part for r in range(R)]
    msg = f"{', '.join(str(a) for _, a in part)} in {dim}D"
    X = torch.as_tensor(sphere_points(dim, M, sampling, seed), dtype=tdtype, device=dev)
    Xc = X if Mc >= M else torch.as_tensor(sphere_points(dim, Mc, sampling, seed), dtype=tdtype, device=dev)
    ps = np.repeat(np.array([arch.ps for _, arch in part]), R, axis=0)
    batch = _Batch(dim, widths, ps, tdtype, dev)
    params = torch.as_tensor(np.concatenate([_initial_params(dim, arch, seed, R) for _, arch in part]),
                             dtype=tdtype, device=dev)
    params = _scale_to_sphere(batch, batch.normalise_hidden(params), Xc)
    w_search = ch["search_cost"]
    polish_band = POLISH_BAND * _sphere_spacing(dim, M)

    if opt == "adam":
        bands = [polish_band * sc for sc in batch.band_scales(params, X)]
        params, obj, steps, conv = _adam(batch.with_bands(bands), params, X, max_steps=max_steps, tol=tol, lr=lr,
                                         labels=labels, ticker=ticker, weight=cost, message=f"training {msg}")
        keep = torch.argmin(obj.reshape(S, R), dim=1) + torch.arange(S, device=dev) * R
        ticker.advance(cost)
    else:
        newton = batch.depth == 1
        # search: every start, coarse points, wide band
        search_band = max(SEARCH_BAND, POLISH_BAND * _sphere_spacing(dim, Mc))
        bands = [search_band * sc for sc in batch.band_scales(params, Xc)]
        params, obj, steps, conv = _newton_lm(batch.with_bands(bands), params, Xc,
                                              max_steps=min(max_steps, SEARCH_STEPS), tol=max(tol, SEARCH_TOL),
                                              newton=newton, labels=labels, ticker=ticker, weight=w_search,
                                              message=f"searching {msg}")
        ticker.advance(w_search)
        # polish the best POLISH_TOP starts of every spec on the full point set, band of the spacing
        top = min(POLISH_TOP, R)
        cand = (torch.argsort(obj.reshape(S, R), dim=1)[:, :top]
                + torch.arange(S, device=dev).unsqueeze(1) * R).reshape(-1)
        sub = batch.subset(cand)
        pc = params.index_select(0, cand)
        bands = [polish_band * sc for sc in sub.band_scales(pc, X)]
        pc, obj_c, st2, cv2 = _newton_lm(sub.with_bands(bands), pc, X, max_steps=max_steps, tol=tol,
                                         newton=newton, labels=[labels[int(i)] for i in cand], ticker=ticker,
                                         weight=cost - w_search, message=f"polishing {msg}")
        ticker.advance(cost - w_search)
        params = params.index_copy(0, cand, pc)
        steps = steps.index_copy(0, cand, steps.index_select(0, cand) + st2)
        conv = conv.index_copy(0, cand, cv2)
        keep = cand.reshape(S, top).gather(1, torch.argmin(obj_c.reshape(S, top), dim=1, keepdim=True)).squeeze(1)
    loss = (batch.sse(params, X) / M).reshape(S, R)
    if not bool(torch.isfinite(loss).all()):
        bad = int(torch.nonzero(~torch.isfinite(loss.reshape(-1)))[0])
        raise _diverged(labels, bad, int(steps[bad]), "the final loss is not finite")
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


# ----------------------------------------------------------------------------------------
# the paper's recipe (baseline) and independent judges of the loss
# ----------------------------------------------------------------------------------------
def recipe_train(dim: int, arch, *, seed: int = 0, n_points: int = 10000, batch: int = 1000,
                 epochs: int = 10000, lr: float = 1e-3,
                 progress: Callable[[float, str], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> TrainResult:
    """The paper's recipe in plain PyTorch: Adam on shuffled minibatches, float32, CPU.

    ``n_points`` uniform random points of the sphere, target 1, minibatches of ``batch``
    points, ``epochs`` passes (the paper: about 10,000 points, batch 1000, 10,000 epochs,
    i.e. 100,000 Adam steps), ``torch.nn.Linear`` layers without bias initialised as
    PyTorch does (uniform in +-1/sqrt(fan_in)) from a generator seeded by ``seed``. No
    speed-ups: this is the baseline that :func:`train_sweep` is measured against.

    Returns
    -------
    TrainResult
        ``loss`` is the final MSE on all training points; ``steps`` the number of Adam steps.
    """
    torch = _torch()
    t0 = time.perf_counter()
    dim = check_dim(dim)
    arch = ArchType.parse(arch)
    seed = _check_int(seed, "seed", 0)
    n_points = _check_int(n_points, "n_points", 1)
    batch = _check_int(batch, "batch", 1)
    epochs = _check_int(epochs, "epochs", 1)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (float(lr) > 0 and math.isfinite(lr)):
        raise NeuralPolyError(f"lr must be a positive number, got {lr!r}")
    _check_callable(progress, "progress")
    _check_callable(cancel, "cancel")
    gen = torch.Generator().manual_seed(seed)
    layers = []
    n_in = dim
    for n in arch.widths:
        lin = torch.nn.Linear(n_in, n, bias=False)
        with torch.no_grad():
            bound = 1.0 / math.sqrt(n_in)
            lin.weight.copy_(torch.rand(n, n_in, generator=gen) * (2 * bound) - bound)
        layers.append(lin)
        n_in = n
    model = torch.nn.ModuleList(layers)
    ps = list(arch.ps)

    def forward(x):
        h = x
        for lin, p in zip(model, ps):
            h = lin(h).abs()
            if p != 1.0:
                h = h.pow(p)
        return h.sum(-1)

    X = torch.as_tensor(sphere_points(dim, n_points, "random", seed), dtype=torch.float32)
    y = torch.ones(n_points)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = 0
    for epoch in range(epochs):
        if cancel is not None and cancel():
            raise Cancelled("training cancelled")
        perm = torch.randperm(n_points, generator=gen)
        for i in range(0, n_points, batch):
            idx = perm[i:i + batch]
            loss = torch.mean((forward(X[idx]) - y[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
        if epoch % 100 == 0 or epoch == epochs - 1:
            last = loss.item()
            if not math.isfinite(last):
                raise TrainingDivergedError(f"recipe training of {arch} in {dim}D diverged at step {steps}")
            if progress is not None:
                progress((epoch + 1) / epochs, f"recipe {arch} in {dim}D: epoch {epoch + 1}/{epochs}, "
                                               f"batch loss {last:.3e}")
    with torch.no_grad():
        final = float(torch.mean((forward(X) - 1.0) ** 2))
    if not math.isfinite(final):
        raise TrainingDivergedError(f"recipe training of {arch} in {dim}D diverged: final loss {final}")
    net = polytope_network(dim, [lin.weight.detach().double().numpy() for lin in model], ps)
    return TrainResult(network=net, arch=arch, dim=dim, loss=final, restart_losses=[final], steps=steps,
                       seconds=time.perf_counter() - t0, device="cpu", converged=True, seed=seed,
                       optimizer="recipe-adam", dtype="float32", sampling="random", n_points=n_points)


def dense_sphere_mse(network: Network, n: int = 1_000_000, seed: int = 12345, chunk: int = 200_000) -> float:
    """MSE of ``f - 1`` on ``n`` independent uniform random points of the sphere (numpy).

    The judge of a trained network's loss, independent of its training points. Evaluated
    in chunks of ``chunk`` points; the same ``(n, seed, chunk)`` always uses the same
    points. Its Monte-Carlo error is about ``std((f-1)^2) / sqrt(n)``.
    """
    n = _check_int(n, "n", 1)
    seed = _check_int(seed, "seed", 0)
    chunk = _check_int(chunk, "chunk", 1)
    ss = np.random.SeedSequence(seed)
    total, done = 0.0, 0
    for child in ss.spawn((n + chunk - 1) // chunk):
        m = min(chunk, n - done)
        X = sphere_points(network.dim, m, "random", int(child.generate_state(1)[0]))
        r = network.evaluate(X) - 1.0
        total += float(np.dot(r, r))
        done += m
    return total / n


def sphere_mse_exact(network: Network) -> float:
    """The exact mean of ``(f - 1)^2`` over the uniform sphere, for one ``|x|`` or ``x^2`` layer.

    For ``f(x) = sum_j |w_j . x|`` (type ``(n;1)``), with ``x`` uniform on S^(d-1)::

        E|w.x| = |w| c_d,        c_d = Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2))
        E|u.x||v.x| = |u||v| (2/pi) (sin t + (pi/2 - t) cos t) / d,  t = angle of the lines

    and for ``f(x) = x^T A x`` (type ``(n;2)``, ``A = W^T W``): ``E f = tr A / d``,
    ``E f^2 = (tr(A)^2 + 2 tr(A^2)) / (d (d + 2))``.

    Raises
    ------
    NeuralPolyError
        For any other network.
    """
    layers = network.layers
    if (len(layers) != 1 or network.output.name != "sum" or layers[0].bias is not None
            or layers[0].activation.name != "abs_pow" or layers[0].activation.p not in (1.0, 2.0)):
        raise NeuralPolyError(
            "the exact sphere MSE is known for one bias-free |x| or x^2 layer with a sum output "
            f"(types (n;1) and (n;2)); got {network!r}")
    W = layers[0].weight
    d = network.dim
    if layers[0].activation.p == 2.0:
        A = W.T @ W
        ef = np.trace(A) / d
        ef2 = (np.trace(A) ** 2 + 2.0 * np.sum(A * A)) / (d * (d + 2))
        return float(ef2 - 2.0 * ef + 1.0)
    norms = np.linalg.norm(W, axis=1)
    keep = norms > 0
    W, norms = W[keep], norms[keep]
    c_d = math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)
    U = W / norms[:, None]
    t = np.arccos(np.clip(np.abs(U @ U.T), 0.0, 1.0))
    G = (2.0 / math.pi) * (np.sin(t) + (math.pi / 2 - t) * np.cos(t)) / d
    ef = c_d * norms.sum()
    ef2 = norms @ G @ norms
    return float(ef2 - 2.0 * ef + 1.0)
