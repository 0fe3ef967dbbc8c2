"""Named jobs (neuralpoly_core.jobs): JSON in, JSON out, meshes as .npz files, progress and cancel."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from neuralpoly_core import Activation, Cancelled, ExtractionError, Layer, Network, NeuralPolyError, Output
from neuralpoly_core.errors import ModelFormatError
from neuralpoly_core.jobs import JOBS, job_names, plain, read_mesh_npz, run_job, write_mesh_npz
from neuralpoly_core.levelset import extract_level_set
from neuralpoly_core.network.modelfile import model_to_json
from neuralpoly_core.summary import summarize
from neuralpoly_core.training import torch_available


def octahedron(centre=(0.2, -0.1, 0.3)) -> Network:
    """ReLU network with biases: f(x) = |x - c|_1 - 1, whose level set f = 0 is an octahedron."""
    c = np.asarray(centre, dtype=np.float64)
    layer = Layer(np.vstack([np.eye(3), -np.eye(3)]), np.concatenate([-c, c]), Activation("relu"))
    return Network(3, [layer], Output("linear", np.ones((1, 6)), np.array([-1.0])))


def wavy() -> Network:
    """A small sigmoid network (marching cubes only)."""
    W = np.random.default_rng(3).normal(size=(8, 3))
    return Network(3, [Layer(W, np.full(8, 0.7), Activation("sigmoid", scale=2.0))],
                   Output("linear", np.ones((1, 8)), np.array([-6.0])))


def test_the_registry_names_its_jobs():
    assert {"train", "extract_level_set"} <= set(job_names())
    assert all(j.name == name and j.summary for name, j in JOBS.items())
    with pytest.raises(NeuralPolyError, match="unknown job 'count'"):
        run_job("count", {})
    with pytest.raises(NeuralPolyError, match="must be a JSON object"):
        run_job("extract_level_set", [1, 2])


@pytest.mark.parametrize("method", ["exact", "marching"])
def test_level_set_job_gives_the_mesh_and_summary_of_extract_level_set(tmp_path, method):
    net = octahedron() if method == "exact" else wavy()
    bbox = [[-2.0, 2.0], [-2.0, 2.0], [-2.0, 2.0]] if method == "exact" else [[-3.0, 3.0]] * 3
    level = 0.0 if method == "exact" else -0.5
    arguments = {"model": model_to_json(net, {"what": "test"}, indent=None), "level": level, "bbox": bbox,
                 "method": method, "resolution": 24, "cap": False, "merge_coplanar": method == "exact",
                 "output": str(tmp_path / "mesh.npz")}
    arguments = json.loads(json.dumps(arguments))                  # it is plain JSON
    result = run_job("extract_level_set", arguments)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["mesh"] == str(tmp_path / "mesh.npz") and not list(tmp_path.glob("*.part"))
    direct = extract_level_set(net, level, np.array(bbox), method=method, resolution=24,
                               merge_coplanar=method == "exact")
    mesh = read_mesh_npz(result["mesh"])
    for name in ("vertices", "corners", "face_sizes", "region_ids", "region_patterns"):
        a, b = getattr(mesh, name), getattr(direct, name)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    assert mesh.info["method"] == method
    timings = ("seconds", "layers")
    assert {k: v for k, v in mesh.info.items() if k not in timings} == \
        {k: v for k, v in plain(direct.info).items() if k not in timings}
    assert result["summary"] == plain(summarize(net, direct, level=level))
    if method == "exact":
        assert result["summary"]["name"] == "octahedron" and result["summary"]["f_vector"] == [6, 12, 8]


def test_level_set_job_reports_increasing_progress_and_cancels(tmp_path):
    arguments = {"model": model_to_json(octahedron()), "bbox": [-2, 2], "output": str(tmp_path / "mesh.npz")}
    seen = []
    run_job("extract_level_set", arguments, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert len(fractions) > 3 and fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] <= 1.0
    assert seen[0][1] == "Extracting the level set"
    (tmp_path / "mesh.npz").unlink()
    with pytest.raises(Cancelled):
        run_job("extract_level_set", arguments, progress=lambda f, m: None, cancel=lambda: True)
    assert not (tmp_path / "mesh.npz").exists()                     # nothing is written


def test_level_set_job_refuses_what_it_cannot_do():
    model = model_to_json(octahedron())
    with pytest.raises(ExtractionError, match="does not cross the box"):
        run_job("extract_level_set", {"model": model, "level": 50.0, "bbox": [-2, 2]})
    with pytest.raises(NeuralPolyError, match="unknown arguments .*'colour'"):
        run_job("extract_level_set", {"model": model, "colour": "red"})
    with pytest.raises(NeuralPolyError, match="needs the arguments model"):
        run_job("extract_level_set", {"level": 0.0})
    with pytest.raises(ExtractionError, match="unknown level-set method 'radial'"):
        run_job("extract_level_set", {"model": model, "method": "radial"})
    with pytest.raises(ModelFormatError):
        run_job("extract_level_set", {"model": "{not json"})
    with pytest.raises(NeuralPolyError, match="output must be the path of an .npz file"):
        run_job("extract_level_set", {"model": model, "bbox": [-2, 2], "output": "mesh.obj"})


def test_a_level_set_job_without_output_writes_a_temporary_file():
    result = run_job("extract_level_set", {"model": json.loads(model_to_json(octahedron())), "bbox": [-2, 2]})
    try:
        assert result["mesh"].endswith(".npz") and read_mesh_npz(result["mesh"]).n_faces == 8
    finally:
        os.remove(result["mesh"])


def test_mesh_files_never_unpickle(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, vertices=np.array([object()], dtype=object), info=np.array("{}"))
    with pytest.raises(ModelFormatError, match="cannot read the mesh file"):
        read_mesh_npz(path)
    with pytest.raises(ModelFormatError, match="cannot read the mesh file"):
        read_mesh_npz(tmp_path / "missing.npz")
    mesh = extract_level_set(octahedron(), 0.0, (-2, 2))
    mesh.info["numpy"] = np.float64(1.5)
    back = read_mesh_npz(write_mesh_npz(mesh, tmp_path / "ok.npz"))
    assert back.info["numpy"] == 1.5 and back.n_faces == mesh.n_faces


def test_plain_makes_json_data():
    value = {"a": np.int64(3), "b": np.array([1.0, np.inf]), "c": (np.bool_(True), None), 4: float("nan")}
    assert plain(value) == {"a": 3, "b": [1.0, None], "c": [True, None], "4": None}


@pytest.mark.skipif(not torch_available(), reason="training needs PyTorch")
def test_train_job_returns_model_files():
    from neuralpoly_core.network.modelfile import model_from_json
    seen = []
    result = run_job("train", {"specs": [[2, "(3;1)"]], "options": {"seed": 0, "restarts": 1}},
                     progress=lambda f, m: seen.append(f))
    ((net, meta),) = [model_from_json(t) for t in result["models"]]
    assert net.widths == (3,) and meta["type"] == "(3;1)" and seen
    with pytest.raises(NeuralPolyError, match="unknown training options"):
        run_job("train", {"specs": [[2, "(3;1)"]], "options": {"colour": 1}})
    with pytest.raises(NeuralPolyError, match="non-empty list"):
        run_job("train", {"specs": []})
