"""The modal path of the training operators, driven by hand.

Headless Blender has no event loop, so the operators run synchronously there. Their modal
state machine (timer polls the worker, Esc cancels, the result is built only at the end)
is exercised here by calling ``TrainingModal.modal`` with timer and Esc events, the way
Blender's event loop calls it, on a real worker task and a real window-manager timer.
"""

from __future__ import annotations

import time

import bpy
import pytest


class Event:
    def __init__(self, type: str, value: str = "NOTHING", timer=None):
        self.type, self.value, self.timer = type, value, timer


def driver(addon, specs, settings):
    """A TrainingModal in the state its invoke() leaves it in (the operator's RNA part aside)."""

    class Driver(addon.operators.TrainingModal):
        def __init__(self):
            self.reports: list = []
            self.executed = 0

        def report(self, kind, message):
            self.reports.append((set(kind), message))

        def execute(self, context):
            self.executed += 1
            return {"FINISHED"}

    d = Driver()
    d._settings = settings
    d._task = addon.trainer.start(addon.trainer.normalise_specs(specs), settings)
    d._timer = bpy.context.window_manager.event_timer_add(0.1, window=bpy.context.window)
    addon.progress_ui.begin(bpy.context, "Training")
    return d


def run_until_done(d, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        result = d.modal(bpy.context, Event("TIMER", timer=d._timer))
        if result != {"PASS_THROUGH"}:
            return result
        time.sleep(0.02)
    raise AssertionError("the modal operator never finished")


def test_timer_events_poll_until_the_models_are_cached_then_execute(addon):
    settings = addon.trainer.TrainSettings(seed=101).validated()
    d = driver(addon, [(3, "(5;1)")], settings)
    wm = bpy.context.window_manager
    assert wm.neuralpoly_status == "Training"
    other = d.modal(bpy.context, Event("MOUSEMOVE"))
    assert other == {"PASS_THROUGH"}          # the user keeps working meanwhile
    assert run_until_done(d) == {"FINISHED"}
    assert d.executed == 1 and d.reports == [] and d._timer is None
    assert wm.neuralpoly_status == ""         # progress display cleared
    spec = addon.trainer.normalise_specs([(3, "(5;1)")])[0]
    net, meta = addon.trainer.cached(spec, settings)
    assert net.widths == (5,) and meta["seed"] == 101


def test_escape_cancels_and_adds_nothing(addon):
    settings = addon.trainer.TrainSettings(seed=102, restarts=32, steps=100000).validated()
    d = driver(addon, [(3, "(13,13;1)"), (3, "(12,12;1)")], settings)
    assert d.modal(bpy.context, Event("ESC", "PRESS")) == {"CANCELLED"}
    assert d.executed == 0 and d._timer is None
    assert d.reports == [({"WARNING"}, "Training cancelled; nothing was added")]
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        d._task.wait(timeout=30)
    assert addon.trainer.missing(addon.trainer.normalise_specs([(3, "(13,13;1)")]), settings)


def test_a_failed_training_is_reported_in_blenders_words(addon):
    # a GPU that no machine here has: "not available" without CUDA, "only N devices" with it
    settings = addon.trainer.TrainSettings(seed=103, device="cuda:7")
    d = driver(addon, [(3, "(3;1)")], settings)
    assert run_until_done(d) == {"CANCELLED"}
    assert d.executed == 0
    ((kind, message),) = d.reports
    assert kind == {"ERROR"} and "device 'cuda:7' requested" in message
