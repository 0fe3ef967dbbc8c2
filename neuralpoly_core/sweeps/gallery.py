"""Reproduce the paper's figures: train every network in one batched sweep, extract,
name, and write meshes, model files, PNG pictures and a JSON report."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..errors import NeuralPolyError
from .figures import FIGURE_CAPTIONS, FIGURES, figure_networks

__all__ = ["run_gallery"]


def _file_stem(dim: int, arch) -> str:
    text = str(arch).strip("()").replace(";", "_p").replace(",", "-")
    return f"d{dim}_{text}"


def run_gallery(out, figures=None, *, seed: int = 0, restarts: int | None = None,
                mesh_format: str = "obj", png: bool = True, device: str = "auto",
                resolution: int = 32, progress=None, cancel=None) -> dict:
    """Train, extract and save every network of the given paper figures.

    Parameters
    ----------
    out : path-like
        Output folder (created). Per figure ``figN/`` holds one mesh and one model file per
        network (Fig. 5: one mesh per slice angle); ``figN.png`` shows the figure and
        ``gallery.json`` the report.
    figures : list of int, optional
        Paper figure numbers (2-9); default all.

    Returns
    -------
    dict
        ``networks``: one summary per network (slice summaries under ``slices``),
        ``train_seconds``, ``extract_seconds``, ``total_seconds``.
    """
    from ..mesh.files import export_mesh
    from ..polytope.api import extract_polytope
    from ..summary import summarize
    from ..network.modelfile import save_model
    from ..polytope.slicing import paper_slice_basis
    from ..training.polytope import train_sweep

    t_start = time.perf_counter()
    figs = sorted(set(figures)) if figures else sorted(FIGURES)
    nets = [n for f in figs for n in figure_networks(f)]
    if mesh_format not in ("obj", "stl", "ply"):
        raise NeuralPolyError(f"unknown mesh format {mesh_format!r}; expected obj, stl or ply")
    if png:  # fail before any work if pictures cannot be drawn
        from .render import pyplot
        pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def train_progress(fraction, message=""):
        if progress is not None:
            progress(0.8 * fraction, f"training {len(nets)} networks {message}")

    kwargs = dict(seed=seed, device=device, progress=train_progress, cancel=cancel)
    if restarts is not None:
        kwargs["restarts"] = restarts
    t0 = time.perf_counter()
    results = train_sweep([(n.dim, n.arch) for n in nets], **kwargs)
    train_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    report_nets = []
    panels: dict[int, list] = {f: [] for f in figs}
    for k, (fn, res) in enumerate(zip(nets, results)):
        folder = out / f"fig{fn.figure}"
        folder.mkdir(exist_ok=True)
        stem = _file_stem(fn.dim, fn.arch)
        if fn.slice_thetas:
            slices = []
            for j, theta in enumerate(fn.slice_thetas):
                mesh = extract_polytope(res.network, resolution=resolution, basis=paper_slice_basis(fn.dim, theta))
                s = summarize(res.network, mesh, arch=fn.arch, loss=res.loss)
                s["slice_theta"] = theta
                export_mesh(mesh, folder / f"{stem}_slice{j}.{mesh_format}")
                slices.append(s)
                panels[fn.figure].append((mesh, f"{fn.arch} θ={j}π/10"))
            entry = dict(slices[0], slices=slices)
        else:
            mesh = extract_polytope(res.network, resolution=resolution)
            entry = summarize(res.network, mesh, arch=fn.arch, loss=res.loss)
            export_mesh(mesh, folder / f"{stem}.{mesh_format}")
            caption = f"{fn.arch}" + (f"\n{entry['name']}" if entry["name"] else "")
            panels[fn.figure].append((mesh, caption))
        save_model(res.network, folder / f"{stem}.json", meta=dict(res.meta(), name=entry["name"]))
        entry.update(figure=fn.figure, dim=fn.dim)
        report_nets.append(entry)
        if cancel is not None and cancel():
            from ..errors import Cancelled
            raise Cancelled("gallery cancelled")
        if progress is not None:
            progress(0.8 + 0.15 * (k + 1) / len(nets), f"extracted {fn.label}")
    extract_seconds = time.perf_counter() - t1

    pngs = []
    if png:
        from .render import render_panels
        for f in figs:
            path = out / f"fig{f}.png"
            render_panels(panels[f], path, columns=5, title=f"Fig. {f}: {FIGURE_CAPTIONS[f]}")
            pngs.append(str(path))
            if progress is not None:
                progress(0.95 + 0.05 * (figs.index(f) + 1) / len(figs), f"rendered fig{f}.png")
    report = {
        "figures": figs,
        "networks": report_nets,
        "train_seconds": train_seconds,
        "extract_seconds": extract_seconds,
        "total_seconds": time.perf_counter() - t_start,
        "pngs": pngs,
        "seed": seed,
    }
    from ..fileio import atomic_write_text
    atomic_write_text(out / "gallery.json", json.dumps(report, indent=1, default=_json_default) + "\n")
    return report


def _json_default(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)
