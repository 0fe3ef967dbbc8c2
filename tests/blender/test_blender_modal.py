"""The modal path of the operators whose work runs as a job in the worker, driven by hand.

Headless Blender has no event loop, so the operators run synchronously there. Their modal
state machine (:class:`operators.JobModal`: the job runs in the worker, a timer polls it,
Esc cancels, the result is built only at the end) is exercised here by calling ``modal``
with timer and Esc events, the way Blender's event loop calls it, on a real worker, a real
window-manager timer and real plans of the API (training; level sets of the trained 8x32
gyroid SDF network, whose exact surface in the whole box takes about half a minute).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from npb_helpers import data_counts

GYROID = Path(__file__).resolve().parents[2] / "bench" / "data" / "sdf_gyroid_8x32.json"


class Event:
    def __init__(self, type: str, value: str = "NOTHING", timer=None):
        self.type, self.value, self.timer = type, value, timer


def driver(addon, plan):
    """A JobModal that has been invoked with ``plan`` (the operator's RNA part aside)."""

    class Driver(addon.operators.JobModal):
        def __init__(self):
            self.reports: list = []
            self.the_plan = plan

        def plan(self, context):
            return self.the_plan

        def done(self, result) -> str:
            return f"done: {result!r}"

        def report(self, kind, message):
            self.reports.append((set(kind), message))

    d = Driver()
    assert d.begin_job(bpy.context)
    return d


def run_until_done(d, timeout=120.0, seen=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = d.modal(bpy.context, Event("TIMER", timer=d._timer))
        if seen is not None:
            seen.append(bpy.context.window_manager.neuralpoly_progress)
        if result != {"PASS_THROUGH"}:
            return result
        time.sleep(0.02)
    raise AssertionError("the modal operator never finished")


def wait_for_progress(d, timeout=60.0):
    """Tick until the job reports progress (it really runs in the worker)."""
    end = time.monotonic() + timeout
    while d._task.fraction == 0.0 and time.monotonic() < end:
        assert d.modal(bpy.context, Event("TIMER", timer=d._timer)) == {"PASS_THROUGH"}
        time.sleep(0.02)
    assert 0.0 < d._task.fraction < 1.0 and not d._task.finished


# -- training -------------------------------------------------------------------------------
def test_timer_events_poll_until_the_models_are_cached_then_finish(addon):
    settings = addon.trainer.TrainSettings(seed=101).validated()
    built = []
    d = driver(addon, addon.trainer.plan([(3, "(5;1)")], settings, lambda: built.append(1) or "built"))
    wm = bpy.context.window_manager
    assert wm.neuralpoly_status == "Training 1 network"
    other = d.modal(bpy.context, Event("MOUSEMOVE"))
    assert other == {"PASS_THROUGH"}          # the user keeps working meanwhile
    assert run_until_done(d) == {"FINISHED"}
    assert built == [1] and d.reports == [({"INFO"}, "done: 'built'")] and d._timer is None
    assert wm.neuralpoly_status == ""         # progress display cleared
    spec = addon.trainer.normalise_specs([(3, "(5;1)")])[0]
    net, meta = addon.trainer.cached(spec, settings)
    assert net.widths == (5,) and meta["seed"] == 101
    assert addon.trainer.plan([(3, "(5;1)")], settings, lambda: None) is None   # nothing left to train


def test_escape_cancels_and_adds_nothing(addon):
    settings = addon.trainer.TrainSettings(seed=102, restarts=32, steps=100000).validated()
    d = driver(addon, addon.trainer.plan([(3, "(13,13;1)"), (3, "(12,12;1)")], settings,
                                         lambda: pytest.fail("built after Esc")))
    assert d.modal(bpy.context, Event("ESC", "PRESS")) == {"CANCELLED"}
    assert d._timer is None
    assert d.reports == [({"WARNING"}, "Training cancelled; nothing was added")]
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        d._task.wait(timeout=30)
    assert addon.trainer.missing(addon.trainer.normalise_specs([(3, "(13,13;1)")]), settings)


def test_a_failed_training_is_reported_in_blenders_words(addon):
    # a GPU that no machine here has: "not available" without CUDA, "only N devices" with it
    settings = addon.trainer.TrainSettings(seed=103, device="cuda:7")   # not validated: the worker refuses it
    plan = addon.worker_client.Plan("train", addon.trainer.arguments([(3, "(3;1)")], settings),
                                    lambda result: pytest.fail("built after an error"), "Training")
    d = driver(addon, plan)
    assert run_until_done(d) == {"CANCELLED"}
    ((kind, message),) = d.reports
    assert kind == {"ERROR"} and "device 'cuda:7' requested" in message


# -- level sets -----------------------------------------------------------------------------
def mesh_facts(addon, obj):
    V, corners, sizes = addon.blender_mesh.mesh_arrays(obj.data)
    return V, corners, sizes, addon.blender_mesh.region_ids(obj.data)


def test_gyroid_level_set_in_the_worker_adds_what_the_api_adds(addon):
    small = addon.api.LevelSetSettings(0.0, (-0.25, 0.25), "exact")   # half a second of the gyroid
    before = data_counts()
    d = driver(addon, addon.api.plan_load_level_set(bpy.context, GYROID, small, location=(1, 0, 0)))
    folder = os.path.dirname(d._plan.arguments["output"])
    seen: list[float] = []
    assert run_until_done(d, seen=seen) == {"FINISHED"}
    progress = [f for f in seen if 0.0 < f < 1.0]
    assert len(set(progress)) >= 2 and progress == sorted(progress)      # progress events, increasing
    assert not os.path.exists(folder)                                     # the mesh file is gone
    modal = bpy.context.active_object
    assert data_counts() == dict(before, objects=before["objects"] + 1, meshes=before["meshes"] + 1)
    ((kind, message),) = d.reports
    assert kind == {"INFO"} and modal.name in message

    synchronous = addon.api.load_level_set(None, GYROID, small, location=(1, 0, 0))
    assert synchronous is not modal
    for a, b in zip(mesh_facts(addon, modal), mesh_facts(addon, synchronous)):
        np.testing.assert_array_equal(a, b)
    V, _, sizes, regions = mesh_facts(addon, modal)
    assert len(V) > 1000 and len(sizes) > 1000 and regions.min() >= 0
    assert modal.neuralpoly.f_vector == synchronous.neuralpoly.f_vector
    assert modal.neuralpoly.regions == synchronous.neuralpoly.regions == len(np.unique(regions))
    assert modal.neuralpoly.model_json == synchronous.neuralpoly.model_json


def test_escape_cancels_a_gyroid_extraction_and_the_worker_goes_on(addon):
    before = data_counts()
    worker = addon.trainer.worker()
    d = driver(addon, addon.api.plan_load_level_set(bpy.context, GYROID))       # the whole box: ~30 s
    assert bpy.context.window_manager.neuralpoly_status == "Extracting the level set"
    folder = os.path.dirname(d._plan.arguments["output"])
    wait_for_progress(d)
    pid = worker.pid
    t0 = time.monotonic()
    assert d.modal(bpy.context, Event("ESC", "PRESS")) == {"CANCELLED"}
    assert d.reports == [({"WARNING"}, "Level-set extraction cancelled; nothing was added")]
    assert d._timer is None and bpy.context.window_manager.neuralpoly_status == ""
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        d._task.wait(timeout=30)
    assert time.monotonic() - t0 < 5.0                  # stopped cooperatively, within seconds
    assert data_counts() == before and not os.path.exists(folder)
    assert worker.alive and worker.pid == pid           # not killed: it takes the next job
    again = driver(addon, addon.api.plan_load_level_set(bpy.context, GYROID,
                                                        addon.api.LevelSetSettings(0.0, (-0.2, 0.2))))
    assert run_until_done(again) == {"FINISHED"}
    assert data_counts()["objects"] == before["objects"] + 1


def test_escape_leaves_a_reextracted_object_as_it_was(addon):
    obj = addon.api.load_level_set(None, GYROID, addon.api.LevelSetSettings(0.0, (-0.2, 0.2)))
    mesh, facts = obj.data, mesh_facts(addon, obj)
    d = driver(addon, addon.api.plan_reextract_level_set(obj, bbox=(-1.0, 1.0)))
    wait_for_progress(d)
    assert d.modal(bpy.context, Event("ESC", "PRESS")) == {"CANCELLED"}
    assert obj.data == mesh and tuple(obj.neuralpoly.bbox_max) == pytest.approx((0.2, 0.2, 0.2))
    for a, b in zip(mesh_facts(addon, obj), facts):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        d._task.wait(timeout=30)
