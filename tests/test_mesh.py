"""PolyMesh triangulation of 2-D level curves with several loops (neuralpoly_core.mesh)."""

import numpy as np
import pytest

from neuralpoly_core.construct import boolean as B
from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.planar import orient_many
from neuralpoly_core.network import Activation, Layer, Network, Output

from curve_helpers import curve_mesh, square


# -- helpers ---------------------------------------------------------------------------
def circle(c, r, n, ccw=True):
    t = 2 * np.pi * np.arange(n) / n * (1 if ccw else -1)
    return np.c_[c[0] + r * np.cos(t), c[1] + r * np.sin(t)]


def areas(mesh, tri):
    v = mesh.vertices
    a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def winding(mesh, P):
    """Winding number of the oriented segments around each point (crossing count)."""
    v, s = mesh.vertices, mesh.corners.reshape(-1, 2)
    A, Bv = v[s[:, 0]][None], v[s[:, 1]][None]
    px, py = P[:, :1], P[:, 1:]
    cr = (Bv[..., 0] - A[..., 0]) * (py - A[..., 1]) - (Bv[..., 1] - A[..., 1]) * (px - A[..., 0])
    up = (A[..., 1] <= py) & (Bv[..., 1] > py) & (cr > 0)
    down = (A[..., 1] > py) & (Bv[..., 1] <= py) & (cr < 0)
    return up.sum(1) - down.sum(1)


def covered(mesh, tri, P):
    """How many triangles contain each point strictly inside."""
    v = mesh.vertices
    a, b, c = (v[tri[:, k]][None] for k in range(3))
    px, py = P[:, :1], P[:, 1:]

    def side(u, w):
        return (w[..., 0] - u[..., 0]) * (py - u[..., 1]) - (w[..., 1] - u[..., 1]) * (px - u[..., 0])
    return ((side(a, b) > 0) & (side(b, c) > 0) & (side(c, a) > 0)).sum(1)


def check_region_triangulation(mesh, n_holes=None, samples=2000, seed=0):
    """The properties every level-curve triangulation must have; returns the triangles."""
    tri = mesh.triangulate()
    v = mesh.vertices
    seg = [tuple(s) for s in mesh.corners.reshape(-1, 2).tolist()]
    # only the mesh's own segment vertices, all triangles strictly counter-clockwise (exact)
    assert set(tri.ravel().tolist()) <= {i for s in seg for i in s}
    o = orient_many(*(v[tri[:, k], j] for k in range(3) for j in range(2)))
    assert np.all(o > 0)
    # the areas add up to the signed area of the curves
    ar = areas(mesh, tri)
    assert ar.sum() == pytest.approx(mesh.volume(), rel=1e-12, abs=0)
    # every segment is an edge of exactly one triangle, in its direction; inner edges are
    # shared by two triangles, once each way
    used = {}
    for x, y, z in tri.tolist():
        for e in ((x, y), (y, z), (z, x)):
            used[e] = used.get(e, 0) + 1
    assert all(used.get(s) == 1 for s in seg)
    segset = set(seg)
    assert all(c == 1 and used.get((e[1], e[0])) == 1 for e, c in used.items() if e not in segset)
    # a region bounded by loops of n corners in all, h of them holes, has n + 2h - 2
    # triangles per component (a corner where a loop touches itself counts twice)
    if n_holes is not None:
        comps = mesh.curve_components()
        expected = sum(sum(len(loop) for loop in c) + 2 * (len(c) - 1) - 2 for c in comps)
        assert len(tri) == expected and sum(len(c) - 1 for c in comps) == n_holes
    # the triangles cover exactly the inside (winding number 1), once
    lo, hi = v.min(axis=0), v.max(axis=0)
    P = np.random.default_rng(seed).uniform(lo, hi, (samples, 2))
    assert np.array_equal(covered(mesh, tri, P), winding(mesh, P))
    return tri


def donut_mesh(box=(0.0, 1.0), cap=True, solid=None):
    net = B.compile_network(B.square_donut(2) if solid is None else solid)
    return extract_level_set(net, 0.0, box, cap=cap)


# -- level curves from the boolean builder ----------------------------------------------
def test_square_donut_triangulates_to_its_area():
    m = donut_mesh()
    # two loops of 8 segments: every side of both squares is cut in two at its middle
    assert m.f_vector == (16, 16)
    tri = check_region_triangulation(m, n_holes=1)
    assert areas(m, tri).sum() == pytest.approx(0.8 ** 2 - 0.4 ** 2, rel=1e-12)
    assert len(tri) == 16
    # corners that are collinear but for rounding (e.g. (0.1, 0.5), (0.3, 0.3), (0.5, 0.1))
    # leave no slivers: the smallest triangle is a real one
    assert areas(m, tri).min() > 1e-3


def test_two_square_donuts_union():
    m = donut_mesh(solid=B.two_square_donuts(2))
    tri = check_region_triangulation(m, n_holes=2)
    assert areas(m, tri).sum() == pytest.approx(2 * (0.3 ** 2 - 0.1 ** 2), rel=1e-12)
    comps = m.curve_components()
    assert [len(c) for c in comps] == [2, 2]
    # left to right; outer loops counter-clockwise, holes clockwise
    v = m.vertices
    assert v[comps[0][0]][:, 0].min() == pytest.approx(0.1) and v[comps[1][0]][:, 0].min() == pytest.approx(0.6)
    for comp in comps:
        signed = [curve_mesh(v[loop]).volume() for loop in comp]
        assert signed[0] == pytest.approx(0.09) and signed[1] == pytest.approx(-0.01)


def test_donut_cut_by_the_box_with_caps():
    # the box [0.2, 1]^2 cuts the outer square: cap segments along the box close it
    m = donut_mesh(box=(0.2, 1.0))
    assert m.info["cap_faces"] > 0
    tri = check_region_triangulation(m, n_holes=1)
    assert areas(m, tri).sum() == pytest.approx(0.7 ** 2 - 0.4 ** 2, rel=1e-12)


def test_open_curve_cannot_be_triangulated():
    m = donut_mesh(box=(0.2, 1.0), cap=False)
    with pytest.raises(NeuralPolyError, match="open.*cap=True"):
        m.triangulate()
    with pytest.raises(ValueError, match="open"):        # NeuralPolyError is a ValueError
        m.curve_components()


@pytest.mark.parametrize("seed", range(6))
def test_random_relu_level_sets(seed):
    """Exact level sets of random 2-D ReLU nets, capped: many loops, collinear cap runs."""
    rng = np.random.default_rng(seed)
    layers, n = [], 2
    for w in (12, 8):
        layers.append(Layer(rng.normal(size=(w, n)) / np.sqrt(n), 0.5 * rng.normal(size=w),
                            Activation("relu")))
        n = w
    net = Network(2, layers, Output("linear", rng.normal(size=(1, n)), np.zeros(1)))
    level = float(np.median(net(rng.uniform(-1, 1, (4000, 2)))))
    m = extract_level_set(net, level, (-1, 1), cap=True)
    check_region_triangulation(m, n_holes=sum(len(c) - 1 for c in m.curve_components()), seed=seed)


# -- synthetic curves ------------------------------------------------------------------
def test_collinear_runs_keep_every_segment():
    m = curve_mesh(square((0, 0), (1, 1), per_side=5))       # a square made of 20 segments
    tri = check_region_triangulation(m, n_holes=0)
    assert len(tri) == 18 and areas(m, tri).min() > 0.01


def test_nested_island_in_a_hole():
    m = curve_mesh(square((0, 0), (1, 1), 3), square((0.2, 0.2), (0.8, 0.8), 2, ccw=False),
                   square((0.4, 0.4), (0.6, 0.6)))
    tri = check_region_triangulation(m, n_holes=1)
    assert areas(m, tri).sum() == pytest.approx(1 - 0.36 + 0.04, rel=1e-12)
    assert [len(c) for c in m.curve_components()] == [2, 1]


def test_loops_touching_at_a_vertex():
    # two squares sharing a corner; a triangular hole touching the outer square at a vertex;
    # two square holes touching each other at a corner
    # (the loops are traced so that they never cross: the touching hole joins the outer loop,
    # the two touching holes become one loop)
    for loops, area, holes, n_loops in (
            ((square((0, 0), (1, 1)), square((1, 1), (2, 2))), 2.0, 0, [1, 1]),
            ((square((0, 0), (2, 2), 2), [[0, 1], [1, 1.5], [1, 0.5]]), 4 - 0.5, 0, [1]),
            ((square((0, 0), (3, 3)), square((0.5, 0.5), (1.5, 1.5), ccw=False),
              square((1.5, 1.5), (2.5, 2.5), ccw=False)), 9 - 2, 1, [2])):
        pts = [np.asarray(p, float) for p in loops]
        # one id per distinct point, so touching loops share the vertex
        V = np.unique(np.concatenate(pts), axis=0)
        segs = []
        for p in pts:
            k = [int(np.flatnonzero((V == q).all(axis=1))[0]) for q in p]
            segs += [(k[i], k[(i + 1) % len(k)]) for i in range(len(k))]
        m = PolyMesh(V, np.asarray(segs).ravel(), np.full(len(segs), 2))
        tri = check_region_triangulation(m, n_holes=holes)
        assert areas(m, tri).sum() == pytest.approx(area, rel=1e-12)
        assert [len(c) for c in m.curve_components()] == n_loops


def test_many_holes_and_a_thin_annulus():
    holes = [circle((-6 + 12 * (i + 0.5) / 6, -6 + 12 * (j + 0.5) / 6), 0.6, 40, ccw=False)
             for i in range(6) for j in range(6)]
    m = curve_mesh(circle((0, 0), 10, 800), *holes)
    tri = check_region_triangulation(m, n_holes=36, samples=500)
    assert len(tri) == 800 + 36 * 40 + 2 * 36 - 2
    m = curve_mesh(circle((0, 0), 10, 1500), circle((0, 0), 9.5, 1500, ccw=False))
    check_region_triangulation(m, n_holes=1, samples=500)


def test_curves_without_a_bounded_inside_are_refused():
    # a clockwise loop alone: the inside (on the left) is everything outside it
    with pytest.raises(NeuralPolyError, match="no counter-clockwise loop"):
        curve_mesh(square((0, 0), (1, 1), ccw=False)).triangulate()
    mixed = PolyMesh(np.eye(3)[:, :2], [0, 1, 0, 1, 2], [2, 3])
    with pytest.raises(NeuralPolyError, match="mixes segments"):
        mixed.triangulate()


# -- polygons and 3-D meshes keep their behaviour ---------------------------------------
def test_convex_polygon_is_still_a_fan():
    hexagon = circle((0, 0), 1, 6)
    p = PolyMesh(hexagon, np.arange(6), [6])
    assert np.array_equal(p.triangulate(), [[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 5]])
    cw = PolyMesh(hexagon, np.arange(6)[::-1], [6])        # clockwise: triangles clockwise
    assert np.array_equal(cw.triangulate(), [[5, 4, 3], [5, 3, 2], [5, 2, 1], [5, 1, 0]])
    assert areas(cw, cw.triangulate()).sum() == pytest.approx(cw.volume())


@pytest.mark.parametrize("ccw", [True, False])
def test_nonconvex_polygon(ccw):
    star = np.array([[np.cos(t) * r, np.sin(t) * r] for t, r in
                     zip(np.arange(10) * np.pi / 5, [1, 0.4] * 5)])
    order = np.arange(10) if ccw else np.arange(10)[::-1]
    p = PolyMesh(star, order, [10])
    tri = p.triangulate()
    ar = areas(p, tri)
    assert len(tri) == 8 and np.all(np.sign(ar) == (1 if ccw else -1))
    assert ar.sum() == pytest.approx(p.volume(), rel=1e-12)


def test_cube_triangulation_and_volume():
    v = np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    cube = PolyMesh.from_faces(v, faces)
    assert cube.triangulate().shape == (12, 3) and cube.volume() == pytest.approx(8.0)
