"""Level-curve meshes (2-D oriented segments) for the tests of meshes, naming and levelset."""

import numpy as np

from neuralpoly_core.mesh import PolyMesh


def curve_mesh(*loops):
    """A level-curve mesh (oriented segments) from closed loops of points."""
    V, S, off = [], [], 0
    for loop in loops:
        loop = np.asarray(loop, dtype=float)
        n = len(loop)
        V.append(loop)
        S += [(off + i, off + (i + 1) % n) for i in range(n)]
        off += n
    return PolyMesh(np.concatenate(V), np.asarray(S).ravel(), np.full(len(S), 2))


def square(lo, hi, per_side=1, ccw=True):
    """Corners of the axis-aligned rectangle [lo, hi], ``per_side`` points per side (collinear runs)."""
    t = np.arange(per_side) / per_side
    (x0, y0), (x1, y1) = lo, hi
    pts = np.concatenate([np.c_[x0 + (x1 - x0) * t, np.full(per_side, y0)],
                          np.c_[np.full(per_side, x1), y0 + (y1 - y0) * t],
                          np.c_[x1 - (x1 - x0) * t, np.full(per_side, y1)],
                          np.c_[np.full(per_side, x0), y1 - (y1 - y0) * t]])
    return pts if ccw else pts[::-1]
