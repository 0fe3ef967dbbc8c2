"""Kim's trilinear method with the Thm 4.7 correction (levelset/trilinear.py) on hand-made nets."""

import json

import numpy as np
import pytest

from neuralpoly_core.cli import main
from neuralpoly_core.errors import ExtractionError
from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.levelset.exact import extract_level_set_exact
from neuralpoly_core.levelset.trilinear import SurfaceTable, edge_roots, surface_points
from neuralpoly_core.network.encoding import HashGridEncoding
from neuralpoly_core.network.model import Activation, Layer, Network, Output
from neuralpoly_core.network.modelfile import save_model

# corner values of one trilinear cell, corner i = (bit 0, bit 1, bit 2) of i on (x, y, z)
P = np.array([-0.5, 0.3, 0.2, 0.6, 0.1, 0.5, 0.4, 0.9])
Q = np.array([0.35, -0.3, 0.45, -0.25, 0.3, -0.4, 0.2, -0.15])
# nearly affine corner values (Kim's regime: eikonal training makes the cells nearly flat)
BITS = (np.arange(8)[:, None] >> np.arange(3)) & 1
P2 = -0.5 + BITS @ [0.5, 0.4, 0.45] + 0.08 * np.array([0, 0, 0, 1, 0, -1, 1, 0])
Q2 = 0.35 + BITS @ [-0.6, 0.1, -0.1] + 0.06 * np.array([0, 1, 0, 0, -1, 0, 0, 1])


def one_cell_net(tables, W=None, b=None, act="identity", out=None):
    """One trilinear cell over [-1, 1]^3 (resolution 1, dense table: row = corner index)."""
    tables = np.atleast_2d(tables)
    enc = HashGridEncoding([1], len(tables), 4096, [[-1.0] * 3, [1.0] * 3], "trilinear",
                           [np.asarray(tables, float).T])
    W = np.eye(len(tables))[:1] if W is None else W
    return Network(3, [Layer(W, b, Activation(act))], out or Output("sum"), enc)


def unit(X):
    return (X + 1.0) / 2.0


def test_corrected_vertex_is_the_true_root_where_linear_interpolation_is_not():
    net = one_cell_net(P)
    planar = extract_level_set(net, 0.0, (-1, 1), method="trilinear", cap=True, trilinear_correction="none")
    fixed = extract_level_set(net, 0.0, (-1, 1), method="trilinear", cap=True)
    assert fixed.info["trilinear_correction"] == "surfaces"
    assert (planar.n_vertices, planar.n_faces) == (fixed.n_vertices, fixed.n_faces)
    assert np.array_equal(planar.corners, fixed.corners)
    for m in (planar, fixed):
        assert m.info["watertight"] and m.info["closed"] and m.euler_characteristic == 2
    assert fixed.info["planar_level_error"] == pytest.approx(planar.info["max_level_error"])
    assert planar.info["max_level_error"] > 1e-3
    assert fixed.info["max_level_error"] <= 1e-12
    # on the cube's body diagonal (Kuhn's diagonal) f is the cubic Bezier of P0, P1+P2+P4,
    # P3+P5+P6, P7: the corrected vertex is its root in (0, 1), the planar one is not
    U = unit(fixed.vertices)
    on_diag = np.nonzero((np.ptp(U, axis=1) < 1e-12) & (U[:, 0] > 1e-9) & (U[:, 0] < 1 - 1e-9))[0]
    assert len(on_diag) == 1
    g = [P[0], P[1] + P[2] + P[4], P[3] + P[5] + P[6], P[7]]
    bern = np.polynomial.Polynomial([g[0], -3 * g[0] + g[1], 3 * g[0] - 2 * g[1] + g[2],
                                     -g[0] + g[1] - g[2] + g[3]])
    roots = [r.real for r in bern.roots() if abs(r.imag) < 1e-12 and 0 < r.real < 1]
    assert len(roots) == 1
    assert abs(U[on_diag[0], 0] - roots[0]) < 1e-12
    assert abs(unit(planar.vertices)[on_diag[0], 0] - roots[0]) > 1e-3
    assert abs(float(net(fixed.vertices[on_diag])[0])) < 1e-12


def test_grid_aligned_edges_are_unchanged():
    net = one_cell_net(P)
    planar = extract_level_set(net, 0.0, (-1, 1), method="trilinear", trilinear_correction="none")
    for mode in ("edge", "surfaces"):
        fixed = extract_level_set(net, 0.0, (-1, 1), method="trilinear", trilinear_correction=mode)
        # vertices on the cube's edges: two coordinates on the box (f is linear along them)
        onbox = (np.abs(np.abs(planar.vertices) - 1.0) < 1e-14).sum(axis=1) >= 2
        assert onbox.sum() == 3                       # the three edges at the one negative corner
        assert np.abs(fixed.vertices[onbox] - planar.vertices[onbox]).max() <= 1e-15
        assert np.abs(net(planar.vertices[onbox])).max() <= 1e-15
        assert np.abs(net(fixed.vertices)).max() <= 1e-12


def test_vertices_go_onto_the_curved_neuron_faces():
    # f = relu(p) + relu(q) = 0.2: the level set bends along the curved zero set of q
    net = one_cell_net([P2, Q2], np.eye(2), np.zeros(2), "relu", Output("sum"))
    c = 0.2
    modes = {m: extract_level_set_exact(net, c, (-1, 1), trilinear=True, cap=True, trilinear_correction=m)
             for m in ("none", "edge", "kim", "surfaces")}
    base = modes["none"]
    for m in modes.values():
        assert (m.n_vertices, m.n_faces) == (base.n_vertices, base.n_faces)
        assert m.info["watertight"] and m.info["closed"]
    s, e = modes["surfaces"], modes["edge"]
    assert s.info["uncorrected_vertices"] == 0 and s.info["corrected_vertices"] > 0
    assert s.info["max_level_error"] <= 1e-12 and e.info["max_level_error"] <= 1e-12
    assert base.info["max_level_error"] > 1e-3
    assert s.info["max_surface_error"] <= 1e-12
    # vertices on the face q = 0: exactly on it with 'surfaces', off it on the straight edge
    zq_s = np.abs(net.preactivations(s.vertices)[0][:, 1])
    zq_e = np.abs(net.preactivations(e.vertices)[0][:, 1])
    on_q = zq_s < 1e-12
    assert on_q.sum() >= 3
    assert zq_e[on_q].max() > 1e-4
    # Kim's own Thm 4.7 (the diagonal-plane quartic, in the planar vertex's activation region):
    # on the face q = 0 and on f = c, here exactly (both are trilinear on the edge's box)
    k = modes["kim"]
    assert k.info["corrected_vertices"] >= 3 and k.info["max_level_error"] <= 1e-12
    assert (np.abs(net.preactivations(k.vertices)[0][:, 1]) < 1e-12).sum() >= on_q.sum() - 1


def test_surface_points_meet_a_plane_a_curved_neuron_and_the_level():
    net = one_cell_net([P, Q], np.eye(2), np.zeros(2), "relu", Output("sum"))
    table = SurfaceTable(net, [-1.0] * 3, [1.0] * 3, {})
    # label 5: the box side z = 1; label 6 + 1: the zero set of neuron 1 (q)
    X0 = np.array([[0.1, 0.3, 0.99]])
    X, ok, res = surface_points(net, 0.3, X0, np.array([[5, 7]]), table, np.array([4.0]))
    assert ok[0] and res[0] < 1e-14
    assert abs(X[0, 2] - 1.0) < 1e-15
    assert abs(net.preactivations(X)[0][0, 1]) < 1e-14 and abs(net(X)[0] - 0.3) < 1e-14
    # the straight-edge root of a bracketed edge
    A, B = np.array([[-1.0, -1.0, -1.0]]), np.array([[1.0, 1.0, 1.0]])
    t, ok = edge_roots(net, 0.3, A, B, np.array([0.5]))
    assert ok[0] and abs(net(A + t[:, None] * (B - A))[0] - 0.3) < 1e-14


def test_correction_option_is_checked_and_only_for_trilinear_nets():
    net = one_cell_net(P)
    with pytest.raises(ExtractionError, match="trilinear_correction must be one of"):
        extract_level_set(net, 0.0, (-1, 1), method="trilinear", trilinear_correction="thm47")
    m = extract_level_set_exact(net, 0.0, (-1, 1), trilinear=True, trilinear_correction=False)
    assert m.info["trilinear_correction"] == "none" and m.info["max_level_error"] > 1e-3


def test_cli_extract_reports_both_errors(tmp_path, capsys):
    path = tmp_path / "cell.json"
    save_model(one_cell_net(P), path)
    out = {}
    for flag in ([], ["--no-kim-correction"], ["--trilinear-correction", "edge"]):
        code = main(["extract", str(path), "--bbox", "-1", "1", "--method", "trilinear", "--json", *flag])
        assert code == 0
        s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        out[s["trilinear_correction"]] = s
    assert set(out) == {"surfaces", "none", "edge"}
    assert out["surfaces"]["max_level_error"] <= 1e-12 < 1e-3 < out["none"]["max_level_error"]
    assert out["surfaces"]["planar_level_error"] == pytest.approx(out["none"]["max_level_error"])
    assert out["none"]["flatness_error"] == out["surfaces"]["flatness_error"] > 0.01
