"""The 2-D fast paths of the exact region enumeration (neuralpoly_core.regions.compiled2d: the
box cut unit by unit in numba's machine code; neuralpoly_core.regions.lean2d: numpy, each layer
as line arrangements) against the unit-by-unit cell complex: the same regions, patterns, maps,
pieces and polygons; degenerate nets go to the cell complex."""

import warnings

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output
from neuralpoly_core.regions import compiled2d, enumerate_regions
from neuralpoly_core.regions import exact

needs_numba = pytest.mark.skipif(not compiled2d.available(), reason="numba is not installed")
#: the fast paths, by their info["cutting"] (the compiled one only where numba is installed)
PATHS = [pytest.param("compiled", marks=needs_numba), "arrangements"]


@pytest.fixture(autouse=True)
def compiled_loaded():
    """The compiled path loaded (where numba is installed), so that it runs from the first call."""
    if compiled2d.available():
        assert compiled2d.warm_up()


@pytest.fixture(params=PATHS)
def fast(request, monkeypatch):
    """The fast path under test: the compiled one (where numba is installed) or numpy's."""
    monkeypatch.setattr(exact, "COMPILED_2D", request.param == "compiled")
    return request.param

RELU, ABS = Activation("relu"), Activation("abs_pow", p=1.0)


def he_net(dims, seed, act=RELU, head="sum", bias=1.0):
    rng = np.random.default_rng(seed)
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.uniform(-bias, bias, size=b),
                    act[i] if isinstance(act, list) else act)
              for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))]
    out = Output("sum") if head == "sum" else Output("linear", rng.normal(size=(2, dims[-1])), rng.normal(size=2))
    return Network(dims[0], layers, out)


def by_complex(monkeypatch, *args, **kw):
    monkeypatch.setattr(exact, "FAST_2D", False)
    try:
        return enumerate_regions(*args, **kw)
    finally:
        monkeypatch.setattr(exact, "FAST_2D", True)


def polygons(T):
    """Each region as its pattern bytes -> sorted rounded corner coordinates."""
    return {bytes(np.packbits(p)): tuple(map(tuple, np.round(np.unique(np.round(v, 9), axis=0), 7)))
            for p, v in zip(T.patterns, T.vertices)}


CASES = [
    (([2, 16, 16], 0), {}),
    (([2, 12, 12, 12], 3), {}),
    (([2, 32, 32, 32], 1), {}),
    (([2, 10, 10], 4, [RELU, ABS], "linear"), {}),
    (([2, 8, 8, 8, 8], 5, ABS), {"bbox": (-2.0, 3.0)}),
]


@pytest.mark.parametrize("args, kw", CASES)
def test_arrangements_equal_the_cell_complex(monkeypatch, fast, args, kw):
    net = he_net(*args)
    T = enumerate_regions(net, **kw)
    C = by_complex(monkeypatch, net, **kw)
    assert T.info["cutting"] == fast and C.info["cutting"] == "cell complex"
    assert T.count == C.count and T.pieces == C.pieces and T.info["vertices"] == C.info["vertices"]
    assert len({bytes(np.packbits(p)) for p in T.patterns}) == T.count       # no duplicate region
    assert polygons(T) == polygons(C)                          # same patterns, same corners
    x = T.centroids()
    assert np.array_equal(net.activation_pattern(x), T.patterns)
    f = net(x) if net.n_outputs == 1 else net(x)[:, 0]
    assert np.abs(np.einsum("ij,ij->i", T.gradients, x) + T.offsets - f).max() <= 1e-9 * (1 + np.abs(f).max())
    vol = T.volumes()
    lo, hi = kw.get("bbox", (-1.0, 1.0))
    assert np.all(vol > 0) and abs(vol.sum() - (hi - lo) ** 2) <= 1e-9 * (hi - lo) ** 2
    mesh = T.mesh()
    assert mesh.n_faces == T.count and len(mesh.vertices) == T.info["vertices"]


def test_a_plane_through_a_five_input_net(monkeypatch, fast):
    net = he_net([5, 12, 12], 7)
    rng = np.random.default_rng(1)
    basis, origin = rng.normal(size=(2, 5)), rng.normal(size=5) * 0.2
    T = enumerate_regions(net, origin=origin, basis=basis)
    C = by_complex(monkeypatch, net, origin=origin, basis=basis)
    assert T.info["cutting"] == fast
    assert T.count == C.count and polygons(T) == polygons(C)
    x = T.origin + T.centroids() @ T.basis
    assert np.array_equal(net.activation_pattern(x), T.patterns)


@pytest.mark.parametrize("W, b", [
    ([[1.0, 0.0], [1.0, 0.0]], [0.2, 0.2]),           # a duplicate unit
    ([[1.0, 0.0], [0.0, 1.0]], [1.0, 0.3]),           # a line through a box side's end
    ([[1.0, 1.0], [1.0, -1.0], [1.0, 0.0]], [0.0, 0.0, 0.0]),   # three lines through one point
    ([[0.0, 0.0], [1.0, 0.5]], [0.0, 0.1]),           # a dead unit
])
def test_degenerate_nets_go_to_the_cell_complex(fast, W, b):
    net = Network(2, [Layer(np.asarray(W), np.asarray(b), RELU)], Output("sum"))
    T = enumerate_regions(net)
    assert T.info["cutting"] == "cell complex" and T.info["degenerate_cells"] == 0


def test_max_regions_and_wide_or_identity_layers_go_to_the_cell_complex(fast):
    with pytest.raises(Exception, match="max_regions = 5"):
        enumerate_regions(he_net([2, 10, 10], 0), max_regions=5)
    wide = enumerate_regions(he_net([2, 70], 0))       # over 64 units: numpy's signs are one word
    assert wide.info["cutting"] == ("compiled" if fast == "compiled" else "cell complex")
    ident = he_net([2, 6, 6, 6], 2, act=[RELU, Activation("identity"), RELU])
    assert enumerate_regions(ident).info["cutting"] == "cell complex"


def test_a_layer_that_crosses_no_cell_passes_every_cell_through(monkeypatch, fast):
    """Second-layer units positive on the whole box: no line crosses a cell (no new face at all)."""
    first = he_net([2, 6], 2).layers[0]
    rng = np.random.default_rng(3)
    second = Layer(0.1 * rng.normal(size=(3, 6)), np.full(3, 50.0), RELU)
    net = Network(2, [first, second], Output("sum"))
    T = enumerate_regions(net)
    C = by_complex(monkeypatch, net)
    assert T.info["cutting"] == fast
    assert T.count == C.count == enumerate_regions(Network(2, [first], Output("sum"))).count
    assert polygons(T) == polygons(C) and T.patterns[:, 6:].all()


@needs_numba
@pytest.mark.parametrize("seed", range(8))
def test_the_compiled_cut_equals_numpys_and_the_cell_complex(monkeypatch, seed):
    """Random shapes (1 to 4 layers of 3 to 24 units, relu and |x|, boxes off the origin): the
    same vertices, polygons and patterns whichever path cuts the box."""
    rng = np.random.default_rng(100 + seed)
    dims = [2] + list(rng.integers(3, 25, size=rng.integers(1, 5)))
    acts = [RELU if a else ABS for a in rng.integers(0, 2, size=len(dims) - 1)]
    net = he_net(dims, seed, act=acts, head="linear" if seed % 2 else "sum")
    lo = rng.uniform(-2.0, 0.0, size=2)
    bbox = (lo, lo + rng.uniform(0.5, 3.0, size=2))
    T = enumerate_regions(net, bbox)
    monkeypatch.setattr(exact, "COMPILED_2D", False)
    N = enumerate_regions(net, bbox)
    C = by_complex(monkeypatch, net, bbox)
    assert (T.info["cutting"], N.info["cutting"]) == ("compiled", "arrangements")
    assert T.count == N.count == C.count and T.pieces == N.pieces == C.pieces
    assert T.info["vertices"] == N.info["vertices"] == C.info["vertices"]
    assert polygons(T) == polygons(N) == polygons(C)
    assert np.array_equal(net.activation_pattern(T.centroids()), T.patterns)
    # in the same order (which path runs depends on the process's history): regions, corners, vertices
    assert np.array_equal(T.patterns, N.patterns)
    assert all(np.allclose(a, b, rtol=0, atol=1e-12) for a, b in zip(T.vertices, N.vertices))
    assert np.allclose(T.mesh().vertices, N.mesh().vertices, rtol=0, atol=1e-12)
    assert np.array_equal(T.adjacent_pairs(), N.adjacent_pairs())


@needs_numba
def test_a_layer_over_64_units_is_cut_compiled_as_by_the_cell_complex(monkeypatch):
    net = he_net([2, 70, 8], 0)
    T = enumerate_regions(net)
    C = by_complex(monkeypatch, net)
    assert T.info["cutting"] == "compiled" and T.count == C.count and polygons(T) == polygons(C)


def test_without_numba_numpy_cuts_the_box(monkeypatch):
    monkeypatch.setattr(compiled2d, "available", lambda: False)
    T = enumerate_regions(he_net([2, 16, 16], 0))
    assert T.info["cutting"] == "arrangements" and T.count == 259


@needs_numba
def test_a_compiler_failure_is_warned_about_once_and_numpy_cuts_the_box(monkeypatch):
    import numba

    def broken(*args, **kw):
        raise OSError("no LLVM here")

    monkeypatch.setattr(numba, "njit", broken)
    monkeypatch.setattr(compiled2d, "_kernels", None)
    monkeypatch.setattr(compiled2d, "_numpy_seconds", compiled2d.LOAD_AFTER_SECONDS)   # worth loading
    with pytest.warns(RuntimeWarning, match="compiled 2-D region cut is unavailable.*no LLVM here"):
        T = enumerate_regions(he_net([2, 16, 16], 0))
    assert T.info["cutting"] == "arrangements" and T.count == 259
    assert not compiled2d.available() and not compiled2d.warm_up() and compiled2d.status()["failed"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert enumerate_regions(he_net([2, 16, 16], 0)).info["cutting"] == "arrangements"


@needs_numba
def test_a_process_loads_the_compiled_path_once_numpys_has_taken_long_enough(monkeypatch):
    monkeypatch.setattr(compiled2d, "_kernels", None)           # as in a new process
    monkeypatch.setattr(compiled2d, "_numpy_seconds", 0.0)
    monkeypatch.setattr(compiled2d, "LOAD_AFTER_SECONDS", 0.02)
    net = he_net([2, 16, 16], 0)
    first = enumerate_regions(net)
    assert first.info["cutting"] == "arrangements" and not compiled2d.status()["loaded"]
    while compiled2d.status()["numpy_seconds"] < 0.02:
        assert enumerate_regions(net).info["cutting"] == "arrangements"
    T = enumerate_regions(net)
    assert T.info["cutting"] == "compiled" and compiled2d.status()["loaded"]
    assert T.count == first.count and polygons(T) == polygons(first)


@pytest.mark.parametrize("lo, size", [(1e3, 2.0), (1e4, 1e-2)])
def test_a_box_far_from_the_origin(monkeypatch, fast, lo, size):
    """Lines placed through a small box far out (areas about each polygon's corner keep their digits)."""
    rng = np.random.default_rng(9)
    W = rng.normal(size=(6, 2))
    centre = np.full(2, lo + size / 2)
    b = -(W @ (centre + rng.uniform(-size / 3, size / 3, size=(6, 2))).T).diagonal()
    net = Network(2, [Layer(W, b, RELU)], Output("sum"))
    T = enumerate_regions(net, (lo, lo + size))
    C = by_complex(monkeypatch, net, (lo, lo + size))
    assert T.info["cutting"] == fast and T.count == C.count > 6
    assert np.all(T.volumes() > 0) and abs(T.volumes().sum() - size ** 2) <= 1e-6 * size ** 2


@needs_numba
def test_both_paths_order_a_column_of_vertices_alike(monkeypatch):
    """A vertical and a horizontal unit (their crossings share x or y up to each path's rounding)
    in a two-layer net: the same vertex, region and corner order from both paths."""
    rng = np.random.default_rng(5)
    W = np.vstack([[1.0, 0.0], [0.0, 1.0], rng.normal(size=(6, 2))])
    b = np.concatenate([[-0.3, 0.2], rng.uniform(-0.5, 0.5, size=6)])
    net = Network(2, [Layer(W, b, RELU), Layer(rng.normal(size=(5, 8)) * 0.5, rng.uniform(-0.5, 0.5, 5), RELU)],
                  Output("sum"))
    T = enumerate_regions(net)
    monkeypatch.setattr(exact, "COMPILED_2D", False)
    N = enumerate_regions(net)
    assert (T.info["cutting"], N.info["cutting"]) == ("compiled", "arrangements")
    assert np.array_equal(T.patterns, N.patterns)
    assert np.allclose(T.mesh().vertices, N.mesh().vertices, rtol=0, atol=1e-12)
    assert np.array_equal(T.mesh().corners, N.mesh().corners)
