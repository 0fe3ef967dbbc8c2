"""Model files whose network is not a neural polytope: drawn as level sets in a box."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def octahedron_model(addon, centre=(0.2, -0.1, 0.3), radius=1.0):
    """ReLU network with biases: f(x) = |x - c|_1 - radius (linear head with a bias).

    Its level set f = 0 is the octahedron of circumradius ``radius`` around ``c``.
    """
    core = addon.neuralpoly_core.network
    c = np.asarray(centre, dtype=np.float64)
    W = np.vstack([np.eye(3), -np.eye(3)])
    b = np.concatenate([-c, c])
    layer = core.Layer(W, b, core.Activation("relu"))
    return core.Network(3, [layer], core.Output("linear", np.ones((1, 6)), np.array([-radius])))


def save(addon, net, path, meta=None):
    addon.neuralpoly_core.network.modelfile.save_model(net, path, meta)
    return path


def blender_vertices(addon, obj):
    return addon.blender_mesh.mesh_arrays(obj.data)[0]


def polymesh(addon, obj):
    V, corners, sizes = addon.blender_mesh.mesh_arrays(obj.data)
    return addon.neuralpoly_core.mesh.PolyMesh(V, corners, sizes)


def test_relu_model_with_biases_loads_and_extracts_exactly(addon, tmp_path):
    net = octahedron_model(addon)
    assert net.degree is None          # biases: not a neural polytope
    path = save(addon, net, tmp_path / "octa.json", {"bbox": [-2, 2]})
    assert bpy.ops.neuralpoly.load_model(filepath=str(path), location=(1, 2, 3)) == {"FINISHED"}
    obj = bpy.context.active_object
    p = obj.neuralpoly
    assert (p.kind, p.method, p.level) == ("LEVELSET", "exact", 0.0)
    assert tuple(obj.location) == (1.0, 2.0, 3.0)
    assert tuple(p.bbox_min) == (-2.0, -2.0, -2.0) and tuple(p.bbox_max) == (2.0, 2.0, 2.0)
    me = obj.data
    assert (len(me.vertices), len(me.edges), len(me.polygons)) == (6, 12, 8)
    assert p.f_vector == "6, 12, 8" and p.max_level_error < 1e-12      # on the float64 mesh
    assert p.polytope_name == "octahedron"
    V = blender_vertices(addon, obj)
    assert np.max(np.abs(net.evaluate(V))) < 1e-6                        # float32 in Blender
    np.testing.assert_allclose(np.sort(np.abs(V - [0.2, -0.1, 0.3]).sum(axis=1)), np.ones(6), atol=1e-6)
    assert polymesh(addon, obj).volume() == pytest.approx(4.0 / 3.0, rel=1e-6)


def test_level_and_box_as_operator_settings(addon, tmp_path):
    net = octahedron_model(addon, centre=(0, 0, 0))
    path = save(addon, net, tmp_path / "octa.json")
    assert bpy.ops.neuralpoly.load_level_set(filepath=str(path), level=0.5, use_bbox=True,
                                             bbox_min=(-3, -3, -3), bbox_max=(3, 3, 3)) == {"FINISHED"}
    obj = bpy.context.active_object
    # f = 0.5: |x|_1 = 1.5
    V = blender_vertices(addon, obj)
    np.testing.assert_allclose(np.abs(V).sum(axis=1), 1.5, atol=1e-6)
    assert polymesh(addon, obj).volume() == pytest.approx(4.0 / 3.0 * 1.5 ** 3, rel=1e-6)

    # the box cuts the solid: capped, it is closed; uncapped, it is open
    bpy.ops.neuralpoly.reextract_level_set(keep_box=False, bbox_min=(0, -3, -3), bbox_max=(3, 3, 3), cap=True)
    cut = polymesh(addon, obj)
    assert cut.is_closed_manifold() and cut.volume() == pytest.approx(0.5 * 4.0 / 3.0 * 1.5 ** 3, rel=1e-6)
    bpy.ops.neuralpoly.reextract_level_set(cap=False)
    assert not polymesh(addon, obj).is_closed_manifold()
    assert tuple(obj.neuralpoly.bbox_min) == (0.0, -3.0, -3.0)


def test_sigmoid_model_needs_marching_and_reextracts(addon, tmp_path):
    core = addon.neuralpoly_core.network
    rng = np.random.default_rng(3)
    W = rng.normal(size=(8, 3))
    net = core.Network(3, [core.Layer(W, np.full(8, 0.7), core.Activation("sigmoid", scale=2.0))],
                       core.Output("linear", np.ones((1, 8)), np.array([-6.0])))
    path = save(addon, net, tmp_path / "smooth.json", {"level": -0.5, "bbox": [-3, 3]})
    counts = data_counts()
    with pytest.raises(RuntimeError, match="layer 0 has activation sigmoid, which is not piecewise linear"):
        bpy.ops.neuralpoly.load_level_set(filepath=str(path), levelset_method="EXACT")
    assert data_counts() == counts
    assert bpy.ops.neuralpoly.load_model(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    p = obj.neuralpoly
    assert (p.kind, p.method, p.level, p.resolution) == ("LEVELSET", "marching", -0.5, 64)
    assert p.max_level_error < 1e-8
    n64 = len(obj.data.polygons)
    # the add-on's generic re-extract and the level-set one both rebuild it
    assert bpy.ops.neuralpoly.reextract(resolution=24) == {"FINISHED"}
    assert obj.neuralpoly.resolution == 24 and 0 < len(obj.data.polygons) < n64
    with pytest.raises(RuntimeError, match="Auto, Exact or Marching"):
        bpy.ops.neuralpoly.reextract(method="RADIAL")
    assert bpy.ops.neuralpoly.reextract_level_set(level=-1.0, resolution=32) == {"FINISHED"}
    V = blender_vertices(addon, obj)
    assert obj.neuralpoly.level == -1.0 and np.max(np.abs(net.evaluate(V) + 1.0)) < 1e-5
    assert len(bpy.data.meshes) == 1


def test_level_set_survives_save_and_reload(addon, tmp_path):
    net = octahedron_model(addon)
    path = save(addon, net, tmp_path / "octa.json", {"bbox": [-2, 2], "level": 0.25})
    addon.api.load_model_file(None, path)
    blend = tmp_path / "levelset.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    path.unlink()                                   # the model file is not needed any more
    bpy.ops.wm.read_homefile(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    (obj,) = [o for o in bpy.data.objects if o.neuralpoly.kind == "LEVELSET"]
    assert obj.neuralpoly.level == 0.25
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.neuralpoly.reextract_level_set(level=0.5) == {"FINISHED"}
    V = blender_vertices(addon, obj)
    np.testing.assert_allclose(np.abs(V - [0.2, -0.1, 0.3]).sum(axis=1), 1.5, atol=1e-6)


def test_level_outside_the_box_is_refused(addon, tmp_path):
    path = save(addon, octahedron_model(addon), tmp_path / "octa.json")
    counts = data_counts()
    with pytest.raises(RuntimeError, match="does not cross the box"):
        bpy.ops.neuralpoly.load_level_set(filepath=str(path), level=50.0)
    assert data_counts() == counts


def test_two_dimensional_model_is_a_curve(addon, tmp_path):
    core = addon.neuralpoly_core.network
    W = np.vstack([np.eye(2), -np.eye(2)])
    net = core.Network(2, [core.Layer(W, np.zeros(4) + 0.0, core.Activation("relu"))],
                       core.Output("linear", np.ones((1, 4)), np.array([-1.0])))
    path = save(addon, net, tmp_path / "diamond.json", {"bbox": [-2, 2]})
    bpy.ops.neuralpoly.load_model(filepath=str(path))
    obj = bpy.context.active_object
    me = obj.data
    assert len(me.polygons) == 0 and len(me.edges) == len(me.vertices) == 4   # the diamond |x|_1 = 1
    assert obj.neuralpoly.polytope_name == "square"
    V = blender_vertices(addon, obj)
    np.testing.assert_allclose(np.abs(V[:, :2]).sum(axis=1), 1.0, atol=1e-6)
    assert np.all(V[:, 2] == 0.0)
