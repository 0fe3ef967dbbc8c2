"""Showing the progress of a running job: status bar, cursor, and the sidebar panel.

The state lives on the window manager (``WindowManager.neuralpoly_progress`` and
``neuralpoly_status``), which is not saved in .blend files, so the panel can draw a
progress bar while a modal operator trains.
"""

from __future__ import annotations

import bpy
from bpy.props import FloatProperty, StringProperty

WM_PROPERTY_NAMES = ("neuralpoly_progress", "neuralpoly_status")


def _redraw(context) -> None:
    screen = getattr(context, "screen", None)
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "VIEW_3D":
            area.tag_redraw()


def begin(context, text: str) -> None:
    wm = context.window_manager
    wm.neuralpoly_progress = 0.0
    wm.neuralpoly_status = text
    wm.progress_begin(0, 1000)
    if getattr(context, "workspace", None) is not None:
        context.workspace.status_text_set(f"{text} \u2014 Esc to cancel")
    _redraw(context)


def update(context, fraction: float, text: str) -> None:
    wm = context.window_manager
    fraction = min(max(float(fraction), 0.0), 1.0)
    wm.neuralpoly_progress = fraction
    wm.neuralpoly_status = text
    wm.progress_update(int(fraction * 1000))
    if getattr(context, "workspace", None) is not None:
        context.workspace.status_text_set(f"{text} ({fraction * 100:.0f}%) \u2014 Esc to cancel")
    _redraw(context)


def end(context) -> None:
    wm = context.window_manager
    wm.neuralpoly_progress = 0.0
    wm.neuralpoly_status = ""
    wm.progress_end()
    if getattr(context, "workspace", None) is not None:
        context.workspace.status_text_set(None)
    _redraw(context)


def running(context) -> bool:
    return bool(context.window_manager.neuralpoly_status)


def register() -> None:
    wm = bpy.types.WindowManager
    wm.neuralpoly_progress = FloatProperty(  # type: ignore[attr-defined,func-returns-value]
        name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    wm.neuralpoly_status = StringProperty(name="Status")  # type: ignore[attr-defined,func-returns-value]


def unregister() -> None:
    for name in WM_PROPERTY_NAMES:
        if hasattr(bpy.types.WindowManager, name):
            delattr(bpy.types.WindowManager, name)
