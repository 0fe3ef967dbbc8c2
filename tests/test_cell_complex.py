"""The cell complex of a box on its own (neuralpoly_core.levelset.complex): no level set, no pruning."""

import itertools
import math

import numpy as np
import pytest

from neuralpoly_core.errors import ExtractionError
from neuralpoly_core.levelset.complex import CellComplex, GrowCols


def cut_layer(cx, Z, W, b, first_plane, hmax):
    """Cut ``cx`` by every neuron of one layer (inputs of magnitude up to ``hmax``); ``Z``
    carries their values at the vertices, interpolated at the new ones."""
    scale = np.abs(W) @ hmax + np.abs(b)          # the rounding scale of each neuron
    for j in range(len(W)):
        cx.cut(Z.view[j], scale[j], first_plane + j, carry=Z, carry_row=j)


def arrangement(n, d, seed):
    """n hyperplanes in general position and a box holding every vertex of their arrangement."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(n, d))
    b = rng.normal(size=n)
    verts = [np.linalg.solve(W[list(s)], -b[list(s)]) for s in itertools.combinations(range(n), d)]
    reach = 1.1 * np.abs(verts).max() + 1.0
    return W, b, np.full(d, -reach), np.full(d, reach), np.array(verts)


@pytest.mark.parametrize("d, n", [(2, 2), (2, 5), (2, 12), (3, 3), (3, 5), (3, 12)])
def test_hyperplanes_in_general_position_make_the_arrangements_regions(d, n):
    W, b, lo, hi, verts = arrangement(n, d, seed=n + d)
    cx = CellComplex(lo, hi, max_cuts=n)
    Z = GrowCols(W @ cx.points.T + b[:, None])
    cut_layer(cx, Z, W, b, 0, hi)
    assert cx.n_cells == sum(math.comb(n, i) for i in range(d + 1))
    assert cx.degenerate == 0 and cx.cells_max == cx.n_cells
    # every vertex of the arrangement is a vertex of the complex
    dist = np.linalg.norm(cx.points[None, :, :] - verts[:, None, :], axis=2).min(axis=1)
    assert dist.max() <= 1e-9
    # each cell has one sign per hyperplane, and its own pattern of signs
    signs = cx.cell_signs(W @ cx.points.T + b[:, None])
    assert signs.shape == (cx.n_cells, n) and np.all(signs != 0)
    assert len(np.unique(signs, axis=0)) == cx.n_cells
    # the cells are convex polytopes whose vertices lie on their sides of every hyperplane
    ids, off, cnt = cx.cell_vertices(np.arange(cx.n_cells))
    vals = W @ cx.points[ids].T + b[:, None]
    owner = np.repeat(np.arange(cx.n_cells), cnt)
    assert np.all(vals * signs[owner].T >= -1e-9)
    assert np.all(cnt >= d + 1)


@pytest.mark.parametrize("dim", [1, 2])
@pytest.mark.parametrize("layers", [1, 2, 5, 8])
def test_tent_map_composition_doubles_the_pieces_every_layer(dim, layers):
    # t(x) = 2 relu(x) - 4 relu(x - 1/2) is the tent map on [0, 1]; L layers of two ReLUs
    # compute t^L, which has 2^L linear pieces (in 2-D: strips along x)
    first = np.zeros((2, dim))
    first[:, 0] = 1.0
    later = np.array([[2.0, -4.0], [2.0, -4.0]])
    b = np.array([0.0, -0.5])
    cx = CellComplex(np.zeros(dim), np.ones(dim), max_cuts=2 * layers)
    Z = GrowCols(first @ cx.points.T + b[:, None])
    for layer in range(layers):
        W = first if layer == 0 else later
        cut_layer(cx, Z, W, b, 2 * layer, np.ones(W.shape[1]))
        H = np.maximum(Z.view, 0.0)
        Z = GrowCols(later @ H + b[:, None])
    assert cx.n_cells == 2 ** layers and cx.degenerate == 0
    f = later[0] @ H                        # t^L at the vertices
    ids, off, cnt = cx.cell_vertices(np.arange(cx.n_cells))
    x = cx.points[ids, 0]
    lo, hi = np.minimum.reduceat(x, off), np.maximum.reduceat(x, off)
    assert np.allclose(np.sort(lo), np.arange(2 ** layers) / 2 ** layers, atol=1e-12)
    assert np.allclose(hi - lo, 2.0 ** -layers, atol=1e-12)
    # f is 0 and 1 at the ends of every piece: slope +-2^L
    fmin, fmax = np.minimum.reduceat(f[ids], off), np.maximum.reduceat(f[ids], off)
    assert np.allclose(fmin, 0.0, atol=1e-9) and np.allclose(fmax, 1.0, atol=1e-9)


def test_cut_of_some_cells_drop_and_compact():
    cx = CellComplex([-1.0, -1.0], [1.0, 1.0], max_cuts=2)
    x = cx.points
    assert cx.cut(x[:, 0], 1.0, 0).tolist() == [0]      # x = 0: the parent keeps x > 0
    assert cx.n_cells == 2 and cx.cell_signs(cx.points[:, 0]).ravel().tolist() == [1, -1]
    parents = cx.cut(cx.points[:, 1], 1.0, 1, cells=np.array([1]))   # y = 0, left half only
    assert parents.tolist() == [1] and cx.n_cells == 3
    assert cx.cell_signs(cx.points[:, 1]).ravel().tolist() == [0, 1, -1]   # cell 0: both
    cx.drop(np.array([0]))
    assert cx.live_cells().tolist() == [1, 2]
    used = cx.compact()
    assert cx.n_cells == 2 and used.sum() == cx.points.shape[0] == 6
    assert np.all(cx.points[:, 0] <= 0) and cx.on_box(np.arange(2)).all()
    # a function that vanishes on a side of a cell, or only touches it, cuts nothing
    assert len(cx.cut(cx.points[:, 0], 1.0, 0)) == 0 and cx.n_cells == 2
    with pytest.raises(ExtractionError, match="1-, 2- or 3-dimensional"):
        CellComplex(np.zeros(4), np.ones(4), 1)
