"""Marching cubes / squares with Newton projection (neuralpoly_core.levelset.marching)."""

import math

import numpy as np
import pytest

from neuralpoly_core.construct.boolean import compile_network, square_donut
from neuralpoly_core.errors import Cancelled, ExtractionError
from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.levelset.marching import extract_marching, project_to_level, value_and_gradient
from neuralpoly_core.network import Activation, Layer, Network, Output, polytope_network

pytest.importorskip("skimage")


def sphere_net(dim):
    """f = |x|^2 (abs_pow p = 2, sum head): the level r^2 is the sphere of radius r."""
    return polytope_network(dim, [np.eye(dim)], [2.0])


def segment_area(mesh):
    s = mesh.corners.reshape(-1, 2)
    v = mesh.vertices
    return 0.5 * float(np.sum(v[s[:, 0], 0] * v[s[:, 1], 1] - v[s[:, 1], 0] * v[s[:, 0], 1]))


def test_sphere_vertices_on_level_set_volume_and_orientation():
    net = sphere_net(3)
    m = extract_marching(net, 0.25, (-1, 1), resolution=48)
    assert m.info["method"] == "marching" and m.info["closed"] and m.is_closed_manifold()
    assert m.euler_characteristic == 2
    assert np.all(m.face_sizes == 3)
    r = np.linalg.norm(m.vertices, axis=1)
    assert np.max(np.abs(r - 0.5)) <= 1e-12           # Newton puts vertices on the sphere
    assert m.info["max_level_error"] <= 1e-12
    # inscribed polyhedron: a little smaller than the ball, positive (outward orientation)
    ball = 4 / 3 * math.pi * 0.125
    assert 0.98 * ball < m.volume() < ball


def test_newton_reduces_the_level_error():
    net = sphere_net(3)
    raw = extract_marching(net, 0.25, (-1, 1), resolution=24, newton_steps=0)
    fixed = extract_marching(net, 0.25, (-1, 1), resolution=24, newton_steps=3)
    assert raw.info["max_level_error"] > 1e-4
    assert fixed.info["max_level_error"] < 1e-10
    assert raw.n_faces == fixed.n_faces


def test_caps_close_the_surface_at_the_box():
    net = sphere_net(3)
    m = extract_marching(net, 0.25, (0, 1), resolution=32, cap=True)      # an eighth of the ball
    assert m.is_closed_manifold() and m.info["cap_faces"] > 0
    assert m.volume() == pytest.approx(4 / 3 * math.pi * 0.125 / 8, rel=0.02)
    open_ = extract_marching(net, 0.25, (0, 1), resolution=32)
    assert not open_.info["closed"] and open_.info["cap_faces"] == 0


def test_2d_circle_segments_and_caps():
    net = sphere_net(2)
    m = extract_marching(net, 0.25, (-1, 1), resolution=64)
    assert np.all(m.face_sizes == 2) and m.is_closed_manifold()
    assert np.max(np.abs(np.linalg.norm(m.vertices, axis=1) - 0.5)) <= 1e-12
    assert segment_area(m) == pytest.approx(math.pi * 0.25, rel=2e-3)       # inside on the left
    q = extract_marching(net, 0.25, (0, 1), resolution=64, cap=True)
    assert q.is_closed_manifold()
    assert segment_area(q) == pytest.approx(math.pi * 0.25 / 4, rel=2e-3)


def test_inside_above_reverses_orientation():
    net = sphere_net(3)
    below = extract_marching(net, 0.25, (-1, 1), resolution=20)
    above = extract_marching(net, 0.25, (-1, 1), resolution=20, inside="above")
    assert below.volume() > 0 > above.volume()
    assert below.volume() == pytest.approx(-above.volume(), rel=1e-3)


def test_piecewise_linear_net_matches_exact_extraction():
    net = compile_network(square_donut(2))
    exact = extract_level_set(net, 0.0, (0, 1))
    mc = extract_level_set(net, 0.0, (0, 1), method="marching", resolution=128)
    assert segment_area(mc) == pytest.approx(segment_area(exact), abs=2e-3)
    assert mc.info["max_level_error"] < 1e-9


def test_soft_boolean_net_with_sigmoids():
    net = compile_network(square_donut(2), sharpness=80.0)
    m = extract_level_set(net, 0.0, (0, 1), method="marching", resolution=96, cap=True)
    assert m.is_closed_manifold()
    assert segment_area(m) == pytest.approx(0.48, abs=0.03)
    assert m.info["max_level_error"] < 1e-12
    assert m.info["regions_crossed"] == len(m.region_patterns) > 0


@pytest.mark.parametrize("act", [Activation("relu"), Activation("abs_pow", p=1.0),
                                 Activation("abs_pow", p=1.7), Activation("sigmoid", scale=3.0),
                                 Activation("identity")])
def test_gradient_matches_finite_differences(act):
    rng = np.random.default_rng(0)
    net = Network(3, [Layer(rng.normal(size=(6, 3)), rng.normal(size=6), act),
                      Layer(rng.normal(size=(4, 6)), rng.normal(size=4), Activation("sigmoid", scale=1.5))],
                  Output("linear", rng.normal(size=(1, 4)), np.array([0.2])))
    X = rng.uniform(-1, 1, (20, 3))
    f, g = value_and_gradient(net, X)
    assert np.allclose(f, net(X))
    h = 1e-6
    fd = np.stack([(net(X + h * e) - net(X - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    assert np.allclose(g, fd, atol=1e-6)


def test_project_to_level_keeps_fixed_coordinates():
    net = sphere_net(3)
    lo, hi = np.full(3, -1.0), np.full(3, 1.0)
    Y, err = project_to_level(net, [[0.6, 0.0, 0.0]], 0.5, lo, hi, steps=8)
    assert err.max() < 1e-12 and np.linalg.norm(Y[0]) == pytest.approx(math.sqrt(0.5))
    # on the side x = 1 the point may only move within the side: 1 + y^2 + z^2 = 1.1
    fixed = np.array([[True, False, False]])
    Y, err = project_to_level(net, [[1.0, 0.1, 0.1]], 1.1, lo, hi, steps=8, fixed_axes=fixed)
    assert err.max() < 1e-12 and Y[0, 0] == 1.0


def test_empty_and_errors():
    net = sphere_net(3)
    empty = extract_marching(net, 5.0, (-1, 1), resolution=8)
    assert empty.n_faces == 0 and empty.n_vertices == 0
    with pytest.raises(ExtractionError, match="resolution"):
        extract_marching(net, 0.25, (-1, 1), resolution=1)
    with pytest.raises(ExtractionError, match="resolution"):
        extract_marching(net, 0.25, (-1, 1), resolution=64.5)
    with pytest.raises(ExtractionError, match="newton_steps"):
        extract_marching(net, 0.25, (-1, 1), newton_steps=-1)
    with pytest.raises(Cancelled):
        extract_marching(net, 0.25, (-1, 1), resolution=16, progress=lambda f: False)
