"""Growable arrays and index helpers of the cell complex (:mod:`.complex`) and its readers.

:class:`Grow` holds rows (vertices, edge records, cells, per-cell flags) and :class:`GrowCols`
columns (values at the vertices), both appended to in amortised O(1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Grow", "GrowCols", "ranges", "unique_inverse"]


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + c)`` for each (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offs = np.cumsum(counts) - counts
    return np.repeat(starts - offs, counts) + np.arange(total, dtype=np.int64)


def unique_inverse(keys: np.ndarray, size: int):
    """``np.unique(keys, return_inverse=True)`` for integer keys in ``[0, size)``: by marking
    a dense table when ``size`` is small next to the number of keys (no sort), else sorting."""
    if size > 4 * len(keys) + 4096:
        return np.unique(keys, return_inverse=True)
    mark = np.zeros(size, dtype=bool)
    mark[keys] = True
    rank = np.cumsum(mark) - 1
    return np.flatnonzero(mark), rank[keys]


class Grow:
    """Append-only 2-D array with amortised O(1) appends: rows ``a[:n]`` are in use."""

    def __init__(self, ncols: int, dtype, cap: int = 256):
        self.a = np.empty((cap, ncols), dtype=dtype)
        self.n = 0

    def _reserve(self, k: int) -> tuple[int, int]:
        """Room for ``k`` more rows: ``(start, end)`` of the rows to fill (then counted)."""
        start = self.n
        need = start + k
        if need > len(self.a):
            new = np.empty((max(need, 2 * len(self.a)), self.a.shape[1]), dtype=self.a.dtype)
            new[:start] = self.a[:start]
            self.a = new
        self.n = need
        return start, need

    def extend(self, rows: np.ndarray) -> int:
        """Append ``rows``; returns the index of the first."""
        start, end = self._reserve(len(rows))
        self.a[start:end] = rows
        return start

    def extend_taken(self, rows: np.ndarray, order: np.ndarray) -> int:
        """``extend(rows[order])`` without the intermediate copy."""
        start, end = self._reserve(len(order))
        np.take(rows, order, axis=0, out=self.a[start:end])
        return start

    @property
    def view(self) -> np.ndarray:
        """The rows in use."""
        return self.a[:self.n]

    def reset(self, rows: np.ndarray, cap: int = 0):
        """Replace the contents by ``rows`` (with room for ``cap`` rows in all, if more)."""
        rows = np.asarray(rows, dtype=self.a.dtype).reshape(-1, self.a.shape[1])
        n = len(rows)
        if cap > n:
            self.a = np.empty((cap, rows.shape[1]), dtype=rows.dtype)
            self.a[:n] = rows
        else:
            self.a = np.array(rows, copy=True)
        if n == 0 and len(self.a) == 0:
            self.a = np.empty((256, self.a.shape[1]), dtype=self.a.dtype)
        self.n = n


class GrowCols:
    """Append-only (rows, n) float array growing along axis 1: one column per vertex.

    Values carried by a :class:`CellComplex` cut (``carry``): the cut appends a column per new
    vertex, interpolated along its edge.
    """

    def __init__(self, rows: np.ndarray, cap: int | None = None):
        k, n = rows.shape
        self.a = np.empty((k, max(256, cap or 2 * n)), dtype=np.float64)
        self.a[:, :n] = rows
        self.n = n

    def extend(self, cols: np.ndarray):
        """Append the columns ``cols``."""
        k = cols.shape[1]
        need = self.n + k
        if need > self.a.shape[1]:
            new = np.empty((self.a.shape[0], max(need, 2 * self.a.shape[1])), dtype=np.float64)
            new[:, :self.n] = self.a[:, :self.n]
            self.a = new
        self.a[:, self.n:need] = cols
        self.n = need

    @property
    def view(self) -> np.ndarray:
        """The columns in use."""
        return self.a[:, :self.n]

    def reset(self, rows: np.ndarray):
        """Replace the contents by ``rows``."""
        self.__init__(np.ascontiguousarray(rows))
