"""Exact extraction of the level set f = 1 of bias-free piecewise-linear networks.

A bias-free network whose activations are all piecewise linear (``relu``, ``identity``,
``abs_pow`` with p = 1) computes a continuous, piecewise-linear function that is positively
homogeneous of degree 1. Its linear regions are polyhedral cones through the origin, so
where f > 0 on every direction the level set f = 1 is a star-shaped polytope (convex for one
hidden layer, possibly non-convex for deeper types such as (n,2;1)), and it can be
extracted exactly, with no sampling:

1. Take the boundary of the cube [-1, 1]^3 (the square [-1, 1]^2 in 2-D) as a cell complex.
2. Process the neurons in layer order, one at a time. Once all earlier layers have been
   processed, every cell lies in one linear region of those layers, so the neuron's
   pre-activation is affine on every cell: split each edge whose endpoints have strictly
   opposite signs at the (exactly interpolated) zero, and split each cell that has both
   signs into two convex cells along its zero vertices.
3. Every cell now lies in one linear region, where f(x) = g . x. Map each vertex v to
   v / f(v): the cell becomes a planar polygon on the plane g . x = 1.
4. Merge adjacent cells with the same g into faces (boundary tracing of their union),
   drop the vertices that are no longer corners, and check the result is a closed
   manifold of Euler characteristic 2.

Tolerance policy (one rule everywhere): a pre-activation value ``z_j(v)`` at a complex
vertex counts as zero when ``|z_j(v)| <= tol * max_w |z_j(w)|``, the maximum taken over all
current complex vertices. Vertices lying on a hyperplane, duplicate or parallel neurons and
dead neurons therefore create no new vertices and no slivers. Adjacent cells are coplanar
when their gradients differ by at most ``max(100 tol, 1e-12)`` relative to their length;
final vertices closer than ``tol`` times the polytope's radius are merged. f counts as
positive where ``f > max(tol, 1e-10) * max|f|`` on the cube surface.

Only numpy is used, so the Blender add-on can run this inside Blender.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from .._checks import check_float
from ..budget import check_memory
from ..errors import ExtractionError
from ..mesh.polymesh import PolyMesh
from ..mesh.graph import connected_components, trace_loop
from ..mesh.topology import drop_unused_vertices, flatten_faces, remove_straight_vertices
from ..network.model import Network
from .slicing import slice_network

__all__ = ["extract_polytope_exact", "max_level_error", "exact_extraction_issue", "check_exact_memory"]

#: f at least this fraction of max |f| on the cube surface counts as positive.
POSITIVE_FLOOR = 1e-10
#: Every returned vertex satisfies |f(v) - 1| <= this.
LEVEL_GUARANTEE = 1e-9


# ---------------------------------------------------------------------------------------
# Which networks qualify
# ---------------------------------------------------------------------------------------

def exact_extraction_issue(net: Network) -> str | None:
    """Why ``net`` cannot be extracted exactly, or None when it can.

    Exact extraction needs every activation piecewise linear (``relu``, ``identity``,
    ``abs_pow`` with p = 1) and no biases (layers or output head), so that f is
    piecewise linear and positively homogeneous of degree 1. The dimension is not checked
    here (see :func:`extract_polytope_exact`).

    Parameters
    ----------
    net : Network
        The network to check.

    Returns
    -------
    str or None
        A message naming the offending layer, or None.
    """
    issue = net.piecewise_linear_issue("use the radial/marching extraction for other activations")
    if issue is not None:
        return issue
    return net.homogeneity_issue("exact extraction needs a bias-free network; use the "
                                 "box level-set extraction for biased networks")


# ---------------------------------------------------------------------------------------
# Network helpers on bias-free piecewise-linear networks
# ---------------------------------------------------------------------------------------

def _preactivations_of_layer(layers, X: np.ndarray, index: int) -> np.ndarray:
    """Pre-activations of layer ``index`` at points X (bias-free layers)."""
    h = X
    for layer in layers[:index]:
        h = layer.activation(h @ layer.weight.T)
    return h @ layers[index].weight.T


def _region_gradients(net: Network, signs: np.ndarray) -> np.ndarray:
    """Gradient of f on each region given by its per-neuron signs.

    Parameters
    ----------
    net : Network
        Bias-free, piecewise-linear network of input dimension d.
    signs : (C, N) int8
        Sign (-1, 0, +1) of every neuron's pre-activation inside each cell; 0 means the
        pre-activation vanishes on the whole cell (its derivative is then irrelevant).

    Returns
    -------
    (C, d) float64
        f(x) = g . x on the cone of each cell.
    """
    uniq, inverse = np.unique(signs, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    r = len(uniq)
    jac = np.broadcast_to(np.eye(net.dim), (r, net.dim, net.dim))
    offset = 0
    for layer in net.layers:
        n = layer.width
        jz = np.einsum("ij,rjk->rik", layer.weight, jac)
        s = uniq[:, offset:offset + n].astype(np.float64)
        # the signs stand for the pre-activations: the slope is the derivative at them
        act = layer.activation
        jac = act.derivative(s)[:, :, None] * jz if act.kinked else jz
        offset += n
    if net.output.name == "sum":
        grads = jac.sum(axis=1)
    else:
        w = net.output.weight
        assert w is not None                      # a 'linear' head always has a weight
        grads = np.swapaxes(jac, 1, 2) @ w[0]
    return grads[inverse]


# ---------------------------------------------------------------------------------------
# Sign classification (the tolerance policy)
# ---------------------------------------------------------------------------------------

def _classify(z: np.ndarray, tol: float) -> np.ndarray | None:
    """Signs of z with |z| <= tol * max|z| counted as 0; None for an all-zero neuron."""
    amax = float(np.abs(z).max()) if len(z) else 0.0
    if amax == 0.0:
        return None
    thr = tol * amax
    s = np.zeros(len(z), dtype=np.int8)
    s[z > thr] = 1
    s[z < -thr] = -1
    return s


# ---------------------------------------------------------------------------------------
# 3-D: subdivision of the cube surface
# ---------------------------------------------------------------------------------------

def _cube_surface():
    """Vertices (8, 3) and the 6 square faces of [-1, 1]^3, counter-clockwise from outside."""
    verts = np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])

    def index(p):
        return int(4 * (p[0] > 0) + 2 * (p[1] > 0) + (p[2] > 0))

    faces = []
    for a in range(3):
        b, c = (a + 1) % 3, (a + 2) % 3      # e_b x e_c = e_a
        for sg in (1.0, -1.0):
            loop = []
            for u, w in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                p = [0.0, 0.0, 0.0]
                p[a], p[b], p[c] = sg, u, w
                loop.append(index(p))
            faces.append(loop if sg > 0 else loop[::-1])
    return verts, faces


def _split_cycle(cyc: list[int], sl: list[int], new_id: dict, nv: int):
    """Split a convex cell with both signs into its + and - pieces (vertex cycles)."""
    aug: list[int] = []
    sa: list[int] = []
    m = len(cyc)
    for i in range(m):
        u = cyc[i]
        su = sl[u]
        aug.append(u)
        sa.append(su)
        w = cyc[i + 1] if i + 1 < m else cyc[0]
        if su * sl[w] < 0:
            aug.append(new_id[u * nv + w if u < w else w * nv + u])
            sa.append(0)
    n = len(aug)
    start = 0
    for i in range(n):
        if sa[i] > 0 and sa[i - 1] <= 0:
            start = i
            break
    aug = aug[start:] + aug[:start]
    sa = sa[start:] + sa[:start]
    i1 = sa.index(-1)
    p = i1 - 1
    while sa[p] <= 0:
        p -= 1
    q = n - 1
    while sa[q] >= 0:
        q -= 1
    if 1 in sa[i1:q + 1]:
        return None  # more than one +/- transition: not an affine function on a convex cell
    a, b = p + 1, q + 1
    return aug[b:] + aug[:a + 1], aug[a:b + 1]


def _subdivide_3d(net: Network, tol: float):
    """Cube-surface complex refined until every cell lies in one linear region.

    Returns vertices (V, 3), faces (list of vertex cycles, counter-clockwise from
    outside) and signs (F, N) int8 of every neuron on every face.
    """
    V, faces = _cube_surface()
    n_neurons = net.n_neurons
    S = np.zeros((len(faces), n_neurons), dtype=np.int8)
    k = 0
    for li, layer in enumerate(net.layers):
        Z = _preactivations_of_layer(net.layers, V, li)
        for j in range(layer.width):
            nv = len(V)
            s = _classify(Z[:, j], tol)
            if s is None:                         # dead neuron: zero everywhere
                S[:, k] = 0
                k += 1
                continue
            flat, sizes, starts, nxt = flatten_faces(faces)
            sf = s[flat]
            fmax = np.maximum.reduceat(sf, starts)
            fmin = np.minimum.reduceat(sf, starts)
            S[:, k] = np.where(fmax > 0, 1, fmin)
            split = np.flatnonzero((fmax > 0) & (fmin < 0))
            if split.size:
                z = Z[:, j]
                w = flat[nxt]
                cross = (sf.astype(np.int16) * s[w]) < 0
                lo = np.minimum(flat[cross], w[cross])
                hi = np.maximum(flat[cross], w[cross])
                keys = np.unique(lo * nv + hi)
                a, b = keys // nv, keys % nv
                t = (z[a] / (z[a] - z[b]))[:, None]
                Vn = V[a] + t * (V[b] - V[a])
                Zn = Z[a] + t * (Z[b] - Z[a])
                Zn[:, j] = 0.0
                new_id = dict(zip(keys.tolist(), range(nv, nv + len(keys))))
                V = np.concatenate([V, Vn])
                Z = np.concatenate([Z, Zn])
                sl = s.tolist()
                sl.extend([0] * len(keys))
                for fi in split.tolist():
                    pieces = _split_cycle(faces[fi], sl, new_id, nv)
                    if pieces is None:
                        raise ExtractionError(
                            f"inconsistent signs of neuron {j} of layer {li} on one cell (numerical "
                            f"trouble); try a larger tol than {tol:g}")
                    faces[fi] = pieces[0]
                    faces.append(pieces[1])
                minus = S[split]
                minus[:, k] = -1
                S[split, k] = 1
                S = np.concatenate([S, minus])
            k += 1
    return V, faces, S


def _near_duplicate_groups(P: np.ndarray, dist: float) -> np.ndarray:
    """Representative index for every point; points within ``dist`` share one."""
    n = len(P)
    rep = np.arange(n)
    if n < 2 or dist <= 0:
        return rep
    order = np.argsort(P[:, 0], kind="stable")
    xs = P[order, 0]
    pairs_a, pairs_b = [], []
    k = 1
    while k < n:
        close_x = xs[k:] - xs[:-k] <= dist
        if not close_x.any():
            break
        ia, ib = order[:-k][close_x], order[k:][close_x]
        near = np.linalg.norm(P[ia] - P[ib], axis=1) <= dist
        pairs_a.append(ia[near])
        pairs_b.append(ib[near])
        k += 1
    if not pairs_a:
        return rep
    return connected_components(n, np.concatenate(pairs_a), np.concatenate(pairs_b))


def _direction_text(v: np.ndarray, basis) -> str:
    u = v if basis is None else v @ np.asarray(basis).T
    u = u / np.linalg.norm(u)
    where = "" if basis is None else " of the input space"
    return "(" + ", ".join(f"{c:.4g}" for c in u) + ")" + where


def _check_positive(f: np.ndarray, V: np.ndarray, tol: float, basis) -> None:
    """Raise unless f > max(tol, POSITIVE_FLOOR) * max|f| at every complex vertex.

    f is linear on every cell, so its minimum over the cube surface is at a vertex. Values
    below the floor are zero up to rounding (and would put the level set ~1e10 times
    farther out than elsewhere, with no accuracy left).
    """
    fmax = float(np.max(np.abs(f))) if len(f) else 0.0
    i = int(np.argmin(f))
    if not np.all(np.isfinite(f)) or fmax == 0.0 or f[i] <= max(tol, POSITIVE_FLOOR) * fmax:
        raise ExtractionError(
            f"f is not positive in direction {_direction_text(V[i], basis)} (f = {f[i]:.3g} "
            f"there, max |f| = {fmax:.3g} on the cube surface), the level set f = 1 is not "
            "star-shaped/closed")


def _check_level(net: Network, P: np.ndarray, basis) -> None:
    """Final guard: every vertex on the level set to 1e-9."""
    err = np.abs(net.evaluate(P) - 1.0)
    i = int(np.argmax(err))
    if not err[i] <= LEVEL_GUARANTEE:
        raise ExtractionError(
            f"the vertex in direction {_direction_text(P[i], basis)} has |f - 1| = {err[i]:.3g}: "
            "f is nearly zero or ill-conditioned there, so the level set cannot be extracted "
            "accurately")


def _assemble_3d(net: Network, V, faces, S, tol: float, basis) -> PolyMesh:
    f = net.evaluate(V)
    _check_positive(f, V, tol, basis)
    P = V / f[:, None]
    _check_level(net, P, basis)
    nv = len(V)
    nf = len(faces)
    flat, sizes, starts, nxt = flatten_faces(faces)
    succ = flat[nxt]
    face_of = np.repeat(np.arange(nf), sizes)

    # twin of every directed edge
    key = flat * nv + succ
    order = np.argsort(key)
    skey = key[order]
    twin_key = succ * nv + flat
    pos = np.searchsorted(skey, twin_key)
    pos[pos >= len(skey)] = 0
    if not np.array_equal(skey[pos], twin_key):
        raise ExtractionError("internal error: the subdivided cube surface is not a closed complex")
    twin_face = face_of[order[pos]]

    # merge adjacent cells on the same plane g . x = 1
    G = _region_gradients(net, S)
    gnorm = np.linalg.norm(G, axis=1)
    ctol = max(100.0 * tol, 1e-12)
    diff = np.linalg.norm(G[face_of] - G[twin_face], axis=1)
    same = diff <= ctol * np.maximum(gnorm[face_of], gnorm[twin_face])
    comp = np.unique(connected_components(nf, face_of[same], twin_face[same]),
                     return_inverse=True)[1].ravel()
    n_comp = int(comp.max()) + 1

    # area of every cell on the polytope (Newell), to pick each face's largest cell
    cr = np.cross(P[flat], P[succ])
    vec_area = np.zeros((nf, 3))
    np.add.at(vec_area, face_of, cr)
    area = 0.5 * np.linalg.norm(vec_area, axis=1)

    comp_size = np.bincount(comp, minlength=n_comp)
    by_comp = np.lexsort((-area, comp))           # cells grouped by component, largest first
    first = np.zeros(n_comp, dtype=np.intp)
    np.cumsum(comp_size[:-1], out=first[1:])
    largest = by_comp[first]

    boundary = comp[face_of] != comp[twin_face]
    b_idx = np.flatnonzero(boundary & (comp_size[comp[face_of]] > 1))
    b_comp = comp[face_of[b_idx]]
    b_order = np.argsort(b_comp, kind="stable")
    b_idx, b_comp = b_idx[b_order], b_comp[b_order]
    b_split = np.flatnonzero(np.diff(b_comp)) + 1
    b_groups = dict(zip(b_comp[np.r_[0, b_split]].tolist() if len(b_comp) else [],
                        np.split(b_idx, b_split) if len(b_comp) else []))

    out_faces: list[list[int]] = []
    out_cell: list[int] = []
    n_not_disc = 0
    for c in range(n_comp):
        if comp_size[c] == 1:
            cell = int(largest[c])
            out_faces.append(faces[cell])
            out_cell.append(cell)
            continue
        idx = b_groups[c]
        loop = trace_loop(flat[idx].tolist(), succ[idx].tolist())
        if loop is not None:
            out_faces.append(loop)
            out_cell.append(int(largest[c]))
        else:                                    # not a simple disc: keep its cells
            n_not_disc += 1
            cells = by_comp[first[c]:first[c] + comp_size[c]]
            for cell in cells.tolist():
                out_faces.append(faces[cell])
                out_cell.append(cell)

    out_faces, kept = remove_straight_vertices(P, out_faces)
    out_cell = [out_cell[i] for i in kept.tolist()]
    out_faces, kept = _merge_duplicates(P, out_faces, tol)
    out_cell = [out_cell[i] for i in kept]

    patterns = S[np.asarray(out_cell)] > 0
    region_patterns, region_ids = np.unique(patterns, axis=0, return_inverse=True)
    P, out_faces = drop_unused_vertices(P, out_faces)
    mesh = PolyMesh.from_faces(P, out_faces, np.asarray(region_ids).ravel(), region_patterns=region_patterns,
                               basis=basis)
    mesh.info.update({"method": "exact", "tol": tol, "n_cells": nf,
                      "n_regions": int(len(region_patterns)), "non_disc_unions": n_not_disc})
    if not mesh.is_closed_manifold() or mesh.euler_characteristic != 2:
        raise ExtractionError(
            f"internal error: the exact mesh is not a closed sphere-like manifold "
            f"(f-vector {mesh.f_vector}, Euler characteristic {mesh.euler_characteristic}); "
            f"try a larger tol than {tol:g}")
    return mesh


def _merge_duplicates(P: np.ndarray, faces: list, tol: float) -> tuple[list, list[int]]:
    """Merge vertices closer than tol * (mesh radius); drop repeated corners and faces that
    collapse. Returns the faces and the index of the input face each comes from."""
    flat = np.fromiter(chain.from_iterable(faces), dtype=np.intp)
    used = np.unique(flat)
    radius = float(np.linalg.norm(P[used], axis=1).max())
    rep_used = _near_duplicate_groups(P[used], tol * radius)
    if np.array_equal(rep_used, np.arange(len(used))):
        return faces, list(range(len(faces)))
    rep = np.arange(len(P))
    rep[used] = used[rep_used]
    out, kept = [], []
    for i, fc in enumerate(faces):
        r = [int(rep[v]) for v in fc]
        dedup = [v for j, v in enumerate(r) if v != r[j - 1]]
        if len(dedup) >= 3:
            out.append(dedup)
            kept.append(i)
    return out, kept


# ---------------------------------------------------------------------------------------
# 2-D: subdivision of the square boundary
# ---------------------------------------------------------------------------------------

def _extract_2d(net: Network, tol: float, basis) -> PolyMesh:
    V = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    loop = np.arange(4)
    S = np.zeros((4, net.n_neurons), dtype=np.int8)   # row i: edge loop[i] -> loop[i+1]
    k = 0
    for li, layer in enumerate(net.layers):
        Z = _preactivations_of_layer(net.layers, V, li)
        for j in range(layer.width):
            s = _classify(Z[:, j], tol)
            if s is None:
                S[:, k] = 0
                k += 1
                continue
            su, sw = s[loop], s[np.roll(loop, -1)]
            S[:, k] = np.where(su != 0, su, sw)
            cross = np.flatnonzero(su.astype(np.int16) * sw < 0)
            if len(cross):
                a, b = loop[cross], np.roll(loop, -1)[cross]
                z = Z[:, j]
                t = (z[a] / (z[a] - z[b]))[:, None]
                Vn = V[a] + t * (V[b] - V[a])
                Zn = Z[a] + t * (Z[b] - Z[a])
                Zn[:, j] = 0.0
                new = np.arange(len(V), len(V) + len(cross))
                V = np.concatenate([V, Vn])
                Z = np.concatenate([Z, Zn])
                S_second = S[cross].copy()
                S_second[:, k] = sw[cross]
                S[cross, k] = su[cross]
                loop = np.insert(loop, cross + 1, new)
                S = np.insert(S, cross + 1, S_second, axis=0)
            k += 1
    f = net.evaluate(V)
    _check_positive(f, V, tol, basis)
    P = V / f[:, None]
    _check_level(net, P, basis)
    G = _region_gradients(net, S)
    gnorm = np.linalg.norm(G, axis=1)
    Gp = np.roll(G, 1, axis=0)                       # edge ending at loop[i]
    ctol = max(100.0 * tol, 1e-12)
    same = np.linalg.norm(G - Gp, axis=1) <= ctol * np.maximum(gnorm, np.roll(gnorm, 1))
    corner = ~same
    if not corner.any():
        raise ExtractionError("internal error: the level set has no corners")
    # each polygon edge = run of loop edges starting at a corner; keep its longest piece
    seg_len = np.linalg.norm(P[np.roll(loop, -1)] - P[loop], axis=1)
    start_shift = int(np.flatnonzero(corner)[0])
    run_id = np.roll(np.cumsum(np.roll(corner, -start_shift)) - 1, start_shift)
    n_runs = int(corner.sum())
    order = np.lexsort((-seg_len, run_id))          # by run, longest piece first
    counts = np.bincount(run_id, minlength=n_runs)
    firsts = np.zeros(n_runs, dtype=np.intp)
    np.cumsum(counts[:-1], out=firsts[1:])
    best = order[firsts]
    corners = loop[corner]
    pts = P[corners]
    # merge (near-)duplicate consecutive corners
    radius = float(np.linalg.norm(pts, axis=1).max())
    keep = np.linalg.norm(pts - np.roll(pts, 1, axis=0), axis=1) > tol * radius
    if not keep.all():     # corner r + 1 dropped: edge r has zero length
        pts, best = pts[keep], best[np.roll(keep, -1)]
    if len(pts) < 3:
        raise ExtractionError("internal error: the level set polygon has fewer than 3 corners")
    patterns = S[best] > 0
    region_patterns, edge_region_ids = np.unique(patterns, axis=0, return_inverse=True)
    mesh = PolyMesh(pts, np.arange(len(pts)), np.array([len(pts)]), np.array([-1]),
                    region_patterns=region_patterns, basis=basis)
    mesh.info.update({"method": "exact", "tol": tol, "n_cells": int(len(loop)),
                      "n_regions": int(len(region_patterns)),
                      "edge_region_ids": np.asarray(edge_region_ids).ravel().tolist()})
    return mesh


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

def check_exact_memory(n_neurons: int) -> None:
    """Refuse a 3-D exact extraction of ``n_neurons`` neurons that would not fit in the budget.

    ``n`` planes through the origin in general position cut the sphere into ``n (n - 1) + 2``
    cells, each a face with a row of ``n`` pre-activations and signs in the subdivision and the
    assembly: measured 1.75 GB for one layer of 300 neurons (89,702 faces), about
    ``64 n + 2000`` bytes per face.
    """
    faces = n_neurons * (n_neurons - 1) + 6
    check_memory(faces * (64 * n_neurons + 2000),
                 f"exact extraction of {n_neurons:,} neurons (up to about {faces:,} faces)",
                 "use radial extraction (--method radial) or a network with fewer neurons")


def extract_polytope_exact(net: Network, *, basis=None, tol: float = 1e-12) -> PolyMesh:
    """The level set f = 1 of a bias-free piecewise-linear network, exactly.

    Parameters
    ----------
    net : Network
        Bias-free network whose activations are all piecewise linear (``relu``,
        ``identity``, ``abs_pow`` with p = 1), any depth, ``sum`` or bias-free ``linear``
        output. Input dimension 2 or 3, or any d with ``basis``.
    basis : (d, 3) or (d, 2) array_like, optional
        Orthonormal basis of a linear subspace (see :func:`neuralpoly_core.polytope.slicing.
        paper_slice_basis`): the slice ``net.restrict(basis)`` is extracted and
        ``mesh.basis`` is set, so ``mesh.original_coordinates()`` are points of R^d.
        Required for d > 3.
    tol : float
        Relative zero tolerance (see the module docstring): pre-activation values within
        ``tol * max|z_j|`` of 0 count as 0.

    Returns
    -------
    PolyMesh
        3-D: closed manifold polytope with Euler characteristic 2, planar n-gon faces
        counter-clockwise from outside, ``region_ids`` indexing ``region_patterns`` (the
        activation pattern, ``net.activation_pattern`` order, inside the face's largest
        cell). 2-D: one counter-clockwise face, the polygon; per-edge region indices are in
        ``mesh.info["edge_region_ids"]`` (edge i runs from corner i to corner i + 1).
        Every vertex satisfies |f(v) - 1| <= 1e-9 (in practice ~1e-15).

    Raises
    ------
    ExtractionError
        If the network is not bias-free and piecewise linear (naming the layer), if d > 3
        and no basis is given, or if f is not positive in some direction (the level set is
        not closed).
    """
    issue = exact_extraction_issue(net)
    if issue is not None:
        raise ExtractionError(issue)
    tol = check_float(tol, "tol", 0.0, 1e-3, hi_open=True, error=ExtractionError)
    work, B = slice_network(net, basis)
    if work.dim == 3:
        check_exact_memory(work.n_neurons)
        V, faces, S = _subdivide_3d(work, tol)
        return _assemble_3d(work, V, faces, S, tol, B)
    if work.dim == 2:
        return _extract_2d(work, tol, B)
    raise ExtractionError(
        f"exact extraction needs a 2- or 3-dimensional input (or a slice basis), got dim {work.dim}")


def max_level_error(net: Network, mesh: PolyMesh, level: float = 1.0) -> float:
    """Largest |f(v) - level| over the mesh vertices: :meth:`PolyMesh.level_error`."""
    return mesh.level_error(net, level)
