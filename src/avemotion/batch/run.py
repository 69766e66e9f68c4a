"""A whole batch: inputs -> tasks (skipping the clips already done) -> an engine -> the output."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from avemotion.batch.engines import FeatureJob, PredictJob, Task, failed
from avemotion.batch.results import ResultLog
from avemotion.cache import FeatureCache
from avemotion.errors import AvemotionError


class Engine(Protocol):
    def map(self, job: Any, items: Any) -> Iterator[Any]: ...


@dataclass
class Summary:
    """What a batch did: clips done (analysed), skipped (already in the output), failed, and
    the time it took (s)."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return 60.0 * (self.done + self.failed) / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"{self.done} done, {self.skipped} skipped (already in the output), {self.failed} failed; "
                f"{self.per_minute:.1f} clips per minute")


def run_batch(
    files: Sequence[Path],
    engine: Engine,
    job: PredictJob,
    log: ResultLog,
    *,
    timeline: bool = False,
    window: float = 2.0,
    hop: float = 1.0,
    progress: bool | None = None,
) -> Summary:
    """Analyse ``files`` with ``job`` on ``engine``, each clip's record written to ``log`` as
    soon as it is done; clips already in ``log`` (same path and content hash) are skipped."""
    cache = FeatureCache()
    summary = Summary()
    tasks: list[Task] = []
    for path in files:
        source = str(path)
        try:
            digest = cache.file_digest(path)
        except AvemotionError as error:
            log.write({"source": source, "sha256": "", "error": str(error)})
            summary.failed += 1
            summary.failures.append(str(error))
            continue
        if (source, digest) in log.done:
            summary.skipped += 1
            continue
        tasks.append(Task(source, digest, timeline, window, hop))
    show = sys.stderr.isatty() if progress is None else progress
    tic = time.perf_counter()
    with tqdm(total=len(tasks), desc="predict", unit="clip", disable=not show, smoothing=0.1) as bar:
        for result in engine.map(job, tasks) if tasks else ():
            lost = failed(result)
            record = result if lost is None else {"source": lost[0].source, "sha256": lost[0].sha256, "error": lost[1]}
            log.write(record)
            if "error" in record:
                summary.failed += 1
                summary.failures.append(record["error"])
            else:
                summary.done += 1
            bar.update(1)
    summary.seconds = time.perf_counter() - tic
    return summary


def fill_feature_cache(
    paths: Sequence[str], recipe: dict[str, Any], engine: Engine, *, threads: int | None = None,
    progress: bool | None = None,
) -> list[str]:
    """Compute ``recipe``'s features of ``paths`` into the user's feature cache on ``engine``'s
    workers (``train`` and ``evaluate`` then read them back); returns ``"path: problem"`` for
    each file that failed."""
    job = FeatureJob(recipe, str(FeatureCache().root), threads)
    failures: list[str] = []
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(paths), desc="features", unit="clip", disable=not show) as bar:
        for result in engine.map(job, list(paths)):
            lost = failed(result)
            path, error = (lost[0], lost[1]) if lost is not None else result
            if error is not None:
                failures.append(error if lost is None else f"{path}: {error}")
            bar.update(1)
    return failures
