"""The optimizers of neural-polytope training, each on a whole :class:`PolytopeBatch` at once.

* :func:`newton_lm`: Levenberg-Marquardt-damped Newton (one-layer networks) or Gauss-Newton
  with a doubled trial step (deeper ones), solved by batched Cholesky factorisations, with
  Nielsen's damping rule per problem; converged problems leave the batch.
* :func:`adam`: full-batch Adam, every problem to the end (the ``optimizer='adam'`` option).

Both poll ``cancel`` and report progress every iteration through a
:class:`~neuralpoly_core.reporting.Reporter`, and raise
:class:`~neuralpoly_core.errors.TrainingDivergedError` should a loss or weight become
non-finite.
"""

from __future__ import annotations

import math

from ..errors import TrainingDivergedError
from ..reporting import Reporter
from .batch import CHUNK_ELEMENTS, PolytopeBatch
from .torch_access import require_torch

__all__ = ["newton_lm", "adam", "diverged_error", "LAMBDA_MIN", "LAMBDA_MAX"]

#: Bounds of the damping factor lambda; at the upper one a problem counts as converged.
LAMBDA_MIN, LAMBDA_MAX = 1e-15, 1e16


def diverged_error(labels, i: int, step: int, what: str) -> TrainingDivergedError:
    """The error for problem ``i`` (named by ``labels[i]``) whose training diverged at ``step``."""
    return TrainingDivergedError(f"training {labels[i]} diverged at step {step}: {what}")


def lm_bytes(B: int, P: int, M: int, width_sum: int, itemsize: int, newton: bool) -> int:
    """Peak memory of :func:`newton_lm` on ``B`` problems of ``P`` weights and ``M`` points.

    The (B, P, P) matrices dominate: ``H``, ``H + lambda D``, its Cholesky factor, the new
    ``H`` of the accepted problems and torch's temporaries, about a dozen in all (measured:
    2.96 GB peak for (40,40;1) in 3D with 8 restarts; more with ``newton``); then the
    point-wise tensors of the normal equations (evaluated in chunks of
    :data:`~neuralpoly_core.training.batch.CHUNK_ELEMENTS`) and of the loss on all points.
    """
    matrices = (14 if newton else 12) * B * P * P
    per_point = B * (P + 2 * width_sum)
    chunked = 6 * min(M * per_point, max(CHUNK_ELEMENTS, per_point))
    loss = 4 * B * M * width_sum
    return itemsize * (matrices + chunked + loss)


def adam_bytes(B: int, P: int, M: int, width_sum: int, itemsize: int) -> int:
    """Peak memory of :func:`adam`: the activations autograd keeps on all points, and the weights."""
    return itemsize * (8 * B * M * width_sum + 6 * B * P)


def newton_lm(batch: PolytopeBatch, params, X, *, max_steps: int, tol: float, newton: bool, labels,
              report: Reporter, message: str):
    """Minimise the (banded) sum of squares of every problem of ``batch`` on the points X.

    Each iteration solves ``(H + lambda D) delta = -g`` by batched Cholesky (D: the
    diagonal of J^T J), evaluates the loss at the trial point, accepts it if the loss went
    down and adapts lambda by Nielsen's rule from the ratio of actual to predicted decrease.
    Without ``newton`` (Gauss-Newton), a step twice as long is also tried. A problem has
    converged after two consecutive accepted near-Newton steps (lambda <= 0.01) that lower
    the loss by less than ``tol`` relative, or when no damping gives a lower loss.
    Converged problems leave the batch. ``report`` gets the fraction of the problems
    converged or of ``max_steps`` done (whichever is larger), with ``message`` and counts;
    ``labels[b]`` names problem ``b`` in errors.

    Returns ``(params, sse, steps, converged)`` with one entry per problem.
    """
    torch = require_torch()
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
        raise diverged_error(labels, int(torch.nonzero(~torch.isfinite(sse))[0]), 0, "the initial loss is not finite")
    lam = torch.full((B,), 1e-3, dtype=dtype, device=dev)
    nu = torch.full((B,), 2.0, dtype=dtype, device=dev)
    small = torch.zeros(B, dtype=torch.long, device=dev)
    steps = torch.zeros(B, dtype=torch.long, device=dev)

    report.check()
    for it in range(max_steps):
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
        lam = lam.clamp(LAMBDA_MIN, LAMBDA_MAX)
        nu = torch.where(accept, torch.full_like(nu, 2.0), nu * 2.0)
        tiny_step = accept & (actual <= tol * sse) & (lam <= 1e-2)
        small = torch.where(tiny_step, small + 1, torch.where(accept, torch.zeros_like(small), small))
        done = (small >= 2) | (lam >= LAMBDA_MAX) | (sse <= floor)
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
                raise diverged_error(labels, int(active[bad]), it + 1, "the loss or the weights are not finite")
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
        report(max((B - active.numel()) / B, (it + 1) / max_steps),
               f"{message}: {B - active.numel()}/{B} converged, step {it + 1}")
    return out_params, out_sse, out_steps, out_conv


def adam(batch: PolytopeBatch, params, X, *, max_steps: int, tol: float, lr: float, labels,
         report: Reporter, message: str):
    """Full-batch Adam on every problem (batched); keeps each problem's best iterate.

    The step size is ``lr`` times the problem's initial RMS weight. A problem has converged
    when its best loss improved by less than ``tol`` (relative) over the last 100 steps.
    ``report`` gets the fraction of ``max_steps`` done. Returns ``(params, sse, steps,
    converged)`` like :func:`newton_lm`.
    """
    torch = require_torch()
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
    report.check()
    for it in range(max_steps):
        sse, g = batch.gradient(params, X)
        bad = ~(torch.isfinite(sse) & torch.isfinite(g).all(1))
        if bool(bad.any()):
            raise diverged_error(labels, int(torch.nonzero(bad)[0]), it, "the loss or its gradient is not finite")
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
        report((it + 1) / max_steps, f"{message}: Adam step {it + 1}")
    sse = batch.sse(best, X)
    if not bool(torch.isfinite(sse).all()):
        raise diverged_error(labels, int(torch.nonzero(~torch.isfinite(sse))[0]), max_steps, "the loss is not finite")
    return best, sse, steps, conv
