"""The public entry point of level sets: :func:`extract_level_set` picks the extractor.

Nothing inside :mod:`neuralpoly_core.levelset` imports this module back.
"""

from __future__ import annotations

from ..errors import ExtractionError
from ..mesh.polymesh import PolyMesh
from ..network.model import Network
from .exact import extract_level_set_exact
from .marching import extract_marching

__all__ = ["extract_level_set"]


def extract_level_set(net: Network, level: float = 0.0, bbox=(-1.0, 1.0), *, method: str = "exact",
                      resolution: int = 64, cap: bool = False, inside: str = "below",
                      merge_coplanar: bool = False, newton_steps: int = 3,
                      progress=None, cancel=None, workers: int | None = None,
                      trilinear_correction="surfaces") -> PolyMesh:
    """The level set ``f = level`` of a network inside a box, as a mesh.

    Parameters
    ----------
    net : Network
        A network with 2 or 3 inputs.
    level : float
        The level ``c``.
    bbox : (lo, hi) or (d, 2) array
        The cube ``[lo, hi]^d`` or per-axis bounds.
    method : {'exact', 'marching', 'trilinear'}
        ``exact`` for piecewise-linear networks (see :mod:`neuralpoly_core.levelset.exact`);
        ``marching`` samples a grid (any network, see :mod:`neuralpoly_core.levelset.marching`);
        ``trilinear`` Kim 2024's approximation for trilinear hash-grid networks (the exact
        extractor's ``trilinear=True``: planar within each trilinear cell, then the level-set
        vertices moved onto the curved surfaces, see ``trilinear_correction``).
    resolution : int
        Grid cells per axis for ``marching``.
    cap : bool
        Close the surface with the box sides inside the solid.
    inside : {'below', 'above'}
        Which side is the solid: ``f < level`` (default, signed-distance convention) or
        ``f > level``. Faces are oriented with normals out of the solid.
    merge_coplanar : bool
        (3-D exact) merge adjacent coplanar faces into one polygon and drop the vertices that
        become straight-angle on every face (see :func:`merge_coplanar_faces`).
    newton_steps : int
        ``marching`` only: Newton steps moving vertices onto the level set.
    progress : callable, optional
        ``progress(fraction, message)`` is called during the work ("layer 3 of 8"); a
        ``progress(fraction)`` of one argument works too, and returning False cancels.
    cancel : callable, optional
        ``cancel()`` returning True stops the work at the next check
        (:class:`~neuralpoly_core.errors.Cancelled`; see :class:`~neuralpoly_core.reporting.Reporter`).
    workers : int, optional
        ``exact`` only: threads that bound blocks of cells at once (default
        :func:`default_workers`: the usable cores, at most 4). The result does not depend on it.
    trilinear_correction : {'surfaces', 'kim', 'edge', 'none'}
        ``trilinear`` only (:mod:`neuralpoly_core.levelset.trilinear`): ``'surfaces'`` (default,
        Kim's Thm 4.7 solved exactly) puts each level-set vertex where f = level meets its
        edge's two curved faces, ``'kim'`` at Thm 4.7's diagonal-plane approximation of that
        point, ``'edge'`` at the root of f - level on the straight edge, ``'none'`` keeps the
        planar vertices (linear interpolation, Kim's default). ``info``: ``flatness_error``,
        ``max_level_error``, ``planar_level_error``.

    Returns
    -------
    PolyMesh
        With ``info``: method, vertices, faces, regions_crossed, seconds, max_level_error, ...
    """
    if method == "exact":
        return extract_level_set_exact(net, level, bbox, cap=cap, inside=inside,
                                       merge_coplanar=merge_coplanar, progress=progress,
                                       cancel=cancel, workers=workers)
    if method == "marching":
        return extract_marching(net, level, bbox, resolution, newton_steps=newton_steps, cap=cap,
                                inside=inside, progress=progress, cancel=cancel)
    if method == "trilinear":
        return extract_level_set_exact(net, level, bbox, cap=cap, inside=inside,
                                       merge_coplanar=merge_coplanar, progress=progress,
                                       cancel=cancel, workers=workers, trilinear=True,
                                       trilinear_correction=trilinear_correction)
    raise ExtractionError(f"unknown method {method!r}; expected 'exact', 'marching' or 'trilinear'")
