"""Simplification of exact level sets: coplanar merging (exact), collapsing small patches to a budget."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, NeuralPolyError, Output
from neuralpoly_core.errors import Cancelled
from neuralpoly_core.levelset.api import extract_level_set
from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.shapes import torus
from neuralpoly_core.mesh.simplify import face_planarity, simplify_mesh


def diamond(extra: int = 20, zero: int = 6, seed: int = 0, eps: float = 0.08) -> Network:
    """f = |x|_1 + a small random ReLU term - 0.6 (a closed, faceted diamond in [-1, 1]^3), plus
    ``zero`` neurons with output weight 0: they cut faces without changing f."""
    rng = np.random.default_rng(seed)
    A, b, w = rng.normal(size=(extra, 3)), rng.uniform(-0.3, 0.3, extra), eps * rng.normal(size=extra)
    Z = np.random.default_rng(seed + 1).normal(size=(zero, 3))
    bz = np.random.default_rng(seed + 2).uniform(-0.3, 0.3, zero)
    W = np.concatenate([np.eye(3), -np.eye(3), A, Z])
    B = np.concatenate([np.zeros(6), b, bz])
    out = np.concatenate([np.ones(6), w, np.zeros(zero)])
    return Network(3, [Layer(W, B, Activation("relu"))], Output("linear", out[None], np.array([-0.6])))


@pytest.fixture(scope="module")
def cut():
    net = diamond()
    return net, extract_level_set(net, 0.0, (-1.0, 1.0))


def face_areas(mesh: PolyMesh) -> np.ndarray:
    V = mesh.vertices
    return np.array([0.5 * np.linalg.norm(np.sum(np.cross(V[f], V[np.roll(f, -1)]), axis=0)) for f in mesh.faces])


def test_merging_the_faces_cut_by_dead_neurons_gives_the_net_without_them(cut):
    net, mesh = cut
    plain = extract_level_set(diamond(zero=0), 0.0, (-1.0, 1.0))
    assert mesh.n_faces > plain.n_faces + 100          # the zero-weight neurons cut faces
    out = simplify_mesh(mesh, f=net)
    s = out.info["simplify"]
    assert (out.n_vertices, out.n_faces) == (plain.n_vertices, plain.n_faces)
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    assert s["moved_vertices"] == 0 and s["collapsed"] == 0
    # every vertex is an input vertex: the level error stays at rounding
    assert s["max_level_error"] <= max(s["max_level_error_before"], 1e-15) < 1e-12
    assert face_planarity(out) < 1e-12
    assert out.volume() == pytest.approx(mesh.volume(), rel=1e-12)


@pytest.mark.parametrize("budget", [200, 60, 20])
def test_a_vertex_budget_is_met_and_the_surface_stays_closed(cut, budget):
    net, mesh = cut
    out = simplify_mesh(mesh, vertex_budget=budget, f=net)
    s = out.info["simplify"]
    assert out.n_vertices <= budget and s["vertices"] == out.n_vertices
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    assert s["vertices_before"] == mesh.n_vertices and s["vertices_merged"] == 418
    # the level error is measured honestly: recomputed here, and only the new vertices are off it
    err = np.abs(net(out.vertices).ravel())
    assert s["max_level_error"] == pytest.approx(float(err.max()), abs=0)
    original = np.isin(out.vertices.view([("", float)] * 3).ravel(), mesh.vertices.view([("", float)] * 3).ravel())
    assert int(np.sum(~original)) == s["moved_vertices"] > 0
    assert np.all(err[original] < 1e-12)
    # faces whose corners are all input vertices keep their plane exactly; n-gons survive
    V = out.vertices
    for face, n in zip(out.faces, out.face_normals()):
        if original[face].all():
            assert np.max(np.abs((V[face] - V[face].mean(axis=0)) @ n)) < 1e-12
    assert s["max_planarity"] == pytest.approx(face_planarity(out))
    assert max(out.face_sizes) > 3
    assert out.volume() == pytest.approx(mesh.volume(), rel=0.1 if budget >= 60 else 0.3)


def test_small_regions_are_dropped(cut):
    net, mesh = cut
    merged = simplify_mesh(mesh)
    total = face_areas(merged).sum()
    out = simplify_mesh(mesh, min_region_area=1e-3, f=net)
    small = np.sum(face_areas(merged) < 1e-3 * total)
    assert small > 50
    # all but the few whose collapse would break or fold the surface (counted) are gone
    left = np.sum(face_areas(out) < 1e-3 * total)
    assert left == out.info["simplify"]["small_left"] <= 0.05 * small and out.n_vertices < merged.n_vertices
    assert out.is_closed_manifold() and out.euler_characteristic == 2


def test_a_torus_keeps_its_hole_and_refuses_a_budget_below_seven_vertices():
    mesh = torus(1.0, 0.3, 24, 12)
    out = simplify_mesh(mesh, vertex_budget=40)
    assert out.n_vertices <= 40 and out.is_closed_manifold() and out.euler_characteristic == 0
    # a torus needs at least 7 vertices (Csaszar): no collapse sequence gets below
    with pytest.raises(NeuralPolyError, match="vertex budget 6 cannot be met.*stops at"):
        simplify_mesh(mesh, vertex_budget=6)


def test_bad_input_is_refused(cut):
    _, mesh = cut
    opened = PolyMesh(mesh.vertices, mesh.corners[mesh.face_sizes[0]:], mesh.face_sizes[1:])
    with pytest.raises(NeuralPolyError, match="not a closed manifold"):
        simplify_mesh(opened)
    with pytest.raises(NeuralPolyError, match="vertex budget"):
        simplify_mesh(mesh, vertex_budget=3)
    with pytest.raises(NeuralPolyError, match="minimum region area"):
        simplify_mesh(mesh, min_region_area=-0.1)


def test_progress_and_cancel(cut):
    _, mesh = cut
    seen = []
    simplify_mesh(mesh, vertex_budget=100, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        simplify_mesh(mesh, vertex_budget=100, cancel=lambda: True)
