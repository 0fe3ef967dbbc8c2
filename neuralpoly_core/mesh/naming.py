"""Names for extracted polygons and polyhedra: "regular decagon", "cuboctahedron", ...

A polytope is named from its combinatorics (f-vector, face sizes, the cyclic sequence of
face sizes around every vertex) together with a scale-free regularity test: every edge
length must lie within ``tol`` (relative) of the mean edge length and every angle within
``tol`` (relative) of the ideal angle. Convexity is decided separately, with a fixed tight
tolerance.

The default ``tol`` (:data:`DEFAULT_TOL` = 0.1) is sized for trained networks, which are
only approximately regular: the loss is very flat along deformations of the ideal shape,
so networks trained by :mod:`neuralpoly_core.training` give edge lengths off by up to ~6 % (angles ~1 %)
-- e.g. a trained (7;1) 14-gon had max edge deviation 0.058, a trained (4;1) cuboctahedron
0.025 -- while weights perturbed by 0.2 give 0.2-1.0. Pass ``tol=1e-2`` for a strict test.


Recognised: regular polygons (2-D), and 2-D level curves with several loops by their
topology and shapes ("square with a square hole", "2 squares", see :func:`describe`); in
3-D the 5 Platonic solids, the 13 Archimedean solids
(the two chiral snubs named "snub cube" / "snub dodecahedron"), uniform n-gonal prisms
and antiprisms, and n-gonal bipyramids (equatorial regular n-gon, apices symmetric about
it, triangles not necessarily equilateral). Where two names fit, the Platonic one wins:
"cube" (square prism), "octahedron" (triangular antiprism, square bipyramid).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._checks import check_float
from ..errors import NeuralPolyError
from .graph import open_ends, walk_cycle
from .polymesh import PolyMesh

__all__ = ["describe", "name_polytope", "polygon_name", "DEFAULT_TOL", "POLYGON_NAMES",
           "UNIFORM_POLYHEDRA"]

POLYGON_NAMES = {
    3: "triangle", 4: "square", 5: "pentagon", 6: "hexagon", 7: "heptagon", 8: "octagon",
    9: "nonagon", 10: "decagon", 11: "hendecagon", 12: "dodecagon", 13: "tridecagon",
    14: "tetradecagon", 15: "pentadecagon", 16: "hexadecagon", 17: "heptadecagon",
    18: "octadecagon", 19: "enneadecagon", 20: "icosagon",
}

_ADJECTIVES = {
    3: "triangular", 4: "square", 5: "pentagonal", 6: "hexagonal", 7: "heptagonal",
    8: "octagonal", 9: "nonagonal", 10: "decagonal", 11: "hendecagonal", 12: "dodecagonal",
    13: "tridecagonal", 14: "tetradecagonal", 15: "pentadecagonal", 16: "hexadecagonal",
    17: "heptadecagonal", 18: "octadecagonal", 19: "enneadecagonal", 20: "icosagonal",
}

#: Vertex configuration (canonical: the lexicographically smallest rotation/reflection)
#: -> name, for the Platonic and Archimedean solids.
UNIFORM_POLYHEDRA = {
    (3, 3, 3): "tetrahedron",
    (4, 4, 4): "cube",
    (3, 3, 3, 3): "octahedron",
    (5, 5, 5): "dodecahedron",
    (3, 3, 3, 3, 3): "icosahedron",
    (3, 6, 6): "truncated tetrahedron",
    (3, 4, 3, 4): "cuboctahedron",
    (3, 8, 8): "truncated cube",
    (4, 6, 6): "truncated octahedron",
    (3, 4, 4, 4): "rhombicuboctahedron",
    (4, 6, 8): "truncated cuboctahedron",
    (3, 3, 3, 3, 4): "snub cube",
    (3, 5, 3, 5): "icosidodecahedron",
    (3, 10, 10): "truncated dodecahedron",
    (5, 6, 6): "truncated icosahedron",
    (3, 4, 5, 4): "rhombicosidodecahedron",
    (4, 6, 10): "truncated icosidodecahedron",
    (3, 3, 3, 3, 5): "snub dodecahedron",
}

#: Larger meshes (e.g. radial extractions) are described but not named: no solid
#: recognised here has more faces (a 248-gonal prism has 250).
MAX_NAMED_FACES = 250

#: Default relative regularity tolerance (see the module docstring for how it was chosen).
DEFAULT_TOL = 0.1

# Convexity is decided with a fixed relative tolerance (sine of the bend angle), not the
# regularity tolerance: it is a yes/no geometric property of the mesh as given.
_CONVEX_TOL = 1e-6
# A polygon corner turning by less than this (radians) is a straight-through vertex.
_STRAIGHT_TOL = 1e-9
# A level curve with more components than this is named "N components" without the list.
_MAX_LISTED = 4


def polygon_name(n: int) -> str:
    """``"decagon"`` for 10, ``"24-gon"`` where there is no common name."""
    return POLYGON_NAMES.get(int(n), f"{int(n)}-gon")


def _adjective(n: int) -> str:
    return _ADJECTIVES.get(int(n), f"{int(n)}-gonal")


def _canonical(seq) -> tuple:
    """Smallest rotation or reflection of a cyclic sequence."""
    seq = tuple(seq)
    n = len(seq)
    if n == 0:
        return seq
    rev = seq[::-1]
    return min(min(seq[i:] + seq[:i] for i in range(n)), min(rev[i:] + rev[:i] for i in range(n)))


def _regular_batch(pts: np.ndarray, tol: float) -> np.ndarray:
    """Which of k polygons (array (k, n, 2 or 3) of ordered vertices) are regular within
    ``tol``.

    Every edge length within ``tol * mean`` of the mean length, every angle within
    ``tol * (n - 2) pi / n`` of the ideal angle, every vertex within ``tol * mean`` of the
    best-fit plane.
    """
    k, n, _ = pts.shape
    if n < 3 or k == 0:
        return np.zeros(k, dtype=bool)
    e = np.roll(pts, -1, axis=1) - pts
    lengths = np.linalg.norm(e, axis=2)
    mean = lengths.mean(axis=1)
    ok = (mean > 0) & np.all(lengths > 0, axis=1)
    ok &= np.max(np.abs(lengths - mean[:, None]), axis=1) <= tol * mean
    a = -np.roll(e, 1, axis=1)                      # from each vertex to its predecessor
    la = np.roll(lengths, 1, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("kij,kij->ki", a, e) / (la * lengths)
    angles = np.arccos(np.clip(np.nan_to_num(cos, nan=2.0), -1.0, 1.0))
    ideal = (n - 2) * math.pi / n
    ok &= np.max(np.abs(angles - ideal), axis=1) <= tol * ideal
    if pts.shape[2] == 3 and n > 3:                 # planarity
        c = pts - pts.mean(axis=1, keepdims=True)
        _, _, vt = np.linalg.svd(c)
        dist = np.abs(np.einsum("kij,kj->ki", c, vt[:, 2, :]))
        ok &= dist.max(axis=1) <= tol * mean
    return ok


def _regular_polygon(pts: np.ndarray, tol: float) -> bool:
    """One polygon (n, 2 or 3) regular within ``tol`` (see :func:`_regular_batch`)."""
    return bool(_regular_batch(np.asarray(pts, dtype=np.float64)[None], tol)[0])


def _faces_regular(mesh: PolyMesh, tol: float) -> np.ndarray:
    """(F,) bool: which faces are regular polygons within ``tol``."""
    sizes, starts = mesh.face_sizes, mesh.face_starts
    out = np.zeros(mesh.n_faces, dtype=bool)
    for n in np.unique(sizes).tolist():
        idx = np.flatnonzero(sizes == n)
        corners = mesh.corners[starts[idx][:, None] + np.arange(n)]
        out[idx] = _regular_batch(mesh.vertices[corners], tol)
    return out


# ---------------------------------------------------------------------------------------
# 2-D
# ---------------------------------------------------------------------------------------

def _describe_loop(pts: np.ndarray, tol: float) -> dict:
    """``n_sides``, ``name``, ``regular`` and ``convex`` of one closed loop of points (either
    orientation); straight-through vertices (collinear consecutive sides) are merged away."""
    out: dict[str, Any] = {"n_sides": None, "name": None, "regular": False, "convex": False}
    if len(pts) < 3:
        return out
    # drop straight-through vertices (not corners)
    e = np.roll(pts, -1, axis=0) - pts
    ep = np.roll(e, 1, axis=0)
    turn = np.arctan2(ep[:, 0] * e[:, 1] - ep[:, 1] * e[:, 0], np.einsum("ij,ij->i", ep, e))
    keep = np.abs(turn) > _STRAIGHT_TOL
    pts, turn = pts[keep], turn[keep]
    n = len(pts)
    out["n_sides"] = int(n)
    if n < 3:
        return out
    orient = 1.0 if np.sum(turn) >= 0 else -1.0
    out["convex"] = bool(np.all(orient * turn >= -_CONVEX_TOL))
    out["regular"] = bool(out["convex"] and _regular_polygon(pts, tol))
    if out["regular"]:
        out["name"] = {3: "equilateral triangle", 4: "square"}.get(n, f"regular {polygon_name(n)}")
    return out


def _describe_polygon(mesh: PolyMesh, tol: float) -> dict:
    out: dict[str, Any] = {
        "f_vector": mesh.f_vector, "n_sides": None, "name": None, "regular": False,
        "vertex_configuration": None, "euler_characteristic": mesh.euler_characteristic,
        "convex": False}
    if mesh.n_faces != 1 or mesh.face_sizes[0] < 3:
        return out
    out.update(_describe_loop(mesh.vertices[mesh.corners], tol))
    return out


# -- level curves (2-D meshes of oriented segments) ------------------------------------

def _article(word: str) -> str:
    """"a" or "an" before ``word`` (by its sound: "an octagonal", "an 18-gonal")."""
    head = word.split("-")[0]
    if head.isdigit():
        return "an" if head.startswith("8") or head in ("11", "18") else "a"
    return "an" if word[:1] in "aeiou" else "a"


def _holes_phrase(holes: list[dict]) -> str:
    """"a square hole", "3 hexagonal holes", "2 holes" (shapes differ or are irregular)."""
    kinds = {h["n_sides"] if h["regular"] else None for h in holes}
    kind = kinds.pop() if len(kinds) == 1 else None
    adj = "" if kind is None else _adjective(kind) + " "
    if len(holes) == 1:
        return f"{_article(adj or 'hole')} {adj}hole"
    return f"{len(holes)} {adj}holes"


def _component_phrase(outer: dict, holes: list[dict], plural: int = 0) -> str:
    noun = outer["name"] if outer["regular"] else "region"
    if plural:
        noun = f"{plural} {noun}s"
        return f"{noun}, each with {_holes_phrase(holes)}" if holes else noun
    return f"{noun} with {_holes_phrase(holes)}" if holes else noun


def _describe_curves(mesh: PolyMesh, tol: float) -> dict:
    out: dict[str, Any] = {
        "f_vector": mesh.f_vector, "n_sides": None, "name": None, "regular": False,
        "vertex_configuration": None, "euler_characteristic": mesh.euler_characteristic,
        "convex": False, "open_curves": 0, "components": []}
    seg = mesh.corners.reshape(-1, 2)
    out["open_curves"] = open_ends(mesh.n_vertices, seg[:, 0], seg[:, 1])
    if out["open_curves"]:
        return out                                  # curves ending on the box bound nothing
    try:
        comps = mesh.curve_components()
    except NeuralPolyError:
        return out                                  # e.g. a hole outside every outer loop
    if not comps:
        return out
    v = mesh.vertices
    loops = [[_describe_loop(v[loop], tol) for loop in comp] for comp in comps]
    phrases = [_component_phrase(d[0], d[1:]) for d in loops]
    out["components"] = [dict(d[0], name=ph, holes=d[1:]) for d, ph in zip(loops, phrases)]
    out["regular"] = all(d["regular"] for comp in loops for d in comp)
    if len(loops) == 1 and len(loops[0]) == 1:     # one loop: named like the polygon it is
        out.update(loops[0][0])
        return out
    if len(set(phrases)) == 1:
        out["name"] = phrases[0] if len(phrases) == 1 else \
            _component_phrase(loops[0][0], loops[0][1:], plural=len(phrases))
    elif len(phrases) <= _MAX_LISTED:
        out["name"] = f"{len(phrases)} components: {'; '.join(phrases)}"
    else:
        out["name"] = f"{len(phrases)} components"
    return out


# ---------------------------------------------------------------------------------------
# 3-D
# ---------------------------------------------------------------------------------------

class _Topology:
    """Corner-level adjacency of a closed oriented manifold mesh."""

    def __init__(self, mesh: PolyMesh):
        self.mesh = mesh
        fe = mesh.face_edges()
        self.fe = fe
        n = mesh.n_vertices
        self.face_of = np.repeat(np.arange(mesh.n_faces), mesh.face_sizes)
        starts = mesh.face_starts
        nxt = np.arange(1, len(fe) + 1)
        nxt[starts + mesh.face_sizes - 1] = starts
        self.next = nxt
        key = fe[:, 0] * n + fe[:, 1]
        order = np.argsort(key)
        skey = key[order]
        tkey = fe[:, 1] * n + fe[:, 0]
        pos = np.clip(np.searchsorted(skey, tkey), 0, max(len(skey) - 1, 0))
        self.ok = bool(len(skey)) and np.array_equal(skey[pos], tkey) and \
            len(np.unique(key)) == len(key)
        self.twin = order[pos] if self.ok else None

    def vertex_cycles(self) -> list[list[int]] | None:
        """For each vertex, its corners in cyclic order around it (None if not a disc)."""
        rot = self.next[self.twin]          # corner v->w  ->  corner v->x of the next face
        fe0 = self.fe[:, 0]
        n = self.mesh.n_vertices
        present, first = np.unique(fe0, return_index=True)
        if len(present) != n:                # a vertex in no face
            return None
        deg = np.bincount(fe0, minlength=n)
        rot_l = rot.tolist()
        cycles = []
        for v in range(n):
            cyc = walk_cycle(rot_l, int(first[v]), int(deg[v]))
            if cyc is None or len(cyc) != deg[v]:   # the faces around v form more than one fan
                return None
            cycles.append(cyc)
        return cycles


def _convex_3d(mesh: PolyMesh, topo: _Topology) -> bool:
    """Every edge convex and every face a convex polygon (closed embedded surface);
    either orientation."""
    v = mesh.vertices
    normals = mesh.face_normals()
    # reversing every face flips both normals and edge directions: the edge test changes
    # sign, the corner test (normal . turn) does not
    orient = 1.0 if mesh.volume() >= 0 else -1.0
    fe = topo.fe
    d = v[fe[:, 1]] - v[fe[:, 0]]
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)
    na = normals[topo.face_of]
    nb = normals[topo.face_of[topo.twin]]
    if np.any(orient * np.einsum("ij,ij->i", np.cross(na, nb), d) < -_CONVEX_TOL):
        return False
    # face corners: turn of consecutive edges about the face normal
    dn = d[topo.next]
    turn = np.einsum("ij,ij->i", np.cross(d, dn), na)
    return bool(np.all(turn >= -_CONVEX_TOL))


def _bipyramid(mesh: PolyMesh, topo: _Topology, cycles, edge_array: np.ndarray,
               tol: float) -> str | None:
    """``"hexagonal bipyramid"`` etc., or None (faces all triangles, V = n + 2)."""
    V = mesh.n_vertices
    n = V - 2
    deg = np.array([len(c) for c in cycles])
    edges = {tuple(e) for e in edge_array.tolist()}
    if n != 4:
        apices = np.flatnonzero(deg == n)
        candidates = [tuple(apices)] if len(apices) == 2 else []
    else:
        candidates = [(a, b) for a in range(V) for b in range(a + 1, V)
                      if (a, b) not in edges]
    pts = mesh.vertices
    for a1, a2 in candidates:
        if (min(a1, a2), max(a1, a2)) in edges:
            continue
        ring = [int(topo.fe[c, 1]) for c in cycles[a1]]     # neighbours of a1, in order
        if sorted(ring) != sorted(set(range(V)) - {a1, a2}):
            continue
        if sorted(int(topo.fe[c, 1]) for c in cycles[a2]) != sorted(ring):
            continue
        eq = pts[ring]
        if not _regular_polygon(eq, tol):
            continue
        c = eq.mean(axis=0)
        edge = np.linalg.norm(np.roll(eq, -1, axis=0) - eq, axis=1).mean()
        _, _, vt = np.linalg.svd(eq - c)
        axis = vt[2]
        h1, h2 = (pts[a1] - c) @ axis, (pts[a2] - c) @ axis
        off1 = np.linalg.norm(pts[a1] - c - h1 * axis)
        off2 = np.linalg.norm(pts[a2] - c - h2 * axis)
        if h1 * h2 >= 0 or off1 > tol * edge or off2 > tol * edge:
            continue
        if abs(abs(h1) - abs(h2)) > tol * max(abs(h1), abs(h2)):
            continue
        return f"{_adjective(n)} bipyramid"
    return None


def _describe_polyhedron(mesh: PolyMesh, tol: float) -> dict:
    edges = mesh.edges                          # computed once; f_vector would recompute
    n_v, n_e, n_f = mesh.n_vertices, len(edges), mesh.n_faces
    out: dict[str, Any] = {
        "f_vector": (n_v, n_e, n_f), "face_sizes": mesh.face_size_counts(), "name": None,
        "regular": False, "vertex_configuration": None,
        "euler_characteristic": n_v - n_e + n_f, "convex": False}
    if n_f == 0 or n_f > MAX_NAMED_FACES:
        return out                              # nothing this large has a name here
    v = mesh.vertices
    # faces regular, one common edge length
    regular = bool(np.all(_faces_regular(mesh, tol)))
    if regular:
        lengths = np.linalg.norm(v[edges[:, 1]] - v[edges[:, 0]], axis=1)
        regular = bool(np.max(np.abs(lengths - lengths.mean())) <= tol * lengths.mean())
    out["regular"] = regular
    topo = _Topology(mesh)
    if not topo.ok:
        return out
    out["convex"] = _convex_3d(mesh, topo)
    deg = np.bincount(topo.fe[:, 0], minlength=n_v)
    m = n_v - 2
    # an n-bipyramid: triangles, two apices of degree n, n ring vertices of degree 4
    maybe_bipyramid = (m >= 3 and n_e == 3 * m and n_f == 2 * m
                       and bool(np.all(mesh.face_sizes == 3))
                       and int(np.sum(deg == 4)) == (m + 2 if m == 4 else m)
                       and int(np.sum(deg == m)) == (m + 2 if m == 4 else 2))
    if deg.min() != deg.max() and not maybe_bipyramid:
        return out                              # no common vertex configuration
    cycles = topo.vertex_cycles()
    if cycles is None:
        return out
    sizes = mesh.face_sizes
    configs = [_canonical(sizes[topo.face_of[c]].tolist()) for c in cycles]
    uniform = all(c == configs[0] for c in configs)
    if uniform:
        out["vertex_configuration"] = ".".join(map(str, configs[0]))
    if out["euler_characteristic"] != 2 or not out["convex"]:
        return out
    if uniform and regular and _vertex_transitive_signature(mesh, topo, cycles):
        cfg = configs[0]
        name = UNIFORM_POLYHEDRA.get(cfg)
        if name is None and cfg == (3, 4, 4):                      # 4.4.3
            name = "triangular prism"
        elif name is None and len(cfg) == 3 and cfg[:2] == (4, 4):  # 4.4.n, n >= 5
            name = f"{_adjective(cfg[2])} prism"
        elif name is None and len(cfg) == 4 and cfg[:3] == (3, 3, 3):  # 3.3.3.n, n >= 4
            name = f"{_adjective(cfg[3])} antiprism"
        if name is not None:
            out["name"] = name
            return out
    if maybe_bipyramid:
        out["name"] = _bipyramid(mesh, topo, cycles, edges, tol)
    return out


def _vertex_transitive_signature(mesh: PolyMesh, topo: _Topology, cycles) -> bool:
    """Necessary condition for vertex-transitivity: every vertex sees the same cyclic
    sequence of faces, each face described by its size and the sizes of its neighbours.
    Separates e.g. the rhombicuboctahedron from the pseudo-rhombicuboctahedron."""
    sizes = mesh.face_sizes
    nbr_size = sizes[topo.face_of[topo.twin]]
    starts = mesh.face_starts
    face_sig = [(int(s), _canonical(nbr_size[st:st + s].tolist()))
                for st, s in zip(starts.tolist(), sizes.tolist())]
    first = None
    for cyc in cycles:
        sig = _canonical([face_sig[f] for f in topo.face_of[cyc].tolist()])
        if first is None:
            first = sig
        elif sig != first:
            return False
    return True


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------

def describe(mesh: PolyMesh, tol: float = DEFAULT_TOL) -> dict:
    """Combinatorial and metric description of a polygon, a level curve or a polyhedron.

    Parameters
    ----------
    mesh : PolyMesh
        A polygon (2-D vertices, one face), a 2-D level curve (oriented 2-corner segments,
        see :func:`neuralpoly_core.levelset.extract_level_set`) or a closed polyhedral
        surface (3-D).
    tol : float
        Relative regularity tolerance on edge lengths, angles and planarity (default
        :data:`DEFAULT_TOL`, sized for trained networks; 1e-2 is strict).

    Returns
    -------
    dict
        ``f_vector`` (tuple), ``face_sizes`` (3-D: {sides: count}) or ``n_sides`` (2-D),
        ``name`` (str or None), ``regular`` (bool: the polygon / every face is a regular
        polygon, all edges of one length), ``vertex_configuration`` (e.g. ``"3.4.3.4"``,
        when every vertex has the same one; None otherwise and in 2-D),
        ``euler_characteristic`` (int) and ``convex`` (bool).

        A level curve also has ``open_curves`` (curves ending on the box) and
        ``components``: one dict per connected piece of the enclosed region, with its outer
        loop's ``n_sides``, ``regular``, ``convex``, its ``name`` (the phrase below) and
        ``holes`` (``n_sides``, ``name``, ``regular``, ``convex`` of each). Loops are
        described after merging collinear consecutive segments, so a square drawn with 8
        segments has 4 sides. Names:

        * one closed loop: named like the polygon it is ("square", "regular hexagon",
          None when irregular), with its ``n_sides`` and ``convex``;
        * one component with holes: "square with a square hole", "regular hexagon with 2
          triangular holes", "square with 3 holes" (hole shapes differ or are irregular);
          an outer loop that is not a regular polygon is a "region" ("region with a hole");
        * several components: "2 squares", "2 squares, each with a square hole" when all
          read the same, else "2 components: square with a square hole; square" (listed
          from left to right, up to 4; more: "7 components"). An island inside a hole is a
          component too.
        * open curves (``cap=False`` where the curve leaves the box): no name.

        ``regular`` is True when every loop is a regular polygon.

    Raises
    ------
    NeuralPolyError
        If ``tol`` is not a positive number.
    """
    tol = check_float(tol, "tol", 0.0, lo_open=True)
    if mesh.is_curve():
        return _describe_curves(mesh, tol)
    if mesh.dim == 2:
        return _describe_polygon(mesh, tol)
    return _describe_polyhedron(mesh, tol)


def name_polytope(mesh: PolyMesh, tol: float = DEFAULT_TOL) -> str | None:
    """The name of a (nearly) regular polygon or a known polyhedron, else None.

    See :func:`describe` and the module docstring for what is recognised.
    """
    return describe(mesh, tol)["name"]
