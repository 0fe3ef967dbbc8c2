"""Simplification of exact level sets: coplanar merging (exact), collapsing small patches to a budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, NeuralPolyError, Output
from neuralpoly_core.errors import Cancelled
from neuralpoly_core.jobs import read_mesh_npz, run_job
from neuralpoly_core.levelset.api import extract_level_set
from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.planar_split import PLANARITY_TOLERANCE, projects_simply, split_nonplanar_faces
from neuralpoly_core.mesh.shapes import box_with_hole, torus
from neuralpoly_core.mesh.simplify import face_planarity, simplify_mesh
from neuralpoly_core.network.modelfile import model_to_json
from neuralpoly_core.training import torch_available


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


@pytest.mark.parametrize("collapse", ["faces", "edges"])
@pytest.mark.parametrize("budget", [200, 60, 20])
def test_a_vertex_budget_is_met_and_the_surface_stays_closed(cut, budget, collapse):
    net, mesh = cut
    out = simplify_mesh(mesh, vertex_budget=budget, f=net, collapse=collapse)
    s = out.info["simplify"]
    assert s["collapse"] == collapse and (s["edge_collapses"] > 0) == (collapse == "edges")
    assert out.n_vertices <= budget and s["vertices"] == out.n_vertices
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    assert s["vertices_before"] == mesh.n_vertices and s["vertices_merged"] == 418
    # the level error is measured honestly: recomputed here, and only the new vertices are off it
    err = np.abs(net(out.vertices).ravel())
    assert s["max_level_error"] == pytest.approx(float(err.max()), abs=0)
    original = np.isin(out.vertices.view([("", float)] * 3).ravel(), mesh.vertices.view([("", float)] * 3).ravel())
    assert int(np.sum(~original)) == s["moved_vertices"] > 0
    assert np.all(err[original] < 1e-12)
    # every face is planar within the stated tolerance (collapsed faces split, no vertex added)
    assert_planar_faces(out)
    assert s["max_planarity"] == pytest.approx(face_planarity(out)) and s["nonplanar_left"] == 0
    # faces are split exactly when the collapses bent some; n-gons survive (new vertices go onto
    # the planes of the largest neighbouring n-gons where that costs little); libigl's edge
    # collapses leave triangles, and the n-gons merged from them are planar: nothing to split
    assert (s["faces_split"] > 0) == (s["max_planarity_collapsed"] > s["planarity_tolerance"])
    if collapse == "faces":
        assert max(out.face_sizes) > 3
    else:
        assert s["faces_split"] == 0 and (budget < 200 or max(out.face_sizes) > 3)
    assert out.volume() == pytest.approx(mesh.volume(), rel=0.1 if budget >= 60 else 0.3)


def assert_planar_faces(mesh: PolyMesh, tol: float = PLANARITY_TOLERANCE) -> None:
    """Every face's corners within ``tol`` times the bounding-box diagonal of its plane; no
    face of zero area; every face turning outwards (the volume is positive)."""
    V = mesh.vertices
    diag = np.linalg.norm(np.ptp(V, axis=0))
    areas = face_areas(mesh)
    assert areas.min() > 1e-12 * diag ** 2
    for face, n in zip(mesh.faces, mesh.face_normals()):
        assert np.max(np.abs((V[face] - V[face].mean(axis=0)) @ n)) <= tol * diag
    assert mesh.volume() > 0


def cyclic(face) -> tuple:
    f = [int(v) for v in face]
    i = f.index(min(f))
    return tuple(f[i:] + f[:i])


@pytest.mark.parametrize("budget", [300, 200])
def test_only_the_faces_bent_by_collapses_are_split_and_planar_n_gons_stay(cut, budget):
    _, mesh = cut
    bent = simplify_mesh(mesh, vertex_budget=budget, planarity_tolerance=1.0, collapse="faces")   # nothing split
    assert bent.info["simplify"]["faces_split"] == 0
    out, facts = split_nonplanar_faces(bent)
    V, diag = bent.vertices, np.linalg.norm(np.ptp(bent.vertices, axis=0))
    dist = np.array([np.max(np.abs((V[f] - V[f].mean(axis=0)) @ n)) for f, n in zip(bent.faces, bent.face_normals())])
    planar = dist <= PLANARITY_TOLERANCE * diag
    assert facts["faces_split"] == int(np.sum(~planar)) > 0 and facts["nonplanar_left"] == 0
    assert out.n_faces == bent.n_faces + facts["pieces_added"] and out.n_vertices == bent.n_vertices
    np.testing.assert_array_equal(out.vertices, bent.vertices)                   # no vertex added or moved
    kept = {cyclic(f) for f in out.faces}
    assert all(cyclic(f) in kept for f, p in zip(bent.faces, planar) if p)      # planar faces untouched
    assert any(len(f) > 3 for f, p in zip(bent.faces, planar) if p)              # ... and n-gons among them
    assert out.is_closed_manifold() and out.euler_characteristic == bent.euler_characteristic == 2
    assert out.volume() == pytest.approx(bent.volume(), rel=1e-2)
    assert_planar_faces(out)


def test_splitting_a_bent_quad_and_a_bent_hexagon():
    # a cube with one corner pulled out along the diagonal: its three quads bend, each into two triangles
    V = np.array([[x, y, z] for x in (0.0, 1.0) for y in (0.0, 1.0) for z in (0.0, 1.0)])  # index 4x + 2y + z
    cube = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    V[7] += 0.1
    bent = PolyMesh.from_faces(V, cube)
    assert bent.is_closed_manifold() and bent.volume() > 0
    out, facts = split_nonplanar_faces(bent)
    assert (facts["faces_split"], facts["pieces_added"], out.n_faces) == (3, 3, 9)
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    assert_planar_faces(out)
    # the planar faces are kept: three quads stay quads
    assert sorted(out.face_sizes.tolist()) == [3] * 6 + [4] * 3
    # a hexagonal prism with one top corner lifted (its side quads stay planar): the top hexagon
    # splits into the planar pentagon of the other five corners and a triangle
    t = np.linspace(0, 2 * np.pi, 7)[:-1]
    ring = np.stack([np.cos(t), np.sin(t)], axis=1)
    V = np.concatenate([np.c_[ring, np.zeros(6)], np.c_[ring, np.ones(6)]])
    faces = [list(range(5, -1, -1)), list(range(6, 12))] + [[i, (i + 1) % 6, (i + 1) % 6 + 6, i + 6] for i in range(6)]
    V[6, 2] += 0.05
    out, facts = split_nonplanar_faces(PolyMesh.from_faces(V, faces))
    assert (facts["faces_split"], out.n_faces) == (1, 8 + 1)
    assert sorted(len(f) for f in out.faces) == [3] + [4] * 6 + [5, 6]
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    assert_planar_faces(out)


@pytest.mark.parametrize("make, budget, chi", [(lambda: torus(1.0, 0.3, 24, 12), 40, 0),
                                               (lambda: box_with_hole(), 12, 0)])
def test_simplified_hand_made_meshes_have_planar_faces(make, budget, chi):
    mesh = make()
    out = simplify_mesh(mesh, vertex_budget=budget)
    s = out.info["simplify"]
    assert out.n_vertices <= budget and out.is_closed_manifold() and out.euler_characteristic == chi
    assert s["nonplanar_left"] == 0 and s["max_planarity"] <= s["planarity_tolerance"]
    assert_planar_faces(out)


@pytest.mark.parametrize("seed, budget", [(2, 150), (4, 80), (5, 300)])
def test_collapses_that_would_leave_a_face_crossing_itself_are_refused(seed, budget):
    # these once left a quad that, seen along its normal, crossed itself (a bow tie): neither
    # diagonal splits it into two pieces turning its way, so it stayed bent
    net = diamond(extra=30, seed=seed)
    mesh = extract_level_set(net, 0.0, (-1.0, 1.0))
    out = simplify_mesh(mesh, vertex_budget=budget, f=net, collapse="faces")
    s = out.info["simplify"]
    assert out.n_vertices <= budget and out.is_closed_manifold() and out.euler_characteristic == 2
    assert s["nonplanar_left"] == 0 and s["faces_split"] > 0
    assert_planar_faces(out)


def test_projects_simply():
    square = [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (1.0, 1.0, 0.1), (0.0, 1.0, 0.0)]
    assert projects_simply(square)
    assert not projects_simply([square[0], square[2], square[1], square[3]])          # a bow tie
    assert not projects_simply([(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (2.0, 0.0, 0.0), (1.0, 0.0, 0.0)])  # flat
    assert projects_simply([(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (2.0, 0.0, 0.0), (1.0, 1.0, 0.0)])   # a straight corner


@pytest.mark.skipif(not torch_available(), reason="needs torch")
def test_a_trained_sdf_net_simplified_has_planar_faces():
    from neuralpoly_core.mesh.shapes import icosphere
    from neuralpoly_core.training.lowpoly import extract_fitted, fit_mesh_sdf, simplify_fitted
    fit = fit_mesh_sdf(icosphere(0.7, 8, center=np.array([1.0, 0.0, -2.0])), "relu:2x32", steps=300, seed=2)
    exact = extract_fitted(fit)
    for budget in (exact.n_vertices // 2, exact.n_vertices // 8):
        out = simplify_fitted(fit, exact, vertex_budget=budget, collapse="faces")
        s = out.info["simplify"]
        assert out.n_vertices <= budget and out.is_closed_manifold() and out.euler_characteristic == 2
        assert s["nonplanar_left"] == 0 and s["max_planarity"] <= s["planarity_tolerance"]
        assert s["max_planarity_collapsed"] > s["planarity_tolerance"]       # the collapses did bend faces
        assert_planar_faces(out)
    half = simplify_fitted(fit, exact, vertex_budget=exact.n_vertices // 2, collapse="faces")
    assert max(half.face_sizes) > 3                                             # n-gons survive
    edges = simplify_fitted(fit, exact, vertex_budget=exact.n_vertices // 8)    # libigl's, where it imports
    assert edges.info["simplify"]["collapse"] == "edges" and edges.n_vertices <= exact.n_vertices // 8
    assert edges.info["simplify"]["faces_split"] == 0
    assert_planar_faces(edges)


@pytest.mark.parametrize("budget", [200, 60])
def test_new_vertices_on_the_planes_of_the_neighbouring_n_gons_keep_them(cut, budget, monkeypatch):
    from neuralpoly_core.mesh import simplify
    net, mesh = cut
    on_planes = simplify_mesh(mesh, vertex_budget=budget, f=net, collapse="faces")
    monkeypatch.setattr(simplify, "PLANE_SLACK", -math.inf)           # only the least-error point
    least = simplify_mesh(mesh, vertex_budget=budget, f=net, collapse="faces")
    a, b = on_planes.info["simplify"], least.info["simplify"]
    assert a["faces_split"] < b["faces_split"] and on_planes.n_faces < least.n_faces
    assert np.sum(on_planes.face_sizes > 3) > np.sum(least.face_sizes > 3)
    for out in (on_planes, least):
        assert out.n_vertices <= budget and out.is_closed_manifold() and out.euler_characteristic == 2
        assert_planar_faces(out)
    # at a cost: the new vertices may go farther off f = 0 (within the slack); the volume stays as close
    assert a["max_level_error"] <= 3 * b["max_level_error"]
    assert abs(on_planes.volume() / mesh.volume() - 1) <= 1.5 * abs(least.volume() / mesh.volume() - 1) + 1e-3


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
    assert_planar_faces(out)


@pytest.mark.parametrize("collapse", ["faces", "edges"])
def test_a_torus_keeps_its_hole_and_refuses_a_budget_below_seven_vertices(collapse):
    mesh = torus(1.0, 0.3, 24, 12)
    out = simplify_mesh(mesh, vertex_budget=40, collapse=collapse)
    assert out.n_vertices <= 40 and out.is_closed_manifold() and out.euler_characteristic == 0
    # a torus needs at least 7 vertices (Csaszar): no collapse sequence gets below
    with pytest.raises(NeuralPolyError, match="vertex budget 6 cannot be met.*stops at"):   # libigl's stop at 9 first
        simplify_mesh(mesh, vertex_budget=6, collapse=collapse)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_edge_collapses_stay_closer_to_the_surface_than_face_collapses(seed):
    """The reason edges are the default: at the same vertex count the surface is nearer."""
    from neuralpoly_core.mesh.distance import chamfer
    net = diamond(seed=seed)
    mesh = extract_level_set(net, 0.0, (-1.0, 1.0))
    for budget in (60, 20):
        e = simplify_mesh(mesh, vertex_budget=budget, collapse="edges", f=net)
        f = simplify_mesh(mesh, vertex_budget=budget, collapse="faces", f=net)
        assert chamfer(mesh, e, 20_000) < chamfer(mesh, f, 20_000)
        assert e.info["simplify"]["max_level_error"] < 2 * f.info["simplify"]["max_level_error"]


def test_auto_collapse_is_faces_without_libigl(cut, monkeypatch):
    from neuralpoly_core.mesh import simplify
    _, mesh = cut
    assert simplify.collapse_kind("auto") == "edges"
    monkeypatch.setattr(simplify, "have_libigl", lambda: False)
    assert simplify.collapse_kind("auto") == "faces"
    assert simplify_mesh(mesh, vertex_budget=100).info["simplify"]["collapse"] == "faces"
    with pytest.raises(NeuralPolyError, match="collapse must be 'auto', 'edges' or 'faces', got 'vertices'"):
        simplify_mesh(mesh, vertex_budget=100, collapse="vertices")


def test_bad_input_is_refused(cut):
    _, mesh = cut
    opened = PolyMesh(mesh.vertices, mesh.corners[mesh.face_sizes[0]:], mesh.face_sizes[1:])
    with pytest.raises(NeuralPolyError, match="not a closed manifold"):
        simplify_mesh(opened)
    with pytest.raises(NeuralPolyError, match="vertex budget"):
        simplify_mesh(mesh, vertex_budget=3)
    with pytest.raises(NeuralPolyError, match="minimum region area"):
        simplify_mesh(mesh, min_region_area=-0.1)
    with pytest.raises(NeuralPolyError, match="planarity tolerance"):
        simplify_mesh(mesh, planarity_tolerance=-1.0)


def test_progress_and_cancel(cut):
    _, mesh = cut
    seen = []
    simplify_mesh(mesh, vertex_budget=100, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        simplify_mesh(mesh, vertex_budget=100, cancel=lambda: True)


def test_the_level_set_job_simplifies_to_a_vertex_budget(cut, tmp_path):
    net, mesh = cut
    model = model_to_json(net, indent=None)
    res = run_job("extract_level_set", {"model": model, "bbox": [-1, 1], "merge_coplanar": True,
                                        "vertex_budget": 60, "output": str(tmp_path / "m.npz")})
    out, s = read_mesh_npz(res["mesh"]), res["summary"]
    assert out.n_vertices <= 60 and out.is_closed_manifold() and out.euler_characteristic == 2
    assert s["vertex_budget"] == 60 and s["vertices_before_simplify"] > 60
    assert_planar_faces(out)
    # the same mesh as simplifying the extraction here
    direct = simplify_mesh(extract_level_set(net, 0.0, (-1.0, 1.0), merge_coplanar=True), vertex_budget=60, f=net)
    assert (out.n_vertices, out.n_faces) == (direct.n_vertices, direct.n_faces)
    np.testing.assert_allclose(out.vertices, direct.vertices, atol=1e-12)
    assert s["max_level_error"] == pytest.approx(direct.info["simplify"]["max_level_error"], rel=1e-9)


def test_the_level_set_job_checks_its_simplification_before_extracting(cut):
    net, _ = cut
    model = model_to_json(net, indent=None)
    for extra, match in [({"vertex_budget": 3}, "vertex budget"), ({"vertex_budget": "many"}, "vertex budget"),
                         ({"min_region_area": 2.0}, "minimum region area")]:
        seen = []
        with pytest.raises(NeuralPolyError, match=match):
            run_job("extract_level_set", {"model": model, "bbox": [-1, 1], **extra},
                    progress=lambda f, m: seen.append(f))
        assert seen == []                                  # refused before any extraction
    with pytest.raises(NeuralPolyError, match="not closed in its box"):
        run_job("extract_level_set", {"model": model, "bbox": [-0.3, 0.3], "vertex_budget": 20})


def test_where_libigl_stops_short_face_collapses_meet_the_budget(monkeypatch):
    """libigl refuses collapses that would break the surface and may stop above the budget (seen in
    Blender on a marching-cubes sphere: 32 vertices for a budget of 12). Here its stop is forced at
    30 vertices (it is asked for 2 (30 - 2) faces); the face collapses go on from there."""
    import types

    import igl
    from neuralpoly_core.mesh import edge_collapse
    from neuralpoly_core.mesh.shapes import icosphere
    stopping = types.SimpleNamespace(qslim=lambda V, F, m: igl.qslim(V, F, max(m, 2 * (30 - 2))))
    monkeypatch.setattr(edge_collapse, "igl_module", lambda purpose: stopping)
    ball = icosphere(1.0, 3)
    assert edge_collapse.collapse_edges(ball, 12, strict=False).n_vertices == 30
    with pytest.raises(NeuralPolyError, match="qslim stopped at 30 vertices"):
        edge_collapse.collapse_edges(ball, 12)
    out = simplify_mesh(ball, vertex_budget=12, collapse="edges")
    s = out.info["simplify"]
    assert out.n_vertices <= 12 and s["edge_collapses"] == ball.n_vertices - 30 and s["collapsed"] > 0
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    assert_planar_faces(out)
