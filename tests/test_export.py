import os
import struct

import numpy as np
import pytest

import neuralpoly_core.mesh.files as export
from neuralpoly_core import NeuralPolyError, PolyMesh, polytope_network
from neuralpoly_core.mesh.files import (check_format, export_mesh, read_mesh, read_obj, read_ply, read_stl,
                                    write_obj, write_ply, write_stl)
from neuralpoly_core.polytope.radial import extract_radial


# -- meshes ----------------------------------------------------------------------------------
def cube():
    """[-1, 1]^3 with quad faces, outward, region id = face index."""
    v = np.array([[x, y, z] for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)])
    faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return PolyMesh.from_faces(v, faces, region_ids=[0, 1, 2, 3, 4, 5])


def pentagonal_prism():
    """Two pentagons and five quads; volume = pentagon area * height."""
    a = 2 * np.pi * np.arange(5) / 5
    ring = np.stack([np.cos(a), np.sin(a)], axis=1) * 1.3 + [0.2, -0.1]
    v = np.concatenate([np.c_[ring, np.full(5, -0.5)], np.c_[ring, np.full(5, 0.7)]])
    faces = [[4, 3, 2, 1, 0], [5, 6, 7, 8, 9]] + [[i, (i + 1) % 5, 5 + (i + 1) % 5, 5 + i] for i in range(5)]
    return PolyMesh.from_faces(v, faces, region_ids=[7, 7, 1, 2, 3, 4, 5])


def radial_mesh():
    net = polytope_network(3, [np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.3], [0.4, 0.0, 1.0]])], [0.7])
    return net, extract_radial(net, resolution=8, max_refine=2)


def polygon():
    net = polytope_network(2, [np.eye(2)], [0.6])
    return net, extract_radial(net, resolution=24)


def same_mesh(a, b, vertices_exact=True):
    assert np.array_equal(a.face_sizes, b.face_sizes)
    assert np.array_equal(a.corners, b.corners)
    if vertices_exact:
        assert np.array_equal(a.vertices3d(), b.vertices3d())


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# -- OBJ -------------------------------------------------------------------------------------
def test_obj_roundtrip_ngons(tmp_path):
    for mesh in (cube(), pentagonal_prism()):
        path = write_obj(mesh, tmp_path / "m.obj", name="my poly")
        back = read_obj(path)
        same_mesh(mesh, back)
        assert back.volume() == pytest.approx(mesh.volume(), rel=1e-15)
    text = (tmp_path / "m.obj").read_text()
    assert "\no my poly\n" in text
    assert text.count("\nf ") == 7 and "\nf 5 4 3 2 1\n" in text


def test_obj_keeps_level_set_exactly(tmp_path):
    net, mesh = radial_mesh()
    back = read_obj(write_obj(mesh, tmp_path / "r.obj"))
    same_mesh(mesh, back)                                 # bit-identical coordinates
    assert np.max(np.abs(net(back.vertices) - 1.0)) <= 1e-9


def test_obj_polygon_is_one_face_at_z0(tmp_path):
    net, mesh = polygon()
    back = read_obj(write_obj(mesh, tmp_path / "p.obj"))
    assert back.n_faces == 1 and back.face_sizes[0] == mesh.n_vertices
    assert np.all(back.vertices[:, 2] == 0.0)
    assert np.array_equal(back.vertices[:, :2], mesh.vertices)
    assert np.max(np.abs(net(back.vertices[:, :2]) - 1.0)) <= 1e-9


def test_obj_reader_variants_and_errors(tmp_path):
    p = tmp_path / "v.obj"
    p.write_text("# c\nmtllib x.mtl\nv 0 0 0\nv 1 0 0 1.0\nv 0 1 0\nv 0 0 1\nvn 0 0 1\n"
                 "g grp\nusemtl m\ns off\nf 1/1/1 3//1 2\nf -4 -3 -1\nf 1 4 3\nf 2 3 4\nl 1 2\n")
    m = read_obj(p)
    assert m.f_vector == (4, 6, 4) and m.is_closed_manifold()
    assert m.faces[1].tolist() == [0, 1, 3]
    for body, match in [("v 0 0\n", "3 coordinates"), ("v 0 0 x\n", "bad vertex"),
                        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "only 3 vertices"),
                        ("v 0 0 0\nf 0 1 1\n", "start at 1"), ("v 0 0 0\nf 1 1\n", "at least 3"),
                        ("v 0 0 0\nf a b c\n", "bad face index"), ("v 0 0 0\n", "no faces")]:
        p.write_text(body)
        with pytest.raises(NeuralPolyError, match=match):
            read_obj(p)


# -- STL -------------------------------------------------------------------------------------
def test_stl_triangulates_and_preserves_volume(tmp_path):
    for mesh in (cube(), pentagonal_prism(), radial_mesh()[1]):
        path = write_stl(mesh, tmp_path / "m.stl")
        n_tri = int(np.sum(mesh.face_sizes - 2))
        assert path.stat().st_size == 84 + 50 * n_tri
        with open(path, "rb") as fh:
            fh.seek(80)
            assert struct.unpack("<I", fh.read(4))[0] == n_tri
        back = read_stl(path)
        assert back.n_faces == n_tri and np.all(back.face_sizes == 3)
        assert back.n_vertices == mesh.n_vertices          # identical corners merged
        assert back.is_closed_manifold()
        assert back.volume() == pytest.approx(mesh.volume(), rel=1e-6)   # float32 precision
        assert np.max(np.abs(back.vertices - back.vertices.astype(np.float32))) == 0.0


def test_stl_normals_are_outward_units(tmp_path):
    path = write_stl(cube(), tmp_path / "c.stl")
    rec = np.frombuffer(path.read_bytes(), dtype=export.STL_RECORD, count=12, offset=84)
    n = rec["normal"].astype(float)
    centroids = rec["v"].astype(float).mean(axis=1)
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)
    assert np.allclose(n, np.round(centroids))             # cube faces: normal = face centre


def test_stl_polygon(tmp_path):
    _, mesh = polygon()
    back = read_stl(write_stl(mesh, tmp_path / "p.stl"))
    assert back.n_faces == mesh.n_vertices - 2
    V, T = back.vertices, back.corners.reshape(-1, 3)
    assert np.all(V[:, 2] == 0.0)
    cross_z = np.cross(V[T[:, 1]] - V[T[:, 0]], V[T[:, 2]] - V[T[:, 0]])[:, 2]
    assert np.all(cross_z > 0)                                 # CCW, facing +z
    assert 0.5 * cross_z.sum() == pytest.approx(mesh.volume(), rel=1e-6)


def test_stl_reader_errors(tmp_path):
    p = tmp_path / "bad.stl"
    p.write_bytes(b"\0" * 50)
    with pytest.raises(NeuralPolyError, match="only 50 bytes"):
        read_stl(p)
    p.write_bytes(b"\0" * 80 + struct.pack("<I", 3) + b"\0" * 100)
    with pytest.raises(NeuralPolyError, match="declares 3 triangles"):
        read_stl(p)
    p.write_text("solid x\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n" + " " * 200)
    with pytest.raises(NeuralPolyError, match="ASCII STL"):
        read_stl(p)


# -- PLY -------------------------------------------------------------------------------------
@pytest.mark.parametrize("binary", [True, False])
def test_ply_roundtrip_with_regions(tmp_path, binary):
    _, rmesh = radial_mesh()
    for mesh in (cube(), pentagonal_prism(), rmesh):
        back = read_ply(write_ply(mesh, tmp_path / "m.ply", binary=binary))
        same_mesh(mesh, back)
        assert np.array_equal(back.region_ids, mesh.region_ids)
    head = (tmp_path / "m.ply").read_bytes()[:400]
    assert (b"format binary_little_endian 1.0" if binary else b"format ascii 1.0") in head
    assert b"property double x" in head and b"property int region_id" in head
    assert b"property list uchar int vertex_indices" in head


@pytest.mark.parametrize("binary", [True, False])
def test_ply_long_polygon_uses_uint_counts(tmp_path, binary):
    net = polytope_network(2, [np.eye(2)], [2.0])
    mesh = extract_radial(net, resolution=300, refine=False)
    back = read_ply(write_ply(mesh, tmp_path / "p.ply", binary=binary))
    assert b"property list uint int vertex_indices" in (tmp_path / "p.ply").read_bytes()[:400]
    assert back.n_faces == 1 and back.face_sizes[0] == 300
    assert np.array_equal(back.vertices[:, :2], mesh.vertices) and np.all(back.vertices[:, 2] == 0)


def test_ply_reader_other_layouts(tmp_path):
    # big endian, float coordinates, an extra vertex property, region id before the list
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=">f4")
    faces = [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3, 1][:3]]
    body = b"".join(struct.pack(">fffB", *v, 9) for v in verts.tolist())
    body += b"".join(struct.pack(">i", 10 + k) + struct.pack(">H", len(f)) + struct.pack(">3I", *f)
                     for k, f in enumerate(faces))
    header = (b"ply\nformat binary_big_endian 1.0\ncomment hand made\nelement vertex 4\n"
              b"property float x\nproperty float y\nproperty float z\nproperty uchar red\n"
              b"element face 4\nproperty int region_id\nproperty list ushort uint vertex_index\n"
              b"end_header\n")
    p = tmp_path / "be.ply"
    p.write_bytes(header + body)
    m = read_ply(p)
    assert m.f_vector == (4, 6, 4) and m.is_closed_manifold()
    assert m.region_ids.tolist() == [10, 11, 12, 13]
    assert np.array_equal(m.vertices, verts.astype(float))
    # mixed face sizes in binary take the record-by-record path
    mixed = pentagonal_prism()
    assert np.array_equal(read_ply(write_ply(mixed, tmp_path / "x.ply")).region_ids, mixed.region_ids)


def test_ply_reader_errors(tmp_path):
    good = write_ply(cube(), tmp_path / "c.ply").read_bytes()
    p = tmp_path / "bad.ply"
    cases = [
        (b"plyx", "not a PLY"),
        (good.replace(b"binary_little_endian", b"binary_middle_endian"), "unknown PLY format"),
        (good[:-7], "ends inside the face list"),
        (good + b"\0\0", "unexpected bytes"),
        (good.replace(b"element face 6", b"element edge 6"), "needs 'vertex' and 'face'"),
        (good.replace(b"property double z", b"property double w"), "x, y and z"),
        (good.replace(b"property int region_id\n", b"property int region_id\nproperty blob q\n"),
         "bad PLY property"),
    ]
    for data, match in cases:
        p.write_bytes(data)
        with pytest.raises(NeuralPolyError, match=match):
            read_ply(p)
    ascii_text = write_ply(cube(), tmp_path / "a.ply", binary=False).read_text()
    p.write_text(ascii_text.replace("4 0 1 3 2 0", "4 0 1 9 2 0"))
    with pytest.raises(NeuralPolyError, match="does not exist"):
        read_ply(p)
    p.write_text(ascii_text.rsplit("\n", 2)[0] + "\n")
    with pytest.raises(NeuralPolyError, match="truncated"):
        read_ply(p)


# -- choosing the format ---------------------------------------------------------------------
def test_export_mesh_by_suffix(tmp_path):
    mesh = cube()
    for name, reader in [("a.obj", read_obj), ("b.STL", read_stl), ("c.Ply", read_ply)]:
        path = export_mesh(mesh, tmp_path / name)
        assert path == tmp_path / name
        assert reader(path).volume() == pytest.approx(8.0)
        assert read_mesh(path).volume() == pytest.approx(8.0)
    export_mesh(mesh, tmp_path / "noext", format="ply", binary=False)
    assert (tmp_path / "noext").read_bytes().startswith(b"ply\nformat ascii")
    with pytest.raises(NeuralPolyError, match=r"supported formats are \.obj, \.stl, \.ply"):
        export_mesh(mesh, tmp_path / "x.fbx")
    with pytest.raises(NeuralPolyError, match="supported formats"):
        export_mesh(mesh, tmp_path / "x")
    with pytest.raises(NeuralPolyError, match="does not take"):
        export_mesh(mesh, tmp_path / "x.stl", binary=True)
    assert not (tmp_path / "x.fbx").exists() and not (tmp_path / "x.stl").exists()


def test_check_format():
    assert check_format("a/b/shape.OBJ") == "obj"
    assert check_format("shape.stl") == "stl" and check_format("x", format=".PLY") == "ply"
    with pytest.raises(NeuralPolyError, match=r"file suffix '\.gltf'.*\.obj, \.stl, \.ply"):
        check_format("shape.gltf")
    with pytest.raises(NeuralPolyError, match="format 'fbx'"):
        check_format("shape.obj", format="fbx")


# -- atomic writes and refusals ----------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".obj", ".ply", ".stl"])
@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failure_mid_write_keeps_old_file(tmp_path, monkeypatch, suffix, step):
    """Whether writing fails before the data are on disk or in the final rename, the old file
    stays as it was and no temporary file is left."""
    path = tmp_path / f"keep{suffix}"
    path.write_bytes(b"original contents")

    def boom(*a, **k):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, step, boom)
    with pytest.raises(OSError, match="disk on fire"):
        export_mesh(cube(), path)
    monkeypatch.undo()
    assert path.read_bytes() == b"original contents"
    assert leftovers(tmp_path) == []


def test_partial_data_never_visible(tmp_path, monkeypatch):
    """Everything is written to a temporary file first: when the write fails at its end, the
    target was never visible and the temporary file is gone."""
    path = tmp_path / "m.obj"
    written = []
    real = os.fsync

    def spy(fd):
        written.extend(p.name for p in tmp_path.iterdir())
        real(fd)
        raise RuntimeError("interrupted")

    monkeypatch.setattr(os, "fsync", spy)
    with pytest.raises(RuntimeError):
        write_obj(cube(), path)
    assert written and all(n.endswith(".tmp") for n in written)   # writing went to a temp file
    assert not path.exists() and leftovers(tmp_path) == []


def test_missing_folder(tmp_path):
    with pytest.raises(NeuralPolyError, match="does not exist"):
        export_mesh(cube(), tmp_path / "nope" / "m.obj")
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("suffix", [".obj", ".stl", ".ply"])
def test_nan_refused(tmp_path, suffix):
    mesh = cube()
    mesh.vertices[5, 1] = np.nan
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"old")
    with pytest.raises(NeuralPolyError, match=r"NaN or infinite.*vertex 5"):
        export_mesh(mesh, path)
    mesh.vertices[5, 1] = np.inf
    with pytest.raises(NeuralPolyError, match="refusing"):
        export_mesh(mesh, path)
    assert path.read_bytes() == b"old" and leftovers(tmp_path) == []


def test_empty_mesh_refused(tmp_path):
    empty = PolyMesh(np.zeros((0, 3)), np.zeros(0), np.zeros(0))
    with pytest.raises(NeuralPolyError, match="no faces"):
        write_obj(empty, tmp_path / "e.obj")
    with pytest.raises(NeuralPolyError, match="expected a PolyMesh"):
        write_stl("not a mesh", tmp_path / "e.stl")
