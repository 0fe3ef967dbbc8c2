"""The add-on's operators: a few lines each around :mod:`.api`.

Operators whose work may be long (training, level-set extraction) are :class:`JobModal` operators.
From the sidebar (invoke with a window) they are modal: the work runs as a named job in the
worker process, a timer polls it, progress shows in the status bar and the panel, Esc
cancels, and the object is only created once everything succeeded. From scripts,
``blender -b`` and the ``bpy`` module (execute), and on F9 redo, they run synchronously;
models already trained with the same settings are reused, so a redo that changes only
extraction settings is instant. Errors are reported with ``self.report``.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any, Callable

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import api, model_store, progress_ui, torch_setup, trainer
from .model_store import Kind
from .neuralpoly_core.errors import Cancelled, NeuralPolyError
from .ui import layout_of
from .properties import (ExtractProps, FigureProps, LocationProps, ModelProps, SweepProps,
                         TrainProps)
from .worker_client import JobTask, Plan


def blocking_progress(context) -> Callable[[float, str], None] | None:
    """Cursor progress while a synchronous job runs in an interactive session."""
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


def describe_added(obj: bpy.types.Object) -> str:
    """The report of an operator that added ``obj``: its name, shape name, f-vector, level error."""
    p = model_store.props(obj)
    facts = [p.polytope_name] if p.polytope_name else []
    if p.f_vector:
        facts.append(f"f-vector ({p.f_vector})")
    if model_store.kind_of(obj) in model_store.LEVEL_SET_KINDS:
        facts.append(f"max |f - c| = {p.max_level_error:.2g}")
    return f"Added {obj.name}" + (f": {', '.join(facts)}" if facts else "")


def describe_reextracted(obj: bpy.types.Object) -> str:
    return f"Re-extracted {obj.name}: f-vector ({model_store.props(obj).f_vector})"


class JobModal:
    """Mixin for operators whose work may be long: a job in the worker from the UI, synchronous otherwise.

    Subclasses implement

    * ``run(context, progress=None)``: the work itself, one call of :mod:`.api` (synchronous);
    * ``plan(context) -> Plan | None``: check every setting (raising NeuralPolyError) and say
      which job to run in the worker and what its result then changes (:class:`.worker_client.Plan`);
      None (or a plan without a job) when nothing long is left, e.g. the models are cached;
    * ``done(result) -> str``: the report of success;
    * ``before_invoke(context)`` (optional): fill properties from the context (the 3D cursor).

    ``invoke`` with a window starts the plan's job in the worker and returns RUNNING_MODAL;
    ``modal`` polls it on timer events, shows its progress, cancels it on Esc (nothing is
    added), and runs the plan's finish once it has succeeded. ``execute`` (scripts,
    ``blender -b``, the ``bpy`` module, F9 redo) calls ``run``. An import operator calls
    :meth:`browse` in its invoke: after the file browser, its execute starts the job modally.
    """

    _task: JobTask | None = None
    _plan: Plan | None = None
    _timer: Any = None
    _after_browser = False

    def run(self, context, progress=None) -> Any:
        raise NotImplementedError

    def plan(self, context) -> Plan | None:
        raise NotImplementedError

    def done(self, result) -> str:
        raise NotImplementedError

    def before_invoke(self, context) -> None:
        """Fill properties from the context (e.g. the location from the 3D cursor)."""

    def invoke(self, context, event):
        self.before_invoke(context)
        return self.start(context)

    def browse(self, context, event):
        """Open the file browser (ImportHelper); its execute then starts the job modally."""
        self.before_invoke(context)
        self._after_browser = True
        return ImportHelper.invoke(self, context, event)  # type: ignore[arg-type]

    def execute(self, context):
        if self._after_browser:
            self._after_browser = False
            return self.start(context)
        return run_reported(self, context, lambda: self.run(context, blocking_progress(context)),  # type: ignore[arg-type]
                            self.done)

    def start(self, context):
        """Modal with a window (RUNNING_MODAL), else synchronous (:meth:`execute`)."""
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            started = self.begin_job(context)
        except NeuralPolyError as e:
            self.report({"ERROR"}, str(e))  # type: ignore[attr-defined]
            return {"CANCELLED"}
        if not started:
            return self.execute(context)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def begin_job(self, context) -> bool:
        """Send the plan's job to the worker, start the timer and the progress display;
        False (nothing started) when there is no job to run."""
        plan = self.plan(context)
        if plan is None or plan.job is None:
            if plan is not None:
                plan.close()
            return False
        try:
            self._task = trainer.worker().submit(plan.job, plan.arguments)
        except BaseException:
            plan.close()
            raise
        self._plan = plan
        self._timer = context.window_manager.event_timer_add(0.1, window=context.window)
        progress_ui.begin(context, plan.title or plan.what)
        return True

    def _end(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        progress_ui.end(context)

    def modal(self, context, event):
        task, plan = self._task, self._plan
        assert task is not None and plan is not None
        if event.type == "ESC" and event.value == "PRESS":
            self.cancel(context)
            self.report({"WARNING"}, f"{plan.what} cancelled; nothing was added")  # type: ignore[attr-defined]
            return {"CANCELLED"}
        if event.type != "TIMER":  # any timer tick polls: reading the pipe is cheap
            return {"PASS_THROUGH"}
        if not task.update():
            progress_ui.update(context, task.fraction, task.message or plan.title or plan.what)
            return {"PASS_THROUGH"}
        self._end(context)
        return run_reported(self, context, lambda: plan.finish_with(task.result), self.done)  # type: ignore[arg-type]

    def cancel(self, context) -> None:
        """Esc, or Blender ends the modal operator (file load, quit): stop the job too."""
        if self._task is not None:
            self._task.cancel()
        if self._plan is not None:
            self._plan.close()
        self._end(context)


class PlannedJob(JobModal):
    """A :class:`JobModal` whose work is one plan of :mod:`.api` (``plan_*``), here or in the worker."""

    def plan(self, context) -> Plan:
        raise NotImplementedError

    def run(self, context, progress=None) -> Any:
        return api.run_plan(self.plan(context), progress)


class TrainingJob(JobModal):
    """A :class:`JobModal` that trains first: ``specs(context) -> (specs, TrainSettings)``
    validates every setting (raising NeuralPolyError); ``run`` builds the result from the
    (then cached) models."""

    def specs(self, context) -> tuple[list, trainer.TrainSettings]:
        raise NotImplementedError

    def plan(self, context) -> Plan | None:
        specs, settings = self.specs(context)
        return trainer.plan(specs, settings, lambda: self.run(context))

    def before_invoke(self, context) -> None:
        self.use_cursor(context)  # type: ignore[attr-defined]


class NEURALPOLY_OT_add_polytope(TrainingJob, ModelProps, TrainProps, ExtractProps, LocationProps,
                                 bpy.types.Operator):
    """Train a neural polytope and add it at the 3D cursor as an editable mesh"""

    bl_idname = "neuralpoly.add_polytope"
    bl_label = "Add Neural Polytope"
    bl_options = {"REGISTER", "UNDO"}

    def specs(self, context):
        spec, _ = api.prepare(dim=self.dim, widths=self.widths, p=self.p, method=self.method.lower(),
                              resolution=self.resolution,
                              slice_theta=self.slice_theta if self.use_slice else None, size=self.size)
        return [spec], self.train_settings()

    def run(self, context, progress=None):
        ex = self.extract_settings()
        return api.add_polytope(
            context, dim=self.dim, widths=self.widths, p=self.p, seed=self.seed, restarts=self.restarts,
            steps=self.steps, device=self.device.lower(), method=ex.method, resolution=ex.resolution,
            slice_theta=ex.slice_theta, size=ex.size, location=self.chosen_location(), progress=progress)

    def done(self, result) -> str:
        return describe_added(result)

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


class NEURALPOLY_OT_add_figure(TrainingJob, TrainProps, ExtractProps, FigureProps, LocationProps,
                              bpy.types.Operator):
    """Lay out every network of a figure of the Neural Polytopes paper in a row, labelled"""

    bl_idname = "neuralpoly.add_figure"
    bl_label = "Lay Out Paper Figure"
    bl_options = {"REGISTER", "UNDO"}

    def specs(self, context):
        entries = api.presets.figure_entries(int(self.figure))
        return [(e.net.dim, e.net.arch) for e in entries], self.train_settings()

    def run(self, context, progress=None):
        return api.add_figure(
            context, int(self.figure), seed=self.seed, restarts=self.restarts, steps=self.steps,
            device=self.device.lower(), method=self.method.lower(), resolution=self.resolution,
            size=self.size, gap=self.gap, location=self.chosen_location(), progress=progress)

    def done(self, objs) -> str:
        return f"Laid out Fig. {self.figure}: {len(objs)} neural polytopes"


class NEURALPOLY_OT_animate_sweep(TrainingJob, TrainProps, SweepProps, LocationProps, bpy.types.Operator):
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

    def specs(self, context):
        if self.source == "SELECTED":
            return [], self.train_settings()
        return [(n.dim, n.arch) for n in api.presets.FIGURES[int(self.sweep_figure)]], self.train_settings()

    def run(self, context, progress=None):
        common: dict[str, Any] = dict(resolution=self.sweep_resolution, size=self.size,
                                      frames_per_step=self.frames_per_step, location=self.chosen_location())
        if self.source == "SELECTED":
            return api.animate_sweep(context, objects=list(context.selected_objects), **common)
        return api.animate_sweep(context, figure=int(self.sweep_figure), seed=self.seed, restarts=self.restarts,
                                 steps=self.steps, device=self.device.lower(), progress=progress, **common)

    def done(self, obj) -> str:
        return f"Added {obj.name}: {len(obj.data.shape_keys.key_blocks)} shape keys"


def _active_polytope(context) -> bpy.types.Object | None:
    obj = context.active_object
    return obj if model_store.kind_of(obj) != Kind.NONE else None


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
        return run_reported(self, context, lambda: api.reextract(obj, **kwargs), describe_reextracted)


class ModelFileJob(PlannedJob, ImportHelper):
    """A :class:`JobModal` that reads a model file chosen in the file browser (at the 3D cursor)."""

    if TYPE_CHECKING:
        filepath: str  # defined by ImportHelper

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def before_invoke(self, context) -> None:
        self.use_cursor(context)  # type: ignore[attr-defined]

    def invoke(self, context, event):
        return self.browse(context, event)

    def done(self, result) -> str:
        return describe_added(result)


class NEURALPOLY_OT_load_model(ModelFileJob, ExtractProps, LocationProps, bpy.types.Operator):  # type: ignore[misc]
    """Add the neural polytope of a model file (JSON); needs no PyTorch"""

    bl_idname = "neuralpoly.load_model"
    bl_label = "Load Model File"
    bl_options = {"REGISTER", "UNDO"}

    def plan(self, context):
        return api.plan_model_file(context, self.filepath, self.extract_settings(), location=self.chosen_location())


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
        if model_store.kind_of(context.active_object) not in model_store.SINGLE_MODEL_KINDS:
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
