"""Exact level sets of piecewise-linear networks (neuralpoly_core.levelset)."""

import math

import numpy as np
import pytest

from neuralpoly_core.errors import Cancelled, ExtractionError
from neuralpoly_core.levelset import (TOLERANCE, ExactOptions, curve_loops, extract_level_set_exact,
                                      extract_level_set, is_watertight, parse_bbox)
from neuralpoly_core.network import Activation, Layer, Network, Output, polytope_network

RELU = Activation("relu")
ABS = Activation("abs_pow", p=1.0)
IDENT = Activation("identity")


def random_net(dim, widths, seed, acts=None, out_bias=0.0):
    rng = np.random.default_rng(seed)
    acts = acts or [RELU] * len(widths)
    layers, n = [], dim
    for w, a in zip(widths, acts):
        layers.append(Layer(rng.normal(size=(w, n)) / math.sqrt(n), 0.5 * rng.normal(size=w), a))
        n = w
    return Network(dim, layers, Output("linear", rng.normal(size=(1, n)), np.array([out_bias])))


def median_level(net, seed=0):
    """A level in the middle of f's values on the box (the mean: never a flat region's value)."""
    x = np.random.default_rng(seed).uniform(-1, 1, (4000, net.dim))
    return float(np.mean(net(x)))


def net_from(dim, spec, out_w, out_b=0.0):
    layers = [Layer(np.array(W, float), None if b is None else np.array(b, float), a) for W, b, a in spec]
    return Network(dim, layers, Output("linear", np.array([out_w], float), np.array([out_b], float)))


def segment_area(mesh):
    """Area enclosed by oriented 2-D segments (Green's theorem)."""
    s = mesh.corners.reshape(-1, 2)
    v = mesh.vertices
    return 0.5 * float(np.sum(v[s[:, 0], 0] * v[s[:, 1], 1] - v[s[:, 1], 0] * v[s[:, 0], 1]))


def face_planarity(mesh):
    """Largest distance of a face's vertices from its best-fit plane, over all faces."""
    worst = 0.0
    for f in mesh.faces:
        P = mesh.vertices[f]
        Q = P - P.mean(axis=0)
        worst = max(worst, float(np.linalg.svd(Q, compute_uv=False)[-1]))
    return worst


def check_surface(net, mesh, level, dim):
    assert np.all(np.isfinite(mesh.vertices))
    assert mesh.info["degenerate_cells"] == 0
    if mesh.n_vertices:
        err = np.abs(net(mesh.vertices[np.unique(mesh.corners[:int(mesh.face_sizes[:mesh.n_faces - mesh.info["cap_faces"]].sum())])]) - level)
        assert err.max() <= 1e-9 * mesh.info["level_scale"]
        assert mesh.info["max_level_error"] == pytest.approx(float(err.max()), abs=1e-15)
    if dim == 3 and mesh.n_faces:
        assert face_planarity(mesh) <= 1e-9


# -- random ReLU nets -------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_random_relu_nets_vertices_on_level_set_planar_faces(dim, depth):
    for seed in range(2):
        net = random_net(dim, [10] * depth, seed + 10 * depth)
        level = median_level(net, seed)
        mesh = extract_level_set(net, level, (-1, 1))
        assert mesh.n_faces > 0
        check_surface(net, mesh, level, dim)
        # every face lies in one linear region: the network's pattern at the face's centroid,
        # except for neurons vanishing there (a face on a region's boundary)
        cen = np.array([mesh.vertices[f].mean(axis=0) for f in mesh.faces])
        pats = net.activation_pattern(cen)
        z = np.abs(np.concatenate(net.preactivations(cen), axis=1))
        differ = pats != mesh.region_patterns[mesh.region_ids]
        assert np.all(z[differ] <= 1e-9)
        assert mesh.info["regions_crossed"] == len(mesh.region_patterns) == mesh.n_faces
        if dim == 2:
            assert np.all(mesh.face_sizes == 2)


@pytest.mark.parametrize("dim", [2, 3])
def test_capped_random_nets_are_closed_with_consistent_orientation(dim):
    for seed in range(3):
        net = random_net(dim, [12, 12, 8], seed)
        level = median_level(net, seed)
        mesh = extract_level_set(net, level, (-1, 1), cap=True)
        assert mesh.info["closed"] and mesh.is_closed_manifold()
        if dim == 3:
            # closed surfaces: chi = 2 (components - genus), even
            assert mesh.euler_characteristic % 2 == 0
            vol = mesh.volume()
        else:
            assert mesh.euler_characteristic == 0
            vol = segment_area(mesh)
        # the enclosed measure is the measure of {f < level} in the box (Monte Carlo, 4 sigma)
        x = np.random.default_rng(seed).uniform(-1, 1, (40000, dim))
        frac = np.mean(net(x) < level)
        box = 2.0 ** dim
        assert vol == pytest.approx(frac * box, abs=4 * box * math.sqrt(frac * (1 - frac) / len(x)) + 1e-9)


def test_normals_point_towards_increasing_f():
    net = random_net(3, [10, 10], 3)
    level = median_level(net)
    mesh = extract_level_set(net, level, (-1, 1))
    n = mesh.face_normals()
    c = np.array([mesh.vertices[f].mean(axis=0) for f in mesh.faces])
    inside = (np.abs(c) < 0.999).all(axis=1)
    h = 1e-6
    assert np.all(net(c[inside] + h * n[inside]) > level)
    assert np.all(net(c[inside] - h * n[inside]) < level)
    # inside="above" reverses the solid and the orientation
    flipped = extract_level_set(net, level, (-1, 1), inside="above")
    n2 = flipped.face_normals()
    c2 = np.array([flipped.vertices[f].mean(axis=0) for f in flipped.faces])
    ok = (np.abs(c2) < 0.999).all(axis=1)
    assert np.all(net(c2[ok] + h * n2[ok]) < level)


def test_pruning_never_changes_the_surface():
    def canon(m):
        v = np.round(m.vertices, 9)
        return sorted(tuple(sorted(map(tuple, v[f]))) for f in m.faces)

    for seed, dim, acts in ((0, 3, [RELU, RELU, RELU]), (1, 3, [ABS, RELU, IDENT]), (2, 2, [RELU, IDENT, ABS])):
        net = random_net(dim, [10, 8, 8], seed, acts)
        level = median_level(net, seed)
        for cap in (False, True):
            a = extract_level_set_exact(net, level, (-1, 1), cap=cap)
            b = extract_level_set_exact(net, level, (-1, 1), cap=cap, prune=False)
            assert canon(a) == canon(b)


def test_surface_agrees_with_marching_cubes_and_distance_shrinks():
    from scipy.spatial import cKDTree
    net = random_net(3, [12, 12], 5)
    level = median_level(net)
    exact = extract_level_set(net, level, (-1, 1))
    # dense samples of the exact surface, uniform by area
    rng = np.random.default_rng(0)
    tri = exact.triangulate()
    a, b, c = (exact.vertices[tri[:, k]] for k in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    idx = rng.choice(len(tri), size=60000, p=area / area.sum())
    r1, r2 = rng.random((2, len(idx), 1))
    s = np.sqrt(r1)
    pts = (1 - s) * a[idx] + s * (1 - r2) * b[idx] + s * r2 * c[idx]
    tree = cKDTree(np.concatenate([pts, exact.vertices]))
    dists = []
    for res in (16, 32, 64):
        mc = extract_level_set(net, level, (-1, 1), method="marching", resolution=res, newton_steps=0)
        d1 = cKDTree(mc.vertices).query(pts)[0].max()
        d2 = tree.query(mc.vertices)[0]
        # marching-cubes vertices lie near the exact surface (within a grid cell)
        assert d2.max() <= 2.0 / res * math.sqrt(3)
        dists.append(max(d1, d2.max()))
    assert dists[0] > dists[1] > dists[2]


# -- known shapes ---------------------------------------------------------------------------------
def test_octahedron_and_regular_polygons():
    octa = polytope_network(3, [np.eye(3)], [1.0])
    for bbox in ((-2, 2), (-1, 1)):        # the second box touches the vertices exactly
        m = extract_level_set(octa, 1.0, bbox)
        assert m.f_vector == (6, 12, 8)
        assert m.face_size_counts() == {3: 8}
        assert m.volume() == pytest.approx(4 / 3, abs=1e-12)
        assert m.info["max_level_error"] <= 1e-15
    for n in (2, 3, 5, 7):
        a = np.pi * np.arange(n) / n
        poly = polytope_network(2, [np.stack([np.cos(a), np.sin(a)], axis=1)], [1.0])
        m = extract_level_set(poly, 1.0, (-2, 2))
        assert m.n_vertices == 2 * n and m.n_faces == 2 * n
        # regular 2n-gon with apothem 1 / (sum_k |cos(pi k / n)|) along a normal... area from loops
        loops = curve_loops(m)
        assert len(loops) == 1 and loops[0][1] and len(loops[0][0]) == 2 * n
        r = np.linalg.norm(m.vertices, axis=1)
        assert np.ptp(r) <= 1e-12                      # all vertices on one circle: regular
        assert segment_area(m) == pytest.approx(n * r[0] ** 2 * math.sin(math.pi / n), rel=1e-12)


def test_square_torus_topology_and_volume():
    # f = ||x| + |y| - 0.6| + |z|: a torus with a diamond cross-section, genus 1
    net = net_from(3, [(np.eye(3), None, ABS), ([[1, 1, 0], [0, 0, 1]], [-0.6, 0.0], ABS)], [1, 1])
    m = extract_level_set(net, 0.2, (-1, 1))
    assert m.is_closed_manifold()
    assert m.euler_characteristic == 0
    assert m.volume() == pytest.approx(4 * 0.6 * 2 * 0.2 ** 2, abs=1e-12)
    capped = extract_level_set(net, 0.2, (-0.5, 0.5), cap=True)   # box cuts through the ring
    assert capped.is_closed_manifold() and capped.info["cap_faces"] > 0


def test_sum_output_and_abs_layers_match_polytope():
    net = polytope_network(3, [[[1, 1, 0], [1, -1, 0], [0, 0, 2]]], [1.0])
    m = extract_level_set(net, 2.0, (-3, 3))
    assert m.is_closed_manifold() and m.euler_characteristic == 2
    check_surface(net, m, 2.0, 3)


# -- degenerate inputs -------------------------------------------------------------------------
def test_duplicate_parallel_dead_and_zero_neurons():
    W = [[1, 1, 0], [1, 1, 0], [2, 2, 0], [-1, -1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
         [1, -1, 0], [0, 0, 0]]
    b = [0, 0, 0, 0, 0, -5, 0, 0, 0, 1]       # neuron 5 is dead in the box, 4 and 9 are zero rows
    net = net_from(3, [(W, b, RELU), (np.eye(10), None, RELU)], [1, 1, 0.5, 1, 3, 2, 1, 1, 1, 0])
    level = median_level(net)
    m = extract_level_set(net, level, (-1, 1), cap=True)
    assert m.n_faces > 0 and m.info["closed"]
    check_surface(net, m, level, 3)
    # the same function without duplicates, dead and zero neurons has the same surface
    same = net_from(3, [([[1, 1, 0], [-1, -1, 0], [0, 1, 0], [0, 0, 1], [1, -1, 0]], None, RELU)],
                    [3, 1, 1, 1, 1])
    m2 = extract_level_set(same, level, (-1, 1), cap=True)
    canon = lambda mm: sorted(tuple(sorted(map(tuple, np.round(mm.vertices[f], 9)))) for f in mm.faces)  # noqa: E731
    assert canon(m) == canon(m2)


def test_exact_ties_through_box_corners_edges_and_faces():
    plane = lambda w, b=0.0: net_from(3, [([w], None, IDENT)], [1], b)      # noqa: E731
    # level set = a box side
    m = extract_level_set(plane([1, 0, 0], -1.0), 0.0, (-1, 1))
    assert m.n_faces == 1 and m.face_sizes[0] == 4
    capped = extract_level_set(plane([1, 0, 0], -1.0), 0.0, (-1, 1), cap=True)
    assert capped.is_closed_manifold() and capped.volume() == pytest.approx(8.0)
    # planes through box edges and corners, capped: exact half volumes
    for w in ([1, 1, 0], [1, 1, 1], [1, -1, 1]):
        c = extract_level_set(plane(w), 0.0, (-1, 1), cap=True)
        assert c.is_closed_manifold() and c.volume() == pytest.approx(4.0, abs=1e-12)
    # touching only at a corner or an edge: no surface
    assert extract_level_set(plane([1, 1, 1]), 3.0, (-1, 1)).n_faces == 0
    assert extract_level_set(plane([1, 1, 0]), 2.0, (-1, 1)).n_faces == 0


def test_tangent_flat_and_constant_level_sets():
    absx = net_from(3, [([[1, 0, 0]], None, ABS)], [1])
    assert extract_level_set(absx, 0.0, (-1, 1)).n_faces == 0            # touches from above
    assert extract_level_set(absx, 0.0, (-1, 1), inside="above").n_faces == 0   # a crack
    relux = net_from(3, [([[1, 0, 0]], None, RELU)], [1])
    assert extract_level_set(relux, 0.0, (-1, 1), cap=True).n_faces == 0      # {f < 0} empty
    half = extract_level_set(relux, 0.0, (-1, 1), cap=True, inside="above")   # {f > 0}: x > 0
    assert half.is_closed_manifold() and half.volume() == pytest.approx(4.0)
    const = net_from(3, [([[1, 0, 0]], [-5.0], RELU)], [1])                 # f == 0 everywhere
    assert extract_level_set(const, 0.0, (-1, 1)).n_faces == 0
    assert extract_level_set(const, 1.0, (-1, 1)).n_faces == 0


def integer_net(seed, noise=0.0):
    """Weights in {-1, 0, 1} and biases in halves (plus ``noise``): many exact ties. Returns the
    net and a level taken from its rounded values (it often passes through vertices)."""
    rng = np.random.default_rng(seed)
    dim = 2 + seed % 2
    layers, n = [], dim
    for _ in range(int(rng.integers(1, 4))):
        w = int(rng.integers(3, 8))
        layers.append(Layer(rng.integers(-1, 2, (w, n)) + noise * rng.normal(size=(w, n)),
                            rng.integers(-2, 3, w) / 2.0 + noise * rng.normal(size=w), RELU))
        n = w
    net = Network(dim, layers, Output("linear", rng.integers(-2, 3, (1, n)).astype(float), np.zeros(1)))
    level = float(rng.choice(np.round(net(rng.uniform(-1, 1, (300, dim))) * 2) / 2))
    return net, level


def test_integer_nets_with_many_exact_ties_stay_watertight():
    for seed in range(40):
        net, level = integer_net(seed)
        dim = net.dim
        m = extract_level_set(net, level, (-1, 1), cap=True)
        assert m.n_faces == 0 or is_watertight(m)
        assert m.info["degenerate_cells"] == 0
        assert np.all(np.isfinite(m.vertices))
        if m.n_faces:
            check_surface(net, m, level, dim)


def pinch_vertices(mesh):
    """Vertices of edges (3-D) used by other than two faces, or (2-D) of other than two segments."""
    if mesh.dim == 2:
        deg = np.bincount(mesh.corners, minlength=mesh.n_vertices)
        return np.nonzero((deg != 2) & (deg > 0))[0]
    fe = mesh.face_edges()
    n = mesh.n_vertices
    key = np.minimum(fe[:, 0], fe[:, 1]) * n + np.maximum(fe[:, 0], fe[:, 1])
    u, c = np.unique(key, return_counts=True)
    return np.unique(np.concatenate([u[c != 2] // n, u[c != 2] % n]))


# every seed of range(300) that leaked, had inconsistent cells or a level error above 1e-9 of the
# scale at one of the noise levels below before the near-tie handling, a few whose surface
# touches itself within the tolerance, and the hardest ones found in range(300, 1300)
NEAR_TIE_SEEDS = sorted(set(range(60)) | {73, 81, 89, 93, 119, 125, 137, 145, 151, 153, 159, 165,
                                          169, 181, 183, 193, 208, 217, 225, 229, 242, 243, 259,
                                          261, 271, 279, 281, 703, 757, 773, 999, 1077, 1125,
                                          1159, 1211, 1239, 1296})


@pytest.mark.parametrize("noise", [0.0, 1e-14, 3e-13, 1e-12, 3e-12, 1e-11, 3e-11, 1e-10, 1e-9,
                                   1e-8])
def test_near_ties_below_at_and_above_the_tolerance_stay_watertight(noise):
    # integer nets (many exact ties) with the ties broken by `noise`: far below the tolerance
    # (snapped back to ties), around it (1e-12 of the rounding scale: the zero test and the
    # rounded coordinates of tiny cells disagree with the combinatorics) and far above it
    for seed in NEAR_TIE_SEEDS:
        net, level = integer_net(seed, noise)
        m = extract_level_set(net, level, (-1, 1), cap=True)
        assert np.all(np.isfinite(m.vertices))
        assert m.info["degenerate_cells"] == 0, seed
        if m.n_faces == 0:
            continue
        assert is_watertight(m) and m.info["watertight"], seed
        scale = m.info["level_scale"]
        assert m.info["max_level_error"] <= 1e-9 * scale, seed
        if not m.is_closed_manifold():
            # the solid may touch itself only where f is within the tolerance of the level
            v = pinch_vertices(m)
            assert len(v), seed
            assert np.abs(net(m.vertices[v]) - level).max() <= 100 * TOLERANCE * scale, seed


def test_2d_curves_loops_and_caps():
    net = random_net(2, [16, 16], 7)
    level = median_level(net)
    m = extract_level_set(net, level, (-1, 1))
    loops = curve_loops(m)
    assert sum(len(p) - (0 if closed else 1) for p, closed in loops) == m.n_faces
    for p, closed in loops:
        if not closed:      # open curves end on the box
            ends = m.vertices[[p[0], p[-1]]]
            assert np.all(np.isclose(np.abs(ends), 1.0).any(axis=1))
    capped = extract_level_set(net, level, (-1, 1), cap=True)
    assert all(closed for _p, closed in curve_loops(capped))


def test_merge_coplanar_faces_of_a_folded_cube():
    # max(|x|, |y|, |z|) built from abs units: min/max kinks split the cube's faces into pieces
    from neuralpoly_core.construct.boolean import Convex, compile_network
    net = compile_network(Convex.box([-0.5] * 3, [0.5] * 3))
    raw = extract_level_set(net, 0.0, (-1, 1))
    merged = extract_level_set(net, 0.0, (-1, 1), merge_coplanar=True)
    assert raw.n_faces >= 6
    assert merged.f_vector == (8, 12, 6) and merged.face_size_counts() == {4: 6}
    assert merged.volume() == pytest.approx(1.0, abs=1e-12)
    # a box sticking out of the extraction box: three level-set quads and three cap quads
    big = compile_network(Convex.box([-0.5] * 3, [1.5] * 3))
    capped = extract_level_set(big, 0.0, (-1, 1), cap=True, merge_coplanar=True)
    assert capped.f_vector == (8, 12, 6) and capped.info["cap_faces"] == 3
    assert capped.info["closed"] and capped.volume() == pytest.approx(1.5 ** 3, abs=1e-12)
    normals = capped.face_normals()
    assert np.allclose(normals[:3].sum(axis=1), -1.0) and np.allclose(normals[3:].sum(axis=1), 1.0)


# -- API and errors ------------------------------------------------------------------------------
def test_info_keys_and_bbox_forms():
    net = random_net(3, [8], 1)
    level = median_level(net)
    m = extract_level_set(net, level, [[-1, 1], [-1, 1], [-1, 1]])
    for key in ("vertices", "faces", "regions_crossed", "seconds", "method", "max_level_error",
                "level_scale", "cap_faces", "closed", "watertight", "degenerate_cells"):
        assert key in m.info
    assert m.info["method"] == "exact" and m.info["vertices"] == m.n_vertices
    lo, hi = parse_bbox((-2, 3), 2)
    assert lo.tolist() == [-2, -2] and hi.tolist() == [3, 3]
    assert TOLERANCE == 1e-12


def test_errors_name_the_problem():
    sig = Network(3, [Layer(np.eye(3), None, Activation("sigmoid", scale=2.0))])
    with pytest.raises(ExtractionError, match="not piecewise linear.*marching"):
        extract_level_set(sig, 0.5)
    p2 = polytope_network(3, [np.eye(3)], [2.0])
    with pytest.raises(ExtractionError, match=r"layer 0 has activation \|x\|\^2"):
        extract_level_set(p2, 1.0)
    with pytest.raises(ExtractionError, match="2-D and 3-D"):
        extract_level_set(polytope_network(4, [np.eye(4)], [1.0]), 1.0)
    with pytest.raises(ExtractionError, match="empty"):
        extract_level_set(p2, 1.0, (1, -1), method="marching")
    with pytest.raises(ExtractionError, match="method"):
        extract_level_set(p2, 1.0, method="dual")
    with pytest.raises(ExtractionError, match="level"):
        extract_level_set(p2, float("nan"), method="marching")
    with pytest.raises(ExtractionError, match="inside"):
        extract_level_set(p2, 1.0, inside="left", method="marching")


def test_progress_and_cancel():
    net = random_net(3, [8, 8], 2)
    level = median_level(net)
    seen = []
    extract_level_set(net, level, progress=lambda f: seen.append(f))
    assert seen and seen[-1] == pytest.approx(1.0) and all(0 <= f <= 1 for f in seen)
    with pytest.raises(Cancelled):
        extract_level_set(net, level, progress=lambda f: False)
    # the two-argument protocol: messages name the layer; cancel() stops
    for method in ("exact", "marching"):
        told = []
        extract_level_set(net, level, method=method, resolution=8,
                          progress=lambda f, message: told.append((f, message)))
        assert told and all(0 <= f <= 1 for f, _m in told)
        assert [f for f, _m in told] == sorted(f for f, _m in told)
        calls = []
        with pytest.raises(Cancelled, match="level-set extraction cancelled"):
            extract_level_set(net, level, method=method, resolution=8,
                              cancel=lambda: calls.append(1) or len(calls) >= 2)
    assert {m for _f, m in told} == {"sampling the grid", "moving vertices onto the level set"}
    told = []
    extract_level_set_exact(net, level, progress=lambda f, message: told.append(message))
    assert sorted(set(told)) == ["layer 1 of 2", "layer 2 of 2"]
    with pytest.raises(ExtractionError, match="cancel must be callable"):
        extract_level_set(net, level, cancel=True)


def test_threads_do_not_change_the_result():
    # blocks of cells are bounded in parallel threads; the mesh must be bit-identical
    for dim, widths, seed in ((3, [16, 16, 16], 4), (3, [24, 24], 5), (2, [12, 12, 12], 6)):
        net = random_net(dim, widths, seed)
        level = median_level(net)
        meshes = [extract_level_set_exact(net, level, (-1, 1), cap=True, workers=w) for w in (1, 2, 3)]
        # many small blocks: the threads really share the work
        meshes.append(extract_level_set_exact(net, level, (-1, 1), cap=True, workers=2,
                                              options=ExactOptions(chunk=16)))
        for m in meshes[1:]:
            assert np.array_equal(m.vertices, meshes[0].vertices)
            assert np.array_equal(m.corners, meshes[0].corners)
            assert np.array_equal(m.region_ids, meshes[0].region_ids)
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ExtractionError, match="workers must be a positive integer"):
            extract_level_set_exact(net, level, (-1, 1), workers=bad)


def test_options_never_change_the_result():
    net = random_net(3, [12, 12, 12], 8)
    level = median_level(net)
    ref = extract_level_set_exact(net, level, (-1, 1), cap=True)
    for opts in (ExactOptions(symbolic=False), ExactOptions(backward=False),
                 ExactOptions(mid_min=4, mid_frac=0.1, chunk=32)):
        m = extract_level_set_exact(net, level, (-1, 1), cap=True, options=opts)
        assert np.array_equal(m.vertices, ref.vertices) and np.array_equal(m.corners, ref.corners)
    assert ExactOptions(mid_min=4, mid_frac=0.1).mid_min == 4
    with pytest.raises(ExtractionError, match="chunk must be at least 1"):
        ExactOptions(chunk=0)
    with pytest.raises(ExtractionError, match="options must be an ExactOptions"):
        extract_level_set_exact(net, level, options={"chunk": 16})


def test_curve_loops_keep_touching_loops_apart():
    from neuralpoly_core.mesh import PolyMesh
    # two counter-clockwise squares touching at the corner (1, 1), in either segment order
    V = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [2, 1], [2, 2], [1, 2]], float)
    segs = [(0, 1), (1, 2), (2, 3), (3, 0), (2, 4), (4, 5), (5, 6), (6, 2)]
    for order in (segs, segs[::-1], segs[4:] + segs[:4]):
        m = PolyMesh(V, np.array(order).ravel(), np.full(len(order), 2))
        loops = curve_loops(m)
        assert len(loops) == 2 and all(closed for _p, closed in loops)
        assert sorted(sorted(p.tolist()) for p, _c in loops) == [[0, 1, 2, 3], [2, 4, 5, 6]]
