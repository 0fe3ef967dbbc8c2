"""Boolean algebra of neurons (neuralpoly_core.construct.boolean)."""

import json

import numpy as np
import pytest

from neuralpoly_core.construct import boolean as B
from neuralpoly_core.errors import ModelFormatError, NeuralPolyError
from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.network import Network


def segment_area(mesh):
    s = mesh.corners.reshape(-1, 2)
    v = mesh.vertices
    return 0.5 * float(np.sum(v[s[:, 0], 0] * v[s[:, 1], 1] - v[s[:, 1], 0] * v[s[:, 0], 1]))


def measure(net, dim, box=(0, 1)):
    m = extract_level_set(net, 0.0, box, cap=True, merge_coplanar=dim == 3)
    assert m.is_closed_manifold()
    return m, (m.volume() if dim == 3 else segment_area(m))


@pytest.mark.parametrize("dim", [2, 3])
def test_seed_square_donut_is_exact(dim):
    solid = B.square_donut(dim)
    net = B.compile_network(solid)
    m, vol = measure(net, dim)
    assert vol == pytest.approx(0.8 ** dim - 0.4 ** dim, abs=1e-12)
    assert m.info["max_level_error"] <= 1e-12
    if dim == 2:
        assert m.f_vector == (8 * 2, 8 * 2)        # two square loops, 4 corners + ... each
        assert m.euler_characteristic == 0
    else:
        # a cube with a cubic cavity: two closed surfaces of 6 quads each
        assert m.f_vector == (16, 24, 12) and m.face_size_counts() == {4: 12}
        assert m.euler_characteristic == 4


@pytest.mark.parametrize("dim", [2, 3])
def test_seed_two_square_donuts(dim):
    net = B.compile_network(B.two_square_donuts(dim))
    m, vol = measure(net, dim)
    assert vol == pytest.approx(2 * (0.3 ** dim - 0.1 ** dim), abs=1e-12)
    if dim == 3:
        assert m.face_size_counts() == {4: 24} and m.euler_characteristic == 8


def test_hard_network_sign_agrees_with_the_solid_everywhere():
    rng = np.random.default_rng(0)
    for dim in (2, 3):
        for solid in (B.square_donut(dim), B.two_square_donuts(dim)):
            net = B.compile_network(solid)
            X = rng.uniform(0, 1, (20000, dim))
            assert np.array_equal(net(X) < 0, solid.contains(X))


def test_operators_against_analytic_volumes():
    A = B.Convex.box([-0.5] * 3, [0.5] * 3)
    C = B.Convex.box([0.0] * 3, [0.8] * 3)
    D = B.Convex.box([-0.2] * 3, [0.2] * 3)
    cases = {
        "union": (A | C, 1 + 0.512 - 0.125),
        "intersection": (A & C, 0.125),
        "difference": (A - C, 0.875),
        "difference of a difference": (A - (C - D), 0.875 + 0.008),
        "intersection with a difference": ((A - D) & C, 0.125 - 0.008),
        "function forms": (B.difference(B.union(A, C), D), 1.387 - 0.064),
    }
    for name, (solid, vol) in cases.items():
        m, v = measure(B.compile_network(solid), 3, (-1, 1))
        assert v == pytest.approx(vol, abs=1e-12), name


def test_halfspaces_and_convex_meshes():
    V = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) * 0.7
    F = [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
    octa = B.Convex.from_mesh(V, F)
    assert len(octa.halfspaces) == 8
    m, v = measure(B.compile_network(octa), 3, (-1, 1))
    assert v == pytest.approx(4 / 3 * 0.7 ** 3, abs=1e-12) and m.face_size_counts() == {3: 8}
    cut = octa & B.HalfSpace([0, 0, 2], 0.2)            # z <= 0.1 (normal is normalised)
    m2, v2 = measure(B.compile_network(cut), 3, (-1, 1))
    h = 0.7 - 0.1
    assert v2 == pytest.approx(4 / 3 * 0.7 ** 3 - (2 * h ** 3) / 3, abs=1e-12)
    # a 2-D convex polygon from its loop
    tri = B.Convex.from_mesh([[0, 0], [1, 0], [0, 1]], [[0, 1, 2]])
    _m, a = measure(B.compile_network(tri), 2, (-1, 2))
    assert a == pytest.approx(0.5, abs=1e-12)
    # non-convex mesh
    bad = np.array([[0, 0], [2, 0], [0.3, 0.3], [0, 2]])
    with pytest.raises(NeuralPolyError, match="not convex"):
        B.Convex.from_mesh(bad, [[0, 1, 2, 3]])


def test_layer_structures():
    solid = B.two_square_donuts(2)
    hard = B.compile_network(solid)
    assert hard.layers[0].width == 16                       # layer 1: the 16 half-spaces
    assert all(l.activation.name == "relu" for l in hard.layers)
    assert hard.output.name == "linear"
    soft = B.compile_network(solid, sharpness=30.0)
    # the note's four layers: 16 half-spaces, 4 convex squares, 2 donuts, 1 union
    assert soft.widths == (16, 4, 2, 1)
    assert [l.activation.name for l in soft.layers] == ["sigmoid"] * 4
    assert soft.layers[0].activation.scale == 30.0
    assert soft.layers[1].activation.scale == B.LOGIC_SHARPNESS


def test_soft_network_blends_and_converges_to_the_solid():
    solid = B.square_donut(2)
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (20000, 2))
    inside = solid.contains(X)
    sharp = B.compile_network(solid, sharpness=400.0)
    blunt = B.compile_network(solid, sharpness=10.0)
    assert np.mean((sharp(X) < 0) == inside) > 0.995
    assert np.mean((blunt(X) < 0) == inside) < np.mean((sharp(X) < 0) == inside)
    # f < 0 well inside, f > 0 far outside
    assert sharp([[0.2, 0.5]])[0] < 0 < sharp([[0.5, 0.5]])[0]


def test_json_description_round_trip_and_errors():
    desc = {"format": "neuralpoly.boolean", "version": 1, "dim": 2,
            "solid": {"union": [
                {"difference": [{"box": {"lo": [0.1, 0.1], "hi": [0.4, 0.4]}},
                                {"box": {"lo": [0.2, 0.2], "hi": [0.3, 0.3]}}]},
                {"difference": [{"box": {"lo": [0.6, 0.6], "hi": [0.9, 0.9]}},
                                {"box": {"lo": [0.7, 0.7], "hi": [0.8, 0.8]}}]}]}}
    net = B.network_from_description(json.loads(json.dumps(desc)))
    _m, a = measure(net, 2)
    assert a == pytest.approx(0.16, abs=1e-12)
    # a compiled network survives the model-file format
    again = Network.from_dict(json.loads(json.dumps(net.to_dict())))
    X = np.random.default_rng(2).uniform(0, 1, (500, 2))
    assert np.array_equal(again(X), net(X))
    soft = dict(desc, mode="soft", sharpness=50)
    assert B.network_from_description(soft).widths == (16, 4, 2, 1)
    halfs = {"format": "neuralpoly.boolean", "version": 1, "dim": 3,
             "solid": {"intersection": [{"convex": [{"normal": [1, 0, 0], "offset": 0.5},
                                                    {"normal": [-1, 0, 0], "offset": 0.5}]},
                                        {"halfspace": {"normal": [0, 1, 0], "offset": 0.2}}]}}
    assert B.network_from_description(halfs).dim == 3
    bad_cases = [
        ([], "JSON object"),
        ({"format": "neuralpoly.model"}, "not a boolean description"),
        (dict(desc, version=2), "version"),
        (dict(desc, dim=4), "dim"),
        (dict(desc, extra=1), "unknown keys"),
        (dict(desc, solid={"box": {"lo": [0, 0]}}), "lo' and 'hi"),
        (dict(desc, solid={"sphere": 1}), "unknown solid kind"),
        (dict(desc, solid={"union": []}), "non-empty"),
        (dict(desc, solid={"box": {"lo": [0, 0, 0], "hi": [1, 1, 1]}}), "2 coordinates"),
        (dict(desc, solid={"box": {"lo": [1, 1], "hi": [0, 0]}}), "empty"),
        (dict(desc, mode="fuzzy"), "mode"),
        (dict(desc, sharpness=3), "soft"),
        (dict(desc, mode="soft", sharpness=-1), "sharpness must be > 0"),
        (dict(desc, solid={"halfspace": {"normal": [0, 0], "offset": 1}}), "non-zero normal"),
    ]
    for d, msg in bad_cases:
        with pytest.raises(ModelFormatError, match=msg):
            B.network_from_description(d)


def test_bad_arguments():
    with pytest.raises(NeuralPolyError, match="non-zero"):
        B.HalfSpace([0, 0, 0], 1.0)
    with pytest.raises(NeuralPolyError, match="empty"):
        B.Convex.box([0, 0], [0, 1])
    with pytest.raises(NeuralPolyError, match="mixed dimensions"):
        B.Convex.box([0, 0], [1, 1]) | B.Convex.box([0, 0, 0], [1, 1, 1])
    with pytest.raises(NeuralPolyError, match="soft"):
        B.compile_network(B.square_donut(2), sharpness=5.0, hard=True)
    with pytest.raises(NeuralPolyError, match="expected a HalfSpace"):
        B.union(B.square_donut(2), "box")
