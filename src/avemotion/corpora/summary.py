"""A JSON-serialisable overview of a read corpus."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from avemotion.core.labels import EMOTIONS
from avemotion.corpora.openface import au_columns
from avemotion.corpora.table import MODALITY_COLUMNS, Corpus


def summarize(corpus: Corpus) -> dict[str, Any]:
    """Counts of clips, files per modality, modality combinations, speakers, genders, emotions, partitions, AU
    features and unrecognised files. Missing genders count as ``"unknown"``, missing
    partitions as ``"none"``; plain ints and strings only."""
    table = corpus.table
    present = table[list(MODALITY_COLUMNS)].notna()
    combos: Counter[str] = Counter()
    for flags, count in present.value_counts().items():
        combos["+".join(m for m, flag in zip(MODALITY_COLUMNS, flags) if flag) or "none"] += int(count)
    aus = au_columns(table)
    emotions = Counter(table["emotion"].dropna())
    return {
        "corpus": corpus.name,
        "roots": list(corpus.roots),
        "clips": len(table),
        "files": {m: int(present[m].sum()) for m in MODALITY_COLUMNS if present[m].any()},
        "modalities": {k: int(v) for k, v in sorted(combos.items())},
        "speakers": int(table["speaker"].nunique()),
        "genders": _counts(table["gender"], "unknown"),
        "emotions": {e: int(emotions[e]) for e in _ordered(emotions)},
        "partitions": {
            k: v
            for k, v in sorted(_counts(table["partition"], "none").items(), key=lambda kv: _PARTITION_ORDER.get(kv[0], 9))
        },
        "au": {
            "clips": int(table[aus].notna().any(axis=1).sum()) if aus else 0,
            "columns": len(aus),
            "openface_frames": int(table["openface"].notna().sum()) if "openface" in table else 0,
        },
        "unrecognised": len(corpus.unrecognised),
    }


_PARTITION_ORDER = {"train": 0, "validation": 1, "test": 2}


def _ordered(emotions: Counter[str]) -> list[str]:
    return [e for e in EMOTIONS if e in emotions] + sorted(set(emotions) - set(EMOTIONS))


def _counts(column: pd.Series, missing: str) -> dict[str, int]:
    counts = Counter(missing if v is None else str(v) for v in column)
    return {k: int(v) for k, v in sorted(counts.items())}
