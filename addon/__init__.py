"""Neural Polytopes for Blender: train small networks, add the polytopes they draw as meshes.

A bias-free network with activation |x|^p and a summing output, trained so that f = 1 on
the unit sphere, draws the level set f = 1: a neural polytope. This extension puts the
``neuralpoly_core`` package (bundled inside it) into Blender:

* View3D > Sidebar > Neural Polytopes: settings, Generate, paper presets, p-sweep
  animations, facts of the active polytope, re-extraction, model files and export;
* operators for scripts and ``blender -b``, e.g.
  ``bpy.ops.neuralpoly.add_polytope(dim=3, widths="4,2", p="1", seed=0)``;
* the scripting API :mod:`.api` (``add_polytope``, ``insert_polytope``, ``reextract``,
  ``add_figure``, ``animate_sweep``, ``load_model_file``, ``export_selection``, ...);
* the core itself as the subpackage ``neuralpoly_core`` of this package.

Installed, this package is ``bl_ext.<repository>.neuralpoly``; nothing here depends on
that name (all imports are relative).
"""

from __future__ import annotations

import bpy
from bpy.props import PointerProperty

from . import (api, general_operators, heightmap_objects, model_store, operators, progress_ui, properties, ui,
               worker_client)
from . import folding_objects, folding_operators, regions_operators
from . import neuralpoly_core

__all__ = ["api", "neuralpoly_core", "register", "unregister"]

_classes = (
    (model_store.NeuralPolyBias, model_store.NeuralPolyObjectProperties, properties.NeuralPolySettings,
     properties.GeneralSettings)
    + operators.classes + general_operators.classes + ui.classes
    + folding_operators.classes + regions_operators.classes
)


def _menu_add(self, context) -> None:
    self.layout.operator("neuralpoly.add_polytope", text="Neural Polytope", icon="MESH_ICOSPHERE")


def _menu_add_heightmap(self, context) -> None:
    self.layout.operator("neuralpoly.add_heightmap", text="Metaball Heightmap", icon="MOD_DISPLACE")


def _menu_boolean(self, context) -> None:
    self.layout.operator("neuralpoly.boolean", text="Neural Boolean", icon="MOD_BOOLEAN")


def _menu_lowpoly(self, context) -> None:
    self.layout.operator("neuralpoly.lowpoly", text="Neural Low-Poly", icon="MOD_DECIM")


def _menu_import(self, context) -> None:
    self.layout.operator("neuralpoly.load_model", text="Neural Polytope Model (.json)")


def register() -> None:
    for cls in _classes:
        bpy.utils.register_class(cls)
    bpy.types.Object.neuralpoly = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=model_store.NeuralPolyObjectProperties)
    bpy.types.Scene.neuralpoly_settings = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=properties.NeuralPolySettings)
    bpy.types.Scene.neuralpoly_general = PointerProperty(  # type: ignore[attr-defined,func-returns-value]
        type=properties.GeneralSettings)
    progress_ui.register()
    heightmap_objects.register()
    folding_objects.register()
    bpy.types.VIEW3D_MT_mesh_add.append(_menu_add)
    bpy.types.VIEW3D_MT_mesh_add.append(_menu_add_heightmap)
    bpy.types.VIEW3D_MT_mesh_add.append(regions_operators.menu_add)
    bpy.types.VIEW3D_MT_object.append(_menu_boolean)
    bpy.types.VIEW3D_MT_object.append(_menu_lowpoly)
    bpy.types.TOPBAR_MT_file_import.append(_menu_import)


def unregister() -> None:
    worker_client.shutdown_shared_worker()
    folding_objects.unregister()
    heightmap_objects.unregister()
    bpy.types.TOPBAR_MT_file_import.remove(_menu_import)
    bpy.types.VIEW3D_MT_object.remove(_menu_lowpoly)
    bpy.types.VIEW3D_MT_object.remove(_menu_boolean)
    bpy.types.VIEW3D_MT_mesh_add.remove(regions_operators.menu_add)
    bpy.types.VIEW3D_MT_mesh_add.remove(_menu_add_heightmap)
    bpy.types.VIEW3D_MT_mesh_add.remove(_menu_add)
    progress_ui.unregister()
    del bpy.types.Scene.neuralpoly_general  # type: ignore[attr-defined]
    del bpy.types.Scene.neuralpoly_settings  # type: ignore[attr-defined]
    del bpy.types.Object.neuralpoly  # type: ignore[attr-defined]
    for cls in reversed(_classes):
        bpy.utils.unregister_class(cls)
