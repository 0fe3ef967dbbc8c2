"""Showing linear regions: distinct colours per region and the region mesh with per-face data.

What the CLI (``neuralpoly regions --out/--png``), the ``count_regions`` job and the Blender
add-on draw, made in one place: :func:`region_mesh` (the tessellation's mesh, 3-D cells
optionally shrunk towards their centroids so each cell can be seen), :func:`face_data`
(``region_id``, ``popcount`` and an RGB colour per face) and :func:`region_colors`.
"""

from __future__ import annotations

import colorsys

import math

import numpy as np

from .._checks import check_float
from ..errors import NeuralPolyError
from ..mesh.polymesh import PolyMesh

__all__ = ["region_colors", "region_mesh", "face_data", "popcounts", "plot_regions_png", "bounds_summary",
           "format_count"]

_GOLDEN = 0.6180339887498949
#: Integers above this print as strings in JSON (2^53: what a double, and so JavaScript, holds exactly).
_EXACT_JSON = 2 ** 53


#: Integers with more decimal digits than this are written in scientific notation (Python refuses to
#: print integers over 4,300 digits, and 2^N for N = 10^8 units has 30 million).
_MAX_DIGITS = 1000


def format_count(value: int, grouped: bool = False) -> str:
    """An exact integer as text: its decimal digits (``grouped``: with thousands separators), or
    ``'d.dddde+K'`` when it has more than 1,000 digits (then rounded to five significant digits)."""
    if value.bit_length() * 0.30103 <= _MAX_DIGITS:
        return format(value, ",") if grouped else str(value)
    shift = value.bit_length() - 64
    log10 = math.log10(value >> shift) + shift * math.log10(2.0)
    exponent = math.floor(log10)
    mantissa = round(10 ** (log10 - exponent), 4)
    if mantissa >= 10.0:                            # 9.99996... rounds up to the next power of ten
        mantissa, exponent = mantissa / 10.0, exponent + 1
    return f"{mantissa:.4f}e+{exponent}"


def bounds_summary(bounds: dict) -> dict:
    """:func:`~neuralpoly_core.regions.all_bounds` made JSON-safe: integers above 2^53 become
    their decimal strings (JSON readers that parse numbers as doubles would round them), or
    :func:`format_count`'s scientific notation beyond 1,000 digits."""
    return {k: (format_count(v) if isinstance(v, int) and not isinstance(v, bool) and abs(v) > _EXACT_JSON else v)
            for k, v in bounds.items()}


def region_colors(count: int) -> np.ndarray:
    """``count`` distinct RGB colours in [0, 1], (count, 3): hues stepped by the golden ratio
    (consecutive ids far apart on the colour wheel), saturation and value cycling over three
    and two levels so that ids whose hues come close again still differ."""
    i = np.arange(int(count))
    h = (i * _GOLDEN) % 1.0
    s = np.array([0.55, 0.75, 0.4])[i % 3]
    v = np.array([0.95, 0.78])[(i // 3) % 2]
    return np.array([colorsys.hsv_to_rgb(*hsv) for hsv in zip(h, s, v)], dtype=np.float64).reshape(-1, 3)


def popcounts(tess) -> np.ndarray:
    """Per region, the number of ones of its pattern as :meth:`RegionTessellation.row_patterns`
    writes it (ReLU / ``|x|``: active units; a maxout unit always adds one), (R,) int64."""
    return tess.row_patterns().sum(axis=1).astype(np.int64)


def region_mesh(tess, shrink: float = 0.0) -> PolyMesh:
    """The tessellation's mesh (:meth:`RegionTessellation.mesh`, local coordinates, ``region_ids``
    the region of each face), with each region's corners moved ``shrink`` of the way towards
    the region's centroid (0: the conforming mesh itself; then regions share vertices; > 0:
    every region gets its own copies of its vertices).

    Raises
    ------
    NeuralPolyError
        In 1-D (intervals have no mesh), or for ``shrink`` outside [0, 1).
    """
    shrink = check_float(shrink, "shrink", 0.0, 1.0, hi_open=True)
    mesh = tess.mesh()
    fr = np.asarray(tess.face_region, dtype=np.int64)
    if shrink == 0.0:
        return PolyMesh(mesh.vertices, mesh.corners, mesh.face_sizes, fr, region_patterns=mesh.region_patterns,
                        info=dict(mesh.info))
    R = max(tess.count, 1)
    own = np.repeat(fr, mesh.face_sizes)
    keys, inv = np.unique(mesh.corners * R + own, return_inverse=True)
    vid, rid = keys // R, keys % R
    cen = np.zeros((tess.count, 3))
    cen[:, :tess.dim] = tess.centroids()
    V = mesh.vertices[vid]
    V = cen[rid] + (1.0 - shrink) * (V - cen[rid])
    return PolyMesh(V, inv.ravel(), mesh.face_sizes, fr, region_patterns=mesh.region_patterns,
                    info={**mesh.info, "shrink": shrink})


def face_data(tess, mesh: PolyMesh) -> dict:
    """Per face of ``mesh`` (one made by :func:`region_mesh`): ``region_id`` (F,) int64,
    ``popcount`` (F,) int64 and ``color`` (F, 3) float64 (:func:`region_colors` of the region)."""
    rid = np.asarray(mesh.region_ids, dtype=np.int64)
    if len(rid) and (rid.min() < 0 or rid.max() >= tess.count):
        raise NeuralPolyError("the mesh's region ids do not belong to this tessellation")
    return {"region_id": rid, "popcount": popcounts(tess)[rid], "color": region_colors(tess.count)[rid]}


def plot_regions_png(tess, path, *, title: str | None = None) -> None:
    """A PNG of a 2-D tessellation: every region filled with its colour, thin dark edges
    (matplotlib, written atomically).

    Raises
    ------
    NeuralPolyError
        If the tessellation is not 2-D, or matplotlib is missing.
    """
    if tess.dim != 2:
        raise NeuralPolyError(f"the picture is of 2-D regions; this tessellation is {tess.dim}-D "
                              "(give a plane: --plane ORIGIN U V)")
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot
        from matplotlib.collections import PolyCollection
    except ImportError:
        raise NeuralPolyError("the region picture needs matplotlib: pip install matplotlib") from None
    from ..fileio import atomic_open
    mesh = tess.mesh()
    V = mesh.vertices[:, :2]
    polys = np.split(V[mesh.corners], np.cumsum(mesh.face_sizes)[:-1])
    colors = region_colors(tess.count)[tess.face_region]
    fig, ax = pyplot.subplots(figsize=(6, 6), dpi=150)
    try:
        ax.add_collection(PolyCollection(polys, facecolors=colors, edgecolors=(0.1, 0.1, 0.1, 0.6),
                                         linewidths=0.3))
        ax.set_xlim(float(tess.lo[0]), float(tess.hi[0]))
        ax.set_ylim(float(tess.lo[1]), float(tess.hi[1]))
        ax.set_aspect("equal")
        ax.set_title(title or f"{tess.count:,} linear regions, {tess.pieces:,} pieces")
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format="png", bbox_inches="tight")
    finally:
        pyplot.close(fig)
