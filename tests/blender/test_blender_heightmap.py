"""The metaball heightmap: keyframed layer-1 biases move the blobs over the timeline."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from bpy_extras import anim_utils

from npb_helpers import data_counts


def heights(addon, obj):
    V = addon.blender_mesh.mesh_arrays(obj.data)[0]
    return V


def peak(addon, obj):
    V = heights(addon, obj)
    return V[np.argmax(V[:, 2]), :2]


def fcurves(obj):
    ad = obj.animation_data
    return anim_utils.action_get_channelbag_for_slot(ad.action, ad.action_slot).fcurves


def expected_centre(addon, obj, frame):
    params = addon.heightmap_objects.parameters(obj)
    hm = addon.neuralpoly_core.construct.heightmap
    return hm.blob_centers_at(params["centers"], frame - params["frame_start"], amplitude=params["amplitude"],
                              period=params["period"])


def test_add_heightmap_keyframes_the_biases(addon):
    bpy.context.scene.frame_start = 1
    bpy.context.scene.frame_set(1)
    assert bpy.ops.neuralpoly.add_heightmap(blobs=3, period=40, keyframe_step=5, heightmap_resolution=32) \
        == {"FINISHED"}
    obj = bpy.context.active_object
    p = obj.neuralpoly
    assert p.kind == "HEIGHTMAP" and len(p.biases) == 3 * 8
    curves = fcurves(obj)
    assert sorted(fc.data_path for fc in curves) == sorted(f"neuralpoly.biases[{i}].value" for i in range(24))
    assert all(len(fc.keyframe_points) == 9 for fc in curves)        # frames 1, 6, ..., 41
    assert bpy.context.scene.frame_end >= 41
    assert len(obj.data.vertices) == 33 * 33
    # the keyed biases are the core's animated biases at every key
    hm = addon.neuralpoly_core.construct.heightmap
    params = addon.heightmap_objects.parameters(obj)
    for frame in (1, 16, 41):
        want = hm.animated_biases(params["centers"], params["radii"], frame - 1, amplitude=params["amplitude"],
                                  period=params["period"])
        got = np.array([fc.evaluate(frame) for fc in sorted(curves, key=lambda c: int(c.data_path[18:-7]))])
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_frames_move_the_blob_maximum(addon):
    scene = bpy.context.scene
    scene.frame_set(1)
    obj = addon.api.add_heightmap(blobs=1, radius=0.3, amplitude=0.4, period=40, keyframe_step=5,
                                  resolution=80, size=2.0, frame_start=1)
    spacing = 2.0 / 80
    peaks = {}
    for frame in (1, 11, 21, 31):
        scene.frame_set(frame)
        peaks[frame] = peak(addon, obj)
        np.testing.assert_allclose(peaks[frame], expected_centre(addon, obj, frame)[0], atol=2 * spacing)
    # a quarter period apart the blob has moved by amplitude * sqrt(2) on its circle
    assert np.linalg.norm(peaks[11] - peaks[1]) == pytest.approx(0.4 * np.sqrt(2), abs=3 * spacing)
    assert np.linalg.norm(peaks[21] - peaks[1]) == pytest.approx(0.8, abs=3 * spacing)
    # heights are the network at the animated biases
    net = addon.heightmap_objects.current_network(obj)
    V = heights(addon, obj)
    np.testing.assert_allclose(V[:, 2], net.evaluate(V[:, :2]), atol=1e-6)
    assert 0.4 < V[:, 2].max() <= 0.5 and V[:, 2].min() > -1e-6


def test_handler_persists_across_file_load_and_renders_headless(addon, tmp_path):
    scene = bpy.context.scene
    scene.frame_set(1)
    addon.api.add_heightmap(blobs=2, resolution=24, period=20, keyframe_step=5, frame_start=1)
    path = tmp_path / "heightmap.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(path))
    scene = bpy.context.scene
    obj = next(o for o in scene.objects if o.neuralpoly.kind == "HEIGHTMAP")
    before = heights(addon, obj)[:, 2].copy()
    scene.frame_set(6)
    after = heights(addon, obj)[:, 2]
    assert np.max(np.abs(after - before)) > 0.05
    net = addon.heightmap_objects.current_network(obj)
    np.testing.assert_allclose(after, net.evaluate(heights(addon, obj)[:, :2]), atol=1e-6)

    # a headless animation render runs the handler on every frame without errors
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.cycles.device = "CPU"
    scene.render.resolution_x = scene.render.resolution_y = 16
    scene.render.filepath = str(tmp_path / "frame_")
    scene.frame_start, scene.frame_end = 10, 11
    bpy.ops.object.camera_add(location=(0, -4, 3), rotation=(0.9, 0, 0))
    scene.camera = bpy.context.active_object
    assert bpy.ops.render.render(animation=True) == {"FINISHED"}
    assert sorted(p.name for p in tmp_path.glob("frame_*.png")) == ["frame_0010.png", "frame_0011.png"]
    expected = addon.heightmap_objects.current_network(obj).evaluate(heights(addon, obj)[:, :2])
    np.testing.assert_allclose(heights(addon, obj)[:, 2], expected, atol=1e-6)


def test_rebuild_at_another_resolution_and_errors_leave_nothing(addon):
    obj = addon.api.add_heightmap(blobs=2, resolution=16)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.neuralpoly.reextract_level_set(resolution=20) == {"FINISHED"}
    assert len(obj.data.vertices) == 21 * 21 and obj.neuralpoly.resolution == 20
    assert len(bpy.data.meshes) == 1
    counts = data_counts()
    with pytest.raises(RuntimeError, match="blob radius .* too large"):
        bpy.ops.neuralpoly.add_heightmap(blob_radius=5.0)
    with pytest.raises(RuntimeError, match="period must be a whole number in 2"):
        bpy.ops.neuralpoly.add_heightmap(period=1)
    with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="end frame 5 must come after"):
        addon.api.add_heightmap(frame_start=10, frame_end=5)
    assert data_counts() == counts
