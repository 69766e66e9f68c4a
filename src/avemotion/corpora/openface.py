"""OpenFace 2 output: per-frame FeatureExtraction CSVs and per-clip tables of action-unit means.

FeatureExtraction writes one CSV per video with a header whose names (after the first) start with
a space: ``frame, face_id, timestamp, confidence, success, ..., AU01_r, ..., AU45_c``. A per-clip
table has the clip key in its first column and one column per AU feature, e.g. RAVDESS's
``openface_au_means.csv``. Action units come in OpenFace's order: the intensities ``AUxx_r`` by
AU number, then the presences ``AUxx_c`` by AU number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from avemotion.corpora._builder import csv_header
from avemotion.errors import CorpusLayoutError

#: Columns every FeatureExtraction CSV has (``face_id`` only from OpenFace 2.1 on).
FRAME_COLUMNS: tuple[str, ...] = ("frame", "timestamp", "confidence", "success")

_AU = re.compile(r"^AU(\d{2})_([rc])$")


def au_columns(columns: pd.DataFrame | Iterable[str]) -> list[str]:
    """The AU feature columns of a table (or of a list of names), in OpenFace's order."""
    names = columns.columns if isinstance(columns, pd.DataFrame) else columns
    found = [str(c) for c in names if _AU.match(str(c))]
    return sorted(found, key=lambda c: (c[-1] != "r", int(c[2:4])))


def sniff_openface(path: str | os.PathLike[str]) -> Literal["frames", "clips"] | None:
    """From the header alone: ``"frames"`` (FeatureExtraction output), ``"clips"`` (a per-clip
    AU table) or ``None`` (neither)."""
    header = csv_header(Path(path))
    if set(FRAME_COLUMNS) <= set(header):
        return "frames"
    if len(header) > 1 and au_columns(header[1:]) and not _AU.match(header[0]):
        return "clips"
    return None


def is_openface_byproduct(path: Path) -> bool:
    """Files FeatureExtraction writes beside its CSV: ``*_of_details.txt``, ``*.hog`` and the
    aligned face crops under ``*_aligned/``."""
    return (
        path.name.endswith("_of_details.txt")
        or path.suffix.lower() == ".hog"
        or path.parent.name.endswith("_aligned")
    )


def read_openface_frames(csv: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a FeatureExtraction CSV: one row per frame, header names stripped, values numeric."""
    path = Path(csv)
    frames = _read_csv(path, "OpenFace FeatureExtraction CSV")
    missing = [c for c in FRAME_COLUMNS if c not in frames.columns]
    if missing:
        raise CorpusLayoutError(path, f"not OpenFace FeatureExtraction output: no column {', '.join(missing)}")
    numeric = [c for c in frames.columns if c in FRAME_COLUMNS or c == "face_id" or _AU.match(c)]
    _to_numeric(frames, numeric, path)
    return frames


def clip_au_means(frames: pd.DataFrame, min_confidence: float = 0.0) -> pd.Series:
    """Mean of each AU column over the frames with ``success == 1`` and ``confidence >=
    min_confidence``; all values are NaN when no frame qualifies."""
    columns = au_columns(frames)
    if not columns:
        raise ValueError("the frame table has no AUxx_r/AUxx_c column")
    ok = (frames["success"] == 1) & (frames["confidence"] >= min_confidence)
    return frames.loc[ok, columns].astype(float).mean().rename(None)


def read_clip_au_table(csv: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a per-clip AU table: the key column (first, as strings) then the AU columns in
    OpenFace's order; other columns are dropped. ``attrs["path"]`` names the file."""
    path = Path(csv)
    table = _read_csv(path, "per-clip OpenFace AU table", dtype=str)
    key = table.columns[0]
    columns = au_columns(table.columns[1:])
    if _AU.match(key) or not columns:
        raise CorpusLayoutError(path, "not a per-clip AU table (expected a clip key, then AUxx_r/AUxx_c columns)")
    table = table[[key, *columns]].copy()
    if table[key].isna().any() or table[key].duplicated().any():
        raise CorpusLayoutError(path, f"column {key!r} must name each clip once")
    _to_numeric(table, columns, path)
    table.attrs["path"] = str(path)
    return table


def join_au_tables(
    table: pd.DataFrame, au_tables: Sequence[pd.DataFrame], clip_id_of: Callable[[str], str | None]
) -> pd.DataFrame:
    """Add the AU columns of per-clip tables to a clip table, matching ``clip_id_of(key)`` to
    ``clip_id``. Where several rows give one clip, the first (table order, then row order)
    wins; clips without a row get NaN and rows of clips not in ``table`` are left out. A key
    that ``clip_id_of`` cannot map (``None``) raises CorpusLayoutError."""
    parts = []
    for au in au_tables:
        key = au.columns[0]
        ids = au[key].map(clip_id_of)
        if ids.isna().any():
            bad = au.loc[ids.isna(), key].iloc[0]
            problem = f"clip key {bad!r} is not a clip name of this corpus"
            raise CorpusLayoutError(au.attrs.get("path", key), problem)
        parts.append(au.drop(columns=key).set_index(pd.Index(ids.astype(str), name="clip_id")))
    if not parts:
        return table
    features = pd.concat(parts)
    features = features[~features.index.duplicated(keep="first")]
    return table.join(features[au_columns(features)], on="clip_id")


def _read_csv(path: Path, what: str, dtype: type | None = None) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, skipinitialspace=True, dtype=dtype)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CorpusLayoutError(path, f"cannot be read as a {what}: {problem}") from error
    table.columns = [str(c).strip() for c in table.columns]
    if table.empty:
        raise CorpusLayoutError(path, f"{what} has no rows")
    return table


def _to_numeric(table: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    for column in columns:
        try:
            table[column] = pd.to_numeric(table[column])
        except (ValueError, TypeError) as error:
            raise CorpusLayoutError(path, f"column {column!r} holds a non-number") from error
