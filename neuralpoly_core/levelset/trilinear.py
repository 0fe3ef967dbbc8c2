"""Kim 2024's correction for trilinear hash grids: level-set vertices where the curved surfaces meet.

``method='trilinear'`` cuts the complex as if f were affine on every trilinear cell (Kim's
planarity assumption, Thm 4.5; the default of his code): each new vertex is the *linear*
interpolation of f's values at its edge's ends. Inside a trilinear cell a neuron's zero set
and the level set are curved (f restricted to a straight edge is a polynomial of degree <= 3
inside one cell and one activation region, of degree 1 along a grid-aligned edge), so those
vertices miss the level set by up to about the flatness error. :func:`correct_vertices` moves
the level-set vertices of the finished mesh onto the true surfaces:

- ``'surfaces'`` (default; Kim's Thm 4.7, "the intersection of curved hypersurfaces"): the
  vertex made on an edge of the complex lies on ``f = c`` and on the two faces of the cell
  that meet along the edge (box sides, grid planes, neurons' zero sets: curved). Kim's Thm 4.7
  approximates that point by assuming that the curved edge lies on a diagonal plane of the
  edge's bounding box, which leaves a quartic; here the three equations themselves are solved
  by Newton's method from the planar point (the true pre-activations of the network, gradients
  by forward differentiation through the encoding). A vertex whose Newton iteration does not
  converge near its planar point falls back to ``'edge'``.
- ``'kim'``: Kim's Thm 4.7 itself, for comparison: on an edge lying on a neuron's zero set
  ``nu_0``, the point of ``nu_0 = 0``, ``f = c`` and the diagonal plane of the edge's bounding box
  (local ``x = z``, ``y`` free): with ``P``, ``Q`` the values of ``nu_0`` and ``f - c`` at the
  box's 8 corners, ``X = [(1-x)^2, x(1-x), (1-x)x, x^2]``, ``P_a = [P0, P1, P4, P5]``, ``P_b =
  [P2, P3, P6, P7]``, ``x`` solves the quartic ``X.P_a X.Q_b - X.P_b X.Q_a = 0`` and ``y =
  X.P_a / X.(P_a - P_b)``. The corner values are those of the activation region of the planar
  vertex (every activation's slope fixed there: then every pre-activation is trilinear on the
  box, and f on ``nu_0 = 0`` is the same from both sides), so the point is on ``nu_0 = 0`` and
  ``f = c`` exactly where it stays in that region, off the edge's other face. Edges on planes
  only (and roots outside the box) take ``'edge'``.
- ``'edge'``: the root of ``f - c`` on the straight edge (safeguarded Newton, bracketed where
  the true values at the ends have opposite signs).
- ``'none'``: the planar vertices (Kim's default).

Where a mode finds no root (the planar complex crosses an edge that the true level set does not:
f is far from flat there), the vertex is projected onto ``f = c`` along the gradient
(minimum-norm Newton steps, within its edge's length: ``projected_vertices``); a vertex that
does not converge either keeps its planar place (``uncorrected_vertices``).

On a grid-aligned edge the planar vertex already is the root (f is linear along it): it does
not move. The combinatorics (which edges are crossed, the faces, their orientation) are those
of the planar extraction, so the vertex and face counts are the same and the mesh is watertight
exactly when the planar one is; faces may be slightly non-planar (their corners lie on curved
surfaces). ``info`` gets ``trilinear_correction`` (the mode), ``planar_level_error`` (max
``|f(v) - c|`` of the planar vertices), ``corrected_vertices``, ``edge_fallbacks``,
``uncorrected_vertices``, ``max_surface_error`` (the largest residual of the faces' equations
at the vertices placed on them), ``max_vertex_move`` and ``correction_seconds``;
``max_level_error`` is then measured on the corrected mesh.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ExtractionError
from ..network.model import Network

__all__ = ["CORRECTIONS", "SurfaceTable", "check_correction", "correct_vertices", "forward_with_gradients", "edge_roots",
           "surface_points", "diagonal_plane_points"]

#: The modes of :func:`correct_vertices`.
CORRECTIONS = ("surfaces", "kim", "edge", "none")


def check_correction(mode) -> str:
    """``mode`` if it is one of :data:`CORRECTIONS` (True means 'surfaces', False 'none')."""
    if mode is True:
        return "surfaces"
    if mode is False or mode is None:
        return "none"
    if mode not in CORRECTIONS:
        raise ExtractionError(f"trilinear_correction must be one of {list(CORRECTIONS)}, got {mode!r}")
    return mode


def forward_with_gradients(net: Network, X: np.ndarray):
    """Every pre-activation row of ``net`` and ``f`` at points ``X`` (n, d), with gradients
    (forward differentiation; one-sided at kinks and grid planes, as the encoding's Jacobian).
    Returns ``(Z (n, rows), dZ (n, rows, d), f (n,), df (n, d))``, rows layer by layer."""
    X = np.asarray(X, dtype=np.float64)
    if net.encoding is not None:
        h, dh = net.encoding.evaluate(X, jacobian=True)
    else:
        h = X
        dh = np.broadcast_to(np.eye(X.shape[1]), (len(X), X.shape[1], X.shape[1]))
    zs, dzs = [], []
    for layer in net.layers:
        z = layer.preactivation(h)
        dz = np.einsum("rk,nkd->nrd", layer.weight, dh)
        zs.append(z)
        dzs.append(dz)
        h = layer.activation(z)
        dh = dz * layer.activation.derivative(z)[:, :, None]
    out = net.output
    if out.name == "sum":
        f, df = h.sum(axis=1), dh.sum(axis=1)
    else:
        f = h @ out.weight[0] + (out.bias[0] if out.bias is not None else 0.0)
        df = np.einsum("k,nkd->nd", out.weight[0], dh)
    return np.concatenate(zs, axis=1), np.concatenate(dzs, axis=1), f, df


class SurfaceTable:
    """The functions whose zero sets are the faces of the complex, by face label: label
    ``2 * axis`` (``+1``) the box side at ``lo`` (``hi``), ``nb + p`` plane ``p``: a neuron (its
    pre-activation row ``p``) for ``p < n_neurons``, else the affine function ``a . x - t`` of
    ``affine[p]`` (the hash grid's planes). Other labels are unknown (-1)."""

    def __init__(self, net: Network, lo, hi, affine: dict):
        self.net = net
        self.d = net.dim
        self.nb = 2 * self.d
        self.n_rows = sum(l.rows for l in net.layers)
        self.lo, self.hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        self.affine = dict(affine)

    def known(self, labels: np.ndarray) -> np.ndarray:
        lab = np.asarray(labels)
        p = lab - self.nb
        aff = np.isin(p, np.fromiter(self.affine, dtype=np.int64, count=len(self.affine))) if self.affine \
            else np.zeros(lab.shape, bool)
        return ((lab >= 0) & (lab < self.nb)) | ((p >= 0) & (p < self.n_rows)) | aff

    def evaluate(self, labels: np.ndarray, X: np.ndarray, Z, dZ):
        """Values (n, k) and gradients (n, k, d) of the functions of ``labels`` (n, k) at ``X``
        (``Z``, ``dZ`` from :func:`forward_with_gradients`); unknown labels give 0."""
        n, k = labels.shape
        val = np.zeros((n, k))
        grad = np.zeros((n, k, self.d))
        rows = np.arange(n)
        for j in range(k):
            lab = labels[:, j]
            box = (lab >= 0) & (lab < self.nb)
            ax = np.where(box, lab // 2, 0)
            side = np.where(lab % 2 == 1, self.hi[ax], self.lo[ax])
            val[box, j] = X[rows[box], ax[box]] - side[box]
            grad[rows[box], j, ax[box]] = 1.0
            p = lab - self.nb
            neu = (p >= 0) & (p < self.n_rows)
            val[neu, j] = Z[rows[neu], p[neu]]
            grad[neu, j] = dZ[rows[neu], p[neu]]
            for q, (a, t) in self.affine.items():
                s = p == q
                if s.any():
                    val[s, j] = X[s] @ a - t
                    grad[s, j] = a
        return val, grad


def edge_roots(net: Network, level: float, A: np.ndarray, B: np.ndarray, t0: np.ndarray, steps: int = 60):
    """Roots ``t`` of ``f(A + t (B - A)) = level`` on each edge, from ``t0``: Newton steps kept
    inside the bracket where the true values at the ends have opposite signs (bisection when a
    step leaves it), plain Newton inside [0, 1] otherwise. Returns ``(t, ok)``."""
    D = B - A
    fa, fb = net(A) - level, net(B) - level
    bracket = np.sign(fa) * np.sign(fb) < 0
    lo, hi = np.zeros(len(A)), np.ones(len(A))
    neg_at_lo = fa < 0
    t = np.clip(np.asarray(t0, np.float64).copy(), 0.0, 1.0)
    ok = np.zeros(len(A), bool)
    act = np.arange(len(A))
    for _ in range(steps):
        if not len(act):
            break
        _z, _dz, f, df = forward_with_gradients(net, A[act] + t[act, None] * D[act])
        phi = f - level
        dphi = np.einsum("nd,nd->n", df, D[act])
        scale = np.abs(dphi) + 1e-300
        done = np.abs(phi) <= 1e-15 * (1.0 + abs(level)) + 4e-16 * scale
        br = bracket[act]
        below = (phi < 0) == neg_at_lo[act]                 # the root is above t
        lo[act] = np.where(br & below, t[act], lo[act])
        hi[act] = np.where(br & ~below, t[act], hi[act])
        with np.errstate(divide="ignore", invalid="ignore"):
            tn = t[act] - phi / dphi
        bad = ~np.isfinite(tn) | (tn <= lo[act]) | (tn >= hi[act])
        tn = np.where(bad & br, 0.5 * (lo[act] + hi[act]), tn)
        step = np.abs(tn - t[act])
        t[act] = np.where(done, t[act], tn)
        conv = done | (step <= 1e-16)
        ok[act[conv]] = True
        act = act[~conv & (br | ((tn >= 0) & (tn <= 1)))]
    t = np.clip(t, 0.0, 1.0)
    res = np.abs(net(A + t[:, None] * D) - level)
    ok &= res <= 1e-12 * (1.0 + abs(level) + np.abs(fa) + np.abs(fb))
    return t, ok


def surface_points(net: Network, level: float, X0: np.ndarray, labels: np.ndarray, table: SurfaceTable,
                   reach: np.ndarray, steps: int = 12, ends=None):
    """Newton's method for the points on ``f = level`` and the faces ``labels`` (n, d - 1),
    from ``X0``. A point is accepted (``ok``) when every equation is met to round-off, it stayed
    within ``reach`` of its start, inside the box and, given the edges' ``ends`` ``(A, B)``,
    between them (its projection on the edge). Returns ``(X, ok, surface_residual)``."""
    X = np.array(X0, dtype=np.float64)
    n, d = X.shape
    if n == 0:
        return X, np.zeros(0, bool), np.zeros(0)
    act = np.arange(n)
    for _ in range(steps):
        if not len(act):
            break
        Z, dZ, f, df = forward_with_gradients(net, X[act])
        sv, sg = table.evaluate(labels[act], X[act], Z, dZ)
        r = np.concatenate([sv, (f - level)[:, None]], axis=1)
        J = np.concatenate([sg, df[:, None, :]], axis=1)
        det = np.linalg.det(J)
        good = np.abs(det) > 1e-300
        delta = np.zeros((len(act), d))
        if good.any():
            delta[good] = np.linalg.solve(J[good], -r[good][:, :, None])[:, :, 0]
        X[act] += delta
        small = np.abs(delta).max(axis=1) <= 1e-15 * (1.0 + np.abs(X[act]).max(axis=1))
        act = act[good & ~small]
    Z, dZ, f, _df = forward_with_gradients(net, X)
    sv, _sg = table.evaluate(labels, X, Z, dZ)
    fres = np.abs(f - level)
    sres = np.abs(sv).max(axis=1) if sv.shape[1] else np.zeros(n)
    zscale = 1.0 + np.abs(Z).max(axis=1)
    moved = np.linalg.norm(X - X0, axis=1)
    slack = 1e-12 * (1.0 + np.abs(table.lo).max() + np.abs(table.hi).max())
    inside = np.all((X >= table.lo - slack) & (X <= table.hi + slack), axis=1)
    ok = (fres <= 1e-12 * (1.0 + abs(level)) * zscale) & (sres <= 1e-12 * zscale) & (moved <= reach) & inside
    if ends is not None:
        A, B = ends
        D = B - A
        tp = np.einsum("nd,nd->n", X - A, D) / np.maximum(np.einsum("nd,nd->n", D, D), 1e-300)
        ok &= (tp >= -1e-9) & (tp <= 1 + 1e-9)
    return X, ok, sres


def _quadratic_on_diagonal(V, b, c, a_bit):
    """Coefficients (n, 3) in powers of x of the bilinear interpolation of corner values ``V``
    (n, 8) on the face ``a = a_bit`` of the box, along its diagonal ``u_b = u_c = x``."""
    i = lambda ub, uc: (ub << b) | (uc << c) | (a_bit << (3 - b - c))      # noqa: E731
    v00, v10, v01, v11 = V[:, i(0, 0)], V[:, i(1, 0)], V[:, i(0, 1)], V[:, i(1, 1)]
    m = v10 + v01                      # (1-x)^2 v00 + x(1-x) m + x^2 v11
    return np.stack([v00, m - 2 * v00, v00 - m + v11], axis=1)


def region_values(net: Network, X: np.ndarray, slopes: list):
    """Pre-activation rows (n, rows) and ``f`` at ``X`` with every activation replaced by its
    slope in ``slopes`` (per layer, (n, width)): the network of one activation region."""
    h = net.first_input(X)
    zs = []
    for layer, s in zip(net.layers, slopes):
        z = layer.preactivation(h)
        zs.append(z)
        h = z * s
    return np.concatenate(zs, axis=1), net.output(h)


def diagonal_plane_points(net: Network, level: float, A: np.ndarray, B: np.ndarray, rows: np.ndarray,
                          t0: np.ndarray):
    """Kim's Thm 4.7 (see the module docstring): on each edge ``A -> B`` (3-D) lying on the zero
    set of pre-activation row ``rows``, the point of that zero set, ``f = level`` and the diagonal
    plane of the edge's bounding box (``y`` free: axis 1, or the axis along which the edge moves
    most when it does not move along y), the root nearest the planar fraction ``t0``, in the
    activation region of the planar vertex. Returns ``(X, ok)``."""
    n = len(A)
    D = B - A
    free = np.where(np.abs(D[:, 1]) > 1e-9 * np.abs(D).max(axis=1), 1, np.abs(D).argmax(axis=1))
    bits = (np.arange(8)[:, None] >> np.arange(3)[None, :]) & 1
    X = np.array(A, dtype=np.float64)
    ok = np.zeros(n, bool)
    for a in range(3):
        sel = np.nonzero(free == a)[0]
        if not len(sel):
            continue
        b, c = [k for k in range(3) if k != a]
        C = np.where(bits[None] == 1, B[sel, None, :], A[sel, None, :]).reshape(-1, 3)
        V0 = A[sel] + t0[sel, None] * D[sel]              # the planar vertex: its region's slopes
        slopes = [np.repeat(l.activation.derivative(z), 8, axis=0)
                  for l, z in zip(net.layers, net.preactivations(V0))]
        Z, F = region_values(net, C, slopes)
        P = Z[np.arange(8 * len(sel)), np.repeat(rows[sel], 8)].reshape(-1, 8)
        Qv = (F - level).reshape(-1, 8)
        Pa, Pb = _quadratic_on_diagonal(P, b, c, 0), _quadratic_on_diagonal(P, b, c, 1)
        Qa, Qb = _quadratic_on_diagonal(Qv, b, c, 0), _quadratic_on_diagonal(Qv, b, c, 1)
        quart = np.zeros((len(sel), 5))
        for i in range(3):
            for j in range(3):
                quart[:, i + j] += Pa[:, i] * Qb[:, j] - Pb[:, i] * Qa[:, j]
        s = _roots_near(quart, t0[sel])
        pw = np.stack([np.ones_like(s), s, s * s], axis=1)
        xa, xb = (Pa * pw).sum(axis=1), (Pb * pw).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = xa / (xa - xb)
        good = np.isfinite(s) & np.isfinite(y) & (s >= 0) & (s <= 1) & (y >= 0) & (y <= 1)
        pts = A[sel] + s[:, None] * D[sel]
        pts[:, a] = A[sel, a] + y * D[sel, a]
        X[sel[good]] = pts[good]
        ok[sel[good]] = True
    return X, ok


def _roots_near(coeffs: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """Per row of ``coeffs`` (powers 0..4), the real root in [0, 1] nearest ``t0`` (NaN: none)."""
    out = np.full(len(coeffs), np.nan)
    for i, (cf, t) in enumerate(zip(coeffs, t0)):
        cf = np.trim_zeros(cf, "b")
        if len(cf) < 2 or not np.all(np.isfinite(cf)):
            continue
        r = np.roots(cf[::-1])
        r = r.real[(np.abs(r.imag) <= 1e-9 * (1 + np.abs(r.real))) & (r.real >= -1e-12) & (r.real <= 1 + 1e-12)]
        if len(r):
            out[i] = float(np.clip(r[np.argmin(np.abs(r - t))], 0.0, 1.0))
    return out


def project_points(net: Network, level: float, X0: np.ndarray, reach: np.ndarray, lo, hi, steps: int = 20):
    """Minimum-norm Newton steps onto ``f = level`` from ``X0``; ``(X, ok)``, ``ok`` where it
    converged within ``reach`` of the start and inside the box ``[lo, hi]``."""
    X = np.array(X0, dtype=np.float64)
    act = np.arange(len(X))
    for _ in range(steps):
        if not len(act):
            break
        _z, _dz, f, df = forward_with_gradients(net, X[act])
        g2 = np.einsum("nd,nd->n", df, df)
        good = g2 > 1e-300
        step = np.zeros((len(act), X.shape[1]))
        step[good] = -((f - level)[good] / g2[good])[:, None] * df[good]
        X[act] = np.clip(X[act] + step, lo, hi)
        act = act[good & (np.abs(step).max(axis=1) > 1e-16)]
    err = np.abs(net(X) - level)
    ok = (err <= 1e-12 * (1.0 + abs(level))) & (np.linalg.norm(X - X0, axis=1) <= reach)
    return X, ok


def correct_vertices(mesh, trace: dict, net: Network, level: float, mode: str, table: SurfaceTable) -> dict:
    """Move the level-set vertices of ``mesh`` (made by the planar method) onto the true
    surfaces (see the module docstring); ``trace`` comes from
    :func:`~neuralpoly_core.levelset.surface.emit_surface`. Changes ``mesh.vertices`` in place
    and returns the facts for ``info``."""
    t0 = time.perf_counter()
    facts = {"trilinear_correction": mode, "corrected_vertices": 0, "edge_fallbacks": 0,
             "projected_vertices": 0, "uncorrected_vertices": 0, "max_surface_error": 0.0,
             "max_vertex_move": 0.0}
    src = trace.get("source")
    X = mesh.vertices
    new = np.zeros(len(X), bool) if src is None else src >= trace["n_old"]
    facts["planar_level_error"] = float(np.abs(net(X[new]) - level).max()) if new.any() else 0.0
    if mode == "none" or not new.any():
        facts["correction_seconds"] = time.perf_counter() - t0
        return facts
    k = src[new] - trace["n_old"]                      # the cut's new vertex of each mesh vertex
    A, B = trace["points"][trace["ua"][k]], trace["points"][trace["ub"][k]]
    X0 = X[new].copy()
    tpl = trace["t"][k]
    labels = trace["labels"][k][:, :net.dim - 1]      # 3-D: an edge's two faces; 2-D: one line
    reach = np.linalg.norm(B - A, axis=1)
    Xn = X0.copy()
    ok = np.zeros(len(X0), bool)
    if mode == "surfaces":
        kn = table.known(labels).all(axis=1)
        idx = np.nonzero(kn)[0]
        Xs, oks, sres = surface_points(net, level, X0[idx], labels[idx], table, reach[idx],
                                       ends=(A[idx], B[idx]))
        Xn[idx[oks]] = Xs[oks]
        ok[idx[oks]] = True
        facts["corrected_vertices"] = int(oks.sum())
        facts["max_surface_error"] = float(sres[oks].max()) if oks.any() else 0.0
    elif mode == "kim" and net.dim == 3:
        p = labels - table.nb
        neuron = (p >= 0) & (p < table.n_rows)
        row = np.where(neuron, p, -1).max(axis=1)        # the later neuron the edge lies on
        idx = np.nonzero(row >= 0)[0]
        Xk, okk = diagonal_plane_points(net, level, A[idx], B[idx], row[idx], tpl[idx])
        Xn[idx[okk]] = Xk[okk]
        ok[idx[okk]] = True
        facts["corrected_vertices"] = int(okk.sum())
    rest = np.nonzero(~ok)[0]
    if len(rest):
        te, oke = edge_roots(net, level, A[rest], B[rest], tpl[rest])
        sel = rest[oke]
        Xn[sel] = A[sel] + te[oke, None] * (B[sel] - A[sel])
        ok[sel] = True
        if mode in ("surfaces", "kim"):
            facts["edge_fallbacks"] = int(oke.sum())
        else:
            facts["corrected_vertices"] = int(oke.sum())
    rest = np.nonzero(~ok)[0]
    if len(rest):
        Xp, okp = project_points(net, level, X0[rest], reach[rest], table.lo, table.hi)
        Xn[rest[okp]] = Xp[okp]
        ok[rest[okp]] = True
        facts["projected_vertices"] = int(okp.sum())
    facts["uncorrected_vertices"] = int((~ok).sum())
    facts["max_vertex_move"] = float(np.linalg.norm(Xn - X0, axis=1).max())
    X[new] = Xn
    facts["correction_seconds"] = time.perf_counter() - t0
    return facts
