"""The worker: a separate Python process that runs the core's named jobs (training, extraction).

Blender must never freeze and must never run long work in a Python thread of its own
process, so the add-on starts this file as a script with Blender's Python
(``sys.executable``) and talks to it with JSON lines (protocol below). This module must
not import ``bpy`` or the add-on, and neither may anything it imports: it loads only the
bundled ``neuralpoly_core`` package (numpy, and torch for training) and the standard
library. What the jobs are is up to the core (:mod:`neuralpoly_core.jobs`): the worker
only passes requests on to its registry, so a new job needs no change here.

Run as::

    python worker.py [--core-dir DIR] [--path DIR ...] [--threads N]

``--core-dir`` is the folder that contains ``neuralpoly_core/`` (default: the folder of
this file, where the built extension has it); every ``--path`` is appended to
``sys.path`` (the extension's own ``site-packages``, where PyTorch may be installed);
``--threads`` caps torch's CPU threads so Blender keeps a core for its interface.

Protocol (version 2), one JSON object per line, UTF-8
-----------------------------------------------------
Requests on stdin:

``{"op": "run", "job": "extract_level_set", "id": 7, "arguments": {...}}``
    Run the named job of :data:`neuralpoly_core.jobs.JOBS` with its JSON arguments, e.g.
    ``train`` (``{"specs": [[3, "(4;1)"], ...], "options": {"seed": 0, ...}}``) or
    ``extract_level_set`` (``{"model": "<neuralpoly.model JSON>", "level": 0, "bbox":
    [[-1, 1], [-1, 1], [-1, 1]], "method": "exact", "output": "/tmp/.../mesh.npz"}``).
    Jobs run one after another, in the order they were sent; ``id`` is the caller's.
``{"op": "train", "id": 7, "specs": [[3, "(4;1)"], ...], "options": {...}}``
    Version 1's training request: the same as ``run`` of the job ``train`` with arguments
    ``{"specs": ..., "options": ...}``.
``{"op": "cancel", "id": 7}``
    Cancel job 7 (running or still queued); answered by its ``cancelled`` event.
``{"op": "info"}``
    Answered by an ``info`` event (the same as after start-up).
``{"op": "quit"}``
    Finish: the worker exits after the running job.

Events on stdout:

``{"event": "hello", "protocol": 2, "jobs": ["extract_level_set", "train"], "pid": ..., "python": "3.11.7", "bpy_imported": false}``
    First line, once the core is loaded and before torch is imported (``jobs``: the names
    the worker runs; empty if the core could not be loaded, then an ``error`` event follows).
``{"event": "info", "torch": "2.13.0" | null, "cuda": [names...], "error": null | "...", "bpy_imported": false}``
    After torch was looked for (once at start-up and on request).
``{"event": "progress", "id": 7, "fraction": 0.4, "message": "..."}``
    At most one per :data:`PROGRESS_INTERVAL` seconds per job (and the last one).
``{"event": "result", "id": 7, "job": "train", "result": {...}, "seconds": 0.2}``
    The job's JSON result (``train``: ``{"models": ["<neuralpoly.model JSON with meta>", ...]}``;
    ``extract_level_set``: ``{"mesh": "<.npz path>", "summary": {...}, "seconds": ...}``).
    Files a result names belong to the caller, who removes them.
``{"event": "error", "id": 7, "kind": "TrainingDivergedError", "message": "...", "user_error": true}``
    ``user_error`` is true for :class:`neuralpoly_core.errors.NeuralPolyError` (bad input,
    divergence); false for an unexpected failure, whose ``message`` ends with the traceback.
``{"event": "cancelled", "id": 7}``
``{"event": "bye"}``
    Last line before a clean exit.

Anything the libraries print goes to stderr: stdout carries only protocol lines.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import queue
import sys
import threading
import time
import traceback
from types import ModuleType
from typing import Any, Callable

PROTOCOL = 2
#: Least time between two progress events of one job (seconds).
PROGRESS_INTERVAL = 0.05


class _Channel:
    """Writes protocol events as JSON lines to the real stdout, one line at a time."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, event: str, **fields: Any) -> None:
        line = json.dumps(dict(event=event, **fields), allow_nan=False)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def load_core(core_dir: str) -> ModuleType:
    """Import ``neuralpoly_core`` from ``core_dir`` without putting that folder on sys.path.

    The extension folder holds the add-on's own modules next to the core; loading the core
    by file location keeps them (and their names) out of the worker's import system.
    """
    init = os.path.join(core_dir, "neuralpoly_core", "__init__.py")
    if not os.path.isfile(init):
        raise FileNotFoundError(f"neuralpoly_core not found in {core_dir!r}")
    spec = importlib.util.spec_from_file_location(
        "neuralpoly_core", init, submodule_search_locations=[os.path.dirname(init)])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load neuralpoly_core from {init!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["neuralpoly_core"] = module
    spec.loader.exec_module(module)
    return module


def torch_info() -> dict:
    """Version and CUDA devices of PyTorch, importing it (the worker's first heavy step).

    Also says whether ``bpy`` has been imported into the worker (it never may be).
    """
    info = _torch_info()
    info["bpy_imported"] = "bpy" in sys.modules
    return info


def _torch_info() -> dict:
    try:
        import torch
    except ImportError:
        return {"torch": None, "cuda": [], "error": None}
    except Exception as e:  # a broken install: report it instead of dying
        return {"torch": None, "cuda": [], "error": f"{type(e).__name__}: {e}"}
    cuda = []
    try:
        if torch.cuda.is_available():
            cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as e:
        return {"torch": str(torch.__version__), "cuda": [], "error": f"CUDA: {e}"}
    return {"torch": str(torch.__version__), "cuda": cuda, "error": None}


class Worker:
    """Reads requests on a thread (so a cancel arrives while a job runs), runs jobs on the main thread."""

    def __init__(self, channel: _Channel, stdin, threads: int | None = None) -> None:
        self.channel = channel
        self.stdin = stdin
        self.threads = threads
        self.jobs: queue.Queue = queue.Queue()
        self.cancelled: set = set()
        self.lock = threading.Lock()

    # -- reading requests -----------------------------------------------------------
    def read_requests(self) -> None:
        for raw in self.stdin:
            line = raw.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("a request must be a JSON object")
            except ValueError as e:
                self.channel.send("error", id=None, kind="ProtocolError",
                                  message=f"unreadable request {line[:200]!r}: {e}", user_error=False)
                continue
            op = request.get("op")
            if op == "cancel":
                with self.lock:
                    self.cancelled.add(request.get("id"))
            elif op == "quit":
                break
            else:
                self.jobs.put(request)
        self.jobs.put({"op": "quit"})  # stdin closed or quit: finish after the running job

    # -- running jobs ----------------------------------------------------------------
    def is_cancelled(self, job_id) -> bool:
        with self.lock:
            return job_id in self.cancelled

    def run(self) -> None:
        threading.Thread(target=self.read_requests, name="requests", daemon=True).start()
        self.channel.send("info", **torch_info())
        if self.threads:
            try:
                import torch
                torch.set_num_threads(self.threads)
            except ImportError:
                pass
        while True:
            request = self.jobs.get()
            op = request.get("op")
            if op == "quit":
                break
            if op == "info":
                self.channel.send("info", **torch_info())
            elif op in ("run", "train"):
                self.run_request(request)
            else:
                self.channel.send("error", id=request.get("id"), kind="ProtocolError",
                                  message=f"unknown request op {op!r}", user_error=False)
        self.channel.send("bye")

    def run_request(self, request: dict) -> None:
        """Run one job of the core's registry and answer with its events."""
        job_id = request.get("id")
        if self.is_cancelled(job_id):
            self.channel.send("cancelled", id=job_id)
            return
        if request.get("op") == "train":   # protocol 1
            request = {"job": "train", "arguments": {k: request[k] for k in ("specs", "options") if k in request}}
        # the core was loaded by file location (load_core), hence the dynamic imports
        errors = importlib.import_module("neuralpoly_core.errors")
        Cancelled, NeuralPolyError = errors.Cancelled, errors.NeuralPolyError
        name = request.get("job")
        try:
            run_job = importlib.import_module("neuralpoly_core.jobs").run_job
            last = [0.0]

            def progress(fraction: float, message: str = "") -> None:
                now = time.monotonic()
                if now - last[0] >= PROGRESS_INTERVAL or fraction >= 1.0:
                    last[0] = now
                    self.channel.send("progress", id=job_id, fraction=float(fraction), message=str(message))

            cancel: Callable[[], bool] = lambda: self.is_cancelled(job_id)
            t0 = time.perf_counter()
            result = run_job(name, request.get("arguments") or {}, progress, cancel)
            self.channel.send("result", id=job_id, job=name, result=result, seconds=time.perf_counter() - t0)
        except Cancelled:
            self.channel.send("cancelled", id=job_id)
        except NeuralPolyError as e:
            self.channel.send("error", id=job_id, kind=type(e).__name__, message=str(e), user_error=True)
        except Exception as e:
            self.channel.send("error", id=job_id, kind=type(e).__name__,
                              message=f"{e}\n{traceback.format_exc()}", user_error=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="neuralpoly worker: runs named jobs (JSON lines on stdin/stdout)")
    parser.add_argument("--core-dir", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--path", action="append", default=[])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    # stdout carries the protocol only: everything printed by libraries goes to stderr
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", newline="\n")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    stdin = open(sys.stdin.fileno(), "r", encoding="utf-8", closefd=False)
    channel = _Channel(protocol_out)

    for p in args.path:
        if p and p not in sys.path:
            sys.path.append(p)
    failure: Exception | None = None
    jobs: list[str] = []
    try:
        load_core(args.core_dir)
        jobs = importlib.import_module("neuralpoly_core.jobs").job_names()
    except Exception as e:
        failure = e
    channel.send("hello", protocol=PROTOCOL, jobs=jobs, pid=os.getpid(), python=platform.python_version(),
                 bpy_imported="bpy" in sys.modules)
    if failure is not None:
        channel.send("error", id=None, kind=type(failure).__name__,
                     message=f"the worker process cannot load neuralpoly_core: {failure}", user_error=False)
        return 1
    Worker(channel, stdin, threads=args.threads).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
