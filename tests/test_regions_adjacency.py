"""Adjacency of 3-D regions (``RegionTessellation.adjacent_pairs`` and the pieces it feeds):
the vectorised test (``sharing_pairs(..., return_members=True)`` and ``spans_plane``) gives
exactly what the former per-pair loop gave (``np.intersect1d`` of the two vertex lists, then
``np.linalg.svd`` of ``P - P[0]``: ``s[1] > 1e-9 s[0]``), kept here as the reference; and
exact counts on known tessellations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output
from neuralpoly_core.mesh.graph import connected_components, sharing_pairs
from neuralpoly_core.regions import enumerate_regions
from neuralpoly_core.regions.tessellation_build import spans_plane

RELU = Activation("relu")
MAXOUT3 = Activation("maxout", k=3)


def he_net(dims, seed, act=RELU, zero_head=0):
    """He-init net; a ``linear`` head whose last ``zero_head`` weights are 0 (so that regions
    differing only in those units are one piece), else ``sum``."""
    rng = np.random.default_rng(seed)
    k = act.group
    layers = [Layer(rng.normal(size=(b * k, a)) * np.sqrt(2.0 / a), rng.uniform(-1, 1, size=b * k), act)
              for a, b in zip(dims[:-1], dims[1:])]
    if zero_head:
        w = rng.normal(size=(1, dims[-1]))
        w[0, -zero_head:] = 0.0
        return Network(dims[0], layers, Output("linear", w, np.array([0.2])))
    return Network(dims[0], layers, Output("sum"))


def old_spans(P):
    """The former per-pair test, verbatim."""
    s = np.linalg.svd(P - P[0], compute_uv=False)
    return len(s) > 1 and s[1] > 1e-9 * max(s[0], 1e-300)


def reference(T):
    """The pairs sharing 3 vertices (by a dict of vertex -> regions) whose shared vertices
    span a plane (the former loop), and the pieces from them (same map tolerance as the
    enumeration's)."""
    pts, ids = np.unique(np.concatenate(T.vertices), axis=0, return_inverse=True)
    ids = ids.ravel()
    lists = np.split(ids, np.cumsum([len(v) for v in T.vertices])[:-1])
    holders = {}
    for r, vs in enumerate(lists):
        for v in vs.tolist():
            holders.setdefault(v, []).append(r)
    count = {}
    for rs in holders.values():
        for i, j in itertools.combinations(sorted(rs), 2):
            count[i, j] = count.get((i, j), 0) + 1
    sharing = sorted(p for p, c in count.items() if c >= 3)
    pairs = [(i, j) for i, j in sharing if old_spans(pts[np.intersect1d(lists[i], lists[j])])]
    ext = np.maximum(np.abs(T.lo), np.abs(T.hi))
    g, o = T.local_gradients, T.local_offsets
    tol = 1e-9 * float((np.abs(g) @ ext + np.abs(o)).max())
    a, b = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    same = np.abs(g[a] - g[b]) @ ext + np.abs(o[a] - o[b]) <= tol
    labels = connected_components(T.count, a[same], b[same])
    return pairs, len(sharing), int(np.count_nonzero(labels == np.arange(T.count)))


def slice_net(seed):
    rng = np.random.default_rng(seed + 100)
    return he_net([6, 10, 8], seed), dict(origin=0.2 * rng.normal(size=6), basis=rng.normal(size=(3, 6)))


# name: (network, enumerate_regions keywords)
NETS = {
    "relu_a": (he_net([3, 6, 5], 1), {}),
    "relu_b": (he_net([3, 8, 8, 6], 2, zero_head=3), {}),
    "abs": (he_net([3, 8, 6], 3, Activation("abs_pow", p=1.0), zero_head=2), {}),
    "maxout_a": (he_net([3, 4, 3], 0, MAXOUT3), {}),
    "maxout_b": (he_net([3, 4, 3], 2, MAXOUT3, zero_head=1), {}),
    "slice_6d": slice_net(4),
}


@pytest.mark.parametrize("name", list(NETS))
def test_adjacent_pairs_and_pieces_equal_the_per_pair_loop(name):
    net, kw = NETS[name]
    T = enumerate_regions(net, **kw)
    pairs, n_sharing, pieces = reference(T)
    assert T.adjacent_pairs().tolist() == [list(p) for p in pairs]
    assert T.pieces == pieces
    if name.startswith("maxout"):                  # over-cut ties: pairs sharing an edge's 3+ points
        assert n_sharing > len(pairs)
    if name in ("relu_b", "abs", "maxout_b"):        # a head ignoring some units
        assert T.pieces < T.count                  # pieces merged across facets


def grid_net(k, ignore_y=False):
    """3(k-1) ReLUs ``x_a - c``, c the interior grid values of [-1, 1]: the box cut into k^3
    cubes; with ``ignore_y`` a head that ignores the y units."""
    c = np.linspace(-1, 1, k + 1)[1:-1]
    W = np.repeat(np.eye(3), k - 1, axis=0)
    b = -np.tile(c, 3)
    if not ignore_y:
        return Network(3, [Layer(W, b, RELU)], Output("sum"))
    w = np.ones((1, 3 * (k - 1)))
    w[0, k - 1:2 * (k - 1)] = 0.0
    return Network(3, [Layer(W, b, RELU)], Output("linear", w, np.zeros(1)))


@pytest.mark.parametrize("k", [2, 3, 4])
def test_grid_of_cubes(k):
    T = enumerate_regions(grid_net(k))
    assert T.count == k ** 3 and T.pieces == k ** 3
    P = T.adjacent_pairs()
    assert len(P) == 3 * k * k * (k - 1)
    flips = np.count_nonzero(T.patterns[P[:, 0]] != T.patterns[P[:, 1]], axis=1)
    assert np.all(flips == 1)                      # across one face: one unit flips; never an edge
    assert enumerate_regions(grid_net(k, ignore_y=True)).pieces == k * k   # y-columns merge


def test_regions_sharing_only_an_edge_with_a_point_inside_are_not_adjacent():
    """|x|, |y| and max(z, -z, 1/2) as maxout units: 2 x 2 x 3 boxes; the over-cut tie z = 0 puts
    (0, 0, 0) on the z axis of the middle slab's boxes, so diagonal boxes there share three
    points on one line."""
    W = np.array([[1, 0, 0], [-1, 0, 0], [0, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 0],
                  [0, 0, 1], [0, 0, -1], [0, 0, 0]], dtype=np.float64)
    b = np.array([0, 0, -5, 0, 0, -5, 0, 0, 0.5])
    T = enumerate_regions(Network(3, [Layer(W, b, MAXOUT3)], Output("sum")))
    assert T.count == 12 and T.pieces == 12
    P = T.adjacent_pairs()
    assert len(P) == 1 * 2 * 3 + 2 * 1 * 3 + 2 * 2 * 2
    pairs, n_sharing, pieces = reference(T)
    assert P.tolist() == [list(p) for p in pairs] and pieces == 12
    assert n_sharing == len(P) + 2                 # the two diagonal pairs of the middle slab
    assert np.all(np.count_nonzero(T.patterns[P[:, 0]] != T.patterns[P[:, 1]], axis=1) == 1)


@pytest.mark.parametrize("n", [3, 5, 7])
def test_one_layer_in_general_position_facets(n):
    """A simple arrangement of n planes has n + 2 C(n, 2) + 3 C(n, 3) facets (2-faces), each
    between two regions; in a box holding every vertex each is cut by the box's interior."""
    rng = np.random.default_rng(n)
    W, b = rng.normal(size=(n, 3)), rng.normal(size=n)
    verts = [np.linalg.solve(W[list(s)], -b[list(s)]) for s in itertools.combinations(range(n), 3)]
    reach = 1.1 * np.abs(verts).max() + 1.0
    T = enumerate_regions(Network(3, [Layer(W, b, RELU)], Output("sum")), (-reach, reach))
    assert T.count == sum(math.comb(n, i) for i in range(4))
    assert len(T.adjacent_pairs()) == n + 2 * math.comb(n, 2) + 3 * math.comb(n, 3)
    assert T.pieces == T.count


def test_spans_plane_equals_a_per_set_svd():
    """Random sets near a line (offsets from 0 to 1e-5 of their length, across the 1e-9
    threshold and the band the SVD decides), coincident points, planar sets: the same answer
    as the SVD of each set, bit for bit."""
    rng = np.random.default_rng(7)
    sets, X = [], []
    n = 0
    for t in range(3000):
        k = int(rng.integers(1, 9))
        p0, d = rng.uniform(-1, 1, 3), rng.normal(size=3)
        eps = 0.0 if t % 7 == 0 else 10.0 ** rng.uniform(-13, -5)
        P = p0 + rng.uniform(-1, 1, (k, 1)) * d + eps * rng.normal(size=(k, 3))
        if t % 11 == 0:
            P[:] = P[0]                              # all one point
        if t % 13 == 0:
            P = rng.uniform(-1, 1, (k, 3))
        order = rng.permutation(k)                   # ids not in the points' order along the line
        X.append(P[np.argsort(order)])
        sets.append(n + np.sort(order))
        n += k
    X = np.concatenate(X)
    ids = np.concatenate(sets)
    counts = np.array([len(s) for s in sets])
    got = spans_plane(X, ids, counts)
    want = np.array([old_spans(X[s]) for s in sets])
    assert np.array_equal(got, want)
    assert 300 < want.sum() < len(want) - 300      # both answers, often


@pytest.mark.parametrize("seed", range(8))
def test_sharing_pairs_returns_the_common_members(seed):
    """Also with ids too large to pack a pair key and a member into one int64 (seeds 6, 7)."""
    rng = np.random.default_rng(seed)
    n, nv = int(rng.integers(2, 80)), int(rng.integers(1, 60))
    base = 2 ** 60 if seed >= 6 else 0
    sets = [base + rng.choice(nv, int(rng.integers(0, min(nv, 20) + 1)), replace=False) for _ in range(n)]
    if seed % 2 == 0:                       # a member in most sets (the pair-by-pair path)
        sets = [np.append(s, base + nv) if rng.random() < 0.8 else s for s in sets]
    cnt = np.array([len(s) for s in sets])
    members = np.concatenate(sets).astype(np.int64)
    for k in (1, 3):
        a, b, shared, common = sharing_pairs(members, cnt, k, return_members=True)
        both = {(i, j): np.intersect1d(sets[i], sets[j]).tolist() for i, j in itertools.combinations(range(n), 2)}
        want = [(i, j) for (i, j), c in both.items() if len(c) >= k]
        assert list(zip(a.tolist(), b.tolist())) == want
        assert shared.tolist() == [len(both[p]) for p in want]
        assert common.tolist() == [v for p in want for v in both[p]]       # ascending, pair after pair
        assert [x.tolist() for x in sharing_pairs(members, cnt, k)] == [a.tolist(), b.tolist(), shared.tolist()]
    none = sharing_pairs(np.zeros(0, dtype=np.int64), np.zeros(3, dtype=np.int64), 1, return_members=True)
    assert len(none) == 4 and all(len(x) == 0 for x in none)
