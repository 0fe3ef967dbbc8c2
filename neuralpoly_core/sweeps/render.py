"""PNG pictures of neural polytopes with matplotlib (optional dependency, gallery only)."""

from __future__ import annotations

import numpy as np

from ..errors import NeuralPolyError
from ..mesh.polymesh import PolyMesh

__all__ = ["render_panels", "pyplot"]


def pyplot():
    """matplotlib's pyplot with the Agg backend; a clear error when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: F401
    except ImportError:
        raise NeuralPolyError("PNG pictures need matplotlib: pip install matplotlib") from None
    return plt


def _draw_polygon(ax, mesh: PolyMesh) -> None:
    """A polygon (each face a closed loop) or a level curve (each face a segment, however
    many loops they form), with the unit circle for scale."""
    from matplotlib.collections import LineCollection
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.75", lw=1.0)
    lines = [mesh.vertices[f if len(f) == 2 else np.r_[f, f[:1]]] for f in mesh.faces]
    ax.add_collection(LineCollection(lines, colors="black", linewidths=2.0))
    r = max(1.05, float(np.abs(mesh.vertices).max()) * 1.05)
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal")
    ax.axis("off")


def _draw_solid(ax, mesh: PolyMesh) -> None:
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection
    light = np.array([0.4, -0.5, 0.8])
    light /= np.linalg.norm(light)
    normals = mesh.face_normals()
    shade = 0.35 + 0.65 * np.clip(normals @ light, 0.0, 1.0)
    base = np.array([0.30, 0.55, 0.85])
    colors = np.clip(shade[:, None] * base[None, :] + 0.1, 0, 1)
    polys = [mesh.vertices[f] for f in mesh.faces]
    many = mesh.n_faces > 400
    coll = Poly3DCollection(polys, facecolors=colors, edgecolors="none" if many else "0.15",
                            linewidths=0.0 if many else 0.6)
    ax.add_collection3d(coll)
    r = float(np.abs(mesh.vertices).max()) if mesh.n_vertices else 1.0
    r = min(r, 2.5)
    for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
        setter(-r, r)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=22, azim=35)
    ax.axis("off")


def render_panels(panels, path, *, columns: int = 5, title: str | None = None,
                  panel_size: float = 2.4, dpi: int = 90) -> None:
    """Draw meshes side by side into one PNG.

    Parameters
    ----------
    panels : list of (PolyMesh, str)
        Mesh and caption of each panel; polygons (2-D) are drawn with the unit circle.
    path : path-like
        PNG file to write (atomically).
    """
    from ..fileio import atomic_open
    plt = pyplot()
    n = len(panels)
    if n == 0:
        raise NeuralPolyError("nothing to render")
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig = plt.figure(figsize=(panel_size * cols, panel_size * rows + (0.4 if title else 0)))
    for k, (mesh, caption) in enumerate(panels):
        if mesh.dim == 2:
            ax = fig.add_subplot(rows, cols, k + 1)
            _draw_polygon(ax, mesh)
        else:
            ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
            _draw_solid(ax, mesh)
        ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    plt.close(fig)
