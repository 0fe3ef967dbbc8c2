"""Without PyTorch: the add-on says so, refuses training clearly, and everything else works.

Runs Blender (the bpy module) in a fresh process where ``import torch`` fails, with its
own temporary user folders, and installs the built extension there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import json, sys
    sys.modules["torch"] = None            # as in a Blender without PyTorch
    import bpy
    zip_path, model_path, out_dir = sys.argv[1:4]
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    npb = sys.modules["bl_ext.user_default.neuralpoly"]
    out = {}
    status = npb.torch_setup.torch_status(refresh=True)
    out["installed"] = status.installed
    out["lines"] = npb.ui.torch_missing_lines()
    before = len(bpy.data.objects)
    try:
        bpy.ops.neuralpoly.add_polytope(dim=3, widths="3", p="1")
        out["add"] = "no error"
    except RuntimeError as e:
        out["add"] = str(e)
    out["objects_unchanged"] = len(bpy.data.objects) == before
    try:
        bpy.ops.neuralpoly.add_figure(figure="7")
        out["figure"] = "no error"
    except RuntimeError as e:
        out["figure"] = str(e)
    bpy.ops.neuralpoly.load_model(filepath=model_path)
    obj = bpy.context.active_object
    me = obj.data
    out["loaded"] = [obj.name, len(me.vertices), len(me.edges), len(me.polygons), obj.neuralpoly.polytope_name]
    bpy.ops.neuralpoly.reextract(method="RADIAL", resolution=4)
    out["reextracted"] = len(obj.data.polygons)
    bpy.ops.neuralpoly.export_mesh(filepath=out_dir + "/octa.stl", format="STL")
    bpy.ops.neuralpoly.save_model(filepath=out_dir + "/copy.json")
    try:
        bpy.ops.neuralpoly.install_torch()
        out["install"] = "no error"
    except RuntimeError as e:
        out["install"] = str(e)
    out["online_access"] = bpy.app.online_access
    out["torch_imported"] = sys.modules.get("torch") is not None
    shared = npb.worker_client._shared
    out["worker_started"] = shared is not None and shared.process is not None
    print("RESULT " + json.dumps(out))
''')


def test_everything_but_training_works_without_torch(extension_zip, addon, tmp_path):
    core = addon.neuralpoly_core
    octahedron = core.network.polytope_network(3, [[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]], [1.0])
    model_path = tmp_path / "octa.json"
    core.network.modelfile.save_model(octahedron, model_path, meta={"type": "(3;1)", "loss": 0.0})
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(extension_zip), str(model_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])

    assert out["installed"] is False
    assert out["lines"][0] == "PyTorch is not installed"
    assert "Generate, paper presets and p-sweep animations" in out["lines"][1]
    assert "loading model files, re-extracting and export" in out["lines"][2]
    for key in ("add", "figure"):
        assert "PyTorch is not installed" in out[key] and "load a model file" in out[key]
    assert out["objects_unchanged"]
    assert out["loaded"] == ["NeuralPolytope (3;1)", 6, 12, 8, "octahedron"]
    assert out["reextracted"] >= 20 * 4 ** 2
    assert (tmp_path / "octa.stl").stat().st_size == 84 + 50 * out["reextracted"]   # binary STL
    assert json.loads((tmp_path / "copy.json").read_text())["meta"]["type"] == "(3;1)"
    assert out["online_access"] is False and "Online access is disabled" in out["install"]
    assert out["torch_imported"] is False and out["worker_started"] is False
