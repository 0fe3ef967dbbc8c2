"""The one summary of an extracted mesh: the facts the CLI prints as JSON and the add-on shows."""

from __future__ import annotations

import numpy as np

from .mesh.naming import describe
from .mesh.polymesh import PolyMesh
from .mesh.topology import curve_loops
from .network.model import Network

__all__ = ["summarize", "region_count", "trilinear_facts"]


def region_count(mesh: PolyMesh) -> int:
    """How many linear regions the faces of ``mesh`` lie in (faces without one, -1, left out)."""
    ids = np.asarray(mesh.region_ids)
    return int(len(np.unique(ids[ids >= 0])))


def _level_error(net: Network, mesh: PolyMesh, level: float) -> float:
    # extractors that know better (box level sets leave cap vertices out) record their own
    err = mesh.info.get("max_level_error")
    return float(mesh.level_error(net, level) if err is None else err)


def summarize(net: Network, mesh: PolyMesh, *, arch=None, loss=None, level: float = 1.0) -> dict:
    """The facts of an extracted mesh as a JSON-able dict.

    Parameters
    ----------
    net : Network
        The network the mesh was extracted from.
    mesh : PolyMesh
        A neural polytope, a box level set (3-D surface or 2-D level curves) or any mesh.
    arch : str or ArchType, optional
        The architecture type to report.
    loss : float, optional
        The training loss to report.
    level : float
        The level of the level set (for the level error when the extractor did not measure it).

    Returns
    -------
    dict
        Keys ``type``, ``dim``, ``loss``, ``vertices``, ``edges``, ``faces`` (polygons, not
        triangles), ``f_vector``, ``face_sizes``, ``name``, ``regular``,
        ``euler_characteristic``, ``max_level_error``, ``method``, ``regions``. For 2-D level
        curves ``faces`` counts the curves, ``edges`` the segments, and ``closed_curves`` and
        ``area`` (None while a curve is open) are added.
    """
    d = describe(mesh)
    if mesh.is_curve():
        loops = curve_loops(mesh)
        return {"type": None if arch is None else str(arch), "dim": net.dim,
                "loss": None if loss is None else float(loss),
                "vertices": mesh.n_vertices, "edges": mesh.n_faces, "faces": len(loops),
                "f_vector": [mesh.n_vertices, mesh.n_faces], "face_sizes": {}, "name": d["name"],
                "regular": d["regular"], "closed_curves": sum(1 for _, closed in loops if closed),
                "area": None if d["open_curves"] else float(mesh.volume()),
                "euler_characteristic": mesh.n_vertices - mesh.n_faces,
                "max_level_error": _level_error(net, mesh, level),
                "method": mesh.info.get("method"), "regions": region_count(mesh)}
    out = {
        "type": None if arch is None else str(arch),
        "dim": net.dim,
        "loss": None if loss is None else float(loss),
        "vertices": mesh.n_vertices,
        "edges": mesh.n_edges,
        "faces": mesh.n_faces if mesh.dim == 3 else 1,
        "f_vector": list(mesh.f_vector),
        "face_sizes": {str(k): v for k, v in mesh.face_size_counts().items()} if mesh.dim == 3 else {},
        "name": d.get("name"),
        "regular": d.get("regular"),
        "euler_characteristic": mesh.euler_characteristic,
        "max_level_error": _level_error(net, mesh, level),
        "method": mesh.info.get("method"),
        "regions": region_count(mesh),
    }
    out.update(trilinear_facts(mesh))
    return out


def trilinear_facts(mesh: PolyMesh) -> dict:
    """Kim's trilinear method (:mod:`neuralpoly_core.levelset.trilinear`): the flatness error, the
    correction used and the level error before it (empty for other meshes)."""
    info = mesh.info
    if "flatness_error" not in info:
        return {}
    return {k: info.get(k) for k in ("flatness_error", "trilinear_correction", "planar_level_error",
                                     "corrected_vertices", "edge_fallbacks", "projected_vertices",
                                     "uncorrected_vertices")}
