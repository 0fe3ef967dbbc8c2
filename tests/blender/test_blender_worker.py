"""The worker: a real process speaking JSON lines, running the core's named jobs, cancellable, never importing bpy."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def worker(addon):
    """One worker for the module (starting one imports torch: seconds)."""
    w = addon.worker_client.JobWorker()
    yield w
    w.close()


def train(worker, specs, **options):
    """Submit the core's job ``train`` of ``(dim, type)`` specs."""
    return worker.submit("train", {"specs": [[d, t] for d, t in specs], "options": options})


def test_worker_trains_and_never_imports_bpy(addon, worker):
    info = worker.wait_info()
    assert worker.hello["protocol"] == 2 and worker.hello["bpy_imported"] is False
    assert {"train", "extract_level_set"} <= set(worker.hello["jobs"])
    assert info["torch"] and info["bpy_imported"] is False
    seen = []
    task = train(worker, [(3, "(3;1)"), (2, "(5;1)")], seed=0, restarts=4)
    models = addon.trainer.models_of(task.wait(progress=lambda f, m: seen.append(f)))
    assert task.state == "done" and len(models) == 2
    (net3, meta3), (net2, meta2) = models
    assert (net3.dim, net3.widths, meta3["type"], meta3["restarts"]) == (3, (3,), "(3;1)", 4)
    assert (net2.dim, net2.widths, meta2["type"]) == (2, (5,), "(5;1)")
    assert all(0.0 <= f <= 1.0 for f in seen)
    mesh = addon.neuralpoly_core.polytope.extract_polytope(net3)
    assert mesh.f_vector == (6, 12, 8)
    worker.info = None
    worker.request_info()
    assert worker.wait_info()["bpy_imported"] is False     # still none after training
    assert worker.hello["pid"] == worker.pid and worker.alive


def test_worker_reports_bad_input_as_a_user_error(addon, worker):
    task = train(worker, [(3, "(0;1)")])
    with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="width of layer 1 must be at least 1"):
        task.wait()
    assert task.state == "error" and task.user_error and task.error_kind == "TypeSpecError"
    assert worker.alive  # the worker survives a bad job and takes the next one
    ok = train(worker, [(2, "(3;1)")], restarts=2)
    assert len(ok.wait()["models"]) == 1


def test_cancel_stops_a_running_job_quickly(addon, worker):
    worker.wait_info()
    big = [(3, f"({n},{n};1)") for n in range(8, 14)]
    task = train(worker, big, restarts=32, max_steps=100000)
    deadline = time.monotonic() + 30
    while task.fraction == 0.0 and time.monotonic() < deadline:   # until it really runs
        task.update()
        time.sleep(0.02)
    assert not task.finished
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        task.wait()
    assert time.monotonic() - t0 < 5.0 and task.state == "cancelled"
    assert worker.alive  # cancelled cooperatively, not killed


def test_a_queued_job_can_be_cancelled_before_it_starts(addon, worker):
    first = train(worker, [(3, "(4;1)")], restarts=2)
    second = train(worker, [(3, "(5;1)")], restarts=2)
    second.cancel()
    assert len(first.wait()["models"]) == 1
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        second.wait()


def test_a_dying_worker_fails_its_jobs_with_a_clear_error(addon, worker):
    worker.wait_info()
    task = train(worker, [(3, "(12,12;1)")], restarts=64, max_steps=100000)
    worker.process.kill()
    with pytest.raises(addon.worker_client.WorkerError, match="stopped unexpectedly"):
        task.wait(timeout=30)
    assert not worker.alive
    again = train(worker, [(2, "(2;1)")], restarts=1)   # restarts on demand
    assert len(again.wait()["models"]) == 1


def test_worker_script_is_independent_of_blender(addon):
    """The worker script runs in a plain interpreter that has no bpy at all."""
    script = Path(addon.worker_client.WORKER_SCRIPT)
    code = ("import sys, runpy; sys.modules['bpy'] = None; sys.argv = [sys.argv[1]]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(script)], input='{"op": "quit"}\n',
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    events = [line for line in proc.stdout.splitlines() if line.strip()]
    assert '"event": "hello"' in events[0] and '"event": "bye"' in events[-1]


def test_a_worker_that_cannot_load_the_core_says_so(addon, tmp_path):
    broken = addon.worker_client.JobWorker(core_dir=str(tmp_path))
    try:
        task = train(broken, [(3, "(3;1)")])
        with pytest.raises(addon.worker_client.WorkerError, match="cannot load neuralpoly_core"):
            task.wait(timeout=60)
        assert not broken.alive
    finally:
        broken.close()


def octahedron_json(addon) -> str:
    """A ReLU network with biases whose level set f = 0 is an octahedron around (0.2, -0.1, 0.3)."""
    core = addon.neuralpoly_core.network
    c = np.array([0.2, -0.1, 0.3])
    layer = core.Layer(np.vstack([np.eye(3), -np.eye(3)]), np.concatenate([-c, c]), core.Activation("relu"))
    net = core.Network(3, [layer], core.Output("linear", np.ones((1, 6)), np.array([-1.0])))
    return core.modelfile.model_to_json(net, indent=None)


def test_worker_extracts_a_level_set_as_the_core_does_here(addon, worker, tmp_path):
    jobs = addon.neuralpoly_core.jobs
    arguments = {"model": octahedron_json(addon), "level": 0.0, "bbox": [-2, 2], "method": "exact",
                 "merge_coplanar": True}
    there = worker.submit("extract_level_set", dict(arguments, output=str(tmp_path / "there.npz"))).wait()
    here = jobs.run_job("extract_level_set", dict(arguments, output=str(tmp_path / "here.npz")))
    assert there["mesh"] == str(tmp_path / "there.npz") and there["summary"] == here["summary"]
    assert there["summary"]["name"] == "octahedron" and there["summary"]["f_vector"] == [6, 12, 8]
    a, b = jobs.read_mesh_npz(there["mesh"]), jobs.read_mesh_npz(here["mesh"])
    for name in ("vertices", "corners", "face_sizes", "region_ids"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    bad = worker.submit("extract_level_set", dict(arguments, level=50.0))
    with pytest.raises(addon.neuralpoly_core.errors.ExtractionError, match="does not cross the box"):
        bad.wait()
    with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="unknown job 'nothing'"):
        worker.submit("nothing", {}).wait()
    assert worker.alive


def test_protocol_1_training_requests_still_work(addon):
    """``{"op": "train", ...}`` (protocol 1) runs the job ``train``."""
    script = Path(addon.worker_client.WORKER_SCRIPT)
    requests = [{"op": "train", "id": 1, "specs": [[2, "(3;1)"]], "options": {"restarts": 1}}, {"op": "quit"}]
    proc = subprocess.run([sys.executable, str(script)], input="".join(json.dumps(r) + "\n" for r in requests),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    (result,) = [e for e in events if e["event"] == "result"]
    assert result["id"] == 1 and result["job"] == "train"
    ((net, meta),) = addon.trainer.models_of(result["result"])
    assert net.widths == (3,) and meta["type"] == "(3;1)"
