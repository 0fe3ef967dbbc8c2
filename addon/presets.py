"""Paper presets in Blender: whole figures laid out in a row, and p-sweeps as animations.

A figure of the paper (``neuralpoly_core.sweeps.figures``) becomes a collection with one object
per network (Fig. 5: one per slice angle of its 5-polytope), placed side by side along +X
from the 3D cursor, each with a text label (type and name) parented to it.

A p-sweep -- the same widths with growing p, e.g. (3;p) for p = 0.6 ... 10 -- becomes one
object whose shape keys morph the polytope through the sphere (p = 2) towards its dual.
All keys share one mesh of directions ``u`` (an icosphere, a circle in 2-D); key k puts
each vertex on the level set of network k, at ``r_k(u) u`` with ``r_k = f_k^(-1/deg)``
(:mod:`neuralpoly_core.polytope.sweep`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import bpy
import numpy as np

from . import blender_mesh
from .neuralpoly_core.network.architecture import format_p
from .neuralpoly_core.errors import NeuralPolyError
from .neuralpoly_core.sweeps.figures import FIGURE_CAPTIONS, FIGURES, FigureNet
from .neuralpoly_core.mesh import PolyMesh
from .neuralpoly_core.network import Network
from .neuralpoly_core.polytope.sweep import sweep_order, sweep_shapes

#: Figures whose networks share widths and differ in p: animatable as p-sweeps.
SWEEP_FIGURES = tuple(f for f, nets in FIGURES.items()
                      if len({(n.dim, n.arch.widths) for n in nets}) == 1
                      and len({n.arch.ps for n in nets}) > 1)
#: Shape-key positions of consecutive keys in an absolute (non-relative) key block list.
KEY_FRAME_STEP = 10.0


def figure_items() -> list[tuple[str, str, str]]:
    """EnumProperty items for the paper figures."""
    return [(str(f), f"Fig. {f}", FIGURE_CAPTIONS.get(f, "")) for f in sorted(FIGURES)]


def sweep_figure_items() -> list[tuple[str, str, str]]:
    return [(str(f), f"Fig. {f}", FIGURE_CAPTIONS.get(f, "")) for f in SWEEP_FIGURES]


@dataclass(frozen=True)
class FigureEntry:
    """One object of a figure layout: which network, and which slice of it (d > 3)."""

    net: FigureNet
    slice_theta: float | None
    label: str


def slice_label(theta: float) -> str:
    """``θ = 3π/10`` for the paper's angles, else the angle in radians."""
    k = theta * 10.0 / math.pi
    if abs(k - round(k)) < 1e-5:  # angles pass through float32 properties
        n = int(round(k))
        return "\u03b8 = 0" if n == 0 else f"\u03b8 = {'' if n == 1 else n}\u03c0/10"
    return f"\u03b8 = {theta:.4g}"


def figure_entries(figure: int) -> list[FigureEntry]:
    nets = FIGURES.get(int(figure))
    if nets is None:
        raise NeuralPolyError(f"no paper figure {figure}; figures with networks are "
                              f"{', '.join(str(f) for f in sorted(FIGURES))}")
    out = []
    for net in nets:
        if net.slice_thetas:
            out += [FigureEntry(net, t, f"{net.arch}  {slice_label(t)}") for t in net.slice_thetas]
        else:
            out.append(FigureEntry(net, None, str(net.arch)))
    return out


def row_positions(radii: list[float], gap: float) -> list[float]:
    """X coordinates that set shapes of the given radii side by side, ``gap`` apart, from 0."""
    xs: list[float] = []
    x = 0.0
    for i, r in enumerate(radii):
        if i:
            x += radii[i - 1] + gap + r
        xs.append(x)
    return xs


def add_label(collection: bpy.types.Collection, parent: bpy.types.Object, text: str, *,
              radius: float, size: float, flat: bool) -> bpy.types.Object:
    """A text object under ``parent``: lying below it in the XY plane (2-D) or standing (3-D)."""
    curve = cast(bpy.types.TextCurve, bpy.data.curves.new(f"{parent.name} label", "FONT"))
    curve.body = text
    curve.align_x = "CENTER"
    curve.align_y = "TOP"
    curve.size = 0.22 * size
    label = bpy.data.objects.new(f"{parent.name} label", curve)
    collection.objects.link(label)
    label.parent = parent
    gap = radius + 0.15 * size
    if flat:
        label.location = (0.0, -gap, 0.0)
    else:
        label.rotation_euler = (math.pi / 2, 0.0, 0.0)
        label.location = (0.0, 0.0, -gap)
    return label


# ----------------------------------------------------------------------------------------
# p-sweep animation
# ----------------------------------------------------------------------------------------
def key_name(net: Network, meta: dict, same_widths: bool) -> str:
    """``p=1.5`` within a p-sweep (same widths); the type, e.g. ``(4,2;1)``, otherwise."""
    ps = [layer.activation.p for layer in net.layers if layer.activation.p is not None]
    if same_widths and ps and len(set(ps)) == 1:
        return f"p={format_p(ps[0])}"
    return str(meta.get("type") or f"degree {net.degree:g}")


def _fcurves(id_data: bpy.types.Key) -> list:
    """F-curves of an ID's action (Blender 4.2 legacy actions and 4.4+/5.x slotted actions)."""
    ad = id_data.animation_data
    if ad is None or ad.action is None:
        return []
    action = ad.action
    legacy = getattr(action, "fcurves", None)  # removed in Blender 5.0
    if legacy is not None:
        return list(legacy)
    from bpy_extras import anim_utils
    bag: Any = anim_utils.action_get_channelbag_for_slot(action, ad.action_slot)  # type: ignore[func-returns-value]
    return [] if bag is None else list(bag.fcurves)


def build_sweep_mesh(obj: bpy.types.Object, name: str, models: list[tuple[Network, dict]], *,
                     resolution: int, size: float, frame_start: int, frames_per_step: int) -> bpy.types.Mesh:
    """Give ``obj`` a new mesh whose absolute shape keys step through ``models``.

    The key data's ``eval_time`` is keyframed linearly from ``frame_start`` to
    ``frame_start + (n - 1) * frames_per_step``; the old mesh is removed if unused.
    """
    models = sweep_order(models)
    topology, shapes = sweep_shapes(models, resolution)
    base = PolyMesh(shapes[0], topology.corners, topology.face_sizes)
    me = blender_mesh.new_mesh(name, base, size=size, smooth=models[0][0].dim == 3)
    old = obj.data
    obj.data = me
    try:
        same_widths = len({net.widths for net, _ in models}) == 1
        for (net, meta), P in zip(models, shapes):
            key = obj.shape_key_add(name=key_name(net, meta, same_widths), from_mix=False)
            key.data.foreach_set("co", np.ascontiguousarray(P * size, dtype=np.float32).ravel())
            key.interpolation = "KEY_LINEAR"
        keys = me.shape_keys
        assert keys is not None
        keys.use_relative = False
        last = (len(models) - 1) * KEY_FRAME_STEP
        keys.eval_time = 0.0
        keys.keyframe_insert("eval_time", frame=frame_start)
        keys.eval_time = last
        keys.keyframe_insert("eval_time", frame=frame_start + (len(models) - 1) * frames_per_step)
        for fc in _fcurves(keys):
            for kp in fc.keyframe_points:
                kp.interpolation = "LINEAR"
        keys.eval_time = 0.0
    except BaseException:
        obj.data = old
        bpy.data.meshes.remove(me)
        raise
    if isinstance(old, bpy.types.Mesh) and old.users == 0:
        bpy.data.meshes.remove(old)
    return me
