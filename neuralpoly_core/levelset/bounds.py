"""Pruning: which cells of the complex may meet the level set ``f = c`` (exact extraction).

At the start of every layer, each cell gets the exact ranges of that layer's pre-activations
(minimum and maximum over its vertices: they are affine on the cell), and cells that cannot meet
the level set are dropped with everything that would have been cut out of them. Tests,
cheapest first, each on the cells the previous ones left undecided:

1. ``f`` at the cell's vertices (a forward pass from the layer, cached per vertex): values on
   both sides of ``c`` mean the cell certainly meets the level set;
2. interval arithmetic through the remaining layers (:func:`interval_bounds`, with the
   activation table's ``interval``);
3. a symbolic bound (DeepZ-style): the layer's pre-activations are exactly affine on the cell;
   every later activation is replaced by its parallel linear relaxation (the activation
   table's ``relaxation``), keeping an affine function of ``x`` plus a radius per neuron,
   concretised over the cell's bounding box; followed by a back-substitution (CROWN) bound
   minimised exactly over the cell's vertices.

A bound that contradicts an exactly computed vertex value is discarded (a wrong activation
pattern on a cell thinner than round-off). Bounds keep a margin of ``tolerance`` times an
a-priori magnitude of ``f`` over the box (:func:`magnitude_bound`). With ``cap=True`` cells
inside the solid that touch the box are kept (their box faces are the caps). The last two tests
run on blocks of cells, in parallel threads when there are several workers; the result does
not depend on the blocks.
"""

from __future__ import annotations

import numpy as np

from ..network.model import Network
from .arrays import ranges, unique_inverse

__all__ = ["LevelPruner", "interval_bounds", "magnitude_bound", "forward"]


def interval_bounds(net: Network, li: int, zlo: np.ndarray, zhi: np.ndarray):
    """Interval bounds of every layer's pre-activations from layer ``li`` on, and of f.

    ``zlo``/``zhi``: (cells, width) bounds of layer ``li``'s pre-activations. Returns
    ``(per-layer (lo, hi) list, f_lo, f_hi)``.
    """
    layers = net.layers
    lo, hi = zlo, zhi
    inter = []
    for k in range(li, len(layers)):
        inter.append((lo, hi))
        lo, hi = layers[k].activation.interval(lo, hi)
        if k + 1 < len(layers):
            W, b = layers[k + 1].weight, layers[k + 1].bias
        else:
            out = net.output
            if out.name == "sum":
                return inter, lo.sum(axis=1), hi.sum(axis=1)
            W, b = out.weight, out.bias
        c = 0.5 * (lo + hi)
        r = 0.5 * (hi - lo)
        mid = c @ W.T
        rad = r @ np.abs(W).T
        if b is not None:
            mid = mid + b
        lo, hi = mid - rad, mid + rad
    return inter, lo[:, 0], hi[:, 0]


def magnitude_bound(net: Network, lo: np.ndarray, hi: np.ndarray) -> float:
    """An a-priori bound of |f| over the box (interval arithmetic), for pruning margins."""
    layer = net.layers[0]
    if net.encoding is not None:           # every feature lies between its table's extremes
        lo, hi = net.encoding.feature_ranges()
    c = 0.5 * (lo + hi)
    r = 0.5 * (hi - lo)
    mid = layer.weight @ c + (layer.bias if layer.bias is not None else 0.0)
    rad = np.abs(layer.weight) @ r
    _inter, flo, fhi = interval_bounds(net, 0, (mid - rad)[None, :], (mid + rad)[None, :])
    return max(abs(float(flo[0])), abs(float(fhi[0])), 1e-300)


def forward(net: Network, li: int, Zc: np.ndarray) -> np.ndarray:
    """f from layer ``li``'s pre-activations (columns of ``Zc``, one per point)."""
    layers = net.layers
    h = layers[li].activation(Zc)
    for k in range(li + 1, len(layers)):
        z = layers[k].weight @ h
        if layers[k].bias is not None:
            z += layers[k].bias[:, None]
        h = layers[k].activation(z)
    out = net.output
    if out.name == "sum":
        return h.sum(axis=0)
    f = out.weight[0] @ h
    return f + out.bias[0] if out.bias is not None else f


class LevelPruner:
    """Decides which cells may meet ``f = level`` (see the module docstring).

    Parameters
    ----------
    net : Network
        A piecewise-linear network.
    level : float
        The level ``c``.
    lo, hi : (d,) arrays
        The box (for the a-priori magnitude of ``f``).
    tolerance : float
        Relative tolerance of the margins.
    cap, flip : bool
        Keep cells inside the solid that touch the box; the solid is ``f > c`` (``flip``).
    symbolic, backward : bool
        Use the symbolic bound, and the back-substitution after it.
    chunk : int
        Cells per block of the interval and symbolic bounds.
    """

    def __init__(self, net: Network, level: float, lo, hi, tolerance: float, *, cap: bool,
                 flip: bool, symbolic: bool = True, backward: bool = True, chunk: int = 2048):
        self.net = net
        self.level = float(level)
        self.tol = float(tolerance)
        self.cap, self.flip = cap, flip
        self.symbolic, self.backward, self.chunk = symbolic, backward, chunk
        #: a loose a-priori magnitude of f, for the pruning margin
        self.fscale_bound = magnitude_bound(net, lo, hi)
        self.margin = self.tol * self.fscale_bound + 1e-300
        # per layer k (and k = n_layers for the head): W, |W|, bias; and [W | b] for
        # back-substitution
        mats = [(l.weight, np.abs(l.weight), l.bias) for l in net.layers]
        if net.output.name == "sum":
            mats.append((np.ones((1, net.layers[-1].width)), np.ones((1, net.layers[-1].width)), None))
        else:
            mats.append((net.output.weight, np.abs(net.output.weight), net.output.bias))
        self.mats = mats
        self.wb = [np.concatenate([W, (b if b is not None else np.zeros(len(W)))[:, None]], axis=1)
                   for W, _a, b in mats[:-1]]
        #: f at the vertices for the current layer (NaN where not yet computed)
        self.fcache = np.zeros(0)

    def new_layer(self):
        """Forget the cached vertex values of f (vertex ids change between layers)."""
        self.fcache = np.zeros(0)

    def renumber(self, used: np.ndarray):
        """The complex kept the vertices ``used`` (:meth:`CellComplex.compact`)."""
        self.fcache = self.fcache[:len(used)][used]

    def keep(self, cx, li: int, sel: np.ndarray, cvv, off, cnt, zmin, zmax, zscale, Z, *,
             map=map, workers: int = 1) -> np.ndarray:
        """Which of the cells ``sel`` of ``cx`` may meet the level set (with caps: or are
        inside on the box).

        ``cvv``/``off``/``cnt``: their vertex lists; ``zmin``/``zmax``: exact ranges of layer
        ``li``'s pre-activations on them (rounding scales ``zscale``); ``Z``: those
        pre-activations at every vertex (columns). Blocks of cells go through ``map`` (a thread
        pool's, ``workers`` threads).
        """
        zlo, zhi = zmin - self.tol * zscale, zmax + self.tol * zscale
        margin = self.margin
        c = self.level
        n = len(off)
        # f at the vertices (exact): a cell with vertices on both sides certainly meets f = c
        uv, uinv = unique_inverse(cvv, Z.shape[1])
        fv = self.vertex_f(li, uv, Z)[uinv]
        vmin = np.minimum.reduceat(fv, off)
        vmax = np.maximum.reduceat(fv, off)
        sure = (vmin < c - margin) & (vmax > c + margin)
        flo = np.full(n, -np.inf)
        fhi = np.full(n, np.inf)

        def bound(part):
            _inter, blo, bhi = interval_bounds(self.net, li, zlo[part], zhi[part])
            if not self.symbolic:
                return blo, bhi
            und = np.nonzero((blo <= c + margin) & (bhi >= c - margin))[0]
            if len(und):
                sub = part[und]
                pc = cnt[sub]
                scv, soff, scnt = cvv[ranges(off[sub], pc)], np.cumsum(pc) - pc, pc
                cen, bmin, bmax = cx.geometry(scv, soff, scnt)
                slo, shi = self.symbolic_bound(li, zlo[sub], zhi[sub], cen, bmin, bmax,
                                               cx.points[scv], soff, scnt)
                # a bound that excludes an exact vertex value is unsound (a wrong activation
                # pattern on a cell thinner than round-off): keep interval arithmetic there
                sound = (slo <= vmin[sub] + margin) & (shi >= vmax[sub] - margin)
                blo[und] = np.where(sound, np.maximum(blo[und], slo), blo[und])
                bhi[und] = np.where(sound, np.minimum(bhi[und], shi), bhi[und])
            return blo, bhi

        open_ = np.nonzero(~sure)[0]
        nparts = max(-(-len(open_) // self.chunk), min(workers, -(-len(open_) // 256)))
        parts = np.array_split(open_, nparts) if nparts else []
        for part, (blo, bhi) in zip(parts, map(bound, parts)):
            flo[part] = blo
            fhi[part] = bhi
        keep = (flo <= c + margin) & (fhi >= c - margin)
        if self.cap:
            inside = (fhi < c - margin) if not self.flip else (flo > c + margin)
            if inside.any():
                keep |= inside & cx.on_box(sel)
        return keep

    def vertex_f(self, li: int, uv: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """f at the vertices ``uv`` from their layer-``li`` pre-activations (columns of ``Z``),
        cached per vertex for the layer."""
        nv = Z.shape[1]
        fc = self.fcache
        if len(fc) < nv:
            fc = np.concatenate([fc, np.full(max(nv, 2 * len(fc)) - len(fc), np.nan)])
            self.fcache = fc
        need = uv[np.isnan(fc[uv])]
        if len(need):
            fc[need] = forward(self.net, li, Z[:, need])
        return fc[uv]

    def symbolic_bound(self, li: int, zlo: np.ndarray, zhi: np.ndarray, cen, bmin, bmax,
                       P, off, cnt):
        """Bounds of f on cells by symbolic (affine in x) propagation, then back-substitution.

        On a cell, layer ``li``'s pre-activations are exactly affine, ``z = z(c) + A (x - c)``
        (``A`` from the cell's activation pattern at its vertex centroid ``c``). From there
        every neuron is bounded by an affine function of ``x`` plus or minus a radius
        (``U``: (gradient rows + value at the centroid, cell, neuron); ``E``: (cell, neuron)):
        an activation with pre-activation range ``[l, u]`` is replaced by its parallel linear
        relaxation (for ReLU, slope ``u / (u - l)`` and half the intercept as radius, as in
        DeepZ), a layer maps centres by ``W`` and radii by ``|W|``. Every neuron is concretised
        over the cell's bounding box and intersected with interval arithmetic, ``f``'s centre
        is minimised/maximised over the cell's vertices ``P`` (cell by cell, ``off``/``cnt``),
        and the neuron bounds feed a back-substitution (:meth:`backward_bound`).
        ``zlo``/``zhi``: exact ranges of layer ``li`` on the cells.
        """
        layers = self.net.layers
        d = cen.shape[1]
        n = len(cen)
        bc = 0.5 * (bmin + bmax) - cen
        hw = 0.5 * (bmax - bmin)
        # layer li's pre-activations on each cell: value z at the centroid, gradient rows J
        h = cen
        J = None
        if self.net.encoding is not None:     # affine on each cell (cut by the grid's planes)
            h, Je = self.net.encoding.evaluate(cen, jacobian=True)
            J = np.ascontiguousarray(Je.transpose(2, 0, 1))
        for k in range(li + 1):
            W = layers[k].weight
            z = h @ W.T
            if layers[k].bias is not None:
                z += layers[k].bias
            if J is None:
                Jz = np.broadcast_to(W.T[:, None, :], (d, n, W.shape[0]))
            else:
                Jz = (J.reshape(d * n, -1) @ W.T).reshape(d, n, -1)
            if k == li:
                break
            act = layers[k].activation
            if act.kinked:                    # the slope on each side: z > 0, or sign(z)
                slope = act.derivative(z)
                h = z * slope
                J = Jz * slope
            else:
                h = z
                J = Jz
        A0, z0 = Jz, z                        # layer li on the cells: z0 + A0 (x - centroid)
        lc = np.repeat(np.arange(n), cnt)
        rel = P - cen[lc]
        w = z.shape[1]
        # U rows: d gradient rows and the value at the centroid (the affine centre), then the
        # interval centre; V rows: the radius of the affine form, then the interval radius
        U = np.empty((d + 2, n, w))
        U[:d] = Jz
        U[d] = z
        E = None
        lo, hi = zlo, zhi
        nl = len(layers)
        inter = []
        relax = []
        for k in range(li, nl):
            inter.append((lo, hi))
            rx = layers[k].activation.relaxation(lo, hi)
            relax.append(rx)
            ylo, yhi = layers[k].activation.interval(lo, hi)
            if rx is not None:
                up_s, up_c, _low = rx
                U[:d + 1] *= up_s
                half = 0.5 * up_c
                U[d] += half
                E = half if E is None else E * np.abs(up_s) + half
            U[d + 1] = 0.5 * (ylo + yhi)
            Wm, Wa, b = self.mats[k + 1]
            w2 = Wm.shape[0]
            U = (U.reshape(-1, U.shape[2]) @ Wm.T).reshape(d + 2, n, w2)
            if b is not None:
                U[d] += b
                U[d + 1] += b
            R = 0.5 * (yhi - ylo)
            if E is None:
                rad = R @ Wa.T
            else:
                V = (np.stack([E, R]).reshape(2 * n, -1) @ Wa.T).reshape(2, n, w2)
                E, rad = V[0], V[1]
            mid = U[d + 1]
            if k + 1 < nl:
                cval = U[d].copy()
                spread = np.zeros((n, w2)) if E is None else E.copy()
                for a in range(d):
                    cval += U[a] * bc[:, a:a + 1]
                    spread += np.abs(U[a]) * hw[:, a:a + 1]
                lo = np.maximum(mid - rad, cval - spread)
                hi = np.minimum(mid + rad, cval + spread)
            else:
                v = U[d, lc, 0] + np.einsum("vk,kv->v", rel, U[:d, lc, 0])
                e0 = 0.0 if E is None else E[:, 0]
                lo = np.maximum(mid[:, 0] - rad[:, 0], np.minimum.reduceat(v, off) - e0)
                hi = np.minimum(mid[:, 0] + rad[:, 0], np.maximum.reduceat(v, off) + e0)
        if self.backward:
            blo, bhi = self.backward_bound(li, relax, A0, z0, rel, lc, off)
            lo = np.maximum(lo, blo)
            hi = np.minimum(hi, bhi)
        return lo, hi

    def backward_bound(self, li, relax, A0, z0, rel, lc, off):
        """Linear bounds of f by back-substitution (CROWN) down to layer ``li``.

        ``relax[k - li]`` is the relaxation of layer k's activation on the cells
        (:meth:`Activation.relaxation`, from bounds of its pre-activations); the result is a linear
        function of layer ``li``'s pre-activations, which are affine on each cell
        (``z0 + A0 (x - centroid)``, ``A0``: (dim, cell, neuron)), so it is an affine function
        of ``x`` there, minimised exactly over the cell's vertices (``rel``: their positions
        relative to their cell's centroid, ``lc``: their cell).
        """
        nl = len(self.net.layers)
        n = len(off)
        Wm, _Wa, b = self.mats[nl]
        w_out = Wm[0]
        b_out = float(b[0]) if b is not None else 0.0
        # both passes at once: row 0 bounds f from below, row 1 bounds -f from below
        lam = np.empty((2, n, len(w_out)))
        lam[0] = w_out
        lam[1] = -w_out
        const = np.empty((2, n))
        const[0] = b_out
        const[1] = -b_out
        for k in range(nl - 1, li - 1, -1):
            rx = relax[k - li]
            if rx is None:
                mu = lam
            else:
                up_s, up_c, low_s = rx
                negl = lam < 0
                mu = lam * np.where(negl, up_s, low_s)
                const += np.einsum("snw,nw->sn", lam * negl, up_c)
            if k == li:
                break
            Wb = self.wb[k]
            lb = (mu.reshape(2 * n, -1) @ Wb).reshape(2, n, -1)
            lam = lb[:, :, :-1]
            const += lb[:, :, -1]
        grad = np.einsum("dnw,snw->snd", A0, mu)
        c0 = const + np.einsum("snw,nw->sn", mu, z0)
        vals = np.einsum("vd,svd->sv", rel, grad[:, lc]) + c0[:, lc]
        return np.minimum.reduceat(vals[0], off), -np.minimum.reduceat(vals[1], off)
