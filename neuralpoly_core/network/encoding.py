"""Multi-resolution hash-grid encoding (Mueller et al. 2022), evaluated with numpy (float64).

A :class:`HashGridEncoding` maps a point ``x`` of a box ``[lo, hi]`` (d = 1, 2 or 3 axes) to
``levels * features`` numbers. Level ``l`` lays a grid of ``N_l`` cells per axis over the box
(``g = (x - lo) / (hi - lo) * N_l``, clamped to ``[0, N_l]``: grid vertices at the integers
``0 .. N_l``); each grid vertex owns ``features`` numbers, stored in the level's table:

- **dense** when the level's ``(N_l + 1)^d`` vertices fit in ``table_size``: vertex ``c`` is row
  ``c_0 + c_1 (N_l + 1) + c_2 (N_l + 1)^2`` (the table then has exactly that many rows);
- **hashed** otherwise: row ``(c_0 * 1 XOR c_1 * 2654435761 XOR c_2 * 805459861) mod T``, the
  Instant-NGP primes (``T = table_size``, a power of two, so ``mod T`` keeps the low bits and
  the 32-bit wrap-around of Instant-NGP does not change the result).

Resolutions grow geometrically: ``N_l = floor(N_min * b^l)``, ``b = (N_max / N_min)^(1/(L-1))``
(:func:`grid_resolutions`; the model file stores the list itself).

Interpolation inside a grid cell (fractional coordinates ``t = g - floor(g)``):

- ``'trilinear'`` (multilinear in 2-D/1-D): the ``2^d`` corners weighted by products of ``t_i``
  and ``1 - t_i``, as in Instant-NGP and Kim 2024. Smooth inside a cell, not piecewise linear.
- ``'simplex'``: barycentric on the Kuhn (Freudenthal) subdivision of the cell: sort ``t``
  descending, ``t_p1 >= t_p2 >= t_p3``; the simplex's vertices are ``c, c + e_p1, c + e_p1 +
  e_p2, c + 1``, weights ``1 - t_p1, t_p1 - t_p2, t_p2 - t_p3, t_p3``. Exactly piecewise affine:
  the simplices' facets lie on the global planes ``g_i = k`` and ``g_i - g_j = k``
  (:meth:`HashGridEncoding.planes`), and inside every cell of their arrangement the encoding is
  affine in ``x`` (the exact level-set extractor cuts these planes first).

The output is ordered level by level (level 0's features first), what the first layer reads.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelFormatError

__all__ = ["HashGridEncoding", "grid_resolutions", "INTERPOLATIONS", "PRIMES"]

INTERPOLATIONS = ("trilinear", "simplex")
#: Instant-NGP's hash primes, one per axis.
PRIMES = (1, 2654435761, 805459861)


def grid_resolutions(levels: int, min_resolution: int, max_resolution: int) -> list[int]:
    """``floor(N_min * b^l)`` for ``l = 0 .. L-1``, ``b = (N_max / N_min)^(1/(L-1))``; the last is
    ``N_max`` exactly (one level: ``[N_min]``)."""
    if levels == 1:
        return [int(min_resolution)]
    b = math.exp((math.log(max_resolution) - math.log(min_resolution)) / (levels - 1))
    res = [int(math.floor(min_resolution * b ** l + 1e-9)) for l in range(levels)]
    res[-1] = int(max_resolution)
    return res


def _int(value, what, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ModelFormatError(f"encoding {what} must be a whole number >= {lo}, got {value!r}")
    return int(value)


class HashGridEncoding:
    """The hash-grid encoding (see the module docstring).

    Parameters
    ----------
    resolutions : list of int
        ``N_l`` per level (cells per axis, each >= 1).
    features : int
        Numbers per grid vertex and level.
    table_size : int
        ``T``, a power of two: the most rows of a level's table.
    box : (2, d) array-like
        ``[lo, hi]``.
    interpolation : str
        ``'trilinear'`` or ``'simplex'``.
    tables : list of arrays, optional
        Level ``l``'s table, shape ``(rows_l, features)`` (:meth:`rows`); zeros if omitted.
    """

    kind = "hashgrid"

    def __init__(self, resolutions, features: int, table_size: int, box, interpolation: str = "simplex",
                 tables=None):
        if not isinstance(resolutions, (list, tuple)) or not resolutions:
            raise ModelFormatError("encoding 'resolutions' must be a non-empty list of whole numbers")
        self.resolutions = [_int(n, "resolution", 1) for n in resolutions]
        self.features = _int(features, "features", 1)
        self.table_size = _int(table_size, "table_size", 1)
        if self.table_size & (self.table_size - 1):
            raise ModelFormatError(f"encoding table_size must be a power of two, got {self.table_size}")
        if interpolation not in INTERPOLATIONS:
            raise ModelFormatError(f"encoding interpolation must be 'trilinear' or 'simplex', got {interpolation!r}")
        self.interpolation = interpolation
        try:
            box = np.asarray(box, dtype=np.float64)
        except (TypeError, ValueError):
            raise ModelFormatError("encoding 'box' must be [[lo...], [hi...]]") from None
        if box.ndim != 2 or box.shape[0] != 2 or not 1 <= box.shape[1] <= 3 or not np.all(np.isfinite(box)):
            raise ModelFormatError(f"encoding 'box' must be [[lo...], [hi...]] with 1-3 finite numbers each, "
                                   f"got shape {box.shape}")
        if not np.all(box[1] > box[0]):
            raise ModelFormatError("encoding 'box': every hi must be above its lo")
        self.lo, self.hi = box[0].copy(), box[1].copy()
        self.dim = box.shape[1]
        if tables is None:
            tables = [np.zeros((self.rows(l), self.features)) for l in range(self.levels)]
        if not isinstance(tables, (list, tuple)) or len(tables) != self.levels:
            raise ModelFormatError(f"encoding needs one table per level ({self.levels})")
        self.tables = []
        for l, t in enumerate(tables):
            try:
                a = np.array(t, dtype=np.float64)
            except (TypeError, ValueError):
                raise ModelFormatError(f"encoding table {l} must be a list of rows of numbers") from None
            if a.shape != (self.rows(l), self.features):
                raise ModelFormatError(f"encoding table {l} has shape {a.shape}, expected "
                                       f"({self.rows(l)}, {self.features})")
            if not np.all(np.isfinite(a)):
                raise ModelFormatError(f"encoding table {l} contains NaN or infinite entries")
            self.tables.append(a)

    # -- structure ---------------------------------------------------------------------
    @property
    def levels(self) -> int:
        return len(self.resolutions)

    @property
    def n_outputs(self) -> int:
        """``levels * features``: the first layer's input width."""
        return self.levels * self.features

    @property
    def is_piecewise_linear(self) -> bool:
        return self.interpolation == "simplex"

    def is_dense(self, l: int) -> bool:
        return (self.resolutions[l] + 1) ** self.dim <= self.table_size

    def rows(self, l: int) -> int:
        """Rows of level ``l``'s table: ``(N_l + 1)^d`` when dense, else ``table_size``."""
        return (self.resolutions[l] + 1) ** self.dim if self.is_dense(l) else self.table_size

    def index(self, l: int, c: np.ndarray) -> np.ndarray:
        """Table rows of integer grid vertices ``c`` (..., d) of level ``l`` (int64)."""
        c = c.astype(np.int64)
        if self.is_dense(l):
            stride = (self.resolutions[l] + 1) ** np.arange(self.dim, dtype=np.int64)
            return c @ stride
        h = c[..., 0] * PRIMES[0]
        for i in range(1, self.dim):
            h = h ^ (c[..., i] * PRIMES[i])
        return h & (self.table_size - 1)

    def grid_coordinates(self, l: int, X: np.ndarray) -> np.ndarray:
        """``g = (x - lo) / (hi - lo) * N_l``, clamped to ``[0, N_l]``."""
        n = self.resolutions[l]
        return np.clip((X - self.lo) / (self.hi - self.lo) * n, 0.0, n)

    def _cell(self, l: int, X):
        n = self.resolutions[l]
        g = self.grid_coordinates(l, X)
        c = np.minimum(np.floor(g), n - 1)
        return g, c, g - c

    # -- evaluation --------------------------------------------------------------------
    def __call__(self, X) -> np.ndarray:
        """Encoded features, shape (..., levels * features)."""
        return self.evaluate(X)[0]

    def evaluate(self, X, jacobian: bool = False):
        """``(features (..., L*F), Jacobian (..., L*F, d) or None)``; the Jacobian is the
        one-sided derivative inside the cell of each point (clamped axes give 0)."""
        X = np.asarray(X, dtype=np.float64)
        if X.shape[-1] != self.dim:
            raise ValueError(f"points must have {self.dim} coordinates, got shape {X.shape}")
        shape = X.shape[:-1]
        X = X.reshape(-1, self.dim)
        out = np.empty((len(X), self.n_outputs))
        jac = np.zeros((len(X), self.n_outputs, self.dim)) if jacobian else None
        for l in range(self.levels):
            vals, grads = (self._simplex if self.is_piecewise_linear else self._multilinear)(l, X, jacobian)
            sl = slice(l * self.features, (l + 1) * self.features)
            out[:, sl] = vals
            if jacobian:
                inside = (X > self.lo) & (X < self.hi)
                scale = self.resolutions[l] / (self.hi - self.lo)
                jac[:, sl, :] = grads * (scale * inside)[:, None, :]
        out = out.reshape(shape + (self.n_outputs,))
        if jacobian:
            jac = jac.reshape(shape + (self.n_outputs, self.dim))
        return out, jac

    def level_features(self, l: int, X) -> np.ndarray:
        """Level ``l``'s features at points ``X`` (n, d): shape (n, features)."""
        X = np.asarray(X, dtype=np.float64)
        return (self._simplex if self.is_piecewise_linear else self._multilinear)(l, X, False)[0]

    def _multilinear(self, l, X, jacobian):
        _, c, t = self._cell(l, X)
        table = self.tables[l]
        d = self.dim
        vals = np.zeros((len(X), self.features))
        grads = np.zeros((len(X), self.features, d)) if jacobian else None
        for corner in range(1 << d):
            bits = (corner >> np.arange(d)) & 1
            w_ax = np.where(bits == 1, t, 1.0 - t)                   # (n, d)
            F = table[self.index(l, c + bits)]                         # (n, F)
            vals += F * np.prod(w_ax, axis=1)[:, None]
            if jacobian:
                for i in range(d):
                    dw = np.prod(np.delete(w_ax, i, axis=1), axis=1) * (1.0 if bits[i] else -1.0)
                    grads[:, :, i] += F * dw[:, None]
        return vals, grads

    def _simplex(self, l, X, jacobian):
        _, c, t = self._cell(l, X)
        table = self.tables[l]
        n, d = t.shape
        order = np.argsort(-t, axis=1, kind="stable")                  # t_p1 >= t_p2 >= ...
        ts = np.take_along_axis(t, order, axis=1)
        v = c.astype(np.int64)
        prev = table[self.index(l, v)]
        vals = prev * (1.0 - ts[:, 0])[:, None]
        grads = np.zeros((n, self.features, d)) if jacobian else None
        rows = np.arange(n)
        for k in range(d):
            v = v.copy()
            v[rows, order[:, k]] += 1
            cur = table[self.index(l, v)]
            w = ts[:, k] - (ts[:, k + 1] if k + 1 < d else 0.0)
            vals += cur * w[:, None]
            if jacobian:
                grads[rows, :, order[:, k]] = cur - prev               # d/dt_pk of the features
            prev = cur
        return vals, grads

    # -- the planes of the simplices -------------------------------------------------------
    def plane_families(self, l: int, lo=None, hi=None, diagonal: bool = True) -> list[tuple[np.ndarray, np.ndarray, list]]:
        """The facet planes of level ``l``'s Kuhn simplices that cross the open box ``[lo, hi]``
        (default: the encoding's box), by family of parallel planes: ``(a, t, keys)`` with the
        planes ``a . x = t_k`` (``t`` ascending) and a key per plane that is the same for the
        same plane of any level (``('axis', i, k/N)`` for ``g_i = k``, ``('diagonal', i, j,
        k/N)`` for ``g_i - g_j = k``, as exact fractions). In normalised coordinates
        ``u = (x - lo) / (hi - lo)`` the families are the same for every level. ``diagonal=False``:
        the axis planes only (the faces of the grid's cubes, the cells of trilinear interpolation)."""
        from fractions import Fraction
        lo = self.lo if lo is None else np.asarray(lo, dtype=np.float64)
        hi = self.hi if hi is None else np.asarray(hi, dtype=np.float64)
        d, n, ext = self.dim, self.resolutions[l], self.hi - self.lo
        ulo, uhi = (lo - self.lo) / ext * n, (hi - self.lo) / ext * n       # grid coordinates
        out = []
        for i in range(d):
            a = np.zeros(d)
            a[i] = 1.0 / ext[i]                      # u_i = a . x - lo_i / ext_i
            ks = np.arange(int(math.floor(ulo[i] + 1e-9)) + 1, int(math.ceil(uhi[i] - 1e-9)))
            out.append((a, ks / n + self.lo[i] / ext[i], [("axis", i, Fraction(int(k), n)) for k in ks]))
        for i in range(d if diagonal else 0):
            for j in range(i + 1, d):
                a = np.zeros(d)
                a[i], a[j] = 1.0 / ext[i], -1.0 / ext[j]
                ks = np.arange(int(math.floor(ulo[i] - uhi[j] + 1e-9)) + 1, int(math.ceil(uhi[i] - ulo[j] - 1e-9)))
                out.append((a, ks / n + self.lo[i] / ext[i] - self.lo[j] / ext[j],
                            [("diagonal", i, j, Fraction(int(k), n)) for k in ks]))
        return out

    def planes(self, lo=None, hi=None) -> np.ndarray:
        """Every facet plane of every level's simplices crossing the open box, each once, as
        rows ``(a, -t)`` of ``a . x - t = 0`` (see :meth:`plane_families`)."""
        seen, rows = set(), []
        for l in range(self.levels):
            for a, t, keys in self.plane_families(l, lo, hi):
                for tk, key in zip(t, keys):
                    if key not in seen:
                        seen.add(key)
                        rows.append(np.append(a, -tk))
        return np.array(rows).reshape(-1, self.dim + 1)

    def feature_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Per output feature, the smallest and largest table entry of its level (every
        interpolated value is a convex combination of entries, so it lies in between)."""
        mn = np.concatenate([t.min(axis=0) for t in self.tables])
        mx = np.concatenate([t.max(axis=0) for t in self.tables])
        return mn, mx

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": "hashgrid", "interpolation": self.interpolation, "levels": self.levels,
                "features": self.features, "table_size": self.table_size,
                "min_resolution": self.resolutions[0], "max_resolution": self.resolutions[-1],
                "resolutions": list(self.resolutions),
                "box": [self.lo.tolist(), self.hi.tolist()],
                "tables": [t.tolist() for t in self.tables]}

    @classmethod
    def from_dict(cls, d) -> "HashGridEncoding":
        if not isinstance(d, dict):
            raise ModelFormatError("'encoding' must be an object")
        if d.get("kind") != "hashgrid":
            raise ModelFormatError(f"unknown encoding kind {d.get('kind')!r}; expected 'hashgrid'")
        known = {"kind", "interpolation", "levels", "features", "table_size", "min_resolution",
                 "max_resolution", "resolutions", "box", "tables"}
        unknown = set(d) - known
        if unknown:
            raise ModelFormatError(f"encoding has unknown keys {sorted(unknown)}")
        missing = [k for k in ("interpolation", "features", "table_size", "box", "tables") if k not in d]
        if missing:
            raise ModelFormatError(f"encoding needs {missing}")
        levels = _int(d.get("levels", len(d.get("resolutions") or [])), "levels", 1)
        res = d.get("resolutions")
        if res is None:
            if "min_resolution" not in d or "max_resolution" not in d:
                raise ModelFormatError("encoding needs 'resolutions' or 'min_resolution' and 'max_resolution'")
            res = grid_resolutions(levels, _int(d["min_resolution"], "min_resolution", 1),
                                   _int(d["max_resolution"], "max_resolution", 1))
        if not isinstance(res, list) or len(res) != levels:
            raise ModelFormatError(f"encoding 'resolutions' must list {levels} levels")
        return cls(res, d["features"], d["table_size"], d["box"], d["interpolation"], d["tables"])

    def copy(self) -> "HashGridEncoding":
        return HashGridEncoding(list(self.resolutions), self.features, self.table_size,
                                [self.lo, self.hi], self.interpolation, [t.copy() for t in self.tables])

    def __repr__(self) -> str:
        return (f"HashGridEncoding({self.interpolation}, levels={self.levels}, features={self.features}, "
                f"table_size={self.table_size}, resolutions={self.resolutions})")
