"""Networks: layers, activations, the ``(n;p)`` type notation and model files, evaluated with numpy."""

from .architecture import ArchType, check_dim, format_p, parse_ps, parse_type, parse_widths, type_of
from .model import ACTIVATIONS, OUTPUTS, Activation, Layer, Network, Output, polytope_network
from .modelfile import load_model, load_model_with_meta, model_from_json, model_to_json, save_model

__all__ = ["Activation", "Layer", "Network", "Output", "polytope_network", "ACTIVATIONS", "OUTPUTS",
           "ArchType", "parse_type", "parse_widths", "parse_ps", "format_p", "check_dim", "type_of",
           "load_model", "load_model_with_meta", "save_model", "model_to_json", "model_from_json"]
