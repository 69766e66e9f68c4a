"""Where a batch's items are processed: in this process, in worker processes on this machine,
or over a Ray cluster.

An engine maps a :class:`Job` over items: each worker calls ``job.setup()`` once (e.g. loads
the model) and then ``job(state, item)`` for each item it is given; results come back in
completion order with a bounded number of items in flight, so memory does not grow with the
archive. Jobs: :class:`PredictJob` (one clip -> its record, see :mod:`.results`) and
:class:`FeatureJob` (one file -> its recipe features in the feature cache).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from avemotion.errors import AvemotionError


class Job(Protocol):
    def setup(self) -> Any: ...

    def __call__(self, state: Any, item: Any) -> Any: ...


@dataclass(frozen=True)
class Task:
    """One clip to analyse: its path, content hash and the analysis asked for."""

    source: str
    sha256: str
    timeline: bool = False
    window: float = 2.0
    hop: float = 1.0


def _threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


@dataclass(frozen=True)
class PredictJob:
    """Analyse clips with the recognizer ``model`` (a bundle name or folder); torch on
    ``threads`` threads per worker when given."""

    model: str = "default"
    threads: int | None = None

    def setup(self) -> Any:
        _threads(self.threads)
        from avemotion.prediction.recognizer import Recognizer

        return Recognizer.load(self.model)

    def __call__(self, recognizer: Any, task: Task) -> dict[str, Any]:
        """The record of one clip: its prediction (or timeline), or the error that stopped it."""
        record: dict[str, Any] = {}
        try:
            if task.timeline:
                windows = recognizer.timeline(task.source, window=task.window, hop=task.hop)
                record["timeline"] = [w.to_dict() for w in windows]
            else:
                record.update(recognizer.analyse(task.source).to_dict())
        except AvemotionError as error:
            record["error"] = str(error)
        record["source"], record["sha256"] = task.source, task.sha256
        return record


@dataclass(frozen=True)
class FeatureJob:
    """Compute a recipe's features of files into the feature cache (``cache_dir``: its folder,
    default the user's), for ``train`` and ``evaluate`` to read back."""

    recipe: dict[str, Any]
    cache_dir: str | None = None
    threads: int | None = None

    def setup(self) -> Any:
        _threads(self.threads)
        from avemotion.cache import FeatureCache

        return FeatureCache(self.cache_dir) if self.cache_dir else FeatureCache()

    def __call__(self, cache: Any, path: str) -> tuple[str, str | None]:
        """``(path, None)`` once the file's features are in the cache, ``(path, error)`` if not."""
        from avemotion.features import file_features

        try:
            file_features(path, self.recipe, cache)
        except AvemotionError as error:
            return path, str(error)
        return path, None


class LocalEngine:
    """``workers`` = 1: this process; more: that many worker processes (spawned), each running
    the job's setup once, with torch's threads shared out (cores // workers each)."""

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers

    def map(self, job: Job, items: Iterable[Any]) -> Iterator[Any]:
        if self.workers == 1:
            state = job.setup()
            for item in items:
                yield job(state, item)
            return
        context = multiprocessing.get_context("spawn")
        with context.Pool(self.workers, initializer=_init_worker, initargs=(job,)) as pool:
            yield from pool.imap_unordered(_work, items, chunksize=1)

    @staticmethod
    def threads_per_worker(workers: int) -> int:
        return max(1, (os.cpu_count() or 1) // workers)


_WORKER: dict[str, Any] = {}


def _init_worker(job: Job) -> None:
    """A worker process's start: the job's setup, once."""
    _WORKER["job"], _WORKER["state"] = job, job.setup()


def _work(item: Any) -> Any:
    return _WORKER["job"](_WORKER["state"], item)


class _RayWorker:
    """A Ray actor holding one job's state (e.g. one loaded model)."""

    def __init__(self, job: Job) -> None:
        self.job, self.state = job, job.setup()

    def pid(self) -> int:
        return os.getpid()

    def run(self, item: Any) -> Any:
        return self.job(self.state, item)


class RayEngine:
    """Items over a Ray cluster: one actor per worker (default: one per CPU of the cluster),
    each running the job's setup once; at most ``in_flight`` items submitted at a time
    (default: 2 per actor) so memory does not grow with the input; an actor that dies is
    restarted and its item retried (up to ``retries`` times), after which the item is given
    back as the exception. ``address``: an existing cluster (``ray start --head`` prints it);
    none: a local cluster on ``num_cpus`` CPUs, started and stopped here."""

    def __init__(self, *, address: str | None = None, workers: int | None = None, in_flight: int | None = None,
                 num_cpus: int | None = None, retries: int = 3) -> None:
        self.address, self.workers, self.in_flight = address, workers, in_flight
        self.num_cpus, self.retries = num_cpus, retries
        self.actors: list[Any] = []

    def map(self, job: Job, items: Iterable[Any]) -> Iterator[Any]:
        try:
            import ray
        except ImportError:
            raise AvemotionError('the Ray engine needs the ray package (pip install -e ".[ray]")') from None
        started = not ray.is_initialized()
        if started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.num_cpus or os.cpu_count(), **kwargs)
        try:
            n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
            worker = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=self.retries)(_RayWorker)
            self.actors = [worker.remote(job) for _ in range(n)]
            limit = self.in_flight or 2 * n
            pending: dict[Any, tuple[int, Any]] = {}
            load = [0] * n
            stream = iter(items)
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < limit:
                    item = next(stream, _END)
                    if item is _END:
                        exhausted = True
                        break
                    k = load.index(min(load))
                    pending[self.actors[k].run.remote(item)] = (k, item)
                    load[k] += 1
                if not pending:
                    break
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                k, item = pending.pop(ref)
                load[k] -= 1
                try:
                    yield ray.get(ref)
                except ray.exceptions.RayError as error:
                    yield _Failed(item, f"the worker failed: {type(error).__name__}")
        finally:
            for actor in self.actors:
                ray.kill(actor)
            self.actors = []
            if started:
                ray.shutdown()


_END = object()


@dataclass(frozen=True)
class _Failed:
    """An item whose worker died more often than the engine retries."""

    item: Any
    error: str


def failed(result: Any) -> tuple[Any, str] | None:
    """``(item, error)`` when ``result`` is an engine's report of an item it could not process."""
    return (result.item, result.error) if isinstance(result, _Failed) else None
