"""Space folding in Blender: Measure Space Folding and Re-measure equal the core's numbers."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def cantor_level_set(addon, k=3, location=(0.0, 0.0, 0.0)):
    """CantorNet as a level-set object (2 inputs, exact), in the box [0, 1]^2."""
    net = addon.neuralpoly_core.construct.cantor.cantor_network(k)
    ls = addon.api.LevelSetSettings(level=0.0, bbox=(0.0, 1.0), method="exact")
    return addon.api.insert_level_set(bpy.context, net, {"type": f"cantor{k}"}, ls, location=location), net


def stored_model_object(addon, net, name="Model"):
    """A mesh object that remembers ``net`` as a level set (for models no extraction would take)."""
    me = bpy.data.meshes.new(name)
    obj = bpy.data.objects.new(name, me)
    bpy.context.collection.objects.link(obj)
    addon.model_store.store_model(obj, net, {}, kind=addon.model_store.Kind.LEVELSET)
    bpy.context.view_layer.objects.active = obj
    return obj


def relu3(addon, seed=0):
    core = addon.neuralpoly_core.network
    rng = np.random.default_rng(seed)
    relu = core.Activation("relu")
    return core.Network(3, [core.Layer(rng.normal(size=(8, 3)), rng.normal(size=8) * 0.3, relu),
                            core.Layer(rng.normal(size=(8, 8)) / 2, rng.normal(size=8) * 0.3, relu)],
                        core.Output("linear", rng.normal(size=(1, 8)), np.zeros(1)))


def vertex_attribute(me, name, width=1):
    attr = me.attributes[name]
    out = np.empty(len(me.vertices) * width, dtype=np.float32)
    attr.data.foreach_get("color" if width == 4 else "value", out)
    return out.reshape(-1, width) if width > 1 else out


def path_vertices(me):
    co = np.empty(len(me.vertices) * 3, dtype=np.float32)
    me.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def assert_path_equals_core(addon, path, net, x1, x2, samples=None):
    g = addon.neuralpoly_core.folding.scene_path(net, x1, x2, samples=samples)
    f = path.neuralpoly_folding
    assert (f.r1, f.r2, f.regions) == (g["r1"], g["r2"], g["regions"])
    assert f.chi == pytest.approx(g["chi"], abs=1e-7) and f.chi_reverse == pytest.approx(g["chi_reverse"], abs=1e-7)
    assert f.d_chi == pytest.approx(g["d_chi"], abs=1e-7)
    me = path.data
    assert len(me.vertices) == g["regions"] + 1 and len(me.edges) == g["regions"]
    np.testing.assert_allclose(path_vertices(me), g["vertices3d"], atol=1e-6)
    assert vertex_attribute(me, "hamming").tolist() == g["hamming"].tolist()
    np.testing.assert_allclose(vertex_attribute(me, "hamming_color", 4), g["colors"], atol=1e-7)
    edges = np.empty(len(me.edges) * 2, dtype=np.int32)
    me.edges.foreach_get("vertices", edges)
    assert edges.reshape(-1, 2).tolist() == [[i, i + 1] for i in range(g["regions"])]
    return g


def test_measure_a_2d_model_equals_the_core_and_lies_at_z_0(addon):
    model, net = cantor_level_set(addon, 3)
    before = data_counts()
    assert bpy.ops.neuralpoly.measure_folding(start=(0.0, 0.5, 4.0), end=(1.0, 0.5, -2.0)) == {"FINISHED"}
    after = data_counts()
    assert after["objects"] == before["objects"] + 3 and after["meshes"] == before["meshes"] + 1
    path = bpy.context.active_object
    f = path.neuralpoly_folding
    assert f.model == model and f.start.type == "EMPTY" and f.end.type == "EMPTY" and f.method == "exact"
    assert tuple(f.start.location) == (0.0, 0.5, 0.0) and tuple(f.end.location) == (1.0, 0.5, 0.0)
    g = assert_path_equals_core(addon, path, net, (0.0, 0.5, 0.0), (1.0, 0.5, 0.0))
    assert (g["r1"], g["r2"]) == (6, 14) and f.chi == pytest.approx(4 / 7)      # CantorNet k = 3
    assert np.all(path_vertices(path.data)[:, 2] == 0.0)
    assert path.data.materials[0].name == addon.folding_objects.MATERIAL_NAME
    assert path.data.color_attributes.active_color.name == "hamming_color"


def test_moving_an_empty_and_re_measuring_gives_the_core_value_of_the_new_segment(addon):
    model, net = cantor_level_set(addon, 2)
    assert bpy.ops.neuralpoly.measure_folding(start=(0.0, 0.5, 0.0), end=(1.0, 0.5, 0.0)) == {"FINISHED"}
    path = bpy.context.active_object
    f = path.neuralpoly_folding
    f.auto_update = False
    first = (f.r1, f.r2)
    f.end.location = (0.5, 0.5, 3.0)                 # z of a 2-D model is ignored
    bpy.context.view_layer.update()
    assert (f.r1, f.r2) == first                     # no auto update: unchanged until re-measured
    assert bpy.ops.neuralpoly.remeasure_folding() == {"FINISHED"}
    g = assert_path_equals_core(addon, path, net, (0.0, 0.5, 0.0), (0.5, 0.5, 0.0))
    assert (g["r1"], g["r2"]) != first
    # re-measure from an empty as the active object, after moving the start
    f.start.location = (0.25, 0.2, 0.0)
    bpy.context.view_layer.objects.active = f.start
    assert bpy.ops.neuralpoly.remeasure_folding() == {"FINISHED"}
    assert_path_equals_core(addon, path, net, (0.25, 0.2, 0.0), (0.5, 0.5, 0.0))


def test_auto_update_re_measures_when_an_empty_moves(addon):
    model = stored_model_object(addon, relu3(addon))
    model.location = (2.0, 0.0, 1.0)                 # the network sees model-space coordinates
    net = relu3(addon)
    assert bpy.ops.neuralpoly.measure_folding(start=(-1.0, -1.0, -1.0), end=(1.0, 1.0, 1.0)) == {"FINISHED"}
    path = bpy.context.active_object
    f = path.neuralpoly_folding
    assert tuple(f.start.location) == (1.0, -1.0, 0.0)
    assert_path_equals_core(addon, path, net, (-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))
    f.end.location = (3.0, 1.0, 0.0)                 # model space (1, 1, -1)
    bpy.context.view_layer.update()                  # the depsgraph handler re-measures
    assert_path_equals_core(addon, path, net, (-1.0, -1.0, -1.0), (1.0, 1.0, -1.0))
    assert tuple(path.matrix_world.translation) == (2.0, 0.0, 1.0)


def test_sampled_method_and_the_panel_numbers(addon):
    cantor_level_set(addon, 4)
    assert bpy.ops.neuralpoly.measure_folding(start=(0.0, 0.5, 0.0), end=(1.0, 0.5, 0.0), samples=20) == {"FINISHED"}
    path = bpy.context.active_object
    f = path.neuralpoly_folding
    net = addon.neuralpoly_core.construct.cantor.cantor_network(4)
    g = assert_path_equals_core(addon, path, net, (0.0, 0.5, 0.0), (1.0, 0.5, 0.0), samples=20)
    assert f.method == "sampled" and f.samples == 20 and g["regions"] < 31       # exact: 31 regions
    assert addon.folding_operators.NEURALPOLY_PT_folding.poll(bpy.context)


def five_input_model(addon):
    core = addon.neuralpoly_core.network
    return core.Network(5, [core.Layer(np.eye(5), None, core.Activation("relu"))])


def sigmoid_model(addon):
    core = addon.neuralpoly_core.network
    return core.Network(2, [core.Layer(np.eye(2), np.array([0.1, -0.2]), core.Activation("sigmoid", scale=1.0))])


@pytest.mark.parametrize("make, settings, fragment", [
    (five_input_model, {}, "2 or 3 inputs"),
    (sigmoid_model, {}, "not piecewise linear"),
    (lambda addon: relu3(addon), {"start": (0.5, 0.5, 0.5), "end": (0.5, 0.5, 0.5)}, "equal end points"),
    (lambda addon: relu3(addon), {"samples": 1}, "samples"),
])
def test_bad_input_changes_nothing(addon, make, settings, fragment):
    model = stored_model_object(addon, make(addon))
    before = data_counts()
    with pytest.raises(RuntimeError, match=fragment):
        bpy.ops.neuralpoly.measure_folding(**settings)
    assert data_counts() == before and bpy.context.active_object == model
    assert len(bpy.data.materials) == 0


def test_a_re_measure_that_fails_leaves_the_path_as_it_was(addon):
    cantor_level_set(addon, 2)
    assert bpy.ops.neuralpoly.measure_folding(start=(0.0, 0.5, 0.0), end=(1.0, 0.5, 0.0)) == {"FINISHED"}
    path = bpy.context.active_object
    f = path.neuralpoly_folding
    f.auto_update = False
    mesh, numbers = path.data, (f.r1, f.r2, f.chi)
    f.end.location = (0.0, 0.5, 2.0)                 # the same 2-D point as the start
    before = data_counts()
    with pytest.raises(RuntimeError, match="equal end points"):
        bpy.ops.neuralpoly.remeasure_folding()
    assert path.data == mesh and (f.r1, f.r2, f.chi) == numbers and data_counts() == before
    f.auto_update = True                             # the handler keeps the result and says why
    f.start.location = (0.0, 0.5, 1.0)
    bpy.context.view_layer.update()
    assert path.data == mesh and "equal end points" in f.error


class Recorder:
    """Stands in for UILayout (headless Blender draws no UI): records labels, props and operators."""

    def __init__(self, log):
        self.log = log

    def column(self, **kwargs):
        return self

    def label(self, text="", icon="NONE"):
        self.log.append(("label", text))

    def prop(self, data, name, **kwargs):
        assert name in data.bl_rna.properties, f"{data!r} has no property {name!r}"
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        module, name = idname.split(".")
        getattr(getattr(bpy.ops, module), name).get_rna_type()      # a real operator
        self.log.append(("operator", idname))


def panel_log(addon):
    from types import SimpleNamespace
    log: list = []
    addon.folding_operators.NEURALPOLY_PT_folding.draw(SimpleNamespace(layout=Recorder(log)), bpy.context)
    return log


def test_the_panel_shows_the_measures_of_the_active_path_or_its_empties(addon):
    model, _ = cantor_level_set(addon, 3)
    panel = addon.folding_operators.NEURALPOLY_PT_folding
    assert panel.poll(bpy.context) and panel_log(addon) == [("operator", "neuralpoly.measure_folding")]
    assert bpy.ops.neuralpoly.measure_folding(start=(0.0, 0.5, 0.0), end=(1.0, 0.5, 0.0)) == {"FINISHED"}
    path = bpy.context.active_object
    for active in (path, path.neuralpoly_folding.end):
        bpy.context.view_layer.objects.active = active
        log = panel_log(addon)
        texts = [e[1] for e in log if e[0] == "label"]
        assert "chi = 0.5714   chi(-G) = 0.5714" in texts and "d_chi = 0.5714" in texts
        assert "r1 = 6   r2 = 14   regions = 15" in texts and f"Model: {model.name}, exact" in texts
        assert ("prop", "auto_update") in log and ("operator", "neuralpoly.remeasure_folding") in log
    bpy.context.view_layer.objects.active = None
    assert not panel.poll(bpy.context)
    stored_model_object(addon, five_input_model(addon))
    assert panel.poll(bpy.context)
    assert panel_log(addon) == [("label", "Paths are drawn for models with 2 or 3 inputs (this one: 5)")]


def test_the_operator_makes_what_the_api_makes(addon):
    """End points that float32 operator properties hold exactly."""
    model, net = cantor_level_set(addon, 2)
    assert bpy.ops.neuralpoly.measure_folding(start=(0.125, 0.375, 0.0), end=(0.875, 0.625, 0.0), samples=0) == {"FINISHED"}
    by_op = bpy.context.active_object
    by_api = addon.api.measure_folding(bpy.context, model, (0.125, 0.375, 0.0), (0.875, 0.625, 0.0))
    assert by_api is not by_op and bpy.context.active_object == by_api
    a, b = by_op.neuralpoly_folding, by_api.neuralpoly_folding
    for name in ("chi", "chi_reverse", "d_chi", "r1", "r2", "regions", "method", "samples"):
        assert getattr(a, name) == getattr(b, name), name
    assert tuple(a.x1) == tuple(b.x1) and tuple(a.x2) == tuple(b.x2)
    assert path_vertices(by_op.data).tobytes() == path_vertices(by_api.data).tobytes()
    assert addon.api.remeasure_folding(by_api) == by_api


def test_the_api_takes_2d_points_for_a_2d_model_and_refuses_bad_points(addon):
    model, net = cantor_level_set(addon, 2)
    path = addon.api.measure_folding(bpy.context, model, (0.0, 0.5), (1.0, 0.5))
    assert_path_equals_core(addon, path, net, (0.0, 0.5, 0.0), (1.0, 0.5, 0.0))
    before = data_counts()
    for bad, fragment in (((0, 0, 0, 0), "3 coordinates"), (("a", "b", "c"), "must be numbers")):
        with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match=fragment):
            addon.api.measure_folding(bpy.context, model, bad, (1.0, 0.5, 0.0))
    assert data_counts() == before


def test_unregister_removes_the_handler_and_the_property(addon):
    fo = addon.folding_objects
    handlers = bpy.app.handlers.depsgraph_update_post
    count = len(handlers)
    fo.unregister()
    try:
        assert len(handlers) == count - 1 and not hasattr(bpy.types.Object, "neuralpoly_folding")
    finally:
        fo.register()
    assert len(handlers) == count and hasattr(bpy.types.Object, "neuralpoly_folding")
