"""The seed note's demo: a metaball height field drawn by a three-layer sigmoid network.

Over 2-D input, each metaball (blob) of centre ``c`` and radius ``r`` is a soft convex polygon
built as in :mod:`neuralpoly_core.construct.boolean`:

* **layer 1**: ``directions`` half-planes per blob, ``s(sharpness (r - u_j . (x - c)))`` for
  unit directions ``u_j`` evenly spaced around the circle (the blob's soft edges);
* **layer 2**: one neuron per blob, ``s(3 (sum_j L1_j - S_rim) / (S_centre - S_rim))``,
  where ``S_centre`` and ``S_rim`` are the sums of its layer-1 values at the centre and on its
  rim (the note's "inside all of its half-planes", normalised so that the blob is 1/2 on its
  rim and s(3) = 0.95 at its centre for any sharpness, while its fall-off outside the rim
  follows the sharpness);
* **layer 3**: the union, ``s(logic (sum_blobs L2 - 1/2))``;

and the output is ``height * L3``. Low ``sharpness`` rounds the polygons into blobs that
merge when they come close, like metaballs. A blob's centre only enters layer 1's biases,
``r + u_j . c`` (the sigmoid's scale multiplies ``W x + b``), so animating the biases moves the blobs (the note's animation):
:func:`animated_biases` gives layer 1's biases at a frame, with every blob circling its rest
position (period ``period`` frames, radius ``amplitude``, phases spread over the blobs), and
:func:`set_layer1_biases` installs them.

:func:`height_grid` evaluates a network on a square grid and returns the grid mesh displaced
by ``f`` along z (quads, counter-clockwise seen from above).
"""

from __future__ import annotations

import math

import numpy as np

from .._checks import check_float, check_int
from ..errors import NeuralPolyError
from ..mesh.polymesh import PolyMesh
from .boolean import LOGIC_SHARPNESS
from ..network.model import Activation, Layer, Network, Output

__all__ = ["metaball_network", "layer1_biases", "blob_centers_at", "animated_biases",
           "set_layer1_biases", "height_grid", "grid_values", "DEFAULT_DIRECTIONS"]

DEFAULT_DIRECTIONS = 8
_BLOB = 3.0          # layer 2 at a blob's centre: s(3) = 0.95


def _blobs(centers, radii):
    C = np.asarray(centers, dtype=np.float64)
    if C.ndim != 2 or C.shape[1] != 2 or len(C) == 0:
        raise NeuralPolyError(f"centers must be a non-empty list of (x, y) points, got shape {C.shape}")
    R = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(C),)).copy() \
        if np.ndim(radii) == 0 else np.asarray(radii, dtype=np.float64)
    if R.shape != (len(C),):
        raise NeuralPolyError(f"radii must be one number or one per centre ({len(C)}), got shape {R.shape}")
    if not (np.all(np.isfinite(C)) and np.all(np.isfinite(R))):
        raise NeuralPolyError("centers and radii must be finite")
    if np.any(R <= 0):
        raise NeuralPolyError("every radius must be positive")
    return C, R


def _directions(n):
    n = check_int(n, "directions", 3, 256)
    a = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def layer1_biases(centers, radii, directions: int = DEFAULT_DIRECTIONS) -> np.ndarray:
    """Layer 1's biases ``r + u_j . c`` for blobs at ``centers`` (blob-major order)."""
    C, R = _blobs(centers, radii)
    U = _directions(directions)
    return (R[:, None] + C @ U.T).ravel()


def metaball_network(centers, radii, sharpness: float = 8.0, *,
                     directions: int = DEFAULT_DIRECTIONS, logic_sharpness: float = LOGIC_SHARPNESS,
                     height: float = 1.0) -> Network:
    """The three-layer sigmoid metaball network (see module docstring).

    Parameters
    ----------
    centers : (k, 2) array
        Blob centres.
    radii : float or (k,) array
        Blob radii (distance from the centre to each soft edge).
    sharpness : float
        Sigmoid scale of the blobs' edges, per unit distance (low: round, merging blobs).
    directions : int
        Half-planes per blob.
    logic_sharpness : float
        Sigmoid scale of layer 3 (the union).
    height : float
        Output scale: the height of a blob's plateau is about ``height``.
    """
    C, R = _blobs(centers, radii)
    s = check_float(sharpness, "sharpness", 0.0, lo_open=True)
    logic = check_float(logic_sharpness, "logic_sharpness", 0.0, lo_open=True)
    height = check_float(height, "height")
    U = _directions(directions)
    k, m = len(C), len(U)
    # s(sharpness (r - u.(x - c))): weight -u (the sigmoid's scale multiplies), bias r + u.c
    W1 = np.tile(-U, (k, 1))
    b1 = (R[:, None] + C @ U.T).ravel()
    # layer 2: normalised so that a blob is 1/2 on its rim and ~1 at its centre
    ang = 2 * np.pi * np.arange(m) / m

    def sig(t):
        return 1.0 / (1.0 + np.exp(-t))

    s_centre = m * sig(s * R)
    s_rim = sig(s * R[:, None] * (1.0 - np.cos(ang))[None, :]).sum(axis=1)
    spread = s_centre - s_rim
    if np.any(spread <= 1e-12):
        raise NeuralPolyError("sharpness is too low for these radii: the blobs have no plateau")
    W2 = np.kron(np.diag(_BLOB / spread), np.ones((1, m)))
    b2 = -_BLOB * s_rim / spread
    W3 = np.ones((1, k))
    b3 = np.array([-0.5])
    layers = [Layer(W1, b1, Activation("sigmoid", scale=s)),
              Layer(W2, b2, Activation("sigmoid", scale=1.0)),
              Layer(W3, b3, Activation("sigmoid", scale=logic))]
    return Network(2, layers, Output("linear", np.array([[float(height)]]), None))


def blob_centers_at(centers, frame: float, *, amplitude: float = 0.15, period: float = 120.0) -> np.ndarray:
    """Blob centres at ``frame``: blob ``i`` runs once every ``period`` frames around a circle
    of radius ``amplitude`` through its rest position (where it is at frame 0), starting at
    angle ``2 pi i / k``, even blobs counter-clockwise and odd ones clockwise."""
    C = np.asarray(centers, dtype=np.float64)
    if C.ndim != 2 or C.shape[1] != 2:
        raise NeuralPolyError(f"centers must be a list of (x, y) points, got shape {C.shape}")
    frame = check_float(frame, "frame")
    period = check_float(period, "period", 0.0, lo_open=True)
    amplitude = check_float(amplitude, "amplitude", 0.0)
    k = len(C)
    phase = 2 * np.pi * np.arange(k) / max(k, 1)
    sign = np.where(np.arange(k) % 2 == 0, 1.0, -1.0)
    a = phase + sign * 2 * np.pi * float(frame) / period
    return C + float(amplitude) * np.stack([np.cos(a) - np.cos(phase), np.sin(a) - np.sin(phase)], axis=1)


def animated_biases(centers, radii, frame: float, *, directions: int = DEFAULT_DIRECTIONS,
                    amplitude: float = 0.15, period: float = 120.0) -> np.ndarray:
    """Layer 1's biases at ``frame`` for blobs moving as in :func:`blob_centers_at`.

    At frame 0 the blobs are at their rest positions (the biases of
    :func:`metaball_network` built from the same centres and radii).
    """
    return layer1_biases(blob_centers_at(centers, frame, amplitude=amplitude, period=period),
                         radii, directions)


def set_layer1_biases(net: Network, biases) -> Network:
    """A copy of ``net`` with layer 1's biases replaced (e.g. by :func:`animated_biases`)."""
    b = np.asarray(biases, dtype=np.float64)
    first = net.layers[0]
    if b.shape != (first.width,):
        raise NeuralPolyError(f"layer 1 has {first.width} neurons, got {b.shape} biases")
    out = net.copy()
    out.layers[0].bias = b.copy()
    return out


def _square(size):
    if np.ndim(size) == 0:
        s = check_float(size, "size", 0.0, lo_open=True)
        return -0.5 * s, 0.5 * s
    lo, hi = (float(v) for v in np.asarray(size, dtype=np.float64).ravel()[:2])
    if np.asarray(size).size != 2 or not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise NeuralPolyError(f"size must be a side length or (lo, hi) with lo < hi, got {size!r}")
    return lo, hi


def grid_values(net: Network, size=1.0, resolution: int = 64):
    """``(xs, ys, F)``: grid coordinates and ``F[i, j] = f(xs[i], ys[j])``.

    ``size`` is the side of the square centred at the origin, or ``(lo, hi)`` for
    ``[lo, hi]^2``; ``resolution`` cells per side.
    """
    if net.dim != 2:
        raise NeuralPolyError(f"a height field needs a network with 2 inputs, got {net.dim}")
    resolution = check_int(resolution, "resolution", 1, 4096)
    lo, hi = _square(size)
    xs = np.linspace(lo, hi, int(resolution) + 1)
    X, Y = np.meshgrid(xs, xs, indexing="ij")
    F = net.evaluate(np.stack([X.ravel(), Y.ravel()], axis=1)).reshape(X.shape)
    return xs, xs.copy(), F


def height_grid(net: Network, size=1.0, resolution: int = 64, *, height_scale: float = 1.0) -> PolyMesh:
    """The grid mesh over the square, displaced by ``height_scale * f`` along z.

    Vertex ``i * (resolution + 1) + j`` is ``(xs[i], ys[j], height_scale * f)``; faces are
    quads, counter-clockwise seen from above. ``info`` holds ``min_height`` / ``max_height``.
    """
    xs, ys, F = grid_values(net, size, resolution)
    height_scale = check_float(height_scale, "height_scale")
    n = len(xs)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    V = np.stack([X.ravel(), Y.ravel(), height_scale * F.ravel()], axis=1)
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n - 1), indexing="ij")
    a = (i * n + j).ravel()
    quads = np.stack([a, a + n, a + n + 1, a + 1], axis=1)     # +x, then +y: CCW from above
    mesh = PolyMesh(V, quads.ravel(), np.full(len(quads), 4, dtype=np.int64))
    mesh.info.update({"resolution": int(resolution), "min_height": float(V[:, 2].min()),
                      "max_height": float(V[:, 2].max())})
    return mesh
