"""Shared helpers of the add-on's Blender tests (imported by conftest and the test modules)."""

from __future__ import annotations

import importlib.util
import os
import sys

REQUIRE_BLENDER = os.environ.get("NEURALPOLY_REQUIRE_BLENDER") == "1"
ADDON_MODULE = "bl_ext.user_default.neuralpoly"


def blender_unavailable_reason() -> str | None:
    """Why the Blender tests cannot run here, or None."""
    if sys.version_info[:2] != (3, 11):
        return (f"the bpy module (Blender 5.0.1) needs Python 3.11; this is Python "
                f"{sys.version_info[0]}.{sys.version_info[1]}")
    if importlib.util.find_spec("bpy") is None:
        return "the bpy module is not installed (pip install bpy==5.0.1)"
    return None


SKIP_REASON = blender_unavailable_reason()


def data_counts() -> dict[str, int]:
    """How many datablocks of each kind exist: an operator that fails must leave these unchanged."""
    import bpy
    return {kind: len(getattr(bpy.data, kind)) for kind in
            ("objects", "meshes", "curves", "collections", "shape_keys", "actions")}
