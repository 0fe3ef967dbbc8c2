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

    def use_cursor(self, context) -> None:
        """Unless the location was given, start from the 3D cursor (operators' invoke)."""
        if not self.properties.is_property_set("location"):  # type: ignore[attr-defined]
            self.location = context.scene.cursor.location

    def chosen_location(self):
        """The location if it was given (or set by :meth:`use_cursor`), else None: the 3D cursor."""
        return self.location if self.properties.is_property_set("location") else None  # type: ignore[attr-defined]


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


LEVELSET_METHOD_ITEMS = [
    ("AUTO", "Auto", "Exact for piecewise-linear networks (ReLU, |x|, identity), marching cubes otherwise"),
    ("EXACT", "Exact", "Exact level set with planar faces (piecewise-linear networks only)"),
    ("MARCHING", "Marching", "Marching cubes on a grid, vertices moved onto the level set (any network)"),
    ("TRILINEAR", "Trilinear", "Kim's method for trilinear hash-grid networks: planar within each trilinear cell"),
]
OPERATION_ITEMS = [
    ("UNION", "Union", "Everything inside any of the selected objects"),
    ("INTERSECTION", "Intersection", "What lies inside all selected objects"),
    ("DIFFERENCE", "Difference", "The active object minus the other selected objects"),
]
BOOLEAN_MODE_ITEMS = [
    ("HARD", "Hard", "Exact ReLU network: the polyhedral result itself (same volume as Blender's Boolean)"),
    ("SOFT", "Soft", "Sigmoid network: edges and joins blended by the sharpness, like metaballs"),
]


class LevelSetProps:
    """Drawing any network's level set f = c in a box."""

    level: FloatProperty(name="Level", default=0.0,  # type: ignore[valid-type]
                         description="Draw the level set f = c of this level c")
    use_bbox: BoolProperty(  # type: ignore[valid-type]
        name="Custom Box", default=False,
        description="Extract in the box below (otherwise the model file's box, else [-1, 1] per axis)")
    bbox_min: FloatVectorProperty(name="Box Min", size=3, default=(-1.0, -1.0, -1.0),  # type: ignore[valid-type]
                                  description="Lower corner of the extraction box (2-D networks use x, y)")
    bbox_max: FloatVectorProperty(name="Box Max", size=3, default=(1.0, 1.0, 1.0),  # type: ignore[valid-type]
                                  description="Upper corner of the extraction box (2-D networks use x, y)")
    levelset_method: EnumProperty(name="Extraction", items=LEVELSET_METHOD_ITEMS,  # type: ignore[valid-type]
                                  default="AUTO")
    grid_resolution: IntProperty(  # type: ignore[valid-type]
        name="Grid Resolution", default=64, soft_min=4, soft_max=256,
        description="Marching cubes: grid cells per axis of the box")
    cap: BoolProperty(name="Cap", default=False,  # type: ignore[valid-type]
                      description="Close the surface with the box sides where the solid f < c meets them")

    def level_set_settings(self):
        """The settings (a 2-D network uses the x, y of the box corners)."""
        from .levelset_objects import LevelSetSettings
        box = (tuple(self.bbox_min), tuple(self.bbox_max)) if self.use_bbox else None
        return LevelSetSettings(self.level, box, self.levelset_method.lower(), self.grid_resolution, self.cap)


class BooleanProps:
    """Boolean algebra of neurons on convex mesh objects."""

    operation: EnumProperty(name="Operation", items=OPERATION_ITEMS, default="UNION")  # type: ignore[valid-type]
    boolean_mode: EnumProperty(name="Mode", items=BOOLEAN_MODE_ITEMS, default="HARD")  # type: ignore[valid-type]
    sharpness: FloatProperty(  # type: ignore[valid-type]
        name="Sharpness", default=8.0, soft_min=0.5, soft_max=200.0,
        description="Soft mode: sigmoid scale of the face half-spaces per unit of distance (low: blended)")
    boolean_resolution: IntProperty(  # type: ignore[valid-type]
        name="Resolution", default=64, soft_min=8, soft_max=256,
        description="Soft mode: marching-cubes cells per axis of the box around the inputs")
    margin: FloatProperty(  # type: ignore[valid-type]
        name="Margin", default=0.25, soft_min=0.0, soft_max=2.0,
        description="Extraction box: the inputs' bounds grown by this fraction of their largest side")


class HeightmapProps:
    """The metaball heightmap."""

    blobs: IntProperty(name="Blobs", default=3, soft_min=1, soft_max=16,  # type: ignore[valid-type]
                       description="Number of metaballs")
    blob_seed: IntProperty(name="Seed", default=0, soft_min=0,  # type: ignore[valid-type]
                           description="Random seed of the blobs' rest positions")
    blob_radius: FloatProperty(name="Blob Radius", default=0.3, soft_min=0.01, soft_max=10.0,  # type: ignore[valid-type]
                               subtype="DISTANCE", unit="LENGTH", description="Radius of each blob")
    blob_sharpness: FloatProperty(  # type: ignore[valid-type]
        name="Sharpness", default=12.0, soft_min=0.5, soft_max=100.0,
        description="Sigmoid scale of the blobs' edges per unit of distance (low: round, merging blobs)")
    heightmap_size: FloatProperty(name="Size", default=2.0, soft_min=0.1, soft_max=100.0,  # type: ignore[valid-type]
                                  subtype="DISTANCE", unit="LENGTH", description="Side of the square grid")
    heightmap_resolution: IntProperty(name="Resolution", default=64, soft_min=2, soft_max=512,  # type: ignore[valid-type]
                                      description="Grid cells per side")
    blob_height: FloatProperty(name="Height", default=0.5, soft_min=-10.0, soft_max=10.0,  # type: ignore[valid-type]
                               subtype="DISTANCE", unit="LENGTH", description="Height of a blob's plateau")
    amplitude: FloatProperty(name="Amplitude", default=0.25, soft_min=0.0, soft_max=10.0,  # type: ignore[valid-type]
                             subtype="DISTANCE", unit="LENGTH",
                             description="Radius of the circle each blob moves on")
    period: IntProperty(name="Period", default=120, soft_min=2, soft_max=10000,  # type: ignore[valid-type]
                        description="Frames for one round of the blobs (keyed from the scene's start frame)")
    keyframe_step: IntProperty(name="Key Every", default=5, soft_min=1, soft_max=100,  # type: ignore[valid-type]
                               description="Frames between keyframes of the biases")

    def heightmap_settings(self) -> dict:
        return dict(blobs=self.blobs, seed=self.blob_seed, radius=self.blob_radius, sharpness=self.blob_sharpness,
                    size=self.heightmap_size, resolution=self.heightmap_resolution, height=self.blob_height,
                    amplitude=self.amplitude, period=self.period, keyframe_step=self.keyframe_step)


LOWPOLY_NET_ITEMS = [
    ("RELU", "ReLU MLP", "ReLU network with biases and a linear head; size DEPTHxWIDTH, e.g. 8x32"),
    ("HASHGRID", "Hash Grid", "Multi-resolution hash-grid encoding and a small ReLU MLP; size e.g. "
                             "simplex,levels=4,res=4-32,mlp=2x32 (or trilinear,...)"),
]
LOWPOLY_METHOD_ITEMS = [
    ("EXACT", "Exact", "The fitted network's exact level set: planar n-gon faces"),
    ("MARCHING", "Marching", "Marching cubes on a grid of the network's box"),
    ("TRILINEAR", "Trilinear", "Kim's method for trilinear hash grids (network Hash Grid, size starting "
     "'trilinear,'): planar within each trilinear cell"),
]


class LowPolyProps:
    """Neural low-poly: fitting a network to a mesh object's signed distance."""

    lowpoly_net: EnumProperty(name="Network", items=LOWPOLY_NET_ITEMS, default="RELU")  # type: ignore[valid-type]
    lowpoly_size: StringProperty(  # type: ignore[valid-type]
        name="Size", default="8x32",
        description="Network size: hidden layers x units for a ReLU MLP (e.g. 8x32, 4x64); for a hash grid "
                    "simplex|trilinear,levels=L,features=F,table=LOG2,res=MIN-MAX,mlp=DxW")
    lowpoly_seconds: FloatProperty(  # type: ignore[valid-type]
        name="Time Budget (s)", default=30.0, soft_min=1.0, soft_max=600.0,
        description="Seconds of training (the fit stops at this budget)")
    lowpoly_seed: IntProperty(name="Seed", default=0, soft_min=0,  # type: ignore[valid-type]
                              description="Seeds the samples, the batches and the initial weights")
    lowpoly_method: EnumProperty(name="Extraction", items=LOWPOLY_METHOD_ITEMS,  # type: ignore[valid-type]
                                 default="EXACT")
    lowpoly_resolution: IntProperty(  # type: ignore[valid-type]
        name="Grid Resolution", default=128, soft_min=16, soft_max=512,
        description="Marching cubes: grid cells per axis of the network's box")
    lowpoly_device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="CPU")  # type: ignore[valid-type]
    lowpoly_samples: IntProperty(  # type: ignore[valid-type]
        name="Comparison Samples", default=200_000, soft_min=1000, soft_max=2_000_000,
        description="Surface points each way for the Chamfer and Hausdorff distances to the input")
    lowpoly_vertex_budget: IntProperty(  # type: ignore[valid-type]
        name="Vertex Budget", default=0, min=0, soft_max=100_000,
        description="At most this many vertices (0: no limit): coplanar faces are merged, then the smallest "
                    "patches collapsed (their new vertices leave the exact surface)")

    def lowpoly_settings(self):
        from .lowpoly_objects import LowPolySettings
        return LowPolySettings(f"{self.lowpoly_net.lower()}:{self.lowpoly_size.strip()}", self.lowpoly_seconds,
                               self.lowpoly_seed, self.lowpoly_method.lower(), self.lowpoly_resolution,
                               self.lowpoly_device.lower(), self.lowpoly_samples, self.lowpoly_vertex_budget)


class GeneralSettings(LevelSetProps, BooleanProps, HeightmapProps, LowPolyProps, bpy.types.PropertyGroup):
    """The sidebar's settings of level sets, booleans and heightmaps (``Scene.neuralpoly_general``)."""


LEVELSET_NAMES = ("level", "use_bbox", "bbox_min", "bbox_max", "levelset_method", "grid_resolution", "cap")
BOOLEAN_NAMES = ("operation", "boolean_mode", "sharpness", "boolean_resolution", "margin")
HEIGHTMAP_NAMES = ("blobs", "blob_seed", "blob_radius", "blob_sharpness", "heightmap_size", "heightmap_resolution",
                   "blob_height", "amplitude", "period", "keyframe_step")
LOWPOLY_NAMES = ("lowpoly_net", "lowpoly_size", "lowpoly_seconds", "lowpoly_seed", "lowpoly_method",
                 "lowpoly_resolution", "lowpoly_device", "lowpoly_samples", "lowpoly_vertex_budget")
