"""The 2-D fast path of :func:`~neuralpoly_core.regions.enumerate_regions` compiled with numba
(optional: ``pip install numba``): the box cut unit by unit as a polygon mesh, every loop in
machine code. Without numba, or where this gives up, :mod:`.lean2d` (numpy) runs instead.

The mesh is convex polygons (vertex ids, counter-clockwise) over shared vertices. Each vertex
carries the values of the current layer's units there: the layer's pre-activation is affine on
every cell of the layers before it, so these are ``W act(z_prev) + b`` at the cells' corners and,
at a vertex made on an edge, the interpolation of the edge's ends (its own unit's value set to
exactly 0). A unit splits every polygon whose corners it signs both ways along the edges where
the sign changes; the edge's new vertex is made once (a hash table of the edges), so both polygons
beside it get it and the mesh stays conforming. The two parts are the polygon's corners of
either sign, each closed by the two new vertices, in the polygon's own order.

Like :mod:`.lean2d` this needs general position, and gives up (returns None) when a unit's value
at a vertex it does not pass through is within ``_TOL`` of its scale (the largest
``|W| |act(z_prev)| + |b|`` over the vertices: what bounds its round-off), a polygon's signs
change more than twice around it, the polygons' areas do not add up to the box's, a layer is
not ``relu`` / ``|x|``, or the polygons outgrow ``max_regions`` or the memory budget.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from ..budget import memory_budget
from .lean2d import tiles_box

__all__ = ["available", "compiled_regions_2d", "note_numpy_seconds", "status", "wanted", "warm_up"]

_TOL = 1e-9
_KEY = np.int64(1) << 31                # an edge's key: smaller id * 2^31 + larger id
_MIX = np.int64(0x9E3779B97F4A7C1)      # spreads the keys over the hash table (products wrap)
_kernels = None                         # (cut_layer, areas_and_centroids) once compiled; False: failed
#: Loading numba and its cached machine code takes about 0.5 s (compiling, the first time in an
#: installation, 7-10 s), so a process starts on numpy's path and loads the compiled one once
#: numpy's path has taken this long in all (or at once, after :func:`warm_up`): a few small
#: enumerations never wait for numba, many or large ones get it (at most about twice the time
#: either choice alone would have taken).
LOAD_AFTER_SECONDS = 0.5
_numpy_seconds = 0.0


def available() -> bool:
    """Whether the compiled path can run: numba is installed, and this is the package
    ``neuralpoly_core`` itself (not a copy inside the Blender extension, ``bl_ext...``: numba's
    cache names the module, which Blender's background workers cannot import; and Blender's
    own Python has no numba). Nothing is imported."""
    return (__name__ == "neuralpoly_core.regions.compiled2d" and _kernels is not False
            and importlib.util.find_spec("numba") is not None)


def wanted() -> bool:
    """Whether the enumeration should try the compiled path now: it is :func:`available`, and
    loaded already or worth loading (numpy's path has taken ``LOAD_AFTER_SECONDS`` so far)."""
    return available() and (bool(_kernels) or _numpy_seconds >= LOAD_AFTER_SECONDS)


def status() -> dict:
    """Where this process stands: ``available`` (:func:`available`), ``loaded`` (compiled and
    in use), ``failed`` (a compile failure was warned about) and ``numpy_seconds`` (the time
    numpy's 2-D path has taken so far, towards ``LOAD_AFTER_SECONDS``)."""
    return {"available": available(), "loaded": bool(_kernels), "failed": _kernels is False,
            "numpy_seconds": _numpy_seconds}


def note_numpy_seconds(seconds: float) -> None:
    """Count time spent on numpy's 2-D path towards loading the compiled one (:func:`wanted`)."""
    global _numpy_seconds
    _numpy_seconds += seconds


def warm_up() -> bool:
    """Load (or compile) the compiled path now, so that every later 2-D enumeration in this
    process uses it; False where it cannot run (no numba, inside Blender's extension, or a
    failure to compile, warned about)."""
    return available() and _compiled() is not None


def _compiled():
    """The kernels compiled by numba, or None where they cannot be had (imported and compiled
    on first use: it takes a while; the machine code is cached beside this file, or where
    ``NUMBA_CACHE_DIR`` says, and loaded by later sessions). A failure to compile or to load
    the cache is warned about once, and numpy's path runs from then on."""
    global _kernels, _split_polygon
    if _kernels is None:
        try:
            import numba
            jit = numba.njit(cache=True, nogil=True)
            try:
                _split_polygon = jit(_split_polygon_py)    # raises where no cache can be written
            except RuntimeError:             # no writable cache anywhere: compile every session
                jit = numba.njit(nogil=True)
                _split_polygon = jit(_split_polygon_py)
            kernels = (jit(_cut_layer), jit(_areas_and_centroids))
            X = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
            st, X, _, nv, fv, foff, _, _ = kernels[0](X, 4, X[:, :1] - 0.5, np.full(1, 1e-9), np.arange(4),
                                                      np.array([0, 4]), 16, 16)
            if st != 0 or nv != 6 or len(foff) != 3 or abs(kernels[1](X[:nv], fv, foff)[0].sum() - 1.0) > 1e-12:
                raise RuntimeError("the compiled cut of the unit square by x = 0.5 is wrong")
        except Exception as exc:                   # noqa: BLE001 - any failure: numpy's path runs
            warnings.warn(f"the compiled 2-D region cut is unavailable ({type(exc).__name__}: {exc}); "
                          "numpy's path runs instead", RuntimeWarning, stacklevel=3)
            _kernels = False
        else:
            _kernels = kernels
    return _kernels or None


def _cut_layer(X, nv, Z, eps, fv, foff, max_faces, max_vertices):
    """Cut the polygons ``(fv, foff)`` over vertices ``X[:nv]`` by the ``w`` units whose values
    at the vertices are ``Z`` (nv, w), one unit after another.

    Returns (status, X, Z, nv, fv, foff, parent, signs): 0 when done, 1 when it gave up; the
    new vertices appended to ``X`` and ``Z`` (capacity rows beyond ``nv``), each new polygon's
    parent among the old ones and its units' signs (True: positive)."""
    w = Z.shape[1]
    nf = len(foff) - 1
    cap = max(2 * nv, 16)
    Xc = np.empty((cap, 2))
    Xc[:nv] = X[:nv]
    Zc = np.empty((cap, w))
    Zc[:nv] = Z[:nv]
    parent = np.arange(nf)
    signs = np.zeros((nf, w), dtype=np.bool_)
    state = (Xc, Zc, nv, fv, foff, parent, signs)
    for j in range(w):
        e = eps[j]
        for v in range(nv):
            if abs(Zc[v, j]) <= e:                  # a line through or near a vertex
                return (1,) + state
        # which polygons the unit's line crosses, and how many of their corners are positive
        npos = np.zeros(nf, dtype=np.int64)
        k = 0
        for f in range(nf):
            a, b = foff[f], foff[f + 1]
            for i in range(a, b):
                if Zc[fv[i], j] > 0.0:
                    npos[f] += 1
            if 0 < npos[f] < b - a:
                k += 1
        if k == 0:
            for f in range(nf):
                signs[f, j] = npos[f] > 0
            continue
        if nf + k > max_faces or nv + 2 * k > max_vertices:
            return (1,) + state
        if nv + 2 * k > len(Xc):
            cap = max(2 * len(Xc), nv + 2 * k)
            X2 = np.empty((cap, 2))
            X2[:nv] = Xc[:nv]
            Z2 = np.empty((cap, w))
            Z2[:nv] = Zc[:nv]
            Xc, Zc = X2, Z2
        nfv = np.empty(len(fv) + 4 * k, dtype=np.int64)
        noff = np.empty(nf + k + 1, dtype=np.int64)
        npar = np.empty(nf + k, dtype=np.int64)
        nsig = np.empty((nf + k, w), dtype=np.bool_)
        size = 16                                    # open addressing: edge key -> new vertex
        while size < 8 * k:
            size *= 2
        keys = np.full(size, -1, dtype=np.int64)
        made = np.empty(size, dtype=np.int64)
        o, g = 0, 0                                  # write position, new polygon
        noff[0] = 0
        for f in range(nf):
            a, b = foff[f], foff[f + 1]
            n = b - a
            p = npos[f]
            if p == 0 or p == n:                     # not crossed: copied
                for i in range(a, b):
                    nfv[o] = fv[i]
                    o += 1
                npar[g] = parent[f]
                for q in range(j):
                    nsig[g, q] = signs[f, q]
                nsig[g, j] = p > 0
                g += 1
                noff[g] = o
                continue
            nv = _split_polygon(fv, a, n, p, j, Xc, Zc, nv, keys, made, nfv, o)
            if nv < 0:
                return (1,) + state
            for s in range(2):
                npar[g] = parent[f]
                for q in range(j):
                    nsig[g, q] = signs[f, q]
                nsig[g, j] = s == 0
                g += 1
                noff[g] = o + p + 2 if s == 0 else o + n + 4
            o += n + 4
        fv, foff, parent, signs = nfv, noff, npar, nsig
        nf += k
        state = (Xc, Zc, nv, fv, foff, parent, signs)
    return (0,) + state


def _split_polygon_py(fv, a, n, p, j, Xc, Zc, nv, keys, made, nfv, o):
    """Write the parts of polygon ``fv[a:a + n]`` (``p`` of its corners positive) on either side
    of unit ``j``'s line to ``nfv[o:]``: the positive one (``p + 2`` vertices), then the negative
    one; each crossed edge's vertex made once (the hash table ``keys`` -> ``made``, appended to
    ``Xc``, ``Zc``). Returns the new vertex count, or -1 where the signs change more than twice."""
    w = Zc.shape[1]
    size = len(keys)
    po, ne = o, o + p + 2
    changes = 0
    for i in range(n):
        u = fv[a + i]
        v = fv[a + (i + 1) % n]
        zu, zv = Zc[u, j], Zc[v, j]
        if zu > 0.0:
            nfv[po] = u
            po += 1
        else:
            nfv[ne] = u
            ne += 1
        if (zu > 0.0) != (zv > 0.0):
            changes += 1
            if changes > 2:
                return -1
            key = min(u, v) * _KEY + max(u, v)
            h = (key * _MIX) & (size - 1)
            while keys[h] != key and keys[h] >= 0:
                h = (h + 1) & (size - 1)
            if keys[h] == key:
                c = made[h]
            else:
                c = nv
                nv += 1
                keys[h] = key
                made[h] = c
                t = zu / (zu - zv)
                for d in range(2):
                    Xc[c, d] = Xc[u, d] + t * (Xc[v, d] - Xc[u, d])
                for q in range(w):
                    Zc[c, q] = Zc[u, q] + t * (Zc[v, q] - Zc[u, q])
                Zc[c, j] = 0.0
            nfv[po] = c
            po += 1
            nfv[ne] = c
            ne += 1
    if po != o + p + 2 or ne != o + n + 4:
        return -1
    return nv


_split_polygon = _split_polygon_py      # what _cut_layer calls: numba's compiled one once loaded


def _areas_and_centroids(X, fv, foff):
    """Each polygon's area (shoelace about its first corner, so that a box far from the origin
    keeps its digits: positive when counter-clockwise) and vertex centroid."""
    nf = len(foff) - 1
    area = np.empty(nf)
    cen = np.zeros((nf, 2))
    for f in range(nf):
        a, b = foff[f], foff[f + 1]
        x0, y0 = X[fv[a], 0], X[fv[a], 1]
        s = 0.0
        for i in range(a, b):
            u, v = fv[i], fv[a + (i + 1 - a) % (b - a)]
            s += (X[u, 0] - x0) * (X[v, 1] - y0) - (X[v, 0] - x0) * (X[u, 1] - y0)
            cen[f, 0] += X[u, 0]
            cen[f, 1] += X[u, 1]
        area[f] = 0.5 * s
        cen[f] /= b - a
    return area, cen


def compiled_regions_2d(net, lo, hi, reporter, max_regions=None) -> dict | None:
    """The arrays of :func:`~neuralpoly_core.regions.tessellation_build.build` for a 2-D
    network of ``relu`` / ``|x|`` layers in general position (module docstring), or None
    (numba missing, another activation, or a reason to give up)."""
    layers = net.layers
    if net.dim != 2 or any(l.activation.group != 1 or not l.activation.kinked for l in layers) \
            or not available():
        return None
    kernels = _compiled()
    if kernels is None:
        return None
    cut_layer, areas_and_centroids = kernels
    X = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]], dtype=float)
    nv = 4
    fv, foff = np.arange(4), np.array([0, 4])
    box = float(np.prod(hi - lo))
    widest = max(layer.width for layer in layers)
    budget = memory_budget()
    max_vertices = max(64, budget // (8 * (2 * (2 + widest) + 4)))   # X and Z, twice while growing
    max_faces = max_regions if max_regions is not None else max(64, budget // (8 * (widest + 16)))
    codes = np.zeros((1, 0), dtype=bool)
    H = X
    for li, layer in enumerate(layers):
        reporter.check()
        W = layer.weight
        b = layer.bias if layer.bias is not None else np.zeros(layer.width)
        Z = np.ascontiguousarray(H @ W.T + b)          # C order: the types it was compiled for
        eps = _TOL * (np.abs(H) @ np.abs(W.T) + np.abs(b)).max(axis=0)
        status, X, Z, nv, fv, foff, parent, signs = cut_layer(X, nv, Z, eps, fv, foff, max_faces, max_vertices)
        if status:
            return None
        X, Z = X[:nv], Z[:nv]
        codes = np.concatenate([codes[parent], signs], axis=1)
        below, above = layer.activation.slopes
        H = np.where(Z > 0, above * Z, below * Z)
        reporter((li + 1) / len(layers), f"layer {li + 1} of {len(layers)}")
    area, cen = areas_and_centroids(X, fv, foff)
    if not tiles_box(area, box, np.maximum(np.abs(lo), np.abs(hi))):
        return None
    cnt = np.diff(foff)
    return dict(X=np.ascontiguousarray(X), regions=(fv, foff[:-1], cnt), codes=codes, centroids=cen)
