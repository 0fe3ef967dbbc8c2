"""The exact region enumeration with numpy alone (Blender's own Python has no scipy).

A fresh Python where ``import scipy`` (and its ``sparse``, ``sparse.csgraph``, ``spatial`` and
``optimize``) fails enumerates 2-D and 3-D ReLU and maxout nets: the same counts, pieces,
adjacent pairs, region vertices and volumes as here, and these equal scipy's own answers: the
pairs of regions sharing ``dim`` vertices from the sparse product of the region-vertex
incidence matrix, the pieces from ``scipy.sparse.csgraph.connected_components``, a maxout
region's vertices the points of the tessellation on the boundary of its ``ConvexHull``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output, save_model
from neuralpoly_core.mesh.graph import sharing_pairs
from neuralpoly_core.regions import enumerate_regions, exact

ROOT = Path(__file__).resolve().parents[1]
RELU = Activation("relu")
# four lines in general position, every crossing inside [-3, 3]^2: 1 + 4 + 6 = 11 regions
LINES_W = np.array([[1.0, 0.2], [-0.3, 1.0], [1.0, 1.1], [0.7, -1.0]])
LINES_B = np.array([0.1, -0.2, 0.3, -0.4])

SCRIPT = """
import json, sys
for name in ("scipy", "scipy.sparse", "scipy.sparse.csgraph", "scipy.spatial", "scipy.optimize"):
    sys.modules[name] = None                 # as in Blender's own Python
import numpy as np
from neuralpoly_core.network.modelfile import load_model
from neuralpoly_core.regions import enumerate_regions, exact
exact.COMPILED_2D = False                    # numpy's path, as in Blender (the same path as the test's)
out = {}
for name, path, lo, hi in json.loads(sys.argv[1]):
    T = enumerate_regions(load_model(path), (lo, hi))
    out[name] = {"count": T.count, "pieces": T.pieces, "pairs": T.adjacent_pairs().tolist(),
                 "vertices": [v.tolist() for v in T.vertices], "volumes": T.volumes().tolist()}
out["scipy_loaded"] = sorted(m for m, mod in sys.modules.items() if m.split(".")[0] == "scipy" and mod is not None)
print("RESULT " + json.dumps(out))
"""


def he_net(dims, seed, act=RELU, head="sum"):
    rng = np.random.default_rng(seed)
    k = act.group
    layers = [Layer(rng.normal(size=(b * k, a)) * np.sqrt(2.0 / a), rng.uniform(-1, 1, size=b * k), act)
              for a, b in zip(dims[:-1], dims[1:])]
    out = Output("sum") if head == "sum" else Output("linear", rng.normal(size=(1, dims[-1])), np.array([0.3]))
    return Network(dims[0], layers, out)


# name: (network, box, known count or None, known pieces or None)
NETS = {
    "lines": (Network(2, [Layer(LINES_W, LINES_B, RELU)], Output("sum")), 3.0, 11, 11),
    # a head that ignores units 2 and 3: the pieces are the 4 quadrants of lines 0 and 1
    "lines_two_used": (Network(2, [Layer(LINES_W, LINES_B, RELU)],
                               Output("linear", np.array([[1.0, 2.0, 0.0, 0.0]]), np.array([0.0]))), 3.0, 11, 4),
    "relu_2d": (he_net([2, 8, 6], 1, head="linear"), 1.0, None, None),
    "relu_3d": (he_net([3, 6, 5], 2), 1.0, None, None),
    "maxout_2d": (he_net([2, 4, 3], 3, Activation("maxout", k=3)), 1.0, None, None),
    "maxout_3d": (he_net([3, 3, 2], 4, Activation("maxout", k=3)), 1.0, None, None),
}


def vertex_ids(T):
    """Each region's vertices as ids of the distinct points of the tessellation: (points, CSR)."""
    allv = np.concatenate(T.vertices)
    pts, ids = np.unique(allv, axis=0, return_inverse=True)
    return pts, ids.ravel(), np.array([len(v) for v in T.vertices])


def scipy_adjacent_pairs(T):
    """Pairs sharing ``dim`` vertices (3-D: three not on one line), by the sparse product."""
    sparse = pytest.importorskip("scipy.sparse")
    pts, ids, cnt = vertex_ids(T)
    own = np.repeat(np.arange(T.count), cnt)
    M = sparse.csr_matrix((np.ones(len(ids), dtype=np.int32), (own, ids)), shape=(T.count, len(pts)))
    S = sparse.triu(M @ M.T, k=1).tocoo()
    pairs = [(int(i), int(j)) for i, j, s in zip(S.row, S.col, S.data) if s >= T.dim]
    if T.dim == 3:
        def spans(i, j):
            P = pts[np.intersect1d(ids[own == i], ids[own == j])]
            s = np.linalg.svd(P - P[0], compute_uv=False)
            return s[1] > 1e-9 * s[0]
        pairs = [p for p in pairs if spans(*p)]
    return sorted(pairs)


def scipy_pieces(T, pairs):
    csgraph = pytest.importorskip("scipy.sparse.csgraph")
    sparse = pytest.importorskip("scipy.sparse")
    ext = np.maximum(np.abs(T.lo), np.abs(T.hi))
    g, o = T.local_gradients, T.local_offsets
    tol = 1e-9 * float((np.abs(g) @ ext + np.abs(o)).max())
    a, b = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    same = np.abs(g[a] - g[b]) @ ext + np.abs(o[a] - o[b]) <= tol
    G = sparse.coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(T.count, T.count))
    return int(csgraph.connected_components(G, directed=False)[0])


def check_vertices_are_hull_boundaries(T):
    """Every region's vertices are the points of the tessellation on the boundary of the
    region's convex hull: none inside, none missing."""
    ConvexHull = pytest.importorskip("scipy.spatial").ConvexHull
    pts, ids, cnt = vertex_ids(T)
    own = np.repeat(np.arange(T.count), cnt)
    tol = 1e-9 * max(float(np.abs(pts).max()), 1.0)
    for r in range(T.count):
        eq = ConvexHull(T.vertices[r]).equations
        dist = pts @ eq[:, :-1].T + eq[:, -1]
        on = (dist.max(axis=1) <= tol) & (np.abs(dist).min(axis=1) <= tol)
        assert np.array_equal(np.flatnonzero(on), np.sort(ids[own == r])), r


@pytest.fixture(scope="module")
def without_scipy(tmp_path_factory):
    """The results of a Python where scipy cannot be imported."""
    folder = tmp_path_factory.mktemp("noscipy")
    jobs = []
    for name, (net, h, _, _) in NETS.items():
        path = folder / f"{name}.json"
        save_model(net, path)
        jobs.append([name, str(path), -h, h])
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(jobs)], capture_output=True, text=True,
                          timeout=600, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_scipy_was_never_imported(without_scipy):
    assert without_scipy["scipy_loaded"] == []


@pytest.mark.parametrize("name", list(NETS))
def test_same_regions_without_scipy_as_scipy_finds(monkeypatch, without_scipy, name):
    net, h, count, pieces = NETS[name]
    monkeypatch.setattr(exact, "COMPILED_2D", False)        # the vertices are compared to the last bit
    T = enumerate_regions(net, (-h, h))
    got = without_scipy[name]
    if count is not None:
        assert T.count == count and T.pieces == pieces
    if name.startswith("maxout"):
        assert T.info["cells"] > T.count            # regions of several cells: the hull-free path
    assert (got["count"], got["pieces"]) == (T.count, T.pieces)
    pairs = sorted(map(tuple, T.adjacent_pairs().tolist()))
    assert sorted(map(tuple, got["pairs"])) == pairs == scipy_adjacent_pairs(T)
    assert T.pieces == scipy_pieces(T, pairs)
    assert [np.array(v).reshape(-1, T.dim).tolist() for v in got["vertices"]] == [v.tolist() for v in T.vertices]
    check_vertices_are_hull_boundaries(T)
    assert np.allclose(got["volumes"], T.volumes(), rtol=1e-12, atol=0)
    assert T.volumes().sum() == pytest.approx((2 * h) ** T.dim, rel=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_sharing_pairs_equal_the_sparse_product(seed):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(seed)
    n, nv = int(rng.integers(2, 80)), int(rng.integers(1, 60))
    sets = [np.sort(rng.choice(nv, int(rng.integers(0, min(nv, 20) + 1)), replace=False)) for _ in range(n)]
    if seed % 3 == 0:                       # a member in most sets (the pair-by-pair path)
        sets = [np.union1d(s, [0]) if rng.random() < 0.8 else s for s in sets]
    cnt = np.array([len(s) for s in sets])
    members = np.concatenate(sets).astype(np.int64)
    M = sparse.csr_matrix((np.ones(len(members)), (np.repeat(np.arange(n), cnt), members)), shape=(n, nv))
    S = sparse.triu(M @ M.T, k=1).tocoo()
    for k in (1, 2, 3):
        keep = S.data >= k
        want = sorted(zip(S.row[keep].tolist(), S.col[keep].tolist(), S.data[keep].astype(int).tolist()))
        a, b, shared = sharing_pairs(members, cnt, k)
        assert list(zip(a.tolist(), b.tolist(), shared.tolist())) == want
    none = sharing_pairs(np.zeros(0, dtype=np.int64), np.zeros(3, dtype=np.int64), 1)
    assert all(len(x) == 0 for x in none)
