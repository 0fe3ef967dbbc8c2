"""Training from Blender: the shared worker process and a cache of trained models.

Training is deterministic for given settings, so a model trained once is kept (by its
settings) for the session: redoing an operator with F9 and other extraction settings, or
laying out a figure again, does not retrain. Training always runs in the worker process
(:mod:`.worker_client`, the core's job ``train``): :func:`plan` says what a modal operator
sends there, :func:`train_blocking` waits for it (scripts, ``blender -b``, F9 redo).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from . import torch_setup
from .neuralpoly_core.network.architecture import ArchType, check_dim
from .neuralpoly_core.errors import NeuralPolyError
from .neuralpoly_core.network import Network
from .neuralpoly_core.network.modelfile import model_from_json
from .worker_client import JobTask, JobWorker, Plan, WorkerError, shared_worker

DEVICES = ("auto", "cpu", "cuda")
CACHE_SIZE = 64


@dataclass(frozen=True)
class TrainSettings:
    """How to train: seed, random restarts, step limit (0 = until converged), device."""

    seed: int = 0
    restarts: int = 8
    steps: int = 0
    device: str = "auto"

    def validated(self) -> "TrainSettings":
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise NeuralPolyError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if isinstance(self.restarts, bool) or not isinstance(self.restarts, int) or self.restarts < 1:
            raise NeuralPolyError(f"restarts must be at least 1, got {self.restarts!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise NeuralPolyError(f"training steps must be >= 0 (0 = until converged), got {self.steps!r}")
        device = str(self.device).lower()
        if device not in DEVICES:
            raise NeuralPolyError(f"device must be Auto, CPU or CUDA, got {self.device!r}")
        return TrainSettings(self.seed, self.restarts, self.steps, device)

    def options(self) -> dict:
        """Keyword arguments of ``neuralpoly_core.training.train_sweep``."""
        return {"seed": self.seed, "restarts": self.restarts,
                "max_steps": self.steps or None, "device": self.device}


Spec = tuple[int, ArchType]
_cache: OrderedDict[tuple, tuple[Network, dict]] = OrderedDict()


def _key(spec: Spec, settings: TrainSettings) -> tuple:
    return (spec[0], str(spec[1]), settings.seed, settings.restarts, settings.steps, settings.device)


def normalise_specs(specs: Sequence) -> list[Spec]:
    return [(check_dim(d), ArchType.parse(a)) for d, a in specs]


def cached(spec: Spec, settings: TrainSettings) -> tuple[Network, dict] | None:
    """The model trained earlier in this session with these settings, if any."""
    key = _key(spec, settings)
    hit = _cache.get(key)
    if hit is None:
        return None
    _cache.move_to_end(key)
    return hit[0].copy(), dict(hit[1])


def remember(spec: Spec, settings: TrainSettings, model: tuple[Network, dict]) -> None:
    _cache[_key(spec, settings)] = (model[0].copy(), dict(model[1]))
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)


def missing(specs: Sequence[Spec], settings: TrainSettings) -> list[Spec]:
    """The specs (without repeats) that still need training."""
    out: list[Spec] = []
    for s in specs:
        if cached(s, settings) is None and s not in out:
            out.append(s)
    return out


def worker() -> JobWorker:
    return shared_worker(torch_setup.worker_paths())


def warm_up() -> None:
    """Start the worker ahead of time (it imports torch, which takes a second or two)."""
    if torch_setup.torch_status().installed:
        worker().start()


def arguments(specs: Sequence[Spec], settings: TrainSettings) -> dict:
    """The JSON arguments of the core's ``train`` job for ``specs``."""
    return {"specs": [[int(d), str(a)] for d, a in specs],
            "options": {k: v for k, v in settings.options().items() if v is not None}}


def start(specs: Sequence[Spec], settings: TrainSettings) -> JobTask:
    """Queue training of ``specs`` in the worker; raises if PyTorch is missing."""
    torch_setup.require_torch()
    return worker().submit("train", arguments(specs, settings))


def models_of(result: dict) -> list[tuple[Network, dict]]:
    """The ``(network, meta)`` pairs of a ``train`` job's result."""
    try:
        return [model_from_json(str(t)) for t in result["models"]]
    except (KeyError, TypeError, NeuralPolyError) as e:
        raise WorkerError(f"the worker process sent an unreadable model: {e}") from None


def collect(specs: Sequence[Spec], settings: TrainSettings, result: dict) -> None:
    """Put the models of a finished ``train`` job of ``specs`` into the cache."""
    for spec, model in zip(specs, models_of(result)):
        remember(spec, settings, model)


def plan(specs: Sequence, settings: TrainSettings, then: Callable[[], Any]) -> Plan | None:
    """Train what ``specs`` still need in the worker, then call ``then()`` (which finds every
    model in the cache); None when nothing needs training. Raises if PyTorch is missing."""
    settings = settings.validated()
    todo = missing(normalise_specs(specs), settings)
    if not todo:
        return None
    torch_setup.require_torch()

    def finish(result: dict) -> Any:
        collect(todo, settings, result)
        return then()
    n = len(todo)
    return Plan("train", arguments(todo, settings), finish, "Training",
                f"Training {n} network{'s' if n > 1 else ''}")


def train_blocking(specs: Sequence[Spec], settings: TrainSettings,
                   progress: Callable[[float, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None) -> list[tuple[Network, dict]]:
    """Models for every spec, training in the worker (and waiting) what is not cached."""
    settings = settings.validated()
    specs = normalise_specs(specs)
    todo = missing(specs, settings)
    if todo:
        collect(todo, settings, start(todo, settings).wait(progress=progress, cancel=cancel))
    out = []
    for s in specs:
        model = cached(s, settings)
        if model is None:  # evicted by a huge batch: cannot happen below CACHE_SIZE specs
            raise NeuralPolyError(f"the trained model of {s[1]} was lost; train fewer networks at once")
        out.append(model)
    return out
