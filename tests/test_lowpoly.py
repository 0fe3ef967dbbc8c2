"""Neural low-poly: shapes, libigl ground truth, metrics, placement, fitting, CLI and job."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, NeuralPolyError, Output
from neuralpoly_core.jobs import read_mesh_npz, run_job
from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.files import export_mesh, read_mesh
from neuralpoly_core.mesh.sdf import mesh_problems, signed_distance, surface_metrics, training_samples, winding_number
from neuralpoly_core.mesh.shapes import box_with_hole, icosphere, torus, uv_sphere
from neuralpoly_core.network.modelfile import (load_model_placed, load_model_with_meta, model_from_json_placed,
                                               model_to_json, save_model)
from neuralpoly_core.network.placement import Placement
from neuralpoly_core.training import torch_available

needs_torch = pytest.mark.skipif(not torch_available(), reason="needs torch")
CENTER = np.array([3.0, -1.0, 2.0])
RADIUS = 0.7


def open_sphere() -> PolyMesh:
    """An icosphere with one triangle removed (boundary edges: not a closed manifold)."""
    m = icosphere(1.0, 6)
    return PolyMesh(m.vertices, m.corners[3:], m.face_sizes[1:])


# -- shapes ------------------------------------------------------------------------------
@pytest.mark.parametrize("mesh, chi, v, f", [
    (uv_sphere(1.0, 12, 6), 2, 12 * 5 + 2, 72), (icosphere(1.0, 4), 2, 162, 320),
    (torus(1.0, 0.3, 20, 10), 0, 200, 200), (box_with_hole(), 0, 16, 16)])
def test_shapes_are_closed_manifolds_of_known_euler_characteristic(mesh, chi, v, f):
    assert (mesh.n_vertices, mesh.n_faces, mesh.euler_characteristic) == (v, f, chi)
    assert mesh.is_closed_manifold() and mesh.volume() > 0 and mesh_problems(mesh) == []


def test_shape_volumes_have_their_closed_forms():
    assert box_with_hole(1.0, 0.45, 0.5).volume() == pytest.approx(8 * (1 - 0.45 ** 2) * 0.5, abs=1e-12)
    assert torus(1.0, 0.3, 200, 100).volume() == pytest.approx(2 * math.pi ** 2 * 0.09, rel=1e-3)
    assert icosphere(2.0, 32).volume() == pytest.approx(4 / 3 * math.pi * 8, rel=2e-3)
    with pytest.raises(NeuralPolyError, match="smaller than the box"):
        box_with_hole(1.0, 1.0)
    with pytest.raises(NeuralPolyError, match="minor radius"):
        torus(1.0, 2.0)


# -- ground truth ------------------------------------------------------------------------
def test_sphere_sdf_of_libigl_matches_the_closed_form_within_the_faceting_error():
    mesh = icosphere(RADIUS, 12, center=CENTER)
    V, T = mesh.vertices - CENTER, mesh.triangulate()
    n = np.cross(V[T[:, 1]] - V[T[:, 0]], V[T[:, 2]] - V[T[:, 0]])
    inradius = np.min(np.abs(np.einsum("ij,ij->i", n / np.linalg.norm(n, axis=1, keepdims=True), V[T[:, 0]])))
    faceting = RADIUS - inradius                       # the farthest the mesh gets from the sphere
    P = CENTER + np.random.default_rng(0).uniform(-1.5, 1.5, (5000, 3))
    exact = np.linalg.norm(P - CENTER, axis=1) - RADIUS
    d = signed_distance(P, mesh)
    assert np.max(np.abs(d - exact)) <= faceting + 1e-12
    assert np.all(np.sign(d[np.abs(exact) > faceting]) == np.sign(exact[np.abs(exact) > faceting]))


def test_the_sign_of_an_open_mesh_follows_the_winding_number():
    mesh = open_sphere()
    assert any("boundary edges" in p for p in mesh_problems(mesh))
    P = np.array([[0.0, 0, 0], [0.2, -0.1, 0.3], [2.0, 0, 0], [0, 0, -3.0]])
    w = winding_number(P, mesh)
    assert np.all(w[:2] > 0.9) and np.all(np.abs(w[2:]) < 0.1)
    d = signed_distance(P, mesh)
    assert np.all(d[:2] < 0) and np.all(d[2:] > 0)


def test_surface_metrics_of_concentric_spheres():
    a, b = icosphere(1.0, 24), icosphere(1.2, 24)
    same = surface_metrics(a, a, 20_000, seed=1)
    assert same["chamfer"] < 1e-12 and same["hausdorff"] < 1e-12
    assert same["normal_consistency"] == pytest.approx(1.0, abs=1e-12)
    m = surface_metrics(a, b, 20_000, seed=1)
    assert m["chamfer"] == pytest.approx(0.2, abs=4e-3) and m["hausdorff"] == pytest.approx(0.2, abs=8e-3)
    assert m["chamfer_rel"] == pytest.approx(m["chamfer"] / m["bbox_diagonal"])
    assert m["bbox_diagonal"] == pytest.approx(2 * math.sqrt(3), rel=1e-2)
    assert m["normal_consistency"] > 0.999
    assert (m["vertices_a"], m["faces_b"]) == (a.n_vertices, b.n_faces)


def test_training_samples_are_seeded_and_consistent():
    mesh = torus(1.0, 0.3, 30, 15)
    s = training_samples(mesh, 500, 900, 300, seed=3)
    assert s.surface.shape == (500, 3) and s.points.shape == (1200, 3) and s.sdf.shape == (1200,)
    np.testing.assert_allclose(np.linalg.norm(s.normals, axis=1), 1.0)
    assert np.max(np.abs(signed_distance(s.surface, mesh))) < 1e-12
    np.testing.assert_array_equal(s.sdf, training_samples(mesh, 500, 900, 300, seed=3).sdf)
    t = s.transformed(2.0, [1.0, 0, 0])
    np.testing.assert_allclose(t.points * 2.0 + [1.0, 0, 0], s.points)
    np.testing.assert_allclose(t.sdf * 2.0, s.sdf)


# -- placement and model files -----------------------------------------------------------
def test_placement_round_trip_and_model_file(tmp_path):
    V = icosphere(RADIUS, 4, center=CENTER).vertices
    p = Placement.fit(V, (-1.0, 1.0), margin=0.1)
    x = p.to_network(V)
    np.testing.assert_allclose((x.max(axis=0) + x.min(axis=0)) / 2, 0.0, atol=1e-12)
    assert np.max(x.max(axis=0) - x.min(axis=0)) == pytest.approx(2 * (1 - 2 * 0.1))
    np.testing.assert_allclose(p.to_world(x), V, atol=1e-12)
    net = Network(3, [Layer(np.eye(3), np.zeros(3), Activation("relu"))], Output("linear", np.ones((1, 3)), np.zeros(1)))
    path = save_model(net, tmp_path / "m.json", meta={"type": "relu:1x3"}, placement=p)
    net2, meta, p2 = load_model_placed(path)
    assert p2 == p and meta["type"] == "relu:1x3"
    np.testing.assert_array_equal(net2.layers[0].weight, net.layers[0].weight)
    assert load_model_with_meta(path)[1] == meta                 # old readers: placement ignored
    plain = model_to_json(net)                                  # files without it: as before
    assert "placement" not in json.loads(plain) and model_from_json_placed(plain)[2] is None
    with pytest.raises(NeuralPolyError, match="scale"):
        model_from_json_placed(model_to_json(net)[:-1] + ', "placement": {"scale": -1, "offset": [0, 0, 0]}}')
    with pytest.raises(NeuralPolyError, match="single point"):
        Placement.fit(np.ones((4, 3)))


# -- fitting -----------------------------------------------------------------------------
def test_net_specs():
    from neuralpoly_core.training.lowpoly import parse_net_spec
    s = parse_net_spec("relu:8x32")
    assert (s.kind, s.depth, s.width, s.text) == ("relu", 8, 32, "relu:8x32")
    h = parse_net_spec("hashgrid:simplex,levels=4,res=4-32,mlp=2x16")
    assert (h.kind, h.levels, h.min_resolution, h.max_resolution, h.depth, h.width) == ("hashgrid", 4, 4, 32, 2, 16)
    with pytest.raises(NeuralPolyError, match="hash-grid"):
        parse_net_spec("hashgrid:8x2")
    for bad in ("relu:8", "tanh:2x3", "relu:0x4", 5):
        with pytest.raises(NeuralPolyError):
            parse_net_spec(bad)


@needs_torch
@pytest.mark.parametrize("mesh, kw, match", [
    (PolyMesh(np.zeros((0, 3)), [], []), {"steps": 5}, "empty"),
    (PolyMesh(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0.0]]), [0, 1, 2], [3]), {"steps": 5}, "flat"),
    (PolyMesh(np.array([[0, 0, np.nan], [1, 0, 0], [0, 1, 0.0], [0, 0, 1.0]]), [0, 1, 2, 0, 2, 3], [3, 3]),
     {"steps": 5}, "NaN"),
    (icosphere(1.0, 2), {"seconds": 0}, "time budget"),
    (icosphere(1.0, 2), {}, "seconds"),
])
def test_bad_input_is_refused(mesh, kw, match):
    from neuralpoly_core.training.lowpoly import fit_mesh_sdf
    with pytest.raises(NeuralPolyError, match=match):
        fit_mesh_sdf(mesh, "relu:2x8", **kw)


@pytest.fixture(scope="module")
def sphere_fit():
    from neuralpoly_core.training.lowpoly import fit_and_extract
    mesh = icosphere(RADIUS, 12, center=CENTER)
    return (mesh,) + fit_and_extract(mesh, "relu:2x32", steps=500, seed=1, samples=20_000)


@needs_torch
def test_a_fitted_sphere_lands_where_the_input_was(sphere_fit):
    mesh, fit, out, summary = sphere_fit
    assert fit.facts["steps"] == 500 and fit.facts["restarts"] == 0
    assert summary["chamfer_rel"] < 0.004 and summary["max_level_error"] < 1e-9
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    r = np.linalg.norm(out.vertices - CENTER, axis=1)             # world coordinates
    assert np.all(np.abs(r - RADIUS) < 0.1 * RADIUS) and np.mean(np.abs(r - RADIUS)) < 0.01 * RADIUS
    assert (summary["vertices"], summary["faces"]) == (out.n_vertices, out.n_faces)


@needs_torch
@pytest.mark.parametrize("interpolation, method", [("simplex", "exact"), ("trilinear", "trilinear")])
def test_a_hash_grid_fit_extracts_a_closed_surface_where_the_input_was(interpolation, method):
    from neuralpoly_core.training.lowpoly import fit_and_extract
    mesh = icosphere(RADIUS, 8, center=CENTER)
    spec = f"hashgrid:{interpolation},levels=2,features=2,table=10,res=4-8,mlp=1x16"
    fit, out, summary = fit_and_extract(mesh, spec, steps=600, seed=0, samples=20_000, method=method)
    assert fit.network.encoding is not None and fit.network.encoding.interpolation == interpolation
    assert out.is_closed_manifold() and out.euler_characteristic == 2
    if method == "exact":                                        # simplex grids: exactly piecewise linear
        assert summary["max_level_error"] < 1e-9
    else:                                    # trilinear: Kim's method, vertices corrected (Thm 4.7)
        assert summary["trilinear_correction"] == "surfaces" and summary["uncorrected_vertices"] == 0
        assert summary["max_level_error"] < 1e-9 < summary["planar_level_error"]
        assert summary["flatness_error"] > 0
    r = np.linalg.norm(out.vertices - CENTER, axis=1)
    assert np.mean(np.abs(r - RADIUS)) < 0.05 * RADIUS


@needs_torch
def test_fits_are_reproducible_by_seed():
    from neuralpoly_core.training.lowpoly import fit_mesh_sdf
    mesh = torus(1.0, 0.35, 24, 12)
    a, b, c = (fit_mesh_sdf(mesh, "relu:2x8", steps=60, seed=s, n_samples=3000, batch=256) for s in (2, 2, 3))
    np.testing.assert_array_equal(a.network.layers[1].weight, b.network.layers[1].weight)
    assert not np.array_equal(a.network.layers[1].weight, c.network.layers[1].weight)
    timed = fit_mesh_sdf(mesh, "relu:2x8", seconds=1.0, seed=2, n_samples=3000, batch=256)
    if not timed.facts["stopped_early"]:                        # a time budget fixes a step count
        again = fit_mesh_sdf(mesh, "relu:2x8", steps=timed.facts["steps"], seed=2, n_samples=3000, batch=256)
        np.testing.assert_array_equal(timed.network.layers[1].weight, again.network.layers[1].weight)
        assert timed.facts["steps"] % 4 == 0


@needs_torch
def test_collapse_is_detected_and_restarted(monkeypatch):
    from neuralpoly_core.training import lowpoly
    const = Network(3, [Layer(np.eye(3), np.ones(3), Activation("relu"))], Output("linear", np.zeros((1, 3)), np.ones(1)))
    assert not lowpoly.sign_changes(const)
    calls = []
    monkeypatch.setattr(lowpoly, "sign_changes", lambda net: calls.append(1) and False)
    with pytest.raises(NeuralPolyError, match="collapsed 3 times"):
        lowpoly.fit_mesh_sdf(icosphere(1.0, 3), "relu:2x8", steps=3, restarts=2, n_samples=3000, batch=64)
    assert len(calls) == 3


@needs_torch
def test_a_non_manifold_mesh_works_with_a_warning():
    from neuralpoly_core.training.lowpoly import fit_mesh_sdf
    with pytest.warns(UserWarning, match="boundary edges"):
        r = fit_mesh_sdf(open_sphere(), "relu:2x16", steps=200, n_samples=3000, batch=256)
    assert r.facts["warnings"] and r.facts["steps"] == 200


# -- CLI and job -------------------------------------------------------------------------
@needs_torch
def test_cli_fit(tmp_path, capsys):
    from neuralpoly_core.cli.main import main
    src = export_mesh(icosphere(RADIUS, 8, center=CENTER), tmp_path / "ball.obj")
    out, model = tmp_path / "lp.obj", tmp_path / "lp.json"
    args = [str(src), "--net", "relu:2x16", "--steps", "150", "--samples", "5000", "--out", str(out),
            "--model-out", str(model), "--json"]
    assert main(["fit"] + args) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("chamfer", "hausdorff", "vertices", "faces", "train_seconds", "extract_seconds", "max_level_error"):
        assert key in s
    assert out.exists() and load_model_placed(model)[2] is not None
    again = tmp_path / "again.obj"                              # re-extraction lands in the same place
    assert main(["extract", str(model), "--out", str(again)]) == 0
    a, b = read_mesh(out), read_mesh(again)
    assert (a.n_vertices, a.n_faces) == (b.n_vertices, b.n_faces) == (s["vertices"], s["faces"])
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)
    assert main(["fit", str(src), "--seconds", "0", "--out", str(tmp_path / "x.obj")]) == 2
    assert main(["fit", str(src), "--net", "hashgrid:4", "--steps", "5"]) == 2
    assert main(["fit", str(tmp_path / "missing.obj"), "--steps", "5"]) == 2
    assert main(["fit", str(src), "--steps", "5", "--out", str(tmp_path / "no" / "x.obj")]) == 2
    err = capsys.readouterr().err
    assert "time budget" in err and "hash-grid" in err and "does not exist" in err
    assert not (tmp_path / "x.obj").exists()


@needs_torch
@pytest.mark.parametrize("interpolation, method", [("simplex", "exact"), ("trilinear", "trilinear")])
def test_cli_fit_with_a_hash_grid(tmp_path, capsys, interpolation, method):
    """The README's ``fit --net hashgrid:...`` runs end to end (the parsed spec is not parsed again)."""
    from neuralpoly_core.cli.main import main
    src = export_mesh(icosphere(RADIUS, 8, center=CENTER), tmp_path / "ball.obj")
    out, model = tmp_path / "lp.obj", tmp_path / "lp.json"
    spec = f"hashgrid:{interpolation},levels=2,features=2,table=10,res=4-8,mlp=1x16"
    assert main(["fit", str(src), "--net", spec, "--steps", "600", "--samples", "5000", "--method", method,
                 "--out", str(out), "--model-out", str(model), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    mesh = read_mesh(out)
    assert (mesh.n_vertices, mesh.n_faces) == (s["vertices"], s["faces"]) and s["vertices"] > 0
    assert s["method"] == method and load_model_placed(model)[2] is not None
    assert mesh.is_closed_manifold() and mesh.euler_characteristic == 2       # one closed sphere-like surface


@needs_torch
def test_fit_sdf_job(tmp_path):
    src = export_mesh(box_with_hole(), tmp_path / "frame.obj")
    res = run_job("fit_sdf", {"mesh": str(src), "net": "relu:2x16", "steps": 80, "samples": 5000,
                              "output": str(tmp_path / "out.npz")})
    mesh = read_mesh_npz(res["mesh"])
    assert mesh.n_faces == res["summary"]["faces"] > 0
    assert model_from_json_placed(res["model"])[2] is not None
    with pytest.raises(NeuralPolyError, match="unknown arguments"):
        run_job("fit_sdf", {"mesh": str(src), "epochs": 3})


# -- simplification ----------------------------------------------------------------------
@needs_torch
def test_a_fitted_sphere_simplified_to_a_vertex_budget(sphere_fit):
    from neuralpoly_core.training.lowpoly import simplify_fitted
    mesh, fit, out, summary = sphere_fit
    budget = out.n_vertices // 4
    small = simplify_fitted(fit, out, vertex_budget=budget)
    s = small.info["simplify"]
    assert small.n_vertices <= budget and small.is_closed_manifold() and small.euler_characteristic == 2
    err = np.abs(fit.network(fit.placement.to_network(small.vertices)).ravel())
    assert s["max_level_error"] == pytest.approx(float(err.max()), rel=1e-9)      # honest, network units
    assert s["max_level_error_before"] < 1e-9 < s["max_level_error"] < 0.1
    r = np.linalg.norm(small.vertices - CENTER, axis=1)                              # still where the input was
    assert np.mean(np.abs(r - RADIUS)) < 0.02 * RADIUS
    m = surface_metrics(mesh, small, 20_000, seed=1)
    assert m["chamfer_rel"] < 2.5 * summary["chamfer_rel"]


@needs_torch
def test_cli_fit_with_a_vertex_budget(tmp_path, capsys):
    from neuralpoly_core.cli.main import main
    src = export_mesh(icosphere(RADIUS, 8, center=CENTER), tmp_path / "ball.obj")
    out, model = tmp_path / "lp.obj", tmp_path / "lp.json"
    assert main(["fit", str(src), "--net", "relu:2x16", "--steps", "150", "--samples", "5000", "--vertex-budget",
                 "30", "--out", str(out), "--model-out", str(model), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["vertices"] <= 30 < s["vertices_before_simplify"] and s["chamfer_before_simplify"] > 0
    lp = read_mesh(out)
    assert (lp.n_vertices, lp.n_faces) == (s["vertices"], s["faces"]) and lp.is_closed_manifold()
    net, _, placement = load_model_placed(model)                 # max_level_error is that of the written mesh
    assert float(np.max(np.abs(net(placement.to_network(lp.vertices))))) == pytest.approx(
        s["max_level_error"], rel=1e-3, abs=1e-6)
    again = tmp_path / "again.obj"                               # the extract command simplifies the same way
    assert main(["extract", str(model), "--vertex-budget", "30", "--out", str(again), "--json"]) == 0
    e = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert e["vertices"] == s["vertices"] and e["vertices_before_simplify"] == s["vertices_before_simplify"]
    np.testing.assert_allclose(read_mesh(again).vertices, lp.vertices, atol=1e-6)
    assert s["collapse"] == e["collapse"] == "edges"             # libigl is installed here
    faces = tmp_path / "faces.obj"
    assert main(["extract", str(model), "--vertex-budget", "30", "--collapse", "faces", "--out", str(faces),
                 "--json"]) == 0
    e = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert e["collapse"] == "faces" and e["vertices"] <= 30 and read_mesh(faces).is_closed_manifold()
    assert main(["fit", str(src), "--steps", "5", "--vertex-budget", "3"]) == 2
    assert "vertex budget" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["extract", str(model), "--vertex-budget", "30", "--collapse", "vertices"])
    assert exit_.value.code == 2 and "--collapse: invalid choice" in capsys.readouterr().err


@needs_torch
def test_fit_sdf_job_with_a_vertex_budget(tmp_path):
    src = export_mesh(icosphere(RADIUS, 8, center=CENTER), tmp_path / "ball.obj")
    res = run_job("fit_sdf", {"mesh": str(src), "net": "relu:2x16", "steps": 150, "samples": 5000,
                              "vertex_budget": 24, "output": str(tmp_path / "out.npz")})
    mesh = read_mesh_npz(res["mesh"])
    assert mesh.n_vertices == res["summary"]["vertices"] <= 24 < res["summary"]["vertices_before_simplify"]
