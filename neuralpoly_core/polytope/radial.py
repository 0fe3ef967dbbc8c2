"""Radial extraction of the level set f = 1 of a positively homogeneous network.

A bias-free network whose activations are all positively homogeneous (``abs_pow`` with
any p > 0, ``relu``, ``identity``) satisfies ``f(t u) = t**deg f(u)`` for t > 0 with
``deg = net.degree``. Along every ray from the origin the level set f = 1 is therefore
met exactly once, at ``r(u) u`` with ``r(u) = f(u)**(-1/deg)``: the surface is
star-shaped and can be meshed by mapping a mesh of the unit sphere (unit circle in 2-D)
onto it. This works for every p, including the spiky p < 1 and the nearly polyhedral
large-p neural polytopes, where the exact piecewise-linear extraction does not apply.

Every vertex produced here is an exact point ``r(u) u`` of the level set. The mesh is
refined adaptively where it bends (dihedral or turning angle above ``angle_tol_deg``) or
where a flat triangle (segment) strays from the surface by more than ``rel_tol`` times
the shape's size; refinement is conforming, so the 3-D result is a closed, consistently
oriented triangle mesh without T-junctions.
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float, check_int
from ..budget import check_memory
from ..errors import ExtractionError
from ..mesh.polymesh import PolyMesh
from ..network.model import Network
from .icosphere import icosphere
from .slicing import slice_network

# icosphere lives in .icosphere; it stays importable from here (the add-on's presets use this path)
__all__ = ["extract_radial", "radial_function", "icosphere", "check_radial_memory"]

_KEY = np.int64(1) << np.int64(32)     # edge key: min(a, b) * 2**32 + max(a, b)
_ANGLE_GATE = 0.1                      # the angle test needs a deviation above this * rel_tol
_SNAP_KEEP = 0.3                       # a snap may shrink a base triangle to this fraction of its area


# --------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------
def radial_function(net: Network, directions) -> np.ndarray:
    """The radius ``r(u) = f(u)**(-1/deg)`` of the level set f = 1 along unit directions.

    Parameters
    ----------
    net : Network
        A bias-free network with positively homogeneous activations.
    directions : array_like, shape (..., net.dim)
        Unit vectors (they are not normalised here).

    Returns
    -------
    ndarray, shape (...)
        ``r`` such that ``f(r u) = 1``.

    Raises
    ------
    ExtractionError
        If the network is not positively homogeneous, or f is not positive and finite in
        one of the directions (the ray never meets f = 1, or meets it at infinity).
    """
    deg = _homogeneity_degree(net)
    U = np.asarray(directions, dtype=np.float64)
    shape = U.shape[:-1]
    return _radii(net, deg, U.reshape(-1, net.dim)).reshape(shape)


# --------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------
def check_radial_memory(dim: int, width_sum: int, resolution: int) -> None:
    """Refuse a radial extraction whose directions would not fit in the memory budget.

    ``dim``: 2 (a loop of ``resolution`` directions) or 3 and more (an icosphere of
    ``10 resolution**2 + 2``); ``width_sum``: the hidden units of the network. Measured: about
    1.5 kB per direction plus 80 bytes per direction and unit (552 MB at resolution 200 and
    4 units, 1.6 GB at resolution 100 and 200 units).
    """
    n = resolution if dim == 2 else 10 * resolution ** 2 + 2
    check_memory(n * (1500 + 80 * width_sum), f"radial extraction at resolution {resolution} ({n:,} directions)",
                 "lower the resolution (--resolution)")


def extract_radial(net: Network, *, resolution: int = 32, refine: bool = True, max_refine: int = 3,
                   angle_tol_deg: float = 10.0, rel_tol: float = 1e-3, basis=None,
                   snap_features: bool = True) -> PolyMesh:
    """Mesh the star-shaped level set f = 1 of a positively homogeneous network.

    Parameters
    ----------
    net : Network
        Bias-free network whose activations are ``abs_pow`` (any p > 0), ``relu`` or
        ``identity``; f must be positive and finite in every direction.
    resolution : int, default 32
        3-D: subdivisions along each edge of the base icosahedron (the start mesh has
        ``20 resolution**2`` triangles, about ``63.4 / resolution`` degrees apart).
        2-D: number of equally spaced directions around the circle (>= 3).
    refine : bool, default True
        Adaptively refine where the surface bends or the mesh strays from it.
    max_refine : int, default 3
        Most refinement levels: each level halves the edge lengths locally (red
        refinement in 3-D, bisection in 2-D).
    angle_tol_deg : float, default 10
        A triangle is refined when the angle between its normal and a neighbour's exceeds
        this (2-D: a segment, when the polygon turns by more than this at either end),
        unless it already lies within ``rel_tol / 10`` of the surface (so flat faces of
        a polytope that meet at a true edge are left alone).
    rel_tol : float, default 1e-3
        A triangle (segment) is refined when its centroid or an edge midpoint lies
        further than ``rel_tol * size`` from the surface, measured along the ray; ``size``
        is the largest radius of the start mesh (the shape's extent).
    basis : array_like, shape (d, 3) or (d, 2), optional
        Extract the slice ``g(y) = f(basis @ y)`` (required for d > 3, e.g.
        :func:`neuralpoly_core.polytope.slicing.paper_slice_basis`). The mesh is in the slice
        coordinates y and its ``basis`` attribute maps back to R^d.
    snap_features : bool, default True
        Move the nearest start-mesh vertex onto each direction where first-layer
        pre-activations vanish together (3-D: two of them, 2-D: one). For p <= 1 these are
        the tips of the spikes and the vertices of the polytope; with one hidden layer they
        are then sampled exactly.

    Returns
    -------
    PolyMesh
        3-D: closed, outward-oriented triangle mesh. 2-D: one face, the closed
        counter-clockwise loop. Every vertex is ``r(u) u``, so ``f(v) = 1`` to rounding;
        at a vertex snapped onto a feature (where pre-activations vanish) the float
        evaluation of ``|z|**p`` near z = 0 limits this to about ``(1e-16 |v|)**p``
        (1e-10 for p = 0.6).
        ``region_ids`` index ``region_patterns``, the activation pattern at each face's
        centroid direction (2-D: the single face gets -1 and
        ``info["edge_region_ids"]`` lists the region of each loop edge, vertex i to i+1).
        ``info`` also holds ``method`` ('radial'), ``degree``, the parameters,
        ``n_regions``, ``refine_rounds``, ``max_level`` (deepest refinement reached) and
        ``n_snapped`` (feature directions sampled exactly).

    Raises
    ------
    ExtractionError
        If the network has biases or non-homogeneous activations, if d > 3 and no
        ``basis`` is given, if f is not positive and finite in some sampled direction, or
        if the parameters are out of range.
    """
    deg = _homogeneity_degree(net)
    resolution = check_int(resolution, "resolution", 1, error=ExtractionError)
    max_refine = check_int(max_refine, "max_refine", 0, error=ExtractionError)
    angle_tol_deg = check_float(angle_tol_deg, "angle_tol_deg", 0.0, 180.0, lo_open=True, hi_open=True,
                                error=ExtractionError)
    rel_tol = check_float(rel_tol, "rel_tol", 0.0, lo_open=True, error=ExtractionError)
    if not refine:
        max_refine = 0

    g, B = slice_network(net, basis)
    if g.dim == 1:
        raise ExtractionError("a 1-D network's level set f = 1 is two points; there is nothing to mesh")
    check_radial_memory(g.dim, sum(g.widths), resolution)

    params = dict(resolution=resolution, max_refine=max_refine, angle_tol=math.radians(angle_tol_deg),
                  rel_tol=rel_tol, snap=bool(snap_features))
    evaluator = _Evaluator(g, deg, B)
    if g.dim == 2:
        if resolution < 3:
            raise ExtractionError(f"a 2-D loop needs resolution >= 3 directions, got {resolution}")
        mesh = _extract_2d(g, evaluator, **params)
    else:
        mesh = _extract_3d(g, evaluator, **params)
    mesh.basis = B
    mesh.info.update(method="radial", degree=deg, resolution=resolution, max_refine=max_refine,
                     angle_tol_deg=angle_tol_deg, rel_tol=rel_tol)
    return mesh


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
def _homogeneity_degree(net: Network) -> float:
    if not isinstance(net, Network):
        raise ExtractionError(f"expected a neuralpoly Network, got {type(net).__name__}")
    return net.require_homogeneous("radial extraction needs a bias-free network of abs_pow, relu or "
                                   "identity layers; extract a general level set with "
                                   "neuralpoly_core.levelset instead")


# --------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------
def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.6g}" for x in np.asarray(v).ravel()) + ")"


def _radii(net: Network, deg: float, U: np.ndarray, basis=None) -> np.ndarray:
    with np.errstate(all="ignore"):
        f = net.evaluate(U)
    ok = np.isfinite(f) & (f > 0)
    if not np.all(ok):
        i = int(np.argmin(ok))
        where = f"direction u = {_fmt(U[i])}"
        if basis is not None:
            where += f" of the slice (x = {_fmt(basis @ U[i])} in R^{basis.shape[0]})"
        if not np.isfinite(f[i]):
            why = f"f(u) = {f[i]!r} is not finite"
        elif f[i] == 0:
            why = "f(u) = 0, so the ray never reaches f = 1 (the level set is unbounded there)"
        else:
            why = (f"f(u) = {f[i]:.6g} < 0, so the ray never reaches f = 1 (the level set is not "
                   "a star-shaped surface around the origin)")
        raise ExtractionError(f"radial extraction failed in {where}: {why}")
    with np.errstate(all="ignore"):
        r = f ** (-1.0 / deg)
    if not np.all(np.isfinite(r)):
        i = int(np.argmin(np.isfinite(r)))
        raise ExtractionError(f"radial extraction failed in direction u = {_fmt(U[i])}: "
                              f"f(u) = {f[i]!r} gives a radius that overflows")
    return r


class _Evaluator:
    """Radius of the level set along directions, with errors naming the direction."""

    def __init__(self, net: Network, deg: float, basis):
        self.net, self.deg, self.basis = net, deg, basis

    def radius(self, U: np.ndarray) -> np.ndarray:
        return _radii(self.net, self.deg, U, self.basis)

    def deviation(self, X: np.ndarray) -> np.ndarray:
        """Distance from points X to the surface along their rays (0 for X = 0 is not used)."""
        n = np.linalg.norm(X, axis=1)
        return np.abs(self.radius(X / n[:, None]) - n)


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _first_layer_features(net: Network) -> np.ndarray:
    """Unit directions where first-layer pre-activations vanish together."""
    W = net.layers[0].weight
    norms = np.linalg.norm(W, axis=1)
    W = W[norms > 0] / norms[norms > 0, None]
    if net.dim == 2:
        F = np.stack([-W[:, 1], W[:, 0]], axis=1)
    else:
        i, j = np.triu_indices(len(W), k=1)
        C = np.cross(W[i], W[j])
        n = np.linalg.norm(C, axis=1)
        keep = n > 1e-9
        F = C[keep] / n[keep, None]
    return np.concatenate([F, -F]) if len(F) else F.reshape(0, net.dim)


def _region_ids(net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the activation pattern at each point, and the distinct patterns (sorted)."""
    pat = net.activation_pattern(X)
    if len(pat) == 0:
        return np.zeros(0, dtype=np.int64), pat.reshape(0, net.n_neurons)
    packed = np.packbits(pat, axis=1)                     # rows of bytes, same order as bools
    codes = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, ids = np.unique(codes, return_index=True, return_inverse=True)
    return ids.ravel().astype(np.int64), pat[first]


# --------------------------------------------------------------------------------------
# 2-D: a closed loop
# --------------------------------------------------------------------------------------
def _extract_2d(net, ev: _Evaluator, *, resolution, max_refine, angle_tol, rel_tol, snap) -> PolyMesh:
    theta = 2.0 * np.pi * np.arange(resolution) / resolution
    n_features = 0
    if snap:
        F = _first_layer_features(net)
        if len(F):
            phi = np.unique(np.mod(np.arctan2(F[:, 1], F[:, 0]), 2.0 * np.pi))
            # parallel rows give the same direction up to rounding: keep one of each
            gap = np.diff(np.concatenate([[phi[-1] - 2.0 * np.pi], phi]))
            phi = phi[gap > 1e-12] if np.any(gap > 1e-12) else phi[:1]
            # drop the regular samples that a feature direction nearly duplicates
            d = np.abs(np.mod(theta[:, None] - phi[None, :] + np.pi, 2.0 * np.pi) - np.pi)
            theta = np.concatenate([theta[np.all(d > 0.25 * 2.0 * np.pi / resolution, axis=1)], phi])
            theta = np.unique(theta)
            n_features = len(phi)
    U = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    R = ev.radius(U)
    scale = float(np.max(R))
    level = np.zeros(len(U), dtype=np.int64)          # level of the segment i -> i+1
    rounds = 0
    while max_refine > 0:
        P = R[:, None] * U
        Q = np.roll(P, -1, axis=0)
        dev = ev.deviation(0.5 * (P + Q)) / scale
        seg = Q - P
        prev = np.roll(seg, 1, axis=0)                # segment ending at vertex i
        cross = prev[:, 0] * seg[:, 1] - prev[:, 1] * seg[:, 0]
        turn = np.abs(np.arctan2(cross, np.einsum("ij,ij->i", prev, seg)))   # at vertex i
        sharp = turn > angle_tol
        mark = (dev > rel_tol) | ((sharp | np.roll(sharp, -1)) & (dev > _ANGLE_GATE * rel_tol))
        mark &= level < max_refine
        if not np.any(mark):
            break
        rounds += 1
        idx = np.nonzero(mark)[0]
        newU = _unit(P[idx] + Q[idx])
        newR = ev.radius(newU)
        level[idx] += 1
        U = np.insert(U, idx + 1, newU, axis=0)
        R = np.insert(R, idx + 1, newR)
        level = np.insert(level, idx + 1, level[idx])
    V = R[:, None] * U
    n = len(V)
    seg_ids, patterns = _region_ids(net, 0.5 * (V + np.roll(V, -1, axis=0)))
    mesh = PolyMesh(V, np.arange(n), np.array([n]), np.array([-1]), patterns)
    mesh.info.update(edge_region_ids=seg_ids.tolist(), n_regions=int(len(patterns)),
                     refine_rounds=rounds, max_level=int(level.max()), n_snapped=n_features)
    return mesh


# --------------------------------------------------------------------------------------
# 3-D: a red-refined icosphere with green closure
# --------------------------------------------------------------------------------------
def _keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.minimum(a, b) * _KEY + np.maximum(a, b)


def _edge_slot(tris: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Which edge (0: v0v1, 1: v1v2, 2: v2v0) of each triangle is the directed edge a -> b."""
    return np.where(tris[:, 0] == a, 0, np.where(tris[:, 1] == a, 1, 2))


class _EdgeTable:
    """Sorted map from integer edge keys to integers (a midpoint vertex or a triangle id)."""

    def __init__(self, keys=None, values=None):
        if keys is None:
            self.keys = np.zeros(0, dtype=np.int64)
            self.values = np.zeros(0, dtype=np.int64)
        else:
            order = np.argsort(keys)
            self.keys, self.values = keys[order], values[order]

    def get(self, keys: np.ndarray) -> np.ndarray:
        """Values for keys, -1 where absent."""
        if len(self.keys) == 0:
            return np.full(keys.shape, -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, self.values[pos], -1)

    def add(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Insert new keys (absent from the table, unique) keeping the table sorted."""
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
        pos = np.searchsorted(self.keys, keys)
        self.keys = np.insert(self.keys, pos, keys)
        self.values = np.insert(self.values, pos, values)


class _Hierarchy:
    """Leaf triangles of a red-refined sphere mesh, kept 2:1 balanced.

    ``U`` holds unit directions and ``R`` radii (vertices are ``R U``); ``parent`` is the
    edge a midpoint vertex was created on (-1 for start vertices); ``mids`` maps every
    split edge to its midpoint vertex. Leaves are ``tris`` with refinement ``level``.
    Because neighbouring leaves differ by at most one level, a leaf edge carries at most
    one hanging midpoint, and :meth:`closure` makes the mesh conforming by cutting each
    leaf through its hanging midpoints.
    """

    def __init__(self, ev: _Evaluator, U: np.ndarray, tris: np.ndarray):
        self.ev = ev
        self.U = U
        self.R = ev.radius(U)
        self.P = self.R[:, None] * U
        self.parent = -np.ones((len(U), 2), dtype=np.int64)
        self.tris = tris
        self.level = np.zeros(len(tris), dtype=np.int64)
        self.dirty = np.ones(len(tris), dtype=bool)     # leaves to (re)assess
        self.mids = _EdgeTable()
        self._leaf_mids: np.ndarray | None = None

    def leaf_mids(self) -> np.ndarray:
        """(T, 3) hanging midpoint on edges ab, bc, ca of each leaf, -1 where none."""
        m = self._leaf_mids
        if m is None:
            t = self.tris
            m = np.stack([self.mids.get(_keys(t[:, 0], t[:, 1])), self.mids.get(_keys(t[:, 1], t[:, 2])),
                          self.mids.get(_keys(t[:, 2], t[:, 0]))], axis=1)
            self._leaf_mids = m
        return m

    def closure(self) -> tuple[np.ndarray, np.ndarray]:
        """Conforming triangles covering the leaves, and the leaf each one belongs to.

        A leaf with one hanging midpoint is cut in 2, with two in 3 (the quadrilateral
        part along its shorter diagonal), with three in 4; orientation is kept.
        """
        t = self.tris
        m = self.leaf_mids()
        split = m >= 0
        cnt = split.sum(axis=1)
        out, owner = [], []

        def rotated(sel, k):
            r = (k[:, None] + np.arange(3)[None, :]) % 3
            rows = sel[:, None]
            return t[rows, r], m[rows, r]

        s0 = np.nonzero(cnt == 0)[0]
        out.append(t[s0])
        owner.append(s0)

        s1 = np.nonzero(cnt == 1)[0]
        if len(s1):
            v, mm = rotated(s1, np.argmax(split[s1], axis=1))           # split edge -> ab
            A, Bv, C, M0 = v[:, 0], v[:, 1], v[:, 2], mm[:, 0]
            out += [np.stack([A, M0, C], 1), np.stack([M0, Bv, C], 1)]
            owner += [s1, s1]

        s2 = np.nonzero(cnt == 2)[0]
        if len(s2):
            v, mm = rotated(s2, (np.argmin(split[s2], axis=1) + 1) % 3)  # unsplit edge -> ca
            A, Bv, C, M0, M1 = v[:, 0], v[:, 1], v[:, 2], mm[:, 0], mm[:, 1]
            P = self.P
            use_a = (np.linalg.norm(P[A] - P[M1], axis=1) <= np.linalg.norm(P[M0] - P[C], axis=1))[:, None]
            t1 = np.where(use_a, np.stack([A, M0, M1], 1), np.stack([A, M0, C], 1))
            t2 = np.where(use_a, np.stack([A, M1, C], 1), np.stack([M0, M1, C], 1))
            out += [np.stack([M0, Bv, M1], 1), t1, t2]
            owner += [s2, s2, s2]

        s3 = np.nonzero(cnt == 3)[0]
        if len(s3):
            A, Bv, C = t[s3, 0], t[s3, 1], t[s3, 2]
            M0, M1, M2 = m[s3, 0], m[s3, 1], m[s3, 2]
            out += [np.stack([A, M0, M2], 1), np.stack([M0, Bv, M1], 1),
                    np.stack([M2, M1, C], 1), np.stack([M0, M1, M2], 1)]
            owner += [s3] * 4
        return np.concatenate(out), np.concatenate(owner)

    def balance(self, mark: np.ndarray) -> np.ndarray:
        """Add the leaves that must be refined along with ``mark`` to keep the 2:1 balance.

        Refining a leaf splits the halves of its parent's edges; a coarser leaf across
        such a parent edge would then carry two levels of hanging nodes, so it is refined
        too (and so on, until nothing changes). Such a coarser leaf has the parent edge,
        which is split, among its edges: it is found among the leaves with hanging nodes.
        """
        mark = mark.copy()
        t = self.tris
        m = self.leaf_mids()
        leaf, side = np.nonzero(m >= 0)
        a = t[leaf, side]
        b = t[leaf, (side + 1) % 3]
        hanging = _EdgeTable(_keys(a, b), leaf)
        frontier = np.nonzero(mark)[0]
        while len(frontier) and len(hanging.keys):
            ft = t[frontier]
            a = ft.ravel()
            b = ft[:, [1, 2, 0]].ravel()
            pa, pb = self.parent[a], self.parent[b]
            hit_a = (pa[:, 0] == b) | (pa[:, 1] == b)
            hit_b = (pb[:, 0] == a) | (pb[:, 1] == a)
            par = np.where(hit_a[:, None], pa, pb)[hit_a | hit_b]
            nb = hanging.get(_keys(par[:, 0], par[:, 1]))
            nb = np.unique(nb[nb >= 0])
            nb = nb[~mark[nb]]
            mark[nb] = True
            frontier = nb
        return mark

    def refine(self, mark: np.ndarray) -> None:
        """Red-refine the marked leaves (each into 4), creating the missing edge midpoints.

        A new midpoint is the surface point on the ray through the midpoint of the
        edge's chord, so edges are halved on the surface, not on the sphere.
        """
        idx = np.nonzero(mark)[0]
        T = self.tris[idx]
        a, b, c = T[:, 0], T[:, 1], T[:, 2]
        E = np.stack([np.stack([a, b], 1), np.stack([b, c], 1), np.stack([c, a], 1)], axis=1)  # (n,3,2)
        keys = _keys(E[..., 0], E[..., 1])
        mids = self.mids.get(keys)
        missing = mids < 0
        if np.any(missing):
            new_keys, first = np.unique(keys[missing], return_index=True)
            ends = E[missing][first]                                      # (k, 2)
            P = self.P
            newU = _unit(P[ends[:, 0]] + P[ends[:, 1]])
            newR = self.ev.radius(newU)
            new_ids = len(self.U) + np.arange(len(new_keys))
            self.U = np.concatenate([self.U, newU])
            self.R = np.concatenate([self.R, newR])
            self.P = np.concatenate([self.P, newR[:, None] * newU])
            self.parent = np.concatenate([self.parent, np.sort(ends, axis=1)])
            self.mids.add(new_keys, new_ids)
            mids = self.mids.get(keys)
        m0, m1, m2 = mids[:, 0], mids[:, 1], mids[:, 2]
        children = np.concatenate([np.stack([a, m0, m2], 1), np.stack([m0, b, m1], 1),
                                   np.stack([m2, m1, c], 1), np.stack([m0, m1, m2], 1)])
        keep = ~mark
        # leaves whose neighbourhood changed: they share a corner with a refined leaf
        touched = np.zeros(len(self.U), dtype=bool)
        touched[T.ravel()] = True
        kept = self.tris[keep]
        self.dirty = np.concatenate([np.any(touched[kept], axis=1), np.ones(len(children), dtype=bool)])
        self.tris = np.concatenate([kept, children])
        self.level = np.concatenate([self.level[keep], np.tile(self.level[idx] + 1, 4)])
        self._leaf_mids = None

    def assess(self, candidates: np.ndarray, scale: float, angle_tol: float, rel_tol: float) -> np.ndarray:
        """Candidate leaves whose conforming triangles stray from the surface or bend sharply.

        A conforming triangle is bad when its centroid or an edge midpoint lies further
        than ``rel_tol * scale`` from the surface (along the ray), or when its normal and a
        neighbour's differ by more than ``angle_tol`` while it is not exactly flat on the
        surface. Only triangles of candidate leaves (and their neighbours, for normals)
        are looked at.
        """
        mark = np.zeros(len(self.tris), dtype=bool)
        ct, owner = self.closure()
        cand = candidates[owner]
        if not np.any(cand):
            return mark
        # triangles sharing a vertex with a candidate: all neighbours across its edges
        touch = np.zeros(len(self.U), dtype=bool)
        touch[ct[cand].ravel()] = True
        near = np.nonzero(np.any(touch[ct], axis=1))[0]
        sub = ct[near]
        is_cand = cand[near]
        P = self.P
        normals = np.cross(P[sub[:, 1]] - P[sub[:, 0]], P[sub[:, 2]] - P[sub[:, 0]])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
        src, dst = sub.ravel(), sub[:, [1, 2, 0]].ravel()
        directed = _EdgeTable(src * _KEY + dst, np.repeat(np.arange(len(sub)), 3))

        ci = np.nonzero(is_cand)[0]
        n = len(ci)
        c_src, c_dst = sub[ci].ravel(), sub[ci][:, [1, 2, 0]].ravel()
        opp = directed.get(c_dst * _KEY + c_src)          # neighbour across each candidate edge
        c_face = np.repeat(np.arange(n), 3)
        cosang = np.einsum("ij,ij->i", normals[ci][c_face], normals[opp])
        sharp = (cosang < math.cos(angle_tol)).reshape(n, 3).any(axis=1)

        # deviation at centroids and at edge midpoints (an edge between two candidates once)
        once = (c_src < c_dst) | ~is_cand[opp]
        pts = np.concatenate([P[sub[ci]].mean(axis=1), 0.5 * (P[c_src[once]] + P[c_dst[once]])])
        d = self.ev.deviation(pts) / scale
        dev = d[:n]
        edge_dev = np.zeros(3 * n)
        edge_dev[once] = d[n:]
        # the other copy of a shared edge: the opposite face's slot, found via the table
        pos_in_cand = np.full(len(sub), -1, dtype=np.int64)
        pos_in_cand[ci] = np.arange(n)
        twin = ~once
        twin_face = pos_in_cand[opp[twin]]
        twin_slot = _edge_slot(sub[ci[twin_face]], c_dst[twin], c_src[twin])
        edge_dev[twin] = edge_dev[3 * twin_face + twin_slot]
        dev = np.maximum(dev, edge_dev.reshape(n, 3).max(axis=1))
        bad = (dev > rel_tol) | (sharp & (dev > _ANGLE_GATE * rel_tol))
        mark[owner[near[ci[bad]]]] = True
        return mark


def _snap_3d(U: np.ndarray, tris: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, int]:
    """Move the nearest vertex onto each feature direction where that keeps triangles sound."""
    if len(F) == 0:
        return U, 0
    nearest = np.empty(len(F), dtype=np.int64)
    cos = np.empty(len(F))
    chunk = max(1, 4_000_000 // len(U))
    for s in range(0, len(F), chunk):
        d = F[s:s + chunk] @ U.T
        nearest[s:s + chunk] = np.argmax(d, axis=1)
        cos[s:s + chunk] = d[np.arange(len(d)), nearest[s:s + chunk]]
    # one feature per vertex: the closest one
    order = np.lexsort((-cos, nearest))
    first = np.ones(len(order), dtype=bool)
    first[1:] = nearest[order][1:] != nearest[order][:-1]
    pick = order[first]
    verts = nearest[pick]
    target = F[pick]
    det0 = np.einsum("ij,ij->i", U[tris[:, 0]], np.cross(U[tris[:, 1]], U[tris[:, 2]]))
    active = np.ones(len(verts), dtype=bool)
    for _ in range(len(verts) + 1):
        V = U.copy()
        V[verts[active]] = target[active]
        det = np.einsum("ij,ij->i", V[tris[:, 0]], np.cross(V[tris[:, 1]], V[tris[:, 2]]))
        bad = det < _SNAP_KEEP * det0
        if not np.any(bad):
            return V, int(active.sum())
        bad_verts = np.unique(tris[bad])
        active &= ~np.isin(verts, bad_verts)
    return U, 0


def _extract_3d(net, ev: _Evaluator, *, resolution, max_refine, angle_tol, rel_tol, snap) -> PolyMesh:
    U, tris = icosphere(resolution)
    n_snapped = 0
    if snap:
        U, n_snapped = _snap_3d(U, tris, _first_layer_features(net))
    h = _Hierarchy(ev, U, tris)
    scale = float(np.max(h.R))
    rounds = 0
    # each round refines every marked leaf once; only leaves whose neighbourhood changed
    # are looked at again. Every round raises some levels, so the loop ends.
    while max_refine > 0:
        mark = h.assess(h.dirty & (h.level < max_refine), scale, angle_tol, rel_tol)
        if not np.any(mark):
            break
        h.refine(h.balance(mark))
        rounds += 1
    ct, _ = h.closure()
    V = h.P
    region_ids, patterns = _region_ids(net, (V[ct[:, 0]] + V[ct[:, 1]] + V[ct[:, 2]]) / 3.0)
    mesh = PolyMesh(V, ct.ravel(), np.full(len(ct), 3), region_ids, patterns)
    mesh.info.update(n_regions=int(len(patterns)), refine_rounds=rounds, max_level=int(h.level.max()),
                     n_snapped=n_snapped)
    return mesh
