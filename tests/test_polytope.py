"""Exact extraction of piecewise-linear neural polytopes (neuralpoly_core.polytope)."""

import math

import numpy as np
import pytest

from neuralpoly_core.errors import ExtractionError
from neuralpoly_core.network import Activation, Layer, Network, Output, polytope_network
from neuralpoly_core.polytope import exact_extraction_issue, extract_polytope_exact, max_level_error
from neuralpoly_core.polytope.slicing import paper_slice_basis

PHI = (1 + 5 ** 0.5) / 2
CUBE_DIAGONALS = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [1, -1, -1]], dtype=float)
FIVE_FOLD_AXES = np.array([[0, 1, PHI], [0, 1, -PHI], [1, PHI, 0], [1, -PHI, 0],
                           [PHI, 0, 1], [-PHI, 0, 1]])


def fibonacci_sphere(n):
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(1 - z * z)
    a = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([r * np.cos(a), r * np.sin(a), z], axis=1)


SPHERE = fibonacci_sphere(40000)


def net1(W, dim=3):
    return polytope_network(dim, [np.asarray(W, dtype=float)], [1])


def assert_valid_polytope(net, mesh, level_tol=1e-9, plane_tol=1e-9):
    """Closed manifold sphere, vertices on f = 1, planar faces lying on the level set,
    oriented outward."""
    assert mesh.dim == 3
    assert mesh.is_closed_manifold()
    assert mesh.euler_characteristic == 2
    assert max_level_error(net, mesh) <= level_tol
    v = mesh.vertices
    normals = mesh.face_normals()
    for fi, face in enumerate(mesh.faces):
        d = v[face] @ normals[fi]
        assert np.ptp(d) <= plane_tol, f"face {fi} not planar: {np.ptp(d)}"
        # outward: the face plane is g . x = 1 with g along the outward normal
        assert d.mean() > 0
    # every triangle of every face lies on the level set (f affine on each face)
    tri = mesh.triangulate()
    pts = mesh.vertices[tri]
    bary = np.array([[1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    inner = np.einsum("bk,tkd->tbd", bary, pts).reshape(-1, 3)
    X = inner if mesh.basis is None else inner @ mesh.basis.T
    assert np.max(np.abs(net.evaluate(X) - 1.0)) <= level_tol
    # no duplicate vertices, every face a proper polygon
    radius = np.linalg.norm(v, axis=1).max()
    dist = np.linalg.norm(v[:, None] - v[None], axis=2) + radius * np.eye(len(v))
    assert dist.min() > 1e-9 * radius
    assert np.all(mesh.face_sizes >= 3)


def triangle_faces(mesh):
    """Face index of each row of mesh.triangulate() (triangles first, then the rest)."""
    sizes = mesh.face_sizes
    big = np.flatnonzero(sizes > 3)
    return np.concatenate([np.flatnonzero(sizes == 3), np.repeat(big, sizes[big] - 2)])


def ray_hits(mesh, dirs):
    """Distance along each unit direction to the (star-shaped) mesh surface."""
    tri = mesh.triangulate()
    a, b, c = (mesh.vertices[tri[:, k]] for k in range(3))
    e1, e2 = b - a, c - a
    # Moller-Trumbore, origin at 0, all rays against all triangles
    p = np.cross(dirs[:, None, :], e2[None])
    det = np.einsum("rtk,tk->rt", p, e1)
    inv = 1.0 / np.where(np.abs(det) < 1e-300, 1e-300, det)
    s = -a[None]
    u = np.einsum("rtk,rtk->rt", np.broadcast_to(s, p.shape), p) * inv
    q = np.cross(np.broadcast_to(s, p.shape), e1[None])
    w = np.einsum("rk,rtk->rt", dirs, q) * inv
    t = np.einsum("tk,rtk->rt", e2, q) * inv
    ok = (u >= -1e-12) & (w >= -1e-12) & (u + w <= 1 + 1e-12) & (t > 0)
    t = np.where(ok, t, np.inf)
    return t.min(axis=1)


# ---------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------

def test_octahedron_exact():
    net = net1(np.eye(3))
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (6, 12, 8)
    assert mesh.face_size_counts() == {3: 8}
    assert_valid_polytope(net, mesh, level_tol=1e-15)
    # vertices are exactly the unit vectors, volume of |x|+|y|+|z| <= 1 is 4/3
    target = np.concatenate([np.eye(3), -np.eye(3)])
    assert np.allclose(np.sort(mesh.vertices, axis=0), np.sort(target, axis=0), atol=1e-15)
    assert mesh.volume() == pytest.approx(4 / 3, rel=1e-14)
    # one region per face: the 8 sign patterns, matching activation_pattern at face centres
    assert len(mesh.region_patterns) == 8
    assert sorted(mesh.region_ids.tolist()) == list(range(8))
    centres = np.array([mesh.vertices[f].mean(axis=0) for f in mesh.faces])
    assert np.array_equal(net.activation_pattern(centres), mesh.region_patterns[mesh.region_ids])
    assert mesh.info["method"] == "exact"


def test_cuboctahedron_exact():
    net = net1(CUBE_DIAGONALS)
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (12, 24, 14)
    assert mesh.face_size_counts() == {3: 8, 4: 6}
    assert_valid_polytope(net, mesh, level_tol=1e-14)
    # vertices along (+-1, +-1, 0) with f = 4: a cuboctahedron of edge sqrt(2)/4, volume 5/48
    assert np.allclose(np.sort(np.abs(mesh.vertices), axis=1),
                       np.tile([0.0, 0.25, 0.25], (12, 1)), atol=1e-15)
    assert mesh.volume() == pytest.approx(5 / 48, rel=1e-13)
    centres = np.array([mesh.vertices[f].mean(axis=0) for f in mesh.faces])
    assert np.array_equal(net.activation_pattern(centres), mesh.region_patterns[mesh.region_ids])


def test_icosidodecahedron_exact():
    net = net1(FIVE_FOLD_AXES)
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (30, 60, 32)
    assert mesh.face_size_counts() == {3: 20, 5: 12}
    assert_valid_polytope(net, mesh, level_tol=1e-14)
    assert len(mesh.region_patterns) == 32


@pytest.mark.parametrize("n", range(2, 8))
def test_regular_polygons_2d(n):
    th = np.arange(n) * np.pi / n
    net = net1(np.stack([np.cos(th), np.sin(th)], axis=1), dim=2)
    mesh = extract_polytope_exact(net)
    assert mesh.dim == 2 and mesh.n_faces == 1
    assert mesh.f_vector == (2 * n, 2 * n)
    assert mesh.is_closed_manifold()
    assert max_level_error(net, mesh) <= 1e-14
    # inradius sin(pi/2n), area 2n r^2 tan(pi/2n), counter-clockwise (positive area)
    r = math.sin(math.pi / (2 * n))
    assert mesh.volume() == pytest.approx(2 * n * r * r * math.tan(math.pi / (2 * n)), rel=1e-13)
    radii = np.linalg.norm(mesh.vertices, axis=1)
    assert np.ptp(radii) <= 1e-14
    # one region per edge, recorded in info
    edge_regions = mesh.info["edge_region_ids"]
    assert len(edge_regions) == 2 * n and len(set(edge_regions)) == 2 * n
    mids = (mesh.vertices + np.roll(mesh.vertices, -1, axis=0)) / 2
    assert np.array_equal(net.activation_pattern(mids), mesh.region_patterns[edge_regions])


def test_rotation_invariance():
    rng = np.random.default_rng(7)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    for W, fv in ((np.eye(3), (6, 12, 8)), (CUBE_DIAGONALS, (12, 24, 14)),
                  (FIVE_FOLD_AXES, (30, 60, 32))):
        net = net1(W @ Q)
        mesh = extract_polytope_exact(net)
        assert mesh.f_vector == fv
        assert_valid_polytope(net, mesh, level_tol=1e-13)


# ---------------------------------------------------------------------------------------
# generic and deeper networks
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [3, 5, 8, 12])
def test_random_one_layer_zonotope_polars(n):
    # the polar of a zonotope with n generic generators: V = n(n-1), F = n(n-1) + 2
    rng = np.random.default_rng(n)
    net = net1(rng.normal(size=(n, 3)))
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (n * (n - 1), 2 * n * (n - 1), n * (n - 1) + 2)
    assert_valid_polytope(net, mesh)


def positive_two_layer_nets(count, mixed=True):
    """Deterministic random (n,2;1) nets with f > 0 on the sphere."""
    found = []
    for n in range(4, 12):
        for seed in range(100):
            rng = np.random.default_rng(1000 * n + seed)
            W2 = rng.normal(size=(2, n))
            if not mixed:
                W2 = np.abs(W2)
            net = polytope_network(3, [rng.normal(size=(n, 3)), W2], [1, 1])
            fv = net.evaluate(SPHERE[::10])
            if fv.min() > 0.05 * fv.max():
                found.append((n, net))
                break
        if len(found) == count:
            break
    return found


@pytest.mark.parametrize("n,net", positive_two_layer_nets(8),
                         ids=lambda x: str(x) if isinstance(x, int) else "")
def test_two_layer_mixed_sign(n, net):
    mesh = extract_polytope_exact(net)
    assert_valid_polytope(net, mesh)
    # faces are unions of cells of one activation pattern: f affine on each face
    tri = mesh.triangulate()
    face_of_tri = triangle_faces(mesh)
    centres = mesh.vertices[tri].mean(axis=1)
    patterns = net.activation_pattern(centres)
    assert np.array_equal(patterns, mesh.region_patterns[mesh.region_ids[face_of_tri]])
    # volume = (1/3) int_{S^2} f^-3 (Fibonacci quadrature)
    f = net.evaluate(SPHERE)
    assert mesh.volume() == pytest.approx(np.mean(f ** -3.0) * 4 * np.pi / 3, rel=1e-2)
    # every ray hits the exact surface at distance 1 / f(u)
    dirs = SPHERE[::200]
    assert np.allclose(ray_hits(mesh, dirs), 1.0 / net.evaluate(dirs), rtol=1e-9)


def test_two_layer_nets_include_non_convex():
    n_nonconvex = 0
    for n, net in positive_two_layer_nets(8):
        mesh = extract_polytope_exact(net)
        normals = mesh.face_normals()
        offsets = np.array([mesh.vertices[f[0]] @ normals[i] for i, f in enumerate(mesh.faces)])
        excess = (mesh.vertices @ normals.T - offsets).max()
        n_nonconvex += excess > 1e-6
    assert n_nonconvex >= 3


def test_two_layer_positive_head_is_convex():
    for n, net in positive_two_layer_nets(4, mixed=False):
        mesh = extract_polytope_exact(net)
        assert_valid_polytope(net, mesh)
        normals = mesh.face_normals()
        offsets = np.array([mesh.vertices[f[0]] @ normals[i] for i, f in enumerate(mesh.faces)])
        assert (mesh.vertices @ normals.T - offsets).max() <= 1e-12


def test_relu_linear_head_and_three_layers():
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(8, 3))
    relu = Activation("relu")
    net = Network(3, [Layer(np.vstack([W1, -W1]), None, relu),
                      Layer(np.abs(rng.normal(size=(5, 16))), None, relu)],
                  Output("linear", np.abs(rng.normal(size=(1, 5)))))
    mesh = extract_polytope_exact(net)
    assert_valid_polytope(net, mesh)
    net3 = polytope_network(3, [rng.normal(size=(6, 3)), np.abs(rng.normal(size=(4, 6))),
                                np.abs(rng.normal(size=(3, 4)))], [1, 1, 1])
    assert_valid_polytope(net3, extract_polytope_exact(net3))
    # relu(x) + relu(-x) = |x|: the octahedron again, the dead half merged away
    relu_oct = Network(3, [Layer(np.vstack([np.eye(3), -np.eye(3)]), None, relu)])
    mesh = extract_polytope_exact(relu_oct)
    assert mesh.f_vector == (6, 12, 8)
    assert_valid_polytope(relu_oct, mesh)


def test_five_dimensional_slices():
    rng = np.random.default_rng(5)
    net = net1(rng.normal(size=(8, 5)), dim=5)
    for k in range(10):
        basis = paper_slice_basis(5, k * np.pi / 10)
        mesh = extract_polytope_exact(net, basis=basis)
        assert mesh.basis is not None and mesh.basis.shape == (5, 3)
        assert mesh.is_closed_manifold() and mesh.euler_characteristic == 2
        assert max_level_error(net, mesh) <= 1e-9
        assert_valid_polytope(net, mesh)
        # a polygon slice works too
        poly = extract_polytope_exact(net, basis=basis[:, :2])
        assert poly.dim == 2 and max_level_error(net, poly) <= 1e-9


# ---------------------------------------------------------------------------------------
# degenerate input
# ---------------------------------------------------------------------------------------

def test_duplicate_zero_and_nearly_parallel_neurons():
    I = np.eye(3)
    for W in (np.vstack([I, I[0], 2 * I[1]]),               # duplicates / parallel
              np.vstack([I, np.zeros(3)]),                   # dead neuron
              np.vstack([I, [1.0, 1e-15, 0.0]])):            # parallel within tol
        net = net1(W)
        mesh = extract_polytope_exact(net)
        assert mesh.f_vector == (6, 12, 8)
        assert mesh.face_size_counts() == {3: 8}
        assert_valid_polytope(net, mesh)
    # 2-D: duplicates of a square's lines
    net = net1([[1, 0], [0, 1], [1, 0], [2, 0], [0, 0]], dim=2)
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (4, 4)
    assert max_level_error(net, mesh) <= 1e-15


def test_hyperplanes_through_cube_vertices_and_edges():
    # three planes through the cube diagonal (1,1,1), one across it: hexagonal bipyramid
    net = net1([[1, -1, 0], [0, 1, -1], [1, 0, -1], [1, 1, 1]])
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (8, 18, 12)
    assert_valid_polytope(net, mesh)
    # planes containing the cube's edges: x=0, y=0, x=+-y, z=0 -> octagonal bipyramid
    net = net1([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -1, 0]])
    mesh = extract_polytope_exact(net)
    assert mesh.f_vector == (10, 24, 16)
    assert_valid_polytope(net, mesh)
    # coefficients that cancel only up to rounding at cube vertices (0.1 + 0.2 - 0.3 != 0)
    net = net1([[0.1, 0.2, -0.3], [0.3, -0.1, -0.2], [1, 1, 1]])
    mesh = extract_polytope_exact(net)
    assert_valid_polytope(net, mesh)


def test_non_positive_f_is_rejected():
    relu = Activation("relu")
    W = np.vstack([np.eye(3), -np.eye(3)])
    neg = Network(3, [Layer(W, None, relu)], Output("linear", -np.ones((1, 6))))
    with pytest.raises(ExtractionError, match="not positive in direction"):
        extract_polytope_exact(neg)
    mixed = Network(3, [Layer(np.eye(3), None, Activation("abs_pow", p=1))],
                    Output("linear", np.array([[1.0, 1.0, -1.0]])))
    with pytest.raises(ExtractionError, match="not star-shaped/closed"):
        extract_polytope_exact(mixed)
    # zero in a direction (relu(x) + relu(y) + relu(-x) vanishes on -y)
    half = Network(2, [Layer(np.array([[1.0, 0], [0, 1], [-1, 0]]), None, relu)])
    with pytest.raises(ExtractionError, match=r"direction \(0, -1\)"):
        extract_polytope_exact(half)


def test_unsupported_networks_name_the_layer():
    rng = np.random.default_rng(0)
    smooth = polytope_network(3, [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))], [1, 2])
    assert "layer 1" in exact_extraction_issue(smooth)
    with pytest.raises(ExtractionError, match=r"layer 1 has activation \|x\|\^2"):
        extract_polytope_exact(smooth)
    sig = Network(3, [Layer(np.eye(3), None, Activation("sigmoid", scale=2.0))])
    with pytest.raises(ExtractionError, match="layer 0 has activation sigmoid"):
        extract_polytope_exact(sig)
    biased = Network(3, [Layer(np.eye(3), None, Activation("relu")),
                         Layer(np.ones((2, 3)), np.array([0.0, 1.0]), Activation("relu"))])
    with pytest.raises(ExtractionError, match="layer 1 has a nonzero bias"):
        extract_polytope_exact(biased)
    head_bias = Network(3, [Layer(np.eye(3), None, Activation("relu"))],
                        Output("linear", np.ones((1, 3)), np.array([1.0])))
    with pytest.raises(ExtractionError, match="output head has a nonzero bias"):
        extract_polytope_exact(head_bias)
    # zero biases are bias-free
    zero_bias = Network(3, [Layer(np.eye(3), np.zeros(3), Activation("abs_pow", p=1))])
    assert exact_extraction_issue(zero_bias) is None
    assert extract_polytope_exact(zero_bias).f_vector == (6, 12, 8)


def test_dimension_and_basis_errors():
    net5 = net1(np.ones((3, 5)) + np.eye(3, 5), dim=5)
    with pytest.raises(ExtractionError, match="paper_slice_basis"):
        extract_polytope_exact(net5)
    with pytest.raises(ExtractionError, match="slice basis must have shape"):
        extract_polytope_exact(net5, basis=np.eye(4, 3))
    with pytest.raises(ExtractionError, match="tol"):
        extract_polytope_exact(net1(np.eye(3)), tol=-1.0)
    with pytest.raises(ExtractionError, match="2- or 3-dimensional"):
        extract_polytope_exact(net1([[1.0], [2.0]], dim=1))


def test_max_level_error():
    net = net1(np.eye(3))
    mesh = extract_polytope_exact(net)
    assert max_level_error(net, mesh) == 0.0
    assert max_level_error(net, mesh, level=0.5) == pytest.approx(0.5)
    scaled = mesh.copy()
    scaled.vertices *= 1.1
    assert max_level_error(net, scaled) == pytest.approx(0.1, rel=1e-12)
    with pytest.raises(ExtractionError, match="inputs"):
        max_level_error(net1(np.eye(2), dim=2), mesh)


def test_face_with_a_hole_keeps_its_pieces():
    # f = |x|+|y|+|z| + relu(island) / 2, the island a bump around +-(1,1,1) inside the
    # octant faces: the rest of each such face is an annulus, kept as its convex cells
    W1 = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, -1, 0], [0, 1, -1],
                   [1, 0, -1]], dtype=float)
    W2 = np.zeros((4, 7))
    W2[0, 0] = W2[1, 1] = W2[2, 2] = 1.0
    W2[3] = [0, 0, 0, 1, -1.2, -1.2, -1.2]
    net = Network(3, [Layer(W1, None, Activation("abs_pow", p=1)),
                      Layer(W2, None, Activation("relu"))],
                  Output("linear", np.array([[1.0, 1.0, 1.0, 0.5]])))
    mesh = extract_polytope_exact(net)
    assert mesh.info["non_disc_unions"] == 2
    assert mesh.f_vector == (26, 54, 30)
    assert_valid_polytope(net, mesh)
    f = net.evaluate(SPHERE)
    assert mesh.volume() == pytest.approx(np.mean(f ** -3.0) * 4 * np.pi / 3, rel=1e-3)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
@pytest.mark.parametrize("tol", [0.0, 1e-12, 1e-6])
def test_scale_invariance_and_tolerances(scale, tol):
    net = net1(CUBE_DIAGONALS * scale)
    mesh = extract_polytope_exact(net, tol=tol)
    assert mesh.f_vector == (12, 24, 14)
    assert np.allclose(mesh.vertices * scale, extract_polytope_exact(net1(CUBE_DIAGONALS)).vertices,
                       rtol=1e-12, atol=0)
    assert_valid_polytope(net, mesh, level_tol=1e-13, plane_tol=1e-9 / scale)
    # a (7,2;1) net whose f vanishes on a curve pair's crossing: rejected at every tol,
    # even where rounding leaves f a hair above 0
    rng = np.random.default_rng(0)
    bad = polytope_network(3, [rng.normal(size=(7, 3)) * scale, rng.normal(size=(2, 7))], [1, 1])
    with pytest.raises(ExtractionError, match="not positive in direction"):
        extract_polytope_exact(bad, tol=tol)
