"""Speaker-independent splits of a clip table, named splits, and the leakage check.

A :class:`Fold` holds row positions (``np.ndarray`` of int) into one clip table. Every splitter
groups rows by the ``speaker`` column, so a speaker is never on two sides; :func:`check_fold`
refuses any fold that breaks this, and every function here calls it before returning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from avemotion.errors import SpeakerLeakageError, SplitError


@dataclass(frozen=True)
class Fold:
    """One train / (validation) / test partition of a clip table, as row positions."""

    name: str
    train: np.ndarray
    test: np.ndarray
    validation: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int))

    def parts(self) -> dict[str, np.ndarray]:
        """The non-empty parts by name (``train``, ``validation``, ``test``)."""
        named = {"train": self.train, "validation": self.validation, "test": self.test}
        return {k: v for k, v in named.items() if len(v)}


def _speakers(table: pd.DataFrame) -> np.ndarray:
    if "speaker" not in table.columns:
        raise SplitError("the clip table has no 'speaker' column")
    speakers = table["speaker"].to_numpy(dtype=object)
    missing = pd.isna(speakers)
    if missing.any():
        first = table["clip_id"].iloc[int(np.flatnonzero(missing)[0])]
        raise SplitError(
            f"{int(missing.sum())} clips have no speaker (first: {first}); a speaker-independent "
            "split needs a speaker for every clip (use the corpus's own partition instead)"
        )
    return speakers.astype(str)


def check_fold(table: pd.DataFrame, fold: Fold) -> None:
    """Raise :class:`SpeakerLeakageError` if a speaker or a row is in two parts of ``fold``.

    Rows without a speaker (e.g. FER2013 images) cannot leak a speaker and are only checked
    for being in two parts at once.
    """
    parts = fold.parts()
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared_rows = np.intersect1d(parts[a], parts[b])
            if len(shared_rows):
                raise SpeakerLeakageError(
                    f"split {fold.name!r}: {len(shared_rows)} clips are in both {a} and {b}"
                )
    speakers = table["speaker"].to_numpy(dtype=object) if "speaker" in table.columns else None
    if speakers is None:
        return
    sets = {k: {s for s in speakers[v] if not pd.isna(s)} for k, v in parts.items()}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = sorted(sets[a] & sets[b])
            if both:
                shown = ", ".join(both[:5]) + (" ..." if len(both) > 5 else "")
                raise SpeakerLeakageError(
                    f"split {fold.name!r}: speakers in both {a} and {b}: {shown}"
                )


def check_folds(table: pd.DataFrame, folds: Sequence[Fold]) -> list[Fold]:
    """Check every fold with :func:`check_fold`; return them unchanged."""
    for fold in folds:
        check_fold(table, fold)
    return list(folds)


def _count(n: int, noun: str) -> str:
    """``3 speakers``, ``1 speaker``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _rows_of(speakers: np.ndarray, chosen: set[str]) -> np.ndarray:
    return np.flatnonzero(np.isin(speakers, sorted(chosen)))


def speaker_kfold(table: pd.DataFrame, n_splits: int = 5, *, seed: int = 0) -> list[Fold]:
    """K folds with disjoint speakers; speakers are shuffled with ``seed`` then dealt so the
    folds' clip counts are as even as possible (largest speaker first, to the smallest fold).
    """
    speakers = _speakers(table)
    unique, counts = np.unique(speakers, return_counts=True)
    if n_splits < 2:
        raise SplitError(f"cross-validation needs at least 2 folds, not {n_splits}")
    if n_splits > len(unique):
        least = "at least 2 speakers" if len(unique) < 2 else f"a speaker per fold: {n_splits} speakers for {n_splits} folds"
        raise SplitError(f"cross-validation by speaker needs {least}; the data has {_count(len(unique), 'speaker')}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(unique))
    order = order[np.argsort(-counts[order], kind="stable")]
    groups: list[set[str]] = [set() for _ in range(n_splits)]
    sizes = np.zeros(n_splits, dtype=int)
    for idx in order:
        k = int(np.argmin(sizes))
        groups[k].add(str(unique[idx]))
        sizes[k] += counts[idx]
    folds = []
    for k, group in enumerate(groups):
        test = _rows_of(speakers, group)
        train = np.setdiff1d(np.arange(len(table)), test)
        folds.append(Fold(f"fold{k + 1}", train=train, test=test))
    return check_folds(table, folds)


def speaker_train_test_split(
    table: pd.DataFrame,
    *,
    validation: float = 0.15,
    test: float = 0.15,
    seed: int = 0,
    name: str = "random",
) -> Fold:
    """One train/validation/test split by speaker; fractions are of speakers (at least one each
    when the fraction is positive), stratified by gender when genders are known.
    """
    speakers = _speakers(table)
    return _split_speakers(table, speakers, np.arange(len(table)), validation, test, seed, name)


def with_validation(table: pd.DataFrame, fold: Fold, *, fraction: float = 0.15, seed: int = 0) -> Fold:
    """Carve a validation part out of ``fold.train`` by speaker (never from the test part)."""
    speakers = _speakers(table)
    split = _split_speakers(table, speakers, fold.train, fraction, 0.0, seed, fold.name)
    out = Fold(fold.name, train=split.train, test=fold.test, validation=split.validation)
    check_fold(table, out)
    return out


def _split_speakers(
    table: pd.DataFrame,
    speakers: np.ndarray,
    rows: np.ndarray,
    validation: float,
    test: float,
    seed: int,
    name: str,
) -> Fold:
    if not 0 <= validation < 1 or not 0 <= test < 1 or validation + test >= 1:
        raise SplitError("validation and test fractions must be in [0, 1) and sum below 1")
    rng = np.random.default_rng(seed)
    genders = (
        table["gender"].to_numpy(dtype=object)[rows] if "gender" in table.columns else np.full(len(rows), None)
    )
    gender_of = {s: ("?" if pd.isna(g) else str(g)) for s, g in zip(speakers[rows], genders)}
    by_gender: dict[str, list[str]] = {}
    for s in sorted(gender_of):
        by_gender.setdefault(gender_of[s], []).append(s)
    n_total = len(gender_of)
    n_val = max(1, round(validation * n_total)) if validation > 0 else 0
    n_test = max(1, round(test * n_total)) if test > 0 else 0
    if n_val + n_test >= n_total:
        parts = " and ".join(["train", *(["validation"] if n_val else []), *(["test"] if n_test else [])])
        raise SplitError(f"{name}: a split by speaker into {parts} needs at least {n_val + n_test + 1} speakers; "
                         f"the data has {_count(n_total, 'speaker')}")
    # Interleave genders so the first speakers drawn alternate between them.
    pools = [list(rng.permutation(v)) for _, v in sorted(by_gender.items())]
    order: list[str] = []
    while any(pools):
        for pool in pools:
            if pool:
                order.append(str(pool.pop()))
    val_speakers = set(order[:n_val])
    test_speakers = set(order[n_val : n_val + n_test])
    sub = speakers[rows]
    fold = Fold(
        name,
        train=rows[~np.isin(sub, sorted(val_speakers | test_speakers))],
        validation=rows[np.isin(sub, sorted(val_speakers))],
        test=rows[np.isin(sub, sorted(test_speakers))],
    )
    check_fold(table, fold)
    return fold


# --- named splits ------------------------------------------------------------------------


def _ravdess_actor(speakers: np.ndarray) -> np.ndarray:
    actors = np.full(len(speakers), -1)
    for i, s in enumerate(speakers):
        m = re.fullmatch(r"ravdess:(\d+)", str(s))
        if m is None:
            raise SplitError(f"speaker {s} is not a RAVDESS actor; this split is for RAVDESS only")
        actors[i] = int(m.group(1))
    return actors


def actor_group_folds(table: pd.DataFrame, test_groups: Sequence[Sequence[int]], prefix: str) -> list[Fold]:
    """RAVDESS folds whose test parts are the given actor groups; the rest of the table trains.

    Groups with no clip in the table (e.g. actors 21-24 on data holding actors 1-20) are left
    out, since a fold with an empty test part measures nothing.
    """
    actors = _ravdess_actor(_speakers(table))
    folds = []
    for k, group in enumerate(test_groups):
        test = np.flatnonzero(np.isin(actors, list(group)))
        if len(test) == 0:
            continue
        train = np.flatnonzero(~np.isin(actors, list(group)))
        folds.append(Fold(f"{prefix}{k + 1}", train=train, test=test))
    if not folds:
        raise SplitError(f"none of the test actors of split {prefix!r} is in the table")
    return check_folds(table, folds)


def ravdess_si5(table: pd.DataFrame) -> list[Fold]:
    """RAVDESS-SI5: five folds testing actors 1-4, 5-8, 9-12, 13-16, 17-20 (BENCHMARKS.md)."""
    actors = _ravdess_actor(_speakers(table))
    table_in = np.flatnonzero(actors <= 20)
    folds = actor_group_folds(table, [range(a, a + 4) for a in range(1, 21, 4)], "si5-fold")
    # Actors 21-24 are held aside by the protocol: they never train these folds.
    return check_folds(
        table, [Fold(f.name, train=np.intersect1d(f.train, table_in), test=f.test) for f in folds]
    )


def ravdess_6fold(table: pd.DataFrame) -> list[Fold]:
    """Six folds testing actors 1-4, 5-8, ..., 21-24 (EmoBox / HiCMAE); absent groups are skipped."""
    return actor_group_folds(table, [range(a, a + 4) for a in range(1, 25, 4)], "6fold-fold")


def seed003(table: pd.DataFrame) -> list[Fold]:
    """Seed 003's split: actors 1-17 train, actors 18-24 test."""
    return actor_group_folds(table, [range(18, 25)], "seed003-test")


def corpus_partition(table: pd.DataFrame) -> list[Fold]:
    """The corpus's own ``partition`` column (FER2013: train / validation / test) as one fold."""
    if "partition" not in table.columns or table["partition"].isna().all():
        raise SplitError("the clip table has no partition column; this corpus has no official split")
    part = table["partition"].to_numpy(dtype=object)
    fold = Fold(
        "partition",
        train=np.flatnonzero(part == "train"),
        validation=np.flatnonzero(part == "validation"),
        test=np.flatnonzero(part == "test"),
    )
    return check_folds(table, [fold])


#: Named splits: name -> function(table) -> folds.
NAMED_SPLITS: dict[str, Callable[[pd.DataFrame], list[Fold]]] = {
    "ravdess-si5": ravdess_si5,
    "ravdess-6fold": ravdess_6fold,
    "seed003": seed003,
    "partition": corpus_partition,
    "speaker5": lambda table: speaker_kfold(table, 5),
    "speaker10": lambda table: speaker_kfold(table, 10),
}


def get_split(name: str, table: pd.DataFrame) -> list[Fold]:
    """Folds of the named split (see :data:`NAMED_SPLITS`) on ``table``, leakage-checked."""
    if name not in NAMED_SPLITS:
        raise SplitError(f"unknown split {name!r}; known: {', '.join(NAMED_SPLITS)}")
    return NAMED_SPLITS[name](table)
