"""Hash-grid networks: numpy evaluation speed, a short SDF fit of a torus, exact extraction.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_hashgrid.py --seconds 30 --spec hashgrid:simplex

Fits ``spec`` to the analytic signed distance of a torus (R = 0.5, r = 0.2) with the SDF (clamped
L1) and eikonal losses (a plain loop here; the mesh fit lives in training/lowpoly.py), then extracts
``f = 0`` exactly (simplex) and by marching cubes, and prints one JSON line of facts.

``--fit mesh --shape torus|sphere`` fits through ``training/lowpoly.fit_mesh_sdf`` (the mesh-fitting
loop: SDF, eikonal and normal losses) to a mesh of ``mesh/shapes.py`` instead. A trilinear spec is
extracted by Kim's method with each ``trilinear_correction`` (``none``: linear interpolation, the
planarity assumption; ``edge``: the root on the straight edge; ``kim``: Thm 4.7's diagonal-plane
quartic; ``surfaces``: Thm 4.7 solved exactly, where f = 0 meets the edge's curved faces), each with its true level error max |f(v)| (``level_error``), the
flatness error, vertices and time (key ``trilinear``).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_hashgrid.py --fit mesh --shape torus --seconds 20 \
        --spec hashgrid:trilinear,levels=4,res=4-32,mlp=2x16
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.training.hashgrid_torch import build_torch_model, parse_hashgrid_spec, to_network


def torus_sdf(X, R=0.5, r=0.2):
    q = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2) - R
    return np.sqrt(q ** 2 + X[:, 2] ** 2) - r


def fit(spec, seconds, seed, batch=2048):
    import torch
    torch.set_num_threads(1)
    model = build_torch_model(spec, seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.99), eps=1e-15)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    steps = 0
    while time.perf_counter() - t0 < seconds:
        X = rng.uniform(-1, 1, (batch, 3))
        # near-surface samples: points of the torus moved along random directions
        u, v = rng.uniform(0, 2 * np.pi, (2, batch // 2))
        P = np.stack([(0.5 + 0.2 * np.cos(v)) * np.cos(u), (0.5 + 0.2 * np.cos(v)) * np.sin(u), 0.2 * np.sin(v)], 1)
        X[batch // 2:] = np.clip(P + rng.normal(0, 0.02, P.shape), -1, 1)
        x = torch.tensor(X, dtype=torch.float32, requires_grad=True)
        y = torch.tensor(torus_sdf(X), dtype=torch.float32)
        f = model(x)[:, 0]
        g = torch.autograd.grad(f.sum(), x, create_graph=True)[0]
        loss = (f - y).abs().mean() + 0.1 * (g.norm(dim=1) - 1).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return to_network(model), steps, float(loss.detach())


def fit_mesh(spec, seconds, seed, shape, steps=None):
    """The mesh-fitting loop on a mesh of ``mesh/shapes.py``: ``(network, box, steps, loss)``."""
    from neuralpoly_core.mesh.shapes import icosphere, torus
    from neuralpoly_core.training.lowpoly import fit_mesh_sdf
    mesh = torus(1.0, 0.35, 96, 48) if shape == "torus" else icosphere(1.0, 16)
    fit = fit_mesh_sdf(mesh, spec.text, seconds=None if steps else seconds, steps=steps, seed=seed)
    return fit.network, fit.placement.box, fit.facts["steps"], float(fit.facts.get("loss") or 0.0)


def face_nonplanarity(mesh) -> float:
    """Largest distance of a face's corner from the plane through the face's centroid with its
    Newell normal (0 for planar faces; triangles are planar)."""
    worst = 0.0
    for f in mesh.faces:
        if len(f) < 4:
            continue
        P = mesh.vertices[f]
        n = np.cross(P, np.roll(P, -1, axis=0)).sum(axis=0)
        nn = np.linalg.norm(n)
        if nn > 0:
            worst = max(worst, float(np.abs((P - P.mean(axis=0)) @ (n / nn)).max()))
    return worst


def trilinear_modes(net, box, cells="kuhn"):
    """Kim's method with each correction on the same net: per mode the true level error, time,
    vertices, faces, closed/watertight; the flatness error once."""
    from neuralpoly_core.levelset.exact import extract_level_set_exact
    out = {}
    for mode in ("none", "edge", "kim", "surfaces"):
        t = time.perf_counter()
        m = extract_level_set_exact(net, 0.0, box, trilinear=True, trilinear_cells=cells,
                                    trilinear_correction=mode)
        i = m.info
        err = np.abs(net(m.vertices))
        out[mode] = {"seconds": round(time.perf_counter() - t, 2), "level_error": i["max_level_error"],
                     "mean_level_error": float(err.mean()) if len(err) else 0.0,
                     "degenerate_cells": i["degenerate_cells"], "face_nonplanarity": face_nonplanarity(m),
                     "vertices": i["vertices"], "faces": i["faces"], "closed": i["closed"],
                     "watertight": i["watertight"], "correction_seconds": round(i["correction_seconds"], 3),
                     "corrected": i["corrected_vertices"], "edge_fallbacks": i["edge_fallbacks"],
                     "projected": i["projected_vertices"], "uncorrected": i["uncorrected_vertices"],
                     "max_vertex_move": i["max_vertex_move"]}
        out["flatness_error"] = i["flatness_error"]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="hashgrid:simplex")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mc", type=int, default=128)
    ap.add_argument("--model-out", default=None)
    ap.add_argument("--fit", choices=["loop", "mesh"], default="loop",
                    help="loop: this file's loop on the analytic torus; mesh: fit_mesh_sdf on --shape")
    ap.add_argument("--shape", choices=["torus", "sphere"], default="torus")
    ap.add_argument("--steps", type=int, default=None, help="--fit mesh: a step count instead of --seconds")
    ap.add_argument("--cells", choices=["kuhn", "cubes"], default="kuhn", help="trilinear_cells")
    a = ap.parse_args()
    spec = parse_hashgrid_spec(a.spec)
    box = (-1.0, 1.0)
    if a.fit == "mesh":
        net, box, steps, loss = fit_mesh(spec, a.seconds, a.seed, a.shape, a.steps)
    else:
        net, steps, loss = fit(spec, a.seconds, a.seed)
    if a.model_out:
        from neuralpoly_core.network.modelfile import save_model
        save_model(net, a.model_out, meta={"spec": spec.text, "shape": "torus R=0.5 r=0.2"})
    X = np.random.default_rng(1).uniform(-1, 1, (100_000, 3))
    t = time.perf_counter()
    net(X)
    eval_s = time.perf_counter() - t
    S = np.random.default_rng(2).uniform(-1, 1, (20000, 3))
    facts = {"spec": spec.text, "fit": a.fit, "steps": steps, "loss": round(loss, 5), "eval_100k_s": round(eval_s, 3)}
    if a.fit == "loop":
        facts["mean_abs_sdf_error"] = float(np.mean(np.abs(net(S) - torus_sdf(S))))
    else:
        facts["shape"] = a.shape
    method = "exact" if spec.interpolation == "simplex" else "trilinear"
    t = time.perf_counter()
    m = extract_level_set(net, 0.0, box, method=method, resolution=a.mc)
    i = m.info
    facts.update({f"{method}_seconds": round(time.perf_counter() - t, 2), "vertices": i["vertices"],
                  "faces": i["faces"], "max_level_error": i["max_level_error"], "closed": i["closed"],
                  "euler": m.euler_characteristic if m.n_faces else None,
                  "grid_cells": [(s["cells"], s["kept"]) for s in i.get("layers", []) if "grid_level" in s]})
    if method == "trilinear":
        facts["flatness_error"] = i["flatness_error"]
        facts["trilinear"] = trilinear_modes(net, box, a.cells)
    if True:
        t = time.perf_counter()
        mc = extract_level_set(net, 0.0, box, method="marching", resolution=a.mc)
        facts.update({"mc_seconds": round(time.perf_counter() - t, 2), "mc_vertices": mc.info["vertices"]})
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
