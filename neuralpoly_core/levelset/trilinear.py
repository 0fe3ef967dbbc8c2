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
- ``'edge'``: the root of ``f - c`` on the straight edge (safeguarded Newton, bracketed where
  the true values at the ends have opposite signs).
- ``'none'``: the planar vertices (Kim's default).

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
           "surface_points"]

#: The modes of :func:`correct_vertices`.
CORRECTIONS = ("surfaces", "edge", "none")


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
                   reach: np.ndarray, steps: int = 12):
    """Newton's method for the points on ``f = level`` and the faces ``labels`` (n, d - 1),
    from ``X0``. A point is accepted (``ok``) when every equation is met to round-off, it stayed
    within ``reach`` of its start and inside the box. Returns ``(X, ok, surface_residual)``."""
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
    return X, ok, sres


def correct_vertices(mesh, trace: dict, net: Network, level: float, mode: str, table: SurfaceTable) -> dict:
    """Move the level-set vertices of ``mesh`` (made by the planar method) onto the true
    surfaces (see the module docstring); ``trace`` comes from
    :func:`~neuralpoly_core.levelset.surface.emit_surface`. Changes ``mesh.vertices`` in place
    and returns the facts for ``info``."""
    t0 = time.perf_counter()
    facts = {"trilinear_correction": mode, "corrected_vertices": 0, "edge_fallbacks": 0,
             "uncorrected_vertices": 0, "max_surface_error": 0.0, "max_vertex_move": 0.0}
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
    labels = trace["labels"][k]
    reach = np.linalg.norm(B - A, axis=1)
    Xn = X0.copy()
    ok = np.zeros(len(X0), bool)
    if mode == "surfaces":
        kn = table.known(labels).all(axis=1)
        idx = np.nonzero(kn)[0]
        Xs, oks, sres = surface_points(net, level, X0[idx], labels[idx], table, reach[idx])
        Xn[idx[oks]] = Xs[oks]
        ok[idx[oks]] = True
        facts["corrected_vertices"] = int(oks.sum())
        facts["max_surface_error"] = float(sres[oks].max()) if oks.any() else 0.0
    rest = np.nonzero(~ok)[0]
    if len(rest):
        te, oke = edge_roots(net, level, A[rest], B[rest], tpl[rest])
        sel = rest[oke]
        Xn[sel] = A[sel] + te[oke, None] * (B[sel] - A[sel])
        ok[sel] = True
        if mode == "surfaces":
            facts["edge_fallbacks"] = int(oke.sum())
        else:
            facts["corrected_vertices"] = int(oke.sum())
    facts["uncorrected_vertices"] = int((~ok).sum())
    facts["max_vertex_move"] = float(np.linalg.norm(Xn - X0, axis=1).max())
    X[new] = Xn
    facts["correction_seconds"] = time.perf_counter() - t0
    return facts
