"""The batched problem of neural-polytope training: many small networks evaluated as one.

:class:`PolytopeBatch` holds the shapes and exponents of a batch of problems of the same input
dimension and widths, and computes for all of them at once, with batched tensor operations,
the loss (a sum of squares over points of the sphere), its gradient, the Gauss-Newton matrix
and the exact Hessian, with the kinks of ``|z|^p`` rounded off inside a smoothing band. The
optimizers (:mod:`.optimizers`) and the trainer (:mod:`.polytope`) work on it.
"""

from __future__ import annotations

import numpy as np

from .torch_access import require_torch

__all__ = ["PolytopeBatch", "CHUNK_ELEMENTS"]

#: Largest tensor (elements) one batched evaluation may build; larger work is split.
CHUNK_ELEMENTS = 8_000_000


def _blockdiag(blocks):
    """(B, n, k, k) blocks -> (B, n*k, n*k) block-diagonal matrices."""
    torch = require_torch()
    B, n, k, _ = blocks.shape
    out = torch.zeros(B, n, k, n, k, dtype=blocks.dtype, device=blocks.device)
    idx = torch.arange(n, device=blocks.device)
    out[:, idx, :, idx, :] = blocks.transpose(0, 1)
    return out.reshape(B, n * k, n * k)


class PolytopeBatch:
    """A batch of neural-polytope problems with the same input dimension and widths.

    Problem ``b`` is the network ``f(x) = sum(|W_N ... |W_1 x|^p1 ... |^pN)`` whose
    parameters are the row ``params[b]`` of a (B, P) tensor: the weight matrices (out, in),
    row-major, first layer first. Exponents may differ per problem. The loss of a problem
    on points ``X`` (M, d) of the sphere is ``sum((f(x) - 1)^2)``.

    ``bands`` (one (B, 1, 1) tensor per layer, or None) replaces ``|z|^p`` inside
    ``|z| < e`` by the quadratic with the same value and slope at ``|z| = e``:
    ``e^p (1 - p/2) + (p/2) e^(p-2) z^2``. The function is then C^1 with bounded second
    derivative (also for p < 1, whose derivative is otherwise infinite at 0) and is exactly
    ``|z|^p`` outside the band. Bands of the order of the spacing of the training points
    make the finite-point loss a faithful quadrature of the sphere integral (without them
    every point crossing a kink adds a spurious local minimum); wide bands smooth the
    landscape for the search phase. Derivatives are only taken with bands set.

    Parameters
    ----------
    dim : int
        Input dimension d.
    widths : sequence of int
        Layer widths ``(n1, ..., nN)``.
    ps : array_like, shape (B, N)
        The exponents of every problem and layer.
    dtype, device
        torch dtype and device of the tensors.

    Attributes
    ----------
    P : int
        Number of parameters of one problem.
    shapes, sizes, offsets : list
        Shape ``(out, in)``, size and offset in a parameter row of every layer's matrix.
    ps : torch.Tensor
        The exponents, (B, N).
    bands : list of torch.Tensor or None
        The smoothing bands (see :meth:`with_bands`).
    """

    def __init__(self, dim: int, widths, ps, dtype, device):
        torch = require_torch()
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

    def _new(self, ps, bands) -> "PolytopeBatch":
        other = object.__new__(PolytopeBatch)
        other.__dict__.update(self.__dict__)
        other.ps = ps
        other.bands = bands
        other._derive()
        return other

    @property
    def depth(self) -> int:
        """Number of layers N."""
        return len(self.widths)

    def subset(self, idx) -> "PolytopeBatch":
        """The batch of the problems ``idx`` (a tensor of indices), in that order."""
        return self._new(self.ps.index_select(0, idx),
                         None if self.bands is None else [b.index_select(0, idx) for b in self.bands])

    def with_bands(self, bands) -> "PolytopeBatch":
        """The same problems with smoothing bands ``bands`` (one (B, 1, 1) tensor per layer, or None)."""
        return self._new(self.ps, bands)

    def weights(self, params):
        """The weight matrices of every problem: one (B, out, in) tensor per layer."""
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
        torch = require_torch()
        Ws = [W.clone() for W in self.weights(params)]
        for l in range(self.depth - 1):
            t = Ws[l].norm(dim=2).clamp_min(torch.finfo(params.dtype).tiny)      # (B, n_l)
            Ws[l] = Ws[l] / t.unsqueeze(2)
            p = self.layer_p[l]
            Ws[l + 1] = Ws[l + 1] * (t if p is None else t.pow(p.reshape(-1, 1))).unsqueeze(1)
        return torch.cat([W.reshape(params.shape[0], -1) for W in Ws], dim=1)

    def to_numpy_weights(self, row: np.ndarray) -> list[np.ndarray]:
        """The weight matrices of one parameter row (numpy), first layer first."""
        return [row[o:o + s].reshape(shape) for o, s, shape in zip(self.offsets, self.sizes, self.shapes)]

    # -- activation ------------------------------------------------------------------
    def _phi(self, z, l: int, order: int):
        """Activation of layer ``l`` and, for ``order`` >= 1 (2), its first (second) derivative.

        Derivatives are only taken with bands set; a second derivative of None means 0.
        """
        torch = require_torch()
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
        torch = require_torch()
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
        torch = require_torch()
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
        step = max(1, CHUNK_ELEMENTS // per_point)
        if M <= step:
            return self._normal_equations(params, X, newton)
        parts = [self._normal_equations(params, X[i:i + step], newton) for i in range(0, M, step)]
        return tuple(sum(p[k] for p in parts) for k in range(4))

    def _normal_equations(self, params, X, newton: bool):
        torch = require_torch()
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
        torch = require_torch()
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

    def scale_to_sphere(self, params, X):
        """Scale each problem's last layer so that the multiple of f is optimal on the points X.

        f is positively homogeneous of degree ``p_N`` in the last layer's weights, so
        ``W_N -> c W_N`` multiplies f by ``c**p_N``; the best multiple is ``sum(f) / sum(f^2)``.
        """
        torch = require_torch()
        tiny = torch.finfo(params.dtype).tiny
        h = X
        for l, W in enumerate(self.weights(params)):
            h, _, _ = self._phi(h @ W.transpose(1, 2), l, 0)
        f = h.sum(-1)
        t = f.sum(1) / (f * f).sum(1).clamp_min(tiny)
        c = t.clamp_min(tiny).pow(1.0 / self.ps[:, -1])
        c = torch.where(torch.isfinite(c) & (c > 0), c, torch.ones_like(c))
        params = params.clone()
        params[:, self.offsets[-2]:] *= c.unsqueeze(1)
        return params
