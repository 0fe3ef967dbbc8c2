"""Every operator is a thin wrapper: with the same settings it makes the object its API function makes.

One test per object kind (POLYTOPE, SWEEP, LEVELSET, BOOLEAN, HEIGHTMAP): the mesh arrays,
shape keys, keyframes and every stored ``neuralpoly`` property must be the same. Float
settings are values that float32 operator properties hold exactly.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def snapshot(addon, obj) -> dict:
    """What an object is, names aside: mesh arrays, shape keys, keyframes, stored properties."""
    me = obj.data
    V, corners, sizes = addon.blender_mesh.mesh_arrays(me)
    regions = addon.blender_mesh.region_ids(me)
    keys = me.shape_keys
    shapes = []
    if keys is not None:
        for block in keys.key_blocks:
            co = np.empty(len(block.data) * 3, dtype=np.float32)
            block.data.foreach_get("co", co)
            shapes.append((block.name, co.tobytes()))
    return {"vertices": V.tobytes(), "corners": corners.tobytes(), "sizes": sizes.tobytes(),
            "edges": len(me.edges), "regions": None if regions is None else regions.tobytes(),
            "shapes": shapes, "keyframes": keyframes(obj) + ([] if keys is None else keyframes(keys)),
            "location": tuple(obj.location), "props": obj.bl_system_properties_get()["neuralpoly"].to_dict()}


def keyframes(id_data) -> list:
    ad = id_data.animation_data
    if ad is None or ad.action is None:
        return []
    from bpy_extras import anim_utils
    bag = anim_utils.action_get_channelbag_for_slot(ad.action, ad.action_slot)
    return sorted((fc.data_path, fc.array_index, tuple(tuple(k.co) for k in fc.keyframe_points))
                  for fc in bag.fcurves)


def assert_same(addon, by_operator, by_api):
    assert by_operator is not by_api
    a, b = snapshot(addon, by_operator), snapshot(addon, by_api)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key], key


def added_by(operator, **settings) -> bpy.types.Object:
    before = data_counts()["objects"]
    assert operator(**settings) == {"FINISHED"}
    assert data_counts()["objects"] == before + 1
    return bpy.context.active_object


def polytope_file(addon, tmp_path, p: float, name: str):
    core = addon.neuralpoly_core
    net = core.network.polytope_network(3, [np.eye(3)], [p])
    return core.network.modelfile.save_model(net, tmp_path / name, meta={"loss": 0.0})


def test_polytope(addon):
    settings = dict(dim=3, widths="4", p="1", seed=7, restarts=2, steps=0, resolution=16, size=2.0,
                    location=(1.0, 2.0, 3.0))
    by_operator = added_by(bpy.ops.neuralpoly.add_polytope, device="CPU", method="EXACT", **settings)
    by_api = addon.api.add_polytope(device="cpu", method="exact", **settings)
    assert_same(addon, by_operator, by_api)
    assert by_api.neuralpoly.kind == addon.api.Kind.POLYTOPE


def test_polytope_from_a_model_file(addon, tmp_path):
    path = polytope_file(addon, tmp_path, 1.0, "octa.json")
    by_operator = added_by(bpy.ops.neuralpoly.load_model, filepath=str(path), method="RADIAL", resolution=6,
                           location=(0.0, 1.0, 0.0))
    ex = addon.api.ExtractSettings("radial", 6)
    by_api = addon.api.load_model_file(None, path, ex, location=(0.0, 1.0, 0.0))
    assert_same(addon, by_operator, by_api)


def test_sweep(addon, tmp_path):
    parts = [addon.api.load_model_file(None, polytope_file(addon, tmp_path, p, f"p{p}.json"), location=(x, 0, 0))
             for x, p in ((0.0, 1.0), (3.0, 2.0), (6.0, 4.0))]
    for o in parts:
        o.select_set(True)
    settings = dict(frames_per_step=12, size=1.5, location=(0.0, 0.0, 4.0))
    by_operator = added_by(bpy.ops.neuralpoly.animate_sweep, source="SELECTED", sweep_resolution=5, **settings)
    by_api = addon.api.animate_sweep(objects=parts, resolution=5, **settings)
    assert_same(addon, by_operator, by_api)
    assert by_api.neuralpoly.kind == addon.api.Kind.SWEEP and len(by_api.data.shape_keys.key_blocks) == 3


def test_level_set(addon, tmp_path):
    core = addon.neuralpoly_core.network
    c = np.array([0.25, -0.125, 0.5])
    layer = core.Layer(np.vstack([np.eye(3), -np.eye(3)]), np.concatenate([-c, c]), core.Activation("relu"))
    net = core.Network(3, [layer], core.Output("linear", np.ones((1, 6)), np.array([-1.0])))
    path = core.modelfile.save_model(net, tmp_path / "octa.json", meta={"level": 0.5})
    box = ((-2.0, -2.0, -1.5), (2.0, 2.0, 2.5))
    by_operator = added_by(bpy.ops.neuralpoly.load_level_set, filepath=str(path), use_bbox=True,
                           bbox_min=box[0], bbox_max=box[1], levelset_method="EXACT", cap=True,
                           location=(0.0, 0.0, 1.0))
    ls = addon.api.LevelSetSettings(None, box, "exact", 64, True)      # level: the file's
    by_api = addon.api.load_level_set(None, path, ls, location=(0.0, 0.0, 1.0))
    assert_same(addon, by_operator, by_api)
    assert by_api.neuralpoly.level == 0.5 and by_api.neuralpoly.kind == addon.api.Kind.LEVELSET

    bpy.context.view_layer.objects.active = by_operator
    assert bpy.ops.neuralpoly.reextract_level_set(levelset_method="MARCHING", resolution=12) == {"FINISHED"}
    addon.api.reextract_level_set(by_api, method="marching", resolution=12)
    assert_same(addon, by_operator, by_api)


def cube(name: str, location, size: float = 1.0) -> bpy.types.Object:
    bpy.ops.mesh.primitive_cube_add(size=size, location=location)
    obj = bpy.context.active_object
    obj.name = name
    return obj


@pytest.mark.parametrize("mode", ["HARD", "SOFT"])
def test_boolean(addon, mode):
    a = cube("A", (0.0, 0.0, 0.0), 2.0)
    b = cube("B", (1.0, 0.5, 0.25))
    settings = dict(sharpness=4.0, margin=0.25)
    for o in (a, b):
        o.select_set(True)
    bpy.context.view_layer.objects.active = a
    by_operator = added_by(bpy.ops.neuralpoly.boolean, operation="DIFFERENCE", boolean_mode=mode,
                           boolean_resolution=16, **settings)
    by_api = addon.api.add_boolean(objects=[a, b], active=a, operation="difference", mode=mode.lower(),
                                   resolution=16, **settings)
    assert_same(addon, by_operator, by_api)
    assert by_api.neuralpoly.kind == addon.api.Kind.BOOLEAN


def test_heightmap(addon):
    settings = dict(blobs=2, period=20, keyframe_step=5, amplitude=0.25, location=(0.0, 0.0, 0.0))
    by_operator = added_by(bpy.ops.neuralpoly.add_heightmap, blob_seed=3, blob_radius=0.25, blob_sharpness=10.0,
                           heightmap_size=2.0, heightmap_resolution=12, blob_height=0.5, **settings)
    by_api = addon.api.add_heightmap(seed=3, radius=0.25, sharpness=10.0, size=2.0, resolution=12, height=0.5,
                                     **settings)
    assert_same(addon, by_operator, by_api)
    assert by_api.neuralpoly.kind == addon.api.Kind.HEIGHTMAP
