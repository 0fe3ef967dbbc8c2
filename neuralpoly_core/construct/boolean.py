"""Boolean algebra of neurons: build networks whose level set is a given solid.

The construction follows the seed note on neural boolean algebra. A neuron tests a point against
a hyperplane, so

* **layer 1** holds *half-spaces* ``normal . x <= offset`` (one neuron each),
* **layer 2** intersects them into *convex solids*,
* **layer 3** subtracts convex solids from a convex solid (*differences*, concave solids with
  voids),
* **layer 4** takes the *union* of the differences: any region.

Every solid is kept in that normal form, a union of pieces ``A - (B1 | ... | Bm)`` with convex
``A`` and ``Bj`` (:class:`Solid`), which is closed under union, intersection and difference,
so any expression of :class:`HalfSpace`, :class:`Convex` and the operators ``|``, ``&``, ``-``
(or :func:`union`, :func:`intersection`, :func:`difference`) compiles.

:func:`compile_network` makes a :class:`~neuralpoly_core.network.Network` of the project's model
format whose level set **f = 0 is the solid's boundary, with f < 0 inside** (the extractor's
default ``inside="below"``; normals of extracted meshes point out of the solid):

* **hard** (default): exact, built from ReLUs. With ``h_i = offset_i - n_i . x`` (unit normals:
  the signed distance to the plane), a convex solid is ``min_i h_i``, a difference
  ``min(g_A, -g_B1, ..., -g_Bm)``, a union ``max_P g_P``, and ``f = -g``. Minima and maxima are
  exact with ReLUs, ``min(a, b) = a - relu(a - b)``, computed as balanced trees; signed values
  are carried through a layer as ``relu(a - lb) + lb`` with ``lb`` a lower bound of ``a`` over
  the ``domain`` box (no kink inside it). Each of the four stages therefore takes as many
  ReLU layers as its deepest tree; layer 1 is the half-spaces. Exact extraction
  (:func:`neuralpoly_core.levelset.extract_level_set`, ``method="exact"``, with
  ``merge_coplanar=True``) then yields the polyhedral solid itself.
* **soft** (``sharpness`` given): exactly the note's four sigmoid layers. Layer 1:
  ``s(sharpness (offset - n . x))``; layer 2: ``s(logic (sum_K L1 - (k - 1/2)))``; layer 3:
  ``s(logic (L2_A - sum_j L2_Bj - 1/2))``; layer 4: ``s(logic (sum L3 - 1/2))`` and
  ``f = 1/2 - L4``. Low sharpness blends the solids like metaballs; high sharpness approaches
  the hard solid. Extract it with ``method="marching"``.

JSON description
----------------
:func:`network_from_description` builds the network from a small JSON object (the CLI's
``neuralpoly boolean`` reads one from a file)::

    {"format": "neuralpoly.boolean", "version": 1, "dim": 2,
     "mode": "hard",                        # or "soft"; optional, default "hard"
     "sharpness": 40, "logic_sharpness": 10,  # soft mode only; optional
     "domain": [-1, 1],                     # optional: [lo, hi] or one [lo, hi] per axis
     "solid": EXPR}

where ``EXPR`` is one of

* ``{"box": {"lo": [x, y], "hi": [x, y]}}`` -- an axis-aligned box,
* ``{"halfspace": {"normal": [a, b], "offset": c}}`` -- ``a x + b y <= c``,
* ``{"convex": [{"normal": [...], "offset": c}, ...]}`` -- an intersection of half-spaces,
* ``{"mesh": {"vertices": [[...], ...], "faces": [[i, j, k, ...], ...]}}`` -- the convex solid
  bounded by a convex mesh (in 2-D ``faces`` is the polygon's loop, ``[[0, 1, 2, ...]]``),
* ``{"union": [EXPR, ...]}``, ``{"intersection": [EXPR, ...]}``,
* ``{"difference": [EXPR, EXPR, ...]}`` -- the first minus all the others.

Example: the note's square donut, ``{"format": "neuralpoly.boolean", "version": 1, "dim": 2,
"solid": {"difference": [{"box": {"lo": [0.1, 0.1], "hi": [0.9, 0.9]}},
{"box": {"lo": [0.3, 0.3], "hi": [0.7, 0.7]}}]}}``. Malformed descriptions raise
:class:`~neuralpoly_core.errors.ModelFormatError` naming the offending part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_float
from ..errors import ModelFormatError, NeuralPolyError
from ..mesh.polymesh import PolyMesh
from ..network.model import Activation, Layer, Network, Output

__all__ = ["HalfSpace", "Convex", "Piece", "Solid", "union", "intersection", "difference",
           "compile_network", "network_from_description", "square_donut", "two_square_donuts",
           "LOGIC_SHARPNESS"]

#: Sigmoid scale of layers 2-4 of the soft network (the note's value).
LOGIC_SHARPNESS = 10.0


def _vec(v, what: str, dim: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise NeuralPolyError(f"{what} must be a list of numbers, got {v!r}") from None
    if a.ndim != 1 or (dim is not None and len(a) != dim):
        raise NeuralPolyError(f"{what} must have {dim if dim else 'some'} coordinates, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise NeuralPolyError(f"{what} must be finite")
    return a


class _Operators:
    """``|``, ``&`` and ``-`` for solids: union, intersection and difference."""

    def __or__(self, other):
        return union(self, other)

    def __and__(self, other):
        return intersection(self, other)

    def __sub__(self, other):
        return difference(self, other)


class HalfSpace(_Operators):
    """The half-space ``normal . x <= offset`` (its inside).

    The normal is stored normalised to unit length (the offset scaled with it), so
    ``offset - normal . x`` is the signed distance to the boundary plane.
    """

    def __init__(self, normal, offset: float):
        n = _vec(normal, "half-space normal")
        if len(n) not in (2, 3):
            raise NeuralPolyError(f"half-spaces live in 2-D or 3-D, got a normal with {len(n)} coordinates")
        norm = float(np.linalg.norm(n))
        if norm == 0.0:
            raise NeuralPolyError("a half-space needs a non-zero normal")
        offset = check_float(offset, "half-space offset")
        self.normal = n / norm
        self.offset = offset / norm

    @property
    def dim(self) -> int:
        return len(self.normal)

    def key(self) -> tuple:
        return tuple(np.round(self.normal, 15).tolist()) + (round(self.offset, 15),)

    def complement(self) -> "HalfSpace":
        """The closure of the other side, ``-normal . x <= -offset``."""
        return HalfSpace(-self.normal, -self.offset)

    def contains(self, X, tol: float = 1e-12) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.normal <= self.offset + tol

    def __repr__(self):
        return f"HalfSpace(normal={self.normal.tolist()}, offset={self.offset:g})"

    def _solid(self) -> "Solid":
        return Convex([self])._solid()


class Convex(_Operators):
    """A convex solid: the intersection of half-spaces."""

    def __init__(self, halfspaces, vertices=None):
        hs = list(halfspaces)
        if not hs:
            raise NeuralPolyError("a convex solid needs at least one half-space")
        for h in hs:
            if not isinstance(h, HalfSpace):
                raise NeuralPolyError(f"Convex takes HalfSpace objects, got {type(h).__name__}")
        dims = {h.dim for h in hs}
        if len(dims) != 1:
            raise NeuralPolyError(f"half-spaces of mixed dimensions {sorted(dims)}")
        # drop exact duplicates, keep order
        seen, uniq = set(), []
        for h in hs:
            k = h.key()
            if k not in seen:
                seen.add(k)
                uniq.append(h)
        self.halfspaces = uniq
        self.vertices = None if vertices is None else np.asarray(vertices, dtype=np.float64)

    @property
    def dim(self) -> int:
        return self.halfspaces[0].dim

    @classmethod
    def box(cls, lo, hi) -> "Convex":
        """The axis-aligned box ``[lo, hi]`` (2-D or 3-D)."""
        lo = _vec(lo, "box lo")
        hi = _vec(hi, "box hi", len(lo))
        if len(lo) not in (2, 3):
            raise NeuralPolyError(f"boxes are 2-D or 3-D, got {len(lo)} coordinates")
        if np.any(hi <= lo):
            raise NeuralPolyError(f"box is empty: hi {hi.tolist()} must exceed lo {lo.tolist()}")
        d = len(lo)
        hs = []
        for k in range(d):
            e = np.zeros(d)
            e[k] = 1.0
            hs.append(HalfSpace(e, hi[k]))
            hs.append(HalfSpace(-e, -lo[k]))
        corners = np.array([[hi[k] if (i >> k) & 1 else lo[k] for k in range(d)] for i in range(1 << d)])
        return cls(hs, vertices=corners)

    @classmethod
    def from_mesh(cls, vertices, faces, tolerance: float = 1e-9) -> "Convex":
        """The convex solid bounded by a convex mesh (3-D faces; in 2-D one polygon loop).

        Each face's plane is oriented away from the vertex centroid.

        Raises
        ------
        NeuralPolyError
            If the mesh is degenerate or not convex.
        """
        V = np.asarray(vertices, dtype=np.float64)
        if V.ndim != 2 or V.shape[1] not in (2, 3) or len(V) < V.shape[1] + 1:
            raise NeuralPolyError(f"a convex mesh needs at least d+1 vertices of 2 or 3 coordinates, "
                                  f"got shape {V.shape}")
        if not np.all(np.isfinite(V)):
            raise NeuralPolyError("mesh vertices must be finite")
        faces = [np.asarray(f, dtype=np.int64) for f in faces]
        if not faces:
            raise NeuralPolyError("a convex mesh needs faces")
        for f in faces:
            if f.ndim != 1 or len(f) < (2 if V.shape[1] == 2 else 3) or f.min() < 0 or f.max() >= len(V):
                raise NeuralPolyError(f"bad face {f.tolist()} for {len(V)} vertices")
        cen = V.mean(axis=0)
        size = float(np.ptp(V, axis=0).max())
        hs = []
        if V.shape[1] == 2:
            for loop in faces:
                for a, b in zip(loop.tolist(), np.roll(loop, -1).tolist()):
                    e = V[b] - V[a]
                    n = np.array([e[1], -e[0]])
                    if np.linalg.norm(n) <= 1e-15 * max(size, 1e-300):
                        continue
                    if n @ (cen - V[a]) > 0:
                        n = -n
                    hs.append(HalfSpace(n, float(n @ V[a])))
        else:
            normals = PolyMesh.from_faces(V, faces).face_normals()     # unit, or 0 if degenerate
            for f, n in zip(faces, normals):
                if not np.any(n):
                    continue
                c = V[f].mean(axis=0)
                if n @ (cen - c) > 0:
                    n = -n
                hs.append(HalfSpace(n, float(n @ c)))
        if len(hs) < V.shape[1] + 1:
            raise NeuralPolyError("the mesh is degenerate: too few non-degenerate faces for a solid")
        out = cls(hs, vertices=V)
        for h in out.halfspaces:
            if np.any(V @ h.normal > h.offset + tolerance * max(size, 1.0)):
                raise NeuralPolyError("the mesh is not convex: a vertex lies outside a face's plane")
        return out

    def contains(self, X, tol: float = 1e-12) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        ok = np.ones(X.shape[:-1], dtype=bool)
        for h in self.halfspaces:
            ok &= h.contains(X, tol)
        return ok

    def intersect(self, other: "Convex") -> "Convex":
        return Convex(self.halfspaces + other.halfspaces)

    def _solid(self) -> "Solid":
        return Solid([Piece(self, [])])

    def __repr__(self):
        return f"Convex({len(self.halfspaces)} half-spaces, dim={self.dim})"


@dataclass
class Piece:
    """``base`` minus the union of ``holes`` (all convex)."""

    base: Convex
    holes: list

    def contains(self, X) -> np.ndarray:
        ok = self.base.contains(X)
        for h in self.holes:
            ok &= ~h.contains(X, tol=-1e-12)
        return ok


class Solid(_Operators):
    """A union of :class:`Piece` objects: the normal form of the four-layer network."""

    def __init__(self, pieces):
        self.pieces = list(pieces)
        if not self.pieces:
            raise NeuralPolyError("a solid needs at least one piece")
        dims = {p.base.dim for p in self.pieces} | {h.dim for p in self.pieces for h in p.holes}
        if len(dims) != 1:
            raise NeuralPolyError(f"solids of mixed dimensions {sorted(dims)}")

    @property
    def dim(self) -> int:
        return self.pieces[0].base.dim

    def contains(self, X) -> np.ndarray:
        """Membership of points (boundaries count as inside; for tests and previews)."""
        X = np.asarray(X, dtype=np.float64)
        ok = np.zeros(X.shape[:-1], dtype=bool)
        for p in self.pieces:
            ok |= p.contains(X)
        return ok

    def _solid(self) -> "Solid":
        return self

    def __repr__(self):
        return f"Solid({len(self.pieces)} pieces, dim={self.dim})"


def _as_solid(x) -> Solid:
    if isinstance(x, (HalfSpace, Convex, Solid)):
        return x._solid()
    raise NeuralPolyError(f"expected a HalfSpace, Convex or Solid, got {type(x).__name__}")


def union(*solids) -> Solid:
    """The union of solids (layer 4)."""
    if not solids:
        raise NeuralPolyError("union of nothing")
    pieces = []
    for s in solids:
        pieces += _as_solid(s).pieces
    return Solid(pieces)


def intersection(*solids) -> Solid:
    """The intersection of solids: ``(A - B..) & (C - D..) = (A & C) - (B.. | D..)``."""
    if not solids:
        raise NeuralPolyError("intersection of nothing")
    acc = _as_solid(solids[0])
    for s in solids[1:]:
        other = _as_solid(s)
        acc = Solid([Piece(p.base.intersect(q.base), p.holes + q.holes)
                     for p in acc.pieces for q in other.pieces])
    return acc


def difference(first, *others) -> Solid:
    """``first`` minus every other solid (layer 3).

    Subtracting a piece without holes adds a hole; ``S - (C - D) = (S - C) | (S & D)``
    handles holes in what is subtracted.
    """
    acc = _as_solid(first)
    for s in others:
        for q in _as_solid(s).pieces:
            sub = Solid([Piece(p.base, p.holes + [q.base]) for p in acc.pieces])
            if q.holes:
                inter = [intersection(acc, Solid([Piece(h, [])])) for h in q.holes]
                acc = union(sub, *inter)
            else:
                acc = sub
    return acc


# ---------------------------------------------------------------------------------------
# compilation
# ---------------------------------------------------------------------------------------
def _domain(solid: Solid, domain) -> tuple[np.ndarray, np.ndarray]:
    d = solid.dim
    if domain is not None:
        try:
            b = np.asarray(domain, dtype=np.float64)
        except (TypeError, ValueError):
            raise NeuralPolyError(f"domain must be numbers (lo, hi) or one (lo, hi) per axis, got {domain!r}") from None
        if b.shape == (2,):
            lo, hi = np.full(d, b[0]), np.full(d, b[1])
        elif b.shape == (d, 2):
            lo, hi = b[:, 0].copy(), b[:, 1].copy()
        else:
            raise NeuralPolyError(f"domain must be (lo, hi) or a ({d}, 2) array, got shape {b.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(hi > lo)):
            raise NeuralPolyError("domain must be a finite, non-empty box")
        return lo, hi
    lo, hi = np.full(d, -1.0), np.full(d, 1.0)
    for p in solid.pieces:
        for c in [p.base] + p.holes:
            if c.vertices is not None:
                lo = np.minimum(lo, c.vertices.min(axis=0))
                hi = np.maximum(hi, c.vertices.max(axis=0))
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    return mid - 4 * half, mid + 4 * half


class _ReluCircuit:
    """Layer-by-layer builder of exact ReLU min/max trees.

    A *signal* ``(coeffs, const, lo, hi)`` is the affine function ``coeffs . h + const`` of the
    current layer's outputs ``h`` (of the inputs before the first layer), with ``[lo, hi]``
    bounding it over the domain.
    """

    def __init__(self, n_inputs: int):
        self.width = n_inputs
        self.layers = []

    def new_layer(self, ops):
        """One ReLU layer for ``ops`` ('pass', a) / ('min', a, b) / ('max', a, b).

        ``pass``: ``relu(a - lb) + lb`` with ``lb`` below ``a``'s range (no kink in the domain);
        ``min(a, b) = a - relu(a - b)``, ``max(a, b) = a + relu(b - a)``. Returns the result
        signals over the new layer.
        """
        rows, biases, outs = [], [], []
        for op in ops:
            ca, ka, la, ha = op[1]
            lb = la - 1.0 - 0.01 * abs(la)
            i = len(rows)
            rows.append(ca)
            biases.append(ka - lb)
            if op[0] == "pass":
                outs.append(([(i, 1.0)], lb, la, ha))
                continue
            cb, kb, lbb, hbb = op[2]
            j = len(rows)
            if op[0] == "min":
                rows.append(ca - cb)
                biases.append(ka - kb)
                outs.append(([(i, 1.0), (j, -1.0)], lb, min(la, lbb), min(ha, hbb)))
            else:
                rows.append(cb - ca)
                biases.append(kb - ka)
                outs.append(([(i, 1.0), (j, 1.0)], lb, max(la, lbb), max(ha, hbb)))
        self.layers.append(Layer(np.array(rows, dtype=np.float64), np.array(biases, dtype=np.float64),
                                 Activation("relu")))
        self.width = len(rows)
        res = []
        for terms, const, lo, hi in outs:
            c = np.zeros(self.width)
            for idx, w in terms:
                c[idx] += w
            res.append((c, const, lo, hi))
        return res

    def reduce(self, groups):
        """Reduce each group ``(op, [signals])`` to one signal by balanced trees, in lockstep
        (groups that finish early are passed through)."""
        cur = [list(g[1]) for g in groups]
        kinds = [g[0] for g in groups]
        while any(len(c) > 1 for c in cur):
            ops, shape = [], []
            for kind, sigs in zip(kinds, cur):
                n_here = 0
                for k in range(0, len(sigs) - 1, 2):
                    ops.append((kind, sigs[k], sigs[k + 1]))
                    n_here += 1
                if len(sigs) % 2:
                    ops.append(("pass", sigs[-1]))
                    n_here += 1
                shape.append(n_here)
            res = self.new_layer(ops)
            cur, pos = [], 0
            for n_here in shape:
                cur.append(res[pos:pos + n_here])
                pos += n_here
        return [c[0] for c in cur]


def _hard_network(solid: Solid, lo: np.ndarray, hi: np.ndarray) -> Network:
    d = solid.dim
    # distinct half-spaces (layer 1)
    hs_index, hs_list = {}, []
    for p in solid.pieces:
        for c in [p.base] + p.holes:
            for h in c.halfspaces:
                k = h.key()
                if k not in hs_index:
                    hs_index[k] = len(hs_list)
                    hs_list.append(h)
    circ = _ReluCircuit(d)
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    sig0 = []
    for h in hs_list:
        # h(x) = offset - n . x over the domain box
        centre = h.offset - h.normal @ mid
        rad = np.abs(h.normal) @ half
        sig0.append((-h.normal.copy(), h.offset, centre - rad, centre + rad))
    hs_sig = circ.new_layer([("pass", s_) for s_ in sig0])          # layer 1: the half-spaces

    def neg(s):
        c, k, a, b = s
        return (-c, -k, -b, -a)

    # layer 2: every distinct convex solid
    conv_index, conv_groups = {}, []
    for p in solid.pieces:
        for c in [p.base] + p.holes:
            key = tuple(sorted(hs_index[h.key()] for h in c.halfspaces))
            if key not in conv_index:
                conv_index[key] = len(conv_groups)
                conv_groups.append(("min", [hs_sig[i] for i in key]))
    conv_sig = circ.reduce(conv_groups)

    def cidx(c):
        return conv_index[tuple(sorted(hs_index[h.key()] for h in c.halfspaces))]

    # layer 3: differences min(g_A, -g_B1, ...)
    diff_groups = []
    for p in solid.pieces:
        sigs = [conv_sig[cidx(p.base)]] + [neg(conv_sig[cidx(h)]) for h in p.holes]
        diff_groups.append(("min", sigs))
    piece_sig = circ.reduce(diff_groups)
    # layer 4: union
    (g,) = circ.reduce([("max", piece_sig)])
    c, k, _a, _b = g
    layers = circ.layers
    return Network(d, layers, Output("linear", (-c)[None, :], np.array([-k])))


def _soft_network(solid: Solid, sharpness: float, logic: float) -> Network:
    d = solid.dim
    hs_index, hs_list = {}, []
    conv_index, conv_list = {}, []
    for p in solid.pieces:
        for c in [p.base] + p.holes:
            idx = []
            for h in c.halfspaces:
                k = h.key()
                if k not in hs_index:
                    hs_index[k] = len(hs_list)
                    hs_list.append(h)
                idx.append(hs_index[k])
            key = tuple(sorted(idx))
            if key not in conv_index:
                conv_index[key] = len(conv_list)
                conv_list.append(key)
    H, C, P = len(hs_list), len(conv_list), len(solid.pieces)
    # layer 1: s(sharpness (offset - n . x)): weight -n, bias offset, sigmoid scale = sharpness
    W1 = np.array([-h.normal for h in hs_list])
    b1 = np.array([h.offset for h in hs_list])
    # layer 2: s(logic (sum_K L1 - (k - 1/2)))
    W2 = np.zeros((C, H))
    b2 = np.zeros(C)
    for j, key in enumerate(conv_list):
        W2[j, list(key)] = 1.0
        b2[j] = -(len(key) - 0.5)
    # layer 3: s(logic (L2_A - sum L2_Bj - 1/2))
    W3 = np.zeros((P, C))
    b3 = np.full(P, -0.5)

    def cidx(c):
        return conv_index[tuple(sorted(hs_index[h.key()] for h in c.halfspaces))]

    for i, p in enumerate(solid.pieces):
        W3[i, cidx(p.base)] += 1.0
        for h in p.holes:
            W3[i, cidx(h)] -= 1.0
    # layer 4: s(logic (sum L3 - 1/2)); f = 1/2 - L4
    W4 = np.ones((1, P))
    b4 = np.array([-0.5])
    layers = [Layer(W1, b1, Activation("sigmoid", scale=float(sharpness))),
              Layer(W2, b2, Activation("sigmoid", scale=float(logic))),
              Layer(W3, b3, Activation("sigmoid", scale=float(logic))),
              Layer(W4, b4, Activation("sigmoid", scale=float(logic)))]
    return Network(d, layers, Output("linear", np.array([[-1.0]]), np.array([0.5])))


def compile_network(solid, sharpness: float | None = None, hard: bool | None = None, *,
                    domain=None, logic_sharpness: float = LOGIC_SHARPNESS) -> Network:
    """Compile a solid to a network whose level set ``f = 0`` bounds it, ``f < 0`` inside.

    Parameters
    ----------
    solid : HalfSpace, Convex or Solid
    sharpness : float, optional
        Sigmoid scale of the soft network's half-space layer (per unit distance). Giving it
        selects the soft network unless ``hard=True``.
    hard : bool, optional
        True: exact ReLU network; False: the note's sigmoid network. Default: hard unless a
        sharpness is given.
    domain : (lo, hi) or (d, 2) array, optional
        Hard mode: the box in which the network is exact (its signed values are carried
        through layers with shifts valid there). Default: four times the bounding box of the
        solid's boxes and meshes and of [-1, 1]^d.
    logic_sharpness : float
        Soft mode: sigmoid scale of layers 2-4.

    Returns
    -------
    Network
        dim 2 or 3; a ``linear`` output head.
    """
    s = _as_solid(solid)
    if hard is None:
        hard = sharpness is None
    if hard:
        if sharpness is not None:
            raise NeuralPolyError("sharpness applies to the soft (sigmoid) network; drop it or pass hard=False")
        lo, hi = _domain(s, domain)
        return _hard_network(s, lo, hi)
    if sharpness is None:
        sharpness = LOGIC_SHARPNESS
    sharpness = check_float(sharpness, "sharpness", 0.0, lo_open=True)
    logic_sharpness = check_float(logic_sharpness, "logic_sharpness", 0.0, lo_open=True)
    return _soft_network(s, sharpness, logic_sharpness)


# ---------------------------------------------------------------------------------------
# the seed note's examples
# ---------------------------------------------------------------------------------------
def square_donut(dim: int = 2, outer=(0.1, 0.9), inner=(0.3, 0.7)) -> Solid:
    """The note's square donut: the big square minus the small one (a cube minus a cube in 3-D)."""
    if dim not in (2, 3):
        raise NeuralPolyError(f"dim must be 2 or 3, got {dim!r}")
    big = Convex.box([outer[0]] * dim, [outer[1]] * dim)
    small = Convex.box([inner[0]] * dim, [inner[1]] * dim)
    return big - small


def two_square_donuts(dim: int = 2) -> Solid:
    """The note's union of two square donuts (its layer-4 example), or two cube donuts in 3-D."""
    return union(square_donut(dim, (0.1, 0.4), (0.2, 0.3)), square_donut(dim, (0.6, 0.9), (0.7, 0.8)))


# ---------------------------------------------------------------------------------------
# JSON descriptions
# ---------------------------------------------------------------------------------------
def _expr(e, dim: int, where: str):
    if not isinstance(e, dict) or len(e) != 1:
        raise ModelFormatError(f"{where}: expected an object with exactly one key (box, halfspace, "
                               f"convex, mesh, union, intersection, difference), got {e!r}")
    (kind, arg), = e.items()
    try:
        if kind == "box":
            if not isinstance(arg, dict) or set(arg) != {"lo", "hi"}:
                raise ModelFormatError(f"{where}: box needs exactly 'lo' and 'hi'")
            c = Convex.box(_vec(arg["lo"], "box lo", dim), _vec(arg["hi"], "box hi", dim))
            return c
        if kind == "halfspace":
            return _halfspace(arg, dim, where)
        if kind == "convex":
            if not isinstance(arg, list) or not arg:
                raise ModelFormatError(f"{where}: convex needs a non-empty list of half-spaces")
            return Convex([_halfspace(h, dim, f"{where}.convex[{i}]") for i, h in enumerate(arg)])
        if kind == "mesh":
            if not isinstance(arg, dict) or set(arg) != {"vertices", "faces"}:
                raise ModelFormatError(f"{where}: mesh needs exactly 'vertices' and 'faces'")
            V = np.asarray(arg["vertices"], dtype=np.float64)
            if V.ndim != 2 or V.shape[1] != dim:
                raise ModelFormatError(f"{where}: mesh vertices must have {dim} coordinates each")
            return Convex.from_mesh(V, arg["faces"])
        if kind in ("union", "intersection", "difference"):
            if not isinstance(arg, list) or not arg:
                raise ModelFormatError(f"{where}: {kind} needs a non-empty list")
            parts = [_expr(x, dim, f"{where}.{kind}[{i}]") for i, x in enumerate(arg)]
            return {"union": union, "intersection": intersection, "difference": difference}[kind](*parts)
    except ModelFormatError:
        raise
    except (NeuralPolyError, TypeError, ValueError) as err:
        raise ModelFormatError(f"{where}: {err}") from None
    raise ModelFormatError(f"{where}: unknown solid kind {kind!r}; expected box, halfspace, convex, "
                           "mesh, union, intersection or difference")


def _halfspace(h, dim, where):
    if not isinstance(h, dict) or set(h) != {"normal", "offset"}:
        raise ModelFormatError(f"{where}: a half-space needs exactly 'normal' and 'offset'")
    return HalfSpace(_vec(h["normal"], "normal", dim), h["offset"])


def network_from_description(desc: dict) -> Network:
    """Build the network of a ``neuralpoly.boolean`` JSON description (see module docstring)."""
    if not isinstance(desc, dict):
        raise ModelFormatError("a boolean description must be a JSON object")
    if desc.get("format") != "neuralpoly.boolean":
        raise ModelFormatError(f"not a boolean description: 'format' is {desc.get('format')!r}, "
                               "expected 'neuralpoly.boolean'")
    if desc.get("version") != 1:
        raise ModelFormatError(f"unsupported boolean description version {desc.get('version')!r}")
    unknown = set(desc) - {"format", "version", "dim", "mode", "sharpness", "logic_sharpness",
                           "domain", "solid"}
    if unknown:
        raise ModelFormatError(f"boolean description has unknown keys {sorted(unknown)}")
    dim = desc.get("dim")
    if isinstance(dim, bool) or dim not in (2, 3):
        raise ModelFormatError(f"'dim' must be 2 or 3, got {dim!r}")
    if "solid" not in desc:
        raise ModelFormatError("boolean description has no 'solid'")
    solid = _as_solid(_expr(desc["solid"], dim, "solid"))
    mode = desc.get("mode", "hard")
    if mode not in ("hard", "soft"):
        raise ModelFormatError(f"'mode' must be 'hard' or 'soft', got {mode!r}")
    try:
        if mode == "hard":
            if "sharpness" in desc or "logic_sharpness" in desc:
                raise ModelFormatError("'sharpness' applies to mode 'soft' only")
            return compile_network(solid, hard=True, domain=desc.get("domain"))
        if "domain" in desc:
            raise ModelFormatError("'domain' applies to mode 'hard' only")
        return compile_network(solid, desc.get("sharpness", LOGIC_SHARPNESS), hard=False,
                               logic_sharpness=desc.get("logic_sharpness", LOGIC_SHARPNESS))
    except ModelFormatError:
        raise
    except NeuralPolyError as err:
        raise ModelFormatError(str(err)) from None
