"""neuralpoly_core: train small networks and extract the surfaces they draw as exact meshes.

Pure Python (numpy; torch only for training); never imports bpy. This package is the
scripting API of neuralpoly and the engine of its CLI and Blender add-on.
"""

from .architecture import ArchType, parse_type
from .errors import (Cancelled, ExtractionError, ModelFormatError, NeuralPolyError,
                     TrainingDivergedError, TypeSpecError)
from .mesh import PolyMesh
from .modelfile import load_model, load_model_with_meta, save_model
from .network import Activation, Layer, Network, Output, polytope_network

__version__ = "0.1.0"
