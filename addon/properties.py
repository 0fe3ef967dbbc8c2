"""Property definitions shared by the operators and the sidebar settings.

Each group is a mixin of annotated ``bpy.props`` definitions: an operator inherits them
(so every setting is an operator property, scriptable and redoable with F9) and so does the
scene's settings group that the sidebar panel edits (``Scene.neuralpoly_settings``).

Numeric settings have soft limits only: a value typed or scripted outside them is refused
by the add-on with a message that names the problem, never clamped silently.
"""

from __future__ import annotations

import math

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, FloatVectorProperty, IntProperty,
                       StringProperty)

from . import presets
from .api import ExtractSettings, TrainSettings

DEVICE_ITEMS = [
    ("AUTO", "Auto", "CUDA when PyTorch sees a GPU, else the CPU"),
    ("CPU", "CPU", "Train on the CPU"),
    ("CUDA", "CUDA", "Train on an NVIDIA GPU (needs a CUDA build of PyTorch)"),
]
METHOD_ITEMS = [
    ("AUTO", "Auto", "Exact for p = 1 in every layer, radial otherwise"),
    ("EXACT", "Exact", "Exact polytope with planar n-gon faces (p = 1 only)"),
    ("RADIAL", "Radial", "Mesh of the sphere mapped onto f = 1 along rays (any p)"),
]


class ModelProps:
    dim: IntProperty(  # type: ignore[valid-type]
        name="Dimension", default=3, soft_min=2, soft_max=8,
        description="Input dimension d: the level set f = 1 lies in R^d (d > 3 is shown as a 3-D slice)")
    widths: StringProperty(  # type: ignore[valid-type]
        name="Widths", default="4", description="Hidden layer widths, comma-separated, e.g. 4 or 4,2")
    p: StringProperty(  # type: ignore[valid-type]
        name="p", default="1",
        description="Exponent p of the activation |x|^p: one value for all layers, or one per layer (1,2)")


class TrainProps:
    seed: IntProperty(name="Seed", default=0, soft_min=0,  # type: ignore[valid-type]
                      description="Random seed: the same settings give the same polytope")
    restarts: IntProperty(name="Restarts", default=8, soft_min=1, soft_max=64,  # type: ignore[valid-type]
                          description="Random starts trained together; the best is kept")
    steps: IntProperty(name="Max Steps", default=0, soft_min=0, soft_max=2000,  # type: ignore[valid-type]
                       description="Training length: most optimiser steps (0 = until converged)")
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="AUTO")  # type: ignore[valid-type]

    def train_settings(self) -> TrainSettings:
        return TrainSettings(self.seed, self.restarts, self.steps, self.device.lower()).validated()


class ExtractProps:
    method: EnumProperty(name="Extraction", items=METHOD_ITEMS, default="AUTO")  # type: ignore[valid-type]
    resolution: IntProperty(  # type: ignore[valid-type]
        name="Resolution", default=32, soft_min=3, soft_max=256,
        description="Radial extraction: subdivisions of each icosahedron edge (2-D: directions)")
    use_slice: BoolProperty(  # type: ignore[valid-type]
        name="Slice", default=False,
        description="d > 3: show the 3-D slice x3 = .. = 0, x(d-1) = x(d) tan(theta)")
    slice_theta: FloatProperty(  # type: ignore[valid-type]
        name="Slice Angle", default=math.pi / 10, subtype="ANGLE", unit="ROTATION",
        description="Angle theta of the 3-D slice of a d > 3 polytope")
    size: FloatProperty(name="Size", default=1.0, soft_min=0.01, soft_max=100.0,  # type: ignore[valid-type]
                        subtype="DISTANCE", unit="LENGTH",
                        description="Scale of the polytope (f = 1 lies near the unit sphere)")

    def extract_settings(self) -> ExtractSettings:
        return ExtractSettings(self.method.lower(), self.resolution,
                               self.slice_theta if self.use_slice else None, self.size)


class FigureProps:
    figure: EnumProperty(name="Figure", items=presets.figure_items(), default="7",  # type: ignore[valid-type]
                         description="Figure of the Neural Polytopes paper")
    gap: FloatProperty(name="Gap", default=0.6, soft_min=0.0, soft_max=10.0,  # type: ignore[valid-type]
                       description="Space between neighbours, relative to Size")


class SweepProps:
    sweep_figure: EnumProperty(name="p-Sweep", items=presets.sweep_figure_items(), default="7",  # type: ignore[valid-type]
                               description="Figure whose networks differ only in p")
    sweep_resolution: IntProperty(name="Resolution", default=16, soft_min=3, soft_max=128,  # type: ignore[valid-type]
                                  description="Resolution of the morphing sphere mesh")
    frames_per_step: IntProperty(name="Frames per Step", default=24, soft_min=1, soft_max=240,  # type: ignore[valid-type]
                                 description="Frames from one p to the next")


class LocationProps:
    location: FloatVectorProperty(name="Location", subtype="TRANSLATION", size=3,  # type: ignore[valid-type]
                                  options={"SKIP_SAVE"},  # not remembered: each run starts at the cursor
                                  description="Where to put it (default: the 3D cursor)")


class NeuralPolySettings(ModelProps, TrainProps, ExtractProps, FigureProps, SweepProps,
                         bpy.types.PropertyGroup):
    """The sidebar's settings (``Scene.neuralpoly_settings``), saved with the scene."""


def copy_settings(source, target, names) -> None:
    """Copy the named properties (e.g. from the scene settings to an operator's properties)."""
    for name in names:
        setattr(target, name, getattr(source, name))


MODEL_NAMES = ("dim", "widths", "p")
TRAIN_NAMES = ("seed", "restarts", "steps", "device")
EXTRACT_NAMES = ("method", "resolution", "use_slice", "slice_theta", "size")
