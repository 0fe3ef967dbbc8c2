"""The ``folding`` and ``experiment`` commands: JSON output, both methods, and clean refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuralpoly_core import Activation, Layer, Network, save_model
from neuralpoly_core.construct.cantor import cantor_network
from neuralpoly_core.construct.tent import tent_map_network
from neuralpoly_core.folding.pathfile import load_paths, save_paths
from test_cli import last_json, run


@pytest.fixture()
def models(tmp_path):
    save_model(tent_map_network(4), tmp_path / "tent4.json")
    save_model(cantor_network(3), tmp_path / "cantor3.json")
    save_model(Network(2, [Layer(np.eye(2), None, Activation("sigmoid", scale=1.0))]), tmp_path / "sigmoid.json")
    return tmp_path


def test_one_path_exact_and_sampled(models, capsys):
    code, out, err = run(capsys, "folding", models / "cantor3.json", "--from", "0,0.5", "--to", "1,0.5", "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["chi"] == pytest.approx(4 / 7) and s["chi_reverse"] == pytest.approx(4 / 7)
    assert s["d_chi"] == pytest.approx(4 / 7) and (s["r1"], s["r2"], s["regions"]) == (6, 14, 15)
    assert len(s["breakpoints"]) == 14 and len(s["points"]) == 14 and s["method"] == "exact"
    code, out, err = run(capsys, "folding", models / "tent4.json", "--from", "0.001", "--to", "0.999",
                         "--samples", 10, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["chi"] == pytest.approx(11 / 15) and s["sampled"]["method"] == "sampled"
    assert s["sampled"]["samples"] == 10 and s["sampled"]["regions"] < s["regions"] and s["sampled"]["r2"] <= s["r2"]
    code, out, err = run(capsys, "folding", models / "tent4.json", "--from", "0", "--to", "1", "--samples", 50)
    assert code == 0 and out.startswith("exact: 16 regions, r1 4, r2 15, chi 0.7333") and "sampled (50 points)" in out


def test_layers_threshold_and_non_piecewise_linear_nets(models, capsys):
    code, out, err = run(capsys, "folding", models / "tent4.json", "--from", "0", "--to", "1", "--layers", "3",
                         "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["layers"] == [3] and s["bits"] == 2 and s["r2"] == 8
    code, out, err = run(capsys, "folding", models / "tent4.json", "--from", "0", "--to", "1",
                         "--threshold", "0.5", "--json")
    assert code == 0 and last_json(out)["threshold"] == 0.5
    code, out, err = run(capsys, "folding", models / "sigmoid.json", "--from=-1,-0.5", "--to", "1,1",
                         "--samples", 101, "--json")
    assert code == 0, err
    s = last_json(out)
    assert s["method"] == "sampled" and s["regions"] == 3 and "not piecewise linear" in s["exact_unavailable"]


def test_many_paths_from_json_and_npy(models, tmp_path, capsys):
    rng = np.random.default_rng(0)
    X1, X2 = rng.uniform(0, 1, (25, 2)), rng.uniform(0, 1, (25, 2))
    for name in ("p.json", "p.npy"):
        save_paths(tmp_path / name, X1, X2)
        A, B = load_paths(tmp_path / name, 2)
        assert np.array_equal(A, X1) and np.array_equal(B, X2)
        code, out, err = run(capsys, "folding", models / "cantor3.json", "--paths", tmp_path / name,
                             "--samples", 20, "--json")
        assert code == 0, err
        s = last_json(out)
        assert s["paths"] == 25 and len(s["chi"]) == 25 and len(s["regions"]) == 25
        folded = [c for c in s["chi"] if c > 0]
        assert s["phi"] == pytest.approx(float(np.median(folded))) and s["folded"] == len(folded)
        assert s["sampled"]["paths"] == 25
    (tmp_path / "obj.json").write_text(json.dumps({"paths": [[[0, 0.5], [1, 0.5]]], "note": "x"}))
    code, out, err = run(capsys, "folding", models / "cantor3.json", "--paths", tmp_path / "obj.json", "--json")
    assert code == 0 and last_json(out)["phi"] == pytest.approx(4 / 7)


@pytest.mark.parametrize("args, fragment", [
    (["--from", "0,0", "--to", "1"], "--to has 1 coordinates; the network takes 2"),
    (["--from", "0.5,0.5", "--to", "0.5,0.5"], "equal end points"),
    (["--from", "nan,0", "--to", "1,1"], "finite number"),
    (["--from", "0,0"], "give a path"),
    (["--from", "0,0", "--to", "1,1", "--layers", "7"], "layer index"),
    (["--from", "0,0", "--to", "1,1", "--layers", "x"], "comma-separated whole numbers"),
    (["--from", "0,0", "--to", "1,1", "--samples", "1"], "at least 2"),
    (["--from", "0,0", "--to", "1,1", "--paths", "p.json"], "not both"),
    (["--paths", "missing.json"], "does not exist"),
    (["--paths", "p.txt"], ".json or .npy"),
])
def test_bad_input_exits_2_without_traceback(models, capsys, monkeypatch, args, fragment):
    monkeypatch.chdir(models)
    (models / "p.txt").write_text("0 0 1 1")
    before = sorted(p.name for p in models.iterdir())
    try:                                 # argparse's own checks exit through SystemExit(2)
        code, out, err = run(capsys, "folding", "cantor3.json", *args)
    except SystemExit as e:
        code, err = e.code, capsys.readouterr().err
    assert code == 2
    assert fragment in err and "Traceback" not in err
    assert sorted(p.name for p in models.iterdir()) == before


@pytest.mark.parametrize("content, fragment", [
    ("[[[0, 0], [1]]]", "path 0 has end points of 2 and 1 coordinates"),
    ("[[0, 0], [1, 1]]", "path 0 is not a pair"),
    ('{"pairs": []}', "needs a 'paths' list"),
    ("[]", "non-empty list"),
    ("[[[0, 0, 0], [1, 1, 1]]]", "the points have 3 coordinates; the network takes 2"),
    ("[[[0, NaN], [1, 1]]]", "contains NaN"),
    ("[[[0, 0], [1, 1]], [[2, 2], [2, 2]]]", "path 1 has equal end points"),
    ("{not json", "not valid JSON"),
])
def test_malformed_paths_files(models, capsys, content, fragment):
    (models / "bad.json").write_text(content)
    code, out, err = run(capsys, "folding", models / "cantor3.json", "--paths", models / "bad.json")
    assert code == 2 and fragment in err and "Traceback" not in err and out == ""


def test_malformed_npy_and_the_exact_method_on_smooth_nets(models, capsys):
    np.save(models / "bad.npy", np.zeros((3, 3, 2)))
    code, out, err = run(capsys, "folding", models / "cantor3.json", "--paths", models / "bad.npy")
    assert code == 2 and "shape (P, 2, dim)" in err
    code, out, err = run(capsys, "folding", models / "sigmoid.json", "--from", "0,0", "--to", "1,1")
    assert code == 2 and "not piecewise linear" in err and "--samples N" in err


def test_experiment_command_refuses_before_writing(tmp_path, capsys):
    code, out, err = run(capsys, "experiment", "folding-digits", "--out", tmp_path / "no" / "dir")
    assert code == 2 and "does not exist" in err
    code, out, err = run(capsys, "experiment", "folding-digits", "--out", tmp_path / "o", "--eps", "-1")
    assert code == 2 and "eps must be >= 0" in err
    code, out, err = run(capsys, "experiment", "folding-digits", "--out", tmp_path / "o", "--seed", "-3")
    assert code == 2 and "seed" in err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit):
        run(capsys, "experiment", "no-such-experiment", "--out", tmp_path)


def test_known_values_experiment_writes_the_models_and_matches_the_closed_forms(tmp_path, capsys):
    from neuralpoly_core.network.modelfile import load_model
    code, out, err = run(capsys, "experiment", "folding-known", "--out", tmp_path / "k", "--paths", "200", "--json")
    assert code == 0
    s = last_json(out)
    assert s["all_match"] and s["one_layer"]["max_chi"] == 0.0 and len(s["rows"]) == 10
    table = {(r["network"], r["level"]): r["chi_fraction"] for r in s["rows"]}
    assert [table["tent", L] for L in (2, 3, 4, 5)] == ["1/3", "4/7", "11/15", "26/31"]
    assert [table["cantor", k] for k in (1, 2, 3, 4, 5)] == ["0", "1/3", "4/7", "11/15", "26/31"]
    assert "cantor   3       15    6    14  4/7          4/7          yes" in out
    # the model files are the networks: folding them again from the files gives the same chi
    code, out, err = run(capsys, "folding", tmp_path / "k" / "cantor4.json", "--from", "0,0.5", "--to", "1,0.5",
                         "--json")
    assert code == 0 and (last_json(out)["r1"], last_json(out)["r2"]) == (8, 30)
    assert np.array_equal(load_model(tmp_path / "k" / "tent3.json").layers[1].weight, tent_map_network(3).layers[1].weight)
    code, out, err = run(capsys, "experiment", "folding-known", "--out", tmp_path / "no" / "dir")
    assert code == 2 and "does not exist" in err
