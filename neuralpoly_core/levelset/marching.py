"""Level sets of smooth networks by marching cubes (3-D) or marching squares (2-D).

For networks that are not piecewise linear (``sigmoid``, ``abs_pow`` with p != 1) the level set
``f = c`` is sampled on a regular grid of ``resolution`` cells per axis over the box and
triangulated with scikit-image (``marching_cubes``, Lewiner; ``find_contours`` in 2-D). Marching
cubes places every vertex on a grid edge by linear interpolation; the vertices are then moved
onto the level set by Newton steps along that edge, using the gradient of ``f`` (computed
analytically by back-propagation through the network) and safeguarded by the edge's sign
bracket: ``newton_steps`` steps, continued by bracketed steps for vertices not yet at the level
(steep sigmoids, flat regions), so every vertex converges and stays on its edge and the mesh
cannot fold. (The few vertices Lewiner's method puts inside a cube move the same way towards
a corner of the cube on the other side of the level.) ``mesh.info["max_level_error"]`` reports the
remaining ``max |f(v) - c|`` over the level-set vertices.

The API and conventions are those of :func:`neuralpoly_core.levelset.extract_level_set`: the
solid is ``{f < c}`` (``inside="below"``) or ``{f > c}``, faces are oriented with normals out of
the solid, ``cap=True`` closes the surface with the box sides inside the solid (the grid is
padded with one layer of outside samples and the extra vertices are clamped onto the box),
3-D results are triangles and 2-D results are segments (two-corner faces with the inside on
the left). ``region_ids`` tag each face with the activation pattern (``z > 0`` per neuron) at
its centroid, as in the exact extractor.

Needs scikit-image (the ``smooth`` extra).
"""

from __future__ import annotations

import time

import numpy as np

from .._checks import check_callable, check_int
from ..budget import check_memory
from ..errors import ExtractionError
from ..mesh.polymesh import PolyMesh
from ..mesh.topology import is_watertight
from ..network.model import Network
from ..reporting import Reporter
from .box import check_request, parse_bbox

__all__ = ["extract_marching", "value_and_gradient", "project_to_level"]

_MAX_RESOLUTION = 1024
_CHUNK_POINTS = 1 << 16
_GRID_EPS = 1e-5     # grid units: scikit-image's vertex positions are float32


def value_and_gradient(net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f(X)`` and its gradient ``(N, dim)`` by back-propagation (numpy, float64).

    Where an activation has no derivative (``relu`` and ``|x|^p`` at 0) the one-sided value
    0 is used; ``|x|^p`` with p < 1 has its derivative capped at 1e12 near 0. A hash-grid
    encoding contributes its one-sided Jacobian inside each grid cell.
    """
    X = np.asarray(X, dtype=np.float64)
    J = None
    if net.encoding is not None:            # h = enc(X); its Jacobian closes the chain
        X, J = net.encoding.evaluate(X, jacobian=True)
    zs, hs = [], [X]
    h = X
    for layer in net.layers:
        z = layer.preactivation(h)
        zs.append(z)
        h = layer.activation(z)
        hs.append(h)
    out = net.output
    if out.name == "sum":
        f = h.sum(axis=-1)
        g = np.ones_like(h)
    else:
        f = h @ out.weight[0]
        if out.bias is not None:
            f = f + out.bias[0]
        g = np.broadcast_to(out.weight[0], h.shape).copy()
    for layer, z in zip(reversed(net.layers), reversed(zs)):
        g = g * layer.activation.derivative(z)
        g = g @ layer.weight
    if J is not None:
        g = np.einsum("...k,...kd->...d", g, J)
    return f, g


def project_to_level(net: Network, X: np.ndarray, level: float, lo, hi, steps: int = 3,
                     fixed_axes: np.ndarray | None = None, max_step: float | None = None):
    """Move points onto ``f = level`` with damped Newton steps along the gradient.

    Parameters
    ----------
    X : (N, d) array
        Starting points (e.g. marching-cubes vertices).
    lo, hi : (d,) arrays
        The box; points stay inside it.
    steps : int
        Newton steps.
    fixed_axes : (N, d) bool, optional
        Coordinates that must not move (a vertex on a box side keeps that coordinate).
    max_step : float, optional
        Longest move per step (default: no limit); a step that does not reduce ``|f - c|``
        is halved up to 4 times and otherwise not taken.

    Returns
    -------
    X, err : the moved points and ``|f(X) - level|``.
    """
    X = np.array(X, dtype=np.float64, copy=True)
    if len(X) == 0:
        return X, np.zeros(0)
    free = np.ones_like(X, dtype=bool) if fixed_axes is None else ~fixed_axes
    f, g = value_and_gradient(net, X)
    r = f - level
    for _ in range(int(steps)):
        g = np.where(free, g, 0.0)
        gg = np.einsum("ij,ij->i", g, g)
        ok = gg > 1e-300
        step = np.zeros_like(X)
        step[ok] = (r[ok] / gg[ok])[:, None] * g[ok]
        if max_step is not None:
            ln = np.linalg.norm(step, axis=1)
            big = ln > max_step
            step[big] *= (max_step / ln[big])[:, None]
        accepted = np.zeros(len(X), dtype=bool)
        scale = 1.0
        newX = X.copy()
        newr = r.copy()
        pending = ok & (np.abs(r) > 0)
        for _half in range(5):
            if not pending.any():
                break
            cand = np.clip(X[pending] - scale * step[pending], lo, hi)
            fc = net.evaluate(cand) - level
            better = np.abs(fc) < np.abs(r[pending])
            idx = np.nonzero(pending)[0][better]
            newX[idx] = cand[better]
            newr[idx] = fc[better]
            accepted[idx] = True
            pending[idx] = False
            scale *= 0.5
        X, r = newX, newr
        if not accepted.any():
            break
        f, g = value_and_gradient(net, X)
        r = f - level
    return X, np.abs(r)


def _refine_on_edges(net: Network, V: np.ndarray, level: float, origin: np.ndarray, h: np.ndarray,
                     steps: int, max_steps: int = 60) -> np.ndarray:
    """Move marching-cubes vertices onto ``f = level`` along the grid edges they lie on.

    A vertex lies on the edge between two grid samples of opposite sign. Newton steps on the
    edge's parameter use the gradient of f along the edge; a step that leaves the current
    sign bracket is replaced by bisection, so every vertex converges and stays on its edge
    (the mesh cannot fold). ``steps`` steps for all vertices, then up to ``max_steps`` for
    those not yet at the level (steep sigmoids). Vertices on no single edge (Lewiner's
    marching cubes adds some inside cubes with ambiguous signs) move the same way along the
    segment to the nearest corner of their cube where f is on the other side of the level.
    """
    q = (V - origin) / h
    frac = np.abs(q - np.round(q))
    off_grid = frac > _GRID_EPS               # scikit-image computes positions in float32
    axis = np.argmax(frac, axis=1)
    on_edge = off_grid.sum(axis=1) == 1        # exactly one coordinate between samples
    inside = np.nonzero(off_grid.sum(axis=1) > 1)[0]     # Lewiner's vertices inside cubes
    at_sample = np.nonzero(off_grid.sum(axis=1) == 0)[0]
    other = inside
    out = V.copy()
    if len(at_sample):
        out[at_sample] = _refine_at_samples(net, V[at_sample], level, h, steps, max_steps)
    idx = np.nonzero(on_edge)[0]
    if len(idx):
        ax = axis[idx]
        q0 = np.round(q[idx])                  # the edge's start sample, exactly on the grid
        i0 = np.floor(q[idx, ax])
        q0[np.arange(len(idx)), ax] = i0
        a = origin + q0 * h
        step = np.zeros_like(a)
        step[np.arange(len(idx)), ax] = h[ax]
        ra = net.evaluate(a) - level
        rb = net.evaluate(a + step) - level
        bracket = (np.sign(ra) * np.sign(rb)) <= 0
        other = np.concatenate([other, idx[~bracket]])
        idx, a, step, ra = idx[bracket], a[bracket], step[bracket], ra[bracket]
        t = q[idx, ax[bracket]] - i0[bracket]
        out[idx] = _edge_newton(net, a, step, t, ra, level, steps, max_steps)
    if len(other):
        out[other] = _refine_inside_cubes(net, V[other], level, origin, h, steps, max_steps)
    return out


def _refine_at_samples(net, V, level, h, steps, max_steps):
    """Vertices on a grid sample: done if the sample is on the level, else bracketed Newton
    along the axis edge to the neighbour of opposite sign whose crossing is nearest."""
    d = V.shape[1]
    rv = net.evaluate(V) - level
    tol = 1e-13 * (float(np.max(np.abs(rv))) + abs(level) + 1e-300)
    todo = np.abs(rv) > tol
    out = V.copy()
    if not todo.any():
        return out
    Vt, rt = V[todo], rv[todo]
    steps_all = np.concatenate([np.eye(d) * h, -np.eye(d) * h])                 # (2d, d)
    nb = Vt[:, None, :] + steps_all[None, :, :]
    rn = (net.evaluate(nb.reshape(-1, d)) - level).reshape(len(Vt), 2 * d)
    with np.errstate(divide="ignore", invalid="ignore"):
        tcross = np.where(np.sign(rn) * np.sign(rt)[:, None] < 0, rt[:, None] / (rt[:, None] - rn), np.inf)
    k = np.argmin(tcross, axis=1)
    ok = np.isfinite(tcross[np.arange(len(Vt)), k])
    if ok.any():
        a = Vt[ok]
        st = steps_all[k[ok]]
        moved = _edge_newton(net, a, st, np.zeros(int(ok.sum())), rt[ok], level, steps, max_steps)
        sub = out[todo]
        sub[ok] = moved
        out[todo] = sub
    return out


def _refine_inside_cubes(net, V, level, origin, h, steps, max_steps):
    """Vertices inside grid cubes: bracketed Newton towards the cube corner of opposite sign
    (nearest first), which converges even where f is flat."""
    d = V.shape[1]
    q = (V - origin) / h
    base = np.floor(q)
    rv = net.evaluate(V) - level
    corners = (np.arange(1 << d)[:, None] >> np.arange(d)[None, :]) & 1          # (2^d, d)
    P = origin + (base[:, None, :] + corners[None, :, :]) * h                    # (n, 2^d, d)
    rc = (net.evaluate(P.reshape(-1, d)) - level).reshape(len(V), -1)
    opposite = np.sign(rc) * np.sign(rv)[:, None] < 0
    dist = np.linalg.norm(P - V[:, None, :], axis=2)
    dist[~opposite] = np.inf
    k = np.argmin(dist, axis=1)
    ok = np.isfinite(dist[np.arange(len(V)), k]) & (rv != 0)
    out = V.copy()
    if ok.any():
        target = P[np.arange(len(V)), k][ok]
        out[ok] = _edge_newton(net, V[ok], target - V[ok], np.zeros(int(ok.sum())), rv[ok], level,
                               steps, max_steps)
    return out


def _edge_newton(net, a, step, t, ra, level, steps, max_steps):
    """Bracketed Newton on ``f(a + t step) = level`` for ``t`` in [0, 1]; returns the points."""
    n = len(a)
    tlo = np.zeros(n)
    thi = np.ones(n)
    scale = float(np.max(np.abs(ra))) + abs(level) + 1e-300
    tol = 1e-13 * scale
    active = np.ones(n, dtype=bool)
    for _k in range(max(steps, max_steps)):
        if not active.any():
            break
        ai = np.nonzero(active)[0]
        x = a[ai] + t[ai, None] * step[ai]
        f, g = value_and_gradient(net, x)
        r = f - level
        done = np.abs(r) <= tol
        # the bracket: the side with the sign of f at t = 0 moves to t
        same = np.sign(r) == np.sign(ra[ai])
        tlo[ai] = np.where(same & ~done, t[ai], tlo[ai])
        thi[ai] = np.where(~same & ~done, t[ai], thi[ai])
        dfdt = np.einsum("ij,ij->i", g, step[ai])
        with np.errstate(divide="ignore", invalid="ignore"):
            tn = t[ai] - r / dfdt
        bad = ~np.isfinite(tn) | (tn <= tlo[ai]) | (tn >= thi[ai])
        tn = np.where(bad, 0.5 * (tlo[ai] + thi[ai]), tn)
        t[ai] = np.where(done, t[ai], tn)
        active[ai[done | (thi[ai] - tlo[ai] <= 1e-15)]] = False
    return a + t[:, None] * step


def _grid_values(net: Network, axes, reporter: Reporter) -> np.ndarray:
    """f on the tensor grid of ``axes`` (list of 1-D arrays), evaluated in chunks."""
    shape = tuple(len(a) for a in axes)
    d = len(axes)
    out = np.empty(shape, dtype=np.float64)
    flat = out.reshape(-1)
    total = flat.size
    # rows of the first axis per chunk
    per_row = total // shape[0]
    rows = max(1, _CHUNK_POINTS // max(per_row, 1))
    rest = np.stack(np.meshgrid(*axes[1:], indexing="ij"), axis=-1).reshape(-1, d - 1)
    for i0 in range(0, shape[0], rows):
        i1 = min(shape[0], i0 + rows)
        first = np.repeat(axes[0][i0:i1], len(rest))
        pts = np.concatenate([first[:, None], np.tile(rest, (i1 - i0, 1))], axis=1)
        flat[i0 * per_row:i1 * per_row] = net.evaluate(pts)
        reporter(0.8 * i1 / shape[0], "sampling the grid")
    return out


def extract_marching(net: Network, level: float = 0.0, bbox=(-1.0, 1.0), resolution: int = 64,
                     newton_steps: int = 3, cap: bool = False, inside: str = "below",
                     progress=None, cancel=None) -> PolyMesh:
    """Level set ``f = level`` of any network by marching cubes / squares plus Newton steps.

    Parameters
    ----------
    net : Network
        Any network with 2 or 3 inputs.
    level : float
        The level ``c``.
    bbox : (lo, hi) or (d, 2) array
        The box.
    resolution : int
        Grid cells per axis (2 .. 1024).
    newton_steps : int
        Newton steps moving vertices onto the level set (0 keeps the interpolated vertices).
    cap : bool
        Close the surface with the box sides inside the solid.
    inside : {'below', 'above'}
        The solid is ``f < level`` (default) or ``f > level``.
    progress, cancel : callable, optional
        ``progress(fraction, message)`` (or ``progress(fraction)``; returning False cancels)
        and ``cancel()`` (True stops), see :class:`~neuralpoly_core.reporting.Reporter`.

    Returns
    -------
    PolyMesh
        Triangles (3-D) or segments (2-D); ``info`` as for the exact extractor plus
        ``resolution`` and ``newton_steps``.

    Raises
    ------
    ExtractionError
        Bad arguments, or scikit-image missing.
    Cancelled
        If ``cancel()`` returned True or ``progress`` returned False.
    """
    t0 = time.perf_counter()
    check_request(net, level, inside)
    resolution = check_int(resolution, "resolution", 2, _MAX_RESOLUTION, error=ExtractionError)
    newton_steps = check_int(newton_steps, "newton_steps", 0, 50, error=ExtractionError)
    # the grid of values, its shifted and padded copies and scikit-image's work arrays
    check_memory(40 * (resolution + 3) ** net.dim, f"marching on a grid of {resolution + 1}^{net.dim} points",
                 "lower the resolution (--resolution)")
    reporter = Reporter(check_callable(progress, "progress", error=ExtractionError),
                        check_callable(cancel, "cancel", error=ExtractionError),
                        what="level-set extraction")
    measure = _skimage_measure()
    d = net.dim
    lo, hi = parse_bbox(bbox, d)
    level = float(level)
    axes = [np.linspace(lo[k], hi[k], resolution + 1) for k in range(d)]
    h = (hi - lo) / resolution
    vals = _grid_values(net, axes, reporter) - level
    if inside == "above":
        vals = -vals
    # vals < 0 inside. Pad with an outside layer to close the surface at the box.
    if cap:
        big = float(np.max(np.abs(vals))) + 1.0
        vals = np.pad(vals, 1, mode="constant", constant_values=big)
        origin = lo - h
    else:
        origin = lo
    if not (np.any(vals < 0) and np.any(vals > 0)):
        mesh = PolyMesh(np.zeros((0, d)), np.zeros(0, np.int64), np.zeros(0, np.int64),
                        region_patterns=np.zeros((0, net.n_neurons), dtype=bool))
        _info(mesh, net, level, t0, resolution, newton_steps, 0, 0.0)
        return mesh
    if d == 3:
        verts, faces, _n, _v = measure.marching_cubes(vals, 0.0, spacing=tuple(h),
                                                      gradient_direction="descent",
                                                      allow_degenerate=False)
        verts = verts + origin
        corners = faces.astype(np.int64).ravel()
        sizes = np.full(len(faces), 3, dtype=np.int64)
    else:
        verts, corners, sizes = _contour_segments(measure, vals, h, origin, lo)
    verts = _snap_to_grid(verts, origin, h)
    # vertices outside the box come from the padding layer: clamp them onto the box
    if cap and len(verts):
        verts, corners, sizes, outside = _weld_padding(verts, corners, sizes, lo, hi)
    else:
        outside = np.zeros(len(verts), dtype=bool)
    surf = ~outside
    # Newton along each vertex's grid edge, safeguarded by the edge's sign bracket
    if newton_steps and surf.any():
        verts[surf] = _refine_on_edges(net, verts[surf], level, origin, h, int(newton_steps))
    reporter(0.95, "moving vertices onto the level set")
    if d == 3 and len(corners) and cap:
        corners, sizes = _drop_slivers(verts, corners, sizes, surf, lo, hi)
    corners, rid, upat, ncap = _tag_regions(net, verts, corners, sizes, surf, cap)
    # keep only used vertices
    used = np.zeros(len(verts), dtype=bool)
    used[corners] = True
    newid = np.cumsum(used) - 1
    mesh = PolyMesh(verts[used], newid[corners], sizes, rid, region_patterns=upat)
    err_pts = verts[used & surf]
    err = float(np.max(np.abs(net.evaluate(err_pts) - level))) if len(err_pts) else 0.0
    _info(mesh, net, level, t0, resolution, newton_steps, ncap, err)
    return mesh


def _skimage_measure():
    try:
        from skimage import measure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ExtractionError("marching cubes needs scikit-image: pip install scikit-image "
                              "(the 'smooth' extra of neuralpoly)") from None
    return measure


def _contour_segments(measure, vals, h, origin, lo):
    """2-D: the contours of ``vals = 0`` as segments (inside on the left), coincident
    endpoints merged. Returns (vertices, corners, sizes)."""
    contours = measure.find_contours(vals, 0.0, positive_orientation="low")
    pts, segs = [], []
    base = 0
    for c in contours:
        closed = len(c) > 2 and np.allclose(c[0], c[-1])
        if closed:
            c = c[:-1]
        n = len(c)
        if n < 2:
            continue
        pts.append(c)
        i = np.arange(n)
        a = base + i if closed else base + i[:-1]
        b = base + (i + 1) % n if closed else base + i[1:]
        segs.append(np.stack([a, b], axis=1))
        base += n
    if not pts:
        verts = np.zeros((0, 2))
        seg = np.zeros((0, 2), np.int64)
    else:
        verts = np.concatenate(pts) * h + origin
        seg = np.concatenate(segs).astype(np.int64)
    # merge coincident contour endpoints (contours are returned as separate pieces)
    if len(verts):
        key = np.round((verts - lo) / (h * 1e-6)).astype(np.int64)
        _u, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        inv = inv.ravel()
        verts = verts[first]
        seg = inv[seg]
        seg = seg[seg[:, 0] != seg[:, 1]]
    # find_contours keeps low values on the left: inside (vals < 0) on the left
    return verts, seg.ravel(), np.full(len(seg), 2, dtype=np.int64)


def _snap_to_grid(verts, origin, h):
    """scikit-image's positions are float32: put grid-aligned coordinates back on the grid."""
    if len(verts):
        q = (verts - origin) / h
        rq = np.round(q)
        q = np.where(np.abs(q - rq) <= _GRID_EPS, rq, q)
        verts = origin + q * h
    return verts


def _weld_padding(verts, corners, sizes, lo, hi):
    """Clamp the vertices of the padding layer onto the box and weld the vertices that
    coincide on the box (padding vertices meet at edges and corners); faces that collapse are
    dropped. Returns (vertices, corners, sizes, cap-only vertex mask)."""
    outside = np.any((verts < lo) | (verts > hi), axis=1)
    verts = np.clip(verts, lo, hi)
    onbox = np.nonzero(np.any((verts == lo) | (verts == hi), axis=1))[0]
    _u, first, inv = np.unique(verts[onbox], axis=0, return_index=True, return_inverse=True)
    grp = inv.ravel()
    remap = np.arange(len(verts))
    remap[onbox] = onbox[first][grp]
    # a welded vertex is a cap-only vertex when all its copies were
    all_out = np.ones(len(first), dtype=bool)
    np.logical_and.at(all_out, grp, outside[onbox])
    outside[onbox] = all_out[grp]
    corners = remap[corners]
    if verts.shape[1] == 3:
        tri = corners.reshape(-1, 3)
        ok = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
        corners = tri[ok].ravel()
        sizes = sizes[:int(ok.sum())]
    else:
        seg = corners.reshape(-1, 2)
        seg = seg[seg[:, 0] != seg[:, 1]]
        corners = seg.ravel()
        sizes = sizes[:len(seg)]
    return verts, corners, sizes, outside


def _drop_slivers(verts, corners, sizes, surf, lo, hi):
    """Drop cap triangles that became degenerate when padding vertices were clamped."""
    tri = corners.reshape(-1, 3)
    a, b, c = verts[tri[:, 0]], verts[tri[:, 1]], verts[tri[:, 2]]
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    keep = (area > 1e-14 * float(np.max(hi - lo)) ** 2) | np.all(surf[tri], axis=1)
    tri = tri[keep]
    return tri.ravel(), sizes[:len(tri)]


def _tag_regions(net, verts, corners, sizes, surf, cap):
    """Surface faces first, cap faces last (as in the exact extractor), each tagged with the
    activation pattern at its centroid. Returns (corners, region ids, patterns, cap faces)."""
    if not len(sizes):
        return corners, np.zeros(0, np.int64), np.zeros((0, net.n_neurons), dtype=bool), 0
    fv = corners.reshape(len(sizes), -1)
    face_surf = np.all(surf[fv], axis=1) if cap else np.ones(len(sizes), dtype=bool)
    order = np.argsort(~face_surf, kind="stable")
    fv = fv[order]
    face_surf = face_surf[order]
    cen = verts[fv].mean(axis=1)
    pats = net.activation_pattern(cen)
    packed = np.ascontiguousarray(np.packbits(pats, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _u, first, rid = np.unique(keys, return_index=True, return_inverse=True)
    return fv.ravel(), rid.ravel(), pats[first], int(np.sum(~face_surf))


def _info(mesh, net, level, t0, resolution, newton_steps, ncap, err):
    mesh.info.update({
        "method": "marching", "level": float(level), "vertices": mesh.n_vertices,
        "faces": mesh.n_faces, "regions_crossed": int(len(mesh.region_patterns)),
        "cap_faces": int(ncap), "seconds": time.perf_counter() - t0, "max_level_error": err,
        "resolution": int(resolution), "newton_steps": int(newton_steps),
        "closed": bool(mesh.n_faces > 0 and mesh.is_closed_manifold()),
        "watertight": is_watertight(mesh),
    })
