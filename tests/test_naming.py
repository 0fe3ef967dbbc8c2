"""Naming of polygons and polyhedra (neuralpoly_core.mesh.naming)."""

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import fsolve
from scipy.spatial import ConvexHull

from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.naming import DEFAULT_TOL, describe, name_polytope, polygon_name
from neuralpoly_core.network import polytope_network
from neuralpoly_core.polytope import extract_polytope_exact

from curve_helpers import curve_mesh, square

PHI = (1 + 5 ** 0.5) / 2
R2 = 2 ** 0.5
TRIBONACCI = 1.839286755214161
EVEN = [(0, 1, 2), (1, 2, 0), (2, 0, 1)]
ALL = list(itertools.permutations(range(3)))


# ---------------------------------------------------------------------------------------
# building solids from coordinates
# ---------------------------------------------------------------------------------------

def signed_perms(bases, perms=ALL, keep=lambda signs, perm: True):
    """All points sign * base[perm] (distinct), for the given permutations."""
    out = set()
    for base in bases:
        for p in perms:
            for sg in itertools.product((1, -1), repeat=3):
                if keep(sg, p):
                    out.add(tuple(round(sg[i] * base[p[i]], 12) + 0.0 for i in range(3)))
    return np.array(sorted(out))


def hull_mesh(points):
    """Convex hull as a PolyMesh, coplanar hull triangles merged into one face each."""
    P = np.asarray(points, dtype=float)
    hull = ConvexHull(P)
    eq = hull.equations
    same_plane = np.abs(eq[:, None, :] - eq[None, :, :]).max(axis=2) < 1e-7
    labels = np.argmax(same_plane, axis=1)          # first triangle on the same plane
    faces = []
    for k in np.unique(labels):
        directed = set()
        for t in np.flatnonzero(labels == k):
            a, b, c = hull.simplices[t]
            if np.cross(P[b] - P[a], P[c] - P[a]) @ hull.equations[t, :3] < 0:
                b, c = c, b
            directed |= {(a, b), (b, c), (c, a)}
        succ = {u: w for (u, w) in directed if (w, u) not in directed}
        start = next(iter(succ))
        loop, v = [start], succ[start]
        while v != start:
            loop.append(v)
            v = succ[v]
        faces.append(loop)
    used = sorted({v for f in faces for v in f})
    remap = {v: i for i, v in enumerate(used)}
    return PolyMesh.from_faces(P[used], [[remap[v] for v in f] for f in faces])


def rotation(axis, angle):
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def rotation_group(generators):
    elements, seen = [np.eye(3)], {tuple(np.round(np.eye(3), 8).ravel())}
    i = 0
    while i < len(elements):
        for g in generators:
            m = g @ elements[i]
            key = tuple(np.round(m, 8).ravel())
            if key not in seen:
                seen.add(key)
                elements.append(m)
        i += 1
    return elements


def snub_cube():
    # even permutations with an even number of plus signs, odd ones with an odd number
    def keep(sg, p):
        plus = sum(s > 0 for s in sg)
        return (p in EVEN) == (plus % 2 == 0)
    return signed_perms([(1, 1 / TRIBONACCI, TRIBONACCI)], ALL, keep)


def snub_dodecahedron():
    """Orbit of the rotation group of the icosahedron on the point equidistant from its
    images under the 5-, 3- and 2-fold rotations about the axes of one Schwarz triangle."""
    a, b, c = np.array([0, 1, PHI]), np.array([PHI, 0, 2 * PHI + 1]), np.array([PHI, 1, PHI + 1])
    R5, R3, R2_ = rotation(a, 2 * math.pi / 5), rotation(b, 2 * math.pi / 3), rotation(c, math.pi)
    group = rotation_group([R5, R3])
    assert len(group) == 60

    def equations(p):
        d5, d3, d2 = (np.sum((p - R @ p) ** 2) for R in (R5, R3, R2_))
        return [d5 - d3, d5 - d2, p @ p - 1]

    p0 = sum(x / np.linalg.norm(x) for x in (a, b, c))
    p = fsolve(equations, p0 / np.linalg.norm(p0), xtol=1e-14)
    return np.array([g @ p for g in group])


SOLIDS = {
    # name: (points, f-vector, vertex configuration)
    "tetrahedron": (np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1.0]]),
                    (4, 6, 4), "3.3.3"),
    "cube": (signed_perms([(1, 1, 1)]), (8, 12, 6), "4.4.4"),
    "octahedron": (signed_perms([(1, 0, 0)]), (6, 12, 8), "3.3.3.3"),
    "dodecahedron": (np.vstack([signed_perms([(1, 1, 1)]), signed_perms([(0, 1 / PHI, PHI)], EVEN)]),
                     (20, 30, 12), "5.5.5"),
    "icosahedron": (signed_perms([(0, 1, PHI)], EVEN), (12, 30, 20), "3.3.3.3.3"),
    "truncated tetrahedron": (
        signed_perms([(3, 1, 1)], ALL, lambda sg, p: sum(s < 0 for s in sg) % 2 == 0),
        (12, 18, 8), "3.6.6"),
    "cuboctahedron": (signed_perms([(1, 1, 0)]), (12, 24, 14), "3.4.3.4"),
    "truncated cube": (signed_perms([(R2 - 1, 1, 1)]), (24, 36, 14), "3.8.8"),
    "truncated octahedron": (signed_perms([(0, 1, 2)]), (24, 36, 14), "4.6.6"),
    "rhombicuboctahedron": (signed_perms([(1, 1, 1 + R2)]), (24, 48, 26), "3.4.4.4"),
    "truncated cuboctahedron": (signed_perms([(1, 1 + R2, 1 + 2 * R2)]), (48, 72, 26), "4.6.8"),
    "snub cube": (snub_cube(), (24, 60, 38), "3.3.3.3.4"),
    "icosidodecahedron": (
        np.vstack([signed_perms([(0, 0, PHI)]), signed_perms([(0.5, PHI / 2, PHI ** 2 / 2)], EVEN)]),
        (30, 60, 32), "3.5.3.5"),
    "truncated dodecahedron": (
        signed_perms([(0, 1 / PHI, 2 + PHI), (1 / PHI, PHI, 2 * PHI), (PHI, 2, PHI + 1)], EVEN),
        (60, 90, 32), "3.10.10"),
    "truncated icosahedron": (
        signed_perms([(0, 1, 3 * PHI), (1, 2 + PHI, 2 * PHI), (PHI, 2, 2 * PHI + 1)], EVEN),
        (60, 90, 32), "5.6.6"),
    "rhombicosidodecahedron": (
        signed_perms([(1, 1, PHI ** 3), (PHI ** 2, PHI, 2 * PHI), (2 + PHI, 0, PHI ** 2)], EVEN),
        (60, 120, 62), "3.4.5.4"),
    "truncated icosidodecahedron": (
        signed_perms([(1 / PHI, 1 / PHI, 3 + PHI), (2 / PHI, PHI, 1 + 2 * PHI),
                      (1 / PHI, PHI ** 2, -1 + 3 * PHI), (2 * PHI - 1, 2, 2 + PHI),
                      (PHI, 3, 2 * PHI)], EVEN),
        (120, 180, 62), "4.6.10"),
    "snub dodecahedron": (snub_dodecahedron(), (60, 150, 92), "3.3.3.3.5"),
}


def random_rotation(seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return Q * np.sign(np.diag(R))


def regular_polygon(n, radius=1.0, phase=0.0):
    a = phase + 2 * np.pi * np.arange(n) / n
    return radius * np.stack([np.cos(a), np.sin(a)], axis=1)


def prism(n):
    ring = regular_polygon(n, radius=1 / (2 * math.sin(math.pi / n)))   # edge 1
    return np.vstack([np.c_[ring, np.full(n, 0.5)], np.c_[ring, np.full(n, -0.5)]])


def antiprism(n):
    R = 1 / (2 * math.sin(math.pi / n))
    h = math.sqrt(1 - 2 * R * R * (1 - math.cos(math.pi / n)))        # all edges 1
    top = np.c_[regular_polygon(n, R), np.full(n, h / 2)]
    bottom = np.c_[regular_polygon(n, R, math.pi / n), np.full(n, -h / 2)]
    return np.vstack([top, bottom])


def bipyramid_mesh(n, h1=0.7, h2=0.7, apex_shift=(0.0, 0.0)):
    """Hand-built n-bipyramid: ring 0..n-1, apex n at +h1, apex n+1 at -h2."""
    ring = np.c_[regular_polygon(n), np.zeros(n)]
    top = [apex_shift[0], apex_shift[1], h1]
    verts = np.vstack([ring, top, [0, 0, -h2]])
    faces = [[i, (i + 1) % n, n] for i in range(n)] + [[(i + 1) % n, i, n + 1] for i in range(n)]
    return PolyMesh.from_faces(verts, faces)


# ---------------------------------------------------------------------------------------
# Platonic and Archimedean solids
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SOLIDS))
def test_platonic_and_archimedean(name):
    points, fv, config = SOLIDS[name]
    mesh = hull_mesh(points)
    assert mesh.f_vector == fv
    d = describe(mesh)
    assert d["name"] == name
    assert d["vertex_configuration"] == config
    assert d["regular"] and d["convex"]
    assert d["euler_characteristic"] == 2
    assert d["f_vector"] == fv
    assert sum(d["face_sizes"].values()) == fv[2]
    # rotated, scaled and shifted copies keep their name (scale-free tolerances)
    moved = PolyMesh(3.7 * mesh.vertices @ random_rotation(len(name)).T + [0.3, -1.0, 2.0],
                     mesh.corners, mesh.face_sizes)
    assert name_polytope(moved) == name


def test_pseudo_rhombicuboctahedron_is_not_archimedean():
    # rotate the top square of the rhombicuboctahedron by 45 degrees: the elongated square
    # gyrobicupola, with 3.4.4.4 at every vertex but not vertex-transitive
    P = SOLIDS["rhombicuboctahedron"][0].copy()
    top = P[:, 2] > 2
    P[top] = P[top] @ rotation([0, 0, 1], math.pi / 4).T
    mesh = hull_mesh(P)
    d = describe(mesh)
    assert mesh.f_vector == (24, 48, 26)
    assert d["vertex_configuration"] == "3.4.4.4" and d["regular"]
    assert d["name"] is None


def test_irregular_archimedean_combinatorics_not_named():
    # a cuboctahedron stretched by 5 % along z: same combinatorics, faces not regular at a
    # strict tolerance, approximately regular at the default one (sized for training)
    mesh = hull_mesh(SOLIDS["cuboctahedron"][0] * [1, 1, 1.05])
    d = describe(mesh, tol=1e-2)
    assert d["vertex_configuration"] == "3.4.3.4"
    assert not d["regular"] and d["name"] is None
    assert DEFAULT_TOL == 0.1
    assert name_polytope(mesh) == "cuboctahedron"
    # stretched by 30 %: not a cuboctahedron at the default tolerance either
    d = describe(hull_mesh(SOLIDS["cuboctahedron"][0] * [1, 1, 1.3]))
    assert d["vertex_configuration"] == "3.4.3.4" and d["name"] is None and not d["regular"]


# ---------------------------------------------------------------------------------------
# prisms, antiprisms, bipyramids
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,name", [(3, "triangular prism"), (4, "cube"), (5, "pentagonal prism"),
                                    (6, "hexagonal prism"), (8, "octagonal prism"),
                                    (24, "24-gonal prism")])
def test_prisms(n, name):
    mesh = hull_mesh(prism(n))
    assert mesh.f_vector == (2 * n, 3 * n, n + 2)
    assert name_polytope(mesh) == name
    # rectangular sides are not a uniform prism
    assert name_polytope(hull_mesh(prism(n) * [1, 1, 1.5])) is None


@pytest.mark.parametrize("n,name", [(3, "octahedron"), (4, "square antiprism"),
                                    (5, "pentagonal antiprism"), (7, "heptagonal antiprism")])
def test_antiprisms(n, name):
    mesh = hull_mesh(antiprism(n))
    assert mesh.f_vector == (2 * n, 4 * n, 2 * n + 2)
    assert name_polytope(mesh) == name
    if n > 3:
        assert describe(mesh)["vertex_configuration"] == f"3.3.3.{n}"


@pytest.mark.parametrize("n,name", [(3, "triangular bipyramid"), (5, "pentagonal bipyramid"),
                                    (6, "hexagonal bipyramid"), (9, "nonagonal bipyramid")])
def test_bipyramids(n, name):
    mesh = bipyramid_mesh(n)
    assert mesh.f_vector == (n + 2, 3 * n, 2 * n)
    d = describe(mesh)
    assert d["name"] == name and d["convex"]
    assert not describe(mesh, tol=1e-2)["regular"]     # triangles are not equilateral
    assert d["face_sizes"] == {3: 2 * n}
    moved = PolyMesh(2.5 * mesh.vertices @ random_rotation(n).T, mesh.corners, mesh.face_sizes)
    assert name_polytope(moved) == name


def test_bipyramid_symmetry_required():
    assert name_polytope(bipyramid_mesh(6, 0.7, 0.9)) is None          # unequal apices
    assert name_polytope(bipyramid_mesh(6, apex_shift=(0.2, 0.0))) is None  # off-axis apex
    # the square bipyramid: the octahedron when its triangles are equilateral
    assert name_polytope(bipyramid_mesh(4, 0.5, 0.5)) == "square bipyramid"
    assert name_polytope(bipyramid_mesh(4, 1.0, 1.0)) == "octahedron"


# ---------------------------------------------------------------------------------------
# polygons
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 24])
def test_regular_polygons(n):
    mesh = PolyMesh(regular_polygon(n, 2.0, 0.3), np.arange(n), [n])
    d = describe(mesh)
    expected = {3: "equilateral triangle", 4: "square"}.get(n, f"regular {polygon_name(n)}")
    assert d["name"] == expected and d["n_sides"] == n and d["regular"] and d["convex"]
    assert d["f_vector"] == (n, n) and d["euler_characteristic"] == 0
    assert d["vertex_configuration"] is None
    assert polygon_name(10) == "decagon" and polygon_name(24) == "24-gon"
    # clockwise order and an extra straight-through vertex change nothing
    cw = PolyMesh(mesh.vertices[::-1], np.arange(n), [n])
    assert name_polytope(cw) == expected
    pts = np.insert(mesh.vertices, 1, (mesh.vertices[0] + mesh.vertices[1]) / 2, axis=0)
    assert name_polytope(PolyMesh(pts, np.arange(n + 1), [n + 1])) == expected


def test_irregular_polygons():
    rect = PolyMesh([[0, 0], [2, 0], [2, 1], [0, 1]], np.arange(4), [4])
    d = describe(rect)
    assert d["name"] is None and d["n_sides"] == 4 and d["convex"] and not d["regular"]
    near_square = PolyMesh([[0, 0], [1.05, 0], [1.05, 1], [0, 1]], np.arange(4), [4])
    assert name_polytope(near_square) == "square"
    assert name_polytope(near_square, tol=1e-2) is None
    # a non-convex equilateral "dart"
    dart = PolyMesh([[0, 0], [1, 0.5], [2, 0], [1, 2]], np.arange(4), [4])
    d = describe(dart)
    assert d["name"] is None and not d["convex"]


# ---------------------------------------------------------------------------------------
# names of exactly extracted neural polytopes
# ---------------------------------------------------------------------------------------

FIVE_FOLD = np.array([[0, 1, PHI], [0, 1, -PHI], [1, PHI, 0], [1, -PHI, 0], [PHI, 0, 1],
                      [-PHI, 0, 1]])
NETWORK_POLYHEDRA = {
    "octahedron": np.eye(3),
    "cuboctahedron": np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [1, -1, -1]]) / 3 ** 0.5,
    "icosidodecahedron": FIVE_FOLD / np.linalg.norm(FIVE_FOLD, axis=1, keepdims=True),
}


@pytest.mark.parametrize("name", list(NETWORK_POLYHEDRA))
def test_width_3_4_6_networks(name):
    W = NETWORK_POLYHEDRA[name]
    assert name_polytope(extract_polytope_exact(polytope_network(3, [W], [1]))) == name
    rng = np.random.default_rng(len(name))
    for seed in range(3):
        Q = random_rotation(100 + seed)
        assert name_polytope(extract_polytope_exact(polytope_network(3, [W @ Q], [1]))) == name
        # trained networks are only approximately regular
        Wp = W @ Q + 1e-3 * rng.normal(size=W.shape)
        assert name_polytope(extract_polytope_exact(polytope_network(3, [Wp], [1]))) == name
    # trained-like accuracy (weights off by ~1 %) is named at the default tolerance
    Wt = W + 1e-2 * rng.normal(size=W.shape)
    assert name_polytope(extract_polytope_exact(polytope_network(3, [Wt], [1]))) == name
    Ws = W + 0.2 * rng.normal(size=W.shape)
    assert name_polytope(extract_polytope_exact(polytope_network(3, [Ws], [1]))) != name


@pytest.mark.parametrize("n", range(2, 8))
def test_width_n_polygons(n):
    th = np.arange(n) * np.pi / n + 0.4
    W = np.stack([np.cos(th), np.sin(th)], axis=1)
    expected = "square" if n == 2 else f"regular {polygon_name(2 * n)}"
    assert name_polytope(extract_polytope_exact(polytope_network(2, [W], [1]))) == expected
    rng = np.random.default_rng(n)
    Wp = W + 1e-3 * rng.normal(size=W.shape)
    assert name_polytope(extract_polytope_exact(polytope_network(2, [Wp], [1]))) == expected
    Wt = W + 1e-2 * rng.normal(size=W.shape)
    assert name_polytope(extract_polytope_exact(polytope_network(2, [Wt], [1]))) == expected
    Ws = W + 0.3 * rng.normal(size=W.shape)
    assert name_polytope(extract_polytope_exact(polytope_network(2, [Ws], [1]))) != expected


def test_network_hexagonal_bipyramid_and_nonconvex():
    # three planes through the (1,1,1) axis at 60 degrees and one across it
    W = np.array([[1, -1, 0], [0, 1, -1], [1, 0, -1], [1, 1, 1]], dtype=float)
    mesh = extract_polytope_exact(polytope_network(3, [W], [1]))
    assert name_polytope(mesh) == "hexagonal bipyramid"
    # a non-convex (n,2;1) polytope is described, not named
    rng = np.random.default_rng(4000)
    net = polytope_network(3, [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))], [1, 1])
    d = describe(extract_polytope_exact(net))
    assert d["convex"] is False and d["name"] is None
    assert d["euler_characteristic"] == 2


def test_describe_rejects_bad_tolerance():
    with pytest.raises(ValueError, match="tol"):
        describe(hull_mesh(SOLIDS["cube"][0]), tol=0)


# ---------------------------------------------------------------------------------------
# level curves: 2-D meshes of oriented segments, possibly several loops
# ---------------------------------------------------------------------------------------


def boolean_curve(solid, box=(0.0, 1.0), cap=True):
    from neuralpoly_core.construct import boolean as B
    from neuralpoly_core.levelset import extract_level_set
    return extract_level_set(B.compile_network(solid), 0.0, box, cap=cap)


def test_single_loop_is_named_like_its_polygon():
    # a square drawn with 8 segments (collinear pairs merged) and a hexagon
    d = describe(curve_mesh(square((0, 0), (1, 1), per_side=2)))
    assert d["name"] == "square" and d["n_sides"] == 4 and d["regular"] and d["convex"]
    assert d["f_vector"] == (8, 8) and d["open_curves"] == 0 and len(d["components"]) == 1
    assert name_polytope(curve_mesh(regular_polygon(6, 1.0, 0.2))) == "regular hexagon"
    rect = describe(curve_mesh(square((0, 0), (2, 1))))
    assert rect["name"] is None and rect["n_sides"] == 4 and not rect["regular"]


def test_square_donuts_from_the_boolean_builder():
    from neuralpoly_core.construct import boolean as B
    donut = boolean_curve(B.square_donut(2))
    d = describe(donut)
    assert d["name"] == "square with a square hole" and d["regular"] is True
    assert d["n_sides"] is None and d["convex"] is False
    (comp,) = d["components"]
    assert comp["n_sides"] == 4 and [h["n_sides"] for h in comp["holes"]] == [4]
    assert describe(boolean_curve(B.two_square_donuts(2)))["name"] == \
        "2 squares, each with a square hole"
    # cut by the box [0.2, 1]^2: the outer loop (closed by caps) is still a square
    assert name_polytope(boolean_curve(B.square_donut(2), box=(0.2, 1.0))) == "square with a square hole"
    # without caps the curve is open: no name
    d = describe(boolean_curve(B.square_donut(2), box=(0.2, 1.0), cap=False))
    assert d["name"] is None and d["open_curves"] == 1 and d["components"] == []


def test_compound_names():
    outer = square((0, 0), (1, 1))
    hexagon = regular_polygon(6, 0.1, 0.0) + 0.5
    tri = [[0.2, 0.2], [0.3, 0.2 + 0.1 * 3 ** 0.5], [0.4, 0.2]]            # clockwise
    cases = {
        "square with an octagonal hole": (outer, regular_polygon(8, 0.2, 0.1)[::-1] + 0.5),
        "square with 2 triangular holes": (outer, tri, np.asarray(tri) + 0.4),
        "square with 2 holes": (outer, tri, hexagon[::-1]),
        "square with a hole": (outer, square((0.3, 0.3), (0.7, 0.6), ccw=False)),
        "region with a square hole": (square((0, 0), (2, 1)), square((0.2, 0.2), (0.6, 0.6), ccw=False)),
        "2 components: square with a square hole; square":
            (outer, square((0.2, 0.2), (0.8, 0.8), ccw=False), square((0.4, 0.4), (0.6, 0.6))),
        "2 components: square; regular hexagon": (square((0, 0), (0.2, 0.2)), hexagon),
        "3 equilateral triangles": tuple(np.asarray(tri)[::-1] + k for k in range(3)),
        "5 regions": tuple(square((3 * k, 0), (3 * k + 2, 1)) for k in range(5)),
        "5 components": tuple(square((3 * k, 0), (3 * k + 1 + (k == 2), 1)) for k in range(5)),
    }
    for name, loops in cases.items():
        assert describe(curve_mesh(*loops))["name"] == name
    # the regularity tolerance is naming's usual one: a 0.4 x 0.38 hole is a square hole
    slightly = curve_mesh(outer, square((0.3, 0.3), (0.7, 0.68), ccw=False))
    assert name_polytope(slightly) == "square with a square hole"
    assert name_polytope(slightly, tol=1e-2) == "square with a hole"
    assert DEFAULT_TOL == 0.1


def test_level_curves_without_a_bounded_inside_have_no_name():
    d = describe(curve_mesh(square((0, 0), (1, 1), ccw=False)))     # the inside is unbounded
    assert d["name"] is None and d["components"] == []
