"""Training with torch (imported lazily): neural polytopes, the paper's baseline, sphere sampling, SDF fits."""

from .baseline import dense_sphere_mse, recipe_train, sphere_mse_exact
from .polytope import DEFAULT_TOL, OPTIMIZERS, TrainResult, default_n_points, train_polytope, train_sweep
from .sampling import sphere_points
from .hashgrid_torch import HashGridSpec, build_torch_model, parse_hashgrid_spec, to_network
from .sdf import fit_sdf
from .torch_access import torch_available

__all__ = ["TrainResult", "torch_available", "train_polytope", "train_sweep", "recipe_train",
           "dense_sphere_mse", "sphere_mse_exact", "default_n_points", "OPTIMIZERS", "DEFAULT_TOL",
           "sphere_points", "fit_sdf", "HashGridSpec", "parse_hashgrid_spec", "build_torch_model", "to_network"]
