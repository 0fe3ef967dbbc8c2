"""The shared graph and topology steps: components, cycles, straight vertices, unused vertices."""

from __future__ import annotations

import numpy as np
import pytest

from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.mesh import PolyMesh
from neuralpoly_core.mesh.graph import connected_components, open_ends, trace_loop, walk_cycle
from neuralpoly_core.mesh.topology import (STRAIGHT_SINE, drop_unused_vertices, flatten_faces,
                                           merge_coplanar_faces, merge_coplanar_groups,
                                           remove_straight_vertices)


def test_components_are_labelled_by_their_smallest_node():
    labels = connected_components(7, [5, 1, 3, 6], [2, 4, 1, 6])
    np.testing.assert_array_equal(labels, [0, 1, 2, 1, 1, 2, 6])
    np.testing.assert_array_equal(connected_components(3, [], []), [0, 1, 2])
    # a long path numbered backwards: one component
    n = 1000
    assert set(connected_components(n, np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1)).tolist()) == {0}


def test_components_match_a_union_find_on_random_graphs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = 60
        a, b = rng.integers(0, n, 40), rng.integers(0, n, 40)
        parent = list(range(n))

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x
        for u, w in zip(a.tolist(), b.tolist()):
            ru, rw = find(u), find(w)
            parent[max(ru, rw)] = min(ru, rw)
        np.testing.assert_array_equal(connected_components(n, a, b), [find(i) for i in range(n)])


def test_walk_cycle():
    assert walk_cycle([2, 0, 1, 3], 0) == [0, 2, 1]
    assert walk_cycle([2, 0, 1, 3], 3) == [3]
    assert walk_cycle({5: 7, 7: 9, 9: 5}, 7) == [7, 9, 5]
    assert walk_cycle({5: 7, 7: 9}, 5) is None                 # leaves the map
    assert walk_cycle([1, 2, 3, 0], 0, limit=3) is None
    assert walk_cycle([1, 2, 3, 0], 0, limit=4) == [0, 1, 2, 3]


def test_trace_loop():
    assert trace_loop([4, 7, 2], [7, 2, 4]) == [4, 7, 2]
    assert trace_loop([2, 7, 4], [4, 2, 7]) == [2, 4, 7]
    assert trace_loop([], []) is None
    assert trace_loop([0, 1, 2, 3], [1, 0, 3, 2]) is None      # two cycles
    assert trace_loop([0, 0, 1, 2], [1, 2, 0, 0]) is None      # a vertex with two ways out
    assert trace_loop([0, 1, 3], [1, 2, 0]) is None            # an open path


def test_open_ends():
    assert open_ends(4, [0, 1, 2], [1, 2, 0]) == 0              # a loop
    assert open_ends(4, [0, 1], [1, 2]) == 1                    # a path
    assert open_ends(6, [0, 1, 3, 4], [1, 2, 4, 5]) == 2
    assert open_ends(3, [], []) == 0


def test_flatten_faces():
    flat, sizes, starts, nxt = flatten_faces([[3, 4, 5], [6, 7, 8, 9]])
    np.testing.assert_array_equal(flat, [3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(sizes, [3, 4])
    np.testing.assert_array_equal(starts, [0, 3])
    np.testing.assert_array_equal(nxt, [1, 2, 0, 4, 5, 6, 3])


def test_straight_vertices_go_where_every_face_is_straight_at_them():
    """Two squares side by side: the middle vertices of the outer boundary are straight in
    their one face but not where the squares meet; a triangle left with 2 corners goes."""
    V = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [2, 1, 0], [1, 1, 0], [0, 1, 0],
                  [0.5, 0, 0], [5, 5, 5]], dtype=float)
    faces = [[0, 6, 1, 4, 5], [1, 2, 3, 4], [0, 1, 6]]
    out, kept = remove_straight_vertices(V, faces)
    assert [f.tolist() for f in out] == [[0, 1, 4, 5], [1, 2, 3, 4]]
    np.testing.assert_array_equal(kept, [0, 1])
    # vertex 6 is straight in face 0 but bent in face 2 of this pair: it stays
    out, kept = remove_straight_vertices(V, [[0, 6, 1, 4, 5], [6, 0, 7]])
    assert [f.tolist() for f in out] == [[0, 6, 1, 4, 5], [6, 0, 7]]
    # a corner off the line by less than the tolerance counts as straight
    W = V.copy()
    W[6, 1] = 0.1 * STRAIGHT_SINE
    assert remove_straight_vertices(W, [[0, 6, 1, 4, 5]])[0][0].tolist() == [0, 1, 4, 5]
    W[6, 1] = 10 * STRAIGHT_SINE
    assert remove_straight_vertices(W, [[0, 6, 1, 4, 5]])[0][0].tolist() == [0, 6, 1, 4, 5]
    # a spike (going back along the edge) is no straight corner
    assert remove_straight_vertices(V, [[0, 2, 1, 3]])[0][0].tolist() == [0, 2, 1, 3]


def test_drop_unused_vertices_keeps_the_order():
    V = np.arange(18.0).reshape(6, 3)
    W, faces = drop_unused_vertices(V, [[5, 1, 3], np.array([3, 1, 4])])
    np.testing.assert_array_equal(W, V[[1, 3, 4, 5]])
    assert [f.tolist() for f in faces] == [[3, 0, 1], [1, 0, 2]]


def test_merge_coplanar_faces_of_a_subdivided_cube():
    """Each square of a cube cut in 4 (with the edge midpoints) merges back into one; the
    midpoints, straight in both faces using them, go."""
    V = [(x, y, z) for x in (-1.0, 0.0, 1.0) for y in (-1.0, 0.0, 1.0) for z in (-1.0, 0.0, 1.0)]
    index = {v: i for i, v in enumerate(V)}
    faces = []
    for axis in range(3):
        for side in (-1.0, 1.0):
            u, w = (axis + 1) % 3, (axis + 2) % 3
            for a in (-1.0, 0.0):
                for b in (-1.0, 0.0):
                    quad = []
                    for da, db in ((0, 0), (1, 0), (1, 1), (0, 1)):
                        p = [0.0, 0.0, 0.0]
                        p[axis], p[u], p[w] = side, a + da, b + db
                        quad.append(index[tuple(p)])
                    faces.append(quad if side > 0 else quad[::-1])
    mesh = PolyMesh.from_faces(np.array(V), faces, np.arange(len(faces)))
    assert mesh.is_closed_manifold()
    merged, groups = merge_coplanar_groups(mesh)
    assert merged.f_vector == (8, 12, 6) and merged.is_closed_manifold()
    assert sorted(len(g) for g in groups) == [4] * 6
    np.testing.assert_array_equal(merged.region_ids, [min(g) for g in groups])
    assert merge_coplanar_faces(mesh).f_vector == (8, 12, 6)
    with pytest.raises(NeuralPolyError, match="tolerance"):
        merge_coplanar_faces(mesh, tolerance=-1.0)


@pytest.mark.parametrize("kw, match", [
    (dict(vertices=np.zeros((3, 4)), corners=[0, 1, 2], face_sizes=[3]), "shape"),
    (dict(vertices=np.zeros((3, 3)), corners=[0, 1, 2], face_sizes=[4]), "add up"),
    (dict(vertices=np.zeros((3, 3)), corners=[0, 1], face_sizes=[2]), "at least 3 corners"),
    (dict(vertices=np.zeros((3, 3)), corners=[0, 1, 5], face_sizes=[3]), "does not exist"),
    (dict(vertices=np.zeros((3, 3)), corners=[0, 1, 2], face_sizes=[3], region_ids=[1, 2]), "one entry"),
])
def test_polymesh_refuses_arrays_that_do_not_fit(kw, match):
    with pytest.raises(NeuralPolyError, match=match):
        PolyMesh(**kw)
    with pytest.raises(ValueError, match=match):               # NeuralPolyError is a ValueError
        PolyMesh(**kw)
