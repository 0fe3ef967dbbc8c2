"""The training worker: a real process speaking JSON lines, cancellable, never importing bpy."""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="module")
def worker(addon):
    """One worker for the module (starting one imports torch: seconds)."""
    w = addon.worker_client.TrainingWorker()
    yield w
    w.close()


def test_worker_trains_and_never_imports_bpy(addon, worker):
    info = worker.wait_info()
    assert worker.hello["protocol"] == 1 and worker.hello["bpy_imported"] is False
    assert info["torch"] and info["bpy_imported"] is False
    seen = []
    task = worker.submit([(3, "(3;1)"), (2, "(5;1)")], seed=0, restarts=4)
    models = task.wait(progress=lambda f, m: seen.append(f))
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
    task = worker.submit([(3, "(0;1)")])
    with pytest.raises(addon.neuralpoly_core.errors.NeuralPolyError, match="width of layer 1 must be at least 1"):
        task.wait()
    assert task.state == "error" and task.user_error and task.error_kind == "TypeSpecError"
    assert worker.alive  # the worker survives a bad job and takes the next one
    ok = worker.submit([(2, "(3;1)")], restarts=2)
    assert len(ok.wait()) == 1


def test_cancel_stops_a_running_job_quickly(addon, worker):
    worker.wait_info()
    big = [(3, f"({n},{n};1)") for n in range(8, 14)]
    task = worker.submit(big, restarts=32, max_steps=100000)
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
    first = worker.submit([(3, "(4;1)")], restarts=2)
    second = worker.submit([(3, "(5;1)")], restarts=2)
    second.cancel()
    assert len(first.wait()) == 1
    with pytest.raises(addon.neuralpoly_core.errors.Cancelled):
        second.wait()


def test_a_dying_worker_fails_its_jobs_with_a_clear_error(addon, worker):
    worker.wait_info()
    task = worker.submit([(3, "(12,12;1)")], restarts=64, max_steps=100000)
    worker.process.kill()
    with pytest.raises(addon.worker_client.WorkerError, match="stopped unexpectedly"):
        task.wait(timeout=30)
    assert not worker.alive
    again = worker.submit([(2, "(2;1)")], restarts=1)   # restarts on demand
    assert len(again.wait()) == 1


def test_worker_script_is_independent_of_blender(addon):
    """The worker script runs in a plain interpreter that has no bpy at all."""
    import subprocess
    import sys
    from pathlib import Path
    script = Path(addon.worker_client.WORKER_SCRIPT)
    code = ("import sys, runpy; sys.modules['bpy'] = None; sys.argv = [sys.argv[1]]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code, str(script)], input='{"op": "quit"}\n',
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    events = [line for line in proc.stdout.splitlines() if line.strip()]
    assert '"event": "hello"' in events[0] and '"event": "bye"' in events[-1]


def test_a_worker_that_cannot_load_the_core_says_so(addon, tmp_path):
    broken = addon.worker_client.TrainingWorker(core_dir=str(tmp_path))
    try:
        task = broken.submit([(3, "(3;1)")])
        with pytest.raises(addon.worker_client.WorkerError, match="cannot load neuralpoly_core"):
            task.wait(timeout=60)
        assert not broken.alive
    finally:
        broken.close()
