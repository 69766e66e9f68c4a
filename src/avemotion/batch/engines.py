"""Where a batch's clips are analysed: in this process, in worker processes on this machine, or
over a Ray cluster. Every engine loads the model once per worker and yields one record per clip
(see :mod:`.results`), in completion order, with a bounded number of clips in flight.

A record is what :func:`analyse_clip` returns: the clip's prediction dict (or ``timeline``),
or ``error`` for a clip that failed; ``source`` and ``sha256`` are added by the caller's task.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from avemotion.errors import AvemotionError


@dataclass(frozen=True)
class Task:
    """One clip to analyse: its path, content hash and the analysis asked for."""

    source: str
    sha256: str
    timeline: bool = False
    window: float = 2.0
    hop: float = 1.0


@dataclass(frozen=True)
class ModelSpec:
    """The model every worker loads: a bundle name or folder, and torch threads per worker."""

    model: str = "default"
    threads: int | None = None


def load_model(spec: ModelSpec) -> Any:
    """The recognizer of ``spec`` (torch on ``spec.threads`` threads when given)."""
    if spec.threads:
        import torch

        torch.set_num_threads(spec.threads)
    from avemotion.prediction.recognizer import Recognizer

    return Recognizer.load(spec.model)


def analyse_clip(recognizer: Any, task: Task) -> dict[str, Any]:
    """The record of one clip: its prediction (or timeline), or the error that stopped it."""
    record: dict[str, Any] = {"source": task.source, "sha256": task.sha256}
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


class LocalEngine:
    """``workers`` = 1: this process; more: that many worker processes (spawned), each loading
    the model once, with torch's threads shared out (cores // workers each)."""

    def __init__(self, spec: ModelSpec, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.spec, self.workers = spec, workers

    def run(self, tasks: Iterable[Task]) -> Iterator[dict[str, Any]]:
        if self.workers == 1:
            recognizer = load_model(self.spec)
            for task in tasks:
                yield analyse_clip(recognizer, task)
            return
        threads = self.spec.threads or max(1, (os.cpu_count() or 1) // self.workers)
        spec = ModelSpec(self.spec.model, threads)
        context = multiprocessing.get_context("spawn")
        with context.Pool(self.workers, initializer=_init_worker, initargs=(spec,)) as pool:
            yield from pool.imap_unordered(_work, tasks, chunksize=1)


_WORKER: dict[str, Any] = {}


def _init_worker(spec: ModelSpec) -> None:
    """A worker process's start: load the model once."""
    _WORKER["recognizer"] = load_model(spec)


def _work(task: Task) -> dict[str, Any]:
    return analyse_clip(_WORKER["recognizer"], task)
