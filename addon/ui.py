"""The sidebar tab (View3D > N panel > Neural Polytopes) and the add-on preferences."""

from __future__ import annotations

import bpy

from . import lowpoly_objects, model_store, progress_ui, torch_setup, trainer
from .model_store import Kind
from .properties import (BOOLEAN_NAMES, EXTRACT_NAMES, HEIGHTMAP_NAMES, LEVELSET_NAMES, LOWPOLY_NAMES, MODEL_NAMES,
                         TRAIN_NAMES, copy_settings)

CATEGORY = "Neural Polytopes"
_warm_requested = False


def settings_of(context):
    return context.scene.neuralpoly_settings


def _request_warm_up(context) -> None:
    """Start the training worker soon after the panel is first shown (not inside draw)."""
    global _warm_requested
    if _warm_requested or bpy.app.background:
        return
    _warm_requested = True
    addon = context.preferences.addons.get(__package__)
    if addon is not None and not getattr(addon.preferences, "start_worker_early", True):
        return

    def warm() -> None:
        try:
            trainer.warm_up()
        except Exception as e:  # only an optimisation: training starts it again when needed
            print(f"Neural Polytopes: could not start the training worker early: {e}")
        return None
    bpy.app.timers.register(warm, first_interval=0.5)


def torch_missing_lines() -> list[str]:
    """The plain statement of what works without PyTorch (panel and preferences)."""
    return ["PyTorch is not installed",
            f"Needed to train: {torch_setup.FEATURES_NEEDING_TORCH}.",
            f"Works without it: {torch_setup.FEATURES_WITHOUT_TORCH}."]


def draw_torch_missing(layout, *, link: bool) -> None:
    col = layout.box().column(align=True)
    for i, line in enumerate(torch_missing_lines()):
        col.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
    if link:
        col.operator("preferences.addon_show", text="Install PyTorch...", icon="PREFERENCES").module = __package__


def layout_of(owner) -> bpy.types.UILayout:
    """``owner.layout`` (set by Blender whenever a panel, menu or operator draws)."""
    layout = owner.layout
    assert layout is not None
    return layout


class NeuralPolyPanel(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY


class NEURALPOLY_PT_main(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_main"
    bl_label = "Neural Polytope"

    def draw(self, context):
        layout = layout_of(self)
        s = settings_of(context)
        status = torch_setup.torch_status()
        if status.installed:
            _request_warm_up(context)
        else:
            draw_torch_missing(layout, link=True)
        if progress_ui.running(context):
            wm = context.window_manager
            layout.progress(factor=wm.neuralpoly_progress, type="BAR", text=wm.neuralpoly_status)
            layout.label(text="Esc to cancel", icon="CANCEL")

        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(align=True)
        col.prop(s, "dim")
        col.prop(s, "widths")
        col.prop(s, "p")
        col = layout.column(heading="Training", align=True)
        col.prop(s, "seed")
        col.prop(s, "restarts")
        col.prop(s, "steps")
        col.prop(s, "device")
        col = layout.column(heading="Extraction", align=True)
        col.prop(s, "method")
        sub = col.row()
        sub.active = s.method != "EXACT"
        sub.prop(s, "resolution")
        if s.dim > 3:
            col.prop(s, "use_slice")
            sub = col.row()
            sub.active = s.use_slice
            sub.prop(s, "slice_theta")
        col.prop(s, "size")

        row = layout.row()
        row.scale_y = 1.4
        row.enabled = status.installed
        op = row.operator("neuralpoly.add_polytope", text="Generate", icon="MESH_ICOSPHERE")
        copy_settings(s, op, MODEL_NAMES + TRAIN_NAMES + EXTRACT_NAMES)


class NEURALPOLY_PT_presets(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_presets"
    bl_label = "Paper Presets"
    bl_parent_id = "NEURALPOLY_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = layout_of(self)
        s = settings_of(context)
        trained = torch_setup.torch_status().installed
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(s, "figure")
        layout.prop(s, "gap")
        row = layout.row()
        row.enabled = trained
        op = row.operator("neuralpoly.add_figure", text="Lay Out Figure", icon="MOD_ARRAY")
        copy_settings(s, op, ("figure", "gap") + TRAIN_NAMES + ("method", "resolution", "size"))

        layout.separator()
        layout.prop(s, "sweep_figure")
        layout.prop(s, "sweep_resolution")
        layout.prop(s, "frames_per_step")
        row = layout.row(align=True)
        sub = row.row(align=True)
        sub.enabled = trained
        op = sub.operator("neuralpoly.animate_sweep", text="Animate p-Sweep", icon="SHAPEKEY_DATA")
        copy_settings(s, op, ("sweep_figure", "sweep_resolution", "frames_per_step", "size") + TRAIN_NAMES)
        op.source = "FIGURE"
        op = row.operator("neuralpoly.animate_sweep", text="From Selected", icon="RESTRICT_SELECT_OFF")
        copy_settings(s, op, ("sweep_resolution", "frames_per_step", "size"))
        op.source = "SELECTED"


class NEURALPOLY_PT_active(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_active"
    bl_label = "Active Polytope"
    bl_parent_id = "NEURALPOLY_PT_main"

    @classmethod
    def poll(cls, context):
        return model_store.kind_of(context.active_object) in (Kind.POLYTOPE, Kind.SWEEP)

    def draw(self, context):
        layout = layout_of(self)
        obj = context.active_object
        p = model_store.props(obj)
        polytope = model_store.kind_of(obj) == Kind.POLYTOPE
        col = layout.column(align=True)
        col.label(text=obj.name, icon="OBJECT_DATA")
        if p.polytope_name:
            col.label(text=f"Name: {p.polytope_name}")
        col.label(text=f"Type: {p.arch_type}   d = {p.dim}")
        col.label(text=f"Training loss (MSE): {p.loss:.4g}")
        if polytope:
            col.label(text=f"f-vector: ({p.f_vector})")
            if p.face_sizes:
                col.label(text=f"Faces: {p.face_sizes}")
            col.label(text=f"Extraction: {p.method}, max |f - 1| = {p.max_level_error:.2g}")
            if p.dim > 3:
                col.label(text=f"Slice angle: {p.slice_theta:.4g} rad")
        else:
            keys = obj.data.shape_keys
            n = 0 if keys is None else len(keys.key_blocks)
            col.label(text=f"{n} shape keys, {p.frames_per_step} frames apart from frame {p.frame_start}")

        s = settings_of(context)
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(align=True)
        if polytope:
            col.prop(s, "method")
        col.prop(s, "resolution")
        if p.dim > 3:
            col.prop(s, "slice_theta")
        row = layout.row(align=True)
        op = row.operator("neuralpoly.reextract", icon="FILE_REFRESH")
        op.method = s.method if polytope else "RADIAL"
        op.resolution = s.resolution
        op.size = p.size
        op.use_slice = p.dim > 3
        op.slice_theta = s.slice_theta
        if polytope:
            row.operator("neuralpoly.save_model", text="Save Model", icon="FILE_TICK")


class NEURALPOLY_PT_files(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_files"
    bl_label = "Files"
    bl_parent_id = "NEURALPOLY_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = layout_of(self)
        s = settings_of(context)
        op = layout.operator("neuralpoly.load_model", text="Load Model File...", icon="FILE_FOLDER")
        copy_settings(s, op, EXTRACT_NAMES)
        row = layout.row(align=True)
        row.operator("neuralpoly.export_mesh", text="Export OBJ", icon="EXPORT").format = "OBJ"
        row.operator("neuralpoly.export_mesh", text="Export STL", icon="EXPORT").format = "STL"


def general_settings_of(context):
    return context.scene.neuralpoly_general


class NEURALPOLY_PT_general(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_general"
    bl_label = "Booleans, Level Sets, Heightmap"
    bl_parent_id = "NEURALPOLY_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = layout_of(self)
        g = general_settings_of(context)
        layout.use_property_split = True
        layout.use_property_decorate = False

        col = layout.column(heading="Boolean", align=True)
        col.prop(g, "operation")
        col.prop(g, "boolean_mode")
        sub = col.column(align=True)
        sub.active = g.boolean_mode == "SOFT"
        sub.prop(g, "sharpness")
        sub.prop(g, "boolean_resolution")
        col.prop(g, "margin")
        op = layout.operator("neuralpoly.boolean", text="Neural Boolean of Selected", icon="MOD_BOOLEAN")
        copy_settings(g, op, BOOLEAN_NAMES)

        layout.separator()
        col = layout.column(heading="Level Set", align=True)
        col.prop(g, "level")
        col.prop(g, "levelset_method")
        sub = col.row()
        sub.active = g.levelset_method != "EXACT"
        sub.prop(g, "grid_resolution")
        col.prop(g, "cap")
        col.prop(g, "use_bbox")
        if g.use_bbox:
            col.prop(g, "bbox_min")
            col.prop(g, "bbox_max")
        op = layout.operator("neuralpoly.load_level_set", text="Load Model as Level Set...", icon="FILE_FOLDER")
        copy_settings(g, op, LEVELSET_NAMES)

        layout.separator()
        col = layout.column(heading="Heightmap", align=True)
        for name in HEIGHTMAP_NAMES:
            col.prop(g, name)
        op = layout.operator("neuralpoly.add_heightmap", text="Add Metaball Heightmap", icon="MOD_DISPLACE")
        copy_settings(g, op, HEIGHTMAP_NAMES)


class NEURALPOLY_PT_active_level_set(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_active_level_set"
    bl_label = "Active Level Set"
    bl_parent_id = "NEURALPOLY_PT_main"

    @classmethod
    def poll(cls, context):
        return model_store.kind_of(context.active_object) in model_store.BOX_KINDS

    def draw(self, context):
        layout = layout_of(self)
        obj = context.active_object
        kind = model_store.kind_of(obj)
        p = model_store.props(obj)
        col = layout.column(align=True)
        col.label(text=obj.name, icon="OBJECT_DATA")
        for line in _level_set_facts(kind, p):
            col.label(text=line)
        g = general_settings_of(context)
        layout.use_property_split = True
        layout.use_property_decorate = False
        names = REEXTRACT_SETTINGS[kind]
        for scene_name, _ in names:
            layout.prop(g, scene_name)
        if kind == Kind.HEIGHTMAP:
            op = layout.operator("neuralpoly.reextract_level_set", text="Rebuild Grid", icon="FILE_REFRESH")
        else:
            op = layout.operator("neuralpoly.reextract_level_set", icon="FILE_REFRESH")
        for scene_name, op_name in names:
            setattr(op, op_name, getattr(g, scene_name))
        if kind == Kind.LOWPOLY:
            layout.operator("neuralpoly.save_model", text="Save Model", icon="FILE_TICK")


#: The scene settings the re-extract button of each kind passes on: (scene setting, operator property).
REEXTRACT_SETTINGS = {
    Kind.BOOLEAN: (("boolean_mode", "boolean_mode"), ("sharpness", "sharpness"),
                   ("boolean_resolution", "resolution")),
    Kind.LEVELSET: (("level", "level"), ("levelset_method", "levelset_method"), ("grid_resolution", "resolution")),
    Kind.HEIGHTMAP: (("heightmap_resolution", "resolution"),),
    Kind.LOWPOLY: (("levelset_method", "levelset_method"), ("grid_resolution", "resolution"),
                   ("lowpoly_vertex_budget", "vertex_budget")),
}


def _level_set_facts(kind: Kind, p) -> list[str]:
    """The panel's lines about a level-set, boolean or heightmap object."""
    if kind == Kind.HEIGHTMAP:
        return [f"{p.polytope_name}, {len(p.biases)} keyframed layer-1 biases",
                f"Grid: {p.resolution} x {p.resolution}, size {p.size:g}"]
    lines = []
    if kind == Kind.BOOLEAN:
        text = f"{p.operation.title()}, {p.boolean_mode}"
        if p.boolean_mode == "soft":
            text += f", sharpness {p.sharpness:g}"
        lines.append(text)
    elif kind == Kind.LOWPOLY:
        return lowpoly_objects.fact_lines(p.id_data) + [f"Now: f-vector ({p.f_vector}), {p.method}, "
                                           f"max |f| = {p.max_level_error:.2g}"]
    elif p.arch_type:
        lines.append(f"Type: {p.arch_type}")
    return lines + [f"Level f = {p.level:g}, d = {p.dim}", f"f-vector: ({p.f_vector})",
                    f"Extraction: {p.method}, max |f - c| = {p.max_level_error:.2g}"]


class NEURALPOLY_PT_lowpoly(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_lowpoly"
    bl_label = "Neural Low-Poly"
    bl_parent_id = "NEURALPOLY_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = layout_of(self)
        g = general_settings_of(context)
        layout.use_property_split = True
        layout.use_property_decorate = False
        col = layout.column(heading="Network", align=True)
        col.prop(g, "lowpoly_net")
        col.prop(g, "lowpoly_size")
        col = layout.column(heading="Fit", align=True)
        col.prop(g, "lowpoly_seconds")
        col.prop(g, "lowpoly_seed")
        col.prop(g, "lowpoly_device")
        col = layout.column(heading="Extraction", align=True)
        col.prop(g, "lowpoly_method")
        sub = col.row()
        sub.active = g.lowpoly_method == "MARCHING"
        sub.prop(g, "lowpoly_resolution")
        col.prop(g, "lowpoly_samples")
        col.prop(g, "lowpoly_vertex_budget")
        row = layout.row()
        row.scale_y = 1.4
        row.enabled = torch_setup.torch_status().installed
        op = row.operator("neuralpoly.lowpoly", text="Neural Low-Poly of Selected", icon="MOD_DECIM")
        copy_settings(g, op, LOWPOLY_NAMES)


class NeuralPolyPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    cpu_only: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="CPU-only PyTorch", default=True,
        description="Install the CPU build of PyTorch (a few hundred MB instead of several GB)")
    start_worker_early: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Start Training Worker Early", default=True,
        description="Start the training process (it loads PyTorch, a second or two) when the "
                    "Neural Polytopes panel is first shown, so that the first Generate is quick")

    def draw(self, context):
        layout = layout_of(self)
        status = torch_setup.torch_status()
        col = layout.column(align=True)
        if status.installed:
            col.label(text=f"{status.summary()} at {status.location}", icon="CHECKMARK")
            info = trainer.worker().info
            if info is not None and info.get("torch"):
                devices = ["CPU"] + [f"CUDA: {name}" for name in info.get("cuda") or []]
                col.label(text="Devices: " + ", ".join(devices))
            col.operator("neuralpoly.check_torch", text="Check Devices", icon="VIEWZOOM")
        else:
            draw_torch_missing(col, link=False)
        col.prop(self, "start_worker_early")
        col.separator()
        col.label(text=f"Install folder: {torch_setup.site_packages()}")
        row = col.row(align=True)
        row.prop(self, "cpu_only")
        sub = row.row(align=True)
        sub.enabled = bool(bpy.app.online_access)
        op = sub.operator("neuralpoly.install_torch",
                          text="Update PyTorch" if status.installed else "Install PyTorch", icon="IMPORT")
        op.cpu_only = self.cpu_only
        if not bpy.app.online_access:
            col.label(text="Online access is off (Preferences > System > Network): downloads are disabled",
                      icon="INFO")


classes = (
    NEURALPOLY_PT_main,
    NEURALPOLY_PT_presets,
    NEURALPOLY_PT_active,
    NEURALPOLY_PT_files,
    NEURALPOLY_PT_general,
    NEURALPOLY_PT_active_level_set,
    NEURALPOLY_PT_lowpoly,
    NeuralPolyPreferences,
)
