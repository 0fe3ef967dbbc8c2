"""Paper presets: whole figures in a labelled row, and p-sweeps as shape-key animations."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts


def test_figure_2_lays_out_regular_2n_gons_in_a_labelled_row(addon):
    bpy.context.scene.cursor.location = (0.0, 5.0, 0.0)
    assert bpy.ops.neuralpoly.add_figure(figure="2", seed=0) == {"FINISHED"}
    coll = bpy.data.collections["Fig. 2: " + addon.neuralpoly_core.sweeps.figures.FIGURE_CAPTIONS[2]]
    polys = sorted((o for o in coll.objects if o.type == "MESH"), key=lambda o: o.location.x)
    labels = [o for o in coll.objects if o.type == "FONT"]
    assert [o.name for o in polys] == [f"NeuralPolytope ({n};1)" for n in range(2, 8)]
    for n, obj in zip(range(2, 8), polys):
        me = obj.data
        assert (len(me.vertices), len(me.edges), len(me.polygons)) == (2 * n, 2 * n, 1)
        assert obj.location.y == pytest.approx(5.0)
    xs = [o.location.x for o in polys]
    assert xs[0] == pytest.approx(0.0) and all(b - a > 2.0 for a, b in zip(xs, xs[1:]))
    assert len(labels) == 6
    by_parent = {label.parent.name: label.data.body for label in labels}
    assert by_parent["NeuralPolytope (4;1)"].startswith("(4;1)")
    assert sorted(bpy.context.selected_objects, key=lambda o: o.name) == sorted(polys, key=lambda o: o.name)


def test_sweep_figure_6_morphs_one_polygon_through_every_p(addon):
    bpy.context.scene.frame_start = 1
    bpy.context.scene.frame_end = 10
    assert bpy.ops.neuralpoly.animate_sweep(source="FIGURE", sweep_figure="6", sweep_resolution=64,
                                            frames_per_step=12) == {"FINISHED"}
    obj = bpy.context.active_object
    ps = addon.neuralpoly_core.sweeps.figures.P_SWEEP_2D
    keys = obj.data.shape_keys
    assert [k.name for k in keys.key_blocks] == [f"p={p:g}" for p in ps]
    assert not keys.use_relative
    assert obj.neuralpoly.kind == "SWEEP" and obj.neuralpoly.arch_type == "(2;p), p = 0.8 \u2026 10"
    assert len(obj.data.polygons) == 1 and len(obj.data.vertices) == 64
    end = 1 + (len(ps) - 1) * 12
    assert bpy.context.scene.frame_end == end

    # every key lies on the level set of its own network
    models = addon.model_store.load_sweep(obj)
    for key, (net, _) in zip(keys.key_blocks, sorted(models, key=lambda m: m[0].degree)):
        co = np.empty(len(key.data) * 3, dtype=np.float32)
        key.data.foreach_get("co", co)
        V = co.reshape(-1, 3)
        assert np.all(V[:, 2] == 0)
        assert np.abs(net(V[:, :2].astype(np.float64)) - 1.0).max() < 1e-5

    # eval_time runs linearly through the keys: frame 1 -> key 0, last frame -> last key
    scene = bpy.context.scene
    for frame, expected in [(1, 0.0), (1 + 12 * 3, 30.0), (1 + 12 * 3 + 6, 35.0), (end, 10.0 * (len(ps) - 1))]:
        scene.frame_set(frame)
        assert keys.eval_time == pytest.approx(expected)


def test_sweep_from_selected_figure_objects_reuses_their_models(addon, monkeypatch):
    bpy.ops.neuralpoly.add_figure(figure="7", seed=0, method="RADIAL", resolution=3)
    selected = list(bpy.context.selected_objects)
    assert len(selected) == 10
    monkeypatch.setattr(addon.trainer, "start", lambda *a, **k: pytest.fail("a sweep from objects trained"))
    assert bpy.ops.neuralpoly.animate_sweep(source="SELECTED", sweep_resolution=4) == {"FINISHED"}
    obj = bpy.context.active_object
    keys = obj.data.shape_keys.key_blocks
    assert [k.name for k in keys][:4] == ["p=0.6", "p=0.8", "p=0.9", "p=1"]
    assert len(keys) == 10
    assert len(obj.data.polygons) == 20 * 4 ** 2
    # through the sphere: the p = 2 key is round (all radii equal up to the training error)
    co = np.empty(len(keys["p=2"].data) * 3, dtype=np.float32)
    keys["p=2"].data.foreach_get("co", co)
    r = np.linalg.norm(co.reshape(-1, 3), axis=1)
    assert r.max() / r.min() < 1.05
    # re-extracting a sweep rebuilds every key at the new resolution
    bpy.ops.neuralpoly.reextract(resolution=5)
    assert len(obj.data.polygons) == 20 * 5 ** 2 and len(obj.data.shape_keys.key_blocks) == 10


def test_sweep_needs_a_sweep(addon):
    addon.api.add_polytope(dim=3, widths="3", p="1")
    before = data_counts()
    with pytest.raises(RuntimeError, match="select at least two neural polytope objects"):
        bpy.ops.neuralpoly.animate_sweep(source="SELECTED")
    with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="Fig. 3 is not a p-sweep"):
        addon.api.animate_sweep(figure=3)
    assert data_counts() == before


def test_figure_5_shows_slices_of_one_5_polytope(addon):
    objs = addon.api.add_figure(figure=5, seed=0)
    assert len(objs) == 10
    assert objs[0].name == "NeuralPolytope (8;1) \u03b8=0" and objs[3].name == "NeuralPolytope (8;1) \u03b8=3\u03c0/10"
    assert {o.neuralpoly.model_json for o in objs}.__len__() == 1   # one network, ten slices
    thetas = [o.neuralpoly.slice_theta for o in objs]
    assert thetas == pytest.approx([n * math.pi / 10 for n in range(10)], abs=1e-6)
    for o in objs:
        me = o.data
        assert len(me.vertices) - len(me.edges) + len(me.polygons) == 2
        assert o.neuralpoly.max_level_error < 1e-9
