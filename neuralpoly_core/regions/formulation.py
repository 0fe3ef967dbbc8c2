"""The mixed-integer model of a piecewise-linear network on a box (Serra et al. 2018, Section 4).

Variables: the input ``x`` in the box; per layer the pre-activations ``g`` (one per row); per
kinked unit (``relu``, ``|x|``) its positive and negative parts ``p, q >= 0`` with
``g = p - q`` and a binary ``z`` (``z = 1``: ``g > 0``); per rank-k maxout unit its output ``m``
and one binary ``w`` per piece (``w_j = 1``: piece j is the largest); one margin ``f``.
The unit's output is ``above * p - below * q`` (the slopes of :attr:`Activation.slopes`:
``p`` for relu, ``p + q`` for ``|x|``) or ``m``; identity layers pass ``g`` on, and the output
head is not modelled (it cuts no region).

Big-M constraints use per-row bounds ``L <= g <= U`` from interval arithmetic through the
activation table (exact for the first layer), optionally tightened by linear programming
on the relaxation of the layers before::

    p <= max(U, 0) z          q <= max(-L, 0) (1 - z)
    m >= g_j                  m <= g_j + (max_i U_i - L_j)(1 - w_j),   sum_j w_j = 1

Degenerate patterns (realised only on a set of measure zero) are excluded with the margin
``f`` (Serra et al.'s "maximise the minimum output of an active neuron", applied to both
sides of every kink and to every maxout tie)::

    p >= f - F (1 - z)        q >= f - F z - F e        m - g_j >= f - F w_j - F e_j

where ``F`` is the margin's upper bound (so every constant stays small). A pre-activation can
be identically 0 on a whole region (a full-dimensional one): the inputs of a bias-free unit
all off, or, with weights that cancel, a unit whose affine map on the region has zero
gradient and offset (``-h_1 + h_2 - 1/2`` where ``h_1`` is off and ``h_2`` is the constant
``1/2``; ``u_0 - 2 u_1 - u_2 + 2 u_3`` of units that sum to 0 on the region). Such a unit
is off without a margin: its binary ``e`` (only for rows whose bounds allow 0) may be 1 only
where ``g = 0`` and ``g``'s derivatives along the formulation's tangent directions ``r_k``
are 0 (big-M rows on both). The derivatives are propagated through the network with the same
binaries (the forward-mode tangent ``dx = r_k``, ``dg = W dh``; ``dh = z dg`` for relu,
``(2 z - 1) dg`` for ``|x|``, ``sum_j w_j dg_j`` for maxout, each product of a binary and a
bounded variable linearised exactly by four big-M rows), so ``e = 1`` says that ``g`` is
identically 0 along ``r_k`` around the point. With ``min(dim, 2)`` orthonormal directions
(fixed, pseudo-random) that is exact for 1- and 2-input networks, and exact with
probability 1 above (a gradient that is not 0 but is orthogonal to both directions is a
measure-zero accident; ``e = 1`` for it could only move a witness onto a hyperplane, and
every pattern is checked with numpy at its witness). A maxout piece ``j`` that ties
identically with the unit's winner waives its margin the same way (``e_j``: ``m - g_j`` and
its tangents 0), only behind a winner of lower index (``e_j <= sum_{i<j} w_i``: the tie goes
to the first piece, as numpy's argmax). Only rows that can vanish get ``e``
(:func:`vanishing_rows`), and tangents are built only up to the last such layer: a net with
none (the trained digits nets) gets the plain margin model. A pattern with ``f > 0`` holds on
an open set: a full-dimensional linear region.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_choice
from ..errors import NeuralPolyError
from .solver import scipy_parts, solve

__all__ = ["Formulation", "build_formulation", "check_box", "interval_bounds", "check_countable", "model_size",
           "tangent_directions", "vanishing_rows", "TIGHTENINGS"]

TIGHTENINGS = ("interval", "lp")
_TANGENTS = 2                          # tangent directions (at most; min(dim, 2))
_TANGENT_SEED = 20180710               # their seed (fixed: the model is reproducible)


def check_countable(net) -> None:
    """Refuse a network whose linear regions the formulation cannot model, naming the layer."""
    if getattr(net, "encoding", None) is not None:
        raise NeuralPolyError("counting regions takes networks without an input encoding; this one has a "
                              "hash-grid encoding (its first layer reads encoded features, not coordinates)")
    for i, layer in enumerate(net.layers):
        act = layer.activation
        if not act.piecewise_linear:
            raise NeuralPolyError(
                f"layer {i} has activation {act.label}, which is not piecewise linear: it has no linear regions "
                "to count (counting takes relu, |x|, identity and maxout layers)")
        if act.group == 1 and act.slopes is None:
            raise NeuralPolyError(f"layer {i}: counting regions does not model activation {act.label}")


def check_box(bbox, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``bbox = (lo, hi)``, each a number or ``dim`` numbers, as two arrays with lo < hi."""
    try:
        lo, hi = bbox
        lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (dim,)).copy()
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (dim,)).copy()
    except (TypeError, ValueError):
        raise NeuralPolyError(f"bbox must be (lo, hi), each a number or {dim} numbers, got {bbox!r}") from None
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise NeuralPolyError("bbox must be finite: the big-M constraints need a bounded input box")
    if not np.all(lo < hi):
        raise NeuralPolyError(f"bbox needs lo < hi in every coordinate, got {lo.tolist()} and {hi.tolist()}")
    return lo, hi


def interval_bounds(net, lo: np.ndarray, hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per layer, bounds ``(L, U)`` on every pre-activation row for inputs in the box.

    Interval arithmetic through each layer and the activation table's interval image; exact
    for the first layer, widened by a relative 1e-9 against rounding.
    """
    out = []
    hlo, hhi = lo, hi
    for layer in net.layers:
        glo, ghi = _layer_interval(layer, hlo, hhi)
        out.append((glo, ghi))
        hlo, hhi = layer.activation.interval(glo, ghi)
    return out


def _layer_interval(layer, hlo, hhi):
    return _linear_interval(layer.weight, hlo, hhi, layer.bias)


def _linear_interval(weight, hlo, hhi, bias=None):
    """Bounds on ``W h (+ b)`` for ``hlo <= h <= hhi``, widened by a relative 1e-9."""
    wp, wn = np.maximum(weight, 0.0), np.minimum(weight, 0.0)
    glo, ghi = wp @ hlo + wn @ hhi, wp @ hhi + wn @ hlo
    if bias is not None:
        glo, ghi = glo + bias, ghi + bias
    pad = 1e-9 * (1.0 + np.maximum(np.abs(glo), np.abs(ghi)))
    return glo - pad, ghi + pad


def model_size(net) -> tuple[int, int, int, int]:
    """``(variables, rows, nonzeros, binaries)`` of the formulation, before it is built (at most;
    ``binaries``: the pattern's, which every no-good cut spans)."""
    n_vars, rows, nnz, binaries = net.dim + 1, 0, 0, 0
    per_input = 1                                        # model variables behind each input of a layer
    for layer in net.layers:
        act, r = layer.activation, layer.rows
        n_vars += r
        rows += r
        nnz += int(np.count_nonzero(layer.weight)) * per_input + r
        if act.group > 1:
            n_vars += layer.width + r
            rows += 3 * r + layer.width
            nnz += 9 * r + layer.width
            binaries += r
            per_input = 1
        elif act.kinked:
            n_vars += 3 * r
            rows += 5 * r
            nnz += 14 * r
            binaries += r
            per_input = 1 if 0.0 in act.slopes else 2
        else:
            per_input = 1
    maybe = vanishing_rows(net)                          # zero binaries and tangents (an upper bound)
    K = min(net.dim, _TANGENTS) if any(m.any() for m in maybe) else 0
    for layer, m in zip(net.layers, maybe):
        r, v = layer.rows, int(m.sum())
        n_vars += K * (2 * r + layer.width) + v
        rows += K * (5 * r + layer.width) + 2 * (1 + K) * v
        nnz += K * (2 * int(np.count_nonzero(layer.weight)) + 12 * r + layer.width) + 8 * (1 + K) * v
    return n_vars, rows, nnz, binaries


@dataclass
class Formulation:
    """The model: ``row_lo <= A v <= row_hi``, ``lb <= v <= ub``, ``v[integer]`` whole.

    Attributes
    ----------
    x : (dim,) int
        Indices of the input variables.
    f : int
        Index of the margin; its bounds are set per solve (``[F, F]`` or ``[0, F]``).
    binaries : (B,) int
        Indices of the pattern's binaries, in the order of ``pattern_columns``.
    pattern_columns : (B,) int
        The columns of :meth:`Network.activation_pattern` the binaries stand for.
    free : (B,) bool
        Binaries not fixed by the bounds (the only ones a no-good cut needs).
    layer_bounds : list of (L, U)
        The pre-activation bounds used for the big-M constants.
    margin : float
        ``F``, the margin's upper bound.
    """

    A: object
    row_lo: np.ndarray
    row_hi: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    x: np.ndarray
    f: int
    binaries: np.ndarray
    pattern_columns: np.ndarray
    free: np.ndarray
    layer_bounds: list
    margin: float

    @property
    def n_vars(self) -> int:
        return len(self.lb)


class _Builder:
    """Variables and constraint rows, appended block by block."""

    def __init__(self):
        self.lb, self.ub, self.integer = [], [], []
        self.n = 0
        self.ri, self.ci, self.vals, self.lo, self.hi = [], [], [], [], []
        self.m = 0

    def vars(self, lo, hi, integer: bool = False) -> np.ndarray:
        lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
        hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), lo.shape)
        idx = np.arange(self.n, self.n + len(lo))
        self.lb.append(lo)
        self.ub.append(np.array(hi))
        self.integer.append(np.full(len(lo), integer))
        self.n += len(lo)
        return idx

    def rows(self, terms, lo, hi) -> None:
        """``lo <= sum(terms) <= hi`` for a block of rows; a term is ``(cols, coefs)`` with one
        entry per row (``coefs`` may be a number), or a sparse matrix with one row per row."""
        m = None
        for term in terms:
            if isinstance(term, tuple):
                cols, coefs = term
                cols = np.asarray(cols)
                m = len(cols)
                self.ri.append(self.m + np.arange(m))
                self.ci.append(cols)
                self.vals.append(np.broadcast_to(np.asarray(coefs, dtype=np.float64), (m,)))
            else:
                coo = term.tocoo()
                m = coo.shape[0]
                self.ri.append(self.m + coo.row)
                self.ci.append(coo.col)
                self.vals.append(coo.data)
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (m,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (m,)))
        self.m += m

    def matrix(self):
        csr_matrix = scipy_parts().csr_matrix
        cat = (lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype))
        return csr_matrix((cat(self.vals, np.float64), (cat(self.ri, np.int64), cat(self.ci, np.int64))),
                          shape=(self.m, self.n))

    def arrays(self):
        cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))
        return cat(self.lo), cat(self.hi), cat(self.lb), cat(self.ub), cat(self.integer).astype(bool)


def _selection(cols, coefs, n: int):
    """A sparse (len(cols), n) matrix: row i has ``coefs[i]`` at column ``cols[i]``."""
    csr_matrix = scipy_parts().csr_matrix
    cols = np.asarray(cols)
    return csr_matrix((np.broadcast_to(np.asarray(coefs, dtype=np.float64), cols.shape),
                       (np.arange(len(cols)), cols)), shape=(len(cols), n))


def _resize(expr, n: int):
    expr = expr.tocsr()
    expr.resize((expr.shape[0], n))
    return expr


def _can_vanish(w, bias: float, first) -> bool:
    """Whether the row ``w . h + bias`` can be identically 0 on a region: never in the first
    layer (``first`` None) unless it is the zero row; in the second, never when it has a bias
    and reads units whose weight rows (``first``) are linearly independent (its gradient on a
    region is then 0 only where every unit it reads is off, and there it is its bias)."""
    support = np.flatnonzero(w)
    if first is None:
        return not support.size and bias == 0.0
    if bias == 0.0:
        return True
    if not support.size:
        return False
    if support.size > first.shape[1]:
        return True
    sv = np.linalg.svd(first[support], compute_uv=False)
    return bool(sv[-1] <= 1e-9 * sv[0])


def vanishing_rows(net) -> list:
    """Per layer, the rows whose margin may be waived: kinked rows that can be identically 0 on
    a region, maxout pieces that can tie identically with another piece of their unit (all of
    them from the third layer on, or after a maxout first layer: only the tangents tell)."""
    out = []
    for li, layer in enumerate(net.layers):
        act, W = layer.activation, layer.weight
        bias = layer.bias if layer.bias is not None else np.zeros(layer.rows)
        if not (act.kinked or act.group > 1):
            out.append(np.zeros(layer.rows, dtype=bool))
            continue
        if li >= 2 or (li == 1 and net.layers[0].activation.group > 1):
            out.append(np.ones(layer.rows, dtype=bool))
            continue
        first = None if li == 0 else net.layers[0].weight
        if act.group == 1:
            out.append(np.array([_can_vanish(W[j], bias[j], first) for j in range(layer.rows)], dtype=bool))
            continue
        k = act.group
        out.append(np.array([any(_can_vanish(W[i] - W[j], bias[i] - bias[j], first)
                                 for i in range(j - j % k, j - j % k + k) if i != j) for j in range(layer.rows)],
                            dtype=bool))
    return out


def tangent_directions(dim: int) -> np.ndarray:
    """The formulation's ``(min(dim, 2), dim)`` orthonormal tangent directions: fixed (seeded)
    pseudo-random ones, so no weight row of small integers is orthogonal to them by accident."""
    q, _ = np.linalg.qr(np.random.default_rng(_TANGENT_SEED).normal(size=(dim, min(dim, _TANGENTS))))
    return q.T.copy()


def _hull(pairs):
    """The elementwise interval hull of ``(lo, hi)`` pairs."""
    return np.min([lo for lo, _ in pairs], axis=0), np.max([hi for _, hi in pairs], axis=0)


def _scaled(c: float, lo, hi):
    """The interval ``c [lo, hi]``."""
    return (c * lo, c * hi) if c >= 0 else (c * hi, c * lo)


def _product(b: _Builder, z, v, vlo, vhi):
    """Variables ``u = z v`` (``z`` binary, ``vlo <= v <= vhi``), linearised exactly."""
    u = b.vars(np.minimum(vlo, 0.0), np.maximum(vhi, 0.0))
    b.rows([(u, 1.0), (z, -vhi)], -np.inf, 0.0)                          # u <= vhi z
    b.rows([(u, 1.0), (z, -vlo)], 0.0, np.inf)                           # u >= vlo z
    b.rows([(u, 1.0), (v, -1.0), (z, -vlo)], -np.inf, -vlo)             # u <= v - vlo (1 - z)
    b.rows([(u, 1.0), (v, -1.0), (z, -vhi)], -vhi, np.inf)              # u >= v - vhi (1 - z)
    return u


def _pick(terms, idx):
    return [(np.asarray(cols)[idx], np.broadcast_to(np.asarray(c, dtype=np.float64), np.shape(cols))[idx])
            for cols, c in terms]


def _zero_binaries(b: _Builder, quantities, allowed):
    """Binaries ``e`` (rows ``allowed``) with ``e = 1`` only where every quantity is 0; a
    quantity is ``(terms, lo, hi)``, a block of linear rows with ``lo <= . <= hi``."""
    idx = np.flatnonzero(allowed)
    e = b.vars(np.zeros(len(idx)), np.ones(len(idx)), integer=True)
    for terms, lo, hi in quantities:
        t, lo, hi = _pick(terms, idx), lo[idx], hi[idx]
        b.rows(t + [(e, hi)], -np.inf, hi)                              # q <= hi (1 - e)
        b.rows(t + [(e, lo)], lo, np.inf)                               # q >= lo (1 - e)
    return idx, e


def _contains_zero(lo, hi):
    return (lo <= 0.0) & (hi >= 0.0)


def _kinked(b: _Builder, g, lo, hi, slopes, tangents, maybe, F: float, f: int, propagate: bool):
    """Constraints of a layer of kinked units; returns (z, output expression, output tangents:
    none unless ``propagate``, for a later layer that needs them)."""
    below, above = slopes
    up, down = np.maximum(hi, 0.0), np.maximum(-lo, 0.0)
    zlo = np.where(lo >= 0.0, 1.0, 0.0)
    zhi = np.where(hi <= 0.0, 0.0, 1.0)
    zlo = np.minimum(zlo, zhi)
    p, q = b.vars(np.zeros(len(g)), up), b.vars(np.zeros(len(g)), down)
    z = b.vars(zlo, zhi, integer=True)
    b.rows([(g, 1.0), (p, -1.0), (q, 1.0)], 0.0, 0.0)               # g = p - q
    b.rows([(p, 1.0), (z, -up)], -np.inf, 0.0)                       # p <= U+ z
    b.rows([(q, 1.0), (z, down)], -np.inf, down)                     # q <= L- (1 - z)
    b.rows([(p, 1.0), ([f] * len(g), -1.0), (z, -F)], -F, np.inf)   # p >= f - F (1 - z)
    # q >= f - F z - F e, e = 1 only where g and its tangents are 0
    allowed = maybe & (lo < 0.0) & (hi > 0.0)
    for _, dlo, dhi in tangents:
        allowed &= _contains_zero(dlo, dhi)
    idx, e = _zero_binaries(b, [([(g, 1.0)], lo, hi)] + [([(dg, 1.0)], dlo, dhi) for dg, dlo, dhi in tangents],
                            allowed)
    slack = np.zeros(len(g), dtype=np.int64) - 1
    slack[idx] = e
    rest = np.flatnonzero(slack < 0)
    b.rows([(q[rest], 1.0), ([f] * len(rest), -1.0), (z[rest], F)], 0.0, np.inf)
    b.rows([(q[idx], 1.0), ([f] * len(idx), -1.0), (z[idx], F), (e, F)], 0.0, np.inf)
    out = []
    for dg, dlo, dhi in tangents if propagate else ():               # dh = below dg + (above - below) z dg
        if np.array_equal(dlo, dhi):                                 # a constant tangent: z dg is linear
            zdg = _selection(z, (above - below) * dlo, b.n)
        else:
            zdg = _selection(_product(b, z, dg, dlo, dhi), above - below, b.n)
        out.append((_selection(dg, below, b.n) + zdg,) + _hull([_scaled(below, dlo, dhi), _scaled(above, dlo, dhi)]))
    return z, _selection(p, above, b.n) - _selection(q, below, b.n), out


def _maxout(b: _Builder, g, lo, hi, k: int, tangents, maybe, F: float, f: int, propagate: bool):
    """Constraints of a rank-k maxout layer; returns (w, output expression, output tangents:
    none unless ``propagate``)."""
    units = len(g) // k
    lo_u, hi_u = lo.reshape(units, k), hi.reshape(units, k)
    top = hi_u.max(axis=1)
    m = b.vars(lo_u.max(axis=1), top)
    never = hi_u < lo_u.max(axis=1, keepdims=True)                  # below another piece everywhere
    whi = np.where(never, 0.0, 1.0)
    wlo = (whi.sum(axis=1, keepdims=True) == 1) & (whi == 1.0)
    w = b.vars(wlo.ravel().astype(np.float64), whi.ravel(), integer=True)
    mj = np.repeat(m, k)
    big = (np.repeat(top, k) - lo)
    b.rows([(mj, 1.0), (g, -1.0)], 0.0, np.inf)                      # m >= g_j
    b.rows([(mj, 1.0), (g, -1.0), (w, big)], -np.inf, big)           # m <= g_j + M (1 - w_j)
    one_hot = scipy_parts().csr_matrix((np.ones(len(g)), (np.repeat(np.arange(units), k), w)), shape=(units, b.n))
    b.rows([one_hot], 1.0, 1.0)                                      # sum_j w_j = 1
    out, diffs = [], [([(mj, 1.0), (g, -1.0)], np.zeros(len(g)), big)]
    allowed = maybe & (whi.ravel() == 1.0) & ~wlo.ravel()
    for dg, dlo, dhi in tangents:                                    # dm = sum_j w_j dg_j
        dmlo, dmhi = dlo.reshape(units, k).min(axis=1), dhi.reshape(units, k).max(axis=1)
        dm = b.vars(dmlo, dmhi)
        if np.array_equal(dlo, dhi):                                 # a constant tangent: w dg is linear
            cols, vals = w, dlo
        else:
            cols, vals = _product(b, w, dg, dlo, dhi), 1.0
        sums = scipy_parts().csr_matrix((np.broadcast_to(vals, len(g)), (np.repeat(np.arange(units), k), cols)),
                                        shape=(units, b.n))
        b.rows([(dm, 1.0), -sums], 0.0, 0.0)
        dlo_j, dhi_j = np.repeat(dmlo, k) - dhi, np.repeat(dmhi, k) - dlo
        diffs.append(([(np.repeat(dm, k), 1.0), (dg, -1.0)], dlo_j, dhi_j))
        allowed &= _contains_zero(dlo_j, dhi_j)
        if propagate:
            out.append((_selection(dm, 1.0, b.n), dmlo, dmhi))
    allowed &= np.arange(len(g)) % k != 0                            # a tie goes to the first piece (argmax)
    idx, e = _zero_binaries(b, diffs, allowed)                       # m - g_j >= f - F w_j - F e_j
    for t in range(1, k):                                            # e_j <= sum_{i < j} w_i
        mine = idx[idx % k == t]
        b.rows([(e[np.isin(idx, mine)], 1.0)] + [(w[mine - t + i], -1.0) for i in range(t)], -np.inf, 0.0)
    slack = np.zeros(len(g), dtype=np.int64) - 1
    slack[idx] = e
    rest = np.flatnonzero(slack < 0)
    b.rows([(mj[rest], 1.0), (g[rest], -1.0), ([f] * len(rest), -1.0), (w[rest], F)], 0.0, np.inf)
    b.rows([(mj[idx], 1.0), (g[idx], -1.0), ([f] * len(idx), -1.0), (w[idx], F), (e, F)], 0.0, np.inf)
    return w, _selection(m, 1.0, b.n), out


def _lp_tighten(b: _Builder, g, lo, hi, f: int):
    """Tighter ``(lo, hi)`` for the rows ``g``: min and max of each over the LP relaxation."""
    A = b.matrix()
    rlo, rhi, lb, ub, _ = b.arrays()
    lb[f] = 0.0                                  # valid for every pattern with a margin in [0, F]
    lo, hi = lo.copy(), hi.copy()
    for i, col in enumerate(g):
        for sign in (1.0, -1.0):
            c = np.zeros(b.n)
            c[col] = sign
            res = solve(c, A, rlo, rhi, lb, ub, None)
            if res.status == "optimal":
                value = sign * res.fun
                pad = 1e-7 * (1.0 + abs(value))
                if sign > 0:
                    lo[i] = max(lo[i], value - pad)
                else:
                    hi[i] = min(hi[i], value + pad)
    return lo, hi


def build_formulation(net, lo: np.ndarray, hi: np.ndarray, *, margin: float, tighten: str = "interval") -> Formulation:
    """The model of ``net`` on the box ``[lo, hi]`` (see the module docstring).

    Parameters
    ----------
    margin : float
        ``F``: the margin's upper bound and the constant of the strictness rows.
    tighten : {'interval', 'lp'}
        Pre-activation bounds by interval arithmetic, or tightened by two LPs per row of the
        second and later layers.
    """
    check_choice(tighten, TIGHTENINGS, "bound tightening")
    check_countable(net)
    csr_matrix = scipy_parts().csr_matrix
    b = _Builder()
    x = b.vars(lo, hi)
    f = int(b.vars([margin], [margin])[0])
    expr = _selection(x, 1.0, b.n)
    tangents = [(None, r, r) for r in tangent_directions(net.dim)]   # (expression or None: constant, lo, hi)
    maybe = vanishing_rows(net)
    needs = [any(m.any() for m in maybe[i:]) for i in range(len(maybe))] + [False]   # layer i's tangents
    hlo, hhi = lo, hi
    bins, cols, bounds = [], [], []
    offset = 0
    for li, layer in enumerate(net.layers):
        act = layer.activation
        W = csr_matrix(layer.weight)
        glo, ghi = _layer_interval(layer, hlo, hhi)
        g = b.vars(glo, ghi)
        bias = layer.bias if layer.bias is not None else 0.0
        b.rows([-(W @ _resize(expr, b.n)), (g, 1.0)], bias, bias)   # g = W h + b
        if tighten == "lp" and li > 0:
            glo, ghi = _lp_tighten(b, g, glo, ghi, f)
            b.lb[-1], b.ub[-1] = glo.copy(), ghi.copy()
        bounds.append((glo, ghi))
        hlo, hhi = act.interval(glo, ghi)
        dgs = []
        for t, tlo, thi in tangents if needs[li] else ():            # dg = W dh
            if t is None:                                            # the input's: dg = W r, a constant
                c = layer.weight @ tlo
                dgs.append((b.vars(c, c), c, c))
                continue
            dlo, dhi = _linear_interval(layer.weight, tlo, thi)
            dg = b.vars(dlo, dhi)
            b.rows([-(W @ _resize(t, b.n)), (dg, 1.0)], 0.0, 0.0)
            dgs.append((dg, dlo, dhi))
        if act.group > 1:
            w, expr, tangents = _maxout(b, g, glo, ghi, act.group, dgs, maybe[li], margin, f, needs[li + 1])
        elif act.kinked:
            w, expr, tangents = _kinked(b, g, glo, ghi, act.slopes, dgs, maybe[li], margin, f, needs[li + 1])
        else:                                                        # identity: g passes on
            c = act.slopes[1]
            expr = _selection(g, c, b.n)
            tangents = [(_selection(dg, c, b.n),) + _scaled(c, dlo, dhi) for dg, dlo, dhi in dgs]
            w = None
        if w is not None:
            bins.append(w)
            cols.append(offset + np.arange(layer.rows))
        offset += layer.rows
    A = b.matrix()
    rlo, rhi, lb, ub, integer = b.arrays()
    binaries = np.concatenate(bins) if bins else np.zeros(0, dtype=np.int64)
    return Formulation(A, rlo, rhi, lb, ub, integer, x, f, binaries,
                       np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64),
                       lb[binaries] < ub[binaries], bounds, margin)
