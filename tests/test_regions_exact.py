"""Exact enumeration of linear regions (neuralpoly_core.regions.exact): known counts, degenerate
arrangements, patterns and affine maps at the regions' centroids, volumes, slices, MILP, maxout,
regioncam."""

import itertools
import math

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output
from neuralpoly_core.budget import MemoryBudgetError, set_memory_budget
from neuralpoly_core.construct.tent import tent_map_network
from neuralpoly_core.errors import Cancelled, NeuralPolyError
from neuralpoly_core.regions import RegionTessellation, count_regions, enumerate_regions
from neuralpoly_core.regions import compiled2d
from neuralpoly_core.regions import exact as exact_module

RELU = Activation("relu")


def one_layer(W, b, head=None):
    W = np.asarray(W, dtype=np.float64)
    out = Output("sum") if head is None else Output("linear", np.asarray([head], dtype=np.float64), np.zeros(1))
    return Network(W.shape[1], [Layer(W, None if b is None else np.asarray(b, dtype=np.float64), RELU)], out)


def he_net(dims, seed, act=RELU, head="sum"):
    rng = np.random.default_rng(seed)
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.uniform(-1, 1, size=b),
                    act[i] if isinstance(act, list) else act)
              for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))]
    out = Output("sum") if head == "sum" else Output("linear", rng.normal(size=(2, dims[-1])), rng.normal(size=2))
    return Network(dims[0], layers, out)


def zaslavsky(n, d):
    return sum(math.comb(n, i) for i in range(d + 1))


def unit_patterns(net, x):
    """The network's pattern at ``x``, one column per unit: maxout units the index of their
    largest piece (from the one-hot rows of ``activation_pattern``)."""
    P = net.activation_pattern(x)
    rows = np.cumsum([layer.rows for layer in net.layers])[:-1]
    if all(layer.activation.group == 1 for layer in net.layers):
        return P
    return np.concatenate([blk.reshape(len(x), -1, layer.activation.group).argmax(axis=2)
                           for blk, layer in zip(np.split(P, rows, axis=1), net.layers)], axis=1)


def check_regions(T: RegionTessellation, net, box_volume):
    """Patterns and affine maps at every region's centroid, volumes adding up to the box."""
    c = T.centroids()
    x = T.origin + c @ T.basis
    assert np.array_equal(unit_patterns(net, x), T.patterns)
    f = net(x) if net.n_outputs == 1 else net(x)[:, 0]
    scale = 1.0 + np.abs(f).max()
    assert np.abs(np.einsum("ij,ij->i", T.gradients, x) + T.offsets - f).max() <= 1e-9 * scale
    assert np.abs(np.einsum("ij,ij->i", T.local_gradients, c) + T.local_offsets - f).max() <= 1e-9 * scale
    vol = T.volumes()
    assert np.all(vol > 0)
    assert vol.sum() == pytest.approx(box_volume, rel=1e-9)
    assert len(T.vertices) == T.count and all(v.shape[1] == T.dim for v in T.vertices)
    assert len(np.unique(T.patterns, axis=0)) == T.count


# -- known counts ---------------------------------------------------------------------------
@pytest.mark.parametrize("d, n", [(1, 1), (1, 7), (2, 3), (2, 9), (3, 4), (3, 9)])
def test_one_layer_in_general_position_has_zaslavskys_count(d, n):
    rng = np.random.default_rng(10 * d + n)
    W, b = rng.normal(size=(n, d)), rng.normal(size=n)
    verts = [np.linalg.solve(W[list(s)], -b[list(s)]) for s in itertools.combinations(range(n), d)]
    reach = 1.1 * np.abs(verts).max() + 1.0
    net = one_layer(W, b)
    T = enumerate_regions(net, (-reach, reach))
    assert T.count == zaslavsky(n, d)
    assert T.pieces == T.count              # neighbours differ by one unit's gradient
    assert T.summary()["regions"] == T.count and T.summary()["dim"] == d
    check_regions(T, net, (2 * reach) ** d)
    if d == 1:
        assert np.allclose(T.breakpoints, np.sort(-b / W[:, 0]))
    else:
        assert T.breakpoints is None


@pytest.mark.parametrize("layers", [1, 2, 5, 8])
def test_tent_map_composition_has_2_to_the_L_pieces(layers):
    net = tent_map_network(layers)
    T = enumerate_regions(net, (0.0, 1.0))
    assert T.count == 2 ** layers and T.pieces == 2 ** layers
    assert np.allclose(T.breakpoints, np.arange(1, 2 ** layers) / 2 ** layers)
    check_regions(T, net, 1.0)


# -- degenerate arrangements -------------------------------------------------------------------
def test_duplicate_scaled_and_opposite_neurons_make_no_new_region():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(4, 2)), 0.3 * rng.normal(size=4)
    base = enumerate_regions(one_layer(W, b)).count
    W2 = np.concatenate([W, W, 2.5 * W[:2], -W[2:]])
    b2 = np.concatenate([b, b, 2.5 * b[:2], -b[2:]])
    net = one_layer(W2, b2)
    T = enumerate_regions(net)
    assert T.count == base and T.info["degenerate_cells"] == 0
    check_regions(T, net, 4.0)


@pytest.mark.parametrize("W, b, count", [
    ([[1, 0], [1, 0], [1, 0], [0, 1]], [0.5, 0.0, -0.5, 0.1], 8),          # three parallel lines and one across
    ([[1, 0], [0, 1], [1, 1]], [0, 0, 0], 6),                               # three concurrent lines
    ([[1, 0], [0, 1], [1, 1], [1, -1]], [0, 0, 0, 0], 8),                   # four concurrent lines
    ([[1, 1]], [-2.0], 1),                                                  # touches the box at a corner
    ([[1, 1]], [0.0], 2),                                                   # through two corners
    ([[1, 0], [0, 1]], [-1.0, 1.0], 1),                                     # along box sides
    ([[1, 0], [0, 1], [1, 1]], [-0.5, -0.5, -1.0], 6),                      # three lines through (0.5, 0.5) ...
    ([[1, 0], [0, 1], [1, -1]], [-1.0, -1.0, 0.0], 2),                      # ... and through the corner (1, 1)
])
def test_degenerate_arrangements_in_2d(W, b, count):
    net = one_layer(W, b)
    T = enumerate_regions(net)
    assert T.count == count and T.info["degenerate_cells"] == 0
    check_regions(T, net, 4.0)


@pytest.mark.parametrize("W, b, count", [
    ([[1, 0, 0], [0, 1, 0], [1, 1, 0]], [0, 0, 0], 6),                      # three planes through a line
    ([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], [0, 0, 0, 0], 14),       # four generic planes through a point
    ([[1, 0, 0], [1, 0, 0], [0, 1, 0]], [0.5, 0.5, 0.0], 4),               # a duplicate
    ([[1, 1, 1]], [-3.0], 1),                                               # touches a corner
])
def test_degenerate_arrangements_in_3d(W, b, count):
    net = one_layer(W, b)
    T = enumerate_regions(net)
    assert T.count == count and T.info["degenerate_cells"] == 0
    check_regions(T, net, 8.0)


def test_dead_neurons_and_identically_zero_units():
    # unit 1 is negative on the box; layer 2 has no bias, its units 0 and 1 read only unit 1
    # (identically 0), its unit 2 repeats unit 0: f = relu(x)
    l1 = Layer(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, -5.0]), RELU)
    l2 = Layer(np.array([[0.0, 1.0], [0.0, -2.0], [1.0, 0.0]]), None, RELU)
    net = Network(2, [l1, l2], Output("sum"))
    T = enumerate_regions(net)
    assert T.count == 2 and T.pieces == 2
    assert not T.patterns[:, 1:4].any()
    assert np.array_equal(T.patterns[:, 0], T.patterns[:, 4])
    check_regions(T, net, 4.0)


def test_pieces_merge_only_neighbours_with_the_same_map():
    W, b = [[1.0], [1.0], [1.0]], [0.5, 0.0, -0.5]
    # f = 0, x + 1/2, 1/2 - x, 0: the two zero pieces are not neighbours
    T = enumerate_regions(one_layer(W, b, head=[1.0, -2.0, 1.0]))
    assert T.count == 4 and T.pieces == 4
    # f = relu(x + 1/2): every unit still cuts, f has two pieces
    T = enumerate_regions(one_layer(W, b, head=[1.0, 0.0, 0.0]))
    assert T.count == 4 and T.pieces == 2
    # in 2-D, a head that ignores a unit merges the regions on its two sides
    T = enumerate_regions(one_layer([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], head=[1.0, 0.0]))
    assert T.count == 4 and T.pieces == 2


# -- every kind of layer, 2-D and 3-D, slices ---------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3])
def test_mixed_layers_patterns_and_maps_at_centroids(dim):
    acts = [RELU, Activation("abs_pow", p=1.0), Activation("identity"), RELU]
    net = he_net([dim, 8, 6, 5, 6], seed=dim, act=acts, head="linear")
    T = enumerate_regions(net, (-1.5, 1.5))
    assert T.count > 20
    check_regions(T, net, 3.0 ** dim)
    assert [s.stop - s.start for s in T.layer_slices] == [8, 6, 5, 6]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_slices_of_a_five_input_net(k):
    net = he_net([5, 10, 10], seed=7)
    rng = np.random.default_rng(k)
    origin, basis = 0.3 * rng.normal(size=5), rng.normal(size=(k, 5))
    T = enumerate_regions(net, (-1, 1), origin=origin, basis=basis)
    assert T.dim == k and T.gradients.shape == (T.count, 5) and T.local_gradients.shape == (T.count, k)
    check_regions(T, net, 2.0 ** k)
    assert np.allclose(T.local_gradients, T.gradients @ basis.T)
    assert T.points(0).shape == (len(T.vertices[0]), 5)
    # the same as the restricted network through the origin
    if k == 2:
        T0 = enumerate_regions(net, (-1, 1), basis=basis)
        R = enumerate_regions(net.restrict(basis.T), (-1, 1))
        assert T0.count == R.count
        assert np.array_equal(np.unique(T0.patterns, axis=0), np.unique(R.patterns, axis=0))


# -- the mesh -----------------------------------------------------------------------------------
def test_mesh_2d_one_polygon_per_region_shared_vertices():
    net = he_net([2, 12, 12], seed=1)
    T = enumerate_regions(net)
    m = T.mesh()
    assert m.n_faces == T.count and np.array_equal(T.face_region, np.arange(T.count))
    assert m.vertices.shape[1] == 3 and np.all(m.vertices[:, 2] == 0)
    assert m.euler_characteristic == 1            # a subdivided disk
    assert m.is_closed_manifold() is False
    # every interior edge is used twice, once in each direction: the polygons are consistently oriented
    fe = m.face_edges()
    key = fe[:, 0] * m.n_vertices + fe[:, 1]
    assert len(np.unique(key)) == len(key)
    assert np.array_equal(m.region_patterns, T.patterns)


def test_mesh_3d_every_cell_closed():
    from scipy.spatial import ConvexHull
    net = he_net([3, 8, 8], seed=2)
    T = enumerate_regions(net)
    m = T.mesh()
    assert np.array_equal(np.unique(T.face_region), np.arange(T.count))
    vol = T.volumes()
    hull = np.array([ConvexHull(v).volume for v in T.vertices])
    assert np.allclose(vol, hull, rtol=1e-9, atol=1e-15)
    for r in range(min(T.count, 20)):             # each region's faces close up, outward
        sel = np.nonzero(T.face_region == r)[0]
        faces = [m.faces[i] for i in sel]
        edges = [(f[i], f[(i + 1) % len(f)]) for f in faces for i in range(len(f))]
        assert len(set(edges)) == len(edges)
        assert {(b, a) for a, b in edges} == set(edges)
    assert T.volumes().sum() == pytest.approx(8.0, rel=1e-9)


def test_mesh_1d_is_refused():
    T = enumerate_regions(tent_map_network(2), (0, 1))
    with pytest.raises(NeuralPolyError, match="1-D"):
        T.mesh()


# -- maxout ------------------------------------------------------------------------------------
@pytest.mark.parametrize("k, dims", [(2, [2, 5, 4]), (3, [2, 4, 3]), (3, [3, 3, 2]), (4, [2, 3])])
def test_maxout_regions_against_dense_sampling_and_milp(k, dims):
    rng = np.random.default_rng(k + len(dims))
    mx = Activation("maxout", k=k)
    layers = [Layer(rng.normal(size=(b * k, a)), rng.uniform(-1, 1, size=b * k), mx) for a, b in zip(dims[:-1], dims[1:])]
    net = Network(dims[0], layers, Output("sum"))
    T = enumerate_regions(net)
    assert T.patterns.dtype == np.int16
    c = T.centroids()
    onehot = net.activation_pattern(c)
    arg = np.concatenate([blk.reshape(len(c), -1, k).argmax(axis=2)
                          for blk in np.split(onehot, np.cumsum([l.rows for l in layers])[:-1], axis=1)], axis=1)
    assert np.array_equal(arg, T.patterns)
    assert T.volumes().sum() == pytest.approx(2.0 ** dims[0], rel=1e-9)
    X = rng.uniform(-1, 1, size=(100_000, dims[0]))
    sampled = {bytes(p) for p in np.packbits(net.activation_pattern(X), axis=1)}
    exact = {bytes(p) for p in np.packbits(onehot, axis=1)}
    assert sampled <= exact and len(sampled) >= T.count - 2
    assert np.array_equal(T.row_patterns(), onehot)
    milp = count_regions(net, method="milp")
    assert milp.complete and milp.regions == T.count
    exact = count_regions(net, method="exact")
    assert np.array_equal(exact.pattern_columns, milp.pattern_columns)
    assert {bytes(p) for p in np.packbits(exact.patterns, axis=1)} == {bytes(p) for p in np.packbits(milp.patterns, axis=1)}


# -- MILP and regioncam ---------------------------------------------------------------------------
@pytest.mark.parametrize("dims, seed", [([2, 6, 5], 3), ([2, 8], 4), ([3, 5, 4], 5), ([3, 4, 3, 3], 6)])
def test_milp_count_equals_exact(dims, seed):
    net = he_net(dims, seed)
    exact = count_regions(net, (-1, 1), method="exact")
    milp = count_regions(net, (-1, 1), method="milp")
    assert exact.complete and exact.method == "exact" and exact.details["pieces"] <= exact.regions
    assert milp.complete and milp.regions == exact.regions
    assert np.array_equal(exact.pattern_columns, milp.pattern_columns)
    as_set = lambda P: {bytes(p) for p in np.packbits(P, axis=1)}
    assert as_set(exact.patterns) == as_set(milp.patterns)
    assert np.array_equal(net.activation_pattern(exact.witnesses)[:, exact.pattern_columns], exact.patterns)
    assert exact.tessellation.count == exact.regions


@pytest.mark.parametrize("dims, seed", [([2, 16, 16], 0), ([2, 32, 32, 32], 1), ([2, 20, 20, 20, 20], 2)])
def test_same_counts_as_regioncam(monkeypatch, dims, seed):
    """Every path that cuts a 2-D box: the compiled one (where numba is installed), numpy's and
    the cell complex."""
    regioncam = pytest.importorskip("regioncam")
    net = he_net(dims, seed)
    rc = regioncam.Regioncam(1.0)
    for layer in net.layers:
        rc.linear(layer.weight.T.astype(np.float32), layer.bias.astype(np.float32))
        rc.relu()
    counts = {}
    if compiled2d.warm_up():
        T = enumerate_regions(net)
        counts[T.info["cutting"]] = T.count
    monkeypatch.setattr(exact_module, "COMPILED_2D", False)
    T = enumerate_regions(net)
    counts[T.info["cutting"]] = T.count
    monkeypatch.setattr(exact_module, "FAST_2D", False)
    T = enumerate_regions(net)
    counts[T.info["cutting"]] = T.count
    expected = ["compiled"] * compiled2d.available() + ["arrangements", "cell complex"]
    assert counts == dict.fromkeys(expected, rc.num_faces)


# -- bad input -----------------------------------------------------------------------------------
def test_bad_input_is_refused():
    net = he_net([2, 4], 0)
    sig = Network(2, [Layer(np.eye(2), None, Activation("sigmoid", scale=1.0))], Output("sum"))
    with pytest.raises(NeuralPolyError, match="not piecewise linear"):
        enumerate_regions(sig)
    sq = Network(2, [Layer(np.eye(2), None, Activation("abs_pow", p=2.0))], Output("sum"))
    with pytest.raises(NeuralPolyError, match="not piecewise linear"):
        enumerate_regions(sq)
    with pytest.raises(NeuralPolyError, match="origin and basis"):
        enumerate_regions(he_net([4, 3], 0))
    with pytest.raises(NeuralPolyError, match="basis must have shape"):
        enumerate_regions(he_net([4, 3], 0), basis=np.ones((2, 3)))
    with pytest.raises(NeuralPolyError, match="linearly independent"):
        enumerate_regions(he_net([4, 3], 0), basis=np.ones((2, 4)))
    with pytest.raises(NeuralPolyError, match="lo < hi"):
        enumerate_regions(net, (1, -1))
    with pytest.raises(NeuralPolyError, match="max_regions = 3"):
        enumerate_regions(he_net([2, 10, 10], 0), max_regions=3)
    with pytest.raises(NeuralPolyError, match="options origin, basis and max_regions"):
        count_regions(net, method="exact", time_limit=3)
    with pytest.raises(Cancelled):
        enumerate_regions(he_net([2, 10, 10], 0), cancel=lambda: True)


def test_memory_budget_is_checked_before_a_layer():
    set_memory_budget("1K")
    try:
        with pytest.raises(MemoryBudgetError, match="enumerating the regions"):
            enumerate_regions(he_net([2, 10, 10], 0))
    finally:
        set_memory_budget(None)


def test_identity_layers_of_equal_width_in_a_row():
    acts = [RELU, Activation("identity"), Activation("identity"), RELU]
    net = he_net([2, 6, 6, 6, 6], seed=11, act=acts)
    T = enumerate_regions(net)
    check_regions(T, net, 4.0)


def test_maxout_on_a_segment_and_in_3d():
    rng = np.random.default_rng(5)
    mx = Activation("maxout", k=3)
    net = Network(1, [Layer(rng.normal(size=(12, 1)), rng.uniform(-1, 1, size=12), mx),
                      Layer(rng.normal(size=(6, 4)), rng.uniform(-1, 1, size=6), mx)], Output("sum"))
    T = enumerate_regions(net)
    t = np.linspace(-1, 1, 400_001)[:, None]
    P = net.activation_pattern(t)
    change = np.nonzero(np.any(P[1:] != P[:-1], axis=1))[0]
    assert T.count == len(change) + 1
    assert np.allclose(T.breakpoints, t[change, 0], atol=1e-5)
    check_regions(T, net, 2.0)
    net3 = Network(3, [Layer(rng.normal(size=(9, 3)), rng.uniform(-1, 1, size=9), mx)], Output("sum"))
    T3 = enumerate_regions(net3)
    assert T3.info["cells"] >= T3.count
    check_regions(T3, net3, 8.0)
    assert count_regions(net3, method="milp").regions == T3.count
    assert np.array_equal(np.unique(T3.face_region), np.arange(T3.count))
    # the faces between cells of one region are left out: the volumes are still the regions'
    from scipy.spatial import ConvexHull
    assert np.allclose(T3.volumes(), [ConvexHull(v).volume for v in T3.vertices], rtol=1e-9)
    # and each region's faces close up: their vector areas add up to zero
    m = T3.mesh()
    area = np.array([0.5 * np.cross(m.vertices[f], m.vertices[np.roll(f, -1)]).sum(axis=0) for f in m.faces])
    closure = np.array([area[T3.face_region == r].sum(axis=0) for r in range(T3.count)])
    assert np.abs(closure).max() <= 1e-12
    # every face is a boundary of its region: just outside it the pattern is another one
    centre = np.array([m.vertices[f].mean(axis=0) for f in m.faces])
    out = centre + 1e-7 * area / np.linalg.norm(area, axis=1)[:, None]
    inside = np.all(np.abs(out) < 1, axis=1)
    assert T3.info["cells"] > T3.count and inside.sum() > 0
    assert not np.any(np.all(unit_patterns(net3, out[inside]) == T3.patterns[T3.face_region[inside]], axis=1))


def integer_net(seed):
    """A random ReLU net with small integer weights: 2 or 3 inputs, 1 to 3 layers of 2 to 5
    units, biases in {-1/2, 0, 1/2} for odd seeds, none for even ones."""
    rng = np.random.default_rng(100 + seed)
    dim, layers = int(rng.integers(2, 4)), []
    a = dim
    for _ in range(int(rng.integers(1, 4))):
        b = int(rng.integers(2, 6))
        W = rng.integers(-2, 3, size=(b, a)).astype(float)
        bias = rng.integers(-1, 2, size=b).astype(float) * 0.5 if seed % 2 else None
        layers.append(Layer(W, bias, RELU))
        a = b
    return Network(dim, layers, Output("sum"))


@pytest.mark.parametrize("seed, count", [(1, 23), (10, 26)])
def test_integer_weights_many_coincidences(seed, count):
    # small integer weights: hyperplanes through vertices, units identically zero on regions;
    # the counts agree with the patterns of 2,000,000 uniform samples
    net = integer_net(seed)
    dim = net.dim
    T = enumerate_regions(net)
    assert T.count == count and T.info["degenerate_cells"] == 0
    check_regions(T, net, 2.0 ** dim)
    X = np.random.default_rng(0).uniform(-1, 1, size=(200_000, dim))
    sampled = {bytes(p) for p in np.packbits(net.activation_pattern(X), axis=1)}
    assert sampled <= {bytes(p) for p in np.packbits(T.patterns, axis=1)}


def test_progress_goes_up_to_one_with_the_layer_in_the_message():
    seen = []
    enumerate_regions(he_net([2, 6, 6], 0), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1] == "layer 2 of 2"
