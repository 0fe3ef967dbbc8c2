"""Operators and sidebar panel of space folding: Measure Space Folding, Re-measure.

Thin wrappers around :mod:`.folding_objects` (which calls the core's
:func:`neuralpoly_core.folding.scene_path`): errors are reported with ``self.report`` and
leave the scene as it was; the work is a fraction of a second, so nothing runs in the worker.
"""

from __future__ import annotations

import bpy
from bpy.props import FloatVectorProperty, IntProperty

from . import folding_objects, model_store
from .operators import run_reported
from .ui import NeuralPolyPanel, layout_of


def _describe(obj: bpy.types.Object) -> str:
    f = folding_objects.folding_props(obj)
    return (f"{obj.name}: {f.regions} regions, r1 {f.r1}, r2 {f.r2}, chi {f.chi:.4f}, "
            f"chi(-G) {f.chi_reverse:.4f}")


class NEURALPOLY_OT_measure_folding(bpy.types.Operator):
    """Draw a straight path through the active model's input space (two empties and an edge mesh with a vertex at every crossing, coloured by the Hamming distance of its activation pattern from the first) and measure its space folding chi"""

    bl_idname = "neuralpoly.measure_folding"
    bl_label = "Measure Space Folding"
    bl_options = {"REGISTER", "UNDO"}

    start: FloatVectorProperty(  # type: ignore[valid-type]
        name="Start", size=3, description="Start point in the model's input space (default: its box's lower corner)")
    end: FloatVectorProperty(  # type: ignore[valid-type]
        name="End", size=3, description="End point in the model's input space (default: its box's upper corner)")
    samples: IntProperty(  # type: ignore[valid-type]
        name="Samples", default=0, min=0, soft_max=10000,
        description="0: exact crossings; n >= 2: the paper's sampled method with n points")

    @classmethod
    def poll(cls, context):
        if model_store.kind_of(context.active_object) not in model_store.SINGLE_MODEL_KINDS:
            cls.poll_message_set("The active object is not a model object (polytope, level set, boolean)")
            return False
        return True

    def execute(self, context):
        model = context.active_object
        is_set = self.properties.is_property_set
        x1 = tuple(self.start) if is_set("start") else None
        x2 = tuple(self.end) if is_set("end") else None
        return run_reported(self, context, lambda: folding_objects.measure(context, model, x1, x2,
                                                                           samples=self.samples),
                            lambda obj: "Measured " + _describe(obj))


class NEURALPOLY_OT_remeasure_folding(bpy.types.Operator):
    """Measure the active space-folding path again from its empties' current locations"""

    bl_idname = "neuralpoly.remeasure_folding"
    bl_label = "Re-measure"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if folding_objects.path_of(context.active_object) is None:
            cls.poll_message_set("The active object is not a space-folding path or one of its empties")
            return False
        return True

    def execute(self, context):
        obj = context.active_object
        return run_reported(self, context, lambda: folding_objects.remeasure(obj),
                            lambda path: "Re-measured " + _describe(path))


class NEURALPOLY_PT_folding(NeuralPolyPanel):
    bl_idname = "NEURALPOLY_PT_folding"
    bl_label = "Space Folding"
    bl_parent_id = "NEURALPOLY_PT_main"

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        return folding_objects.path_of(obj) is not None or \
            model_store.kind_of(obj) in model_store.SINGLE_MODEL_KINDS

    def draw(self, context):
        layout = layout_of(self)
        path = folding_objects.path_of(context.active_object)
        if path is None:
            dim = model_store.props(context.active_object).dim
            if dim in (2, 3):
                layout.operator("neuralpoly.measure_folding", icon="CURVE_PATH")
            else:
                layout.label(text=f"Paths are drawn for models with 2 or 3 inputs (this one: {dim})", icon="INFO")
            return
        f = folding_objects.folding_props(path)
        col = layout.column(align=True)
        col.label(text=path.name, icon="CURVE_PATH")
        col.label(text=f"Model: {f.model.name if f.model else '(deleted)'}, {f.method}"
                  + (f" ({f.samples} samples)" if f.samples else ""))
        col.label(text=f"chi = {f.chi:.4f}   chi(-G) = {f.chi_reverse:.4f}")
        col.label(text=f"d_chi = {f.d_chi:.4f}")
        col.label(text=f"r1 = {f.r1}   r2 = {f.r2}   regions = {f.regions}")
        if f.error:
            col.label(text=f.error, icon="ERROR")
        layout.prop(f, "auto_update")
        layout.operator("neuralpoly.remeasure_folding", icon="FILE_REFRESH")


classes = (NEURALPOLY_OT_measure_folding, NEURALPOLY_OT_remeasure_folding, NEURALPOLY_PT_folding)
