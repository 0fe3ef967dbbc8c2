"""libigl's quadric edge collapses of exact level sets (mesh.edge_collapse): budget, closed surface, planar faces."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core import NeuralPolyError
from neuralpoly_core.levelset.api import extract_level_set
from neuralpoly_core.mesh import PolyMesh, edge_collapse
from neuralpoly_core.mesh.shapes import torus
from neuralpoly_core.mesh.simplify import face_planarity
from neuralpoly_core.mesh.topology import merge_coplanar_groups
from test_simplify import diamond

pytest.importorskip("igl")


@pytest.fixture(scope="module")
def cut():
    net = diamond()
    return net, extract_level_set(net, 0.0, (-1.0, 1.0))


def rows_in(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Which rows of A are rows of B, bit for bit."""
    view = lambda M: np.ascontiguousarray(M).view([("", M.dtype)] * M.shape[1]).ravel()  # noqa: E731
    return np.isin(view(A), view(B))


@pytest.mark.parametrize("fraction", [2, 4, 8])
def test_budget_met_on_a_closed_manifold_of_planar_faces(cut, fraction):
    net, mesh = cut
    merged = merge_coplanar_groups(mesh)[0]
    budget = merged.n_vertices // fraction
    out = edge_collapse.collapse_edges(mesh, budget)
    assert 0.9 * budget <= out.n_vertices <= budget
    assert out.is_closed_manifold()
    assert out.euler_characteristic == mesh.euler_characteristic == 2
    diag = float(np.linalg.norm(np.ptp(mesh.vertices, axis=0)))
    assert face_planarity(out) <= 1e-9 * diag
    assert set(out.region_ids.tolist()) <= set(mesh.region_ids.tolist())
    # the surface stays near f = 0 and keeps its volume within a few percent
    assert np.abs(net(out.vertices)).max() < 0.05
    assert abs(out.volume() - mesh.volume()) < 0.05 * mesh.volume()


def test_no_collapse_within_the_budget_leaves_every_vertex_on_the_level_set(cut):
    net, mesh = cut
    out = edge_collapse.collapse_edges(mesh, mesh.n_vertices)
    assert rows_in(out.vertices, mesh.vertices).all()          # qslim alone would move one vertex
    assert np.abs(net(out.vertices)).max() < 1e-12
    assert out.n_faces == merge_coplanar_groups(mesh)[0].n_faces


def test_mild_budget_keeps_coplanar_triangles_as_ngons(cut):
    net, mesh = cut
    out = edge_collapse.collapse_edges(mesh, int(0.9 * merge_coplanar_groups(mesh)[0].n_vertices))
    assert out.face_sizes.max() >= 5                           # untouched planar n-gons come back
    assert np.count_nonzero(out.face_sizes > 3) > 10


def test_torus_genus_kept_and_too_small_budget_refused():
    t = torus(1.0, 0.35, 40, 20)
    out = edge_collapse.collapse_edges(t, 100)
    assert out.n_vertices <= 100 and out.euler_characteristic == 0 and out.is_closed_manifold()
    with pytest.raises(NeuralPolyError, match="vertex budget 5 cannot be met.*stopped at"):
        edge_collapse.collapse_edges(t, 5)


def test_bad_input_is_refused():
    open_mesh = PolyMesh(np.eye(3), [0, 1, 2], [3])
    with pytest.raises(NeuralPolyError, match="closed 3-D manifold"):
        edge_collapse.collapse_edges(open_mesh, 10)
    with pytest.raises(NeuralPolyError, match="vertex budget"):
        edge_collapse.collapse_edges(torus(1.0, 0.35, 8, 6), 3)


def test_without_libigl_the_error_names_it(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_igl(name, *args, **kwargs):
        if name == "igl":
            raise ImportError("no igl")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_igl)
    assert not edge_collapse.have_libigl()
    with pytest.raises(NeuralPolyError, match="edge collapses need libigl: pip install libigl"):
        edge_collapse.collapse_edges(torus(1.0, 0.35, 8, 6), 10)


def test_not_strict_returns_where_libigl_stopped():
    t = torus(1.0, 0.35, 40, 20)
    out = edge_collapse.collapse_edges(t, 5, strict=False)
    assert 7 <= out.n_vertices < t.n_vertices and out.is_closed_manifold() and out.euler_characteristic == 0
