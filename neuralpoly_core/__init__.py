"""neuralpoly_core: train small networks and extract the surfaces they draw as exact meshes.

Pure Python (numpy; torch only for training, imported when first needed); never imports bpy.
This package is the scripting API of neuralpoly and the engine of its CLI and Blender add-on.
Its packages are layers, each importing only from the ones below it:

=========  ==================================================================================
base       ``errors``, ``_checks`` (argument checks), ``fileio`` (atomic writes), ``reporting``
network    layers, activations, the ``(n;p)`` notation, model files
mesh       :class:`PolyMesh`, topology, triangulation, names, mesh files
extraction ``polytope`` (neural polytopes), ``levelset`` (box level sets), ``construct``
           (networks built by hand: boolean algebra, heightmaps)
analysis   ``summary`` (the facts of a mesh)
training   ``training`` (torch)
app        ``sweeps`` (paper figures, gallery), ``jobs``, ``cli``
=========  ==================================================================================

The verbs and types of the API are listed in ``__all__``; names that need torch load lazily.
"""

from . import _compat
from .errors import (Cancelled, ExtractionError, ModelFormatError, NeuralPolyError, TrainingDivergedError,
                     TypeSpecError)
from .levelset import extract_level_set
from .mesh import PolyMesh, describe, export_mesh, read_mesh
from .network import (Activation, ArchType, Layer, Network, Output, load_model, load_model_with_meta,
                      parse_type, polytope_network, save_model)
from .polytope import extract_polytope
from .summary import summarize

from .version import __version__

__all__ = [
    # types
    "Network", "Layer", "Activation", "Output", "ArchType", "PolyMesh",
    # verbs
    "polytope_network", "parse_type", "load_model", "load_model_with_meta", "save_model",
    "extract_polytope", "extract_level_set", "summarize", "describe", "export_mesh", "read_mesh",
    "train_polytope", "train_sweep",
    # errors
    "NeuralPolyError", "TypeSpecError", "ModelFormatError", "ExtractionError", "TrainingDivergedError",
    "Cancelled",
]

#: Names whose modules import torch when they run: loaded on first use.
_LAZY = {"train_polytope": "training", "train_sweep": "training"}

_compat.install(__name__)


def __getattr__(name):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    return _compat.moved_module(__name__, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
