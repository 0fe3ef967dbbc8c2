"""What objects store in .blend files is a format: names and values read back after a save and reload.

``Object.neuralpoly`` is saved as ID properties. Their names, and the numbers Blender saves
for the ``kind`` enum, must never change, or files made today would read back wrong.
"""

from __future__ import annotations

import importlib

import bpy
import numpy as np
import pytest

#: Every property of ``Object.neuralpoly``, as saved in .blend files.
STORED_NAMES = {
    "kind", "model_json", "arch_type", "dim", "loss", "polytope_name", "method", "resolution", "slice_theta",
    "size", "f_vector", "face_sizes", "max_level_error", "regions", "frame_start", "frames_per_step", "level",
    "bbox_min", "bbox_max", "cap", "source_json", "operation", "boolean_mode", "sharpness", "biases",
    "vertex_budget", "min_region_area",
}
#: The number Blender saves for each kind (the enum item's number).
KIND_NUMBERS = {"NONE": 0, "POLYTOPE": 1, "SWEEP": 2, "LEVELSET": 3, "BOOLEAN": 4, "HEIGHTMAP": 5,
                "LOWPOLY": 6}


def read_back(obj) -> dict:
    """Every stored property as plain values, read through the add-on's properties."""
    p = obj.neuralpoly
    out = {}
    for name in STORED_NAMES:
        value = getattr(p, name)
        if name == "biases":
            value = [b.value for b in value]
        elif not isinstance(value, (str, int, float, bool)):
            value = tuple(value)
        out[name] = value
    return out


def one_of_each_kind(addon, tmp_path) -> dict[str, bpy.types.Object]:
    core = addon.neuralpoly_core.network
    octa = core.polytope_network(3, [np.eye(3)], [1.0])
    path = core.modelfile.save_model(octa, tmp_path / "octa.json", meta={"type": "(3;1)", "loss": 0.001})
    objs = {"POLYTOPE": addon.api.load_model_file(None, path)}
    models = [(core.polytope_network(2, [np.eye(2)], [p]), {"type": f"(2;{p:g})"}) for p in (1.0, 3.0)]
    objs["SWEEP"] = addon.api.animate_sweep(models=models, resolution=8)
    c = np.array([0.25, 0.0, 0.0])
    relu = core.Network(3, [core.Layer(np.vstack([np.eye(3), -np.eye(3)]), np.concatenate([-c, c]),
                                       core.Activation("relu"))],
                        core.Output("linear", np.ones((1, 6)), np.array([-1.0])))
    objs["LEVELSET"] = addon.api.insert_level_set(None, relu, {}, addon.api.LevelSetSettings(0.25, (-2.0, 2.0)))
    cubes = []
    for x in (0.0, 0.75):
        bpy.ops.mesh.primitive_cube_add(location=(x, 0.0, 0.0))
        cubes.append(bpy.context.active_object)
    objs["BOOLEAN"] = addon.api.add_boolean(objects=cubes, active=cubes[0], operation="union")
    objs["HEIGHTMAP"] = addon.api.add_heightmap(blobs=2, resolution=8, period=10)
    bpy.ops.mesh.primitive_cube_add(location=(0.0, 3.0, 0.0))
    objs["LOWPOLY"] = addon.api.add_lowpoly(None, bpy.context.active_object,
                                            addon.api.LowPolySettings("relu:1x8", seconds=1.0, samples=2000))
    return objs


def test_objects_made_today_read_back_after_save_and_reload(addon, tmp_path):
    assert {p.identifier for p in addon.model_store.NeuralPolyObjectProperties.bl_rna.properties} \
        - {"rna_type", "name"} == STORED_NAMES
    assert [(k.value, i) for i, k in enumerate(addon.model_store.Kind)] == list(KIND_NUMBERS.items())
    objs = one_of_each_kind(addon, tmp_path)
    names = {kind: obj.name for kind, obj in objs.items()}
    before = {kind: read_back(obj) for kind, obj in objs.items()}
    raw_before = {kind: obj.bl_system_properties_get()["neuralpoly"].to_dict() for kind, obj in objs.items()}
    for kind, raw in raw_before.items():
        assert raw["kind"] == KIND_NUMBERS[kind] and set(raw) <= STORED_NAMES
        assert before[kind]["kind"] == kind and before[kind]["model_json"]
    blend = tmp_path / "kinds.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    for kind, name in names.items():
        obj = bpy.data.objects[name]
        assert obj.bl_system_properties_get()["neuralpoly"].to_dict() == raw_before[kind]
        assert read_back(obj) == before[kind]
        assert addon.model_store.kind_of(obj) == addon.model_store.Kind[kind] == kind
    # and they still re-extract from what they stored
    bpy.context.view_layer.objects.active = bpy.data.objects[names["LEVELSET"]]
    assert bpy.ops.neuralpoly.reextract_level_set(level=0.5) == {"FINISHED"}
    lowpoly = bpy.data.objects[names["LOWPOLY"]]
    placement = addon.model_store.load_placement(lowpoly)
    assert tuple(lowpoly.scale) == pytest.approx((placement.scale,) * 3)
    bpy.context.view_layer.objects.active = lowpoly
    assert bpy.ops.neuralpoly.reextract_level_set(levelset_method="MARCHING", resolution=8) == {"FINISHED"}
    assert lowpoly.neuralpoly.method == "marching" and addon.model_store.load_placement(lowpoly) == placement


def test_load_model_file_and_the_cli_agree_on_what_a_neural_polytope_is(addon, tmp_path, capsys):
    """Network.is_neural_polytope is the one rule: a sum-head |x| network is a polytope for both;
    a bias-free ReLU network with a linear head is a level set in a box for both."""
    core = addon.neuralpoly_core
    octa = core.network.polytope_network(3, [np.eye(3)], [1.0])
    relu_linear = core.network.Network(3, [core.network.Layer(np.vstack([np.eye(3), -np.eye(3)]), None,
                                                              core.network.Activation("relu"))],
                                       core.network.Output("linear", np.ones((1, 6))))
    assert relu_linear.degree == 1.0 and octa.is_neural_polytope and not relu_linear.is_neural_polytope
    for net, name, kind in ((octa, "octa.json", "POLYTOPE"), (relu_linear, "relu.json", "LEVELSET")):
        path = core.network.modelfile.save_model(net, tmp_path / name, meta={"bbox": [-2, 2], "level": 1.0})
        assert bpy.ops.neuralpoly.load_model(filepath=str(path)) == {"FINISHED"}
        obj = bpy.context.active_object
        assert obj.neuralpoly.kind == kind and obj.neuralpoly.f_vector == "6, 12, 8"
        code = importlib.import_module(f"{core.__name__}.cli").main(["extract", str(path), "--json"])
        err = capsys.readouterr().err
        if kind == "POLYTOPE":
            assert code == 0, err
        else:   # the CLI, too, wants a box for it
            assert code == 2 and "give --bbox LO HI" in err
    with pytest.raises(core.errors.ExtractionError, match="not a neural polytope"):
        addon.api.insert_polytope(None, relu_linear, {})
