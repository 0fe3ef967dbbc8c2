"""Neural low-poly in Blender: fit a network to a mesh object, add its low-poly surface where the input is.

Short fits (a 2x16 ReLU MLP, a few seconds) on a UV sphere that is moved, scaled and has a
modifier: the input stays as it was, the new object lands where the input is, keeps its
network and placement (re-extract, save model), and the panel shows the job's own summary.
Bad input leaves the scene as it was.
"""

from __future__ import annotations

import math
import os

import bpy
import numpy as np
import pytest
from mathutils import Vector

from npb_helpers import data_counts
from test_blender_ui import draw, labels

#: A short fit: small net, short budget, few comparison samples.
FAST = dict(lowpoly_size="2x16", lowpoly_seconds=3.0, lowpoly_samples=20000)
CENTRE = (1.0, 2.0, 3.0)
SCALE = (1.5, 1.0, 1.2)


def scene_counts() -> dict:
    return dict(data_counts(), materials=len(bpy.data.materials))


def sphere(subdivide: bool = True) -> bpy.types.Object:
    """A UV sphere of radius 0.7 at CENTRE, scaled by SCALE, with a Subdivision modifier."""
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.7, location=CENTRE, segments=16, ring_count=8)
    obj = bpy.context.active_object
    obj.scale = SCALE
    if subdivide:
        obj.modifiers.new("Subdivision", "SUBSURF").levels = 1
    bpy.context.view_layer.update()
    return obj


def coords(obj) -> np.ndarray:
    co = np.empty(len(obj.data.vertices) * 3, dtype=np.float32)
    obj.data.vertices.foreach_get("co", co)
    return co


def world_box(obj) -> tuple[np.ndarray, np.ndarray]:
    P = np.array([tuple(obj.matrix_world @ Vector(c)) for c in obj.bound_box])
    return P.min(axis=0), P.max(axis=0)


def evaluated_vertex_count(obj) -> int:
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    try:
        return len(me.vertices)
    finally:
        ev.to_mesh_clear()


def test_lowpoly_of_a_sphere_lands_where_it_was_and_keeps_its_network(addon, tmp_path):
    obj = sphere()
    before, matrix = coords(obj), [tuple(r) for r in obj.matrix_world]
    n_input = evaluated_vertex_count(obj)
    assert bpy.ops.neuralpoly.lowpoly(**FAST) == {"FINISHED"}
    new = bpy.context.active_object
    assert new is not obj and new.name == f"{obj.name} LowPoly" and new.neuralpoly.kind == "LOWPOLY"
    # the input is untouched: same coordinates, transform and modifier
    np.testing.assert_array_equal(coords(obj), before)
    assert [tuple(r) for r in obj.matrix_world] == matrix and [m.type for m in obj.modifiers] == ["SUBSURF"]
    assert obj.neuralpoly.kind == "NONE"
    # where the (evaluated, transformed) input is
    lo, hi = world_box(new)
    want_lo, want_hi = world_box(obj)
    extent = want_hi - want_lo
    np.testing.assert_allclose((lo + hi) / 2, CENTRE, atol=0.1 * extent.max())
    np.testing.assert_allclose(hi - lo, extent, rtol=0.25)
    fit = addon.lowpoly_objects.stored_fit(new)
    assert fit["input"] == obj.name and fit["fit"]["input_vertices"] == n_input     # modifiers applied
    assert fit["fit"]["net"] == "relu:2x16" and fit["fit"]["vertices"] == len(new.data.vertices)
    assert fit["fit"]["faces"] == len(new.data.polygons)
    # the network and its placement: the object's transform is the placement, f = 0 on the mesh
    net, meta = addon.api.model_of(new)
    placement = addon.model_store.load_placement(new)
    assert tuple(new.scale) == pytest.approx((placement.scale,) * 3)
    assert tuple(new.location) == pytest.approx(placement.offset)
    V = addon.blender_mesh.mesh_arrays(new.data)[0]
    assert np.max(np.abs(net(V))) < 1e-4                                # float32 vertices
    # save model: the file re-loads with the same network and placement
    path = addon.api.save_model_file(new, tmp_path / "lowpoly.json")
    net2, meta2, placement2 = addon.neuralpoly_core.network.modelfile.load_model_placed(path)
    assert placement2 == placement and meta2 == meta
    np.testing.assert_array_equal(net2(V), net(V))
    # re-extract by marching cubes: still a LOWPOLY object, still where the input is
    assert bpy.ops.neuralpoly.reextract_level_set(levelset_method="MARCHING", resolution=24) == {"FINISHED"}
    assert bpy.context.active_object is new and new.neuralpoly.kind == "LOWPOLY"
    assert new.neuralpoly.method == "marching"
    lo, hi = world_box(new)
    np.testing.assert_allclose((lo + hi) / 2, CENTRE, atol=0.1 * extent.max())
    np.testing.assert_array_equal(coords(obj), before)


def test_the_job_runs_in_the_worker_and_the_panel_shows_its_summary(addon):
    obj = sphere(subdivide=False)
    settings = addon.api.LowPolySettings("relu:2x16", seconds=2.0, seed=3, samples=20000)
    plan = addon.api.plan_lowpoly(bpy.context, obj, settings)
    folder = os.path.dirname(plan.arguments["mesh"])
    assert plan.job == "fit_sdf" and os.path.isdir(folder)
    result = addon.trainer.worker().submit(plan.job, plan.arguments).wait()
    new = plan.finish_with(lambda: result)
    assert not os.path.exists(folder)                                   # temporary files removed
    summary = result["summary"]
    assert addon.lowpoly_objects.stored_fit(new)["fit"] == addon.lowpoly_objects.fit_facts(summary)
    assert summary["seed"] == 3 and summary["vertices"] == len(new.data.vertices)
    assert bpy.context.active_object is new
    assert bpy.types.NEURALPOLY_PT_active_level_set.poll(bpy.context)
    text = labels(draw(bpy.types.NEURALPOLY_PT_active_level_set, bpy.context))
    pct = 100 * summary["chamfer_rel"]
    assert f"Chamfer: {summary['chamfer']:.4g} ({pct:.3g} % of the diagonal)" in text
    assert f"Hausdorff: {summary['hausdorff']:.4g} ({100 * summary['hausdorff_rel']:.3g} %)" in text
    assert (f"Vertices: {summary['vertices']}, faces: {summary['faces']} (exact; input "
            f"{summary['input_vertices']} / {summary['input_faces']})") in text
    assert f"Train: {summary['train_seconds']:.2f} s, extract: {summary['extract_seconds']:.2f} s" in text
    assert math.isfinite(summary["chamfer"]) and summary["chamfer_rel"] < 0.2


def test_panel_and_menu_offer_the_operator(addon):
    log = draw(bpy.types.NEURALPOLY_PT_lowpoly, bpy.context)
    ((_, idname, op),) = [e for e in log if e[0] == "operator"]
    assert idname == "neuralpoly.lowpoly" and op.values["lowpoly_size"] == "8x32"
    assert op.values["lowpoly_method"] == "EXACT" and op.values["lowpoly_seconds"] == 30.0
    props = {e[1] for e in log if e[0] == "prop"}
    assert set(addon.properties.LOWPOLY_NAMES) == props
    assert addon._menu_lowpoly in bpy.types.VIEW3D_MT_object._dyn_ui_initialize()
    assert not bpy.ops.neuralpoly.lowpoly.poll()                        # nothing selected


def _refused(match: str, **settings) -> None:
    counts = scene_counts()
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.neuralpoly.lowpoly(**dict(FAST, **settings))
    assert scene_counts() == counts


def test_bad_input_is_refused_and_nothing_is_added(addon):
    bpy.ops.object.camera_add()
    _refused("Select the mesh object to fit")                           # a camera is no mesh
    bpy.ops.mesh.primitive_plane_add()
    _refused("is flat")
    me = bpy.data.meshes.new("Empty")
    empty = bpy.data.objects.new("Empty", me)
    bpy.context.collection.objects.link(empty)
    bpy.ops.object.select_all(action="DESELECT")
    empty.select_set(True)
    bpy.context.view_layer.objects.active = empty
    _refused("is empty")
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    _refused("time budget", lowpoly_seconds=0.0)
    _refused("unknown network spec", lowpoly_size="8x")
    _refused("resolution", lowpoly_method="MARCHING", lowpoly_resolution=2)
    cube.data.vertices[0].co = (math.nan, 0.0, 0.0)
    cube.data.update()
    _refused("NaN")


def test_cancel_adds_nothing_and_removes_the_files(addon):
    obj = sphere(subdivide=False)
    counts = scene_counts()
    plan = addon.api.plan_lowpoly(bpy.context, obj, addon.api.LowPolySettings("relu:2x16", seconds=2.0))
    folder = os.path.dirname(plan.arguments["mesh"])
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        addon.api.run_plan(plan, cancel=lambda: True)
    assert scene_counts() == counts and not os.path.exists(folder)
