"""The add-on's operators: a few lines each around :mod:`.api`.

Operators that train run the training in the worker process. From the sidebar (invoke
with a window) they are modal: a timer polls the worker, progress shows in the status bar
and the panel, Esc cancels, and the object is only created once everything succeeded.
From scripts, ``blender -b`` and the ``bpy`` module (execute), and on F9 redo, they run
synchronously; models already trained with the same settings are reused, so a redo that
changes only extraction settings is instant. Errors are reported with ``self.report``.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any, Callable

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import api, model_store, progress_ui, torch_setup, trainer
from .neuralpoly_core.errors import Cancelled, NeuralPolyError
from .ui import layout_of
from .properties import (ExtractProps, FigureProps, LocationProps, ModelProps, SweepProps,
                         TrainProps)
from .worker_client import TrainingTask


def _blocking_progress(context) -> Callable[[float, str], None] | None:
    """Cursor progress while a synchronous training runs in an interactive session."""
    if bpy.app.background:
        return None
    wm = context.window_manager

    def progress(fraction: float, message: str) -> None:
        wm.progress_update(int(min(max(fraction, 0.0), 1.0) * 1000))
    return progress


def run_reported(op: bpy.types.Operator, context, action: Callable[[], Any],
                 done: Callable[[Any], str] | None = None) -> set[str]:
    """Run ``action``; report success, cancellation or the error in Blender's words."""
    interactive = not bpy.app.background
    if interactive:
        context.window_manager.progress_begin(0, 1000)
    try:
        result = action()
    except Cancelled:
        op.report({"WARNING"}, "Cancelled; nothing was changed")
        return {"CANCELLED"}
    except NeuralPolyError as e:
        op.report({"ERROR"}, str(e))
        return {"CANCELLED"}
    except Exception as e:  # a bug: keep Blender running, say where to look
        traceback.print_exc()
        op.report({"ERROR"}, f"Neural Polytopes: unexpected {type(e).__name__}: {e} (details in the console)")
        return {"CANCELLED"}
    finally:
        if interactive:
            context.window_manager.progress_end()
    if done is not None:
        op.report({"INFO"}, done(result))
    return {"FINISHED"}


def _describe(obj: bpy.types.Object) -> str:
    p = model_store.props(obj)
    text = f"Added {obj.name}"
    if p.polytope_name:
        text += f": {p.polytope_name}"
    if p.f_vector:
        text += f", f-vector ({p.f_vector})"
    return text


class TrainingModal:
    """Mixin for operators that may train: modal with a timer in the UI, synchronous otherwise.

    Subclasses implement ``training_request(context) -> (specs, TrainSettings)``, which
    validates every setting (raising NeuralPolyError), and ``execute``, which builds the
    result from the (then cached) models.
    """

    _task: TrainingTask | None = None
    _timer: Any = None
    _settings: trainer.TrainSettings | None = None

    def training_request(self, context) -> tuple[list, trainer.TrainSettings]:
        raise NotImplementedError

    def before_invoke(self, context) -> None:
        """Fill properties from the context (e.g. the location from the 3D cursor)."""

    def invoke(self, context, event):
        self.before_invoke(context)
        if bpy.app.background or context.window is None:
            return self.execute(context)  # type: ignore[attr-defined]
        try:
            specs, settings = self.training_request(context)
            todo = trainer.missing(trainer.normalise_specs(specs), settings)
            if not todo:
                return self.execute(context)  # type: ignore[attr-defined]
            self._task = trainer.start(todo, settings)
        except NeuralPolyError as e:
            self.report({"ERROR"}, str(e))  # type: ignore[attr-defined]
            return {"CANCELLED"}
        self._settings = settings
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        n = len(todo)
        progress_ui.begin(context, f"Training {n} network{'s' if n > 1 else ''}")
        return {"RUNNING_MODAL"}

    def _finish_modal(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        progress_ui.end(context)

    def modal(self, context, event):
        task = self._task
        assert task is not None and self._settings is not None
        if event.type == "ESC" and event.value == "PRESS":
            task.cancel()
            self._finish_modal(context)
            self.report({"WARNING"}, "Training cancelled; nothing was added")  # type: ignore[attr-defined]
            return {"CANCELLED"}
        if event.type != "TIMER":  # any timer tick polls: reading the pipe is cheap
            return {"PASS_THROUGH"}
        if not task.update():
            progress_ui.update(context, task.fraction, task.message or "Training")
            return {"PASS_THROUGH"}
        self._finish_modal(context)
        try:
            trainer.collect(task, self._settings)
        except Cancelled:
            self.report({"WARNING"}, "Training cancelled; nothing was added")  # type: ignore[attr-defined]
            return {"CANCELLED"}
        except NeuralPolyError as e:
            self.report({"ERROR"}, str(e))  # type: ignore[attr-defined]
            return {"CANCELLED"}
        return self.execute(context)  # type: ignore[attr-defined]

    def cancel(self, context) -> None:
        """Blender ends the modal operator (file load, quit): stop the job too."""
        if self._task is not None:
            self._task.cancel()
        self._finish_modal(context)


class NEURALPOLY_OT_add_polytope(TrainingModal, ModelProps, TrainProps, ExtractProps, LocationProps,
                                 bpy.types.Operator):
    """Train a neural polytope and add it at the 3D cursor as an editable mesh"""

    bl_idname = "neuralpoly.add_polytope"
    bl_label = "Add Neural Polytope"
    bl_options = {"REGISTER", "UNDO"}

    def before_invoke(self, context) -> None:
        if not self.properties.is_property_set("location"):
            self.location = context.scene.cursor.location

    def training_request(self, context):
        spec, _ = api.prepare(dim=self.dim, widths=self.widths, p=self.p, method=self.method.lower(),
                              resolution=self.resolution,
                              slice_theta=self.slice_theta if self.use_slice else None, size=self.size)
        return [spec], self.train_settings()

    def execute(self, context):
        location = self.location if self.properties.is_property_set("location") else None
        ex = self.extract_settings()
        return run_reported(self, context, lambda: api.add_polytope(
            context, dim=self.dim, widths=self.widths, p=self.p, seed=self.seed, restarts=self.restarts,
            steps=self.steps, device=self.device.lower(), method=ex.method, resolution=ex.resolution,
            slice_theta=ex.slice_theta, size=ex.size, location=location,
            progress=_blocking_progress(context)), _describe)

    def draw(self, context):
        layout = layout_of(self)
        layout.use_property_split = True
        for name in ("dim", "widths", "p", "seed", "restarts", "steps", "device", "method"):
            layout.prop(self, name)
        if self.method != "EXACT":
            layout.prop(self, "resolution")
        if self.dim > 3:
            layout.prop(self, "use_slice")
            row = layout.row()
            row.active = self.use_slice
            row.prop(self, "slice_theta")
        layout.prop(self, "size")
        layout.prop(self, "location")


class NEURALPOLY_OT_add_figure(TrainingModal, TrainProps, ExtractProps, FigureProps, LocationProps,
                              bpy.types.Operator):
    """Lay out every network of a figure of the Neural Polytopes paper in a row, labelled"""

    bl_idname = "neuralpoly.add_figure"
    bl_label = "Lay Out Paper Figure"
    bl_options = {"REGISTER", "UNDO"}

    def before_invoke(self, context) -> None:
        if not self.properties.is_property_set("location"):
            self.location = context.scene.cursor.location

    def training_request(self, context):
        entries = api.presets.figure_entries(int(self.figure))
        return [(e.net.dim, e.net.arch) for e in entries], self.train_settings()

    def execute(self, context):
        location = self.location if self.properties.is_property_set("location") else None
        return run_reported(self, context, lambda: api.add_figure(
            context, int(self.figure), seed=self.seed, restarts=self.restarts, steps=self.steps,
            device=self.device.lower(), method=self.method.lower(), resolution=self.resolution,
            size=self.size, gap=self.gap, location=location, progress=_blocking_progress(context)),
            lambda objs: f"Laid out Fig. {self.figure}: {len(objs)} neural polytopes")


class NEURALPOLY_OT_animate_sweep(TrainingModal, TrainProps, SweepProps, LocationProps, bpy.types.Operator):
    """Animate a p-sweep as one object whose shape keys morph the polytope through the sphere into its dual"""

    bl_idname = "neuralpoly.animate_sweep"
    bl_label = "Animate p-Sweep"
    bl_options = {"REGISTER", "UNDO"}

    source: EnumProperty(  # type: ignore[valid-type]
        name="Source", default="FIGURE",
        items=[("FIGURE", "Paper Figure", "Train (or reuse) the networks of a p-sweep figure"),
               ("SELECTED", "Selected Objects", "Use the models of the selected neural polytopes, ordered by p")])
    size: bpy.props.FloatProperty(name="Size", default=1.0, soft_min=0.01, soft_max=100.0,  # type: ignore[valid-type]
                                  subtype="DISTANCE", unit="LENGTH")

    def before_invoke(self, context) -> None:
        if not self.properties.is_property_set("location"):
            self.location = context.scene.cursor.location

    def training_request(self, context):
        if self.source == "SELECTED":
            return [], self.train_settings()
        return [(n.dim, n.arch) for n in api.presets.FIGURES[int(self.sweep_figure)]], self.train_settings()

    def execute(self, context):
        location = self.location if self.properties.is_property_set("location") else None
        common: dict[str, Any] = dict(resolution=self.sweep_resolution, size=self.size,
                                      frames_per_step=self.frames_per_step, location=location)
        if self.source == "SELECTED":
            action = lambda: api.animate_sweep(context, objects=list(context.selected_objects), **common)
        else:
            action = lambda: api.animate_sweep(
                context, figure=int(self.sweep_figure), seed=self.seed, restarts=self.restarts,
                steps=self.steps, device=self.device.lower(), progress=_blocking_progress(context), **common)
        return run_reported(self, context, action,
                            lambda obj: f"Added {obj.name}: {len(obj.data.shape_keys.key_blocks)} shape keys")


def _active_polytope(context) -> bpy.types.Object | None:
    obj = context.active_object
    return obj if model_store.kind_of(obj) != "NONE" else None


class NEURALPOLY_OT_reextract(ExtractProps, bpy.types.Operator):
    """Rebuild the active neural polytope's mesh from its stored model (no retraining)"""

    bl_idname = "neuralpoly.reextract"
    bl_label = "Re-extract"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if _active_polytope(context) is None:
            cls.poll_message_set("The active object is not a neural polytope")
            return False
        return True

    def invoke(self, context, event):
        p = model_store.props(context.active_object)
        for name, value in (("resolution", p.resolution), ("size", p.size), ("slice_theta", p.slice_theta)):
            if not self.properties.is_property_set(name):
                setattr(self, name, value)
        if not self.properties.is_property_set("use_slice"):
            self.use_slice = p.dim > 3
        return self.execute(context)

    def execute(self, context):
        obj = context.active_object
        is_set = self.properties.is_property_set
        # settings a script leaves out keep the object's last ones (size, resolution, slice)
        kwargs = dict(method=self.method.lower(),
                      resolution=self.resolution if is_set("resolution") else None,
                      size=self.size if is_set("size") else None,
                      slice_theta=self.slice_theta if self.use_slice and is_set("slice_theta") else None)
        return run_reported(self, context, lambda: api.reextract(obj, **kwargs),
                            lambda o: f"Re-extracted {o.name}: f-vector ({model_store.props(o).f_vector})")


class NEURALPOLY_OT_load_model(ExtractProps, LocationProps, bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Add the neural polytope of a model file (JSON); needs no PyTorch"""

    if TYPE_CHECKING:
        filepath: str  # defined by ImportHelper

    bl_idname = "neuralpoly.load_model"
    bl_label = "Load Model File"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context, event):
        if not self.properties.is_property_set("location"):
            self.location = context.scene.cursor.location
        return ImportHelper.invoke(self, context, event)

    def execute(self, context):
        location = self.location if self.properties.is_property_set("location") else None
        return run_reported(self, context, lambda: api.load_model_file(
            context, self.filepath, self.extract_settings(), location=location), _describe)


class NEURALPOLY_OT_save_model(bpy.types.Operator, ExportHelper):  # type: ignore[misc]
    """Save the active object's network (polytope, level set, boolean, heightmap) as a JSON model file"""

    if TYPE_CHECKING:
        filepath: str  # defined by ExportHelper

    bl_idname = "neuralpoly.save_model"
    bl_label = "Save Model File"

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context):
        if model_store.kind_of(context.active_object) in ("NONE", "SWEEP"):
            cls.poll_message_set("The active object has no single stored network")
            return False
        return True

    def execute(self, context):
        obj = context.active_object
        return run_reported(self, context, lambda: api.save_model_file(obj, self.filepath),
                            lambda path: f"Saved the model of {obj.name} to {path}")


class NEURALPOLY_OT_export_mesh(bpy.types.Operator, ExportHelper):
    """Export the selected objects with Blender's exporter: OBJ keeps n-gon faces, STL is triangles"""

    if TYPE_CHECKING:
        filepath: str  # defined by ExportHelper

    bl_idname = "neuralpoly.export_mesh"
    bl_label = "Export Selection"

    filename_ext = ".obj"
    format: EnumProperty(  # type: ignore[valid-type]
        name="Format", default="OBJ",
        items=[("OBJ", "OBJ", "Wavefront OBJ with n-gon faces"), ("STL", "STL", "Binary STL (triangles)")])
    filter_glob: StringProperty(default="*.obj;*.stl", options={"HIDDEN"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context):
        if not any(o.type == "MESH" for o in context.selected_objects):
            cls.poll_message_set("Select the mesh objects to export")
            return False
        return True

    def invoke(self, context, event):
        self.filename_ext = f".{self.format.lower()}"
        return ExportHelper.invoke(self, context, event)

    def check(self, context):
        self.filename_ext = f".{self.format.lower()}"
        return ExportHelper.check(self, context)

    def execute(self, context):
        return run_reported(self, context, lambda: api.export_selection(context, self.filepath, self.format),
                            lambda path: f"Exported {len(context.selected_objects)} object(s) to {path}")


class NEURALPOLY_OT_install_torch(bpy.types.Operator):
    """Download PyTorch into this extension's own folder (needs online access)"""

    bl_idname = "neuralpoly.install_torch"
    bl_label = "Install PyTorch"

    cpu_only: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="CPU Only", default=True,
        description="Install the CPU build (a few hundred MB) instead of the CUDA build (several GB)")

    _install: torch_setup.TorchInstall | None = None
    _timer: Any = None

    def execute(self, context):
        try:
            torch_setup.check_online_access()
        except NeuralPolyError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        install = torch_setup.TorchInstall(cpu_only=self.cpu_only)
        try:
            install.start()
            if bpy.app.background or context.window is None:
                while not install.poll():
                    install.process.wait()  # type: ignore[union-attr]
                return self._done(context)
        except NeuralPolyError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self._install = install
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.5, window=context.window)
        wm.modal_handler_add(self)
        progress_ui.begin(context, "Installing PyTorch")
        return {"RUNNING_MODAL"}

    def _done(self, context):
        trainer.worker().close()  # the next training starts a worker that sees the new torch
        status = torch_setup.torch_status()
        self.report({"INFO"}, f"Installed {status.summary()} in {torch_setup.site_packages()}")
        return {"FINISHED"}

    def modal(self, context, event):
        install = self._install
        assert install is not None
        if event.type == "ESC" and event.value == "PRESS":
            install.cancel()
            self._end(context)
            self.report({"WARNING"}, "PyTorch installation cancelled")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            finished = install.poll()
        except NeuralPolyError as e:
            self._end(context)
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        if not finished:
            progress_ui.update(context, 0.5, f"Installing PyTorch: {install.last_line()[:80]}")
            return {"PASS_THROUGH"}
        self._end(context)
        return self._done(context)

    def _end(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        progress_ui.end(context)


class NEURALPOLY_OT_check_torch(bpy.types.Operator):
    """Ask the training worker which PyTorch version and devices it sees"""

    bl_idname = "neuralpoly.check_torch"
    bl_label = "Check PyTorch"

    def execute(self, context):
        def action():
            w = trainer.worker()
            w.info = None
            w.request_info()
            return w.wait_info()
        return run_reported(self, context, action, lambda info: (
            f"PyTorch {info.get('torch') or 'not found'}; devices: CPU"
            + "".join(f", CUDA {name}" for name in info.get("cuda") or [])))


classes = (
    NEURALPOLY_OT_add_polytope,
    NEURALPOLY_OT_add_figure,
    NEURALPOLY_OT_animate_sweep,
    NEURALPOLY_OT_reextract,
    NEURALPOLY_OT_load_model,
    NEURALPOLY_OT_save_model,
    NEURALPOLY_OT_export_mesh,
    NEURALPOLY_OT_install_torch,
    NEURALPOLY_OT_check_torch,
)
