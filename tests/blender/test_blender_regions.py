"""Show Linear Regions in real Blender: the count equals the core's, the face attributes and
the material are there, the worker path adds the same, bad input changes nothing, and all of
it works in a Blender whose Python cannot import scipy (as Blender's own cannot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts

# four lines in general position, every crossing inside [-3, 3]^2: 1 + 4 + 6 = 11 regions
LINES_W = np.array([[1.0, 0.2], [-0.3, 1.0], [1.0, 1.1], [0.7, -1.0]])
LINES_B = np.array([0.1, -0.2, 0.3, -0.4])


def network(addon, dims, seed=0, act="relu"):
    """He-initialised ``act`` layers (``"maxout"``: rank 3, three rows per unit)."""
    core = addon.neuralpoly_core.network
    rng = np.random.default_rng(seed)
    k = 3 if act == "maxout" else 1
    activation = core.Activation(act) if act == "relu" else core.Activation("maxout", k=k) if act == "maxout" \
        else core.Activation(act, scale=1.0)
    layers = [core.Layer(rng.normal(size=(b * k, a)) * np.sqrt(2.0 / a), rng.uniform(-1, 1, size=b * k), activation)
              for a, b in zip(dims[:-1], dims[1:])]
    return core.Network(dims[0], layers, core.Output("linear", np.ones((1, dims[-1])), np.array([-1.0])))


def model_object(addon, net, lo, hi, name="Model"):
    """A level-set object remembering ``net`` and the box [lo, hi]^d (its mesh is a placeholder)."""
    me = bpy.data.meshes.new(name)
    obj = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(obj)
    addon.model_store.store_model(obj, net, {"type": "test"}, kind=addon.model_store.Kind.LEVELSET)
    p = addon.model_store.props(obj)
    p.bbox_min = (lo,) * 3
    p.bbox_max = (hi,) * 3
    for o in bpy.context.selected_objects:
        o.select_set(False)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def face_attribute(me, name, kind="value", width=1):
    attr = me.attributes[name]
    assert attr.domain == "FACE"
    out = np.empty(len(me.polygons) * width, dtype=np.float32 if kind == "color" else np.int32)
    attr.data.foreach_get(kind, out)
    return out.reshape(-1, width) if width > 1 else out


def lines_net(addon):
    core = addon.neuralpoly_core.network
    return core.Network(2, [core.Layer(LINES_W, LINES_B, core.Activation("relu"))],
                        core.Output("linear", np.ones((1, 4)), np.array([-1.0])))


def test_2d_regions_count_attributes_material(addon):
    net = lines_net(addon)
    src = model_object(addon, net, -3.0, 3.0)
    assert bpy.ops.neuralpoly.show_regions() == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj is not src and obj.name == "Regions Model"
    me = obj.data
    tess = addon.neuralpoly_core.regions.enumerate_regions(net, (-3.0, 3.0))
    assert tess.count == 11 and len(me.polygons) == 11
    rid = face_attribute(me, "region_id")
    assert sorted(rid.tolist()) == list(range(11))
    pop = face_attribute(me, "popcount")
    assert np.array_equal(pop, tess.patterns.sum(axis=1)[rid])
    col = face_attribute(me, "region_color", "color", 4)
    expected = addon.neuralpoly_core.regions.region_colors(11)[rid]
    np.testing.assert_allclose(col[:, :3], expected, atol=1e-6)
    assert len({tuple(c) for c in np.round(col[:, :3], 4)}) == 11           # distinct colours
    corners = me.color_attributes["region_color_corners"]
    assert corners.domain == "CORNER" and len(corners.data) == len(me.loops)
    mat = me.materials[0]
    assert mat.name == "NeuralPoly Regions"
    attr_nodes = [n for n in mat.node_tree.nodes if n.type == "ATTRIBUTE"]
    assert attr_nodes and attr_nodes[0].attribute_name == "region_color_corners"
    assert attr_nodes[0].outputs["Color"].is_linked
    facts = json.loads(obj["neuralpoly_regions"])
    assert (facts["regions"], facts["pieces"], facts["dim"]) == (11, tess.pieces, 2)
    assert facts["bounds"]["first_layer"] == 11 and facts["bounds"]["serra"] == 11
    assert json.loads(src["neuralpoly_regions"])["regions"] == 11
    # the polygons tile the box: areas add up to 36
    V = np.array([v.co[:] for v in me.vertices])
    area = sum(0.5 * abs(np.dot(V[p.vertices, 0], np.roll(V[p.vertices, 1], -1))
                         - np.dot(V[p.vertices, 1], np.roll(V[p.vertices, 0], -1))) for p in me.polygons)
    assert area == pytest.approx(36.0, rel=1e-5)


def test_3d_cells_shrunk_and_plane_slice(addon):
    net = network(addon, [3, 5, 4], seed=3)
    model_object(addon, net, -1.0, 1.0)
    assert bpy.ops.neuralpoly.show_regions(shrink=0.2) == {"FINISHED"}
    obj = bpy.context.active_object
    tess = addon.neuralpoly_core.regions.enumerate_regions(net, (-1.0, 1.0))
    rid = face_attribute(obj.data, "region_id")
    assert set(rid.tolist()) == set(range(tess.count))
    assert json.loads(obj["neuralpoly_regions"])["regions"] == tess.count
    assert len(face_attribute(obj.data, "popcount")) == len(obj.data.polygons)
    # shrunk: no vertex is shared by two regions
    owner = {}
    for p in obj.data.polygons:
        for v in p.vertices:
            assert owner.setdefault(v, rid[p.index]) == rid[p.index]
    model_object(addon, net, -1.0, 1.0, name="Again")
    assert bpy.ops.neuralpoly.show_regions(use_plane=True, use_model_box=False, box_min=-0.5, box_max=0.5) \
        == {"FINISHED"}
    plane = addon.neuralpoly_core.regions.enumerate_regions(net, (-0.5, 0.5), origin=np.zeros(3),
                                                             basis=np.eye(2, 3))
    assert len(bpy.context.active_object.data.polygons) == plane.count


def test_worker_path_adds_the_same(addon):
    net = lines_net(addon)
    model_object(addon, net, -3.0, 3.0)
    plan = addon.regions_objects.plan_show_regions(bpy.context)
    task = addon.trainer.worker().submit(plan.job, plan.arguments)
    end = time.monotonic() + 120
    while not task.update():
        assert time.monotonic() < end
        time.sleep(0.02)
    obj = plan.finish_with(task.result)
    assert len(obj.data.polygons) == 11 and json.loads(obj["neuralpoly_regions"])["regions"] == 11


@pytest.mark.parametrize("case", ["sigmoid", "bad box", "no model", "1-D"])
def test_bad_input_changes_nothing(addon, case):
    if case == "sigmoid":
        model_object(addon, network(addon, [2, 3, 3], act="sigmoid"), -1.0, 1.0)
        kwargs, message = {}, "sigmoid"
    elif case == "bad box":
        model_object(addon, lines_net(addon), -1.0, 1.0)
        kwargs, message = {"use_model_box": False, "box_min": 1.0, "box_max": 1.0}, "lo < hi"
    elif case == "1-D":
        model_object(addon, addon.neuralpoly_core.construct.tent.tent_map_network(3), 0.0, 1.0)
        kwargs, message = {}, "intervals"
    else:
        me = bpy.data.meshes.new("plain")
        obj = bpy.data.objects.new("plain", me)
        bpy.context.scene.collection.objects.link(obj)
        bpy.context.view_layer.objects.active = obj
        with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="no neural network model"):
            addon.regions_objects.plan_show_regions(bpy.context)
        assert not bpy.ops.neuralpoly.show_regions.poll()
        return
    counts = data_counts()
    names = sorted(o.name for o in bpy.data.objects)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.neuralpoly.show_regions(**kwargs)
    assert data_counts() == counts and sorted(o.name for o in bpy.data.objects) == names
    assert "neuralpoly_regions" not in bpy.context.active_object.keys()
    assert "NeuralPoly Regions" not in bpy.data.materials


NO_SCIPY_SCRIPT = textwrap.dedent('''
    import json, sys
    for name in ("scipy", "scipy.sparse", "scipy.sparse.csgraph", "scipy.spatial", "scipy.optimize"):
        sys.modules[name] = None             # and a package "scipy" first on the path that raises
    import bpy
    import numpy as np
    zip_path, tests_dir = sys.argv[1:3]
    sys.path.insert(0, tests_dir)
    from test_blender_regions import lines_net, model_object, network
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    npb = sys.modules["bl_ext.user_default.neuralpoly"]
    core = npb.neuralpoly_core
    out = {}
    for key, net, h, kwargs in [("lines", lines_net(npb), 3.0, {}),
                                ("relu3d", network(npb, [3, 5, 4], seed=3), 1.0, {"shrink": 0.2}),
                                ("maxout2d", network(npb, [2, 4, 3], seed=1, act="maxout"), 1.0, {})]:
        model_object(npb, net, -h, h, name=key)
        result = bpy.ops.neuralpoly.show_regions(**kwargs)
        obj = bpy.context.active_object
        rid = np.empty(len(obj.data.polygons), dtype=np.int32)
        obj.data.attributes["region_id"].data.foreach_get("value", rid)
        tess = core.regions.enumerate_regions(net, (-h, h))
        out[key] = {"result": sorted(result), "facts": json.loads(obj["neuralpoly_regions"]),
                    "faces": len(obj.data.polygons), "region_ids": sorted(set(rid.tolist())),
                    "core": [tess.count, tess.pieces, tess.info["cells"]]}
    model_object(npb, lines_net(npb), -3.0, 3.0, name="viaworker")
    plan = npb.regions_objects.plan_show_regions(bpy.context)
    task = npb.trainer.worker().submit(plan.job, plan.arguments)
    while not task.update():
        pass
    out["worker_regions"] = json.loads(plan.finish_with(task.result)["neuralpoly_regions"])["regions"]
    milp = plan.arguments | {"method": "milp", "output": None}
    try:
        core.jobs.run_job("count_regions", milp)
        out["milp_here"] = "no error"
    except core.errors.NeuralPolyError as e:
        out["milp_here"] = str(e)
    task = npb.trainer.worker().submit("count_regions", milp)
    while not task.update():
        pass
    try:
        task.result()
        out["milp_worker"] = "no error"
    except Exception as e:
        out["milp_worker"] = str(e)
    out["scipy_loaded"] = sorted(m for m, mod in sys.modules.items() if m.split(".")[0] == "scipy" and mod is not None)
    npb.worker_client.shutdown_shared_worker()
    print("RESULT " + json.dumps(out))
''')


def test_show_regions_without_scipy(extension_zip, addon, tmp_path):
    """A fresh Blender where scipy cannot be imported, here or in the worker: Show Linear
    Regions adds the same regions as the core with scipy (ReLU 2-D and 3-D, maxout); only the
    MILP, which the add-on never runs, says it needs scipy."""
    fake = tmp_path / "no_scipy" / "scipy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("no scipy here, as in the Python that Blender ships")\n')
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"),
               PYTHONPATH=os.pathsep.join([str(fake.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", NO_SCIPY_SCRIPT, str(extension_zip), str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[len("RESULT "):])
    assert out["scipy_loaded"] == []
    regions = addon.neuralpoly_core.regions
    for key, net, h in [("lines", lines_net(addon), 3.0), ("relu3d", network(addon, [3, 5, 4], seed=3), 1.0),
                        ("maxout2d", network(addon, [2, 4, 3], seed=1, act="maxout"), 1.0)]:
        got = out[key]
        tess = regions.enumerate_regions(net, (-h, h))          # this process has scipy
        assert got["result"] == ["FINISHED"]
        assert got["core"] == [tess.count, tess.pieces, tess.info["cells"]]
        assert (got["facts"]["regions"], got["facts"]["pieces"]) == (tess.count, tess.pieces)
        assert got["region_ids"] == list(range(tess.count))
        assert got["faces"] == (tess.count if tess.dim == 2 else len(tess.face_region))
    assert out["lines"]["core"][0] == 11 and out["worker_regions"] == 11
    assert out["maxout2d"]["core"][2] > out["maxout2d"]["core"][0]     # regions of several cells
    for key in ("milp_here", "milp_worker"):
        assert "needs scipy" in out[key] and "command line" in out[key], out[key]


def test_modal_progress_then_escape_adds_nothing(addon):
    from test_blender_modal import Event, driver, run_until_done
    net = network(addon, [3, 8, 8, 8], seed=5)
    src = model_object(addon, net, -1.0, 1.0)
    counts = data_counts()
    d = driver(addon, addon.regions_objects.plan_show_regions(bpy.context))
    assert bpy.context.window_manager.neuralpoly_status == "Counting linear regions"
    assert d.modal(bpy.context, Event("ESC", "PRESS")) == {"CANCELLED"}
    assert data_counts() == counts and "neuralpoly_regions" not in src.keys()
    assert any("cancelled" in m for _, m in d.reports)
    # and to the end: the same count as the core
    d = driver(addon, addon.regions_objects.plan_show_regions(bpy.context, obj=src))
    assert run_until_done(d) == {"FINISHED"}
    assert json.loads(src["neuralpoly_regions"])["regions"] == \
        addon.neuralpoly_core.regions.enumerate_regions(net, (-1.0, 1.0)).count
