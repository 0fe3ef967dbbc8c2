"""p-sweeps: several neural polytopes of one input dimension drawn on one mesh of directions.

A p-sweep -- e.g. (3;p) for p = 0.6 ... 10 -- morphs a polytope through the sphere (p = 2)
towards its dual. Drawn radially, every network of the sweep shares one topology: a mesh of
unit directions ``u`` (an icosphere in 3-D, a circle of directions in 2-D); network k puts
each vertex at ``r_k(u) u`` on its level set f = 1, with ``r_k = f_k^(-1/deg)``
(:func:`~neuralpoly_core.polytope.radial.radial_function`). The Blender add-on turns the
shapes into shape keys.
"""

from __future__ import annotations

import numpy as np

from ..errors import NeuralPolyError
from ..mesh.polymesh import PolyMesh
from ..network.model import Network
from .radial import icosphere, radial_function

__all__ = ["sweep_order", "sweep_shapes"]

Model = tuple[Network, dict]


def sweep_order(models: list[Model]) -> list[Model]:
    """The ``(network, meta)`` pairs of a sweep, sorted by degree (stable: ties keep their order).

    Raises
    ------
    NeuralPolyError
        Unless there are at least two networks, all neural polytopes
        (:attr:`Network.is_neural_polytope`) with one input dimension, 2 or 3.
    """
    if len(models) < 2:
        raise NeuralPolyError("a p-sweep animation needs at least two networks")
    dims = {net.dim for net, _ in models}
    if len(dims) != 1:
        raise NeuralPolyError(f"the networks of a p-sweep must have one input dimension, got {sorted(dims)}")
    dim = dims.pop()
    if dim not in (2, 3):
        raise NeuralPolyError(f"p-sweeps are animated in 2-D or 3-D; these networks have d = {dim}")
    for net, meta in models:
        if not net.is_neural_polytope:
            raise NeuralPolyError(f"network {meta.get('type') or net!r} is not a neural polytope "
                                  "(it has biases, non-homogeneous activations or no sum head)")
    return sorted(models, key=lambda m: float(m[0].degree or 0.0))


def sweep_shapes(models: list[Model], resolution: int) -> tuple[PolyMesh, list[np.ndarray]]:
    """The shared topology and every network's vertex positions on it.

    Parameters
    ----------
    models : list of (Network, dict)
        Networks of one input dimension (2 or 3), e.g. ordered by :func:`sweep_order`.
    resolution : int
        3-D: subdivisions of each icosahedron edge (:func:`icosphere`); 2-D: directions (>= 3).

    Returns
    -------
    topology : PolyMesh
        The mesh of unit directions (triangles in 3-D; one polygon in 2-D).
    shapes : list of (V, 3) arrays
        Vertex positions of each network, in order (2-D shapes lie in z = 0).
    """
    dim = models[0][0].dim
    if dim == 3:
        U, tris = icosphere(resolution)
        topology = PolyMesh(U, tris.ravel(), np.full(len(tris), 3))
    else:
        if resolution < 3:
            raise NeuralPolyError(f"a 2-D sweep needs resolution >= 3 directions, got {resolution}")
        t = 2.0 * np.pi * np.arange(resolution) / resolution
        U = np.stack([np.cos(t), np.sin(t)], axis=1)
        topology = PolyMesh(U, np.arange(resolution), np.array([resolution]))
    shapes = []
    for net, _ in models:
        P = U * radial_function(net, U)[:, None]
        if dim == 2:
            P = np.concatenate([P, np.zeros((len(P), 1))], axis=1)
        shapes.append(P)
    return topology, shapes
