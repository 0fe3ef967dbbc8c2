"""The sidebar panels and preferences draw, name only real properties and operators.

Headless Blender draws no UI, so each ``draw`` runs here against a layout recorder that
checks every ``prop`` and ``operator`` call against Blender's own RNA definitions (the
recorder stands in for ``UILayout``, which Python cannot create).
"""

from __future__ import annotations

from types import SimpleNamespace

import bpy
import pytest


class OperatorProps:
    """What ``layout.operator`` returns: only the operator's real properties may be set."""

    def __init__(self, idname: str):
        module, name = idname.split(".")
        op = getattr(getattr(bpy.ops, module), name)
        object.__setattr__(self, "idname", idname)
        object.__setattr__(self, "names", set(op.get_rna_type().properties.keys()))
        object.__setattr__(self, "values", {})

    def __setattr__(self, key, value):
        assert key in self.names, f"{self.idname} has no property {key!r}"
        self.values[key] = value


class Layout:
    def __init__(self, log: list):
        self.log = log

    def _child(self, *args, **kwargs):
        return Layout(self.log)

    column = row = box = split = _child

    def label(self, text="", icon="NONE"):
        self.log.append(("label", text))

    def separator(self, **kwargs):
        pass

    def progress(self, factor=0.0, type="BAR", text=""):
        self.log.append(("progress", text))

    def prop(self, data, name, **kwargs):
        if hasattr(data, "bl_rna"):
            assert name in data.bl_rna.properties, f"{data!r} has no property {name!r}"
        else:
            assert hasattr(data, name), f"{data!r} has no attribute {name!r}"
        self.log.append(("prop", name))

    def operator(self, idname, **kwargs):
        props = OperatorProps(idname)
        self.log.append(("operator", idname, props))
        return props


def draw(panel_cls, context, owner=None):
    log: list = []
    panel_cls.draw(owner or SimpleNamespace(layout=Layout(log)), context)
    return log


def labels(log):
    return [entry[1] for entry in log if entry[0] == "label"]


def test_main_panel_offers_every_setting_and_fills_the_operator(addon):
    log = draw(bpy.types.NEURALPOLY_PT_main, bpy.context)
    props = {entry[1] for entry in log if entry[0] == "prop"}
    assert {"dim", "widths", "p", "seed", "restarts", "steps", "device", "method", "resolution",
            "size"} <= props
    assert "slice_theta" not in props                     # only for d > 3
    ((_, idname, op),) = [e for e in log if e[0] == "operator"]
    assert idname == "neuralpoly.add_polytope" and op.values["widths"] == "4" and op.values["p"] == "1"
    assert "PyTorch is not installed" not in labels(log)  # torch is installed in this environment
    bpy.context.scene.neuralpoly_settings.dim = 5
    props = {e[1] for e in draw(bpy.types.NEURALPOLY_PT_main, bpy.context) if e[0] == "prop"}
    assert {"use_slice", "slice_theta"} <= props


def test_presets_and_files_panels(addon):
    log = draw(bpy.types.NEURALPOLY_PT_presets, bpy.context)
    ops = [(e[1], e[2].values) for e in log if e[0] == "operator"]
    assert [o for o, _ in ops] == ["neuralpoly.add_figure", "neuralpoly.animate_sweep", "neuralpoly.animate_sweep"]
    assert ops[0][1]["figure"] == "7" and ops[1][1]["source"] == "FIGURE" and ops[2][1]["source"] == "SELECTED"
    log = draw(bpy.types.NEURALPOLY_PT_files, bpy.context)
    assert [e[1] for e in log if e[0] == "operator"] == [
        "neuralpoly.load_model", "neuralpoly.export_mesh", "neuralpoly.export_mesh"]


def test_active_panel_shows_the_facts(addon):
    assert not bpy.types.NEURALPOLY_PT_active.poll(bpy.context)
    bpy.ops.neuralpoly.add_polytope(dim=3, widths="4", p="1", seed=0)
    assert bpy.types.NEURALPOLY_PT_active.poll(bpy.context)
    text = labels(draw(bpy.types.NEURALPOLY_PT_active, bpy.context))
    assert "Type: (4;1)   d = 3" in text
    assert "f-vector: (12, 24, 14)" in text
    assert "Faces: 8\u00d73-gon, 6\u00d74-gon" in text
    assert any(t.startswith("Training loss (MSE): 0.00") for t in text)


def test_progress_shows_in_the_panel(addon):
    addon.progress_ui.begin(bpy.context, "Training 2 networks")
    addon.progress_ui.update(bpy.context, 0.25, "step 10")
    try:
        log = draw(bpy.types.NEURALPOLY_PT_main, bpy.context)
        assert ("progress", "step 10") in log and "Esc to cancel" in labels(log)
        assert bpy.context.window_manager.neuralpoly_progress == pytest.approx(0.25)
    finally:
        addon.progress_ui.end(bpy.context)
    assert not any(e[0] == "progress" for e in draw(bpy.types.NEURALPOLY_PT_main, bpy.context))


def test_preferences_show_torch_and_devices(addon):
    prefs = bpy.context.preferences.addons[addon.__name__].preferences
    log: list = []
    owner = SimpleNamespace(layout=Layout(log), cpu_only=prefs.cpu_only,
                            start_worker_early=prefs.start_worker_early)
    addon.trainer.worker().wait_info()
    type(prefs).draw(owner, bpy.context)
    text = labels(log)
    status = addon.torch_setup.torch_status(refresh=True)
    assert status.installed and status.version
    assert any(t.startswith(f"PyTorch {status.version} at ") for t in text)
    assert "Devices: CPU" in text[1]
    assert any("Online access is off" in t for t in text)   # bpy module: online access disabled
    ops = [e[1] for e in log if e[0] == "operator"]
    assert ops == ["neuralpoly.check_torch", "neuralpoly.install_torch"]
