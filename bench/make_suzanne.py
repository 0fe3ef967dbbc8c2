#!/usr/bin/env python3
"""Export Blender's Suzanne (the monkey primitive) to ``bench/data/suzanne.obj``, with bpy.

    BLENDER_USER_RESOURCES=$(mktemp -d) .venv/bin/python bench/make_suzanne.py [--subdivide N]

Suzanne as Blender adds it (507 vertices, 500 faces: quads and triangles) is not closed
(42 boundary edges); the fitting code takes the sign from the winding number, which fills
the holes. ``--subdivide N`` applies a Subdivision
Surface modifier of N levels first (default 0: the primitive itself). Written with Blender's
own OBJ exporter (n-gons kept, no materials, +Z up as in Blender).
"""

from __future__ import annotations

import argparse
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "suzanne.obj"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subdivide", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_monkey_add(size=2.0)
    obj = bpy.context.active_object
    if args.subdivide:
        mod = obj.modifiers.new("subdivide", "SUBSURF")
        mod.levels = args.subdivide
        bpy.ops.object.modifier_apply(modifier=mod.name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.obj_export(filepath=str(args.out), export_selected_objects=True, export_materials=False,
                          export_uv=False, export_normals=False, forward_axis="Y", up_axis="Z")
    print(f"wrote {args.out}: {len(obj.data.vertices)} vertices, {len(obj.data.polygons)} faces")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
