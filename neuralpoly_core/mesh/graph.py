"""Graph algorithms on index arrays: connected components and cycles of successor maps.

Below :mod:`.polymesh` (they know nothing of meshes), so every layer from the planar
triangulation up uses these one implementations: :func:`connected_components` (faces of one
plane, near-duplicate vertices, cells of one region), :func:`walk_cycle` (loops of a successor
map), :func:`trace_loop` (the boundary cycle of a union of faces) and :func:`open_ends`
(whether directed segments close up).
"""

from __future__ import annotations

import numpy as np

__all__ = ["connected_components", "walk_cycle", "trace_loop", "open_ends"]


def connected_components(n: int, a, b) -> np.ndarray:
    """Connected components of the graph on nodes ``0 .. n-1`` with edges ``a[i] - b[i]``.

    Parameters
    ----------
    n : int
        Number of nodes.
    a, b : (E,) int arrays
        Ends of the edges (either order; repeated edges and loops are fine).

    Returns
    -------
    (n,) int array
        The label of every node: the smallest node index of its component (so a node alone
        is its own label, and labels sort components by their first node). For labels
        ``0 .. K-1`` take ``np.unique(labels, return_inverse=True)[1]``.

    Notes
    -----
    Vectorised min-label propagation with pointer jumping: each round gives every edge's ends
    the smaller of their labels and then every node its label's label, until nothing changes.
    """
    a = np.asarray(a, dtype=np.intp)
    b = np.asarray(b, dtype=np.intp)
    lab = np.arange(n)
    if not len(a):
        return lab
    while True:
        m = np.minimum(lab[a], lab[b])
        new = lab.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        if np.array_equal(new, lab):
            return lab
        lab = new


def walk_cycle(succ, start: int, limit: int | None = None) -> list[int] | None:
    """The cycle through ``start`` of a successor map: ``[start, succ[start], ...]`` up to the
    last element before the walk returns to ``start``.

    Parameters
    ----------
    succ : dict, list or array
        ``succ[v]`` is the element after ``v``. A dict may lack elements (the walk then
        leaves the map).
    start : int
        Where the walk starts (an element of ``succ``).
    limit : int, optional
        Most elements the cycle may have.

    Returns
    -------
    list of int or None
        None if the walk leaves a dict map or passes ``limit`` elements without closing.
    """
    get = succ.get if isinstance(succ, dict) else succ.__getitem__
    loop = [start]
    v = get(start)
    while v != start:
        if v is None or (limit is not None and len(loop) >= limit):
            return None
        loop.append(v)
        v = get(v)
    return loop


def trace_loop(us, ws) -> list[int] | None:
    """The single simple cycle formed by the directed edges ``us[i] -> ws[i]``, starting at
    ``us[0]``; None if there are no edges, a vertex has two outgoing edges, or the edges form
    several cycles or an open path (as the boundary of a union of faces that is no disc does)."""
    succ: dict[int, int] = {}
    for u, w in zip(us, ws):
        if u in succ:
            return None
        succ[u] = w
    if not succ:
        return None
    loop = walk_cycle(succ, next(iter(succ)), len(succ))
    return loop if loop is not None and len(loop) == len(succ) else None


def open_ends(n: int, tails, heads) -> int:
    """How many open paths the directed edges ``tails[i] -> heads[i]`` on nodes ``0 .. n-1``
    leave: the total excess of outgoing over incoming edges at the nodes.

    0 exactly when every node has as many edges arriving as leaving, as closed loops do (a
    2-D level curve then encloses regions; each curve that leaves the box adds one).
    """
    excess = np.bincount(np.asarray(tails, dtype=np.intp), minlength=n) - \
        np.bincount(np.asarray(heads, dtype=np.intp), minlength=n)
    return int(np.sum(np.maximum(excess, 0)))
