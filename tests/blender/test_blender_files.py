"""Models that survive .blend files, re-extraction without training, model files, export."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def vertex_set(addon, obj) -> np.ndarray:
    V = addon.blender_mesh.mesh_arrays(obj.data)[0]
    return V[np.lexsort(V.T[::-1])]


def test_model_survives_save_and_reload_and_reextracts_the_same_mesh(addon, tmp_path):
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=0)
    obj = bpy.context.active_object
    obj.location = (2.0, 0.0, 0.0)
    before = vertex_set(addon, obj)
    model_before = obj.neuralpoly.model_json
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.read_homefile(use_empty=True)
    assert "NeuralPolytope (4;1)" not in bpy.data.objects
    bpy.ops.wm.open_mainfile(filepath=str(path))

    obj = bpy.data.objects["NeuralPolytope (4;1)"]
    p = obj.neuralpoly
    assert p.kind == "POLYTOPE" and p.model_json == model_before
    assert (p.arch_type, p.f_vector, p.face_sizes) == ("(4;1)", "12, 24, 14", "8\u00d73-gon, 6\u00d74-gon")
    # stored as ID properties in the file (Blender 5 keeps bpy.props apart from custom properties)
    assert obj.bl_system_properties_get()["neuralpoly"]["model_json"] == model_before
    net, meta = addon.api.model_of(obj)
    assert meta["type"] == "(4;1)" and meta["loss"] == pytest.approx(p.loss)

    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.neuralpoly.reextract(method="EXACT") == {"FINISHED"}
    obj = bpy.data.objects["NeuralPolytope (4;1)"]
    assert tuple(obj.location) == (2.0, 0.0, 0.0)
    np.testing.assert_allclose(vertex_set(addon, obj), before, atol=1e-6)
    assert len(obj.data.polygons) == 14 and obj.data.name == "NeuralPolytope (4;1)"


def test_reextract_at_other_resolutions_without_training(addon, monkeypatch):
    obj = addon.api.add_polytope(dim=3, widths="3", p="0.8", seed=0, resolution=4)
    monkeypatch.setattr(addon.trainer, "start", lambda *a, **k: pytest.fail("re-extraction trained"))
    n4 = len(obj.data.polygons)
    bpy.ops.neuralpoly.reextract(method="RADIAL", resolution=8)
    n8 = len(obj.data.polygons)
    assert n8 > n4 >= 20 * 4 ** 2
    assert obj.neuralpoly.resolution == 8 and obj.neuralpoly.max_level_error < 1e-9
    assert len(bpy.data.meshes) == 1   # the old mesh was replaced, not left behind
    with pytest.raises(RuntimeError, match="exact extraction needs p = 1"):
        bpy.ops.neuralpoly.reextract(method="EXACT")
    assert len(obj.data.polygons) == n8


def test_reextract_keeps_settings_a_script_leaves_out(addon):
    theta = 0.5
    obj = addon.api.add_polytope(dim=4, widths="6", p="1", seed=0, slice_theta=theta, size=2.0)
    before = vertex_set(addon, obj)
    assert bpy.ops.neuralpoly.reextract(method="EXACT") == {"FINISHED"}
    assert obj.neuralpoly.size == 2.0 and obj.neuralpoly.slice_theta == pytest.approx(theta)
    np.testing.assert_allclose(vertex_set(addon, obj), before, atol=1e-6)
    bpy.ops.neuralpoly.reextract(use_slice=True, slice_theta=1.0)
    assert obj.neuralpoly.slice_theta == pytest.approx(1.0) and obj.neuralpoly.size == 2.0


def test_reextract_needs_a_neural_polytope(addon):
    bpy.ops.mesh.primitive_cube_add()
    with pytest.raises(RuntimeError, match="not a neural polytope"):
        bpy.ops.neuralpoly.reextract()


def test_model_file_round_trip(addon, tmp_path):
    obj = addon.api.add_polytope(dim=3, widths="4,2", p="1", seed=1)
    path = tmp_path / "deep.json"
    assert bpy.ops.neuralpoly.save_model(filepath=str(path)) == {"FINISHED"}
    data = json.loads(path.read_text())
    assert data["format"] == "neuralpoly.model" and data["meta"]["type"] == "(4,2;1)"
    before = vertex_set(addon, obj)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.neuralpoly.load_model(filepath=str(path), location=(0, 0, 1)) == {"FINISHED"}
    loaded = bpy.context.active_object
    assert loaded.name == "NeuralPolytope (4,2;1)" and tuple(loaded.location) == (0, 0, 1)
    np.testing.assert_allclose(vertex_set(addon, loaded), before, atol=1e-6)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"format": "something else"}', "not a neuralpoly model"),
    ('{"format": "neuralpoly.model", "version": 1, "dim": 3, "layers": '
     '[{"weight": [[1, 0], [0, 1]], "bias": null, "activation": {"name": "abs_pow", "p": 1}}]}',
     "layer 0 weight has 2 columns, expected 3"),
    ('{"format": "neuralpoly.model", "version": 1, "dim": 3, "layers": '
     '[{"weight": [[1, 0, 0]], "bias": null, "activation": {"name": "abs_pow", "p": -1}}]}',
     "p must be > 0"),
])
def test_corrupt_model_files_are_refused(addon, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    before = data_counts()
    with pytest.raises(RuntimeError) as info:
        bpy.ops.neuralpoly.load_model(filepath=str(path))
    assert message in str(info.value) and "bad.json" in str(info.value)
    assert data_counts() == before


def test_missing_model_file(addon, tmp_path):
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.neuralpoly.load_model(filepath=str(tmp_path / "nowhere.json"))


def test_export_obj_keeps_ngons_and_stl_triangulates(addon, tmp_path):
    addon.api.add_polytope(dim=3, widths="4", p="1", seed=0)
    cube = addon.api.add_polytope(dim=3, widths="3", p="1", seed=0, location=(3, 0, 0))
    cube.select_set(False)  # only the cuboctahedron is exported
    bpy.context.view_layer.objects.active = bpy.data.objects["NeuralPolytope (4;1)"]
    bpy.data.objects["NeuralPolytope (4;1)"].select_set(True)

    obj_path = tmp_path / "poly.obj"
    assert bpy.ops.neuralpoly.export_mesh(filepath=str(obj_path), format="OBJ") == {"FINISHED"}
    stl_path = tmp_path / "poly.stl"
    assert bpy.ops.neuralpoly.export_mesh(filepath=str(stl_path), format="STL") == {"FINISHED"}

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.obj_import(filepath=str(obj_path))
    (imported,) = bpy.context.selected_objects
    me = imported.data
    assert (len(me.vertices), len(me.edges), len(me.polygons)) == (12, 24, 14)
    assert sorted(p.loop_total for p in me.polygons) == [3] * 8 + [4] * 6

    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.stl_import(filepath=str(stl_path))
    (imported,) = bpy.context.selected_objects
    me = imported.data
    assert len(me.polygons) == 8 + 6 * 2 and all(p.loop_total == 3 for p in me.polygons)
    assert len(me.vertices) == 12


def test_export_refuses_without_selection_or_folder(addon, tmp_path):
    with pytest.raises(RuntimeError, match="Select the mesh objects"):
        bpy.ops.neuralpoly.export_mesh(filepath=str(tmp_path / "x.obj"))
    addon.api.add_polytope(dim=3, widths="3", p="1")
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.neuralpoly.export_mesh(filepath=str(tmp_path / "no" / "x.stl"), format="STL")
    assert not (tmp_path / "no").exists()
