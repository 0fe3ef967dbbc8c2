"""The ``regions`` and ``bounds`` commands and the ``count_regions`` job: counts against known
answers and the Python API, the PLY / PNG / npz they write, and clean refusals (exit 2)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, Output, save_model
from neuralpoly_core.construct.tent import tent_map_network
from neuralpoly_core.errors import NeuralPolyError
from neuralpoly_core.jobs import read_mesh_npz, run_job
from neuralpoly_core.mesh.files import read_ply
from neuralpoly_core.network.modelfile import model_to_json
from neuralpoly_core.regions import all_bounds, enumerate_regions, region_colors, region_mesh
from neuralpoly_core.regions.display import format_count
from test_cli import last_json, run

RELU = Activation("relu")
# four lines in general position; every crossing lies inside [-3, 3]^2
LINES_W = np.array([[1.0, 0.2], [-0.3, 1.0], [1.0, 1.1], [0.7, -1.0]])
LINES_B = np.array([0.1, -0.2, 0.3, -0.4])


def he_net(dims, seed):
    rng = np.random.default_rng(seed)
    layers = [Layer(rng.normal(size=(b, a)) * np.sqrt(2.0 / a), rng.uniform(-1, 1, size=b), RELU)
              for a, b in zip(dims[:-1], dims[1:])]
    return Network(dims[0], layers, Output("sum"))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    save_model(Network(2, [Layer(LINES_W, LINES_B, RELU)], Output("sum")), d / "lines.json")
    save_model(he_net([2, 8, 8], 0), d / "n2.json")
    save_model(he_net([3, 5, 5], 1), d / "n3.json")
    save_model(he_net([5, 6, 6], 2), d / "n5.json")
    save_model(tent_map_network(4), d / "tent4.json")
    save_model(Network(2, [Layer(np.eye(2), None, Activation("sigmoid", scale=1.0))]), d / "sigmoid.json")
    return d


def ply_faces(path):
    """(region_id, popcount) per face of a binary PLY written with those two face properties."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode()
    assert "property int region_id\nproperty int popcount\n" in header
    nv = int(header.split("element vertex ")[1].split()[0])
    nf = int(header.split("element face ")[1].split()[0])
    pos, out = end + 24 * nv, []
    for _ in range(nf):
        k = data[pos]
        rec = np.frombuffer(data, "<i4", k + 2, pos + 1)
        out.append(rec[k:])
        pos += 1 + 4 * (k + 2)
    assert pos == len(data)
    return np.array(out)


def test_exact_2d_known_count_ply_and_png(models, tmp_path, capsys):
    ply, png = tmp_path / "r.ply", tmp_path / "r.png"
    code, out, err = run(capsys, "regions", models / "lines.json", "--bbox", -3, 3, "--out", ply, "--png", png, "--json")
    assert code == 0, err
    s = last_json(out)
    assert (s["regions"], s["pieces"], s["dim"], s["method"]) == (11, 11, 2, "exact")   # 1 + 4 + C(4, 2)
    assert s["complete"] is True and s["lower_bound"] is False and s["seconds"] >= 0
    assert s["bounds"]["first_layer"] == 11 and s["bounds"]["serra"] == 11
    mesh = read_ply(ply)
    assert mesh.n_faces == 11 and sorted(mesh.region_ids.tolist()) == list(range(11))
    faces = ply_faces(ply)
    tess = enumerate_regions(Network(2, [Layer(LINES_W, LINES_B, RELU)], Output("sum")), (-3, 3))
    assert np.array_equal(faces[:, 1], tess.patterns.sum(axis=1)[faces[:, 0]])
    from matplotlib.image import imread
    img = imread(png)
    assert img.ndim == 3 and img.shape[0] > 100
    pixels = np.unique(np.round(img[..., :3].reshape(-1, 3) * 255), axis=0)
    shown = [np.abs(pixels - np.round(c * 255)).max(axis=1).min() <= 1 for c in region_colors(11)]
    assert sum(shown) >= 9          # nearly every region's colour shows (thin ones may be all edge)


def test_exact_matches_api_and_milp_on_known_answer(models, capsys):
    code, out, err = run(capsys, "regions", models / "n2.json", "--json")
    assert code == 0, err
    s = last_json(out)
    from neuralpoly_core import load_model
    tess = enumerate_regions(load_model(models / "n2.json"), (-1, 1))
    assert (s["regions"], s["pieces"]) == (tess.count, tess.pieces)
    code, out, err = run(capsys, "regions", models / "lines.json", "--bbox", -3, 3, "--milp", "--time-limit", 60,
                         "--json")
    assert code == 0, err
    s = last_json(out)
    assert (s["regions"], s["method"], s["complete"], s["lower_bound"]) == (11, "milp", True, False)
    assert s["pieces"] is None and s["solver"].startswith("HiGHS")
    code, out, err = run(capsys, "regions", models / "lines.json", "--bbox", -3, 3, "--method", "walk", "--json")
    assert code == 0, err
    s = last_json(out)
    assert (s["regions"], s["method"], s["complete"]) == (11, "walk", True)


def test_tent_map_segment_and_plane(models, capsys):
    code, out, err = run(capsys, "regions", models / "tent4.json", "--bbox", 0, 1, "--json")
    assert code == 0, err
    s = last_json(out)
    assert (s["regions"], s["dim"]) == (16, 1) and len(s["breakpoints"]) == 15
    assert np.allclose(s["breakpoints"], np.arange(1, 16) / 16)
    from neuralpoly_core import load_model
    net = load_model(models / "n5.json")
    code, out, err = run(capsys, "regions", models / "n5.json", "--segment", " -1,0,0,0,0", "1,0.5,0,0,0", "--json")
    assert code == 0, err
    seg = enumerate_regions(net, (0, 1), origin=[-1, 0, 0, 0, 0], basis=[[2, 0.5, 0, 0, 0]])
    assert last_json(out)["regions"] == seg.count and last_json(out)["dim"] == 1
    code, out, err = run(capsys, "regions", models / "n5.json", "--plane", "0,0,0,0,0.1", "1,0,0,0,0", "0,1,0,1,0",
                         "--bbox", -2, 2, "--json")
    assert code == 0, err
    plane = enumerate_regions(net, (-2, 2), origin=[0, 0, 0, 0, 0.1], basis=[[1, 0, 0, 0, 0], [0, 1, 0, 1, 0]])
    assert (last_json(out)["regions"], last_json(out)["dim"]) == (plane.count, 2)


def test_3d_cells_shrunk(models, tmp_path, capsys):
    ply = tmp_path / "c.ply"
    code, out, err = run(capsys, "regions", models / "n3.json", "--out", ply, "--shrink", 0.2, "--json")
    assert code == 0, err
    s = last_json(out)
    mesh = read_ply(ply)
    assert s["dim"] == 3 and set(mesh.region_ids.tolist()) == set(range(s["regions"]))
    # each cell has its own vertices: no vertex is used by two regions
    owner = {}
    for f, (st, n) in enumerate(zip(mesh.face_starts, mesh.face_sizes)):
        for v in mesh.corners[st:st + n]:
            assert owner.setdefault(int(v), int(mesh.region_ids[f])) == mesh.region_ids[f]


def test_region_mesh_shrinks_towards_centroids():
    net = Network(2, [Layer(LINES_W, LINES_B, RELU)], Output("sum"))
    tess = enumerate_regions(net, (-3, 3))
    full, half = region_mesh(tess), region_mesh(tess, 0.5)
    assert np.allclose(tess.volumes().sum(), 36.0)
    # polygon areas scale by (1 - shrink)^2
    def areas(m):
        out = np.zeros(m.n_faces)
        for f, (st, n) in enumerate(zip(m.face_starts, m.face_sizes)):
            x, y = m.vertices[m.corners[st:st + n], 0], m.vertices[m.corners[st:st + n], 1]
            out[f] = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
        return out
    assert np.allclose(areas(half), 0.25 * areas(full))
    with pytest.raises(NeuralPolyError, match="shrink"):
        region_mesh(tess, 1.0)


def test_bounds_command(capsys):
    code, out, err = run(capsys, "bounds", "--dim", 64, "--widths", "10,12", "--json")
    assert code == 0, err
    s = last_json(out)
    assert s == {**all_bounds(64, (10, 12)), "widths": [10, 12]}
    assert s["first_layer"] == 1024 and s["serra"] <= s["montufar2017"] <= s["layer_product"]
    code, out, err = run(capsys, "bounds", "--dim", 784, "--widths", "100,100,100", "--json")
    s = last_json(out)
    assert s["patterns"] == str(2 ** 300) and int(s["serra"]) == all_bounds(784, (100, 100, 100))["serra"]
    code, out, err = run(capsys, "bounds", "--dim", 4, "--widths", "3,3", "--maxout", 3, "--json")
    s = last_json(out)
    # Theorem 2: prod_l sum_{j<=d_l} C(k(k-1)/2 n_l, j), d_l = min(4, 3, ...) = 3, 3 * 3 = 9 tie planes per layer
    assert s["serra_maxout"] == sum(math.comb(9, j) for j in range(4)) ** 2
    assert s["patterns"] == 3 ** 6
    code, out, err = run(capsys, "bounds", "--dim", 2, "--widths", "3")
    assert code == 0 and "serra" in out and "7" in out


@pytest.mark.parametrize("argv, message", [
    (["lines.json", "--bbox", "1", "0"], "LO < HI"),
    (["sigmoid.json"], "sigmoid"),
    (["n5.json"], "milp"),                                      # 5-D: MILP by default, but --out
    (["n5.json", "--method", "exact"], "--plane"),
    (["n5.json", "--plane", "0,0", "1,0", "0,1"], "5 coordinates"),
    (["n5.json", "--milp", "--plane", "0,0,0,0,0", "1,0,0,0,0", "0,1,0,0,0"], "--method exact"),
    (["n5.json", "--segment", "0,0,0,0,0", "1,0,0,0,0", "--bbox", "0", "1"], "no --bbox"),
    (["n3.json", "--png", "{tmp}/x.png"], "2-D"),
    (["tent4.json", "--bbox", "0", "1", "--out", "{tmp}/x.ply"], "1-D"),
    (["n2.json", "--out", "{tmp}/missing/x.ply"], "does not exist"),
    (["n2.json", "--out", "{tmp}/x.xyz"], "xyz"),
    (["n2.json", "--time-limit", "3"], "milp"),
    (["n2.json", "--shrink", "1.5"], "shrink"),
])
def test_bad_input_exit_2_nothing_written(models, tmp_path, capsys, argv, message):
    argv = [str(models / argv[0])] + [a.replace("{tmp}", str(tmp_path)) for a in argv[1:]]
    if argv[0].endswith("n5.json") and len(argv) == 1:
        argv += ["--out", str(tmp_path / "x.ply")]
    code, out, err = run(capsys, "regions", *argv)
    assert code == 2 and f"neuralpoly regions: error:" in err and message in err, err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_exit_codes_in_a_subprocess(models, tmp_path):
    base = [sys.executable, "-m", "neuralpoly_core"]
    r = subprocess.run(base + ["regions", str(models / "lines.json"), "--bbox", "-3", "3", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert last_json(r.stdout)["regions"] == 11
    r = subprocess.run(base + ["bounds", "--dim", "0", "--widths", "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "error" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(base + ["regions", str(models / "sigmoid.json"), "--out", str(tmp_path / "s.ply")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "neuralpoly regions: error:" in r.stderr and not (tmp_path / "s.ply").exists()


@pytest.mark.parametrize("method", ["milp", "walk"])
def test_json_output_is_the_only_stdout_of_a_solver_run(models, method):
    # HiGHS prints a banner on file descriptor 1 when a process makes its first solver
    r = subprocess.run([sys.executable, "-m", "neuralpoly_core", "regions", str(models / "lines.json"), "--bbox", "-3",
                        "3", "--method", method, "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1 and json.loads(r.stdout)["regions"] == 11, r.stdout


def test_count_regions_job(models, tmp_path):
    net = Network(2, [Layer(LINES_W, LINES_B, RELU)], Output("sum"))
    model = model_to_json(net, {}, indent=None)
    r = run_job("count_regions", {"model": model, "bbox": [-3, 3], "output": str(tmp_path / "m.npz")})
    assert (r["summary"]["regions"], r["summary"]["pieces"], r["summary"]["dim"]) == (11, 11, 2)
    assert r["bounds"]["serra"] == 11
    mesh = read_mesh_npz(r["mesh"])
    assert mesh.n_faces == 11 and sorted(mesh.region_ids.tolist()) == list(range(11))
    assert mesh.region_patterns.shape == (11, 4)
    r3 = run_job("count_regions", {"model": model_to_json(he_net([3, 5, 5], 1), {}, indent=None), "shrink": 0.1,
                                   "output": str(tmp_path / "c.npz")})
    cells = read_mesh_npz(r3["mesh"])
    assert set(cells.region_ids.tolist()) == set(range(r3["summary"]["regions"]))
    r1 = run_job("count_regions", {"model": model_to_json(tent_map_network(3), {}, indent=None), "bbox": [0, 1]})
    assert r1["summary"]["regions"] == 8 and r1["mesh"] is None and len(r1["summary"]["breakpoints"]) == 7
    rm = run_job("count_regions", {"model": model, "bbox": [-3, 3], "method": "milp", "time_limit": 60})
    assert rm["summary"]["regions"] == 11 and rm["summary"]["complete"] and rm["mesh"] is None
    with pytest.raises(NeuralPolyError, match="unknown arguments"):
        run_job("count_regions", {"model": model, "colour": 1})
    with pytest.raises(NeuralPolyError, match="sigmoid"):
        run_job("count_regions", {"model": model_to_json(Network(2, [Layer(np.eye(2), None, Activation(
            "sigmoid", scale=1.0))]), {}, indent=None), "output": str(tmp_path / "s.npz")})
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize("method", ["milp", "walk", "both", None])
def test_regions_digits_experiment_command(tmp_path, capsys, method):
    """The registered experiment, tiny: one (10; 2) network, 2 epochs, 1 s of counting per method."""
    out = tmp_path / "run"
    out.mkdir()
    code, text, err = run(capsys, "experiment", "regions-digits", "--out", out, "--first-widths", "10", "--total", 12,
                          "--networks-per-width", 1, "--epochs", 2, "--time-limit", 1, "--samples", 500,
                          "--no-png", "--json", *(["--method", method] if method else []))
    assert code == 0, err
    method = method or "both"                       # the default
    r = last_json(text)
    (row,) = r["networks"]
    assert row["method"] == r["settings"]["method"] == method
    assert set(row["counts"]) == ({"milp", "walk"} if method == "both" else {method})
    best = row["counts"][row["best_method"]]
    assert (row["regions"], row["complete"], row["stopped"]) == (best["regions"], best["complete"], best["stopped"])
    assert all(best["regions"] >= c["regions"] or c["complete"] is False and best["complete"]
               for c in row["counts"].values())
    if method == "both" and row["counts"]["walk"]["complete"] and row["counts"]["milp"]["complete"]:
        assert row["counts"]["walk"]["regions"] == row["counts"]["milp"]["regions"]
    assert (row["n1"], row["n2"]) == (10, 2) and row["regions"] >= 1
    assert row["union_regions"] >= max([row["sampled_regions"]] + [c["regions"] for c in row["counts"].values()])
    b = all_bounds(64, (10, 2))
    assert row["bounds"] == {k: b[k] for k in ("layer_product", "montufar2017", "serra", "shallow")}
    assert row["complete"] or row["stopped"] in ("time limit", "region limit")
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["n1", "n2", "seed"] and lines[1].split()[:3] == ["10", "2", "0"]
    # the table has each method's count, or '-' for a method not run
    cells = lines[1].split()
    milp = row["counts"].get("milp")
    assert cells[4] == (str(milp["regions"]) if milp else "-")
    assert (out / "regions_digits.json").exists() and (out / "models" / "n1_10_seed_0.json").exists()


def test_the_best_count_is_a_complete_one_else_the_largest():
    from neuralpoly_core.experiments.regions_digits import best_count
    c = lambda n, done: {"regions": n, "complete": done}  # noqa: E731
    assert best_count({"milp": c(40, False), "walk": c(900, False)}) == "walk"
    assert best_count({"milp": c(40, False), "walk": c(30, False)}) == "milp"
    assert best_count({"milp": c(12, True), "walk": c(9, False)}) == "milp"
    assert best_count({"milp": c(12, True), "walk": c(12, True)}) == "walk"
    assert best_count({"walk": c(5, False)}) == "walk"


@pytest.mark.parametrize("binary", [True, False])
def test_ply_face_properties_round_trip(tmp_path, binary):
    from neuralpoly_core.mesh.files import write_ply
    tess = enumerate_regions(Network(2, [Layer(LINES_W, LINES_B, RELU)], Output("sum")), (-3, 3))
    mesh = region_mesh(tess)
    pop = tess.patterns.sum(axis=1)[mesh.region_ids]
    path = write_ply(mesh, tmp_path / "r.ply", binary=binary, face_properties={"popcount": pop})
    back = read_ply(path)                  # the reader keeps region_id and skips popcount
    assert np.array_equal(back.region_ids, mesh.region_ids) and np.array_equal(back.corners, mesh.corners)
    if binary:
        assert np.array_equal(ply_faces(path), np.stack([mesh.region_ids, pop], axis=1))
    else:
        body = path.read_text().split("end_header\n")[1].splitlines()[mesh.n_vertices:]
        assert [int(line.split()[-1]) for line in body] == pop.tolist()
    with pytest.raises(NeuralPolyError, match="one integer per face"):
        write_ply(mesh, tmp_path / "bad.ply", face_properties={"popcount": pop[:-1]})
    with pytest.raises(NeuralPolyError, match="plain new name"):
        write_ply(mesh, tmp_path / "bad.ply", face_properties={"region_id": pop})
    assert not (tmp_path / "bad.ply").exists()


def test_bounds_of_huge_widths_print_at_once(capsys):
    # 2 x 10^8 units: 2^N has 60 million digits; the exact bounds stay exact, 2^N goes scientific
    code, out, err = run(capsys, "bounds", "--dim", 3, "--widths", "100000000,100000000", "--json")
    assert code == 0, err
    out = last_json(out)
    assert out["patterns"] == "1.3577e+60205999"
    n = 10 ** 8
    assert int(out["serra"]) == sum(math.comb(n, a) * math.comb(n, b) for a in range(4) for b in range(min(3, n - a) + 1))
    assert format_count(10 ** 2000) == "1.0000e+2000" and format_count(2 ** 60, grouped=True) == f"{2 ** 60:,}"
