"""Distances between points and meshes (neuralpoly_core.mesh.distance), against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.distance import chamfer, closest_on_triangles, distance_to_mesh, sample_surface
from neuralpoly_core.polytope.icosphere import icosphere


def cube(half: float = 1.0) -> PolyMesh:
    """The surface of [-half, half]^3 as 6 quads, counter-clockwise from outside."""
    V = half * np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return PolyMesh.from_faces(V, faces)


def sphere(radius: float, resolution: int = 12) -> PolyMesh:
    U, T = icosphere(resolution)
    return PolyMesh(radius * U, T.ravel(), np.full(len(T), 3))


def brute_force(points: np.ndarray, mesh: PolyMesh) -> np.ndarray:
    tri = mesh.triangulate()
    a, b, c = (mesh.vertices[tri[:, k]] for k in range(3))
    return np.array([np.linalg.norm(p - closest_on_triangles(np.repeat(p[None], len(a), 0), a, b, c),
                                    axis=1).min() for p in points])


def test_distance_to_a_cube_has_the_closed_form():
    pts = np.array([[2.0, 0, 0], [2, 2, 0], [2, 2, 2], [0, 0, 0], [0.5, 0, 0], [0.3, 0.9, -0.2],
                    [1, 1, 1], [-5, 0.5, 0.5], [100, 0, 0], [0.2, -1.0, 0.7]])
    expected = [1.0, np.sqrt(2), np.sqrt(3), 1.0, 0.5, 0.1, 0.0, 4.0, 99.0, 0.0]
    np.testing.assert_allclose(distance_to_mesh(pts, cube()), expected, rtol=0, atol=1e-12)


def test_distance_to_the_cube_of_random_points_is_the_box_distance():
    rng = np.random.default_rng(0)
    P = rng.uniform(-3, 3, (2000, 3))
    outside = np.linalg.norm(np.maximum(np.abs(P) - 1.0, 0.0), axis=1)
    inside = 1.0 - np.abs(P).max(axis=1)
    expected = np.where(outside > 0, outside, inside)
    np.testing.assert_allclose(distance_to_mesh(P, cube()), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("scale", [0.05, 1.0, 4.0])
def test_distance_is_exact_near_and_far(scale):
    """Irregular triangles of very different sizes (large ones are split inside), points near
    the surface and far from it: the same as testing every triangle."""
    rng = np.random.default_rng(1)
    big = cube(1.0)
    small = sphere(0.3, 6)
    V = np.concatenate([big.vertices, small.vertices + [0.4, 0.2, 0.1]])
    corners = np.concatenate([big.corners, small.corners + big.n_vertices])
    mesh = PolyMesh(V, corners, np.concatenate([big.face_sizes, small.face_sizes]))
    P = sample_surface(mesh, 300, seed=2) + rng.normal(size=(300, 3)) * scale
    np.testing.assert_allclose(distance_to_mesh(P, mesh), brute_force(P, mesh), rtol=0, atol=1e-12)


def test_concentric_spheres():
    outer, inner = sphere(1.0), sphere(0.6)
    d = distance_to_mesh(sample_surface(outer, 4000, seed=3), inner)
    assert d.mean() == pytest.approx(0.4, abs=5e-3)
    assert chamfer(outer, inner, 4000, seed=4) == pytest.approx(0.8, abs=1e-2)
    assert chamfer(inner, outer, 4000, seed=4) == pytest.approx(0.8, abs=1e-2)


def test_chamfer_of_a_mesh_with_itself_is_zero():
    m = sphere(1.0, 6)
    assert chamfer(m, m, 2000, seed=5) < 1e-12
    assert chamfer(cube(), cube(), 2000, seed=5) < 1e-12
    # every point of the inner cube is 0.1 from the outer one (the other way round it is more
    # near the edges and corners)
    np.testing.assert_allclose(distance_to_mesh(sample_surface(cube(), 2000, seed=5), cube(1.1)), 0.1,
                               rtol=0, atol=1e-12)
    assert 0.2 < chamfer(cube(), cube(1.1), 2000, seed=5) < 0.2 + 0.1 * (np.sqrt(3) - 1)


def test_samples_are_uniform_by_area():
    """Two triangles in the planes z = 0 and z = 3, with areas 1/2 and 9/2: samples split 1:9,
    lie on the triangles and spread uniformly over each (their mean is the centroid)."""
    V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 3], [3, 0, 3], [0, 3, 3]], dtype=float)
    mesh = PolyMesh(V, np.arange(6), [3, 3])
    n = 40_000
    P = sample_surface(mesh, n, seed=6)
    low = P[:, 2] < 1.5
    frac = low.mean()
    assert frac == pytest.approx(0.1, abs=4 * np.sqrt(0.1 * 0.9 / n))
    np.testing.assert_allclose(P[low].mean(axis=0), [1 / 3, 1 / 3, 0], atol=0.02)
    np.testing.assert_allclose(P[~low].mean(axis=0), [1, 1, 3], atol=0.03)
    assert np.all(distance_to_mesh(P, mesh) < 1e-12)
    assert np.all(P[:, :2] >= -1e-12) and np.all(P[low, 0] + P[low, 1] <= 1 + 1e-12)


def test_sampling_is_seeded():
    m = sphere(1.0, 4)
    np.testing.assert_array_equal(sample_surface(m, 100, seed=7), sample_surface(m, 100, seed=7))
    assert not np.array_equal(sample_surface(m, 100, seed=7), sample_surface(m, 100, seed=8))
    rng = np.random.default_rng(9)
    first = sample_surface(m, 50, rng)
    second = sample_surface(m, 50, rng)                 # a Generator goes on with its stream
    both = sample_surface(m, 50, np.random.default_rng(9))
    np.testing.assert_array_equal(first, both)
    assert not np.array_equal(first, second)
    assert sample_surface(m, 0).shape == (0, 3)
    assert chamfer(m, cube(), 200, seed=1) == chamfer(m, cube(), 200, seed=1)


def test_clear_errors():
    polygon = PolyMesh(np.array([[0, 0], [1, 0], [0, 1.0]]), [0, 1, 2], [3])
    empty = PolyMesh(np.zeros((0, 3)), [], [])
    with pytest.raises(NeuralPolyError, match="2-D mesh"):
        distance_to_mesh(np.zeros((1, 3)), polygon)
    with pytest.raises(NeuralPolyError, match="2-D mesh"):
        sample_surface(polygon, 10)
    with pytest.raises(NeuralPolyError, match="no faces"):
        distance_to_mesh(np.zeros((1, 3)), empty)
    with pytest.raises(NeuralPolyError, match="no faces"):
        chamfer(cube(), empty)
    with pytest.raises(NeuralPolyError, match="PolyMesh"):
        sample_surface(np.zeros((3, 3)), 10)
    with pytest.raises(NeuralPolyError, match=r"shape \(n, 3\)"):
        distance_to_mesh(np.zeros((4, 2)), cube())
    with pytest.raises(NeuralPolyError, match="NaN"):
        distance_to_mesh(np.array([[np.nan, 0, 0]]), cube())
    with pytest.raises(NeuralPolyError, match="number of samples"):
        sample_surface(cube(), -1)
    with pytest.raises(NeuralPolyError, match="number of samples"):
        chamfer(cube(), cube(), 0)
    flat = PolyMesh(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0.0]]), [0, 1, 2], [3])
    with pytest.raises(NeuralPolyError, match="zero area"):
        sample_surface(flat, 10)
    assert distance_to_mesh(np.zeros((0, 3)), cube()).shape == (0,)
    assert distance_to_mesh([[0.0, 0.0, 5.0]], flat)[0] == pytest.approx(5.0)
