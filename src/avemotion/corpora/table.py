"""The clip table every corpus reader returns.

A clip table is a :class:`pandas.DataFrame` with one row per clip (one recording, whatever
modalities it has) and at least the columns of :data:`COLUMNS`:

=============  ==========================================================================
clip_id        unique within the corpus (RAVDESS: the file name without its modality code)
corpus         reader name: ravdess, crema_d, emodb, savee, enterface, fer2013, ck_plus, tess,
               turev; a manifest's ``corpus`` column (default ``manifest``)
speaker        corpus-qualified speaker id, e.g. ``"ravdess:01"``; ``None`` when unknown
gender         ``"male"``, ``"female"`` or ``None``
emotion        canonical emotion (see :mod:`avemotion.core.labels`)
intensity      ``"normal"``/``"strong"`` (RAVDESS), ``"low"``/``"medium"``/``"high"`` (CREMA-D)
sentence       the corpus's sentence code (TESS, TurEV-DB: the word), or ``None``
audio          path of the audio file (or a video file whose audio track is used), or ``None``
video          path of the video file, or ``None``
image          path of a still image, or ``"<csv path>#<row>"`` for FER2013's CSV, or ``None``
partition      the corpus's own partition (``train``/``validation``/``test``), or ``None``
=============  ==========================================================================

Readers may add corpus-specific columns after these (RAVDESS: ``channel``; OpenFace:
``openface`` per-frame CSV path and ``AUxx_r``/``AUxx_c`` per-clip features).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS: tuple[str, ...] = (
    "clip_id",
    "corpus",
    "speaker",
    "gender",
    "emotion",
    "intensity",
    "sentence",
    "audio",
    "video",
    "image",
    "partition",
)

#: Columns holding a file reference per modality.
MODALITY_COLUMNS: tuple[str, ...] = ("audio", "video", "image")



@dataclass(frozen=True)
class Unrecognised:
    """A file a reader found but could not interpret."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Corpus:
    """What a reader returns: the clip table and the files it did not recognise."""

    name: str
    roots: tuple[str, ...]
    table: pd.DataFrame
    unrecognised: list[Unrecognised] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.table)


def make_table(rows: Iterable[dict[str, Any]], extra_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Build a clip table from row dicts: standard columns first, missing values as ``None``.

    Rows are sorted by ``clip_id``; a duplicate ``clip_id`` raises ``ValueError``.
    """
    rows = list(rows)
    extras = list(extra_columns)
    for row in rows:
        for key in row:
            if key not in COLUMNS and key not in extras:
                extras.append(key)
    columns = list(COLUMNS) + extras
    table = pd.DataFrame.from_records(rows, columns=columns)
    table = table.astype(object).where(table.notna(), None)
    if table["clip_id"].duplicated().any():
        dup = table.loc[table["clip_id"].duplicated(), "clip_id"].iloc[0]
        raise ValueError(f"duplicate clip_id {dup}")
    return table.sort_values("clip_id", kind="stable").reset_index(drop=True)


def iter_files(root: str | os.PathLike[str]) -> Iterator[Path]:
    """All regular files under ``root``, recursively, sorted, skipping hidden files and folders."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name
