"""The first stage of exact extraction for networks with a simplex hash-grid encoding.

A ``simplex`` :class:`~neuralpoly_core.network.encoding.HashGridEncoding` is affine on every
Kuhn simplex of every level, and the simplices' facets lie on global planes (``g_i = k`` and
``g_i - g_j = k`` per level, :meth:`~neuralpoly_core.network.encoding.HashGridEncoding.plane_families`).
:class:`GridCuts` cuts the box's complex by these planes, level by level from the coarsest, before
any neuron: afterwards every cell lies in one simplex of every level, so the encoded features, and
with them the first layer's pre-activations, are affine on every cell, and the extractor goes on
neuron by neuron as for a plain ReLU network (the features at the vertices come from evaluating
the encoding there, which is exact).

Pruning between levels: after the planes of levels ``0 .. l`` are cut, the features of those
levels are affine on each cell (their exact ranges are the ranges at the cell's vertices), and
every feature of a finer level lies between the smallest and the largest table entry at the
grid vertices of the cubes that the cell's bounding box meets (interpolation is a convex
combination of the corners of the cube; cells larger than 6 cubes per axis use the whole table). The first layer's pre-activations are bounded by the
sum of the two, then by interval arithmetic through the rest of the network
(:func:`~neuralpoly_core.levelset.bounds.interval_bounds`); a cell whose bound misses the level
(by the pruner's margin) is dropped before the finer levels cut it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExtractionError
from ..network.model import Network
from .bounds import interval_bounds

__all__ = ["GridCuts", "check_grid_box", "grid_plane_keys", "flatness_error"]


def flatness_error(net: Network, bmin: np.ndarray, bmax: np.ndarray) -> float:
    """Kim 2024's flatness error of f on boxes (``bmin``, ``bmax``: (n, 3)): f is affine on a box
    exactly when its corner values ``t_i`` (corner ``i`` has bit ``a`` set on axis ``a``) satisfy
    ``t_i + t_(7-i) = t_0 + t_7`` (i = 1, 2, 3: opposite vertices) and ``t_1 + t_2 + t_4 =
    2 t_0 + t_7``, ``t_3 + t_5 + t_6 = t_0 + 2 t_7`` (the two diagonal groups; with ``t_0 = t_7 =
    0`` these are the paper's five identities). Returns the mean over the boxes of
    ``(|o_1| + |o_2| + |o_3|) / 6 + (|g_1| + |g_2|) / 4`` (the paper's MAE), in units of f."""
    if len(bmin) == 0:
        return 0.0
    bits = (np.arange(8)[:, None] >> np.arange(3)[None, :]) & 1
    C = np.where(bits[None, :, :] == 1, bmax[:, None, :], bmin[:, None, :])
    t = net(C.reshape(-1, 3)).reshape(-1, 8)
    opp = sum(np.abs(t[:, i] + t[:, 7 - i] - t[:, 0] - t[:, 7]) for i in (1, 2, 3))
    g1 = np.abs(t[:, 1] + t[:, 2] + t[:, 4] - 2 * t[:, 0] - t[:, 7])
    g2 = np.abs(t[:, 3] + t[:, 5] + t[:, 6] - t[:, 0] - 2 * t[:, 7])
    return float(np.mean(opp / 6 + (g1 + g2) / 4))


def check_grid_box(net: Network, lo: np.ndarray, hi: np.ndarray) -> None:
    """Exact extraction of an encoded network needs the box inside the encoding's box (the
    encoding clamps outside it, which bends its pieces along other planes)."""
    enc = net.encoding
    slack = 1e-12 * float(np.abs(np.concatenate([enc.lo, enc.hi])).max() + 1.0)
    if np.any(lo < enc.lo - slack) or np.any(hi > enc.hi + slack):
        raise ExtractionError(
            f"the box [{lo.tolist()}, {hi.tolist()}] reaches outside the hash-grid encoding's box "
            f"[{enc.lo.tolist()}, {enc.hi.tolist()}]; extract inside the encoding's box")


def grid_plane_keys(net: Network, lo, hi, diagonal: bool = True) -> list:
    """Every distinct facet plane of the encoding crossing the box, in cutting order (level by
    level, coarsest first; planes of a coarser level are not cut again)."""
    seen, keys = set(), []
    for l in range(net.encoding.levels):
        for _a, _t, ks in net.encoding.plane_families(l, lo, hi, diagonal):
            for k in ks:
                if k not in seen:
                    seen.add(k)
                    keys.append(k)
    return keys


class GridCuts:
    """Cuts a :class:`~neuralpoly_core.levelset.complex.CellComplex` by the facet planes of a
    simplex hash-grid encoding (see the module docstring).

    Parameters
    ----------
    cx : CellComplex
        The box's complex (uncut).
    net : Network
        A network with a ``simplex`` encoding.
    first_plane : int
        The plane number of the first grid plane (the rest follow in :func:`grid_plane_keys`
        order).
    level, margin : float
        The level set and the pruning margin (of :class:`~neuralpoly_core.levelset.bounds.LevelPruner`).
    cap, flip : bool
        Keep the cells inside the solid that touch the box (caps); the solid is ``f > level``.
    diagonal : bool
        Cut the diagonal planes too (always for simplex grids); False cuts the grid's cube faces
        only (the trilinear cells).
    """

    def __init__(self, cx, net: Network, first_plane: int, level: float, margin: float, cap: bool, flip: bool,
                 diagonal: bool = True):
        self.cx, self.net, self.enc = cx, net, net.encoding
        # diagonal=False: the cubes' faces only (Kim 2024's initial complex for trilinear grids)
        self.diagonal = bool(diagonal)
        self.first_plane = int(first_plane)
        self.level, self.margin, self.cap, self.flip = float(level), float(margin), cap, flip
        self.plane_of = {k: first_plane + i for i, k in
                         enumerate(grid_plane_keys(net, cx.lo, cx.hi, self.diagonal))}
        self.done = set()
        self.stats = []
        self.fmin, self.fmax = self.enc.feature_ranges()

    def plane_equations(self) -> dict:
        """``{plane: (a, t)}``: the grid plane number ``plane`` is ``a . x = t``."""
        out = {}
        for l in range(self.enc.levels):
            for a, t, keys in self.enc.plane_families(l, self.cx.lo, self.cx.hi, self.diagonal):
                for tk, k in zip(t, keys):
                    out.setdefault(self.plane_of[k], (a, float(tk)))
        return out

    def run(self, prune: bool, reporter=None) -> list[dict]:
        """Cut every level (pruning after each when ``prune``); returns per-level facts."""
        cx, enc = self.cx, self.enc
        for l in range(enc.levels):
            if reporter is not None:
                reporter.check()
                reporter(0.0, f"hash-grid level {l + 1} of {enc.levels}")
            planes = 0
            for a, t, keys in enc.plane_families(l, cx.lo, cx.hi, self.diagonal):
                todo = [(tk, self.plane_of[k]) for tk, k in zip(t, keys) if k not in self.done]
                self.done.update(keys)
                planes += len(todo)
                if todo:
                    self._cut_family(a, todo)
            n_cut = cx.n_cells
            if prune and cx.n_cells:
                self._prune(l)
            self.stats.append({"grid_level": l, "resolution": enc.resolutions[l], "planes": planes,
                               "cells": int(n_cut), "kept": int(cx.n_cells)})
            if cx.n_cells == 0:
                break
        return self.stats

    def _ranges(self, s, sel):
        cvv, off, _cnt = self.cx.cell_vertices(sel)
        v = s[cvv]
        return np.minimum.reduceat(v, off), np.maximum.reduceat(v, off)

    def _cut_family(self, a: np.ndarray, todo: list):
        """Cut by the parallel planes ``a . x = t`` of ``todo`` (``(t, plane)`` pairs)."""
        cx = self.cx
        s = cx.points @ a
        live = cx.live_cells()
        if not len(live):
            return
        smin = np.full(cx.n_cells, np.inf)
        smax = np.full(cx.n_cells, -np.inf)
        smin[live], smax[live] = self._ranges(s, live)
        base = float(np.abs(a) @ np.maximum(np.abs(cx.lo), np.abs(cx.hi)))
        for t, plane in todo:
            scale = base + abs(t)
            eps = cx.tol * scale
            S = np.nonzero((smin < t - eps) & (smax > t + eps))[0]
            if not len(S):
                continue
            nv0, nc0 = cx.X.n, cx.n_cells
            parents = cx.cut(s - t, scale, plane, cells=S)
            if cx.X.n > nv0:
                s = np.concatenate([s, cx.points[nv0:] @ a])
            if len(parents):
                grow = cx.n_cells - len(smin)
                smin = np.concatenate([smin, np.full(grow, np.inf)])
                smax = np.concatenate([smax, np.full(grow, -np.inf)])
                sel = np.concatenate([parents, np.arange(nc0, cx.n_cells)])
                smin[sel], smax[sel] = self._ranges(s, sel)

    def _fine_ranges(self, l: int, bmin: np.ndarray, bmax: np.ndarray, most: int = 6):
        """Per cell, bounds of every feature of the levels finer than ``l``: the extremes of the
        table entries at the grid vertices of the cubes the cell's bounding box meets (at most
        ``most`` per axis; larger boxes take the extremes of the whole table)."""
        enc = self.enc
        n = len(bmin)
        nf = (l + 1) * enc.features
        lo_f = np.broadcast_to(self.fmin[nf:], (n, len(self.fmin) - nf)).copy()
        hi_f = np.broadcast_to(self.fmax[nf:], (n, len(self.fmax) - nf)).copy()
        d = enc.dim
        for k in range(l + 1, enc.levels):
            N = enc.resolutions[k]
            g0 = np.floor(enc.grid_coordinates(k, bmin)).astype(np.int64)
            g1 = np.ceil(enc.grid_coordinates(k, bmax)).astype(np.int64)
            span = g1 - g0 + 1
            small = np.nonzero(span.max(axis=1) <= most)[0]
            if not len(small):
                continue
            K = int(span[small].max())
            offs = np.stack(np.meshgrid(*[np.arange(K)] * d, indexing="ij"), -1).reshape(-1, d)
            # vertex indices clamped to each cell's own range (repeats do not change extremes)
            V = np.minimum(g0[small, None, :] + offs[None, :, :], g1[small, None, :])
            V = np.clip(V, 0, N)
            vals = enc.tables[k][enc.index(k, V.reshape(-1, d))].reshape(len(small), len(offs), enc.features)
            sl = slice((k - l - 1) * enc.features, (k - l) * enc.features)
            lo_f[small, sl] = vals.min(axis=1)
            hi_f[small, sl] = vals.max(axis=1)
        return lo_f, hi_f

    def _prune(self, l: int):
        """Drop the cells whose bound of f misses the level (see the module docstring)."""
        cx, enc, net = self.cx, self.enc, self.net
        live = np.arange(cx.n_cells)
        cvv, off, _cnt = cx.cell_vertices(live)
        W, b = net.layers[0].weight, net.layers[0].bias
        nf = (l + 1) * enc.features                    # features of levels 0..l: affine on the cells
        F = np.concatenate([enc.level_features(k, cx.points) for k in range(l + 1)], axis=1)
        Zc = W[:, :nf] @ F.T                          # (width, n_vertices)
        zmin, zmax = cx.value_ranges(Zc, cvv, off)
        Wf = W[:, nf:]
        _cen, bmin, bmax = cx.geometry(cvv, off, _cnt)
        lo_f, hi_f = self._fine_ranges(l, bmin, bmax)          # (cells, finer features)
        mid = (0.5 * (lo_f + hi_f)) @ Wf.T
        rad = (0.5 * (hi_f - lo_f)) @ np.abs(Wf).T
        if b is not None:
            mid = mid + b
        slack = cx.tol * (np.abs(W) @ np.maximum(np.abs(self.fmin), np.abs(self.fmax)) + (0 if b is None else np.abs(b)))
        zlo = zmin + mid - rad - slack
        zhi = zmax + mid + rad + slack
        _inter, flo, fhi = interval_bounds(net, 0, zlo, zhi)
        c, m = self.level, self.margin
        keep = (flo <= c + m) & (fhi >= c - m)
        if self.cap:
            inside = (fhi < c - m) if not self.flip else (flo > c + m)
            if inside.any():
                keep |= inside & cx.on_box(live)
        if not keep.all():
            cx.compact(keep)
