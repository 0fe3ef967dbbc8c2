"""Exact planar triangulation for :class:`~neuralpoly_core.mesh.PolyMesh`.

Triangulation uses only the mesh's own vertices: convex faces are fanned, other faces and the
regions enclosed by 2-D level curves are ear-clipped, with every hole first joined to its
outer boundary by a bridge (a diagonal to a visible vertex); slivers of corners that are
collinear but for rounding are then flipped away (Delaunay flips). The geometric decisions
(turn directions, points in triangles, crossings) use an exact orientation predicate: a
floating-point test with a proven error bound (Shewchuk's), redone in rational arithmetic when
the bound cannot decide, so collinear runs of segments and loops touching at a vertex are
handled exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..errors import NeuralPolyError
from .graph import open_ends, walk_cycle

__all__ = ["ear_clip", "CurveRegions", "orient_many"]


# ---------------------------------------------------------------------------------------
# exact orientation predicate
# ---------------------------------------------------------------------------------------
# Shewchuk's bound for the floating-point orient2d determinant (rounded differences
# included): when |det| >= _CCW_ERR * (|detleft| + |detright|) its sign is the exact one.
_EPS = 2.0 ** -53
_CCW_ERR = (3.0 + 16.0 * _EPS) * _EPS


def _orient_exact(ax, ay, bx, by, cx, cy) -> int:
    """Sign of (a - c) x (b - c) in rational arithmetic (exact for any finite floats)."""
    F = Fraction
    d = (F(ax) - F(cx)) * (F(by) - F(cy)) - (F(ay) - F(cy)) * (F(bx) - F(cx))
    return (d > 0) - (d < 0)


def _orient(ax, ay, bx, by, cx, cy) -> int:
    """+1 if a, b, c turn counter-clockwise, -1 clockwise, 0 if collinear (exact)."""
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    if detleft > 0.0:
        if detright <= 0.0:
            return 1
        detsum = detleft + detright
    elif detleft < 0.0:
        if detright >= 0.0:
            return -1
        detsum = -detleft - detright
    else:
        return int(detright < 0.0) - int(detright > 0.0)
    bound = _CCW_ERR * detsum
    if det >= bound:
        return 1
    if -det >= bound:
        return -1
    return _orient_exact(ax, ay, bx, by, cx, cy)


def _in_sector(xs, ys, p: int, a: int, n: int, q: int, sign: int = 1) -> bool:
    """Does the direction from corner ``a`` of the ring ``p -> a -> n`` towards point ``q``
    leave ``a`` into its own sector (the inside's wedge at ``a``, on the left of the ring, on
    its right for ``sign = -1``)? Exact; coordinates ``xs[i], ys[i]``."""
    t = sign * _orient(xs[p], ys[p], xs[a], ys[a], xs[n], ys[n])
    left_in = sign * _orient(xs[p], ys[p], xs[a], ys[a], xs[q], ys[q])
    left_out = sign * _orient(xs[a], ys[a], xs[n], ys[n], xs[q], ys[q])
    if t > 0:
        return left_in > 0 and left_out > 0
    if t < 0:
        return left_in > 0 or left_out > 0
    if (xs[p] - xs[a]) * (xs[n] - xs[a]) + (ys[p] - ys[a]) * (ys[n] - ys[a]) < 0:
        return left_in > 0                      # straight through: the left half-plane
    return left_in != 0 or left_out != 0        # a spike: all around but along it


def orient_many(ax, ay, bx, by, cx, cy) -> np.ndarray:
    """Exact orientation of triangles (a, b, c) given by coordinate arrays (broadcast).

    Returns int64 signs: +1 counter-clockwise, -1 clockwise, 0 collinear (exact: a float
    filter, then rational arithmetic where the filter cannot decide).
    """
    ax, ay, bx, by, cx, cy = np.broadcast_arrays(*(np.asarray(t, dtype=np.float64)
                                                  for t in (ax, ay, bx, by, cx, cy)))
    detleft = (ax - cx) * (by - cy)
    detright = (ay - cy) * (bx - cx)
    det = detleft - detright
    out = np.sign(det).astype(np.int64)
    unsure = np.abs(det) < _CCW_ERR * (np.abs(detleft) + np.abs(detright))
    if np.any(unsure):
        for k in zip(*np.nonzero(unsure)):
            out[k] = _orient_exact(ax[k], ay[k], bx[k], by[k], cx[k], cy[k])
    return out


_ICC_ERR = (10.0 + 96.0 * _EPS) * _EPS


def _in_circle(ax, ay, bx, by, cx, cy, dx, dy) -> bool:
    """Is d certainly strictly inside the circle through the counter-clockwise a, b, c?
    (Floating point with Shewchuk's error bound; undecided counts as no.)"""
    adx, ady, bdx, bdy, cdx, cdy = ax - dx, ay - dy, bx - dx, by - dy, cx - dx, cy - dy
    bc, cb = bdx * cdy, cdx * bdy
    ca, ac = cdx * ady, adx * cdy
    ab, ba = adx * bdy, bdx * ady
    alift, blift, clift = adx * adx + ady * ady, bdx * bdx + bdy * bdy, cdx * cdx + cdy * cdy
    det = alift * (bc - cb) + blift * (ca - ac) + clift * (ab - ba)
    permanent = (abs(bc) + abs(cb)) * alift + (abs(ca) + abs(ac)) * blift + (abs(ab) + abs(ba)) * clift
    return det > _ICC_ERR * permanent


# ---------------------------------------------------------------------------------------
# ear clipping
# ---------------------------------------------------------------------------------------
# A polygon is fanned when every corner turns by more than this (sine of the turn angle):
# far above rounding, so the fan's triangles are certainly proper.
_FAN_MIN_SINE = 1e-12
# Below this many candidate points an ear test loops in Python instead of numpy.
_SMALL = 24
# A triangle is a sliver when twice its area is at most this times its longest side squared.
_SLIVER_RATIO = 1e-9
# Bridge targets are tried nearest first; this many are sorted before the others.
_NEAREST = 32


def ear_clip(p2: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Triangulate a simple polygon given in 2-D (either orientation; triangles keep it);
    returns index triples ``idx[i]``.

    Strictly convex polygons are fanned from their first corner. Others are ear-clipped
    with exact predicates: a corner is cut off when it turns strictly towards the inside
    and its triangle holds no other corner (corners on the diagonal count as inside), so
    straight-through corners (collinear runs) are kept as vertices of proper triangles.
    Weakly simple polygons are accepted too: a corner may repeat (a hole joined by a bridge,
    loops touching at a vertex); where a triangle corner has a twin, the diagonal must
    also leave that corner into its own sector. The tip of a zero-width spike (the ring
    turns back along itself) is cut as a flat triangle. If no ear is found (invalid input)
    the rest is fanned.
    """
    n = len(idx)
    if n < 3:
        return np.zeros((0, 3), dtype=np.int64)
    p2 = np.asarray(p2, dtype=np.float64)
    idx = np.asarray(idx, dtype=np.int64)
    e = np.roll(p2, -1, axis=0) - p2
    en = np.roll(e, -1, axis=0)
    turn = e[:, 0] * en[:, 1] - e[:, 1] * en[:, 0]
    area2 = np.sum(p2[:, 0] * np.roll(p2[:, 1], -1) - np.roll(p2[:, 0], -1) * p2[:, 1])
    sign = 1 if area2 >= 0 else -1
    length = np.linalg.norm(e, axis=1)
    if np.all(sign * turn > _FAN_MIN_SINE * length * np.roll(length, -1)):
        return np.stack([np.full(n - 2, idx[0]), idx[1:-1], idx[2:]], axis=1)
    tris = _clip_ears(p2, sign)
    return idx[tris] if len(tris) else np.zeros((0, 3), dtype=np.int64)


def _spike(xs, ys, a: int, b: int, c: int) -> bool:
    """Is ``b`` (on the line through ``a`` and ``c``) the tip of a zero-width spike (a -> b -> c
    turns back along one line)? Ear clipping cuts it as a flat triangle, the only one that
    keeps both its sides as edges."""
    return (xs[b] - xs[a]) * (xs[c] - xs[b]) + (ys[b] - ys[a]) * (ys[c] - ys[b]) < 0


class _PointGrid:
    """Points bucketed in a uniform grid (about 4 a cell, cells row by row) for box queries.

    ``ids`` are the point indices sorted by cell; :meth:`spans` gives the ranges of ``ids``
    in the cells that a box overlaps.
    """

    def __init__(self, p2: np.ndarray, ids: np.ndarray):
        g = self.g = max(1, int(math.sqrt(len(ids) / 4.0)))
        if len(ids):
            self.x0, self.y0 = p2[ids].min(axis=0).tolist()
            self.x1, self.y1 = p2[ids].max(axis=0).tolist()
        else:
            self.x0 = self.y0 = self.x1 = self.y1 = 0.0
        self.w = (self.x1 - self.x0) / g or 1.0
        self.h = (self.y1 - self.y0) / g or 1.0
        cell = (np.clip(((p2[ids, 1] - self.y0) / self.h).astype(np.int64), 0, g - 1) * g
                + np.clip(((p2[ids, 0] - self.x0) / self.w).astype(np.int64), 0, g - 1))
        order = np.argsort(cell, kind="stable")
        self.ids = ids[order]
        self.cell_start = np.searchsorted(cell[order], np.arange(g * g + 1)).tolist()

    def spans(self, xlo: float, xhi: float, ylo: float, yhi: float) -> list[tuple[int, int]]:
        """``(start, end)`` ranges of :attr:`ids` in the rows of cells the box overlaps."""
        if not (xhi >= self.x0 and xlo <= self.x1 and yhi >= self.y0 and ylo <= self.y1):
            return []
        g, x0, y0, w, h, cs = self.g, self.x0, self.y0, self.w, self.h, self.cell_start
        ix0 = min(max(int((xlo - x0) / w), 0), g - 1)
        ix1 = min(max(int((xhi - x0) / w), 0), g - 1)
        return [(cs[r + ix0], cs[r + ix1 + 1])
                for r in range(min(max(int((ylo - y0) / h), 0), g - 1) * g,
                               min(max(int((yhi - y0) / h), 0), g - 1) * g + 1, g)]


def _clip_ears(p2: np.ndarray, sign: int) -> np.ndarray:
    """Ear clipping of the ring ``0 .. n-1`` (see :func:`ear_clip`); local index triples.

    The scan goes round the ring and continues after each cut ear; a round without an ear
    ends it (only on invalid input) and what is left is fanned.
    """
    n = len(p2)
    xs, ys = p2[:, 0].tolist(), p2[:, 1].tolist()
    prv = [n - 1] + list(range(n - 1))
    nxt = list(range(1, n)) + [0]
    ring = np.arange(n)
    pr, nx = np.roll(ring, 1), np.roll(ring, -1)
    turn = (sign * orient_many(p2[pr, 0], p2[pr, 1], p2[:, 0], p2[:, 1], p2[nx, 0], p2[nx, 1])).tolist()
    # corners with a twin at the same point (bridges, touching loops)
    _, inv, cnt = np.unique(p2, axis=0, return_inverse=True, return_counts=True)
    dup_arr = cnt[inv.ravel()] > 1
    dup = dup_arr.tolist()
    # Only corners that do not turn strictly inwards (and twins) can lie in an ear; convex
    # corners stay convex while ears are cut, so this set only shrinks. They are bucketed
    # in a grid for box queries.
    active = (np.asarray(turn) <= 0) | dup_arr
    active_l = active.tolist()
    grid = _PointGrid(p2, np.flatnonzero(active))
    cand = grid.ids
    scale = float(np.abs(p2).max())
    cand_p = p2[cand]
    cand_l = cand.tolist()

    def orient(i, j, k):
        return sign * _orient(xs[i], ys[i], xs[j], ys[j], xs[k], ys[k])

    def blocked(p, a, b, c):
        if p == a or p == b or p == c or not active_l[p]:
            return False
        px, py = xs[p], ys[p]
        if (px == xs[a] and py == ys[a]) or (px == xs[b] and py == ys[b]) or \
                (px == xs[c] and py == ys[c]):
            return False                       # a twin of a corner: see the sector tests
        return orient(a, b, p) >= 0 and orient(b, c, p) >= 0 and orient(c, a, p) >= 0

    def blocker(a, b, c):
        """None if (a, b, c) is an ear; else a corner inside it, or -1 (a sector test)."""
        xa, xb, xc, ya, yb, yc = xs[a], xs[b], xs[c], ys[a], ys[b], ys[c]
        xlo, xhi = min(xa, xb, xc), max(xa, xb, xc)
        ylo, yhi = min(ya, yb, yc), max(ya, yb, yc)
        spans = grid.spans(xlo, xhi, ylo, yhi)
        if spans:
            total = sum(e - s for s, e in spans)
            if total <= _SMALL:
                for s, e in spans:
                    for k in range(s, e):
                        p = cand_l[k]
                        if xlo <= xs[p] <= xhi and ylo <= ys[p] <= yhi and blocked(p, a, b, c):
                            return p
            else:
                ks = np.concatenate([np.arange(s, e) for s, e in spans])
                ks = ks[active[cand[ks]]]
                if len(ks):
                    # drop points certainly outside a side of the triangle: its inward normals
                    # times the point, less the offset, with a margin far above rounding
                    ex = np.array([xb - xa, xc - xb, xa - xc])
                    ey = np.array([yb - ya, yc - yb, ya - yc])
                    N = sign * np.stack([-ey, ex])                  # (2, 3)
                    off = N[0] * np.array([xa, xb, xc]) + N[1] * np.array([ya, yb, yc])
                    tol = 4e-12 * scale * (np.abs(N[0]) + np.abs(N[1]))
                    out = np.any(cand_p[ks] @ N - off < -tol, axis=1)
                    for k in ks[~out].tolist():
                        if blocked(cand_l[k], a, b, c):
                            return cand_l[k]
        if dup[a] and not _in_sector(xs, ys, prv[a], a, nxt[a], c, sign):
            return -1
        if dup[c] and not _in_sector(xs, ys, prv[c], c, nxt[c], a, sign):
            return -1
        return None

    tris = []
    remaining = n
    i = stop = 0
    while remaining > 3:
        a, c = prv[i], nxt[i]
        if (turn[i] > 0 and blocker(a, i, c) is None) or (turn[i] == 0 and _spike(xs, ys, a, i, c)):
            tris.append((a, i, c))
            nxt[a], prv[c] = c, a
            active_l[i] = active[i] = False
            remaining -= 1
            for j in (a, c):
                turn[j] = orient(prv[j], j, nxt[j])
                if turn[j] > 0 and not dup[j]:
                    active_l[j] = active[j] = False
            i = stop = c
            continue
        i = nxt[i]
        if i == stop:
            break                               # no ear in a whole round: invalid polygon
    rest = [i]
    while len(rest) < remaining:
        rest.append(nxt[rest[-1]])
    for k in range(1, len(rest) - 1):           # the last triangle (or a fan of what is left)
        tris.append((rest[0], rest[k], rest[k + 1]))
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def _flip_slivers(V: np.ndarray, tri: np.ndarray, fixed: set) -> np.ndarray:
    """Remove slivers from a triangulation by Delaunay edge flips around them.

    A sliver (twice its area at most :data:`_SLIVER_RATIO` times its longest side squared)
    comes from corners that are collinear but for rounding, e.g. a hole's corner and two
    points on a diagonal of the outer square. Its edges, and those of slivers that flips
    create, are flipped when the opposite vertex is certainly inside the circumcircle and
    both new triangles are certainly counter-clockwise (so each flip raises the
    triangulation's sorted angle vector and the loop ends); edges in ``fixed`` (sorted
    vertex pairs: the boundary) are kept. ``tri`` holds counter-clockwise triangles.
    """
    if not len(tri):
        return tri
    a, b, c = V[tri[:, 0]], V[tri[:, 1]], V[tri[:, 2]]
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    longest = np.maximum(np.maximum(np.sum((b - a) ** 2, axis=1), np.sum((c - b) ** 2, axis=1)),
                         np.sum((a - c) ** 2, axis=1))
    bad = np.flatnonzero(cross <= _SLIVER_RATIO * longest)
    if not len(bad):
        return tri
    xs, ys = V[:, 0].tolist(), V[:, 1].tolist()
    T = tri.tolist()
    owner = {}
    frozen = set()
    for t, (p, q, r) in enumerate(T):
        for e in ((p, q), (q, r), (r, p)):
            if e in owner:                      # the same edge twice on one side: leave it
                frozen.add(e)
            owner[e] = t

    def sliver(p, q, r):
        ux, uy, vx, vy = xs[q] - xs[p], ys[q] - ys[p], xs[r] - xs[p], ys[r] - ys[p]
        wx, wy = vx - ux, vy - uy
        return ux * vy - uy * vx <= _SLIVER_RATIO * max(ux * ux + uy * uy, vx * vx + vy * vy,
                                                        wx * wx + wy * wy)

    def third(t, u, v):
        p, q, r = T[t]
        return r if (p, q) == (u, v) else (p if (q, r) == (u, v) else q)

    stack = []
    for t in bad.tolist():
        p, q, r = T[t]
        stack += [(p, q), (q, r), (r, p)]
    budget = 20 * len(bad) + 100
    while stack and budget:
        u, v = stack.pop()
        if (u, v) in frozen or (v, u) in frozen or ((u, v) if u < v else (v, u)) in fixed:
            continue
        t1, t2 = owner.get((u, v)), owner.get((v, u))
        if t1 is None or t2 is None:
            continue
        w, x = third(t1, u, v), third(t2, v, u)
        if w == x or not _in_circle(xs[u], ys[u], xs[v], ys[v], xs[w], ys[w], xs[x], ys[x]):
            continue
        if _orient(xs[u], ys[u], xs[x], ys[x], xs[w], ys[w]) <= 0 or \
                _orient(xs[x], ys[x], xs[v], ys[v], xs[w], ys[w]) <= 0:
            continue
        budget -= 1
        T[t1], T[t2] = [u, x, w], [x, v, w]
        del owner[(u, v)], owner[(v, u)]
        owner[(u, x)] = owner[(x, w)] = owner[(w, u)] = t1
        owner[(x, v)] = owner[(v, w)] = owner[(w, x)] = t2
        for p, q, r in (T[t1], T[t2]):
            if sliver(p, q, r):
                stack += [(p, q), (q, r), (r, p)]
    return np.asarray(T, dtype=np.int64).reshape(-1, 3)


# ---------------------------------------------------------------------------------------
# regions enclosed by 2-D level curves
# ---------------------------------------------------------------------------------------
def _nearest_first(ids: np.ndarray, x: np.ndarray, y: np.ndarray, px: float, py: float):
    """The ids whose point is lexicographically before (px, py), nearest first (the nearest
    :data:`_NEAREST` sorted at once, the others only if asked for)."""
    left = np.flatnonzero((x < px) | ((x == px) & (y < py)))
    d2 = (x[left] - px) ** 2 + (y[left] - py) ** 2
    if len(left) <= _NEAREST:
        yield from ids[left[np.argsort(d2, kind="stable")]].tolist()
        return
    near = np.argpartition(d2, _NEAREST)[:_NEAREST]
    yield from ids[left[near[np.argsort(d2[near], kind="stable")]]].tolist()
    rest = np.ones(len(left), dtype=bool)
    rest[near] = False
    rest = np.flatnonzero(rest)
    yield from ids[left[rest[np.argsort(d2[rest], kind="stable")]]].tolist()


class CurveRegions:
    """Closed loops of oriented segments (the inside on the left), holes joined to their
    outer loops by bridges: one weakly simple ring per connected component of the inside.

    Nodes are loop corners: node ``k < S`` is the corner at the start of segment ``k``,
    bridges add two twin nodes each. ``nxt``/``prv`` link the nodes of a ring.
    """

    def __init__(self, vertices: np.ndarray, segments: np.ndarray):
        V = np.asarray(vertices, dtype=np.float64)
        seg = np.asarray(segments, dtype=np.int64).reshape(-1, 2)
        self.V = V
        self.xs, self.ys = V[:, 0].tolist(), V[:, 1].tolist()
        seg = seg[seg[:, 0] != seg[:, 1]]        # a zero-length segment bounds nothing
        self.seg = seg
        self._check_closed()
        succ = self._successors()
        self.loops = self._cycles(succ)
        # signed doubled areas, about the centroid (less cancellation)
        o = V[np.unique(seg)].mean(axis=0) if len(seg) else np.zeros(2)
        a, b = V[seg[:, 0]] - o, V[seg[:, 1]] - o
        cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
        self.area2 = np.array([cross[l].sum() for l in self.loops])
        self.kept = [k for k in range(len(self.loops)) if self.area2[k] != 0.0]
        self.vid = seg[:, 0].tolist()
        self.nxt = succ.tolist()
        self.prv = [0] * len(seg)
        for k, t in enumerate(self.nxt):
            self.prv[t] = k
        self.loop_of = [0] * len(seg)
        for li, l in enumerate(self.loops):
            for k in l.tolist():
                self.loop_of[k] = li
        self._bridge()

    # -- loops -------------------------------------------------------------------------
    def _check_closed(self) -> None:
        ends = open_ends(len(self.V), self.seg[:, 0], self.seg[:, 1])
        if ends:
            raise NeuralPolyError(
                f"the level curve is open: {ends} of its curves end where they leave the box, so "
                "it encloses no region to triangulate; extract it with cap=True to close the curves "
                "along the box (or write the curves themselves, e.g. as OBJ line elements)")

    def _successors(self) -> np.ndarray:
        """Next segment of every segment. Where several loops pass through one vertex, each
        incoming segment continues with the first outgoing one clockwise from it (so the
        inside's wedges at the vertex are traced separately and loops do not cross)."""
        seg, V = self.seg, self.V
        S = len(seg)
        out_deg = np.bincount(seg[:, 0], minlength=len(V))
        start_of = np.full(len(V), -1, dtype=np.int64)
        start_of[seg[:, 0]] = np.arange(S)
        succ = start_of[seg[:, 1]]
        pinch = np.flatnonzero(out_deg[seg[:, 1]] > 1)
        if len(pinch):
            order_out = np.argsort(seg[:, 0], kind="stable")
            first_out = np.searchsorted(seg[order_out, 0], np.arange(len(V)))
            by_end: dict[int, list[int]] = {}
            for k in pinch.tolist():
                by_end.setdefault(int(seg[k, 1]), []).append(k)
            two_pi = 2.0 * np.pi
            for v, ins in by_end.items():
                outs = order_out[first_out[v]:first_out[v] + out_deg[v]]
                d_in = V[seg[ins, 0]] - V[v]
                d_out = V[seg[outs, 1]] - V[v]
                a_in = np.arctan2(d_in[:, 1], d_in[:, 0])
                a_out = np.arctan2(d_out[:, 1], d_out[:, 0])
                cw = np.mod(a_in[:, None] - a_out[None, :], two_pi)
                cw[cw <= 0.0] = two_pi
                free = set(range(len(outs)))
                for r, k in enumerate(ins):
                    for j in np.argsort(cw[r], kind="stable").tolist():
                        if j in free:
                            free.discard(j)
                            succ[k] = outs[j]
                            break
        return succ

    @staticmethod
    def _cycles(succ: np.ndarray) -> list[np.ndarray]:
        """The cycles of the successor permutation, by their first segment."""
        nxt = succ.tolist()
        seen = [False] * len(nxt)
        loops = []
        for s in range(len(nxt)):
            if not seen[s]:
                cyc = walk_cycle(nxt, s)
                for t in cyc:
                    seen[t] = True
                loops.append(np.asarray(cyc, dtype=np.int64))
        return loops

    # -- geometry helpers -------------------------------------------------------------
    def _sector_contains(self, node: int, q: int) -> bool:
        """Does the direction from ``node`` towards vertex ``q`` point into the node's
        sector (the inside's wedge between its outgoing and incoming segments)?"""
        return _in_sector(self.xs, self.ys, self.vid[self.prv[node]], self.vid[node],
                          self.vid[self.nxt[node]], q)

    def _visible(self, p: int, c: int, E: np.ndarray) -> bool:
        """Is the open segment p-c free of every edge in ``E`` (no crossing, no vertex on it)?"""
        X, Y = self.xs, self.ys
        px, py, cx, cy = X[p], Y[p], X[c], Y[c]
        ex0, ey0, ex1, ey1 = E[:, 0], E[:, 1], E[:, 2], E[:, 3]
        sel = np.flatnonzero((np.maximum(ex0, ex1) >= min(px, cx)) & (np.minimum(ex0, ex1) <= max(px, cx))
                             & (np.maximum(ey0, ey1) >= min(py, cy)) & (np.minimum(ey0, ey1) <= max(py, cy)))
        if not len(sel):
            return True
        ex0, ey0, ex1, ey1 = ex0[sel], ey0[sel], ex1[sel], ey1[sel]
        o0 = orient_many(px, py, cx, cy, ex0, ey0)
        o1 = orient_many(px, py, cx, cy, ex1, ey1)
        cross = np.flatnonzero(o0 * o1 < 0)
        if len(cross):
            s0 = orient_many(ex0[cross], ey0[cross], ex1[cross], ey1[cross], px, py)
            s1 = orient_many(ex0[cross], ey0[cross], ex1[cross], ey1[cross], cx, cy)
            if np.any(s0 * s1 < 0):
                return False
        dx, dy = cx - px, cy - py
        for o, qx, qy in ((o0, ex0, ey0), (o1, ex1, ey1)):
            on = o == 0                         # on the line: strictly between p and c?
            if np.any(on):
                qx, qy = qx[on], qy[on]
                if np.any(((qx - px) * dx + (qy - py) * dy > 0) & ((qx - cx) * dx + (qy - cy) * dy < 0)):
                    return False
        return True

    # -- bridges ----------------------------------------------------------------------
    def _bridge(self) -> None:
        """Join every hole to the ring of the loop that bounds the same piece of the inside,
        by a bridge from its leftmost vertex to the nearest visible vertex further left
        (lexicographically smaller). Holes go from left to right, so that vertex is on an
        outer loop or on a hole already joined; bridges are obstacles for later ones."""
        V, seg = self.V, self.seg
        kept_seg = np.concatenate([self.loops[k] for k in self.kept]) if self.kept else np.zeros(0, np.int64)
        E = np.concatenate([V[seg[kept_seg, 0]], V[seg[kept_seg, 1]]], axis=1)
        used = np.unique(seg[kept_seg, 0])
        ux, uy = V[used, 0], V[used, 1]
        # each hole joins a node of an outer loop or of a hole joined before it (holes go from
        # left to right, the other end lies further left), so one look-up finds its outer loop
        self.outer_of = {k: k for k in self.kept}
        self.holes_of: dict[int, list[int]] = {k: [] for k in self.kept}
        nodes_at: dict[int, list[int]] = {}
        for k in kept_seg.tolist():
            nodes_at.setdefault(self.vid[k], []).append(k)
        holes = [k for k in self.kept if self.area2[k] < 0]
        lead = {}
        for h in holes:                         # leftmost vertex (lexicographic) of each hole
            vids = seg[self.loops[h], 0]
            j = np.lexsort((V[vids, 1], V[vids, 0]))[0]
            lead[h] = int(vids[j])
        holes.sort(key=lambda h: (self.xs[lead[h]], self.ys[lead[h]]))
        bridges: list[list[float]] = []
        for h in holes:
            p = lead[h]
            px, py = self.xs[p], self.ys[p]
            if bridges:
                E = np.concatenate([E, np.asarray(bridges)], axis=0)
                bridges = []
            p_nodes = [k for k in nodes_at[p] if self.loop_of[k] == h]
            done = False
            for c in _nearest_first(used, ux, uy, px, py):
                if not self._visible(p, c, E):
                    continue
                cn = next((k for k in nodes_at[c] if self._sector_contains(k, p)), None)
                pn = next((k for k in p_nodes if self._sector_contains(k, c)), None)
                if cn is None or pn is None:
                    continue
                a2, b2 = self._split(cn, pn)
                nodes_at[c].append(a2)
                nodes_at[p].append(b2)
                bridges.append([px, py, self.xs[c], self.ys[c]])
                root = self.outer_of[self.loop_of[cn]]
                self.outer_of[h] = root
                self.holes_of[root].append(h)
                done = True
                break
            if not done:
                raise NeuralPolyError(
                    "the level curve does not enclose a bounded region: a clockwise loop (a hole) "
                    f"around ({px:.6g}, {py:.6g}) lies in no counter-clockwise loop (segments must "
                    "have the inside on their left)")

    def _split(self, a: int, b: int) -> tuple[int, int]:
        """Bridge node ``a`` (outer side) and node ``b`` (hole): a -> b ... b2 -> a2 -> a.next."""
        vid, nxt, prv, loop_of = self.vid, self.nxt, self.prv, self.loop_of
        a2, b2 = len(vid), len(vid) + 1
        vid += [vid[a], vid[b]]
        loop_of += [loop_of[a], loop_of[b]]
        an, bp = nxt[a], prv[b]
        nxt += [an, a2]
        prv += [b2, bp]
        nxt[a], prv[b] = b, a
        prv[an] = a2
        nxt[bp] = b2
        return a2, b2

    # -- results ----------------------------------------------------------------------
    def components(self) -> list[list[np.ndarray]]:
        """Per component its outer loop, then its holes; components from left to right."""
        seg, V = self.seg, self.V
        out = []
        for k in self.kept:
            if self.area2[k] > 0:
                out.append([seg[self.loops[k], 0]] + [seg[self.loops[h], 0] for h in self.holes_of[k]])

        def leftmost(comp):
            p = V[comp[0]]
            j = np.lexsort((p[:, 1], p[:, 0]))[0]
            return float(p[j, 0]), float(p[j, 1])
        return sorted(out, key=leftmost)

    def rings(self) -> list[np.ndarray]:
        """Per component, the vertex ids of its ring (outer loop with the holes bridged in)."""
        out = []
        for k in self.kept:
            if self.area2[k] <= 0:
                continue
            ring = walk_cycle(self.nxt, int(self.loops[k][0]))
            out.append(np.asarray([self.vid[t] for t in ring], dtype=np.int64))
        return out

    def triangulate(self) -> np.ndarray:
        V = self.V
        parts = [ear_clip(V[r], r) for r in self.rings()]
        tri = np.concatenate(parts, axis=0) if parts else np.zeros((0, 3), dtype=np.int64)
        fixed = set(map(tuple, np.sort(self.seg, axis=1).tolist()))
        tri = _flip_slivers(V, tri, fixed)
        # the clipping is exact on valid input; check what it cannot guarantee on invalid input
        if len(tri):
            a, b, c = V[tri[:, 0]], V[tri[:, 1]], V[tri[:, 2]]
            o = orient_many(a[:, 0], a[:, 1], b[:, 0], b[:, 1], c[:, 0], c[:, 1])
            area = 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))
            total = 0.5 * float(sum(self.area2[k] for k in self.kept))
            # flat triangles only come from flat input (a spike along a line)
            if np.any(o < 0) or abs(area.sum() - total) > 1e-9 * np.abs(area).sum():
                raise NeuralPolyError(
                    f"could not triangulate the level curve: {int(np.sum(o < 0))} of {len(tri)} "
                    "triangles are inverted; its loops probably cross each other")
        return tri
