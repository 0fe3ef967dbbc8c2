"""Blender's side of the worker process: start it, send jobs, read events without blocking.

The worker runs the core's named jobs (:mod:`neuralpoly_core.jobs`: ``train``,
``extract_level_set``, ...). No threads run in Blender's process: a modal operator calls
:meth:`JobTask.update` from its timer, which reads whatever the worker has written so far
(non-blocking pipe reads) and returns at once. Scripts and ``blender -b`` call
:meth:`JobTask.wait`, which blocks on the pipe until the job ends, or run the job in their
own process (:func:`run_here`). See ``worker.py`` for the protocol.

A :class:`Plan` is what one operation does: the job to run and what its result then changes
in the scene; the same plan runs in the worker (modal operators) or here (everything else),
so both give the same result.

This module does not import ``bpy`` either, so it is tested in plain Python too.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .neuralpoly_core import errors
from .neuralpoly_core.errors import Cancelled, NeuralPolyError
from .neuralpoly_core.jobs import run_job

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
#: Seconds a worker may take to say hello after it was started.
START_TIMEOUT = 60.0
#: Seconds a cancelled job may take to stop before its worker is killed.
CANCEL_GRACE = 3.0


class WorkerError(NeuralPolyError):
    """The worker process failed (could not start, stopped unexpectedly, or crashed)."""


class _LineReader:
    """Non-blocking line reader on a pipe (POSIX: O_NONBLOCK; Windows: PeekNamedPipe)."""

    def __init__(self, pipe) -> None:
        self.fd = pipe.fileno()
        self.buffer = b""
        self.eof = False
        if os.name == "posix":
            os.set_blocking(self.fd, False)

    def _available(self) -> int:
        """Bytes that can be read now without blocking (Windows)."""
        import _winapi
        import msvcrt
        try:
            avail, _ = _winapi.PeekNamedPipe(msvcrt.get_osfhandle(self.fd), 0)  # type: ignore[attr-defined]
        except OSError:  # broken pipe: the worker has exited
            self.eof = True
            return 0
        return int(avail)

    def read_lines(self) -> list[bytes]:
        """Every complete line available now (may be empty)."""
        while not self.eof:
            try:
                if os.name == "posix":
                    chunk = os.read(self.fd, 1 << 16)
                else:
                    n = self._available()
                    if n == 0:
                        break
                    chunk = os.read(self.fd, n)
            except BlockingIOError:
                break
            except OSError:
                self.eof = True
                break
            if not chunk:
                self.eof = True
                break
            self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return lines

    def wait_readable(self, timeout: float) -> None:
        """Block until data may be available, at most ``timeout`` seconds."""
        if self.eof:
            return
        if os.name == "posix":
            import select
            select.select([self.fd], [], [], max(timeout, 0.0))
        else:  # no select() on Windows pipes: poll
            end = time.monotonic() + timeout
            while time.monotonic() < end and self._available() == 0 and not self.eof:
                time.sleep(0.01)


class JobWorker:
    """One worker process; jobs run one after another in submission order.

    Parameters
    ----------
    python : str
        The Python executable (Blender's bundled Python is ``sys.executable``).
    extra_paths : iterable of str
        Folders appended to the worker's ``sys.path`` (where PyTorch may be installed).
    core_dir : str, optional
        Folder that contains ``neuralpoly_core/`` (default: next to ``worker.py``).
    threads : int, optional
        Cap on torch's CPU threads (default: all cores but one, at least one).
    """

    def __init__(self, python: str | None = None, extra_paths: Iterable[str] = (),
                 core_dir: str | None = None, threads: int | None = None) -> None:
        self.python = python or sys.executable
        self.extra_paths = [str(p) for p in extra_paths]
        self.core_dir = core_dir or os.path.dirname(WORKER_SCRIPT)
        self.threads = threads if threads is not None else max(1, (os.cpu_count() or 2) - 1)
        self.process: subprocess.Popen | None = None
        self.reader: _LineReader | None = None
        self.stderr_file: Any = None
        self.hello: dict | None = None
        self.info: dict | None = None
        self.tasks: dict[int, JobTask] = {}
        self._ids = itertools.count(1)
        self._started_at = 0.0

    # -- process -----------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        """Start the process if it is not running (returns at once; hello comes later)."""
        if self.alive:
            return
        self._reset_process()
        cmd = [self.python]
        # run the worker like Blender runs Python: without user site-packages and
        # PYTHON* variables when Blender ignores them
        if sys.flags.no_user_site:
            cmd.append("-s")
        if sys.flags.ignore_environment:
            cmd.append("-E")
        cmd += [WORKER_SCRIPT, "--core-dir", self.core_dir, "--threads", str(self.threads)]
        for p in self.extra_paths:
            cmd += ["--path", p]
        self.stderr_file = tempfile.TemporaryFile()
        kwargs: dict[str, Any] = {}
        if os.name == "nt":
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
        env = dict(os.environ)
        env.setdefault("PYTHONIOENCODING", "utf-8")
        try:
            self.process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self.stderr_file, env=env, **kwargs)
        except OSError as e:
            self.process = None
            raise WorkerError(f"cannot start the worker process ({self.python}): {e}") from None
        self.reader = _LineReader(self.process.stdout)
        self._started_at = time.monotonic()

    def _close_streams(self) -> None:
        """Close the worker's pipes (if any), ignoring errors of a dead process."""
        if self.process is None:
            return
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def _reset_process(self) -> None:
        self.process = None
        self.reader = None
        self.hello = None
        if self.stderr_file is not None:
            self.stderr_file.close()
            self.stderr_file = None

    def stderr_tail(self, n_chars: int = 1500) -> str:
        """The end of what the worker wrote to stderr (for error messages)."""
        if self.stderr_file is None:
            return ""
        try:
            self.stderr_file.seek(0, os.SEEK_END)
            size = self.stderr_file.tell()
            self.stderr_file.seek(max(0, size - n_chars))
            return self.stderr_file.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def _send(self, message: dict) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._worker_died()

    def kill(self) -> None:
        """Stop the process at once; its unfinished tasks fail (or count as cancelled)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self._close_streams()
        self._fail_all(None)
        self._reset_process()

    def close(self, timeout: float = 2.0) -> None:
        """Ask the worker to quit; kill it if it has not within ``timeout`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._send({"op": "quit"})
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    # -- events ------------------------------------------------------------------------
    def pump(self) -> None:
        """Read and dispatch every event available now (never blocks)."""
        if self.reader is None:
            return
        for raw in self.reader.read_lines():
            line = raw.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not a protocol line
            self._dispatch(event)
        if self.reader is None:  # an event made us stop the worker
            return
        if self.process is not None and (self.reader.eof or self.process.poll() is not None):
            if not self.reader.eof:
                return  # it exited: read what is left in the pipe first, notice the exit next time
            self._worker_died()
        elif self.hello is None and time.monotonic() - self._started_at > START_TIMEOUT:
            self.kill_with_error(f"the worker process did not start within {START_TIMEOUT:.0f} s")

    def _dispatch(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "hello":
            self.hello = event
            return
        if kind == "info":
            self.info = event
            return
        task = self.tasks.get(event.get("id"))  # type: ignore[arg-type]
        if task is None:
            if kind == "error" and event.get("id") is None:
                self.kill_with_error(str(event.get("message")))
            return
        task._handle(event)
        if task.finished:
            self.tasks.pop(task.id, None)

    def _worker_died(self) -> None:
        code = None if self.process is None else self.process.poll()
        if self.process is not None and code is None:
            try:
                code = self.process.wait(2)
            except subprocess.TimeoutExpired:
                code = None
        tail = self.stderr_tail()
        msg = f"the worker process stopped unexpectedly (exit code {code})"
        if tail:
            msg += f": {tail.splitlines()[-1]}"
        self._fail_all(msg)
        self._close_streams()
        self._reset_process()

    def kill_with_error(self, message: str) -> None:
        self._fail_all(message)
        self.kill()

    def _fail_all(self, message: str | None) -> None:
        for task in list(self.tasks.values()):
            if task.cancel_requested or message is None:
                task._finish("cancelled")
            else:
                task._finish("error", message)
        self.tasks.clear()

    # -- jobs --------------------------------------------------------------------------
    def submit(self, job: str, arguments: dict) -> "JobTask":
        """Queue the named job with JSON ``arguments``; returns its task at once."""
        self.start()
        task = JobTask(self, next(self._ids), job, arguments)
        self.tasks[task.id] = task
        self._send({"op": "run", "job": job, "id": task.id, "arguments": arguments})
        return task

    def request_info(self) -> None:
        self.start()
        self._send({"op": "info"})

    def wait_info(self, timeout: float = START_TIMEOUT) -> dict:
        """Block until the worker has reported its PyTorch version and devices."""
        self.start()
        end = time.monotonic() + timeout
        while self.info is None:
            if not self.alive and self.reader is None:
                raise WorkerError("the worker process stopped before it reported its PyTorch version")
            if time.monotonic() > end:
                raise WorkerError(f"the worker process did not answer within {timeout:.0f} s")
            assert self.reader is not None
            self.reader.wait_readable(0.1)
            self.pump()
        return self.info


class JobTask:
    """One job on a worker: state, progress, and its result once done.

    ``state`` is ``'running'`` until it becomes ``'done'``, ``'error'`` or
    ``'cancelled'``; ``value`` then holds the job's JSON result.
    """

    def __init__(self, worker: JobWorker, task_id: int, job: str, arguments: dict) -> None:
        self.worker = worker
        self.id = task_id
        self.job = job
        self.arguments = arguments
        self.state = "running"
        self.fraction = 0.0
        self.message = "starting the worker process"
        self.error: str | None = None
        self.error_kind: str | None = None
        self.user_error = False
        self.value: dict | None = None
        self.cancel_requested = False
        self._cancel_time = 0.0

    @property
    def finished(self) -> bool:
        return self.state != "running"

    def _handle(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "progress":
            self.fraction = float(event.get("fraction", 0.0))
            self.message = str(event.get("message", ""))
        elif kind == "result":
            value = event.get("result")
            if not isinstance(value, dict):
                self._finish("error", f"the worker process sent an unreadable result of job {self.job!r}")
                return
            self.value = value
            self._finish("done")
        elif kind == "cancelled":
            self._finish("cancelled")
        elif kind == "error":
            self.error_kind = str(event.get("kind"))
            self.user_error = bool(event.get("user_error"))
            self._finish("error", str(event.get("message")))

    def _finish(self, state: str, error: str | None = None) -> None:
        if self.finished:
            return
        self.state = state
        self.error = error
        if state == "done":
            self.fraction = 1.0

    def update(self) -> bool:
        """Read what the worker sent so far; True once the task has finished. Never blocks."""
        if not self.finished:
            self.worker.pump()
            if (not self.finished and self.cancel_requested
                    and time.monotonic() - self._cancel_time > CANCEL_GRACE):
                # the job did not stop in time: stop the whole worker (it restarts on demand)
                self.worker.kill()
        return self.finished

    def cancel(self) -> None:
        """Ask the worker to stop this job; :meth:`update` then reports ``'cancelled'``."""
        if self.finished or self.cancel_requested:
            return
        self.cancel_requested = True
        self._cancel_time = time.monotonic()
        if self.worker.alive:
            self.worker._send({"op": "cancel", "id": self.id})
        else:
            self._finish("cancelled")

    def wait(self, progress: Callable[[float, str], None] | None = None,
             cancel: Callable[[], bool] | None = None, timeout: float | None = None) -> dict:
        """Block until the job ends; return its result.

        Raises
        ------
        NeuralPolyError
            The worker's message for bad input or divergence; :class:`WorkerError` if the
            worker failed.
        Cancelled
            If ``cancel()`` returned True (the job is cancelled) or it was cancelled otherwise.
        """
        end = None if timeout is None else time.monotonic() + timeout
        while not self.update():
            if cancel is not None and cancel():
                self.cancel()
            if end is not None and time.monotonic() > end:
                self.cancel()
                end = None
            if progress is not None:
                progress(self.fraction, self.message)
            reader = self.worker.reader
            if reader is not None:
                reader.wait_readable(0.1)
        return self.result()

    def result(self) -> dict:
        """The job's result; raises the job's error if it did not finish well."""
        if self.state == "done" and not self.cancel_requested:
            assert self.value is not None
            return self.value
        if self.state in ("done", "cancelled"):
            raise Cancelled(f"job {self.job!r} cancelled")
        if self.state == "error":
            if self.user_error:   # the same NeuralPolyError subclass as in the worker
                kind = getattr(errors, self.error_kind or "", None)
                cls = kind if isinstance(kind, type) and issubclass(kind, NeuralPolyError) else NeuralPolyError
                raise cls(self.error or f"job {self.job!r} failed")
            raise WorkerError(self.error or "the worker process failed")
        raise RuntimeError(f"job {self.job!r} is still running")


@dataclass
class Plan:
    """One operation: a named job (:mod:`neuralpoly_core.jobs`) and what its result changes.

    ``finish(result)`` makes the change (adds the object, ...) and returns what the operation
    returns; ``cleanup()`` runs once in the end, finished or not (it removes the temporary
    files the job writes). ``job`` None: nothing long to run, ``finish(None)`` does it all.
    ``what`` names the work in messages ("Training", "Level-set extraction"), ``title`` is
    the progress text.
    """

    job: str | None
    arguments: dict
    finish: Callable[[Any], Any]
    what: str
    title: str = ""
    cleanup: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Run ``cleanup`` (once)."""
        cleanup, self.cleanup = self.cleanup, None
        if cleanup is not None:
            cleanup()

    def finish_with(self, result_of: Callable[[], Any]) -> Any:
        """``finish(result_of())`` (``result_of`` raises the job's error), then :meth:`close`,
        whatever happens."""
        try:
            return self.finish(result_of())
        finally:
            self.close()


def run_here(plan: Plan, progress: Callable[[float, str], None] | None = None,
             cancel: Callable[[], bool] | None = None) -> Any:
    """Run ``plan`` in this process, synchronously: its job, then ``finish``."""
    job = plan.job
    return plan.finish_with(lambda: None if job is None else run_job(job, plan.arguments, progress, cancel))


_shared: JobWorker | None = None


def shared_worker(extra_paths: Iterable[str] = ()) -> JobWorker:
    """The add-on's one worker, started on demand and kept warm between jobs."""
    global _shared
    paths = [str(p) for p in extra_paths]
    if _shared is not None and _shared.extra_paths != paths:
        _shared.close()
        _shared = None
    if _shared is None:
        _shared = JobWorker(extra_paths=paths)
    return _shared


def shutdown_shared_worker() -> None:
    """Stop the add-on's worker (on unregister and at exit)."""
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


atexit.register(shutdown_shared_worker)
