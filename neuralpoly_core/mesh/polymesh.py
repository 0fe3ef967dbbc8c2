"""The polygon-mesh container shared by extraction, naming, export and the Blender add-on.

A :class:`PolyMesh` keeps n-gon faces as flat arrays (``corners`` and ``face_sizes``), the
layout Blender's ``foreach_set`` wants, plus a per-face ``region_id``. A 2-D polygon is a
mesh with 2-D vertices and a single face (its closed loop). A 2-D *level curve* (box level
sets of 2-input networks) is a mesh whose faces are all oriented segments (two corners each,
the inside on the left); its closed loops may be several: outer boundaries counter-clockwise,
holes clockwise, islands inside holes counter-clockwise again (:meth:`PolyMesh.curve_components`).

Triangulation (:meth:`PolyMesh.triangulate`) is exact and adds no vertex; see
:mod:`neuralpoly_core.mesh.planar`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ExtractionError, NeuralPolyError
from .planar import CurveRegions, ear_clip

__all__ = ["PolyMesh"]


@dataclass(eq=False)
class PolyMesh:
    """Vertices and n-gon faces.

    Attributes
    ----------
    vertices : (V, k) float64
        Vertex coordinates, k = 2 (polygon) or 3.
    corners : (C,) int64
        Vertex index of each face corner, faces one after another, counter-clockwise
        seen from outside.
    face_sizes : (F,) int64
        Number of corners of each face (2 for the oriented segments of a level curve).
    region_ids : (F,) int64
        Index of the linear region a face lies in (-1 where not defined, e.g. radial meshes).
    region_patterns : (R, N) bool, optional
        Activation pattern of each region id.
    basis : (d, k) float64, optional
        For slices of d > k polytopes: original coordinates are ``vertices @ basis.T``.

    Raises
    ------
    NeuralPolyError
        When the arrays do not fit together (vertex shape, sizes that do not add up to the
        corners, faces of fewer than 3 corners in 3-D, corners naming no vertex, one region
        id per face).
    """

    vertices: np.ndarray
    corners: np.ndarray
    face_sizes: np.ndarray
    region_ids: np.ndarray | None = None
    region_patterns: np.ndarray | None = None
    basis: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float64)
        self.corners = np.ascontiguousarray(self.corners, dtype=np.int64).ravel()
        self.face_sizes = np.ascontiguousarray(self.face_sizes, dtype=np.int64).ravel()
        if self.vertices.ndim != 2 or self.vertices.shape[1] not in (2, 3):
            raise NeuralPolyError(f"vertices must have shape (V, 2) or (V, 3), got {self.vertices.shape}")
        if int(self.face_sizes.sum()) != len(self.corners):
            raise NeuralPolyError("face_sizes do not add up to the number of corners")
        if np.any(self.face_sizes < 3) and not (self.dim == 2):
            raise NeuralPolyError("every face needs at least 3 corners")
        if len(self.corners) and (self.corners.min() < 0 or self.corners.max() >= len(self.vertices)):
            raise NeuralPolyError("a face refers to a vertex that does not exist")
        if self.region_ids is None:
            self.region_ids = np.full(len(self.face_sizes), -1, dtype=np.int64)
        self.region_ids = np.ascontiguousarray(self.region_ids, dtype=np.int64).ravel()
        if len(self.region_ids) != len(self.face_sizes):
            raise NeuralPolyError("region_ids needs one entry per face")

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_faces(cls, vertices, faces, region_ids=None, **kw) -> "PolyMesh":
        """From a list of faces, each a sequence of vertex indices."""
        faces = [np.asarray(f, dtype=np.int64) for f in faces]
        sizes = np.array([len(f) for f in faces], dtype=np.int64)
        corners = np.concatenate(faces) if faces else np.zeros(0, dtype=np.int64)
        return cls(vertices, corners, sizes, region_ids, **kw)

    # -- structure -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.vertices.shape[1]

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    @property
    def n_faces(self) -> int:
        return len(self.face_sizes)

    @property
    def face_starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.face_sizes)[:-1]]).astype(np.int64)

    @property
    def faces(self) -> list[np.ndarray]:
        return np.split(self.corners, np.cumsum(self.face_sizes)[:-1]) if self.n_faces else []

    def face_edges(self) -> np.ndarray:
        """(C, 2) directed edges, one per corner: corner -> next corner of its face."""
        starts = self.face_starts
        nxt = np.arange(len(self.corners)) + 1
        ends = starts + self.face_sizes
        nxt[ends - 1] = starts
        return np.stack([self.corners, self.corners[nxt]], axis=1)

    @property
    def edges(self) -> np.ndarray:
        """(E, 2) undirected edges, sorted, each once."""
        e = np.sort(self.face_edges(), axis=1)
        if not len(e):
            return e.reshape(0, 2)
        # one int64 key per edge: a 1-D unique is several times faster than unique(axis=0)
        # and sorts the same way (by first, then second vertex)
        n = np.int64(max(self.n_vertices, 1))
        key = np.unique(e[:, 0] * n + e[:, 1])
        return np.stack([key // n, key % n], axis=1)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @property
    def euler_characteristic(self) -> int:
        """V - E + F (for a 2-D polygon, V - E, which is 0 for a closed loop)."""
        if self.dim == 2:
            return self.n_vertices - self.n_edges
        return self.n_vertices - self.n_edges + self.n_faces

    @property
    def f_vector(self) -> tuple[int, ...]:
        """(V, E, F) in 3-D; (V, E) for a polygon."""
        if self.dim == 2:
            return (self.n_vertices, self.n_edges)
        return (self.n_vertices, self.n_edges, self.n_faces)

    def face_size_counts(self) -> dict[int, int]:
        """How many faces have each number of sides, e.g. {3: 8, 4: 6}."""
        sizes, counts = np.unique(self.face_sizes, return_counts=True)
        return {int(s): int(c) for s, c in zip(sizes, counts)}

    def is_closed_manifold(self) -> bool:
        """Every undirected edge is used by exactly two faces, once in each direction."""
        if self.dim == 2:
            deg = np.bincount(self.edges.ravel(), minlength=self.n_vertices)
            return bool(np.all(deg == 2))
        fe = self.face_edges()
        key = fe[:, 0] * self.n_vertices + fe[:, 1]
        if len(np.unique(key)) != len(key):
            return False
        rkey = fe[:, 1] * self.n_vertices + fe[:, 0]
        return bool(np.all(np.isin(rkey, key)))

    def vertices3d(self) -> np.ndarray:
        """Vertices as (V, 3), with z = 0 for a polygon."""
        if self.dim == 3:
            return self.vertices
        return np.concatenate([self.vertices, np.zeros((self.n_vertices, 1))], axis=1)

    def original_coordinates(self) -> np.ndarray:
        """Vertices in the network's input space (through ``basis`` for slices)."""
        return self.vertices if self.basis is None else self.vertices @ self.basis.T

    def level_error(self, f, level: float = 1.0, cap_faces: int = 0) -> float:
        """Largest ``|f(v) - level|`` over the vertices, in the network's input space.

        Parameters
        ----------
        f : callable
            The function the mesh is a level set of (a :class:`~neuralpoly_core.network.Network`
            of the full input dimension, also for slices: ``original_coordinates()`` are
            evaluated).
        level : float
            The level (1 for neural polytopes).
        cap_faces : int
            The last ``cap_faces`` faces close the surface along a box (they are not on the
            level set): vertices used only by them are left out.

        Returns
        -------
        float
            0.0 for a mesh without vertices (or with caps only).

        Raises
        ------
        ExtractionError
            If ``f`` takes inputs of another dimension than the vertices.
        """
        X = self.original_coordinates()
        dim = getattr(f, "dim", X.shape[1])
        if X.shape[1] != dim:
            raise ExtractionError(
                f"mesh vertices are {X.shape[1]}-dimensional but the network takes {dim} "
                "inputs (a slice mesh needs its basis)")
        if cap_faces:
            nsurf = self.n_faces - int(cap_faces)
            if nsurf <= 0:
                return 0.0
            X = X[np.unique(self.corners[:int(self.face_sizes[:nsurf].sum())])]
        if not len(X):
            return 0.0
        return float(np.max(np.abs(f(X) - level)))

    # -- geometry --------------------------------------------------------------------
    def face_normals(self) -> np.ndarray:
        """Unit normals (Newell's method), shape (F, 3)."""
        v = self.vertices3d()
        fe = self.face_edges()
        a, b = v[fe[:, 0]], v[fe[:, 1]]
        cross = np.stack([(a[:, 1] - b[:, 1]) * (a[:, 2] + b[:, 2]),
                          (a[:, 2] - b[:, 2]) * (a[:, 0] + b[:, 0]),
                          (a[:, 0] - b[:, 0]) * (a[:, 1] + b[:, 1])], axis=1)
        face_of = np.repeat(np.arange(self.n_faces), self.face_sizes)
        n = np.zeros((self.n_faces, 3))
        np.add.at(n, face_of, cross)
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        return n / np.where(norm > 0, norm, 1.0)

    def volume(self) -> float:
        """Signed volume enclosed by a closed, outward-oriented 3-D mesh.

        In 2-D: the signed area enclosed by the polygon's loop, or by the oriented segments
        (2-corner faces) of a level curve, counter-clockwise positive.
        """
        v = self.vertices
        if self.dim == 2:
            if self.is_curve():
                e = self.corners.reshape(-1, 2)      # oriented segments
            else:
                e = self.face_edges()
            a, b = v[e[:, 0]], v[e[:, 1]]
            return 0.5 * float(np.sum(a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]))
        tri = self.triangulate()
        a, b, c = v[tri[:, 0]], v[tri[:, 1]], v[tri[:, 2]]
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)

    def is_curve(self) -> bool:
        """A 2-D level curve: every face is an oriented segment (two corners)."""
        return self.dim == 2 and self.n_faces > 0 and bool(np.all(self.face_sizes == 2))

    def curve_components(self) -> list[list[np.ndarray]]:
        """The regions enclosed by a 2-D level curve, one list of loops per component.

        The segments are chained into closed loops (at a vertex where loops touch, each
        incoming segment continues with the first outgoing segment clockwise from it, so loops
        never cross), and every clockwise loop (a hole) is assigned to the counter-clockwise
        loop that bounds the same connected piece of the inside (found by a bridge: a segment
        to a visible vertex further left). Islands inside holes are components of their own.

        Returns
        -------
        list of list of (n,) int64 arrays
            Per component (from left to right, by the lowest leftmost vertex of each outer
            loop): its outer loop first (counter-clockwise), then its holes (clockwise, by
            their leftmost vertex), each as vertex ids in segment order. Loops enclosing zero
            area are left out.

        Raises
        ------
        NeuralPolyError
            If the mesh is not a level curve, a curve is open (it ends on the box: extract
            with ``cap=True``), or a clockwise loop lies in no counter-clockwise one (the
            curves do not enclose a bounded region).
        """
        if not self.is_curve():
            raise NeuralPolyError("curve_components takes a 2-D level curve (a mesh of oriented "
                                  "2-corner segments)")
        return CurveRegions(self.vertices, self.corners.reshape(-1, 2)).components()

    def triangulate(self) -> np.ndarray:
        """(T, 3) vertex-index triangles covering every face, counter-clockwise seen from
        outside (in 2-D: with the orientation of the polygon).

        Convex faces are fanned, other faces ear-clipped. A 2-D level curve (oriented
        segments, the inside on the left) is triangulated as the region it encloses: outer
        loops, holes, several components, islands inside holes, collinear runs of segments,
        loops touching at a vertex. Its triangles are counter-clockwise, their areas add up
        to :meth:`volume`, every segment is an edge of one triangle, no vertex is added, and
        slivers of nearly collinear corners are flipped away; only a spike (a segment that
        turns back along itself) leaves a flat triangle.

        Raises
        ------
        NeuralPolyError
            For a level curve that does not enclose a bounded region: open curves (ending on
            the box; extract with ``cap=True`` to close them along the box), or a hole outside
            every outer loop; or, should the ear clipping fail, with the reason.
        """
        if self.n_faces == 0:
            return np.zeros((0, 3), dtype=np.int64)
        if self.dim == 2:
            if np.any(self.face_sizes == 2):
                if not np.all(self.face_sizes == 2):
                    raise NeuralPolyError("a 2-D mesh mixes segments (2-corner faces) with polygons; "
                                          "it cannot be triangulated")
                return CurveRegions(self.vertices, self.corners.reshape(-1, 2)).triangulate()
            if self.n_faces == 1:
                loop = self.corners
                return ear_clip(self.vertices[loop], loop)
            return np.concatenate([ear_clip(self.vertices[f], f) for f in self.faces], axis=0)
        sizes = self.face_sizes
        out = []
        tri_mask = sizes == 3
        starts = self.face_starts
        if np.any(tri_mask):
            s = starts[tri_mask]
            out.append(np.stack([self.corners[s], self.corners[s + 1], self.corners[s + 2]], axis=1))
        normals = self.face_normals()
        v = self.vertices
        for fi in np.nonzero(~tri_mask)[0]:
            idx = self.corners[starts[fi]:starts[fi] + sizes[fi]]
            n = normals[fi]
            # project onto the face plane
            u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
            u /= np.linalg.norm(u)
            w = np.cross(n, u)
            p2 = np.stack([v[idx] @ u, v[idx] @ w], axis=1)
            out.append(ear_clip(p2, idx))
        return np.concatenate(out, axis=0) if out else np.zeros((0, 3), dtype=np.int64)

    def copy(self) -> "PolyMesh":
        return PolyMesh(self.vertices.copy(), self.corners.copy(), self.face_sizes.copy(),
                        self.region_ids.copy(),
                        None if self.region_patterns is None else self.region_patterns.copy(),
                        None if self.basis is None else self.basis.copy(), dict(self.info))
