"""The operator "Show Linear Regions" and its sidebar panel (facts: count, pieces, bounds).

A thin wrapper around :func:`.regions_objects.plan_show_regions`, like the operators of
:mod:`.general_operators`: modal from the sidebar (:class:`.operators.JobModal`: the count
runs in the worker, with progress, Esc cancels and adds nothing), synchronous from scripts.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty

from . import model_store, regions_objects
from .operators import PlannedJob
from .ui import NeuralPolyPanel, layout_of

__all__ = ["classes", "NEURALPOLY_OT_show_regions", "NEURALPOLY_PT_regions", "menu_add"]

#: The bounds the panel lists (keys of neuralpoly_core.regions.all_bounds), with short labels.
_BOUNDS = (("first_layer", "Zaslavsky (layer 1)"), ("layer_product", "Layer product"),
           ("montufar2017", "Montufar 2017"), ("serra", "Serra et al. Thm 1"), ("serra_maxout", "Serra maxout"))


def _number(value) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, str) and len(value) > 12:
        return f"{value[0]}.{value[1:3]}e{len(value) - 1}"
    return str(value)


class NEURALPOLY_OT_show_regions(PlannedJob, bpy.types.Operator):
    """Add the linear regions of the active model's network in a box as a mesh (one face per region in 2-D, shrunk cells in 3-D), coloured by region"""

    bl_idname = "neuralpoly.show_regions"
    bl_label = "Show Linear Regions"
    bl_options = {"REGISTER", "UNDO"}

    use_model_box: BoolProperty(  # type: ignore[valid-type]
        name="Model's Box", default=True,
        description="Level sets: the box of the last extraction; other models: [-1.5, 1.5] per axis")
    box_min: FloatProperty(name="Box Min", default=-1.5, description="Lower corner of the box (every axis)")  # type: ignore[valid-type]
    box_max: FloatProperty(name="Box Max", default=1.5, description="Upper corner of the box (every axis)")  # type: ignore[valid-type]
    use_plane: BoolProperty(  # type: ignore[valid-type]
        name="Plane Slice", default=False,
        description="3-D models: the regions of the plane x3 = 0 (inputs above 3-D: always the x1-x2 plane)")
    shrink: FloatProperty(  # type: ignore[valid-type]
        name="Shrink", default=0.1, min=0.0, max=0.9,
        description="3-D: move each cell this fraction towards its centroid so the cells can be seen")
    max_regions: IntProperty(  # type: ignore[valid-type]
        name="Region Limit", default=200_000, min=1, description="Refuse counts above this (memory)")

    @classmethod
    def poll(cls, context):
        if model_store.kind_of(context.active_object) not in model_store.SINGLE_MODEL_KINDS:
            cls.poll_message_set("The active object has no neural network model")
            return False
        return True

    def plan(self, context):
        bbox = None if self.use_model_box else (self.box_min, self.box_max)
        return regions_objects.plan_show_regions(context, bbox=bbox, use_plane=self.use_plane, shrink=self.shrink,
                                                 max_regions=self.max_regions)

    def done(self, result) -> str:
        f = regions_objects.facts_of(result) or {}
        return f"Added {result.name}: {f.get('regions', 0):,} linear regions, {f.get('pieces', 0):,} pieces"

    def draw(self, context):
        layout = layout_of(self)
        layout.use_property_split = True
        layout.prop(self, "use_model_box")
        col = layout.column(align=True)
        col.active = not self.use_model_box
        col.prop(self, "box_min")
        col.prop(self, "box_max")
        layout.prop(self, "use_plane")
        layout.prop(self, "shrink")
        layout.prop(self, "max_regions")


class NEURALPOLY_PT_regions(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_regions"
    bl_label = "Linear Regions"
    bl_parent_id = "NEURALPOLY_PT_main"

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return (model_store.kind_of(obj) in model_store.SINGLE_MODEL_KINDS
                or regions_objects.facts_of(obj) is not None)

    def draw(self, context):
        layout = layout_of(self)
        obj = context.active_object
        facts = regions_objects.facts_of(obj)
        if facts is not None:
            col = layout.column(align=True)
            col.label(text=f"Regions: {facts.get('regions', 0):,}   pieces: {facts.get('pieces') or 0:,}")
            col.label(text=f"{facts.get('dim', '?')}-D, {facts.get('seconds', 0.0):.2f} s")
            bounds = facts.get("bounds") or {}
            for key, label in _BOUNDS:
                if bounds.get(key) is not None:
                    col.label(text=f"{label}: {_number(bounds[key])}")
        if model_store.kind_of(obj) in model_store.SINGLE_MODEL_KINDS:
            layout.operator(NEURALPOLY_OT_show_regions.bl_idname, icon="MESH_GRID")


def menu_add(self, context) -> None:
    self.layout.operator(NEURALPOLY_OT_show_regions.bl_idname, text="Linear Regions of Active Model",
                         icon="MESH_GRID")


classes = (NEURALPOLY_OT_show_regions, NEURALPOLY_PT_regions)
