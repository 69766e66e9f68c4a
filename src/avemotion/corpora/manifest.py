"""Manifest CSVs: any audio, video or image files, listed with their labels.

Columns (header names stripped, any case, any order): ``file``, ``emotion`` and ``speaker`` are
required; ``gender``, ``intensity``, ``corpus`` and ``split`` are optional; others are ignored.
Each data row is one clip:

* ``file``: relative to the CSV's folder, or absolute; it must exist and be an audio, video or
  image file (by extension). A video fills ``video`` and also ``audio`` (its sound track), as
  the other readers do.
* ``emotion``: a canonical name (:data:`~avemotion.core.labels.EMOTIONS`) or a common synonym
  (anger, joy, fear, sadness, surprise, bored...; ``CORPUS_LABELS["manifest"]``), any case.
* ``speaker``: the corpus's speaker id, written ``<corpus>:<speaker>``; empty means unknown.
* ``corpus``: the ``corpus`` column and the speaker-id prefix; empty or absent: ``"manifest"``
  (not the CSV's name, so that one corpus split over several CSVs keeps its speakers).
* ``gender``: male/female (m/f); ``intensity``: kept lower-cased; ``split``: train, validation
  (val, valid, dev) or test, into ``partition``. Empty cells are ``None``.

The clip id is the file's path relative to the roots' common folder (for one CSV, its own
folder), extension included. An unknown emotion, gender or split, a missing or non-media file,
a file listed twice or a missing required column raises :class:`CorpusLayoutError` naming the
CSV and the row, counted as "data row N" (1-based, the header not counted) and as the file's
"line N". A root may be a CSV (read as a manifest whatever its header, so that missing columns
are named) or a folder: there every CSV with the required columns is read, and other files that
no manifest lists are reported as unrecognised.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avemotion.core.formats import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from avemotion.core.labels import EMOTIONS, to_canonical
from avemotion.corpora._builder import CorpusBuilder, csv_header
from avemotion.corpora.fer2013 import PARTITIONS
from avemotion.corpora.table import Corpus, make_table
from avemotion.errors import CorpusLayoutError

REQUIRED: tuple[str, ...] = ("file", "emotion", "speaker")
OPTIONAL: tuple[str, ...] = ("gender", "intensity", "corpus", "split")
DEFAULT_CORPUS = "manifest"
EXPECTED = f"a CSV with the columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
_GENDERS = {"male": "male", "m": "male", "man": "male", "female": "female", "f": "female", "woman": "female"}
_SPLITS = {**PARTITIONS, "valid": "validation", "dev": "validation"}
_COLUMNS = {"audio": ("audio", "video"), "video": ("video",), "image": ("image",)}


def is_manifest(path: Path) -> bool:
    """Whether ``path`` is a CSV whose header has the required manifest columns."""
    return path.suffix.lower() == ".csv" and set(REQUIRED) <= {c.lower() for c in csv_header(path)}


looks_like = is_manifest


def media_kind(path: Path) -> str | None:
    """``"audio"``, ``"video"`` or ``"image"`` by extension, or ``None``."""
    ext = path.suffix.lower()
    for kind, extensions in (("audio", AUDIO_EXTENSIONS), ("video", VIDEO_EXTENSIONS), ("image", IMAGE_EXTENSIONS)):
        if ext in extensions:
            return kind
    return None


def read_manifest_rows(manifest: str | os.PathLike[str]) -> Iterator[tuple[str, Path, str, dict[str, Any]]]:
    """``(where, file, kind, fields)`` per data row of a manifest CSV, ``where`` being
    ``"data row N (line M)"`` and ``kind`` the file's :func:`media_kind`.

    Raises :class:`CorpusLayoutError` for the first row (or header) that is wrong.
    """
    path = Path(manifest)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [c.strip().lower() for c in next(reader, [])]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise CorpusLayoutError(path, f"a manifest needs the columns {', '.join(REQUIRED)}; missing {', '.join(missing)}")
            index = {c: header.index(c) for c in REQUIRED + OPTIONAL if c in header}
            number = 0
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                number += 1
                cells = {c: values[i].strip() if i < len(values) else "" for c, i in index.items()}
                where = f"data row {number} (line {reader.line_num})"
                try:
                    file, kind, fields = _parse_row(path.parent, cells)
                except ValueError as error:
                    raise CorpusLayoutError(path, f"{where}: {error}") from None
                yield where, file, kind, fields
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CorpusLayoutError(path, f"cannot be read as a manifest CSV: {error}") from error
    if number == 0:
        raise CorpusLayoutError(path, "the manifest has no data rows")


def _parse_row(folder: Path, cells: dict[str, str]) -> tuple[Path, str, dict[str, Any]]:
    """The file, its kind and the fields of one row's stripped cells; ``ValueError`` says what is wrong."""
    if not cells["file"]:
        raise ValueError("the file cell is empty")
    file = Path(os.path.normpath(folder / Path(cells["file"]).expanduser()))
    if not file.is_file():
        raise ValueError(f"file {cells['file']} does not exist ({file})")
    kind = media_kind(file)
    if kind is None:
        raise ValueError(f"file {cells['file']} is not an audio, video or image file")
    try:
        emotion = to_canonical("manifest", cells["emotion"])
    except KeyError:
        raise ValueError(
            f"unknown emotion {cells['emotion']!r} (use one of {', '.join(EMOTIONS)} or a common synonym)"
        ) from None
    gender, split = cells.get("gender", ""), cells.get("split", "")
    if gender and gender.lower() not in _GENDERS:
        raise ValueError(f"unknown gender {gender!r} (use male or female, or leave it empty)")
    if split and split.lower() not in _SPLITS:
        raise ValueError(f"unknown split {split!r} (use train, validation or test, or leave it empty)")
    corpus = cells.get("corpus") or DEFAULT_CORPUS
    return file, kind, {
        "corpus": corpus,
        "speaker": f"{corpus}:{cells['speaker']}" if cells["speaker"] else None,
        "gender": _GENDERS.get(gender.lower()),
        "emotion": emotion,
        "intensity": cells.get("intensity", "").lower() or None,
        "partition": _SPLITS.get(split.lower()),
    }


def read_manifest(*roots: str | os.PathLike[str]) -> Corpus:
    """Read one or more manifest CSVs (or folders holding them) into a clip table."""
    builder = CorpusBuilder("manifest", "manifest CSV", roots, EXPECTED)
    base = Path(os.path.commonpath([r if r.is_dir() else r.parent for r in builder.roots]))
    listed: dict[Path, str] = {}
    others: list[Path] = []
    for path in builder.files():
        if not (is_manifest(path) or path in builder.roots):
            others.append(path)
            continue
        builder.consume(path)
        for where, file, kind, fields in read_manifest_rows(path):
            if file in listed:
                raise CorpusLayoutError(path, f"{where}: {file} is listed again (first in {listed[file]})")
            listed[file] = f"{path.name} {where}"
            builder.add(Path(os.path.relpath(file, base)).as_posix(), kind, file, fields)
    for path in others:
        if path.suffix.lower() == ".csv":
            builder.reject(path, f"not a manifest (no {', '.join(REQUIRED)} columns)")
        elif path not in listed:
            builder.reject(path, "not listed in a manifest CSV")
    return builder.finish(make_table(builder.rows(_COLUMNS)))
