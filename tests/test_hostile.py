"""Hostile input: every command and reader refuses bad values and bad files with a named error.

For each case of the tables below the CLI must exit with status 2, print
``neuralpoly CMD: error: ...`` naming the problem, print no traceback, and leave every output
path exactly as it was (the outputs exist beforehand with known content; no temporary file is
left next to them). The Python API raises its documented exceptions. Interruption: SIGINT
exits 130 with the old output intact, SIGKILL leaves the old output and no temporary file,
and two processes writing one path leave one complete file.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neuralpoly_core import fileio
from neuralpoly_core.budget import MemoryBudgetError, set_memory_budget
from neuralpoly_core.cli import main
from neuralpoly_core.errors import ModelFormatError, NeuralPolyError
from neuralpoly_core.fileio import MAX_JSON_DEPTH, parse_json, read_json, read_npy, read_npz
from neuralpoly_core.mesh.files import export_mesh, read_mesh, read_obj, read_ply, read_stl
from neuralpoly_core.mesh.shapes import icosphere
from neuralpoly_core.network.model import polytope_network
from neuralpoly_core.network.modelfile import load_model, model_from_json, save_model

ROOT = Path(__file__).resolve().parents[1]
OLD = "old content, must survive\n"
DEEP = 100_000

# --------------------------------------------------------------------------------------
# hostile files: name -> bytes (or a special kind made by make_file)
# --------------------------------------------------------------------------------------
JSON_FILES = {
    "deep.json": ("[" * DEEP + "]" * DEEP).encode(),
    "deep_objects.json": ('{"a":' * DEEP + "1" + "}" * DEEP).encode(),
    "nan.json": b'{"format": "neuralpoly.model", "version": 1, "dim": NaN}',
    "inf.json": b'{"format": "neuralpoly.model", "version": 1, "dim": 3, "x": Infinity}',
    "neginf.json": b'[-Infinity]',
    "empty.json": b"",
    "blank.json": b"   \n\t\n",
    "latin1.json": '{"format": "neuralpoly.model", "name": "caf\xe9"}'.encode("latin-1"),
    "garbage.json": bytes(range(256)) * 4,
    "truncated.json": b'{"format": "neuralpoly.model", "version": 1, "dim": 3, "layers": [',
    "list.json": b"[1, 2, 3]",
    "string.json": b'"neuralpoly.model"',
    "wrong_format.json": b'{"format": "something else"}',
}
SPECIAL = ("fifo", "folder", "missing", "dev_zero", "oversize")
MESSAGES = {          # what the message must name, per hostile file
    "deep.json": f"nested more than {MAX_JSON_DEPTH} levels", "deep_objects.json": f"more than {MAX_JSON_DEPTH}",
    "nan.json": "NaN", "inf.json": "Infinity", "neginf.json": "-Infinity", "empty.json": "",
    "blank.json": "", "latin1.json": "not UTF-8", "garbage.json": "", "truncated.json": "JSON",
    "list.json": "", "string.json": "", "wrong_format.json": "",
    "fifo": "FIFO", "folder": "folder", "missing": "does not exist", "dev_zero": "device",
    "oversize": "over the limit",
}


def make_file(folder: Path, name: str) -> Path:
    """A hostile file (or special path) called ``name`` in ``folder``."""
    if name == "dev_zero":
        return Path("/dev/zero")
    path = folder / ("hostile_" + name + ("" if "." in name else ".json"))
    if name == "fifo":
        os.mkfifo(path)
    elif name == "folder":
        path.mkdir()
    elif name == "missing":
        pass
    elif name == "oversize":          # sparse: takes no disk space
        with open(path, "wb") as fh:
            fh.truncate(fileio.MAX_FILE_BYTES + 1)
    else:
        path.write_bytes(JSON_FILES[name])
    return path


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------
@pytest.fixture()
def work(tmp_path):
    """A folder with a valid model (octahedron), boolean description and paths file, and
    output files with known content."""
    save_model(polytope_network(3, [np.eye(3)], [1]), tmp_path / "model.json")
    save_model(polytope_network(2, [np.eye(2)], [1]), tmp_path / "model2.json")
    save_model(polytope_network(3, [np.random.default_rng(0).normal(size=(3000, 3))], [1]), tmp_path / "big.json")
    (tmp_path / "desc.json").write_text(json.dumps({
        "format": "neuralpoly.boolean", "version": 1, "dim": 3, "mode": "hard",
        "solid": {"box": {"lo": [-0.5, -0.5, -0.5], "hi": [0.5, 0.5, 0.5]}}}))
    (tmp_path / "paths.json").write_text(json.dumps([[[0, 0], [1, 1]]]))
    export_mesh(icosphere(1.0, 2), tmp_path / "ball.obj")
    (tmp_path / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 1 1 0\nf 1 2 3\nf 2 4 3\n")
    for name in ("out.obj", "out.stl", "out.ply", "model_out.json"):
        (tmp_path / name).write_text(OLD)
    return tmp_path


def listing(folder: Path) -> dict:
    """Name -> content of every entry (size and mtime for the huge sparse file, None for others)."""
    def content(p: Path):
        if not p.is_file() or p.is_fifo():
            return None
        st = p.stat()
        return (st.st_size, st.st_mtime_ns) if st.st_size > 1 << 24 else p.read_bytes()
    return {p.name: content(p) for p in folder.iterdir()}


def run_cli(capsys, argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:            # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(capsys, work, argv, fragment):
    before = listing(work)
    code, out, err = run_cli(capsys, argv)
    assert code == 2, (argv, code, err)
    assert "Traceback" not in err and "error" in err, err
    assert fragment.lower() in err.lower(), (fragment, err)
    after = listing(work)
    assert after == before, f"{argv}: files changed: {set(after) ^ set(before)}"
    return err


# --------------------------------------------------------------------------------------
# the CLI: hostile files in every command that reads one
# --------------------------------------------------------------------------------------
FILE_COMMANDS = {     # command line with {bad} for the hostile file, {w} for the work folder
    "info": ["info", "{bad}"],
    "extract": ["extract", "{bad}", "--out", "{w}/out.obj"],
    "boolean": ["boolean", "{bad}", "--out", "{w}/out.stl", "--model-out", "{w}/model_out.json"],
    "folding model": ["folding", "{bad}", "--from", "0,0", "--to", "1,1"],
    "folding paths": ["folding", "{w}/model2.json", "--paths", "{bad}"],
    "regions": ["regions", "{bad}", "--out", "{w}/out.ply", "--json"],
}
HOSTILE = list(JSON_FILES) + list(SPECIAL)


def fill(argv, work, bad=None):
    return [a.replace("{w}", str(work)).replace("{bad}", str(bad)) if isinstance(a, str) else a for a in argv]


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("command", list(FILE_COMMANDS))
def test_cli_refuses_hostile_files(capsys, work, command, hostile):
    bad = make_file(work, hostile)
    fragment = MESSAGES[hostile]
    if command == "folding paths" and hostile in ("wrong_format.json", "string.json"):
        fragment = "list"
    if command == "folding paths" and hostile == "dev_zero":
        fragment = ".json or .npy"         # refused by its name before it is looked at
    err = assert_refused(capsys, work, fill(FILE_COMMANDS[command], work, bad), fragment)
    assert bad.name in err


_B = {"format": "neuralpoly.boolean", "version": 1, "dim": 3}
_BOX = {"box": {"lo": [0, 0, 0], "hi": [1, 1, 1]}}
DESCRIPTIONS = [   # (description, fragment)
    (dict(_B, dim=10 ** 9, solid=_BOX), "'dim' must be 2 or 3"),
    (dict(_B, dim="3", solid=_BOX), "'dim' must be 2 or 3"),
    (dict(_B, mode="weird", solid=_BOX), "'mode' must be"),
    (dict(_B, version=99, solid=_BOX), "version 99"),
    (dict(_B), "no 'solid'"),
    (dict(_B, solid=_BOX, extra=1), "unknown keys"),
    (dict(_B, solid={"box": {"lo": [1, 1, 1], "hi": [0, 0, 0]}}), "box is empty"),
    (dict(_B, solid={"box": {"lo": ["a", 0, 0], "hi": [1, 1, 1]}}), "list of numbers"),
    (dict(_B, solid={"box": {"lo": [0, 0], "hi": [1, 1]}}), "3 coordinates"),
    (dict(_B, solid={"halfspace": {"normal": [0, 0, 0], "offset": 1}}), "non-zero normal"),
    (dict(_B, solid={"mesh": {"vertices": [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], "faces": [[0, 1, 99]]}}),
     "bad face"),
    (dict(_B, solid={"union": []}), "non-empty list"),
    (dict(_B, solid={"union": 5}), "non-empty list"),
    (dict(_B, solid={"blob": 1}), "unknown solid kind 'blob'"),
    (dict(_B, solid=[1]), "exactly one key"),
    (dict(_B, mode="soft", sharpness=-1, solid=_BOX), "sharpness must be > 0"),
    (dict(_B, domain=[1, -1], solid=_BOX), "domain must be a finite, non-empty box"),
    (dict(_B, domain="x", solid=_BOX), "domain must be numbers"),
    (dict(_B, mode="soft", domain=[-1, 1], solid=_BOX), "'domain' applies to mode 'hard' only"),
    (dict(_B, solid=json.loads('{"union": [' * 31 + json.dumps(_BOX) + "]}" * 31)), "nested more than 64"),
]


@pytest.mark.parametrize("desc, fragment", DESCRIPTIONS, ids=[f for _, f in DESCRIPTIONS])
def test_cli_refuses_bad_boolean_descriptions(capsys, work, desc, fragment):
    (work / "bad_desc.json").write_text(json.dumps(desc))
    err = assert_refused(capsys, work, fill(["boolean", "{w}/bad_desc.json", "--out", "{w}/out.obj",
                                             "--model-out", "{w}/model_out.json"], work), fragment)
    assert "bad_desc.json" in err


NPY_FILES = {   # name -> (bytes, fragment)
    "pickle.npy": (None, "Python objects"),
    "short.npy": (None, "declares an array of shape (1000000000000, 2, 2)"),
    "truncated.npy": (None, "holds"),
    "notnpy.npy": (b"PK\x03\x04 not an array", "not a .npy"),
    "empty.npy": (b"", "not a .npy"),
    "shape.npy": (None, "shape (P, 2, dim)"),
    "nan.npy": (None, "NaN"),
}


def npy_bytes(name: str) -> bytes:
    import io
    fh = io.BytesIO()
    if name == "pickle.npy":
        np.save(fh, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif name == "short.npy":       # the header claims 10^12 pairs, the file holds one
        np.save(fh, np.zeros((1, 2, 2)))
        return _claim(fh.getvalue(), "(1, 2, 2)", "(1000000000000, 2, 2)")
    elif name == "truncated.npy":
        np.save(fh, np.zeros((4, 2, 2)))
        return fh.getvalue()[:-8]
    elif name == "shape.npy":
        np.save(fh, np.zeros((3, 3)))
    elif name == "nan.npy":
        np.save(fh, np.array([[[0.0, np.nan], [1.0, 1.0]]]))
    else:
        return NPY_FILES[name][0]
    return fh.getvalue()


def _claim(data: bytes, old: str, new: str) -> bytes:
    """A .npy file whose header says shape ``new`` instead of ``old`` (header kept 64-aligned)."""
    end = data.index(b"\n") + 1
    header = data[10:end].decode("latin1").replace(old, new).rstrip("\n").rstrip()
    header = header.ljust(end - 10 - 1) + "\n"
    return data[:8] + struct.pack("<H", len(header)) + header.encode("latin1") + data[end:]


@pytest.mark.parametrize("name", list(NPY_FILES))
def test_cli_refuses_hostile_npy_paths(capsys, work, name):
    (work / name).write_bytes(npy_bytes(name))
    err = assert_refused(capsys, work, fill(FILE_COMMANDS["folding paths"], work, work / name), NPY_FILES[name][1])
    assert name in err


@pytest.mark.parametrize("hostile", ["deep.json", "fifo", "dev_zero", "latin1.json", "nan.json"])
@pytest.mark.parametrize("command", ["info", "extract", "boolean"])
def test_cli_subprocess_has_no_traceback_and_never_blocks(work, command, hostile):
    """The real process: status 2, one line naming the file and the problem, no traceback."""
    bad = make_file(work, hostile)
    before = listing(work)
    r = subprocess.run([sys.executable, "-m", "neuralpoly_core", *fill(FILE_COMMANDS[command], work, bad)],
                       capture_output=True, text=True, timeout=120, cwd=work,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith(f"neuralpoly {command}: error: ")
    assert MESSAGES[hostile] in r.stderr and (bad.name in r.stderr)
    assert listing(work) == before


# --------------------------------------------------------------------------------------
# the CLI: bad option values
# --------------------------------------------------------------------------------------
GEN = ["generate", "--out", "{w}/out.obj", "--model-out", "{w}/model_out.json"]
EXT = ["extract", "{w}/model.json", "--out", "{w}/out.obj"]
BOOL = ["boolean", "{w}/desc.json", "--out", "{w}/out.stl", "--model-out", "{w}/model_out.json"]
FOLD = ["folding", "{w}/model2.json"]
GAL = ["gallery", "--out", "{w}/out.obj"]
EXP = ["experiment", "folding-digits", "--out", "{w}/out.obj"]
REG = ["regions", "{w}/model.json"]
FIT = ["fit", "{w}/ball.obj", "--out", "{w}/out.obj"]
OPTION_CASES = [
    # generate
    (GEN + ["--widths", "0"], "width"),
    (GEN + ["--widths", "-3"], "width"),
    (GEN + ["--widths", "x"], "width"),
    (GEN + ["--widths", "nan"], "width"),
    (GEN + ["--widths", "4,,2"], "width"),
    (GEN + ["--widths", ""], "width"),
    (GEN + ["--widths", "20000"], "exact extraction of 20,000 neurons"),
    (GEN + ["--widths", "20000", "--p", "2", "--resolution", "4"], "training (20000;2) in 3D (60,000 weights"),
    (["extract", "{w}/big.json", "--out", "{w}/out.obj"], "exact extraction of 3,000 neurons"),
    (GEN + ["--widths", "2000,2000"], "would need about"),
    (GEN + ["--widths", "4", "--restarts", "100000000"], "would need about"),
    (GEN + ["--widths", "4", "--dim", "0"], "dim"),
    (GEN + ["--widths", "4", "--dim", "1"], "dim"),
    (GEN + ["--widths", "4", "--dim", "-3"], "dim"),
    (GEN + ["--widths", "4", "--dim", "nan"], "invalid int"),
    (GEN + ["--widths", "4", "--dim", "1000000000"], "slice-theta"),
    (GEN + ["--widths", "4", "--dim", "1000000000", "--slice-theta", "0.5"], "would need about"),
    (GEN + ["--widths", "4", "--p", "nan"], "p"),
    (GEN + ["--widths", "4", "--p", "inf"], "p"),
    (GEN + ["--widths", "4", "--p", "-1"], "p"),
    (GEN + ["--widths", "4", "--p", "0"], "p"),
    (GEN + ["--widths", "4", "--p", "x"], "p"),
    (GEN + ["--widths", "4", "--p", "1,1"], "p"),
    (GEN + ["--widths", "4", "--restarts", "0"], ">= 1"),
    (GEN + ["--widths", "4", "--restarts", "-2"], ">= 1"),
    (GEN + ["--widths", "4", "--restarts", "1.5"], "whole number"),
    (GEN + ["--widths", "4", "--steps", "0"], ">= 1"),
    (GEN + ["--widths", "4", "--steps", "nan"], "whole number"),
    (GEN + ["--widths", "4", "--seed", "x"], "invalid int"),
    (GEN + ["--widths", "4", "--seed", "-1"], "seed"),
    (GEN + ["--widths", "4", "--device", "tpu"], "invalid choice"),
    (GEN + ["--widths", "4", "--dtype", "float16"], "invalid choice"),
    (GEN + ["--widths", "4", "--method", "magic"], "invalid choice"),
    (GEN + ["--widths", "4", "--method", "marching"], "invalid choice"),
    (GEN + ["--widths", "4", "--p", "2", "--method", "exact"], "exact extraction needs p = 1"),
    (GEN + ["--widths", "4", "--resolution", "0"], ">= 1"),
    (GEN + ["--widths", "4", "--resolution", "-1"], ">= 1"),
    (GEN + ["--widths", "4", "--p", "2", "--resolution", "10000000"], "lower the resolution"),
    (GEN + ["--widths", "4", "--slice-theta", "nan"], "finite"),
    (GEN + ["--widths", "4", "--slice-theta", "0.5"], "slice"),
    (GEN + ["--widths", "4", "--dim", "4"], "slice"),
    (["generate", "--widths", "4", "--out", "{w}/out.xyz"], "unsupported mesh"),
    (["generate", "--widths", "4", "--out", "{w}/nowhere/out.obj"], "does not exist"),
    (["generate", "--widths", "4", "--model-out", "{w}/nowhere/m.json"], "does not exist"),
    (["generate", "--out", "{w}/out.obj"], "required"),
    # extract
    (EXT + ["--level", "nan"], "finite"),
    (EXT + ["--level", "inf"], "finite"),
    (EXT + ["--level", "-1"], "level"),
    (EXT + ["--level", "0"], "level"),
    (EXT + ["--bbox", "nan", "1"], "finite"),
    (EXT + ["--bbox", "1", "-1"], "bbox"),
    (EXT + ["--bbox", "1", "1"], "bbox"),
    (EXT + ["--bbox", "-1e308", "1e308"], "box"),
    (EXT + ["--bbox", "0"], "expected 2 arguments"),
    (EXT + ["--resolution", "0"], ">= 1"),
    (EXT + ["--method", "marching", "--bbox", "-1", "1", "--resolution", "1000000"], "resolution"),
    (EXT + ["--method", "marching"], "bbox"),
    (EXT + ["--method", "radial", "--resolution", "10000000"], "lower the resolution"),
    (EXT + ["--workers", "0"], ">= 1"),
    (EXT + ["--slice-theta", "0.3"], "slice"),
    (["extract", "{w}/model.json", "--out", "{w}/out.xyz"], "unsupported mesh"),
    (["extract", "{w}/model.json", "--out", "{w}/nowhere/out.obj"], "does not exist"),
    (["extract"], "required"),
    # boolean
    (BOOL + ["--bbox", "nan", "1"], "finite"),
    (BOOL + ["--bbox", "2", "-2"], "bbox"),
    (BOOL + ["--resolution", "0"], ">= 1"),
    (BOOL + ["--resolution", "x"], "whole number"),
    (["boolean", "{w}/desc.json", "--out", "{w}/out.xyz"], "unsupported mesh"),
    (["boolean", "{w}/model.json", "--out", "{w}/out.obj"], "boolean description"),
    # folding
    (FOLD + ["--from", "a,b", "--to", "1,1"], "number"),
    (FOLD + ["--from", "nan,0", "--to", "1,1"], "finite"),
    (FOLD + ["--from", "inf,0", "--to", "1,1"], "finite"),
    (FOLD + ["--from", "0,0", "--to", "1,1,1"], "coordinates"),
    (FOLD + ["--from", "0,0", "--to", "1,1", "--samples", "0"], "samples"),
    (FOLD + ["--from", "0,0", "--to", "1,1", "--samples", "-5"], "samples"),
    (FOLD + ["--from", "0,0", "--to", "1,1", "--layers", "-1"], "layer"),
    (FOLD + ["--from", "0,0", "--to", "1,1", "--layers", "99"], "layer"),
    (FOLD + ["--from", "0,0", "--to", "1,1", "--threshold", "nan"], "finite"),
    (FOLD + ["--paths", "{w}/paths.txt"], ".json or .npy"),
    (FOLD + ["--from", "0,0", "--to", "1,1", "--samples", "1000000000000"], "samples must be a whole number in 2.."),
    # gallery
    (GAL + ["--figure", "99"], "figure"),
    (GAL + ["--figure", "-1"], "figure"),
    (GAL + ["--figure", "x"], "invalid int"),
    (GAL + ["--restarts", "0"], ">= 1"),
    (GAL + ["--format", "xyz"], "invalid choice"),
    (GAL + ["--device", "tpu"], "invalid choice"),
    (GAL + ["--seed", "1.5"], "invalid int"),
    (["gallery", "--out", "{w}/out.obj", "--figure", "2"], "exists"),
    (["gallery"], "required"),
    # experiment
    (EXP + ["--width", "0"], "width"),
    (EXP + ["--width", "-4"], "width"),
    (EXP + ["--width", "100000000"], "width must be a whole number in 1.."),
    (EXP + ["--depths", "1000"], "depth must be a whole number in 1.."),
    (EXP + ["--depths", "0"], "depth"),
    (EXP + ["--depths", "x"], "depth"),
    (EXP + ["--epochs", "0"], "epochs"),
    (EXP + ["--eps", "nan"], "eps"),
    (EXP + ["--eps", "-1"], "eps"),
    (EXP + ["--samples", "0"], "samples"),
    (EXP + ["--clusters", "0"], "clusters"),
    (["experiment", "folding-digits", "--out", "{w}/nowhere/deeper"], "does not exist"),
    (["experiment", "no-such-experiment"], "invalid choice"),
    (["experiment", "regions-digits", "--out", "{w}/o", "--time-limit", "0"], "time_limit must be > 0"),
    (["experiment", "regions-digits", "--out", "{w}/o", "--first-widths", "0"], "numbers >= 1"),
    (["experiment", "regions-digits", "--out", "{w}/o", "--total", "-1"], ">= 1"),
    (["experiment", "folding-known", "--out", "{w}/o", "--levels", "100"], "level must be a whole number in 1..20"),
    # regions and bounds
    (REG + ["--bbox", "nan", "1"], "finite"),
    (REG + ["--bbox", "1", "-1"], "LO < HI"),
    (REG + ["--method", "magic"], "invalid choice"),
    (REG + ["--time-limit", "0"], "--time-limit is for --method milp"),
    (REG + ["--max-regions", "0"], ">= 1"),
    (REG + ["--plane", "0,0,0", "1,0,0", "2,0,0"], "linearly independent"),
    (REG + ["--plane", "0,0", "1,0,0", "0,1,0"], "3 coordinates"),
    (REG + ["--segment", "0,0,0", "0,0,0"], "two different points"),
    (REG + ["--out", "{w}/out.xyz"], "unsupported mesh"),
    (REG + ["--out", "{w}/nowhere/r.ply"], "does not exist"),
    (REG + ["--png", "{w}/nowhere/r.png"], "does not exist"),
    (REG + ["--shrink", "2"], "[0, 1)"),
    (REG + ["--max-regions", "1", "--out", "{w}/out.ply"], "more than max_regions = 1"),
    (["bounds", "--dim", "0", "--widths", "3"], ">= 1"),
    (["bounds", "--dim", "3", "--widths", "0"], ">= 1"),
    (["bounds", "--dim", "3", "--widths", "x"], "comma-separated"),
    (["bounds", "--dim", "3", "--widths", "3", "--maxout", "1"], "at least 2"),
    (["bounds", "--dim", "3"], "required"),
    # fit
    (FIT + ["--seconds", "0"], "time budget"),
    (FIT + ["--seconds", "-1"], "time budget"),
    (FIT + ["--seconds", "nan"], "finite"),
    (FIT + ["--steps", "0"], ">= 1"),
    (FIT + ["--samples", "0"], ">= 1"),
    (FIT + ["--net", "relu:0x4"], "depth must be 1-64"),
    (FIT + ["--net", "tanh:2x3"], "unknown network spec"),
    (FIT + ["--net", "hashgrid:simplex,levels=0"], "levels must be a whole number"),
    (FIT + ["--net", "hashgrid:cubic"], "cannot read 'cubic'"),
    (FIT + ["--device", "tpu"], "invalid choice"),
    (["fit", "{w}/ball.obj", "--out", "{w}/out.xyz", "--steps", "5"], "unsupported mesh"),
    (["fit", "{w}/flat.obj", "--steps", "5", "--out", "{w}/out.obj"], "flat"),
    (["fit", "{w}/missing.obj", "--steps", "5"], "does not exist"),
    (FIT + ["--vertex-budget", "3"], "vertex budget must be"),
    (FIT + ["--vertex-budget", "0"], ">= 1"),
    (FIT + ["--min-region-area", "-1"], "minimum region area"),
    (FIT + ["--min-region-area", "nan"], "finite"),
    (EXT + ["--vertex-budget", "10"], "simplify 3-D box level sets"),
    (["no-such-command"], "invalid choice"),
]


@pytest.mark.parametrize("argv, fragment", OPTION_CASES, ids=[" ".join(a).replace("{w}/", "") for a, _ in OPTION_CASES])
def test_cli_refuses_bad_option_values(capsys, work, argv, fragment):
    assert_refused(capsys, work, fill(argv, work), fragment)


# --------------------------------------------------------------------------------------
# the Python API: readers raise their documented exceptions
# --------------------------------------------------------------------------------------
def _ply(header_counts: tuple[int, int], fmt: str = "ascii", body: bytes = b"0 0 0\n3 0 0 0\n") -> bytes:
    nv, nf = header_counts
    return (f"ply\nformat {fmt} 1.0\nelement vertex {nv}\nproperty float x\nproperty float y\n"
            f"property float z\nelement face {nf}\nproperty list uchar int vertex_indices\nend_header\n"
            ).encode() + body


def _stl(count: int, records: int) -> bytes:
    return b"x" * 80 + struct.pack("<I", count) + b"\0" * (50 * records)


MESH_FILES = {   # name -> (bytes, fragment of the message)
    "huge_vertices.ply": (_ply((10 ** 12, 1)), "declares 1000000000000 vertex elements"),
    "huge_faces_binary.ply": (_ply((1, 10 ** 12), "binary_little_endian", b"\0" * 40), "declares 1000000000000 face"),
    "negative.ply": (_ply((-1, 1)), "negative PLY element count"),
    "no_header_end.ply": (b"ply\nformat ascii 1.0\nelement vertex 3\n", "not a PLY file"),
    "nan.ply": (_ply((3, 1), body=b"nan 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"), "NaN"),
    "bad_index.ply": (_ply((3, 1), body=b"0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n"), "does not exist"),
    "empty.ply": (b"", "not a PLY file"),
    "count_too_big.stl": (_stl(10 ** 9, 1), "declares 1000000000 triangles"),
    "count_too_small.stl": (_stl(1, 3), "declares 1 triangles"),
    "short.stl": (b"solid", "only 5 bytes"),
    "ascii.stl": (b"solid x\n facet normal 0 0 1\n" + b" " * 200, "ASCII STL"),
    "nan.stl": (b"x" * 80 + struct.pack("<I", 1) + struct.pack("<12fH", *([float("nan")] * 12), 0), "NaN"),
    "latin1.obj": ("# caf\xe9\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n".encode("latin-1"), "not UTF-8"),
    "nan.obj": (b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "NaN"),
    "inf.obj": (b"v inf 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "infinite"),
    "bad_index.obj": (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99999999999999999999\n", "refers to vertex"),
    "zero_index.obj": (b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "start at 1"),
    "empty.obj": (b"", "no faces"),
    "garbage.obj": (bytes(range(1, 128)) * 3, "no faces"),
}


@pytest.mark.parametrize("name", list(MESH_FILES))
def test_mesh_readers_refuse_hostile_files(tmp_path, name):
    data, fragment = MESH_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(NeuralPolyError) as info:
        read_mesh(path)
    assert fragment in str(info.value) and name in str(info.value)


@pytest.mark.parametrize("special", SPECIAL)
@pytest.mark.parametrize("reader, suffix", [(read_obj, ".obj"), (read_stl, ".stl"), (read_ply, ".ply"),
                                            (load_model, ".json"), (read_json, ".json"), (read_npy, ".npy"),
                                            (read_npz, ".npz")])
def test_every_reader_refuses_special_files_without_blocking(tmp_path, reader, suffix, special):
    path = make_file(tmp_path, special)
    with pytest.raises(NeuralPolyError, match=MESSAGES[special]):
        reader(path)


@pytest.mark.parametrize("name", list(JSON_FILES))
def test_load_model_raises_model_format_error(tmp_path, name):
    path = make_file(tmp_path, name)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    assert MESSAGES[name] in str(info.value) and path.name in str(info.value)


def test_json_files_have_their_own_size_limit(tmp_path, small_budget):
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:            # sparse
        fh.truncate(fileio.MAX_JSON_BYTES + 1)
    for reader in (load_model, read_json):
        with pytest.raises(NeuralPolyError, match="over the limit of 256.0 MB"):
            reader(big)
    model = tmp_path / "model.json"         # parsing it would need 20 x its text: over 1 MB
    save_model(polytope_network(3, [np.ones((3000, 3))], [1]), model)
    with pytest.raises(MemoryBudgetError, match="reading model file model.json"):
        load_model(model)


def test_parse_json_depth_limit_is_exact_and_never_recursion_error():
    ok = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(ok, "x") is not None
    for depth in (MAX_JSON_DEPTH + 1, 5000, DEEP):
        with pytest.raises(NeuralPolyError, match=f"nested more than {MAX_JSON_DEPTH} levels"):
            parse_json("[" * depth + "]" * depth, "x")
    with pytest.raises(ModelFormatError, match="nested more than"):
        model_from_json("[" * DEEP + "]" * DEEP)


def test_read_mesh_npz_refuses_pickles_bombs_and_lies(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.setattr(fileio, "MAX_FILE_BYTES", 1 << 22)       # the same check at a 4 MB limit

    from neuralpoly_core.jobs import read_mesh_npz
    np.savez(tmp_path / "pickle.npz", vertices=np.array([{}], dtype=object), info=np.array("{}"))
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("vertices.npy", "w", force_zip64=True) as fh:      # 8 MB of zeros, 8 kB packed
            fh.write(b"\0" * (2 * fileio.MAX_FILE_BYTES))
    (tmp_path / "lie.npz").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    np.savez(tmp_path / "deep.npz", vertices=np.zeros((3, 3)), info=np.array("[" * DEEP + "]" * DEEP))
    for name, fragment in [("pickle.npz", "Python objects"), ("bomb.npz", "unpacks to"),
                           ("lie.npz", "not a valid .npz"), ("deep.npz", "nested more than")]:
        with pytest.raises(ModelFormatError, match=fragment):
            read_mesh_npz(tmp_path / name)


# --------------------------------------------------------------------------------------
# the Python API: memory budgets refuse before the work starts
# --------------------------------------------------------------------------------------
@pytest.fixture()
def small_budget():
    set_memory_budget("1M")
    yield
    set_memory_budget(None)


def test_training_refuses_over_budget_before_it_starts():
    from neuralpoly_core.training import train_polytope
    calls = []
    with pytest.raises(MemoryBudgetError, match=r"would need about .* TB of memory.*--widths.*restarts") as info:
        train_polytope(3, "(20000;1)", progress=lambda f, m: calls.append(f))
    assert calls == [] and "NEURALPOLY_MEMORY_BUDGET" in str(info.value)


def test_budget_override_applies_to_every_estimate(small_budget, tmp_path):
    from neuralpoly_core.levelset.marching import extract_marching
    from neuralpoly_core.polytope.radial import extract_radial
    from neuralpoly_core.training import train_polytope
    from neuralpoly_core.training.classifier import train_classifier
    from neuralpoly_core.training.datasets import Dataset

    net = polytope_network(3, [np.eye(3)], [2])
    with pytest.raises(MemoryBudgetError, match="budget of 1.0 MB; lower the resolution"):
        extract_radial(net, resolution=200)
    with pytest.raises(MemoryBudgetError, match="marching on a grid of 201\\^3 points"):
        extract_marching(net, 0.5, (-1, 1), resolution=200)
    with pytest.raises(MemoryBudgetError, match="training \\(8,8;1\\) in 3D"):
        train_polytope(3, "(8,8;1)")
    x = np.zeros((10000, 64))
    data = Dataset(x, np.zeros(10000, dtype=np.int64), x[:10], np.zeros(10, dtype=np.int64), 10, "zeros")
    with pytest.raises(MemoryBudgetError, match="classifier"):
        train_classifier(data, (512, 512))
    from neuralpoly_core.levelset.api import extract_level_set
    from neuralpoly_core.network.activations import Activation
    from neuralpoly_core.network.model import Layer, Network, Output
    rng = np.random.default_rng(0)
    relu = Network(3, [Layer(rng.normal(size=(300, 3)), 0.3 * rng.normal(size=300), Activation("relu"))],
                   Output("linear", rng.normal(size=(1, 300)), np.zeros(1)))
    with pytest.raises(MemoryBudgetError, match="exact extraction \\(layer 1: .* cells.*--method marching"):
        extract_level_set(relu, 0.0, (-1, 1), method="exact")
    big = tmp_path / "big.stl"
    big.write_bytes(_stl(20000, 20000))
    with pytest.raises(MemoryBudgetError, match="reading STL file big.stl"):
        read_stl(big)


def test_training_on_a_gpu_is_held_to_its_free_memory(monkeypatch):
    """On CUDA the GPU's free memory bounds training too (here: a GPU with 1 MB free, faked)."""
    from neuralpoly_core.training import polytope, train_polytope
    monkeypatch.setattr(polytope, "device_free_memory", lambda dev: 1 << 20)
    with pytest.raises(MemoryBudgetError, match=r"of GPU memory, over the 1.0 MB free .*--device cpu"):
        train_polytope(3, "(8,8;1)")


def test_environment_variable_sets_the_budget(tmp_path):
    (tmp_path / "out.obj").write_text(OLD)
    r = subprocess.run([sys.executable, "-m", "neuralpoly_core", "generate", "--widths", "4",
                        "--out", str(tmp_path / "out.obj")], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), NEURALPOLY_MEMORY_BUDGET="1M"))
    assert r.returncode == 2 and "over the budget of 1.0 MB" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "out.obj").read_text() == OLD
    r = subprocess.run([sys.executable, "-m", "neuralpoly_core", "generate", "--widths", "4",
                        "--out", str(tmp_path / "out.obj")],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), NEURALPOLY_MEMORY_BUDGET="lots"))
    assert r.returncode == 2 and "memory size" in r.stderr


# --------------------------------------------------------------------------------------
# interruption and concurrent writers
# --------------------------------------------------------------------------------------
#: Runs the CLI and says STARTED on stderr at the first progress report of the training.
STARTER = """
import sys
from neuralpoly_core.cli import progress
from neuralpoly_core.cli.main import main
original = progress.ProgressBar.__call__
def call(self, *args):
    if not getattr(call, "said", False):
        call.said = True
        sys.stderr.write("STARTED\\n")
        sys.stderr.flush()
    return original(self, *args)
progress.ProgressBar.__call__ = call
sys.exit(main(sys.argv[1:]))
"""
#: A training that runs for minutes (here) so that the signal lands in it.
LONG_GENERATE = ["generate", "--widths", "16,16", "--p", "1,2", "--restarts", "32", "--steps", "100000",
                 "--resolution", "4"]


def start_long_generate(work):
    proc = subprocess.Popen([sys.executable, "-c", STARTER, *LONG_GENERATE, "--out", str(work / "out.obj"),
                             "--model-out", str(work / "model_out.json")], cwd=work, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    line = proc.stderr.readline()
    assert line == "STARTED\n", line + proc.stderr.read()
    return proc


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGKILL, -signal.SIGKILL)])
def test_interrupted_generate_leaves_the_old_output(work, sig, status):
    before = listing(work)
    proc = start_long_generate(work)
    time.sleep(0.5)          # well inside the training, which takes minutes
    assert proc.poll() is None
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    if sig == signal.SIGINT:
        assert err.strip() == "neuralpoly generate: cancelled" and out == ""
    assert listing(work) == before          # old outputs intact, no temporary file left


WRITER = """
import sys
from neuralpoly_core.fileio import atomic_write_text
tag, path = sys.argv[1], sys.argv[2]
for i in range(60):
    atomic_write_text(path, (tag * 1000 + "\\n") * 500)
"""


def test_two_processes_writing_one_path_leave_one_complete_file(work):
    target = work / "out.obj"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, tag, str(target)],
                              env=dict(os.environ, PYTHONPATH=str(ROOT))) for tag in "ab"]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    text = target.read_text()
    assert text in ((("a" * 1000 + "\n") * 500), (("b" * 1000 + "\n") * 500))
    assert sorted(p.name for p in work.iterdir()) == sorted(listing(work))
    assert not [p for p in work.iterdir() if p.name.startswith(".out.obj.")]


def test_two_cli_runs_writing_one_mesh_leave_one_valid_mesh(work):
    save_model(polytope_network(3, [np.array([[1.0, 1, 1], [1, -1, 1], [1, 1, -1], [-1, 1, 1]])], [1]),
               work / "other.json")
    target = work / "out.ply"
    procs = [subprocess.Popen([sys.executable, "-m", "neuralpoly_core", "extract", str(work / m), "--out",
                               str(target)], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              stdout=subprocess.DEVNULL) for m in ("model.json", "other.json")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    # the file is byte for byte what one run alone writes
    alone = []
    for m in ("model.json", "other.json"):
        assert main(["extract", str(work / m), "--out", str(work / f"alone_{m}.ply")]) == 0
        alone.append((work / f"alone_{m}.ply").read_bytes())
    assert alone[0] != alone[1] and target.read_bytes() in alone
    assert read_ply(target).is_closed_manifold()
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
