"""Whether the add-on's Blender tests can run here; says why not (and fails in CI)."""

import pytest

from npb_helpers import REQUIRE_BLENDER, SKIP_REASON


def test_blender_tests_can_run():
    if SKIP_REASON is None:
        import bpy
        assert bpy.app.version >= (4, 2, 0)
        return
    if REQUIRE_BLENDER:
        pytest.fail(f"the Blender tests must run here (NEURALPOLY_REQUIRE_BLENDER=1) but cannot: {SKIP_REASON}")
    pytest.skip(f"Blender tests skipped: {SKIP_REASON}")
