"""Hash-grid encodings: the numpy evaluation, the model format, the torch module, exact extraction."""

import json

import numpy as np
import pytest

from neuralpoly_core.errors import ExtractionError, ModelFormatError
from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.levelset.exact import extract_level_set_exact
from neuralpoly_core.levelset.marching import value_and_gradient
from neuralpoly_core.network.encoding import HashGridEncoding, grid_resolutions
from neuralpoly_core.network.model import Activation, Layer, Network, Output
from neuralpoly_core.network.modelfile import model_from_json, model_to_json

BOX3 = [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]


def grid_vertices(n, dim):
    idx = np.stack(np.meshgrid(*[np.arange(n + 1)] * dim, indexing="ij"), -1).reshape(-1, dim)
    return idx


def linear_encoding(resolutions, a, b, table_size=4096, interpolation="simplex", box=BOX3):
    """One feature per level: the affine function a.x + b sampled at every grid vertex."""
    enc = HashGridEncoding(resolutions, 1, table_size, box, interpolation)
    lo, hi = np.asarray(box[0]), np.asarray(box[1])
    for l, n in enumerate(enc.resolutions):
        idx = grid_vertices(n, enc.dim)
        x = lo + (hi - lo) * idx / n
        enc.tables[l][enc.index(l, idx), 0] = x @ a + b
    return enc


def random_net(interpolation, seed=0, res=(3, 5, 9), features=2, table_size=256, widths=(12, 8), dim=3):
    rng = np.random.default_rng(seed)
    box = [[-1.0] * dim, [1.0] * dim]
    enc = HashGridEncoding(list(res), features, table_size, box, interpolation)
    enc.tables = [rng.normal(size=t.shape) for t in enc.tables]
    dims = [enc.n_outputs] + list(widths)
    layers = [Layer(rng.normal(size=(b, a)), rng.normal(size=b) * 0.3, Activation("relu"))
              for a, b in zip(dims[:-1], dims[1:])]
    return Network(dim, layers, Output("linear", rng.normal(size=(1, dims[-1])), [0.05]), enc)


# -- the encoding ----------------------------------------------------------------------------
def test_resolutions_are_geometric_and_end_at_max():
    assert grid_resolutions(8, 4, 64) == [4, 5, 8, 13, 19, 28, 43, 64]
    assert grid_resolutions(8, 16, 2048) == [16, 32, 64, 128, 256, 512, 1024, 2048]
    assert grid_resolutions(1, 7, 7) == [7]


def test_dense_and_hashed_rows():
    enc = HashGridEncoding([3, 20], 2, 1024, BOX3)
    assert enc.is_dense(0) and not enc.is_dense(1)
    assert enc.rows(0) == 64 and enc.rows(1) == 1024
    c = np.array([[1, 2, 3], [3, 0, 1]])
    assert enc.index(0, c).tolist() == [1 + 2 * 4 + 3 * 16, 3 + 0 + 16]
    # the Instant-NGP hash, 32-bit wrap-around included
    expect = [((x * 1) ^ ((y * 2654435761) & 0xFFFFFFFF) ^ ((z * 805459861) & 0xFFFFFFFF)) % 1024 for x, y, z in c]
    assert enc.index(1, c).tolist() == expect


@pytest.mark.parametrize("interpolation", ["simplex", "trilinear"])
def test_a_sampled_affine_function_is_reproduced(interpolation):
    a, b = np.array([0.3, -0.7, 1.1]), 0.2
    enc = linear_encoding([3, 5], a, b, interpolation=interpolation)
    X = np.random.default_rng(1).uniform(-1, 1, (2000, 3))
    assert np.abs(enc(X) - (X @ a + b)[:, None]).max() < 1e-14


def test_simplex_is_affine_on_each_kuhn_simplex_and_hits_the_table_at_vertices():
    enc = HashGridEncoding([4], 1, 4096, BOX3, "simplex")
    rng = np.random.default_rng(2)
    enc.tables[0][:, 0] = rng.normal(size=enc.rows(0))
    idx = grid_vertices(4, 3)
    assert np.abs(enc(-1 + 2 * idx / 4)[:, 0] - enc.tables[0][enc.index(0, idx), 0]).max() < 1e-15
    # points of the same cube with the same order of fractional coordinates: one affine map
    t = np.sort(rng.uniform(0, 1, (50, 3)), axis=1)[:, ::-1]        # t0 >= t1 >= t2
    X = -1 + 2 * (np.array([1, 2, 0]) + t) / 4
    v, J = enc.evaluate(X, jacobian=True)
    assert np.abs(J - J[:1]).max() < 1e-12
    assert np.abs(v[:, 0] - (v[0, 0] + (X - X[0]) @ J[0, 0])).max() < 1e-12


@pytest.mark.parametrize("interpolation", ["simplex", "trilinear"])
def test_gradient_matches_finite_differences(interpolation):
    net = random_net(interpolation)
    X = np.random.default_rng(3).uniform(-0.99, 0.99, (400, 3))
    f, g = value_and_gradient(net, X)
    assert np.abs(f - net(X)).max() == 0.0
    e = 1e-6
    fd = np.stack([(net(X + e * np.eye(3)[i]) - net(X - e * np.eye(3)[i])) / (2 * e) for i in range(3)], -1)
    # a few points may straddle a kink within e; all others agree closely
    assert np.quantile(np.abs(fd - g).max(axis=1), 0.95) < 1e-6


def test_planes_of_one_level():
    enc = HashGridEncoding([4], 1, 4096, BOX3, "simplex")
    P = enc.planes()
    # inner axis planes 3 per axis, diagonal planes g_i - g_j = k for k = -3..3 per pair
    assert P.shape == (3 * 3 + 3 * 7, 4)
    enc2 = HashGridEncoding([2, 4], 1, 4096, BOX3, "simplex")
    assert enc2.planes().shape == P.shape          # level 2's planes are among level 4's
    # two points on the same side of every plane lie in one simplex: the encoding is affine
    # on the segment between them (its midpoint value is the mean)
    enc.tables[0][:, 0] = np.random.default_rng(4).normal(size=enc.rows(0))
    X = np.random.default_rng(5).uniform(-1, 1, (20000, 3))
    S = X @ P[:, :3].T + P[:, 3] > 0
    _, first, inv = np.unique(S, axis=0, return_index=True, return_inverse=True)
    p, q = X[first[inv.ravel()]], X
    mid = enc(0.5 * (p + q))[:, 0]
    assert np.abs(mid - 0.5 * (enc(p)[:, 0] + enc(q)[:, 0])).max() < 1e-12
    # and not across planes: a pair in different simplices generally is not
    r = np.roll(X, 1, axis=0)
    assert np.abs(enc(0.5 * (X + r))[:, 0] - 0.5 * (enc(X)[:, 0] + enc(r)[:, 0])).max() > 1e-3


# -- the model format ------------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["simplex", "trilinear"])
def test_model_file_round_trip(interpolation):
    net = random_net(interpolation)
    text = model_to_json(net)
    d = json.loads(text)
    assert list(d)[:4] == ["format", "version", "dim", "encoding"]
    e = d["encoding"]
    assert e["kind"] == "hashgrid" and e["interpolation"] == interpolation and e["resolutions"] == [3, 5, 9]
    back, _ = model_from_json(text)
    X = np.random.default_rng(5).uniform(-1.2, 1.2, (500, 3))
    assert np.array_equal(back(X), net(X))
    # without 'resolutions' they are recomputed from min and max
    del e["resolutions"]
    rows = [(n + 1) ** 3 if (n + 1) ** 3 <= 256 else 256 for n in [4, 5, 8, 13, 19, 28, 43, 64]]
    e.update(levels=8, min_resolution=4, max_resolution=64, tables=[[[0.0]] * r for r in rows], features=1)
    d["layers"][0]["weight"] = [[0.0] * 8] * 12
    net8 = Network.from_dict(d)
    assert net8.encoding.resolutions == [4, 5, 8, 13, 19, 28, 43, 64]


def test_plain_models_have_no_encoding_key():
    net = Network(2, [Layer([[1.0, 0.0]], [0.5], Activation("relu"))], Output("linear", [[1.0]], None))
    d = net.to_dict()
    assert "encoding" not in d and list(d) == ["format", "version", "dim", "layers", "output"]
    assert Network.from_dict(d).encoding is None


@pytest.mark.parametrize("change, message", [
    (lambda e: e.update(kind="octree"), "unknown encoding kind"),
    (lambda e: e.update(table_size=1000), "power of two"),
    (lambda e: e.update(interpolation="cubic"), "interpolation"),
    (lambda e: e["tables"].pop(), "one table per level"),
    (lambda e: e["tables"][0].pop(), "table 0 has shape"),
    (lambda e: e.update(box=[[0, 0, 0], [0, 1, 1]]), "above its lo"),
    (lambda e: e.update(spare=1), "unknown keys"),
])
def test_bad_encodings_are_refused(change, message):
    d = random_net("simplex").to_dict()
    change(d["encoding"])
    with pytest.raises(ModelFormatError, match=message):
        Network.from_dict(d)


def test_first_layer_must_read_the_features():
    d = random_net("simplex").to_dict()
    d["layers"][0]["weight"] = [row[:3] for row in d["layers"][0]["weight"]]
    with pytest.raises(ModelFormatError, match="expected 6 .*levels \\* features"):
        Network.from_dict(d)


def test_exact_extraction_refuses_trilinear_grids():
    net = random_net("trilinear")
    with pytest.raises(ExtractionError, match="trilinear.*not piecewise linear.*method='trilinear'"):
        net.require_piecewise_linear("use method='marching'")
    random_net("simplex").require_piecewise_linear("use method='marching'")
    assert net.degree is None and not net.is_neural_polytope


# -- torch -------------------------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["simplex", "trilinear"])
@pytest.mark.parametrize("dim", [2, 3])
def test_torch_module_matches_numpy(interpolation, dim):
    torch = pytest.importorskip("torch")
    from neuralpoly_core.training.hashgrid_torch import HashGridSpec, build_torch_model, to_network
    spec = HashGridSpec(interpolation, levels=4, features=2, log2_table=10, min_resolution=3,
                        max_resolution=40, depth=2, width=16, dim=dim)
    m = build_torch_model(spec, seed=1)
    with torch.no_grad():
        for t in m.tables:
            t.uniform_(-1, 1)
    net = to_network(m)
    assert [net.encoding.is_dense(l) for l in range(4)] == ([True, True, True, False] if dim == 2 else
                                                            [True, True, False, False])
    X = np.random.default_rng(6).uniform(-1.1, 1.1, (3000, dim))
    y32 = m(torch.tensor(X, dtype=torch.float32))[:, 0].detach().numpy()
    assert np.abs(y32 - net(X)).max() < 1e-5 * max(1.0, np.abs(net(X)).max())
    m64 = m.double()
    x = torch.tensor(X, requires_grad=True)
    f = m64(x)[:, 0]
    g = torch.autograd.grad(f.sum(), x)[0].numpy()
    assert np.abs(f.detach().numpy() - net(X)).max() < 1e-12
    assert np.abs(g - value_and_gradient(net, X)[1]).max() < 1e-10


def test_spec_text_round_trip_and_errors():
    from neuralpoly_core.errors import NeuralPolyError
    from neuralpoly_core.training.hashgrid_torch import parse_hashgrid_spec
    s = parse_hashgrid_spec("hashgrid:trilinear,levels=4,res=2-32,mlp=2x16,table=19")
    assert (s.interpolation, s.levels, s.min_resolution, s.max_resolution, s.depth, s.width, s.table_size) == \
        ("trilinear", 4, 2, 32, 2, 16, 1 << 19)
    assert parse_hashgrid_spec(s.text) == s
    assert parse_hashgrid_spec("hashgrid").text == "hashgrid:simplex,levels=8,features=2,table=14,res=4-64,mlp=2x32"
    for bad, msg in [("hashgrid:cubic", "cannot read 'cubic'"), ("hashgrid:levels=0", "levels"),
                     ("hashgrid:res=64-4", "max resolution"), ("relu:8x32", "not a hash-grid spec")]:
        with pytest.raises(NeuralPolyError, match=msg):
            parse_hashgrid_spec(bad)


# -- exact extraction of simplex hash grids ---------------------------------------------------------
def sampled_encoding(res, fn, dim=3, table_size=4096):
    """One feature per level: ``fn`` sampled at the level's grid vertices (the box [-1, 1]^dim)."""
    enc = HashGridEncoding(list(res), 1, table_size, [[-1.0] * dim, [1.0] * dim], "simplex")
    for l, n in enumerate(enc.resolutions):
        idx = grid_vertices(n, dim)
        enc.tables[l][enc.index(l, idx), 0] = fn(-1 + 2 * idx / n)
    return enc


def ball_net(res, dim=3, table_size=4096):
    """f = mean over levels of relu(I_l + 0.3) - 0.3, I_l the level's interpolant of |x|^2 - 0.36:
    near the level set every relu is active and f is the mean of the interpolants."""
    enc = sampled_encoding(res, lambda X: (X ** 2).sum(-1) - 0.36, dim, table_size)
    L = len(res)
    return Network(dim, [Layer(np.eye(L), np.full(L, 0.3), Activation("relu"))],
                   Output("linear", np.full((1, L), 1.0 / L), [-0.3]), enc)


@pytest.mark.parametrize("res", [[4], [3, 4], [4, 6, 9]])
def test_exact_level_set_of_a_sampled_ball(res):
    net = ball_net(res)
    m = extract_level_set(net, 0.0, (-1, 1), method="exact")
    info = m.info
    assert info["closed"] and info["watertight"] and info["degenerate_cells"] == 0
    assert m.euler_characteristic == 2
    assert info["max_level_error"] < 1e-12
    assert np.abs(net(m.vertices)).max() < 1e-12
    # every face is planar
    for face in m.faces[:200]:
        P = m.vertices[face]
        assert np.linalg.svd(P - P.mean(0), compute_uv=False)[-1] < 1e-12
    # one level: the level set of a piecewise-linear interpolant on the Kuhn tetrahedra crosses
    # each tetrahedron at most once (a triangle or a quadrilateral)
    if res == [4]:
        assert info["faces"] == 120
    grid = [s for s in info["layers"] if "grid_level" in s]
    assert [s["resolution"] for s in grid] == res


def test_exact_matches_marching_cubes_of_the_same_net():
    from neuralpoly_core.mesh.distance import distance_to_mesh, sample_surface
    net = ball_net([4, 6, 9])
    ex = extract_level_set(net, 0.0, (-1, 1), method="exact")
    mc = extract_level_set(net, 0.0, (-1, 1), method="marching", resolution=96)
    # two-way Hausdorff on samples: within about one marching-cubes cell (2/96 = 0.021)
    h1 = distance_to_mesh(sample_surface(mc, 4000), ex).max()
    h2 = distance_to_mesh(sample_surface(ex, 4000), mc).max()
    assert max(h1, h2) < 0.02
    assert np.abs(net(ex.vertices)).max() < 1e-12


def test_a_sampled_plane_is_one_planar_face():
    a, b = np.array([0.3, -0.5, 0.8]), 0.1
    enc = sampled_encoding([3, 5], lambda X: X @ a + b)
    net = Network(3, [Layer([[0.5, 0.5]], None, Activation("identity"))], Output("sum"), enc)
    m = extract_level_set(net, 0.0, (-1, 1), method="exact", merge_coplanar=True)
    assert m.info["max_level_error"] < 1e-14
    assert m.n_faces == 1
    assert np.abs(m.vertices @ a + b).max() < 1e-14
    capped = extract_level_set(net, 0.0, (-1, 1), method="exact", merge_coplanar=True, cap=True)
    assert capped.info["closed"] and capped.euler_characteristic == 2


def test_exact_in_2d_and_pruning_does_not_change_the_curve():
    net = ball_net([3, 5, 8], dim=2)
    pruned = extract_level_set(net, 0.0, (-1, 1), method="exact")
    full = extract_level_set_exact(net, 0.0, (-1, 1), prune=False)
    assert pruned.info["max_level_error"] < 1e-12
    assert pruned.n_faces == full.n_faces
    assert np.allclose(np.sort(pruned.vertices, axis=0), np.sort(full.vertices, axis=0), atol=1e-12)


def test_exact_refuses_a_box_outside_the_encoding():
    with pytest.raises(ExtractionError, match="outside the hash-grid encoding's box"):
        extract_level_set(ball_net([4]), 0.0, (-1.5, 1), method="exact")
    with pytest.raises(ExtractionError, match="method='trilinear'"):
        extract_level_set(random_net("trilinear"), 0.0, (-1, 1), method="exact")


def test_random_simplex_net_has_exact_watertight_level_sets():
    net = random_net("simplex", seed=7, res=(2, 3, 5), widths=(8, 8))
    c = float(np.median(net(np.random.default_rng(0).uniform(-1, 1, (2000, 3)))))
    m = extract_level_set(net, c, (-1, 1), method="exact", cap=True)
    assert m.info["watertight"] and m.info["degenerate_cells"] == 0
    assert m.info["max_level_error"] < 1e-11 * max(1.0, m.info["level_scale"])
    free = extract_level_set_exact(net, c, (-1, 1), cap=True, prune=False)
    assert free.n_faces == m.n_faces and free.n_vertices == m.n_vertices


# -- trilinear grids: Kim 2024's approximation ---------------------------------------------------
def test_trilinear_method_on_an_affine_function_is_flat_and_exact():
    a, b = np.array([0.3, -0.5, 0.8]), 0.1
    enc = sampled_encoding([3, 5], lambda X: X @ a + b)
    enc.interpolation = "trilinear"
    net = Network(3, [Layer([[0.5, 0.5]], None, Activation("identity"))], Output("sum"), enc)
    for cells in ("kuhn", "cubes"):
        m = extract_level_set(net, 0.0, (-1, 1), method="trilinear", cap=True) if cells == "kuhn" else \
            extract_level_set_exact(net, 0.0, (-1, 1), cap=True, trilinear=True, trilinear_cells=cells)
        assert m.info["method"] == "trilinear"
        assert m.info["flatness_error"] < 1e-14
        assert m.info["max_level_error"] < 1e-14 and m.info["watertight"]


def test_trilinear_method_on_a_sampled_ball():
    enc = sampled_encoding([4, 6, 9], lambda X: np.sqrt((X ** 2).sum(-1)) - 0.6)
    enc.interpolation = "trilinear"
    net = Network(3, [Layer(np.eye(3), np.full(3, 0.3), Activation("relu"))],
                  Output("linear", np.full((1, 3), 1 / 3), [-0.3]), enc)
    for cells in ("kuhn", "cubes"):
        m = extract_level_set_exact(net, 0.0, (-1, 1), trilinear=True, trilinear_cells=cells)
        i = m.info
        assert i["closed"] and i["watertight"] and m.euler_characteristic == 2
        # the distance is not trilinear: the cells are not flat, the vertices not exactly on f = 0
        assert 1e-4 < i["flatness_error"] < 0.05
        assert i["max_level_error"] < 0.05
    # vertices on the grid's cube edges are exact (trilinear is linear along them) ...
    cubes = extract_level_set_exact(net, 0.0, (-1, 1), trilinear=True, trilinear_cells="cubes")
    assert cubes.info["max_level_error"] < 1e-12
    with pytest.raises(ExtractionError, match="trilinear hash-grid encoding"):
        extract_level_set(ball_net([4]), 0.0, (-1, 1), method="trilinear")


def test_exact_in_a_smaller_box_off_the_grid():
    net = ball_net([4, 6])
    m = extract_level_set(net, 0.0, [[-0.55, 0.55], [-0.7, 0.61], [-0.33, 0.9]], method="exact", cap=True)
    assert m.info["closed"] and m.info["watertight"] and m.euler_characteristic == 2
    assert m.info["max_level_error"] < 1e-12
    lo, hi = np.array([-0.55, -0.7, -0.33]), np.array([0.55, 0.61, 0.9])
    assert np.all(m.vertices >= lo - 1e-12) and np.all(m.vertices <= hi + 1e-12)


def test_methods_that_read_the_first_layer_as_affine_refuse_encodings():
    from neuralpoly_core.errors import NeuralPolyError
    from neuralpoly_core.folding.api import fold_paths
    from neuralpoly_core.regions.formulation import check_countable
    net = random_net("simplex")
    with pytest.raises(NeuralPolyError, match="hash-grid encoding"):
        check_countable(net)
    with pytest.raises(ExtractionError, match="without an input encoding"):
        fold_paths(net, np.zeros((1, 3)), np.ones((1, 3)) * 0.5)
    with pytest.raises(ExtractionError, match="cannot be restricted"):
        net.restrict(np.eye(3)[:, :2])
