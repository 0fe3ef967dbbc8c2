import math

import numpy as np
import pytest

from neuralpoly_core import Activation, ExtractionError, Layer, Network, Output, polytope_network
from neuralpoly_core.polytope.radial import extract_radial, icosphere, radial_function
from neuralpoly_core.polytope.slicing import paper_slice_basis


def superball_volume(p, d=3):
    """Volume of |x1|^p + ... + |xd|^p <= 1 (area for d = 2)."""
    return 2 ** d * math.gamma(1 + 1 / p) ** d / math.gamma(1 + d / p)


def random_unit_rows(n, d, seed):
    W = np.random.default_rng(seed).normal(size=(n, d))
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def tetra_volumes(mesh):
    """Signed volumes of the tetrahedra (0, a, b, c), one per triangle."""
    V, T = mesh.vertices, mesh.corners.reshape(-1, 3)
    return np.einsum("ij,ij->i", V[T[:, 0]], np.cross(V[T[:, 1]], V[T[:, 2]])) / 6.0


def assert_sound_surface(mesh, net):
    """Closed, outward, star-shaped triangle mesh whose vertices all lie on f = 1."""
    assert mesh.dim == 3
    assert np.all(mesh.face_sizes == 3)
    assert mesh.is_closed_manifold()
    assert mesh.euler_characteristic == 2
    assert np.all(tetra_volumes(mesh) > 0)          # no fold: every triangle faces outward
    used = np.zeros(mesh.n_vertices, dtype=bool)
    used[mesh.corners] = True
    assert used.all()
    assert np.max(np.abs(net(mesh.original_coordinates()) - 1.0)) <= 1e-9


# -- the start mesh ---------------------------------------------------------------------
@pytest.mark.parametrize("res", [1, 2, 5, 8])
def test_icosphere_counts_and_orientation(res):
    U, T = icosphere(res)
    assert U.shape == (10 * res ** 2 + 2, 3) and T.shape == (20 * res ** 2, 3)
    assert np.allclose(np.linalg.norm(U, axis=1), 1.0, atol=1e-15)
    det = np.einsum("ij,ij->i", U[T[:, 0]], np.cross(U[T[:, 1]], U[T[:, 2]]))
    assert det.min() > 0
    # closed: every directed edge has its reverse
    e = np.concatenate([T[:, [0, 1]], T[:, [1, 2]], T[:, [2, 0]]])
    fwd = set(map(tuple, e.tolist()))
    assert len(fwd) == len(e) and all((b, a) in fwd for a, b in fwd)


# -- vertices exactly on the level set, closed surfaces ----------------------------------
@pytest.mark.parametrize("p", [0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 10.0])
def test_vertices_on_level_set_one_layer(p):
    net = polytope_network(3, [random_unit_rows(5, 3, 1)], [p])
    mesh = extract_radial(net, resolution=12)
    assert_sound_surface(mesh, net)
    assert mesh.info["degree"] == p


def test_vertices_on_level_set_deep_and_relu():
    rng = np.random.default_rng(3)
    deep = polytope_network(3, [rng.normal(size=(6, 3)), rng.normal(size=(3, 6))], [1.5, 0.8])
    relu = Network(3, [Layer(np.concatenate([np.eye(3), -np.eye(3), rng.normal(size=(2, 3))]), None,
                             Activation("relu"))],
                   Output("linear", np.abs(rng.normal(size=(1, 8))) + 0.1))
    for net in (deep, relu):
        mesh = extract_radial(net, resolution=10, max_refine=2)
        assert_sound_surface(mesh, net)


@pytest.mark.parametrize("seed", range(6))
def test_adaptive_refinement_stays_conforming(seed):
    rng = np.random.default_rng(seed)
    widths = [int(rng.integers(3, 7)) for _ in range(int(rng.integers(1, 3)))]
    ps = [float(rng.choice([0.7, 1.0, 2.5, 8.0])) for _ in widths]
    Ws, n_in = [], 3
    for w in widths:
        Ws.append(rng.normal(size=(w, n_in)))
        n_in = w
    net = polytope_network(3, Ws, ps)
    mesh = extract_radial(net, resolution=int(rng.integers(3, 9)), max_refine=4, angle_tol_deg=8.0)
    assert_sound_surface(mesh, net)
    assert mesh.info["max_level"] <= 4


def test_radial_function_hits_level_set():
    net = polytope_network(3, [random_unit_rows(4, 3, 2)], [0.7])
    U = random_unit_rows(100, 3, 5)
    r = radial_function(net, U)
    assert r.shape == (100,)
    assert np.allclose(net(r[:, None] * U), 1.0, atol=1e-12)


# -- closed forms ------------------------------------------------------------------------
def test_sphere_radius_one_and_volume_converges():
    net = polytope_network(3, [np.eye(3)], [2.0])     # f = x^2 + y^2 + z^2
    errors = []
    for res in (4, 8, 16, 32):
        mesh = extract_radial(net, resolution=res, refine=False)
        assert np.allclose(np.linalg.norm(mesh.vertices, axis=1), 1.0, atol=1e-14)
        assert mesh.f_vector == (10 * res ** 2 + 2, 30 * res ** 2, 20 * res ** 2)
        errors.append(4.0 / 3.0 * math.pi - mesh.volume())
    assert all(e > 0 for e in errors)                 # inscribed
    assert all(b < a / 3.5 for a, b in zip(errors, errors[1:]))   # O(h^2)
    assert errors[-1] / (4.0 / 3.0 * math.pi) < 1e-3


def test_sphere_needs_no_refinement_at_default_resolution():
    net = polytope_network(3, [np.eye(3)], [2.0])
    mesh = extract_radial(net)                        # resolution 32, refine on
    assert mesh.n_vertices == 10 * 32 ** 2 + 2
    assert mesh.info["refine_rounds"] == 0


@pytest.mark.parametrize("p", [0.6, 10.0])
def test_superball_volume(p):
    net = polytope_network(3, [np.eye(3)], [p])       # |x|^p + |y|^p + |z|^p = 1
    mesh = extract_radial(net, resolution=24)
    assert mesh.volume() == pytest.approx(superball_volume(p), rel=5e-3)


def test_octahedron_from_relu_pairs():
    # relu(x) + relu(-x) + ... = |x| + |y| + |z|: the octahedron, volume 4/3
    net = Network(3, [Layer(np.concatenate([np.eye(3), -np.eye(3)]), None, Activation("relu"))])
    mesh = extract_radial(net, resolution=16)
    assert_sound_surface(mesh, net)
    assert mesh.volume() == pytest.approx(4.0 / 3.0, rel=1e-4)
    # the six polytope vertices are mesh vertices (snapped first-layer features)
    for axis in np.concatenate([np.eye(3), -np.eye(3)]):
        assert np.min(np.linalg.norm(mesh.vertices - axis, axis=1)) < 1e-14


# -- spikes ------------------------------------------------------------------------------
def max_midpoint_deviation(mesh, net):
    """Largest distance of a triangle's centroid from the surface, along its ray."""
    V, T = mesh.vertices, mesh.corners.reshape(-1, 3)
    c = V[T].mean(axis=1)
    n = np.linalg.norm(c, axis=1)
    return float(np.max(np.abs(radial_function(net, c / n[:, None]) - n)))


def test_refinement_resolves_spikes():
    net = polytope_network(3, [np.eye(3)], [0.6])     # spikes along the six axes
    axes = np.concatenate([np.eye(3), -np.eye(3)])
    coarse = extract_radial(net, resolution=15, refine=False)
    fine = extract_radial(net, resolution=15)
    assert fine.info["max_level"] == 3

    def near_tips(mesh):
        U = mesh.vertices / np.linalg.norm(mesh.vertices, axis=1, keepdims=True)
        return int(np.sum(np.max(U @ axes.T, axis=1) > math.cos(0.1)))

    assert near_tips(fine) > 10 * near_tips(coarse)
    d_coarse, d_fine = max_midpoint_deviation(coarse, net), max_midpoint_deviation(fine, net)
    # a cusp r ~ 1 - c |angle|^0.6: three halvings shrink the error by about 8^0.6 = 3.5
    assert d_fine < d_coarse / 2.5
    assert abs(fine.volume() - superball_volume(0.6)) < abs(coarse.volume() - superball_volume(0.6))
    # tips are sampled exactly (radius 1 at the axes)
    assert np.max(np.linalg.norm(fine.vertices, axis=1)) == pytest.approx(1.0, abs=1e-12)
    assert_sound_surface(fine, net)


def test_feature_snapping_puts_vertices_on_tips():
    net = polytope_network(3, [np.eye(3)], [0.6])
    # at odd resolution no icosphere vertex lies on an axis
    plain = extract_radial(net, resolution=15, refine=False, snap_features=False)
    snapped = extract_radial(net, resolution=15, refine=False)
    assert np.max(np.linalg.norm(plain.vertices, axis=1)) < 0.9
    assert np.max(np.linalg.norm(snapped.vertices, axis=1)) == pytest.approx(1.0, abs=1e-12)
    assert snapped.info["n_snapped"] == 6
    assert_sound_surface(snapped, net)


# -- region ids ----------------------------------------------------------------------------
def test_region_ids_index_activation_patterns():
    net = polytope_network(3, [random_unit_rows(4, 3, 7)], [1.0])
    mesh = extract_radial(net, resolution=10)
    V, T = mesh.vertices, mesh.corners.reshape(-1, 3)
    pats = net.activation_pattern(V[T].mean(axis=1))
    assert mesh.region_patterns.shape[1] == net.n_neurons
    assert np.array_equal(mesh.region_patterns[mesh.region_ids], pats)
    assert len(np.unique(mesh.region_patterns, axis=0)) == len(mesh.region_patterns)
    # 4 generic planes through the origin cut the sphere into 4*3 + 2 = 14 regions
    assert len(mesh.region_patterns) == 14


# -- 2-D loops -------------------------------------------------------------------------------
def assert_ccw_loop(mesh, net):
    assert mesh.dim == 2 and mesh.n_faces == 1
    assert mesh.face_sizes[0] == mesh.n_vertices
    assert mesh.is_closed_manifold() and mesh.euler_characteristic == 0
    ang = np.unwrap(np.arctan2(mesh.vertices[mesh.corners, 1], mesh.vertices[mesh.corners, 0]))
    assert np.all(np.diff(ang) > 0) and ang[-1] - ang[0] < 2 * math.pi   # once around, CCW
    assert mesh.volume() > 0
    assert np.max(np.abs(net(mesh.vertices) - 1.0)) <= 1e-9


@pytest.mark.parametrize("res", [3, 7, 32, 101])
def test_square_area_exact(res):
    net = polytope_network(2, [np.eye(2)], [1.0])     # |x| + |y| = 1: area 2
    mesh = extract_radial(net, resolution=res)
    assert_ccw_loop(mesh, net)
    assert mesh.volume() == pytest.approx(2.0, abs=1e-14)


def test_circle_area_converges():
    net = polytope_network(2, [np.eye(2)], [2.0])
    errs = []
    for res in (8, 16, 32, 64, 128):
        mesh = extract_radial(net, resolution=res, refine=False)
        assert_ccw_loop(mesh, net)
        assert np.allclose(np.linalg.norm(mesh.vertices, axis=1), 1.0, atol=1e-15)
        errs.append(math.pi - mesh.volume())
    assert all(e > 0 for e in errs)
    assert all(b < a / 3.5 for a, b in zip(errs, errs[1:]))
    refined = extract_radial(net, resolution=16)
    assert math.pi - refined.volume() < errs[1]


@pytest.mark.parametrize("p", [0.6, 0.8, 3.0, 10.0])
def test_2d_area_converges_to_superellipse(p):
    net = polytope_network(2, [np.eye(2)], [p])
    exact = superball_volume(p, d=2)
    err_coarse = abs(extract_radial(net, resolution=32, refine=False).volume() - exact)
    fine = extract_radial(net, resolution=32)
    assert_ccw_loop(fine, net)
    assert abs(fine.volume() - exact) < err_coarse
    assert fine.volume() == pytest.approx(exact, rel=2e-2)
    edge_ids = np.array(fine.info["edge_region_ids"])
    assert len(edge_ids) == fine.n_vertices and fine.region_ids.tolist() == [-1]
    assert len(fine.region_patterns) == 4 == fine.info["n_regions"]
    V = fine.vertices
    mid = 0.5 * (V + np.roll(V, -1, axis=0))
    assert np.array_equal(fine.region_patterns[edge_ids], net.activation_pattern(mid))


def test_2d_refinement_adds_points_near_spikes():
    net = polytope_network(2, [np.eye(2)], [0.6])
    coarse = extract_radial(net, resolution=32, refine=False)
    fine = extract_radial(net, resolution=32)
    assert fine.n_vertices > coarse.n_vertices

    def near_axes(m):
        a = np.mod(np.arctan2(m.vertices[:, 1], m.vertices[:, 0]), math.pi / 2)
        return int(np.sum(np.minimum(a, math.pi / 2 - a) < 0.1))

    assert near_axes(fine) > near_axes(coarse) + 8


# -- slices ----------------------------------------------------------------------------------
def test_slice_of_5d_polytope():
    net = polytope_network(5, [random_unit_rows(8, 5, 11)], [1.0])
    B = paper_slice_basis(5, 3 * math.pi / 10)
    mesh = extract_radial(net, basis=B, resolution=10)
    assert mesh.basis is not None and np.array_equal(mesh.basis, B)
    assert_sound_surface(mesh, net)               # checks f(basis @ y) = 1 in R^5
    direct = extract_radial(net.restrict(B), resolution=10)
    assert np.array_equal(direct.vertices, mesh.vertices)


# -- bad inputs ------------------------------------------------------------------------------
def test_bias_refused():
    net = Network(3, [Layer(np.eye(3), np.array([0.0, 0.1, 0.0]), Activation("abs_pow", p=1.0))])
    with pytest.raises(ExtractionError, match="bias"):
        extract_radial(net)
    head = Network(3, [Layer(np.eye(3), None, Activation("relu"))], Output("linear", np.ones((1, 3)), [0.5]))
    with pytest.raises(ExtractionError, match="output head has a nonzero bias"):
        extract_radial(head)


def test_sigmoid_refused():
    net = Network(3, [Layer(np.eye(3), None, Activation("sigmoid", scale=2.0))])
    with pytest.raises(ExtractionError, match="sigmoid, which is not positively homogeneous"):
        extract_radial(net)


def test_high_dimension_needs_basis():
    net = polytope_network(5, [random_unit_rows(8, 5, 0)], [1.0])
    with pytest.raises(ExtractionError, match="paper_slice_basis"):
        extract_radial(net)
    with pytest.raises(ExtractionError, match=r"shape \(5, 3\)"):
        extract_radial(net, basis=np.eye(4)[:, :3])
    with pytest.raises(ExtractionError, match="linearly dependent"):
        extract_radial(net, basis=np.ones((5, 3)))


def test_nonpositive_direction_named():
    net = Network(3, [Layer(np.eye(3), None, Activation("identity"))])   # f = x + y + z
    with pytest.raises(ExtractionError, match=r"direction u = \(.*\).*< 0"):
        extract_radial(net, resolution=4)
    flat = polytope_network(3, [np.array([[1.0, 0, 0], [0, 1.0, 0]])], [1.0])   # f(e_z) = 0
    with pytest.raises(ExtractionError, match=r"direction u = \(0, 0, [-]?1\).*f\(u\) = 0"):
        extract_radial(flat, resolution=4)
    with pytest.raises(ExtractionError, match=r"direction u = \(0, [-]?1\)"):
        extract_radial(polytope_network(2, [np.array([[1.0, 0.0]])], [1.0]), resolution=8)


def test_slice_error_names_original_direction():
    net = Network(5, [Layer(np.eye(5)[:2], None, Activation("abs_pow", p=1.0))])
    with pytest.raises(ExtractionError, match=r"of the slice \(x = .* in R\^5\)"):
        extract_radial(net, basis=paper_slice_basis(5, 0.3), resolution=4)


@pytest.mark.parametrize("kw, match", [
    ({"resolution": 0}, "resolution"), ({"resolution": 2.5}, "resolution"),
    ({"max_refine": -1}, "max_refine"), ({"angle_tol_deg": 0}, "angle_tol_deg"),
    ({"angle_tol_deg": 180}, "angle_tol_deg"), ({"rel_tol": 0}, "rel_tol"),
])
def test_bad_parameters(kw, match):
    net = polytope_network(3, [np.eye(3)], [1.0])
    with pytest.raises(ExtractionError, match=match):
        extract_radial(net, **kw)


def test_1d_and_small_2d_resolution_refused():
    with pytest.raises(ExtractionError, match="1-D"):
        extract_radial(polytope_network(1, [np.eye(1)], [1.0]))
    with pytest.raises(ExtractionError, match="resolution >= 3"):
        extract_radial(polytope_network(2, [np.eye(2)], [1.0]), resolution=2)
