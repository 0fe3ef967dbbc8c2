"""Graph algorithms on index arrays: connected components and cycles of successor maps.

Below :mod:`.polymesh` (they know nothing of meshes), so every layer from the planar
triangulation up uses these one implementations: :func:`connected_components` (faces of one
plane, near-duplicate vertices, cells of one region), :func:`walk_cycle` (loops of a successor
map), :func:`trace_loop` (the boundary cycle of a union of faces), :func:`open_ends`
(whether directed segments close up) and :func:`sharing_pairs` (sets with common members:
regions sharing vertices, faces sharing corners), all in numpy alone.
"""

from __future__ import annotations

import numpy as np

from numpy.lib.stride_tricks import sliding_window_view

from ..budget import check_memory

__all__ = ["connected_components", "walk_cycle", "trace_loop", "open_ends", "sharing_pairs"]

_PADDED = 16                     # sharing_pairs: members in at most this many sets go the padded way


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


def _stable_order(x: np.ndarray) -> np.ndarray:
    """``np.argsort(x, kind="stable")`` of non-negative integers, by 16-bit digits (numpy's
    stable sort of 16-bit integers is a radix sort: twice as fast here as on int64)."""
    order = np.arange(len(x))
    top = int(x.max()) if len(x) else 0
    shift = 0
    while True:
        order = order[np.argsort(((x[order] >> shift) & 0xFFFF).astype(np.uint16), kind="stable")]
        shift += 16
        if top >> shift == 0:
            return order


def sharing_pairs(members, counts, min_shared: int = 1, return_members: bool = False):
    """The pairs of sets that have at least ``min_shared`` members in common.

    Parameters
    ----------
    members : (M,) int array
        The sets' members one set after another (non-negative ids, distinct within a set).
    counts : (S,) int array
        How many members each set has (``members`` holds set 0's, then set 1's, ...).
    min_shared : int
        The fewest common members a pair needs.
    return_members : bool
        Also return the common members themselves.

    Returns
    -------
    a, b, shared : (P,) int64 arrays
        The pairs ``a[i] < b[i]`` (by ``a``, then ``b``) and how many members they share.
    common : (shared.sum(),) int64 array
        Only with ``return_members``: each pair's common members, ascending, pair after pair
        (pair ``i``'s are ``common[o[i]:o[i] + shared[i]]``, ``o = cumsum(shared) - shared``).

    Notes
    -----
    For each member, the sets holding it (a stable radix sort by member); every pair of them,
    generated set by set (a member in at most 16 sets through a padded table, others pair by
    pair); then one sort of the pair keys ``a * S + b``, which the set-by-set order leaves
    nearly sorted, and run lengths. The same pairs and counts as the upper triangle of the
    sparse product ``M @ M.T`` of the set-member incidence matrix, in about the same time.
    With ``return_members`` each key carries the member it came from and the keys sort with
    their members (one int64 ``key * 2^b + member`` when it fits, ``b`` the bits of the largest member).
    """
    members = np.asarray(members, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    n, E = len(counts), len(members)
    none = np.zeros(0, dtype=np.int64)
    empty = (none, none, none, none) if return_members else (none, none, none)
    if n < 2 or E < 2:
        return empty
    own = np.repeat(np.arange(n, dtype=np.int32 if n < 2 ** 31 else np.int64), counts)
    order = _stable_order(members)
    sv = members[order]
    new = np.empty(E, dtype=bool)
    new[0] = True
    np.not_equal(sv[1:], sv[:-1], out=new[1:])
    start = np.flatnonzero(new)
    size = np.diff(np.append(start, E))
    gid = np.cumsum(new) - 1
    pos = np.arange(E) - start[gid]
    so = own[order]                               # the sets of each member, ascending
    small = size[gid] <= _PADDED
    parts, whose = [], []                         # whose: the member of each key (return_members)
    shift = int(members.max()).bit_length() if return_members else 0
    packed = return_members and (n * n) << shift < 2 ** 63      # keys as key * 2^shift + member
    m = int(size[size <= _PADDED].max(initial=0))
    if m >= 2:                                    # each entry's later sets: a row of a padded table
        check_memory(24 * E * (m - 1), f"the pairs of {n:,} sets", "use fewer or smaller sets")
        W = 2 * m - 1
        G = len(start)
        pad = np.full((G + 1) * W, -1, dtype=so.dtype)
        flat = np.where(small, gid * W + pos, G * W)
        pad[flat[small]] = so[small]
        inv = np.empty_like(order)
        inv[order] = np.arange(E)
        P = np.take(sliding_window_view(pad, m - 1)[flat + 1], inv, axis=0)     # set by set
        mask = P >= 0
        key = (own.astype(np.int64) * n)[:, None] + P
        if packed:
            key <<= shift
            key |= members[:, None]
        elif return_members:
            whose.append(np.repeat(members, np.count_nonzero(mask, axis=1)))
        parts.append(key[mask])
    big = np.flatnonzero(~small)
    if len(big):                                  # members in many sets: pair by pair
        after = (start + size)[gid[big]] - 1 - big
        first = np.repeat(big, after)
        second = first + 1 + np.arange(len(first)) - np.repeat(np.cumsum(after) - after, after)
        key = so[first].astype(np.int64) * n + so[second]
        if packed:
            key <<= shift
            key |= sv[first]
        elif return_members:
            whose.append(sv[first])
        parts.append(key)
    key = np.concatenate(parts) if parts else none
    if not len(key):
        return empty
    if return_members:
        key, common = _sort_with_members(key, whose, n, shift if packed else None)
    else:
        key.sort(kind="stable")
    new = np.empty(len(key), dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first_of = np.flatnonzero(new)
    shared = np.diff(np.append(first_of, len(key)))
    keep = shared >= min_shared
    u = key[first_of[keep]]
    if return_members:
        return u // n, u % n, shared[keep], common[np.repeat(keep, shared)]
    return u // n, u % n, shared[keep]


def _sort_with_members(key, whose, n: int, shift):
    """The keys sorted, and their members in the same order, ascending within equal keys: the
    keys packed as ``key * 2^shift + member`` (``whose`` unused), or with ``shift`` None, the
    members of the keys in ``whose`` (arrays)."""
    check_memory(24 * len(key), f"the common members of {n:,} sets", "use fewer or smaller sets")
    if shift is not None:                        # one int64 sort; nearly sorted, as the keys are
        key.sort(kind="stable")
        return key >> shift, key & ((1 << shift) - 1)
    member = np.concatenate(whose)
    order = np.lexsort((member, key))
    return key[order], member[order]
