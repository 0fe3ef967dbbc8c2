"""Hostile input in Blender: the add-on's operators refuse bad files and bad property values
with an error report, and leave the scene exactly as it was (objects, meshes, materials).

The twin of ``tests/test_hostile.py`` (which walks the CLI and the Python API).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import bpy
import numpy as np
import pytest

DEEP = 100_000
HOSTILE_JSON = {   # file content -> what the message must name
    "deep.json": ("[" * DEEP + "]" * DEEP, "nested more than 64 levels"),
    "nan.json": ('{"format": "neuralpoly.model", "version": 1, "dim": NaN}', "NaN"),
    "inf.json": ('{"format": "neuralpoly.model", "version": 1, "dim": 3, "x": Infinity}', "Infinity"),
    "empty.json": ("", "empty"),
    "latin1.json": (None, "not UTF-8"),
    "truncated.json": ('{"format": "neuralpoly.model", "layers": [', "not valid JSON"),
    "list.json": ("[1, 2]", "model"),
}
SPECIAL = {"fifo": "FIFO", "folder": "folder", "missing": "does not exist", "dev_zero": "device",
           "oversize": "over the limit"}


def scene_state() -> dict:
    """Everything a failed operator must leave as it was."""
    state = {kind: sorted(b.name for b in getattr(bpy.data, kind)) for kind in
             ("objects", "meshes", "materials", "collections", "curves", "actions", "node_groups")}
    state["geometry"] = {o.name: (tuple(o.location), tuple(o.scale), len(o.data.vertices), len(o.data.polygons),
                                  o.data.name) for o in bpy.data.objects if o.type == "MESH"}
    state["active"] = bpy.context.view_layer.objects.active.name if bpy.context.view_layer.objects.active else None
    state["selected"] = sorted(o.name for o in bpy.context.selected_objects)
    return state


def hostile_path(folder: Path, name: str) -> Path:
    if name == "dev_zero":
        return Path("/dev/zero")
    path = folder / (name if name.endswith(".json") else name + ".json")
    if name == "fifo":
        os.mkfifo(path)
    elif name == "folder":
        path.mkdir()
    elif name == "oversize":
        with open(path, "wb") as fh:
            fh.truncate((2 << 30) + 1)
    elif name == "latin1.json":
        path.write_bytes('{"format": "neuralpoly.model", "name": "caf\xe9"}'.encode("latin-1"))
    elif name != "missing":
        path.write_text(HOSTILE_JSON[name][0])
    return path


@pytest.fixture()
def populated(addon):
    """A scene with a polytope, a cube with a material, and the polytope active."""
    bpy.ops.mesh.primitive_cube_add(location=(4, 0, 0))
    bpy.context.active_object.data.materials.append(bpy.data.materials.new("Red"))
    obj = addon.api.add_polytope(dim=3, widths="3", p="1", seed=0)
    bpy.context.view_layer.objects.active = obj
    return obj


def refused(op, fragment: str, **props) -> str:
    before = scene_state()
    with pytest.raises(RuntimeError) as info:
        op(**props)
    message = str(info.value)
    assert fragment in message, message
    assert "Traceback" not in message
    assert scene_state() == before
    return message


@pytest.mark.parametrize("operator", ["load_model", "load_level_set"])
@pytest.mark.parametrize("name", list(HOSTILE_JSON) + list(SPECIAL))
def test_loading_hostile_model_files_reports_and_changes_nothing(populated, tmp_path, operator, name):
    path = hostile_path(tmp_path, name)
    fragment = HOSTILE_JSON[name][1] if name in HOSTILE_JSON else SPECIAL[name]
    message = refused(getattr(bpy.ops.neuralpoly, operator), fragment, filepath=str(path))
    assert path.name in message


@pytest.mark.parametrize("props, fragment", [
    (dict(widths="x"), "width"),
    (dict(widths=""), "width"),
    (dict(widths="0"), "width"),
    (dict(widths="-2"), "width"),
    (dict(widths="4,,2"), "width"),
    (dict(widths="20000"), "would need about"),
    (dict(widths="4", restarts=100_000_000), "would need about"),
    (dict(p="nan"), "p"),
    (dict(p="inf"), "p"),
    (dict(p="-1"), "p"),
    (dict(p="0"), "p"),
    (dict(p="1,1,1"), "p"),
    (dict(dim=0), "dim"),
    (dict(dim=1), "dim"),
    (dict(dim=-5), "dim"),
    (dict(restarts=0), "restarts"),
    (dict(restarts=-1), "restarts"),
    (dict(steps=-1), "steps"),
    (dict(seed=-1), "seed"),
    (dict(p="2", method="RADIAL", resolution=0), "resolution"),
    (dict(p="2", method="RADIAL", resolution=-3), "resolution"),
    (dict(p="2", method="RADIAL", resolution=2_000_000), "lower the resolution"),
    (dict(p="2", method="EXACT"), "exact extraction needs p = 1"),
    (dict(size=0.0), "size"),
    (dict(size=-1.0), "size"),
    (dict(size=float("nan")), "size"),
    (dict(dim=4, use_slice=True, slice_theta=float("nan")), "slice angle must be finite"),
])
def test_add_polytope_with_bad_values_reports_and_changes_nothing(populated, props, fragment):
    settings = dict(dim=3, widths="3", p="1", seed=0)
    settings.update(props)
    refused(bpy.ops.neuralpoly.add_polytope, fragment, **settings)


@pytest.mark.parametrize("props, fragment", [
    (dict(method="RADIAL", resolution=0), "resolution"),
    (dict(method="RADIAL", resolution=2_000_000), "lower the resolution"),
    (dict(size=float("nan")), "size"),
    (dict(size=-2.0), "size"),
])
def test_reextract_with_bad_values_reports_and_changes_nothing(populated, props, fragment):
    refused(bpy.ops.neuralpoly.reextract, fragment, **props)


def test_damaged_stored_model_reports_and_changes_nothing(populated):
    populated.neuralpoly.model_json = "[" * DEEP + "]" * DEEP
    refused(bpy.ops.neuralpoly.reextract, "nested more than 64 levels", method="EXACT")
    populated.neuralpoly.model_json = json.dumps({"format": "neuralpoly.model", "dim": float("nan")})
    refused(bpy.ops.neuralpoly.reextract, "NaN", method="EXACT")


def test_boolean_with_bad_values_reports_and_changes_nothing(addon):
    bpy.ops.mesh.primitive_cube_add(location=(0, 0, 0))
    bpy.ops.mesh.primitive_cube_add(location=(0.5, 0, 0))
    for o in bpy.data.objects:
        o.select_set(True)
    for props, fragment in [(dict(boolean_mode="SOFT", boolean_resolution=0), "resolution"),
                            (dict(boolean_mode="SOFT", boolean_resolution=100_000), "resolution"),
                            (dict(boolean_mode="SOFT", sharpness=float("nan")), "sharpness"),
                            (dict(boolean_mode="SOFT", sharpness=-1.0), "sharpness"),
                            (dict(margin=float("nan")), "margin"),
                            (dict(margin=-5.0), "margin")]:
        refused(bpy.ops.neuralpoly.boolean, fragment, **props)


def test_saving_a_model_to_bad_places_reports_and_leaves_files(populated, tmp_path):
    (tmp_path / "old.json").write_text("old")
    refused(bpy.ops.neuralpoly.save_model, "does not exist", filepath=str(tmp_path / "no" / "m.json"))
    os.mkfifo(tmp_path / "pipe.json")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(RuntimeError):
        bpy.ops.neuralpoly.export_mesh(filepath=str(tmp_path / "no" / "x.obj"), format="OBJ")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "old.json").read_text() == "old"
    assert np.all([not p.name.endswith(".tmp") for p in tmp_path.iterdir()])


@pytest.mark.parametrize("props, fragment", [
    (dict(level=float("nan")), "level"),
    (dict(level=float("inf")), "level"),
    (dict(use_bbox=True, bbox_min=(1.0, 1.0, 1.0), bbox_max=(-1.0, -1.0, -1.0)), "box"),
    (dict(use_bbox=True, bbox_min=(float("nan"), 0.0, 0.0)), "box"),
    (dict(levelset_method="MARCHING", grid_resolution=0), "resolution"),
    (dict(levelset_method="MARCHING", grid_resolution=100_000), "resolution"),
])
def test_load_level_set_with_bad_values_reports_and_changes_nothing(populated, tmp_path, props, fragment):
    from neuralpoly_core.network.model import polytope_network
    from neuralpoly_core.network.modelfile import save_model
    path = save_model(polytope_network(3, [np.eye(3)], [1]), tmp_path / "octahedron.json")
    refused(bpy.ops.neuralpoly.load_level_set, fragment, filepath=str(path), **props)


@pytest.mark.parametrize("props, fragment", [
    (dict(blobs=0), "blobs"),
    (dict(blobs=-3), "blobs"),
    (dict(blobs=100_000_000), "blobs"),
    (dict(blob_radius=0.0), "radius"),
    (dict(blob_radius=float("nan")), "radius"),
    (dict(heightmap_size=-1.0), "size"),
    (dict(heightmap_resolution=0), "resolution"),
    (dict(heightmap_resolution=10_000_000), "resolution"),
    (dict(blob_height=float("nan")), "height"),     # (Blender clamps inf to FLT_MAX itself)
    (dict(period=0), "period"),
    (dict(keyframe_step=0), "key"),
])
def test_add_heightmap_with_bad_values_reports_and_changes_nothing(populated, props, fragment):
    refused(bpy.ops.neuralpoly.add_heightmap, fragment, **props)
