"""Simplify a closed polygon mesh (a level set's exact surface) down to a vertex budget.

:func:`simplify_mesh` works in three stages and keeps a closed manifold of the same Euler
characteristic throughout:

1. **Coplanar merging** (exact): neighbouring faces on one plane (within ``tolerance``, see
   :func:`~neuralpoly_core.mesh.topology.merge_coplanar_groups`; for the exact level set of a
   piecewise-linear network these are the pieces of neighbouring regions with the same
   affine map) become one n-gon, and the vertices left straight on the merged edges go
   (:func:`~neuralpoly_core.mesh.topology.remove_straight_vertices`). No vertex moves: every
   vertex left is one of the input's, so ``|f(v) - level|`` is what it was.
2. **Dropping small patches** (not exact): first the faces below ``min_region_area`` (a
   fraction of the total area, smallest first) are collapsed to one new vertex each, then,
   while the mesh has more than ``vertex_budget`` vertices, either edges or faces
   (``collapse``):

   - ``"edges"`` (the default where libigl imports): libigl's quadric-error edge collapses
     (``igl.qslim``) of the triangulated mesh down to the budget, coplanar triangles merged
     back into planar n-gons (:func:`~neuralpoly_core.mesh.edge_collapse.collapse_edges`);
     where libigl stops short of the budget (it refuses collapses that would break the
     surface), face collapses go on from there. One edge at a time, so the surface stays
     closer at the same count (``bench/bench_simplify.py``: 1.1-1.6x closer than the face
     collapses from 1/8 of the vertices down) and 2-4x faster; fewer n-gons survive a mild
     budget.
   - ``"faces"`` (the default without libigl, e.g. in Blender's own Python): the face whose
     collapse costs the least, collapsed to one new vertex.

   For ``"faces"`` (and the small patches) every vertex carries the quadric of the input
   planes around it (Garland & Heckbert 1997: the sum of squared distances to them), a new
   vertex the sum of those it
   replaces. The new vertex goes to the point of least quadric error on the planes of the 3
   (else 2, else 1) largest faces around the patch that stay n-gons, so that those stay
   planar, when its error is at most ``1 + PLANE_SLACK`` times the least; else to the point
   of least quadric error (both pulled slightly towards the patch's centroid, :data:`PULL`,
   so nearly parallel planes cannot send it far); else the centroid, else a corner. The cost
   of a face is the least error: patches inside one planar region cost nothing, so planar
   regions are what is kept (n-gons stay n-gons, one corner fewer). A collapse is only made
   when the mesh stays a closed manifold (every edge in two faces, once each way; one fan of
   faces around the new vertex; no face repeating a vertex) and no face around it turns by
   more than 60 degrees or crosses itself seen along its normal (so that stage 3 can split
   it); vertices left between just two faces are then dissolved. **What is lost**: the new
   vertices are off ``f = level`` (``info['simplify']['max_level_error']`` measures it when
   ``f`` is given), and faces around a collapse may bend out of their plane
   (``max_planarity_collapsed``: the largest distance of a corner from its face's plane).
3. **Planar faces again** (no vertex added or moved): every face farther from planar than
   ``planarity_tolerance`` (default 1e-9) times the bounding-box diagonal is split along its
   own diagonals into the fewest planar pieces a greedy search finds (the longest planar run
   of corners first; at worst triangles),
   :func:`~neuralpoly_core.mesh.planar_split.split_nonplanar_faces`. The other faces stay
   as they are, so the result's faces are planar n-gons (``max_planarity``, ``faces_split``).

Unlike a general decimator (Blender's Decimate leaves bent n-gons, libigl's leaves triangles),
planar n-gon faces that no collapse touches survive unchanged, and every face is planar.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .._checks import check_callable, check_float, check_int
from ..errors import ExtractionError, NeuralPolyError
from ..reporting import Reporter
from .edge_collapse import collapse_edges, have_libigl
from .planar_split import PLANARITY_TOLERANCE, newell_normal, projects_simply, split_nonplanar_faces
from .polymesh import PolyMesh
from .topology import merge_coplanar_groups

__all__ = ["simplify_mesh", "simplify_summary", "collapse_kind", "face_planarity", "MIN_COS"]

#: A collapse is refused when a face around it turns by more than 60 degrees (its unit normal
#: before and after have a dot product below this).
MIN_COS = 0.5
#: Weight of the pull towards the patch's centroid, relative to one plane's (keeps the
#: quadric-error point near the patch where the planes are nearly parallel).
PULL = 1e-3
#: A point on the planes of the largest faces around a collapse that stay n-gons is taken
#: (so that they stay planar and need no split) when its quadric error is at most
#: ``1 + PLANE_SLACK`` times the least.
PLANE_SLACK = 3.0


def _dot(a, b) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _dedupe(face: list[int]) -> list[int]:
    """A face's corners with cyclically repeated neighbours made one."""
    out = [v for i, v in enumerate(face) if v != face[i - 1]]
    return out if out else face[:1]


def face_planarity(mesh: PolyMesh) -> float:
    """The largest distance of a face corner from its face's plane (through the face's
    centroid, normal by Newell's method); 0 for triangles and exactly planar faces."""
    if mesh.n_faces == 0:
        return 0.0
    V, worst = mesh.vertices3d(), 0.0
    normals = mesh.face_normals()
    for fi, face in enumerate(mesh.faces):
        if len(face) > 3:
            P = V[face]
            worst = max(worst, float(np.max(np.abs((P - P.mean(axis=0)) @ normals[fi]))))
    return worst


class _Collapser:
    """The mutable mesh of stage 2: faces by id, the faces around each vertex, a heap by area."""

    def __init__(self, mesh: PolyMesh):
        self.V = [tuple(v) for v in mesh.vertices.tolist()]
        self.faces = {i: [int(v) for v in f] for i, f in enumerate(mesh.faces)}
        self.region = {i: int(r) for i, r in enumerate(mesh.region_ids)}
        self.vf: list[set[int]] = [set() for _ in self.V]
        for fi, f in self.faces.items():
            for v in f:
                self.vf[v].add(fi)
        self.alive = sum(1 for s in self.vf if s)
        self.version = dict.fromkeys(self.faces, 0)
        self.collapsed = self.dissolved = self.refused = 0
        self.threshold = 0.0
        # each vertex's quadric (A, b, c): sum over the input planes n.x = d around it of
        # (n n^T, n d, d^2); a new vertex gets the sum of those it replaces (Garland-Heckbert)
        n = mesh.face_normals()
        d = np.einsum("ij,ij->i", n, mesh.vertices[mesh.corners[mesh.face_starts]])
        fo = np.repeat(np.arange(mesh.n_faces), mesh.face_sizes)
        A, b, c = np.zeros((mesh.n_vertices, 3, 3)), np.zeros((mesh.n_vertices, 3)), np.zeros(mesh.n_vertices)
        np.add.at(A, mesh.corners, n[fo][:, :, None] * n[fo][:, None, :])
        np.add.at(b, mesh.corners, n[fo] * d[fo][:, None])
        np.add.at(c, mesh.corners, d[fo] ** 2)
        self.Q = list(zip(A, b, c.tolist()))
        self.by_error = False
        self.heap: list = []
        self.reorder(False)

    def normal(self, face) -> tuple[float, float, float]:
        return newell_normal([self.V[v] for v in face])

    def area(self, fi: int) -> float:
        return 0.5 * math.sqrt(_dot(*(self.normal(self.faces[fi]),) * 2))

    def key(self, fi: int) -> float:
        """The heap's order: the face's area, or (``by_error``) the quadric error of collapsing it."""
        return self.quadric_point(fi)[1] if self.by_error else self.area(fi)

    def reorder(self, by_error: bool) -> None:
        self.by_error = by_error
        self.heap = [(self.key(fi), fi, self.version[fi]) for fi in self.faces]
        heapq.heapify(self.heap)

    def touched(self, fi: int) -> None:
        self.version[fi] += 1
        heapq.heappush(self.heap, (self.key(fi), fi, self.version[fi]))

    def pop(self):
        """The first face of the heap still as it was pushed, with its area, or None."""
        while self.heap:
            _, fi, ver = heapq.heappop(self.heap)
            if fi in self.faces and self.version[fi] == ver:
                return fi, self.area(fi)
        return None

    def quadric(self, fi: int):
        A, b, c = np.zeros((3, 3)), np.zeros(3), 0.0
        for v in self.faces[fi]:
            qa, qb, qc = self.Q[v]
            A, b, c = A + qa, b + qb, c + qc
        return A, b, c

    def quadric_point(self, fi: int) -> tuple[np.ndarray, float]:
        """The point of least quadric error for collapsing face ``fi`` (pulled slightly to its
        centroid, :data:`PULL`) and that error (the sum of squared distances to the planes)."""
        A, b, c = self.quadric(fi)
        P = np.array([self.V[v] for v in self.faces[fi]])
        lam = PULL * max(1.0, float(np.trace(A)))
        p = np.linalg.solve(A + lam * np.eye(3), b + lam * P.mean(axis=0))
        return p, max(0.0, float(p @ A @ p - 2 * b @ p + c))

    def targets(self, fi: int) -> list[np.ndarray]:
        """Where face ``fi`` may go: points on the planes of its neighbours (:meth:`plane_points`,
        when within :data:`PLANE_SLACK` of the least error), its quadric point, its centroid,
        its corners."""
        P = np.array([self.V[v] for v in self.faces[fi]])
        best, err = self.quadric_point(fi)
        A, b, c = self.quadric(fi)
        bound = (1.0 + PLANE_SLACK) * err + 1e-12 * abs(c)
        on_planes = [p for p in self.plane_points(fi, A, b, P) if float(p @ A @ p - 2 * b @ p + c) <= bound]
        return on_planes + [best, P.mean(axis=0)] + list(P)

    def plane_points(self, fi: int, A: np.ndarray, b: np.ndarray, P: np.ndarray) -> list[np.ndarray]:
        """The points of least quadric error (pulled to the centroid as in :meth:`quadric_point`)
        on the planes of the 3, 2 and 1 largest faces around face ``fi`` that keep at least 3
        other corners (so stay n-gons of 4 or more after the collapse): a new vertex there
        leaves those faces planar."""
        old = set(self.faces[fi])
        planes = []
        for g in set().union(*(self.vf[v] for v in old)) - {fi}:
            f = self.faces[g]
            if sum(1 for v in f if v not in old) >= 3:
                n = np.array(self.normal(f))
                length = float(np.linalg.norm(n))
                if length > 0:
                    planes.append((length, n / length, float(n @ np.array(self.V[f[0]])) / length))
        planes.sort(key=lambda t: -t[0])
        lam = PULL * max(1.0, float(np.trace(A)))
        out = []
        for m in range(min(3, len(planes)), 0, -1):
            N = np.array([t[1] for t in planes[:m]])
            K = np.zeros((3 + m, 3 + m))
            K[:3, :3], K[:3, 3:], K[3:, :3] = A + lam * np.eye(3), N.T, N
            if np.linalg.cond(K) > 1e8:
                continue                       # (nearly) parallel planes: no point on all of them
            x = np.linalg.solve(K, np.concatenate([b + lam * P.mean(axis=0), [t[2] for t in planes[:m]]]))
            out.append(x[:3])
        return out

    def unfolded(self, kept: dict[int, list[int]]) -> bool:
        """Whether no face of ``kept`` (the new faces) turns by more than :data:`MIN_COS`,
        loses its area or, seen along its normal, crosses itself (then it could not be split
        into planar pieces afterwards: :func:`~neuralpoly_core.mesh.planar_split.projects_simply`)."""
        for g, f in kept.items():
            n0, n1 = self.normal(self.faces[g]), self.normal(f)
            l0, l1 = math.sqrt(_dot(n0, n0)), math.sqrt(_dot(n1, n1))
            if l1 <= 1e-12 * max(l0, 1e-300) or _dot(n0, n1) < MIN_COS * l0 * l1:
                return False
            if len(f) > 3 and not projects_simply([self.V[v] for v in f]):
                return False
        return True

    def collapse(self, fi: int) -> bool:
        """Collapse face ``fi`` to one new vertex if the mesh stays a closed manifold."""
        old = set(self.faces[fi])
        star = set().union(*(self.vf[v] for v in old))
        w = len(self.V)
        new = {}
        for g in star - {fi}:
            f = _dedupe([w if v in old else v for v in self.faces[g]])
            if len(f) >= 3 and len(set(f)) != len(f):
                return False                   # the face would touch itself at w
            new[g] = f
        kept = {g: f for g, f in new.items() if len(f) >= 3}
        if not _fan_ok(w, kept):
            return False
        for p in self.targets(fi):
            self.V.append(tuple(p.tolist()))
            if self.unfolded(kept):
                break
            self.V.pop()
        else:
            return False
        self.vf.append(set())
        self.Q.append(self.quadric(fi))
        ring = {v for g in star for v in self.faces[g]}
        for g in star:
            for v in self.faces[g]:
                self.vf[v].discard(g)
            del self.faces[g]
        for g, f in kept.items():
            self.faces[g] = f
            for v in f:
                self.vf[v].add(g)
            self.touched(g)
        self.alive += 1 - sum(1 for v in ring if not self.vf[v])
        self.collapsed += 1
        self.dissolve_around(w)
        return True

    def dissolve_around(self, w: int) -> None:
        """Dissolve the vertices next to ``w`` (and ``w``) that are left between two faces."""
        ring = {v for g in self.vf[w] for v in self.faces[g]}
        for x in ring:
            if len(self.vf[x]) == 2:
                self.dissolve(x)

    def dissolve(self, x: int) -> None:
        g, h = sorted(self.vf[x])
        fg = [v for v in self.faces[g] if v != x]
        fh = [v for v in self.faces[h] if v != x]
        if len(fg) < 3 or len(fh) < 3:
            return
        if not all(len(f) == 3 or projects_simply([self.V[v] for v in f]) for f in (fg, fh)):
            return                             # the face would cross itself
        i = self.faces[g].index(x)
        a, b = self.faces[g][i - 1], self.faces[g][(i + 1) % len(self.faces[g])]
        for k in (self.vf[a] & self.vf[b]) - {g, h}:
            f = self.faces[k]
            if any({f[j - 1], f[j]} == {a, b} for j in range(len(f))):
                return                         # a--b is an edge already
        self.faces[g], self.faces[h] = fg, fh
        self.vf[x].clear()
        self.alive -= 1
        self.dissolved += 1
        self.touched(g)
        self.touched(h)

    def mesh(self, like: PolyMesh) -> PolyMesh:
        ids = sorted(self.faces)
        used = sorted({v for f in self.faces.values() for v in f})
        newid = {v: i for i, v in enumerate(used)}
        out = PolyMesh.from_faces(np.array([self.V[v] for v in used]).reshape(-1, 3),
                                  [[newid[v] for v in self.faces[i]] for i in ids],
                                  np.array([self.region[i] for i in ids], dtype=np.int64),
                                  region_patterns=like.region_patterns, basis=like.basis)
        out.info = dict(like.info)
        return out


def _fan_ok(w: int, faces: dict[int, list[int]]) -> bool:
    """Whether the faces around ``w`` form one fan (a disc): every edge at ``w`` once each way,
    the corners before and after ``w`` chaining into a single cycle of at least 3 faces."""
    succ = {}
    for f in faces.values():
        if w not in f:
            continue
        i = f.index(w)
        x, y = f[i - 1], f[(i + 1) % len(f)]
        if x in succ:
            return False
        succ[x] = y
    if len(succ) < 3 or set(succ) != set(succ.values()):
        return False
    start = next(iter(succ))
    cur, n = succ[start], 1
    while cur != start:
        cur, n = succ[cur], n + 1
    return n == len(succ)


def _check_mesh(mesh: PolyMesh) -> None:
    if not isinstance(mesh, PolyMesh) or mesh.dim != 3:
        raise NeuralPolyError("simplify takes a 3-D PolyMesh")
    if mesh.n_faces == 0:
        raise NeuralPolyError("the mesh to simplify is empty")
    if not mesh.is_closed_manifold():
        raise NeuralPolyError("the mesh to simplify is not a closed manifold (an edge not in exactly two faces, "
                              "once each way): simplification keeps surfaces closed, so it needs a closed one")


def simplify_mesh(mesh: PolyMesh, *, vertex_budget: int | None = None, min_region_area: float = 0.0,
                  tolerance: float = 1e-9, planarity_tolerance: float = PLANARITY_TOLERANCE, f=None,
                  level: float = 0.0, collapse: str = "auto", progress=None, cancel=None) -> PolyMesh:
    """A simplified copy of a closed manifold ``mesh`` (see the module docstring).

    Parameters
    ----------
    mesh : PolyMesh
        A closed 3-D manifold (e.g. an exact level set).
    vertex_budget : int, optional
        At most this many vertices in the result (at least 4).
    min_region_area : float
        Faces (after merging) whose area is below this fraction of the total area are
        collapsed (0: none).
    tolerance : float
        Coplanarity tolerance of the merge (unit normals within it, plane offsets within it
        times the mesh size; :func:`~neuralpoly_core.mesh.topology.merge_coplanar_groups`).
    planarity_tolerance : float
        After the collapses every face farther from planar than this times the bounding-box
        diagonal is split into planar pieces along its own diagonals
        (:func:`~neuralpoly_core.mesh.planar_split.split_nonplanar_faces`, default
        :data:`~neuralpoly_core.mesh.planar_split.PLANARITY_TOLERANCE` = 1e-9).
    f : callable, optional
        ``f(points)`` -> values, the function the mesh is a level set of (in the mesh's
        coordinates): the level error before and after is measured with it.
    level : float
        The level of ``f``.
    collapse : {"auto", "edges", "faces"}
        How the vertex budget is met (module docstring); ``"auto"``: ``"edges"`` where libigl
        imports, else ``"faces"``.
    progress, cancel : callable, optional
        The :class:`~neuralpoly_core.reporting.Reporter` protocol.

    Returns
    -------
    PolyMesh
        ``info['simplify']``: ``collapse`` (the one used), ``vertices_before``, ``faces_before``, ``vertices_merged``,
        ``faces_merged`` (after stage 1), ``vertices``, ``faces``, ``collapsed`` (patches),
        ``dissolved`` (vertices between two faces), ``moved_vertices`` (new vertices, off
        the level set), ``max_planarity`` (of the result, within ``planarity_tolerance``
        times the diagonal unless ``nonplanar_left``; of the input: ``max_planarity_before``;
        after the collapses, before the split: ``max_planarity_collapsed``), ``faces_split``,
        ``pieces_added``, ``nonplanar_left``, ``small_left`` (faces still below
        ``min_region_area``: refused collapses and pieces of the split), ``planarity_tolerance`` (mesh units) and
        ``planarity_tolerance_rel`` (of :func:`~neuralpoly_core.mesh.planar_split.split_nonplanar_faces`),
        ``max_level_error_before`` / ``max_level_error`` (with ``f``; the latter is also
        ``info['max_level_error']``, which without ``f`` is dropped rather than left stale).

    Raises
    ------
    NeuralPolyError
        A mesh that is not a closed manifold, bad arguments, or a budget that cannot be met
        without breaking the closed surface (the message says how far it got).
    """
    _check_mesh(mesh)
    if vertex_budget is not None:
        vertex_budget = check_int(vertex_budget, "vertex budget", 4)
    min_region_area = check_float(min_region_area, "minimum region area (fraction of the total)", 0.0, 1.0)
    tolerance = check_float(tolerance, "coplanarity tolerance", 0.0)
    planarity_tolerance = check_float(planarity_tolerance, "planarity tolerance (fraction of the diagonal)", 0.0)
    f = check_callable(f, "f")
    collapse = collapse_kind(collapse)
    report = Reporter(check_callable(progress, "progress"), check_callable(cancel, "cancel"),
                      what="simplification", interval=0.1)
    facts = {"vertices_before": mesh.n_vertices, "faces_before": mesh.n_faces,
             "max_planarity_before": face_planarity(mesh)}
    merged = merge_coplanar_groups(mesh, tolerance)[0]
    facts.update(vertices_merged=merged.n_vertices, faces_merged=merged.n_faces)
    need = vertex_budget is not None and merged.n_vertices > vertex_budget
    out, work = merged, None
    if min_region_area > 0 or (need and collapse == "faces"):
        work = _Collapser(merged)
        _collapse_loop(work, vertex_budget if collapse == "faces" else None, min_region_area, report)
        out = merge_coplanar_groups(work.mesh(merged), tolerance)[0]
    edges = 0
    if collapse == "edges" and need and out.n_vertices > vertex_budget:
        report.check()
        before = out.n_vertices
        out = collapse_edges(out, vertex_budget, tolerance=tolerance, strict=False)
        edges = before - out.n_vertices
        if out.n_vertices > vertex_budget:          # libigl stopped short: face collapses go on
            work = _Collapser(out)
            _collapse_loop(work, vertex_budget, 0.0, report)
            out = merge_coplanar_groups(work.mesh(out), tolerance)[0]
    facts["max_planarity_collapsed"] = face_planarity(out)
    out, split = split_nonplanar_faces(out, planarity_tolerance)
    facts.update(split)
    if work is not None:                        # the faces left below the area, pieces of the split included
        V = out.vertices.tolist()
        facts["small_left"] = sum(1 for f in out.faces
                                  if 0.5 * math.sqrt(_dot(*(newell_normal([V[v] for v in f]),) * 2)) < work.threshold)
    if not out.is_closed_manifold() or out.euler_characteristic != mesh.euler_characteristic:
        raise ExtractionError("simplification broke the closed surface (a bug: please report it)")
    facts.update(vertices=out.n_vertices, faces=out.n_faces, collapse=collapse, edge_collapses=edges,
                 collapsed=0 if work is None else work.collapsed, dissolved=0 if work is None else work.dissolved,
                 moved_vertices=int(np.sum(~_is_original(out.vertices, mesh.vertices))),
                 max_planarity=face_planarity(out) if split["faces_split"] else facts["max_planarity_collapsed"],
                 vertex_budget=vertex_budget, min_region_area=min_region_area)
    if f is not None:
        facts["max_level_error_before"] = float(np.max(np.abs(np.asarray(f(mesh.vertices)).ravel() - level)))
        facts["max_level_error"] = float(np.max(np.abs(np.asarray(f(out.vertices)).ravel() - level)))
    report(1.0, f"simplified to {out.n_vertices} vertices", force=True)
    out.info.pop("max_level_error", None)            # the extractor's: of the mesh before
    if f is not None:
        out.info["max_level_error"] = facts["max_level_error"]
    out.info.update({k: v for k, v in (("vertices", out.n_vertices), ("faces", out.n_faces)) if k in out.info})
    out.info["simplify"] = facts
    return out


def collapse_kind(collapse: str) -> str:
    """``"edges"`` or ``"faces"`` for a ``collapse`` argument of :func:`simplify_mesh`."""
    if collapse not in ("auto", "edges", "faces"):
        raise NeuralPolyError(f"collapse must be 'auto', 'edges' or 'faces', got {collapse!r}")
    if collapse == "auto":
        return "edges" if have_libigl() else "faces"
    return collapse


def simplify_summary(mesh: PolyMesh) -> dict:
    """The keys a summary (CLI ``--json``, a job's result) adds for a mesh of :func:`simplify_mesh`:
    ``vertices_before_simplify``, ``faces_before_simplify``, ``max_level_error_before_simplify``
    (None without ``f``), ``max_planarity``, ``max_planarity_collapsed``, ``faces_split``,
    ``vertex_budget``, ``min_region_area``, ``collapse``."""
    s = mesh.info["simplify"]
    return {"vertices_before_simplify": s["vertices_before"], "faces_before_simplify": s["faces_before"],
            "max_level_error_before_simplify": s.get("max_level_error_before"), "max_planarity": s["max_planarity"],
            "max_planarity_collapsed": s["max_planarity_collapsed"], "faces_split": s["faces_split"],
            "vertex_budget": s["vertex_budget"], "min_region_area": s["min_region_area"], "collapse": s["collapse"]}


def _collapse_loop(work: _Collapser, budget: int | None, min_area: float, report: Reporter) -> None:
    """Collapse the faces below ``min_area`` of the total area (smallest first), then, while over
    ``budget``, the face whose collapse costs the least quadric error."""
    threshold = min_area * sum(work.area(fi) for fi in work.faces)
    while threshold > 0 and (top := work.pop()) is not None and top[1] < threshold:
        if not work.collapse(top[0]):
            work.refused += 1
        report(0.0 if budget is not None else 0.5, f"dropping small faces: {work.alive} vertices")
    if budget is not None and work.alive > budget:
        work.reorder(True)
        start = work.alive
        while work.alive > budget:
            top = work.pop()
            if top is None:
                raise NeuralPolyError(
                    f"the vertex budget {budget} cannot be met without breaking the closed surface: simplification "
                    f"stops at {work.alive} vertices (no face left can be collapsed and keep a closed manifold "
                    "without folding its neighbours); raise the budget")
            if not work.collapse(top[0]):
                work.refused += 1
            report(min(0.99, (start - work.alive) / (start - budget)), f"{work.alive} vertices")
    work.threshold = threshold


def _is_original(V: np.ndarray, V0: np.ndarray) -> np.ndarray:
    """Which rows of ``V`` are rows of ``V0`` (bit for bit)."""
    a = np.ascontiguousarray(V).view([("", V.dtype)] * V.shape[1]).ravel()
    b = np.ascontiguousarray(V0).view([("", V0.dtype)] * V0.shape[1]).ravel()
    return np.isin(a, b)
