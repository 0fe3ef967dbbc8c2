import json
import subprocess
import sys

import numpy as np
import pytest

from neuralpoly_core import load_model_with_meta
from neuralpoly_core.cli import main


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out):
    return json.loads(out.strip().splitlines()[-1])


def test_generate_octahedron_writes_mesh_model_and_json(tmp_path, capsys):
    obj, model = tmp_path / "oct.obj", tmp_path / "oct.json"
    code, out, err = run(capsys, "generate", "--dim", 3, "--widths", 3, "--p", 1, "--seed", 0,
                         "--out", obj, "--model-out", model, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["type"] == "(3;1)" and s["name"] == "octahedron"
    assert (s["vertices"], s["edges"], s["faces"]) == (6, 12, 8)
    assert s["max_level_error"] <= 1e-9 and s["loss"] > 0
    faces = [l for l in obj.read_text().splitlines() if l.startswith("f ")]
    assert len(faces) == 8
    net, meta = load_model_with_meta(model)
    assert meta["type"] == "(3;1)" and meta["name"] == "octahedron"
    assert meta["loss"] == pytest.approx(s["loss"])
    # extracting the saved model gives the same polytope
    code, out, err = run(capsys, "extract", model, "--out", tmp_path / "again.ply", "--json")
    assert code == 0, err
    s2 = last_json(out)
    assert (s2["vertices"], s2["edges"], s2["faces"], s2["name"]) == (6, 12, 8, "octahedron")
    assert s2["max_level_error"] <= 1e-9


def test_generate_cuboctahedron_global_minimum(capsys):
    code, out, err = run(capsys, "generate", "--dim", 3, "--widths", 4, "--p", 1, "--seed", 3, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["name"] == "cuboctahedron" and s["f_vector"] == [12, 24, 14]
    assert s["face_sizes"] == {"3": 8, "4": 6}
    assert s["loss"] == pytest.approx(5.62e-3, rel=0.01)


def test_generate_radial_and_per_layer_p(tmp_path, capsys):
    code, out, err = run(capsys, "generate", "--dim", 3, "--widths", "3,2", "--p", "1,2",
                         "--resolution", 12, "--out", tmp_path / "m.stl", "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["type"] == "(3,2;1,2)" and s["method"] == "radial"
    assert s["max_level_error"] <= 1e-9 and s["euler_characteristic"] == 2
    assert (tmp_path / "m.stl").stat().st_size == 84 + 50 * s["faces"]


def test_polygon_and_slice(capsys):
    code, out, err = run(capsys, "generate", "--dim", 2, "--widths", 5, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["name"] == "regular decagon" and s["vertices"] == 10 and s["faces"] == 1
    code, out, err = run(capsys, "generate", "--dim", 5, "--widths", 8, "--restarts", 2,
                         "--slice-theta", 0.3, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["euler_characteristic"] == 2 and s["max_level_error"] <= 1e-9


@pytest.mark.parametrize("args, fragment", [
    (["--widths", "0"], "width of layer 1 must be at least 1"),
    (["--widths", "4", "--p", "-1"], "exponent p must be > 0"),
    (["--widths", "4", "--p", "nan"], "finite"),
    (["--widths", "4", "--p", "1,2"], "2 exponents given for 1 layers"),
    (["--widths", "4,", "--p", "1"], "empty width"),
    (["--widths", "4", "--dim", "1"], "at least 2"),
    (["--widths", "8", "--dim", "5"], "--slice-theta"),
    (["--widths", "4", "--p", "2", "--method", "exact"], "piecewise linear"),
    (["--widths", "4", "--out", "x.xyz"], "xyz"),
])
def test_generate_rejects_bad_settings(tmp_path, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "generate", "--model-out", "m.json", *args)
    assert code == 2
    assert fragment in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_extract_rejects_corrupt_model(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "neuralpoly.model", "version": 1, "dim": 3, "layers": [{"weight": [[1, 2]], '
                   '"bias": null, "activation": {"name": "abs_pow", "p": 1}}], "output": {"name": "sum"}}')
    code, out, err = run(capsys, "extract", bad, "--out", tmp_path / "m.obj")
    assert code == 2 and "bad.json" in err and "expected 3" in err
    assert not (tmp_path / "m.obj").exists()


def test_gallery_figure_2(tmp_path, capsys):
    code, out, err = run(capsys, "gallery", "--figure", 2, "--out", tmp_path, "--no-png", "--json")
    assert code == 0, err
    report = last_json(out)
    names = [n["name"] for n in report["networks"]]
    assert names == ["square", "regular hexagon", "regular octagon",
                     "regular decagon", "regular dodecagon", "regular tetradecagon"]
    assert [n["vertices"] for n in report["networks"]] == [4, 6, 8, 10, 12, 14]
    assert len(list((tmp_path / "fig2").glob("*.obj"))) == 6
    assert json.loads((tmp_path / "gallery.json").read_text())["figures"] == [2]


def test_python_m_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "neuralpoly_core", "generate", "--dim", "2", "--widths", "3",
                        "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["name"] == "regular hexagon"


DONUT_3D = {"format": "neuralpoly.boolean", "version": 1, "dim": 3,
            "solid": {"difference": [{"box": {"lo": [0.1, 0.1, 0.1], "hi": [0.9, 0.9, 0.9]}},
                                     {"box": {"lo": [0.3, 0.3, 0.3], "hi": [0.7, 0.7, 0.7]}}]}}


def test_boolean_cube_minus_cube_and_extract_from_model(tmp_path, capsys):
    desc = tmp_path / "donut.json"
    desc.write_text(json.dumps(DONUT_3D))
    model = tmp_path / "donut_net.json"
    code, out, err = run(capsys, "boolean", desc, "--model-out", model, "--out", tmp_path / "d.obj", "--json")
    assert code == 0, err
    s = last_json(out)
    # two nested cube surfaces: 12 quads, Euler characteristic 2 + 2, volume 0.8^3 - 0.4^3
    assert (s["vertices"], s["edges"], s["faces"]) == (16, 24, 12) and s["face_sizes"] == {"4": 12}
    assert s["euler_characteristic"] == 4 and s["volume"] == pytest.approx(0.448, abs=1e-12)
    assert s["max_level_error"] <= 1e-9
    # the saved network extracted again through `extract`, exact and marching
    code, out, err = run(capsys, "extract", model, "--bbox", -1, 1, "--merge-coplanar", "--json")
    assert code == 0, err
    assert last_json(out)["f_vector"] == [16, 24, 12]
    for workers in (1, 3):          # threads change nothing in the result
        code, out, err = run(capsys, "extract", model, "--bbox", -1, 1, "--merge-coplanar",
                             "--workers", workers, "--json")
        assert code == 0, err
        assert last_json(out)["f_vector"] == [16, 24, 12]
    with pytest.raises(SystemExit) as exc:
        run(capsys, "extract", model, "--bbox", -1, 1, "--workers", 0)
    assert exc.value.code == 2 and "--workers: expected a number >= 1" in capsys.readouterr().err
    code, out, err = run(capsys, "extract", model, "--bbox", -1, 1, "--method", "marching",
                         "--resolution", 24, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["method"] == "marching" and s["euler_characteristic"] == 4
    code, out, err = run(capsys, "extract", model, "--json")
    assert code == 2 and "--bbox" in err


def test_boolean_2d_donut_writes_line_elements(tmp_path, capsys):
    d2 = {"format": "neuralpoly.boolean", "version": 1, "dim": 2,
          "solid": {"difference": [{"box": {"lo": [0.1, 0.1], "hi": [0.9, 0.9]}},
                                   {"box": {"lo": [0.3, 0.3], "hi": [0.7, 0.7]}}]}}
    desc = tmp_path / "d2.json"
    desc.write_text(json.dumps(d2))
    code, out, err = run(capsys, "boolean", desc, "--out", tmp_path / "d2.obj", "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["faces"] == 2 and s["closed_curves"] == 2 and s["vertices"] == 16
    lines = (tmp_path / "d2.obj").read_text().splitlines()
    assert sum(l.startswith("l ") for l in lines) == 16 and not any(l.startswith("f ") for l in lines)
    code, out, err = run(capsys, "boolean", desc, "--out", tmp_path / "d2.stl")
    assert code == 2 and "level curve" in err and not (tmp_path / "d2.stl").exists()


def test_level_curves_are_named_and_give_their_area(tmp_path, capsys):
    two = {"format": "neuralpoly.boolean", "version": 1, "dim": 2,
           "solid": {"union": [{"difference": [{"box": {"lo": [0.1, 0.1], "hi": [0.4, 0.4]}},
                                               {"box": {"lo": [0.2, 0.2], "hi": [0.3, 0.3]}}]},
                               {"difference": [{"box": {"lo": [0.6, 0.6], "hi": [0.9, 0.9]}},
                                               {"box": {"lo": [0.7, 0.7], "hi": [0.8, 0.8]}}]}]}}
    desc, model = tmp_path / "two.json", tmp_path / "two_net.json"
    desc.write_text(json.dumps(two))
    code, out, err = run(capsys, "boolean", desc, "--model-out", model, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["name"] == "2 squares, each with a square hole" and s["regular"] is True
    assert s["closed_curves"] == 4 and s["area"] == pytest.approx(2 * (0.09 - 0.01), rel=1e-12)
    # the saved network through `extract`: capped at a box through the right donut's hole
    # (what is left of it is an L-shaped region), then open
    code, out, err = run(capsys, "extract", model, "--bbox", 0, 0.75, "--cap")
    assert code == 0, err
    assert ": 2 components: square with a square hole; region; f-vector" in out.splitlines()[0]
    code, out, err = run(capsys, "extract", model, "--bbox", 0, 0.75, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["name"] is None and s["area"] is None and s["closed_curves"] == 2


def test_boolean_rejects_bad_description(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "neuralpoly.boolean", "version": 1, "dim": 4, "solid": {}}))
    code, out, err = run(capsys, "boolean", bad, "--model-out", tmp_path / "m.json")
    assert code == 2 and "bad.json" in err and "'dim' must be 2 or 3" in err
    assert not (tmp_path / "m.json").exists()


def test_capped_level_set_reports_the_surface_level_error(tmp_path, capsys):
    desc = tmp_path / "donut.json"
    desc.write_text(json.dumps(DONUT_3D))
    model = tmp_path / "net.json"
    assert run(capsys, "boolean", desc, "--model-out", model)[0] == 0
    # the box cuts the solid: cap vertices lie off the level set and must not count
    code, out, err = run(capsys, "extract", model, "--bbox", 0.2, 1, "--cap", "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["euler_characteristic"] == 4 and s["max_level_error"] <= 1e-9


def test_one_rule_says_what_a_neural_polytope_is(tmp_path, capsys):
    """Bias-free, homogeneous activations and a sum head: f = 1 star-shaped. A bias-free ReLU
    net with a linear head is drawn in a box, by the CLI as by the add-on (Network.is_neural_polytope)."""
    from neuralpoly_core import Activation, Layer, Network, Output, polytope_network, save_model
    octa = polytope_network(3, [np.eye(3)], [1.0])
    relu_linear = Network(3, [Layer(np.vstack([np.eye(3), -np.eye(3)]), None, Activation("relu"))],
                          Output("linear", np.ones((1, 6))))
    assert octa.is_neural_polytope and not relu_linear.is_neural_polytope
    assert relu_linear.degree == 1.0                  # homogeneous, but not a neural polytope
    save_model(relu_linear, tmp_path / "relu.json")
    code, out, err = run(capsys, "extract", tmp_path / "relu.json", "--json")
    assert code == 2 and "give --bbox LO HI" in err
    code, out, err = run(capsys, "extract", tmp_path / "relu.json", "--bbox", -2, 2, "--level", 1, "--json")
    assert code == 0, err
    s = last_json(out)
    # |x| + |y| + |z| = 1 in the box: the octahedron, as a box level set
    assert s["name"] == "octahedron" and s["method"] == "exact" and s["f_vector"] == [6, 12, 8]
