"""Boolean algebra of neurons in Blender: convex objects -> network -> mesh, checked against
Blender's own Boolean modifier (exact solver) and closed-form volumes."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def world_polymesh(addon, obj):
    """The object's evaluated mesh in world coordinates as a core PolyMesh (float64)."""
    dg = bpy.context.evaluated_depsgraph_get()
    ev = obj.evaluated_get(dg)
    me = ev.to_mesh()
    try:
        V, corners, sizes = addon.blender_mesh.mesh_arrays(me)
    finally:
        ev.to_mesh_clear()
    M = np.array(obj.matrix_world, dtype=np.float64)
    V = V @ M[:3, :3].T + M[:3, 3]
    return addon.neuralpoly_core.mesh.PolyMesh(V, corners, sizes)


def blender_boolean_volume(addon, active, others, operation):
    """Volume of Blender's Boolean modifier (solver EXACT) on a copy of ``active``."""
    return blender_boolean(addon, active, others, operation).volume()


def blender_boolean(addon, active, others, operation):
    """World-space result of Blender's Boolean modifier (solver EXACT) on a copy of ``active``."""
    dup = active.copy()
    dup.data = active.data.copy()
    bpy.context.scene.collection.objects.link(dup)
    try:
        for other in others:
            mod = dup.modifiers.new("Boolean", "BOOLEAN")
            mod.operation = {"INTERSECTION": "INTERSECT"}.get(operation.upper(), operation.upper())
            mod.solver = "EXACT"
            mod.object = other
        mesh = world_polymesh(addon, dup)
        assert mesh.is_closed_manifold()
        return mesh
    finally:
        data = dup.data
        bpy.data.objects.remove(dup)
        bpy.data.meshes.remove(data)


def snapshot(addon, obj):
    V = addon.blender_mesh.mesh_arrays(obj.data)[0]
    return (V.copy(), np.array(obj.matrix_world), [(m.name, m.type) for m in obj.modifiers],
            obj.hide_get(), obj.hide_render, obj.data.name)


def assert_unchanged(addon, obj, before):
    after = snapshot(addon, obj)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:] == before[2:]


def two_cubes(transformed=False):
    """Cube A: [-1, 1]^3. Cube B: [0, 2]^3, or a rotated, scaled, moved cube."""
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(0, 0, 0))
    a = bpy.context.active_object
    a.name = "CubeA"
    bpy.ops.mesh.primitive_cube_add(size=2.0, location=(1, 1, 1))
    b = bpy.context.active_object
    b.name = "CubeB"
    if transformed:
        b.location = (0.8, 0.3, 0.2)
        b.rotation_euler = (0.3, -0.2, math.radians(30))
        b.scale = (1.5, 1.0, 0.7)
    bpy.context.view_layer.update()      # matrix_world follows the new transform
    return a, b


def select(objs, active):
    for o in bpy.context.view_layer.objects:
        o.select_set(o in objs)
    bpy.context.view_layer.objects.active = active


@pytest.mark.parametrize("transformed", [False, True], ids=["axis-aligned", "rotated-scaled"])
@pytest.mark.parametrize("operation, analytic", [("UNION", 15.0), ("INTERSECTION", 1.0), ("DIFFERENCE", 7.0)])
def test_hard_boolean_volume_matches_blender_exact_boolean(addon, transformed, operation, analytic):
    a, b = two_cubes(transformed)
    before = {o.name: snapshot(addon, o) for o in (a, b)}
    select([a, b], a)
    assert bpy.ops.neuralpoly.boolean(operation=operation, boolean_mode="HARD") == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj not in (a, b) and obj.neuralpoly.kind == "BOOLEAN"
    assert obj.neuralpoly.operation == operation.lower() and obj.neuralpoly.method == "exact"
    mesh = world_polymesh(addon, obj)
    assert mesh.is_closed_manifold()
    assert obj.neuralpoly.max_level_error < 1e-9
    blender = blender_boolean(addon, a, [b], operation)
    reference = blender.volume()
    # same topology as Blender's result (the rotated box cuts A - B into a genus-2 solid)
    assert mesh.euler_characteristic == blender.euler_characteristic == (
        -2 if transformed and operation == "DIFFERENCE" else 2)
    assert mesh.volume() == pytest.approx(reference, rel=1e-6)
    if not transformed:
        assert mesh.volume() == pytest.approx(analytic, rel=1e-6)
        assert reference == pytest.approx(analytic, rel=1e-6)
    else:
        # inclusion-exclusion with the closed-form volumes of the two boxes
        vb = 8.0 * 1.5 * 1.0 * 0.7
        inter = blender_boolean_volume(addon, a, [b], "INTERSECTION")
        expected = {"UNION": 8.0 + vb - inter, "INTERSECTION": inter, "DIFFERENCE": 8.0 - inter}[operation]
        assert mesh.volume() == pytest.approx(expected, rel=1e-6)
    for o in (a, b):
        assert_unchanged(addon, o, before[o.name])
    # the network's level set f = 0 is the mesh: every vertex is on it, f < 0 inside
    net, meta = addon.api.model_of(obj)
    assert meta["boolean"]["objects"] == ["CubeA", "CubeB"]
    assert np.max(np.abs(net.evaluate(mesh.vertices))) < 1e-5
    if operation != "DIFFERENCE":
        assert net.evaluate(np.array([[0.5, 0.5, 0.5]]))[0] < 0


def test_exact_faces_of_an_axis_aligned_union(addon):
    a, b = two_cubes()
    select([a, b], b)
    obj = addon.api.add_boolean(operation="union")
    me = obj.data
    # two cubes sharing a corner region: 12 planar faces, 20 vertices, 30 edges
    assert (len(me.vertices), len(me.edges), len(me.polygons)) == (20, 30, 12)
    assert obj.neuralpoly.f_vector == "20, 30, 12"


def test_difference_is_active_minus_the_others(addon):
    a, b = two_cubes()
    select([a, b], b)     # B active: B minus A
    obj = addon.api.add_boolean(operation="difference")
    vol = world_polymesh(addon, obj).volume()
    assert vol == pytest.approx(7.0, rel=1e-9)
    net, _ = addon.api.model_of(obj)
    f = net.evaluate(np.array([[1.5, 1.5, 1.5], [-0.5, -0.5, -0.5]]))
    assert f[0] < 0 < f[1]          # inside B, outside A: in; inside A only: out


def test_three_objects_difference(addon):
    a, b = two_cubes()
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(-0.5, -0.5, -0.5))
    c = bpy.context.active_object
    select([a, b, c], a)
    obj = addon.api.add_boolean(operation="difference")
    assert world_polymesh(addon, obj).volume() == pytest.approx(8.0 - 1.0 - 1.0, rel=1e-9)
    assert world_polymesh(addon, obj).volume() == pytest.approx(
        blender_boolean_volume(addon, a, [b, c], "DIFFERENCE"), rel=1e-6)


def test_soft_boolean_is_closed_blended_and_reextracts_at_another_sharpness(addon):
    a, b = two_cubes()
    select([a, b], a)
    assert bpy.ops.neuralpoly.boolean(operation="UNION", boolean_mode="SOFT", sharpness=4.0,
                                      boolean_resolution=40) == {"FINISHED"}
    obj = bpy.context.active_object
    p = obj.neuralpoly
    assert (p.boolean_mode, p.sharpness, p.method) == ("soft", 4.0, "marching")
    soft = world_polymesh(addon, obj)
    assert soft.is_closed_manifold() and soft.euler_characteristic == 2
    assert p.max_level_error < 1e-6
    v4 = soft.volume()
    assert 0.5 * 15.0 < v4 < 15.0          # the corners are rounded away
    # the blend: the hard union's re-entrant edge at (0, 0, 1)..(1, 0, 1) is filled in softly
    verts = soft.vertices
    assert not np.any(np.all(np.abs(verts - [-1.0, -1.0, -1.0]) < 0.05, axis=1))   # no sharp corner

    assert bpy.ops.neuralpoly.reextract_level_set(sharpness=30.0) == {"FINISHED"}
    assert obj.neuralpoly.sharpness == 30.0 and len(bpy.data.meshes) == 3
    v30 = world_polymesh(addon, obj).volume()
    assert v4 < v30 < 15.0 and abs(15.0 - v30) < abs(15.0 - v4)
    net, meta = addon.api.model_of(obj)
    assert meta["boolean"]["sharpness"] == 30.0
    assert net.layers[0].activation.scale == 30.0

    # back to hard mode: the exact union again
    assert bpy.ops.neuralpoly.reextract_level_set(boolean_mode="HARD") == {"FINISHED"}
    assert world_polymesh(addon, obj).volume() == pytest.approx(15.0, rel=1e-9)
    assert obj.neuralpoly.method == "exact"


def test_boolean_survives_save_and_reload_and_reextracts_without_its_inputs(addon, tmp_path):
    a, b = two_cubes(transformed=True)
    select([a, b], a)
    obj = addon.api.add_boolean(operation="intersection")
    volume = world_polymesh(addon, obj).volume()
    model = obj.neuralpoly.model_json
    path = tmp_path / "boolean.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    obj = bpy.data.objects["NeuralBoolean Intersection"]
    assert obj.neuralpoly.kind == "BOOLEAN" and obj.neuralpoly.model_json == model
    for name in ("CubeA", "CubeB"):
        bpy.data.objects.remove(bpy.data.objects[name])
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.neuralpoly.reextract_level_set(boolean_mode="SOFT", sharpness=20.0,
                                                  resolution=32) == {"FINISHED"}
    assert world_polymesh(addon, obj).is_closed_manifold()
    # the generic re-extract operator handles booleans too
    assert bpy.ops.neuralpoly.reextract(method="AUTO") == {"FINISHED"}
    bpy.ops.neuralpoly.reextract_level_set(boolean_mode="HARD")
    assert world_polymesh(addon, obj).volume() == pytest.approx(volume, rel=1e-9)


def test_non_convex_input_is_refused_by_name_and_nothing_changes(addon):
    a, _b = two_cubes()
    bpy.ops.mesh.primitive_torus_add(location=(3, 0, 0))
    torus = bpy.context.active_object
    torus.name = "Donut"
    before = {o.name: snapshot(addon, o) for o in (a, torus)}
    counts = data_counts()
    select([a, torus], a)
    with pytest.raises(RuntimeError, match="'Donut'.*not convex"):
        bpy.ops.neuralpoly.boolean(operation="UNION")
    assert data_counts() == counts
    for o in (a, torus):
        assert_unchanged(addon, o, before[o.name])


def test_open_mesh_and_single_object_are_refused(addon):
    a, _b = two_cubes()
    bpy.ops.mesh.primitive_plane_add(location=(0, 0, 3))
    plane = bpy.context.active_object
    plane.name = "Sheet"
    counts = data_counts()
    select([a, plane], a)
    with pytest.raises(RuntimeError, match="'Sheet'"):
        bpy.ops.neuralpoly.boolean(operation="INTERSECTION")
    with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="at least two"):
        addon.api.add_boolean(objects=[a], operation="union")
    assert data_counts() == counts
