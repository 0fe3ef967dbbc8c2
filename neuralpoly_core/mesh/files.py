"""Mesh files: OBJ (n-gons kept), binary STL (triangles) and PLY, written atomically.

Writers check the mesh first (finite coordinates, at least one face) and write through
:func:`neuralpoly_core.fileio.atomic_open`, so a failure never leaves a half-written file
and never touches an existing one. OBJ and ASCII PLY print coordinates with 17
significant digits and binary PLY stores doubles, so vertices read back bit for bit;
STL is float32 by format.

Coordinates are the mesh's own (for a slice of a d > 3 polytope: the slice coordinates,
``mesh.basis`` is not stored). A 2-D polygon (one face: its closed loop) is written with
z = 0: as one n-gon face in OBJ and PLY, triangulated in STL.

The readers handle the files written here (and the common variants of the same
subset): ``read_obj``, ``read_stl`` (binary; identical corners are merged into shared
vertices) and ``read_ply`` (ASCII and binary little/big endian, vertex and face elements).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..budget import check_memory
from ..errors import NeuralPolyError
from ..fileio import atomic_open, read_limited
from ..version import __version__
from .polymesh import PolyMesh

__all__ = ["write_obj", "write_stl", "write_ply", "export_mesh", "check_format", "read_obj", "read_stl",
           "read_ply", "read_mesh", "MESH_FORMATS"]

MESH_FORMATS = ("obj", "stl", "ply")


def _version() -> str:
    return __version__


# --------------------------------------------------------------------------------------
# checks shared by the writers
# --------------------------------------------------------------------------------------
def _check_mesh(mesh: PolyMesh, *, curves: bool = False) -> np.ndarray:
    """Validate a mesh for writing; returns its vertices as (V, 3).

    ``curves``: the format can store 2-D level curves (OBJ ``l`` lines)."""
    if not isinstance(mesh, PolyMesh):
        raise NeuralPolyError(f"expected a PolyMesh to write, got {type(mesh).__name__}")
    if mesh.n_faces == 0:
        raise NeuralPolyError("the mesh has no faces; there is nothing to write")
    finite = np.isfinite(mesh.vertices).all(axis=1)
    if not finite.all():
        bad = np.nonzero(~finite)[0]
        raise NeuralPolyError(
            f"the mesh has {len(bad)} vertices with NaN or infinite coordinates (first: vertex "
            f"{bad[0]} = {mesh.vertices[bad[0]].tolist()}); refusing to write it")
    if curves and mesh.is_curve():
        return mesh.vertices3d()
    if mesh.is_curve():
        raise NeuralPolyError("a 2-D level curve (line segments) has no faces to write in this "
                              "format; write it as .obj (line elements)")
    if mesh.dim == 2 and np.any(mesh.face_sizes < 3):
        raise NeuralPolyError("a polygon needs at least 3 corners to be written as a face")
    return mesh.vertices3d()


def _regions(mesh: PolyMesh) -> np.ndarray:
    return np.full(mesh.n_faces, -1, dtype=np.int64) if mesh.region_ids is None else mesh.region_ids


def _check_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise NeuralPolyError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")


def _fmt_rows(fmt: str, values: np.ndarray) -> str:
    """``fmt`` (one line, ending in a newline) applied to every row of ``values``."""
    if len(values) == 0:
        return ""
    return (fmt * len(values)) % tuple(values.ravel().tolist())


def _face_lines(prefix: str, mesh: PolyMesh, offset: int) -> str:
    """One line ``prefix i j k ...`` per face, with vertex indices + ``offset``."""
    sizes = mesh.face_sizes
    if np.all(sizes == sizes[0]):
        rows = (mesh.corners + offset).reshape(-1, int(sizes[0]))
        return _fmt_rows(prefix + " %d" * rows.shape[1] + "\n", rows)
    corners = (mesh.corners + offset).tolist()
    lines = [prefix + " " + " ".join(map(str, corners[s:s + n]))
             for s, n in zip(mesh.face_starts.tolist(), sizes.tolist())]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# OBJ
# --------------------------------------------------------------------------------------
def write_obj(mesh: PolyMesh, path, *, name: str | None = None) -> Path:
    """Write a Wavefront OBJ file: ``v`` lines and one ``f`` line per n-gon face
    (``l`` line elements for a 2-D level curve made of segments).

    Parameters
    ----------
    mesh : PolyMesh
        3-D mesh or 2-D polygon (written as one face at z = 0).
    path : str or Path
        Output file; replaced atomically.
    name : str, optional
        Object name (``o`` line); Blender names the imported object after it.

    Returns
    -------
    Path
        The written path.
    """
    path = Path(path)
    V = _check_mesh(mesh, curves=True)
    _check_folder(path)
    if name is not None:
        name = " ".join(str(name).split()) or None     # one line, no empty names
    with atomic_open(path, "w") as fh:
        fh.write(f"# neuralpoly {_version()}: {mesh.n_vertices} vertices, {mesh.n_faces} faces\n")
        if name:
            fh.write(f"o {name}\n")
        fh.write(_fmt_rows("v %.17g %.17g %.17g\n", V))
        fh.write(_face_lines("l" if mesh.is_curve() else "f", mesh, 1))
    return path


def read_obj(path) -> PolyMesh:
    """Read the vertices and faces of an OBJ file as a 3-D :class:`PolyMesh`.

    Supports ``v x y z [w]`` and ``f`` with ``i``, ``i/t``, ``i//n``, ``i/t/n`` and negative
    (relative) indices; other statements (``o``, ``g``, ``s``, ``vt``, ``vn``, ``l``,
    ``usemtl``, ...) are ignored. Region ids are not stored in OBJ: they read as -1.
    """
    path = Path(path)
    verts, faces = [], []
    data = read_limited(path, "OBJ file")
    # Python lists of parsed numbers take ~ 20 times the text
    check_memory(20 * len(data), f"reading OBJ file {path.name}", "read a smaller file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NeuralPolyError(f"OBJ file {path.name} is not UTF-8 text (byte {e.start})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        tok = line.split()
        if not tok or tok[0].startswith("#"):
            continue
        where = f"{path.name}, line {lineno}"
        if tok[0] == "v":
            if len(tok) < 4:
                raise NeuralPolyError(f"{where}: a vertex needs 3 coordinates, got {line.strip()!r}")
            try:
                verts.append((float(tok[1]), float(tok[2]), float(tok[3])))
            except ValueError:
                raise NeuralPolyError(f"{where}: bad vertex coordinates {line.strip()!r}") from None
        elif tok[0] == "f":
            if len(tok) < 4:
                raise NeuralPolyError(f"{where}: a face needs at least 3 corners, got {line.strip()!r}")
            face = []
            for t in tok[1:]:
                try:
                    i = int(t.split("/")[0])
                except ValueError:
                    raise NeuralPolyError(f"{where}: bad face index {t!r}") from None
                if i == 0:
                    raise NeuralPolyError(f"{where}: OBJ indices start at 1, got 0")
                i = i - 1 if i > 0 else len(verts) + i
                if not 0 <= i < len(verts):
                    raise NeuralPolyError(f"{where}: face refers to vertex {t} but only "
                                          f"{len(verts)} vertices are defined before it")
                face.append(i)
            faces.append(face)
    if not faces:
        raise NeuralPolyError(f"OBJ file {str(path)!r} has no faces")
    V = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
    if not np.all(np.isfinite(V)):
        raise NeuralPolyError(f"{path.name}: vertex {int(np.argmin(np.isfinite(V).all(1))) + 1} has a NaN or "
                              "infinite coordinate")
    return PolyMesh.from_faces(V, faces)


# --------------------------------------------------------------------------------------
# STL (binary)
# --------------------------------------------------------------------------------------
#: One triangle of a binary STL file (after the 80-byte header and the uint32 count).
STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])


def write_stl(mesh: PolyMesh, path) -> Path:
    """Write a binary STL file; n-gons (and a 2-D polygon) are triangulated.

    Coordinates are float32 (the STL format); facet normals are computed in float64.
    """
    path = Path(path)
    V = _check_mesh(mesh)
    _check_folder(path)
    tris = mesh.triangulate()
    if len(tris) >= 2 ** 32:
        raise NeuralPolyError(f"{len(tris)} triangles do not fit in a binary STL file")
    a, b, c = V[tris[:, 0]], V[tris[:, 1]], V[tris[:, 2]]
    n = np.cross(b - a, c - a)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
    rec = np.zeros(len(tris), dtype=STL_RECORD)
    rec["normal"] = n
    rec["v"] = np.stack([a, b, c], axis=1)
    header = f"neuralpoly {_version()} binary STL".encode("ascii")[:80].ljust(80, b" ")
    with atomic_open(path, "wb") as fh:
        fh.write(header)
        fh.write(struct.pack("<I", len(tris)))
        fh.write(rec.tobytes())
    return path


def read_stl(path) -> PolyMesh:
    """Read a binary STL file; corners with identical coordinates become one vertex."""
    path = Path(path)
    data = read_limited(path, "STL file")
    if len(data) < 84:
        raise NeuralPolyError(f"{path.name} is not a binary STL file: only {len(data)} bytes")
    (count,) = struct.unpack_from("<I", data, 80)
    expected = 84 + 50 * count
    if len(data) != expected:
        if data[:5].lower() == b"solid" and b"facet" in data[:1000]:
            raise NeuralPolyError(f"{path.name} is an ASCII STL file; only binary STL is read")
        raise NeuralPolyError(f"{path.name} is not a valid binary STL file: it declares {count} "
                              f"triangles ({expected} bytes) but has {len(data)} bytes")
    check_memory(300 * count, f"reading STL file {path.name} ({count} triangles)", "read a smaller file")
    rec = np.frombuffer(data, dtype=STL_RECORD, count=count, offset=84)
    corners = rec["v"].reshape(-1, 3).astype(np.float64)
    if not np.all(np.isfinite(corners)):
        raise NeuralPolyError(f"{path.name} contains NaN or infinite coordinates")
    verts, inverse = np.unique(corners, axis=0, return_inverse=True)
    return PolyMesh(verts, inverse.ravel(), np.full(count, 3))


# --------------------------------------------------------------------------------------
# PLY
# --------------------------------------------------------------------------------------
_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
    "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


def write_ply(mesh: PolyMesh, path, *, binary: bool = True, face_properties: dict | None = None) -> Path:
    """Write a PLY file with n-gon faces and an int ``region_id`` per face.

    Vertices are ``double`` x, y, z; faces are ``vertex_indices`` lists (count ``uchar``,
    or ``uint`` when a face has more than 255 corners, e.g. a fine 2-D polygon). Blender
    5.0 imports these files (OBJ, STL and PLY checked with bpy) but its PLY importer
    rejects faces of more than 255 corners and skips face properties such as
    ``region_id``: write fine polygons as OBJ for Blender.

    Parameters
    ----------
    binary : bool, default True
        ``binary_little_endian`` (exact doubles) or ``ascii`` (17 significant digits).
    face_properties : dict, optional
        More ``int`` face properties after ``region_id``: name -> (F,) integers (e.g. the
        ``popcount`` of each region's activation pattern).
    """
    path = Path(path)
    V = _check_mesh(mesh)
    extra = _face_columns(mesh, face_properties)
    _check_folder(path)
    count_type = "uchar" if mesh.face_sizes.max() <= 255 else "uint"
    header = ("ply\n"
              f"format {'binary_little_endian' if binary else 'ascii'} 1.0\n"
              f"comment neuralpoly {_version()}\n"
              f"element vertex {mesh.n_vertices}\n"
              "property double x\nproperty double y\nproperty double z\n"
              f"element face {mesh.n_faces}\n"
              f"property list {count_type} int vertex_indices\n"
              "property int region_id\n"
              + "".join(f"property int {k}\n" for k in extra)
              + "end_header\n")
    if binary:
        with atomic_open(path, "wb") as fh:
            fh.write(header.encode("ascii"))
            fh.write(np.ascontiguousarray(V, dtype="<f8").tobytes())
            fh.write(_ply_binary_faces(mesh, 1 if count_type == "uchar" else 4, extra))
    else:
        with atomic_open(path, "w") as fh:
            fh.write(header)
            fh.write(_fmt_rows("%.17g %.17g %.17g\n", V))
            fh.write(_ply_ascii_faces(mesh, extra))
    return path


def _face_columns(mesh: PolyMesh, face_properties) -> dict:
    out = {}
    for k, v in (face_properties or {}).items():
        v = np.asarray(v)
        if not isinstance(k, str) or not k.isidentifier() or k in ("region_id", "vertex_indices"):
            raise NeuralPolyError(f"a PLY face property needs a plain new name, got {k!r}")
        if v.shape != (mesh.n_faces,) or not np.issubdtype(v.dtype, np.integer):
            raise NeuralPolyError(f"the face property {k!r} needs one integer per face ({mesh.n_faces}), "
                                  f"got shape {v.shape} of {v.dtype}")
        out[k] = v.astype(np.int64)
    return out


def _ply_ascii_faces(mesh: PolyMesh, extra: dict | None = None) -> str:
    sizes = mesh.face_sizes
    cols = np.stack([_regions(mesh)] + list((extra or {}).values()), axis=1)
    if np.all(sizes == sizes[0]):
        rows = np.concatenate([np.full((mesh.n_faces, 1), sizes[0]),
                               mesh.corners.reshape(-1, int(sizes[0])), cols], axis=1)
        return _fmt_rows(" ".join(["%d"] * rows.shape[1]) + "\n", rows)
    corners = mesh.corners.tolist()
    out = []
    for s, n, r in zip(mesh.face_starts.tolist(), sizes.tolist(), cols.tolist()):
        out.append(f"{n} " + " ".join(map(str, corners[s:s + n])) + " " + " ".join(map(str, r)))
    return "\n".join(out) + "\n"


def _ply_binary_faces(mesh: PolyMesh, count_bytes: int, extra: dict | None = None) -> bytes:
    """Face records ``count, indices (int32), region_id (int32), extra (int32 each)`` packed
    little-endian."""
    sizes = mesh.face_sizes
    cols = [_regions(mesh)] + list((extra or {}).values())
    rec_len = count_bytes + 4 * sizes + 4 * len(cols)
    offsets = np.concatenate([[0], np.cumsum(rec_len)[:-1]])
    buf = np.zeros(int(rec_len.sum()), dtype=np.uint8)
    counts = sizes.astype("<u1" if count_bytes == 1 else "<u4").view(np.uint8).reshape(-1, count_bytes)
    buf[offsets[:, None] + np.arange(count_bytes)] = counts
    face_of = np.repeat(np.arange(mesh.n_faces), sizes)
    k = np.arange(len(mesh.corners)) - np.repeat(mesh.face_starts, sizes)
    corner_pos = offsets[face_of] + count_bytes + 4 * k
    idx = mesh.corners.astype("<i4").view(np.uint8).reshape(-1, 4)
    buf[corner_pos[:, None] + np.arange(4)] = idx
    for j, col in enumerate(cols):
        pos = offsets + count_bytes + 4 * sizes + 4 * j
        buf[pos[:, None] + np.arange(4)] = col.astype("<i4").view(np.uint8).reshape(-1, 4)
    return buf.tobytes()


def _parse_ply_header(data: bytes, name: str):
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise NeuralPolyError(f"{name} is not a PLY file (no 'ply' ... 'end_header' header)")
    nl = data.find(b"\n", end)
    body_start = len(data) if nl < 0 else nl + 1
    lines = data[:end].decode("ascii", errors="replace").splitlines()
    fmt = None
    elements: list = []    # (name, count, [props]); prop: (name, type) or (name, 'list', ctype, itype)
    for line in lines[1:]:
        tok = line.split()
        if not tok or tok[0] in ("comment", "obj_info"):
            continue
        if tok[0] == "format":
            if len(tok) < 2 or tok[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise NeuralPolyError(f"{name}: unknown PLY format {line.strip()!r}")
            fmt = tok[1]
        elif tok[0] == "element":
            try:
                elements.append((tok[1], int(tok[2]), []))
            except (IndexError, ValueError):
                raise NeuralPolyError(f"{name}: bad PLY element line {line.strip()!r}") from None
            if elements[-1][1] < 0:
                raise NeuralPolyError(f"{name}: negative PLY element count in {line.strip()!r}")
        elif tok[0] == "property":
            if not elements:
                raise NeuralPolyError(f"{name}: PLY property before any element")
            if len(tok) == 5 and tok[1] == "list":
                if tok[2] not in _PLY_TYPES or tok[3] not in _PLY_TYPES:
                    raise NeuralPolyError(f"{name}: unknown PLY type in {line.strip()!r}")
                elements[-1][2].append((tok[4], "list", _PLY_TYPES[tok[2]], _PLY_TYPES[tok[3]]))
            elif len(tok) == 3 and tok[1] in _PLY_TYPES:
                elements[-1][2].append((tok[2], _PLY_TYPES[tok[1]]))
            else:
                raise NeuralPolyError(f"{name}: bad PLY property line {line.strip()!r}")
        else:
            raise NeuralPolyError(f"{name}: unexpected PLY header line {line.strip()!r}")
    if fmt is None:
        raise NeuralPolyError(f"{name}: PLY header has no 'format' line")
    return fmt, elements, body_start


def read_ply(path) -> PolyMesh:
    """Read a PLY file (ASCII or binary) with ``vertex`` (x, y, z) and ``face`` elements.

    ``vertex_indices`` (or ``vertex_index``) lists become n-gon faces; an int property
    ``region_id`` on faces is kept. Other vertex or face properties are skipped; elements
    other than vertex and face are not supported.
    """
    path = Path(path)
    data = read_limited(path, "PLY file")
    name = path.name
    fmt, elements, pos = _parse_ply_header(data, name)
    _check_ply_counts(data, pos, fmt, elements, name)
    names = [e[0] for e in elements]
    if "vertex" not in names or "face" not in names:
        raise NeuralPolyError(f"{name}: a PLY mesh needs 'vertex' and 'face' elements, found {names}")
    extra = [n for n in names if n not in ("vertex", "face")]
    if extra:
        raise NeuralPolyError(f"{name}: unsupported PLY elements {extra}; expected vertex and face")
    vprops = {p[0]: p for p in elements[names.index("vertex")][2]}
    for axis in "xyz":
        if axis not in vprops or vprops[axis][1] == "list":
            raise NeuralPolyError(f"{name}: PLY vertices need scalar properties x, y and z")
    fprops = elements[names.index("face")][2]
    lists = [p for p in fprops if p[1] == "list"]
    if len(lists) != 1 or lists[0][0] not in ("vertex_indices", "vertex_index"):
        raise NeuralPolyError(f"{name}: PLY faces need one list property 'vertex_indices'")

    if fmt == "ascii":
        verts, corners, sizes, regions = _read_ply_ascii(data, pos, elements, name)
    else:
        verts, corners, sizes, regions = _read_ply_binary(data, pos, elements, fmt, name)
    if len(sizes) == 0:
        raise NeuralPolyError(f"{name}: the PLY file has no faces")
    if np.any(sizes < 3):
        raise NeuralPolyError(f"{name}: a face has fewer than 3 corners")
    n_v = len(verts)
    if len(corners) and (corners.min() < 0 or corners.max() >= n_v):
        raise NeuralPolyError(f"{name}: a face refers to a vertex that does not exist "
                              f"(indices must lie in 0..{n_v - 1})")
    if not np.all(np.isfinite(verts)):
        raise NeuralPolyError(f"{name}: vertices contain NaN or infinite coordinates")
    return PolyMesh(verts, corners, sizes, regions)


def _check_ply_counts(data: bytes, pos: int, fmt: str, elements, name: str) -> None:
    """Refuse element counts the file is too small to hold, before anything is allocated.

    A binary record takes at least the bytes of its scalars and list counts; an ASCII value
    at least 2 bytes (a digit and a separator)."""
    need = 0
    for el_name, count, props in elements:
        if fmt == "ascii":
            per = 2 * len(props)
        else:
            per = sum(np.dtype(p[2] if p[1] == "list" else p[1]).itemsize for p in props)
        need += count * max(per, 1)
        if need > len(data) - pos:
            raise NeuralPolyError(f"{name}: the PLY header declares {count} {el_name} elements, which need at "
                                  f"least {need} bytes, but the file has only {len(data) - pos} after the header")
    check_memory(20 * need, f"reading PLY file {name}", "read a smaller file")


_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _read_ply_ascii(data: bytes, pos: int, elements, name: str) -> _Arrays:
    """Vertices, corners, face sizes and region ids of an ASCII PLY body."""
    tokens = data[pos:].split()
    t = 0
    verts = np.zeros((0, 3))
    corners = sizes = regions = np.zeros(0, dtype=np.int64)
    for el_name, count, props in elements:
        if el_name == "vertex":
            width = len(props)
            if any(p[1] == "list" for p in props):
                raise NeuralPolyError(f"{name}: list properties on vertices are not supported")
            block = tokens[t:t + width * count]
            if len(block) < width * count:
                raise NeuralPolyError(f"{name}: the file ends inside the vertex list")
            try:
                vals = np.array(block, dtype=np.float64).reshape(count, width)
            except ValueError:
                raise NeuralPolyError(f"{name}: non-numeric vertex data") from None
            t += width * count
            cols = [p[0] for p in props]
            verts = vals[:, [cols.index("x"), cols.index("y"), cols.index("z")]]
        else:
            faces: list[list[int]] = []
            region_list: list[int] = []
            try:
                for _ in range(count):
                    face: list[int] = []
                    region = -1
                    for p in props:
                        if p[1] == "list":
                            n = int(tokens[t])
                            face = [int(x) for x in tokens[t + 1:t + 1 + n]]
                            if len(face) != n:
                                raise IndexError
                            t += 1 + n
                        else:
                            if p[0] == "region_id":
                                region = int(tokens[t])
                            t += 1
                    faces.append(face)
                    region_list.append(region)
            except (IndexError, ValueError):
                raise NeuralPolyError(f"{name}: malformed or truncated face list") from None
            sizes = np.array([len(f) for f in faces], dtype=np.int64)
            corners = np.array([i for f in faces for i in f], dtype=np.int64)
            regions = np.array(region_list, dtype=np.int64)
    if t != len(tokens):
        raise NeuralPolyError(f"{name}: {len(tokens) - t} unexpected values after the PLY data")
    return verts, corners, sizes, regions


def _read_ply_binary(data: bytes, pos: int, elements, fmt: str, name: str) -> _Arrays:
    """Vertices, corners, face sizes and region ids of a binary PLY body."""
    endian = "<" if fmt == "binary_little_endian" else ">"
    verts = np.zeros((0, 3))
    corners = sizes = regions = np.zeros(0, dtype=np.int64)
    for el_name, count, props in elements:
        if el_name == "vertex":
            if any(p[1] == "list" for p in props):
                raise NeuralPolyError(f"{name}: list properties on vertices are not supported")
            dt = np.dtype([(p[0], endian + p[1]) for p in props])
            if pos + dt.itemsize * count > len(data):
                raise NeuralPolyError(f"{name}: the file ends inside the vertex list")
            rec = np.frombuffer(data, dtype=dt, count=count, offset=pos)
            pos += dt.itemsize * count
            verts = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
        else:
            corners, sizes, regions, pos = _read_binary_faces(data, pos, count, props, endian, name)
    if pos != len(data):
        raise NeuralPolyError(f"{name}: {len(data) - pos} unexpected bytes after the PLY data")
    return verts, corners, sizes, regions


def _read_binary_faces(data: bytes, pos: int, count: int, props, endian: str, name: str):
    """Parse ``count`` binary face records; returns corners, sizes, region_ids, new pos."""
    for p in props:
        if p[1] == "list" and p[0] not in ("vertex_indices", "vertex_index"):
            raise NeuralPolyError(f"{name}: unsupported face list property {p[0]!r}")
    li = next(i for i, p in enumerate(props) if p[1] == "list")
    ctype = np.dtype(endian + props[li][2])
    itype = np.dtype(endian + props[li][3])
    before = [(p[0], endian + p[1]) for p in props[:li]]
    after = [(p[0], endian + p[1]) for p in props[li + 1:]]
    pre = np.dtype(before) if before else None
    post = np.dtype(after) if after else None
    pre_size = pre.itemsize if pre is not None else 0
    post_size = post.itemsize if post is not None else 0

    if count == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), pos
    # fast path: every face has the size of the first one
    if pos + pre_size + ctype.itemsize > len(data):
        raise NeuralPolyError(f"{name}: the file ends inside the face list")
    n0 = int(np.frombuffer(data, dtype=ctype, count=1, offset=pos + pre_size)[0])
    fields = before + [("_count", ctype.str), ("_indices", itype.str, (n0,))] + after
    dt = np.dtype(fields)
    if n0 > 0 and pos + dt.itemsize * count <= len(data):
        rec = np.frombuffer(data, dtype=dt, count=count, offset=pos)
        if np.all(rec["_count"] == n0):
            corners = rec["_indices"].astype(np.int64).ravel()
            sizes = np.full(count, n0, dtype=np.int64)
            regions = rec["region_id"].astype(np.int64) if "region_id" in (dt.names or ()) \
                else np.full(count, -1, dtype=np.int64)
            return corners, sizes, regions, pos + dt.itemsize * count
    # general path: variable sizes, one record at a time
    chunks: list[np.ndarray] = []
    size_list: list[int] = []
    region_list: list[int] = []
    for _ in range(count):
        if pos + pre_size + ctype.itemsize > len(data):
            raise NeuralPolyError(f"{name}: the file ends inside the face list")
        region = -1
        if pre is not None:
            head = np.frombuffer(data, dtype=pre, count=1, offset=pos)
            if "region_id" in (pre.names or ()):
                region = int(head["region_id"][0])
            pos += pre_size
        n = int(np.frombuffer(data, dtype=ctype, count=1, offset=pos)[0])
        pos += ctype.itemsize
        if pos + n * itype.itemsize + post_size > len(data):
            raise NeuralPolyError(f"{name}: the file ends inside the face list")
        chunks.append(np.frombuffer(data, dtype=itype, count=n, offset=pos).astype(np.int64))
        pos += n * itype.itemsize
        if post is not None:
            tail = np.frombuffer(data, dtype=post, count=1, offset=pos)
            if "region_id" in (post.names or ()):
                region = int(tail["region_id"][0])
            pos += post_size
        region_list.append(region)
        size_list.append(n)
    flat = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
    return flat, np.asarray(size_list, dtype=np.int64), np.asarray(region_list, dtype=np.int64), pos


# --------------------------------------------------------------------------------------
# by file name
# --------------------------------------------------------------------------------------
def _format_of(path: Path, format: str | None) -> str:
    fmt = (format if format is not None else path.suffix).lower().lstrip(".")
    if fmt not in MESH_FORMATS:
        what = f"format {format!r}" if format is not None else f"file suffix {path.suffix or '(none)'!r}"
        raise NeuralPolyError(f"unsupported mesh {what} for {str(path)!r}; supported formats are "
                              + ", ".join("." + f for f in MESH_FORMATS))
    return fmt


def check_format(path, format: str | None = None) -> str:
    """The mesh format (``'obj'``, ``'stl'`` or ``'ply'``) :func:`export_mesh` would use.

    Lets a caller reject a bad output name before a long computation.

    Raises
    ------
    NeuralPolyError
        If neither ``format`` nor the suffix of ``path`` names a supported format.
    """
    return _format_of(Path(path), format)


def export_mesh(mesh: PolyMesh, path, format: str | None = None, **options) -> Path:
    """Write a mesh in the format given by ``format`` or by the file suffix.

    Parameters
    ----------
    mesh : PolyMesh
    path : str or Path
    format : {'obj', 'stl', 'ply'}, optional
        Defaults to the suffix of ``path`` (case-insensitive).
    **options
        Passed on: ``name`` for OBJ, ``binary`` and ``face_properties`` for PLY.
    """
    path = Path(path)
    fmt = _format_of(path, format)
    allowed = {"obj": {"name"}, "stl": set(), "ply": {"binary", "face_properties"}}[fmt]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise NeuralPolyError(f"{fmt.upper()} export does not take the option(s) {unknown}"
                              + (f"; it takes {sorted(allowed)}" if allowed else ""))
    writer = {"obj": write_obj, "stl": write_stl, "ply": write_ply}[fmt]
    return writer(mesh, path, **options)


def read_mesh(path, format: str | None = None) -> PolyMesh:
    """Read a mesh written by :func:`export_mesh`, choosing the reader like it does."""
    path = Path(path)
    fmt = _format_of(path, format)
    return {"obj": read_obj, "stl": read_stl, "ply": read_ply}[fmt](path)
