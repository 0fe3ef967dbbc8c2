"""The linear regions of a network in a box, as :func:`~neuralpoly_core.regions.enumerate_regions`
finds them: :class:`RegionTessellation` (patterns, vertices, affine maps, pieces, a mesh).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import NeuralPolyError
from ..mesh.graph import connected_components, sharing_pairs
from ..mesh.polymesh import PolyMesh
from .tessellation_build import build, inner_faces, spans_plane

__all__ = ["RegionTessellation"]

_MIXED = 2                       # see .exact: a kinked unit left uncut on a cell (degenerate)
_SAME_MAP = 1e-9                 # relative tolerance of "the same affine map" (pieces)


class RegionTessellation:
    """The linear regions of a network in a box (or a slice of its input), from
    :func:`~neuralpoly_core.regions.enumerate_regions`.

    Coordinates: the box's *local* coordinates ``y`` (the input itself, or the slice's
    ``x = origin + y @ basis``).

    Attributes
    ----------
    dim : int
        1, 2 or 3 (local coordinates).
    count : int
        Number of regions ``R``.
    pieces : int
        Number of pieces of ``f``: connected components of regions (adjacent across a facet)
        whose affine maps of ``f`` agree (``|dg| |y|max + |do| <= 1e-9`` of the largest
        ``|g| |y|max + |o|``).
    patterns : (R, N) bool, or (R, N) int16 with maxout layers
        One column per hidden unit, layers in order (:attr:`layer_slices`). ``relu`` / ``|x|``:
        the unit is positive on the region (a unit that vanishes on the region is off);
        ``identity``: its sign at the region's centroid; ``maxout`` (then the array is int16 and
        other units 0/1): the index of the unit's largest piece (the first, if pieces coincide).
    layer_slices : list of slice
        The columns of each hidden layer.
    groups : list of int
        Pre-activation rows per unit of each hidden layer (maxout: k; else 1).
    gradients : (R, n_in), offsets : (R,)
        ``f(x) = gradients[i] @ x + offsets[i]`` on region ``i``, ``x`` the network's input.
    local_gradients : (R, dim), local_offsets : (R,)
        The same in local coordinates.
    vertices : list of R arrays (k_i, dim)
        Each region's corners in local coordinates (made on first use). In the conforming
        tessellation a region's list also holds its neighbours' corners that lie on its edges
        (or faces), so adjacent regions share their vertices.
    breakpoints : (B,) array or None
        1-D: the sorted interior boundaries between regions (local coordinate); else None.
    seconds : float
        Time of the enumeration.
    info : dict
        ``cells`` (cells of the complex; more than ``count`` only with maxout layers),
        ``vertices``, ``degenerate_cells`` (cells a near-tie left uncut, 0 normally),
        ``origin``, ``basis``, ``bbox``, ``cutting`` (``"compiled"``: the 2-D fast path of
        :mod:`.compiled2d`, where numba is installed; ``"arrangements"``: numpy's 2-D fast path
        of :mod:`.lean2d`; ``"cell complex"``: unit by unit).
    """

    def __init__(self, *, dim, patterns, layer_slices, groups, gradients, offsets, local_gradients, local_offsets,
                 points, region_vertices, centroids, breakpoints, cell_region, cell_faces, origin, basis, lo, hi,
                 seconds, info):
        self.dim = int(dim)
        self.patterns = patterns
        self.layer_slices = layer_slices
        self.groups = groups
        self.gradients, self.offsets = gradients, offsets
        self.local_gradients, self.local_offsets = local_gradients, local_offsets
        self.count = int(len(patterns))
        self._X = points
        self._region_vertices = region_vertices      # (ids, offsets, counts), or a callable making them
        self._centroids = centroids
        self._vertices = None
        self.breakpoints = breakpoints
        self._cell_region = cell_region
        self._cell_faces = cell_faces         # 3-D: a callable making every cell's faces
        self.origin, self.basis = origin, basis
        self.lo, self.hi = lo, hi
        self.seconds = float(seconds)
        self.info = info
        self._mesh = None
        self.pieces = self._count_pieces()

    def __repr__(self) -> str:
        return f"RegionTessellation(dim={self.dim}, regions={self.count}, pieces={self.pieces}, seconds={self.seconds:.3g})"

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_complex(cls, net, cx, codes, slices, origin, basis, lo, hi, t0, max_regions=None):
        """The tessellation from the cut complex ``cx`` and the cells' pattern codes (see
        :mod:`neuralpoly_core.regions.exact`)."""
        return cls(**build(net, cx, codes, slices, origin, basis, lo, hi, max_regions),
                   seconds=time.perf_counter() - t0)

    # -- reading -------------------------------------------------------------------------
    @property
    def vertices(self) -> list[np.ndarray]:
        """Each region's vertices in local coordinates: a list of R arrays (k_i, dim)."""
        if self._vertices is None:
            rv, _off, cnt = self._lists()
            self._vertices = np.split(self._X[rv], np.cumsum(cnt)[:-1]) if self.count else []
        return self._vertices

    def points(self, i: int) -> np.ndarray:
        """Region ``i``'s vertices in input coordinates, (k_i, n_in)."""
        return self.origin + self.vertices[i] @ self.basis

    def _lists(self):
        """Each region's vertex ids (CSR: ids, offsets, counts), made on first use."""
        if callable(self._region_vertices):
            self._region_vertices = self._region_vertices(np.arange(self.count))
        return self._region_vertices

    def centroids(self) -> np.ndarray:
        """A point inside each region, local coordinates (R, dim): the average of its corners,
        each counted once per edge of the region it ends (in 2-D the vertex centroid)."""
        return self._centroids

    def row_patterns(self) -> np.ndarray:
        """The patterns as :meth:`Network.activation_pattern` writes them: one bool column per
        pre-activation row (a maxout unit's ``k`` rows the one-hot of its largest piece), (R, rows)."""
        if self.patterns.dtype == bool:
            return self.patterns
        parts = []
        for sl, k in zip(self.layer_slices, self.groups):
            P = self.patterns[:, sl]
            parts.append((P[:, :, None] == np.arange(k)).reshape(len(P), -1) if k > 1 else P > 0)
        return np.concatenate(parts, axis=1)

    def summary(self) -> dict:
        """``regions``, ``pieces``, ``dim``, ``seconds``."""
        return {"regions": self.count, "pieces": self.pieces, "dim": self.dim, "seconds": self.seconds}

    def volumes(self) -> np.ndarray:
        """Length (1-D), area (2-D) or volume (3-D) of each region, (R,)."""
        if self.dim == 1:
            return np.array([float(v.max() - v.min()) for v in self.vertices])
        mesh = self.mesh()
        V = mesh.vertices.copy()                # about the box's centre: a box far out keeps its digits
        V[:, :self.dim] -= 0.5 * (np.asarray(self.lo) + np.asarray(self.hi))
        st, sz = mesh.face_starts, mesh.face_sizes
        a = mesh.corners
        pos = np.arange(len(a)) - np.repeat(st, sz)
        nxt = a[np.repeat(st, sz) + (pos + 1) % np.repeat(sz, sz)]
        face = np.repeat(np.arange(mesh.n_faces), sz)
        if self.dim == 2:
            x, y = V[:, 0], V[:, 1]
            part = 0.5 * (x[a] * y[nxt] - x[nxt] * y[a])
            return np.bincount(self.face_region[face], part, minlength=self.count)
        # 3-D: tetrahedra (origin of the cell's face fan, corner, next corner) against the
        # face centroid, signed by the outward orientation
        fc = np.zeros((mesh.n_faces, 3))
        for k in range(3):
            fc[:, k] = np.bincount(face, V[a, k], minlength=mesh.n_faces) / sz
        part = np.einsum("ij,ij->i", fc[face], np.cross(V[a], V[nxt])) / 6.0
        return np.bincount(self.face_region[face], part, minlength=self.count)

    # -- the mesh ------------------------------------------------------------------------
    def mesh(self) -> PolyMesh:
        """The regions as a :class:`~neuralpoly_core.mesh.PolyMesh` in local coordinates.

        2-D: one polygon per region (vertices ``(y0, y1, 0)``, shared between regions,
        counter-clockwise). 3-D: every region's boundary faces, outward, each region closed on
        its own (with maxout layers a region is several cells of the complex: the faces between
        them are left out). :attr:`face_region` gives
        each face's region (``mesh.info``: ``regions``, ``pieces``, ``origin``, ``basis``: the input
        point of local ``y`` is ``origin + y @ basis``); ``region_patterns`` are
        :meth:`row_patterns`.

        Raises
        ------
        NeuralPolyError
            In 1-D (the regions are intervals: see :attr:`breakpoints`).
        """
        if self.dim == 1:
            raise NeuralPolyError("a 1-D tessellation has no mesh: its regions are intervals (see breakpoints)")
        if self._mesh is None:
            if self.dim == 2:
                self._mesh, self._face_region = self._mesh_2d()
            else:
                self._mesh, self._face_region = self._mesh_3d()
            self._mesh.info.update(regions=self.count, pieces=self.pieces, origin=self.origin.tolist(),
                                   basis=self.basis.tolist())
        return self._mesh

    @property
    def face_region(self) -> np.ndarray:
        """The region id of each face of :meth:`mesh`, (F,)."""
        self.mesh()
        return self._face_region

    def _mesh_3d(self):
        X, corners, sizes, cells, labels = self._cell_faces()
        if self.info["cells"] > self.count:            # drop the faces between cells of one region
            keep = ~inner_faces(X, corners, sizes, cells, labels, self._cell_region, 2 * self.dim)
            corners = corners[np.repeat(keep, sizes)]
            sizes, cells = sizes[keep], cells[keep]
        region = self._cell_region[cells]
        return PolyMesh(X, corners, sizes, region, region_patterns=self.row_patterns()), region

    def _mesh_2d(self):
        X = self._X
        rv, _off, cnt = self._lists()
        own = np.repeat(np.arange(self.count), cnt)
        cen = self.centroids()
        d = X[rv] - cen[own]
        ang = np.arctan2(d[:, 1], d[:, 0])
        rank = np.empty(len(ang), dtype=np.int64)
        rank[np.argsort(ang)] = np.arange(len(ang))
        order = np.argsort(own * len(ang) + rank)          # by region, then by angle
        used, inv = np.unique(rv, return_inverse=True)
        V = np.zeros((len(used), 3))
        V[:, :2] = X[used]
        mesh = PolyMesh(V, inv[order], cnt, np.arange(self.count), region_patterns=self.row_patterns())
        return mesh, np.arange(self.count)

    # -- pieces --------------------------------------------------------------------------
    def _subset_lists(self, regions: np.ndarray):
        """The vertex ids of the regions ``regions`` (CSR in their order), without making every
        region's list when they are made on demand."""
        if callable(self._region_vertices):
            return self._region_vertices(regions)
        rv, roff, rcnt = self._lists()
        cnt = rcnt[regions]
        off = np.cumsum(cnt) - cnt
        idx = np.repeat(roff[regions] - off, cnt) + np.arange(int(cnt.sum()))
        return rv[idx], off, cnt

    def _sharing_pairs(self, regions=None):
        """Pairs ``(i, j)``, ``i < j``, of regions (of ``regions``, ascending ids; default all)
        sharing at least ``dim`` vertices, how many they share, and (3-D) the shared vertex ids,
        pair after pair, each pair's ascending (else None)."""
        regions = np.arange(self.count) if regions is None else regions
        none = np.zeros(0, dtype=np.int64)
        if len(regions) < 2:
            return np.zeros((0, 2), dtype=np.int64), none, none
        rv, _off, cnt = self._subset_lists(regions)
        if self.dim == 3:
            a, b, shared, common = sharing_pairs(rv, cnt, self.dim, return_members=True)
        else:
            (a, b, shared), common = sharing_pairs(rv, cnt, self.dim), None
        pairs = np.stack([regions[a], regions[b]], axis=1).astype(np.int64)
        return pairs, shared, common

    def adjacent_pairs(self) -> np.ndarray:
        """Pairs ``(i, j)``, ``i < j``, of regions that share a facet (share ``dim``
        vertices; in 3-D three that are not collinear), (P, 2). In a conforming tessellation
        every corner of a shared facet is a vertex of both regions. In 3-D the shared vertices
        of all pairs come with the pairs (:func:`~neuralpoly_core.mesh.graph.sharing_pairs`)
        and :func:`~neuralpoly_core.regions.tessellation_build.spans_plane` tests them all at
        once (an SVD per pair only where a cheap bound leaves it open)."""
        pairs, shared, common = self._sharing_pairs()
        if self.dim == 3 and len(pairs):
            pairs = pairs[spans_plane(self._X, common, shared)]
        return pairs

    def _count_pieces(self) -> int:
        """Connected components of adjacent regions with the same map. Only regions whose
        maps could be equal are tested for adjacency: those whose values at one point of the
        box lie within the tolerance of another's (sorted, chained by gaps)."""
        if self.count < 2:
            return self.count
        ext = np.maximum(np.abs(self.lo), np.abs(self.hi))
        g, o = self.local_gradients, self.local_offsets
        tol = _SAME_MAP * max(float((np.abs(g) @ ext + np.abs(o)).max()), 1e-300)
        y = self.lo + (self.hi - self.lo) * np.linspace(0.31, 0.67, self.dim)     # any point of the box
        p = g @ y + o
        order = np.argsort(p, kind="stable")
        chain = np.concatenate([[0], np.cumsum(np.diff(p[order]) > tol)])
        size = np.bincount(chain)
        cand = np.sort(order[size[chain] > 1])
        if len(cand) < 2:
            return self.count
        pairs, shared, common = self._sharing_pairs(cand)
        a, b = pairs[:, 0], pairs[:, 1]
        same = np.abs(g[a] - g[b]) @ ext + np.abs(o[a] - o[b]) <= tol
        if self.dim == 3 and same.any():
            same[same] = spans_plane(self._X, common[np.repeat(same, shared)], shared[same])
        labels = connected_components(self.count, a[same], b[same])
        return int(np.count_nonzero(labels == np.arange(self.count)))
