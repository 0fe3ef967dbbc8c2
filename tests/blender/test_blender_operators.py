"""The add-on's operators in real Blender: exact meshes, stored models, errors, undo."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def counts(obj) -> tuple[int, int, int]:
    me = obj.data
    return len(me.vertices), len(me.edges), len(me.polygons)


def face_sizes(obj) -> dict[int, int]:
    sizes = [p.loop_total for p in obj.data.polygons]
    return {int(k): int(v) for k, v in zip(*np.unique(sizes, return_counts=True))}


#: Blender stores vertex coordinates as float32: |f(v) - 1| is then ~1e-7, not ~1e-15.
FLOAT32_LEVEL_TOL = 1e-6


def level_errors(addon, obj) -> np.ndarray:
    """|f(v) - 1| at every vertex, in the network's own coordinates (size and slice undone)."""
    net, _ = addon.api.model_of(obj)
    p = obj.neuralpoly
    V, _, _ = addon.blender_mesh.mesh_arrays(obj.data)
    V = V / p.size
    if net.dim == 2:
        assert np.all(V[:, 2] == 0.0)
        V = V[:, :2]
    elif net.dim > 3:
        V = V @ addon.neuralpoly_core.polytope.slicing.paper_slice_basis(net.dim, p.slice_theta).T
    return np.abs(net(V) - 1.0)


def test_octahedron_from_width_3(addon):
    bpy.context.scene.cursor.location = (1.0, 2.0, 3.0)
    assert bpy.ops.neuralpoly.add_polytope(dim=3, widths="3", p="1", seed=0) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.name == "NeuralPolytope (3;1)"
    assert obj.select_get() and list(bpy.context.selected_objects) == [obj]
    assert counts(obj) == (6, 12, 8)
    assert face_sizes(obj) == {3: 8}
    assert tuple(obj.location) == pytest.approx((1.0, 2.0, 3.0))
    attr = obj.data.attributes["region_id"]
    assert (attr.domain, attr.data_type) == ("FACE", "INT")
    regions = addon.blender_mesh.region_ids(obj.data)
    assert len(set(regions.tolist())) == 8 and regions.min() >= 0   # one linear region per face
    assert level_errors(addon, obj).max() < FLOAT32_LEVEL_TOL
    p = obj.neuralpoly
    assert (p.kind, p.arch_type, p.dim, p.method) == ("POLYTOPE", "(3;1)", 3, "exact")
    assert p.polytope_name == "octahedron"
    assert p.f_vector == "6, 12, 8"
    assert p.max_level_error < 1e-12       # of the float64 mesh the core extracted
    assert 0.0 < p.loss < 0.05
    net, meta = addon.api.model_of(obj)
    assert net.widths == (3,) and meta["type"] == "(3;1)" and meta["seed"] == 0


def test_cuboctahedron_keeps_ngons_and_is_closed(addon):
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=0, size=2.0)
    obj = bpy.context.active_object
    assert counts(obj) == (12, 24, 14)
    assert face_sizes(obj) == {3: 8, 4: 6}
    V, E, F = counts(obj)
    assert V - E + F == 2
    assert level_errors(addon, obj).max() < FLOAT32_LEVEL_TOL
    radii = np.linalg.norm(addon.blender_mesh.mesh_arrays(obj.data)[0], axis=1)
    assert radii.min() > 1.5  # size 2 is baked into the mesh (f = 1 is near the unit sphere)


def test_polygon_is_one_face_loop(addon):
    bpy.ops.neuralpoly.add_polytope(dim=2, widths="4", p="1", seed=0)
    obj = bpy.context.active_object
    assert counts(obj) == (8, 8, 1)          # the regular octagon of width 4
    assert obj.data.polygons[0].loop_total == 8
    assert level_errors(addon, obj).max() < FLOAT32_LEVEL_TOL


def test_deep_type_and_radial_extraction(addon):
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4,2", p="1", seed=0)
    deep = bpy.context.active_object
    V, E, F = counts(deep)
    assert V - E + F == 2 and deep.name == "NeuralPolytope (4,2;1)"
    assert level_errors(addon, deep).max() < FLOAT32_LEVEL_TOL
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="3", p="2", seed=0, resolution=6)
    smooth = bpy.context.active_object
    assert smooth.neuralpoly.method == "radial" and smooth.name == "NeuralPolytope (3;2)"
    assert face_sizes(smooth).keys() == {3}
    V, E, F = counts(smooth)
    assert V - E + F == 2 and F >= 20 * 6 ** 2
    assert level_errors(addon, smooth).max() < FLOAT32_LEVEL_TOL
    assert all(p.use_smooth for p in smooth.data.polygons)


def test_slice_of_a_5_polytope(addon):
    theta = 3 * math.pi / 10
    bpy.ops.neuralpoly.add_polytope(dim=5, widths="8", p="1", seed=0, use_slice=True, slice_theta=theta)
    obj = bpy.context.active_object
    assert obj.name == "NeuralPolytope (8;1) \u03b8=3\u03c0/10"
    assert obj.neuralpoly.slice_theta == pytest.approx(theta)
    V, E, F = counts(obj)
    assert V - E + F == 2
    assert level_errors(addon, obj).max() < FLOAT32_LEVEL_TOL


@pytest.mark.parametrize("settings, message", [
    (dict(widths="0"), "width of layer 1 must be at least 1, got 0"),
    (dict(widths="4,x"), "width of layer 2 must be a whole number"),
    (dict(p="0"), "exponent p must be > 0"),
    (dict(p="-1.5"), "exponent p must be > 0"),
    (dict(widths="4,2", p="1,2,3"), "3 exponents given for 2 layers"),
    (dict(dim=5), "a 5-D polytope cannot be shown whole: turn on Slice"),
    (dict(dim=1), "dimension d must be at least 2"),
    (dict(p="2", method="EXACT"), "exact extraction needs p = 1"),
    (dict(resolution=2, method="RADIAL"), "resolution must be a whole number >= 3"),
    (dict(size=0.0), "size must be a number > 0"),
    (dict(restarts=0), "restarts must be at least 1"),
    (dict(seed=-1), "seed must be a whole number >= 0"),
])
def test_bad_settings_are_refused_and_change_nothing(addon, settings, message):
    before = data_counts()
    with pytest.raises(RuntimeError) as info:
        bpy.ops.neuralpoly.add_polytope(**settings)
    assert message in str(info.value)
    assert "Traceback" not in str(info.value)
    assert data_counts() == before


def test_undo_removes_the_object_and_redo_restores_it(addon):
    # background Blender keeps no undo history until a script pushes the first step
    bpy.ops.ed.undo_push(message="before")
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="3", p="1")
    bpy.ops.ed.undo_push(message="Add Neural Polytope")
    assert "NeuralPolytope (3;1)" in bpy.data.objects
    bpy.ops.ed.undo()
    assert "NeuralPolytope (3;1)" not in bpy.data.objects
    assert len(bpy.data.meshes) == 0
    bpy.ops.ed.redo()
    obj = bpy.data.objects["NeuralPolytope (3;1)"]
    assert counts(obj) == (6, 12, 8) and obj.neuralpoly.f_vector == "6, 12, 8"


def test_redo_with_new_extraction_settings_does_not_retrain(addon, monkeypatch):
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=3)
    jobs = []
    start = addon.trainer.start
    monkeypatch.setattr(addon.trainer, "start", lambda *a, **k: jobs.append(a) or start(*a, **k))
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=3, method="RADIAL", resolution=4)
    assert jobs == []  # the trained model was reused
    assert bpy.context.active_object.neuralpoly.method == "radial"
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=4)
    assert len(jobs) == 1  # another seed trains


def test_api_add_polytope_and_menu(addon):
    obj = addon.api.add_polytope(dim=3, widths=[6], p=1.0, location=(0, 0, 5))
    assert obj.name == "NeuralPolytope (6;1)" and tuple(obj.location) == (0, 0, 5)
    assert counts(obj) == (30, 60, 32)     # icosidodecahedron: 20 triangles and 12 pentagons
    assert face_sizes(obj) == {3: 20, 5: 12}
    assert bpy.context.view_layer.objects.active == obj
    assert hasattr(bpy.types, "NEURALPOLY_PT_main") and hasattr(bpy.types, "NEURALPOLY_PT_active")
