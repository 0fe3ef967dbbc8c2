"""The folding of straight paths through a network: exact (every crossing) or sampled (n points).

:func:`fold_paths` is the one entry point (vectorised over paths, in chunks);
:func:`fold_path` and :func:`path_geometry` are its one-path forms.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_callable, check_int
from ..errors import NeuralPolyError
from ..network.model import Network
from ..reporting import Reporter
from .crossings import segment_knots
from .patterns import bit_layers, check_threshold, pattern_width, patterns_at
from .results import FoldingSet, PathFolding

__all__ = ["fold_paths", "fold_path", "path_geometry", "scene_path", "hamming_colors", "check_end_points"]

#: What to use when the exact method cannot take a network.
SAMPLED_ALTERNATIVE = "use the sampled method: samples=N, or --samples N on the command line"


def check_end_points(net: Network, X1, X2) -> tuple[np.ndarray, np.ndarray]:
    """End points as (P, dim) float arrays: finite, of the network's dimension, x1 != x2."""
    out = []
    for X, what in ((X1, "start point"), (X2, "end point")):
        try:
            a = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            raise NeuralPolyError(f"the {what}s must be numbers, got {X!r}") from None
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != net.dim or a.shape[0] == 0:
            raise NeuralPolyError(f"the {what}s must have {net.dim} coordinates (the network's input "
                                  f"dimension), got shape {np.shape(X)}")
        if not np.all(np.isfinite(a)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(a), axis=1))[0])
            raise NeuralPolyError(f"{what} of path {bad} has a NaN or infinite coordinate")
        out.append(a)
    A, B = out
    if len(A) != len(B):
        raise NeuralPolyError(f"{len(A)} start points but {len(B)} end points")
    same = np.flatnonzero(np.all(A == B, axis=1))
    if len(same):
        raise NeuralPolyError(f"path {int(same[0])} has equal end points (x1 == x2): a path needs two points")
    return A, B


def _regions(pid, t0, patterns, n_paths):
    """Merge consecutive pieces with equal patterns: (counts per path, entry t, patterns)."""
    start = np.ones(len(pid), dtype=bool)
    start[1:] = (pid[1:] != pid[:-1]) | np.any(patterns[1:] != patterns[:-1], axis=1)
    counts = np.bincount(pid[start], minlength=n_paths)
    return counts, t0[start], patterns[start]


def _exact_chunk(net, X1, X2, layers, threshold):
    pid, t = segment_knots(net, X1, X2, layers, threshold)
    piece = np.flatnonzero(pid[1:] == pid[:-1])
    ppid = pid[piece]
    mid = 0.5 * (t[piece] + t[piece + 1])
    X = X1[ppid] + mid[:, None] * (X2 - X1)[ppid]
    return _regions(ppid, t[piece], patterns_at(net, X, layers, threshold), len(X1))


def _sampled_chunk(net, X1, X2, layers, threshold, samples):
    ts = np.linspace(0.0, 1.0, samples)
    P = len(X1)
    pid = np.repeat(np.arange(P), samples)
    t = np.tile(ts, P)
    X = X1[pid] + t[:, None] * (X2 - X1)[pid]
    return _regions(pid, t, patterns_at(net, X, layers, threshold), P)


def fold_paths(net: Network, X1, X2, *, samples: int | None = None, layers=None, threshold: float = 0.0,
               chunk: int = 256, progress=None, cancel=None) -> FoldingSet:
    """The regions, patterns and folding measures of many straight paths ``X1[p] -> X2[p]``.

    Parameters
    ----------
    net : Network
        Any network for the sampled method; the exact method needs a piecewise-linear one
        (``relu``, ``|x|``, ``identity``; biases and any head allowed).
    X1, X2 : array_like, shape (P, dim) or (dim,)
        Start and end points (finite, x1 != x2 for every path).
    samples : int, optional
        None: the exact method (every crossing of a zero set along each path, see
        :mod:`.crossings`). An int ``n >= 2``: the paper's sampled method, the patterns at ``n``
        equally spaced points from ``x1`` to ``x2`` (both included; a point on a boundary
        gets the tie bit 0).
    layers : sequence of int, optional
        Hidden layers (0-based) whose neurons make the pattern (default: all that give bits;
        ``identity`` layers give none).
    threshold : float
        A bit is ``pre-activation > threshold`` (ReLU and ``threshold >= 0``: the activation's
        value above the threshold, as on the slides); kinks stay at 0.
    chunk : int
        Paths computed together (memory grows with ``chunk`` x regions x width).
    progress, cancel : callable, optional
        See :mod:`neuralpoly_core.reporting`.

    Raises
    ------
    NeuralPolyError
        Bad end points (wrong dimension, NaN, x1 == x2), layers or threshold;
        :class:`~neuralpoly_core.errors.ExtractionError` when the exact method meets a network
        that is not piecewise linear.
    """
    X1, X2 = check_end_points(net, X1, X2)
    layers = bit_layers(net, layers)
    threshold = check_threshold(threshold)
    if samples is None:
        net.require_piecewise_linear(SAMPLED_ALTERNATIVE)
        net.require_plain_input(f"the exact folding of paths ({SAMPLED_ALTERNATIVE})")
    else:
        samples = check_int(samples, "samples", 2, 10_000_000)
    chunk = check_int(chunk, "chunk", 1)
    check_callable(progress, "progress")
    check_callable(cancel, "cancel")
    report = Reporter(progress, cancel, what="folding", interval=0.05)
    counts, ts, packs = [], [], []
    P = len(X1)
    for a in range(0, P, chunk):
        report(a / P, f"path {a + 1} of {P}")
        b = min(a + chunk, P)
        if samples is None:
            c, t, pat = _exact_chunk(net, X1[a:b], X2[a:b], layers, threshold)
        else:
            c, t, pat = _sampled_chunk(net, X1[a:b], X2[a:b], layers, threshold, samples)
        counts.append(c)
        ts.append(t)
        packs.append(np.packbits(pat, axis=1))
    report(1.0, f"{P} paths", force=True)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    return FoldingSet(X1, X2, offsets, np.concatenate(ts), np.concatenate(packs), pattern_width(net, layers),
                      "exact" if samples is None else "sampled", layers, threshold, samples)


def fold_path(net: Network, x1, x2, *, samples: int | None = None, layers=None,
              threshold: float = 0.0) -> PathFolding:
    """:func:`fold_paths` for one path ``x1 -> x2``: its regions in order, their entry ``t`` and
    patterns, and chi, chi_reverse, d_chi, r1, r2."""
    try:
        x1, x2 = np.atleast_1d(np.asarray(x1, dtype=np.float64)), np.atleast_1d(np.asarray(x2, dtype=np.float64))
    except (TypeError, ValueError):
        raise NeuralPolyError(f"x1 and x2 must be lists of numbers, got {x1!r} and {x2!r}") from None
    if x1.ndim != 1 or x2.ndim != 1:
        raise NeuralPolyError(f"x1 and x2 must be points (one coordinate list each), got shapes "
                              f"{x1.shape} and {x2.shape}")
    return fold_paths(net, x1, x2, samples=samples, layers=layers, threshold=threshold)[0]


def path_geometry(net: Network, x1, x2, *, samples: int | None = None, layers=None,
                  threshold: float = 0.0) -> dict:
    """For drawing one path (the Blender add-on): its crossing points, their ``t``, the pattern
    distance ``d_H(pi_1, pi_i)`` of each region, and the summary numbers.

    See :meth:`PathFolding.geometry` for the keys.
    """
    return fold_path(net, x1, x2, samples=samples, layers=layers, threshold=threshold).geometry()


#: Colours of :func:`hamming_colors`: at the start's pattern, and at the greatest distance ``r1``.
NEAR_COLOR, FAR_COLOR = (0.05, 0.25, 1.0, 1.0), (1.0, 0.15, 0.05, 1.0)


def hamming_colors(distances, r1: int) -> np.ndarray:
    """RGBA (linear, float32) for pattern distances ``d_H(pi_1, pi_i)``: blue at 0, red at ``r1``
    (all blue when ``r1 = 0``), blended linearly between."""
    d = np.asarray(distances, dtype=np.float64)
    u = d / r1 if r1 > 0 else np.zeros_like(d)
    near, far = np.asarray(NEAR_COLOR), np.asarray(FAR_COLOR)
    return (near + u[:, None] * (far - near)).astype(np.float32)


def scene_path(net: Network, p1, p2, *, samples: int | None = None, layers=None, threshold: float = 0.0) -> dict:
    """A path between two points of a 3-D scene through a network with 2 or 3 inputs, for drawing.

    ``p1``, ``p2`` are 3-D points in the network's input coordinates (a viewer's local
    space). A 2-input network ignores their z: the path runs from ``p1[:2]`` to ``p2[:2]``
    and is drawn at z = 0. Returns :func:`path_geometry`'s dict with, in addition,
    ``x1``/``x2`` (the end points the network sees), ``vertices3d`` (n + 1, 3): ``x1``, the
    crossings, ``x2`` in 3-D, ``hamming`` (n + 1,) float: ``d_H(pi_1, pi_i)`` of the region each
    vertex enters (the last vertex: the last region), and ``colors`` (n + 1, 4): those
    distances as :func:`hamming_colors`.

    Raises
    ------
    NeuralPolyError
        A network with other than 2 or 3 inputs, points that are not 3-D (or 2-D for a 2-input
        network), x1 == x2 (after dropping z), and everything :func:`fold_paths` refuses.
    """
    if net.dim not in (2, 3):
        raise NeuralPolyError(f"a path in the scene needs a network with 2 or 3 inputs; this one has {net.dim}")
    ends = []
    for p, what in ((p1, "start point"), (p2, "end point")):
        try:
            a = np.asarray(p, dtype=np.float64)
        except (TypeError, ValueError):
            raise NeuralPolyError(f"the {what} must be 3 numbers, got {p!r}") from None
        if a.shape not in ((3,), (net.dim,)):
            raise NeuralPolyError(f"the {what} must have 3 coordinates (x, y, z), got shape {a.shape}")
        ends.append(a[:net.dim])
    g = path_geometry(net, ends[0], ends[1], samples=samples, layers=layers, threshold=threshold)
    v = g["vertices"]
    g.update(x1=ends[0], x2=ends[1], vertices3d=np.hstack([v, np.zeros((len(v), 3 - net.dim))]),
             hamming=g["vertex_distance"].astype(np.float64),
             colors=hamming_colors(g["vertex_distance"], g["r1"]))
    return g
