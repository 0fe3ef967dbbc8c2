"""Operators for general networks: neural booleans, level sets of any model file, heightmaps.

Thin wrappers around :mod:`.api` (``plan_boolean``/``add_boolean``, ``plan_load_level_set``,
``plan_reextract_level_set``, ``add_heightmap``), like :mod:`.operators`: every setting is an
operator property (scriptable, F9 redo), errors are reported with ``self.report`` and leave
the scene as it was. Level-set extraction can take long (an 8x32 SDF network: seconds to
minutes): from the sidebar these operators are modal (:class:`.operators.JobModal`), the
extraction runs in the worker process and Esc cancels it.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty

from . import api, lowpoly_objects, model_store
from .model_store import Kind
from .operators import ModelFileJob, PlannedJob, describe_added, describe_reextracted, run_reported
from .properties import BooleanProps, HeightmapProps, LevelSetProps, LocationProps, LowPolyProps
from .ui import layout_of


class NEURALPOLY_OT_boolean(PlannedJob, BooleanProps, bpy.types.Operator):
    """Union, intersection or difference (active minus the others) of the selected convex mesh objects, as a network; the inputs stay as they are"""

    bl_idname = "neuralpoly.boolean"
    bl_label = "Neural Boolean"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if sum(1 for o in context.selected_objects if o.type == "MESH") < 2:
            cls.poll_message_set("Select at least two convex mesh objects")
            return False
        return True

    def plan(self, context):
        return api.plan_boolean(context, operation=self.operation.lower(), mode=self.boolean_mode.lower(),
                                sharpness=self.sharpness, resolution=self.boolean_resolution, margin=self.margin)

    def done(self, result) -> str:
        return describe_added(result)

    def draw(self, context):
        layout = layout_of(self)
        layout.use_property_split = True
        layout.prop(self, "operation")
        layout.prop(self, "boolean_mode")
        col = layout.column()
        col.active = self.boolean_mode == "SOFT"
        col.prop(self, "sharpness")
        col.prop(self, "boolean_resolution")
        layout.prop(self, "margin")


class NEURALPOLY_OT_load_level_set(ModelFileJob, LevelSetProps, LocationProps, bpy.types.Operator):  # type: ignore[misc]
    """Add the level set f = c of any model file's network inside a box (ReLU with biases, sigmoid, ...)"""

    bl_idname = "neuralpoly.load_level_set"
    bl_label = "Load Model as Level Set"
    bl_options = {"REGISTER", "UNDO"}

    def plan(self, context):
        ls = self.level_set_settings()
        if not self.properties.is_property_set("level"):   # the model file's level, else 0
            ls = api.LevelSetSettings(None, ls.bbox, ls.method, ls.resolution, ls.cap)
        return api.plan_load_level_set(context, self.filepath, ls, location=self.chosen_location())


class NEURALPOLY_OT_reextract_level_set(PlannedJob, LevelSetProps, BooleanProps, bpy.types.Operator):
    """Rebuild the active level set, neural boolean or heightmap from its stored network with other settings"""

    bl_idname = "neuralpoly.reextract_level_set"
    bl_label = "Re-extract Level Set"
    bl_options = {"REGISTER", "UNDO"}

    resolution: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Resolution", default=64, soft_min=2, soft_max=512,
        description="Marching-cubes cells per axis (level sets, soft booleans) or grid cells (heightmaps)")
    keep_box: BoolProperty(name="Keep Box", default=True,  # type: ignore[valid-type]
                           description="Level sets: keep the last box; booleans: keep the last margin")
    vertex_budget: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Vertex Budget", default=0, min=0, soft_max=100_000,
        description="Low-poly objects, level sets: at most this many vertices (0: no limit; starts at the "
                    "object's last budget)")

    @classmethod
    def poll(cls, context):
        if model_store.kind_of(context.active_object) not in model_store.BOX_KINDS:
            cls.poll_message_set("The active object is not a level set, neural boolean or heightmap")
            return False
        return True

    def before_invoke(self, context) -> None:
        p = model_store.props(context.active_object)
        defaults = {"resolution": p.resolution, "level": p.level, "cap": p.cap, "sharpness": p.sharpness or 8.0,
                    "bbox_min": tuple(p.bbox_min), "bbox_max": tuple(p.bbox_max), "vertex_budget": p.vertex_budget}
        if p.boolean_mode:
            defaults["boolean_mode"] = p.boolean_mode.upper()
        if p.method in ("exact", "marching", "trilinear"):
            defaults["levelset_method"] = p.method.upper()
        for name, value in defaults.items():
            if not self.properties.is_property_set(name):
                setattr(self, name, value)

    def plan(self, context):
        obj = context.active_object
        is_set = self.properties.is_property_set
        kind = model_store.kind_of(obj)
        kwargs: dict = {"resolution": self.resolution if is_set("resolution") else None}
        if kind == Kind.BOOLEAN:
            kwargs.update(mode=self.boolean_mode.lower() if is_set("boolean_mode") else None,
                          sharpness=self.sharpness if is_set("sharpness") else None,
                          method=self.levelset_method.lower() if is_set("levelset_method") else None,
                          margin=None if self.keep_box or not is_set("margin") else self.margin)
        elif kind == Kind.LOWPOLY:
            kwargs.update(method=self.levelset_method.lower() if is_set("levelset_method") else None,
                          vertex_budget=self.vertex_budget if is_set("vertex_budget") else None)
        elif kind == Kind.LEVELSET:
            kwargs.update(vertex_budget=self.vertex_budget if is_set("vertex_budget") else None,
                          level=self.level if is_set("level") else None,
                          bbox=None if self.keep_box else (tuple(self.bbox_min), tuple(self.bbox_max)),
                          method=self.levelset_method.lower() if is_set("levelset_method") else None,
                          cap=self.cap if is_set("cap") else None)
        return api.plan_reextract_level_set(obj, **kwargs)

    def done(self, result) -> str:
        return describe_reextracted(result)

    def draw(self, context):
        layout = layout_of(self)
        layout.use_property_split = True
        kind = model_store.kind_of(context.active_object)
        if kind == Kind.BOOLEAN:
            for name in ("boolean_mode", "sharpness", "resolution", "keep_box", "margin"):
                layout.prop(self, name)
        elif kind == Kind.LEVELSET:
            for name in ("level", "levelset_method", "resolution", "cap", "keep_box"):
                layout.prop(self, name)
            if not self.keep_box:
                layout.prop(self, "bbox_min")
                layout.prop(self, "bbox_max")
        elif kind == Kind.LOWPOLY:
            for name in ("levelset_method", "resolution", "vertex_budget"):
                layout.prop(self, name)
        else:
            layout.prop(self, "resolution")


class NEURALPOLY_OT_add_heightmap(HeightmapProps, LocationProps, bpy.types.Operator):
    """Add a metaball height field drawn by a three-layer sigmoid network; keyframed layer-1 biases move the blobs over the timeline"""

    bl_idname = "neuralpoly.add_heightmap"
    bl_label = "Add Metaball Heightmap"
    bl_options = {"REGISTER", "UNDO"}

    def invoke(self, context, event):
        self.use_cursor(context)
        return self.execute(context)

    def execute(self, context):
        return run_reported(self, context, lambda: api.add_heightmap(
            context, location=self.chosen_location(), **self.heightmap_settings()),
            lambda o: f"Added {o.name}: {len(model_store.props(o).biases)} keyframed biases")


class NEURALPOLY_OT_lowpoly(PlannedJob, LowPolyProps, bpy.types.Operator):
    """Fit a small network to the signed distance of the selected mesh (modifiers and transform applied) and add its exact low-poly surface as a new object; the input stays as it is"""

    bl_idname = "neuralpoly.lowpoly"
    bl_label = "Neural Low-Poly"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not any(o.type == "MESH" for o in context.selected_objects):
            cls.poll_message_set("Select the mesh object to fit")
            return False
        return True

    def plan(self, context):
        return api.plan_lowpoly(context, None, self.lowpoly_settings())

    def done(self, result) -> str:
        f = lowpoly_objects.stored_fit(result)["fit"]
        before = f.get("vertices_before_simplify")
        simplified = f" (from {before})" if before not in (None, f["vertices"]) else ""
        return (f"Added {result.name}: {f['vertices']} vertices{simplified}, {f['faces']} faces, "
                f"Chamfer {100 * (f['chamfer_rel'] or 0.0):.3g} % of the diagonal")

    def draw(self, context):
        layout = layout_of(self)
        layout.use_property_split = True
        for name in ("lowpoly_net", "lowpoly_size", "lowpoly_seconds", "lowpoly_seed", "lowpoly_device",
                     "lowpoly_method"):
            layout.prop(self, name)
        row = layout.row()
        row.active = self.lowpoly_method == "MARCHING"
        row.prop(self, "lowpoly_resolution")
        layout.prop(self, "lowpoly_samples")
        layout.prop(self, "lowpoly_vertex_budget")


classes = (
    NEURALPOLY_OT_boolean,
    NEURALPOLY_OT_load_level_set,
    NEURALPOLY_OT_reextract_level_set,
    NEURALPOLY_OT_add_heightmap,
    NEURALPOLY_OT_lowpoly,
)
