"""FER2013: image folders ``<root>/<partition>/<emotion>/*.jpg|png`` or the original CSV.

Partition folders: ``train``/``training``, ``validation``/``val``/``PublicTest``,
``test``/``PrivateTest`` (any case). Emotion folders: angry, disgust, fear, happy, neutral, sad,
surprise. Clip id: ``<partition>/<emotion folder>/<file stem>`` (stems repeat across emotions in
some releases). The CSV (any name; columns ``emotion``, ``pixels`` and optionally ``Usage``,
header names stripped) gives one clip per row: id ``<csv stem>#<zero-padded row>``, image
``"<csv path>#<row>"`` (see :func:`avemotion.corpora.images.load_image`), partition from
Usage (Training, PublicTest, PrivateTest) or ``None`` without that column. Pixels are not parsed
while reading. FER2013 has no speakers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from avemotion.core.formats import IMAGE_EXTENSIONS
from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder, csv_header
from avemotion.corpora.images import csv_ref
from avemotion.corpora.table import Corpus, make_table
from avemotion.errors import CorpusLayoutError

EXPECTED = "train/, validation/ and test/ folders of <emotion>/*.jpg, or fer2013.csv (emotion, pixels, Usage)"
PARTITIONS: dict[str, str] = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "val": "validation",
    "publictest": "validation",
    "test": "test",
    "privatetest": "test",
}


def is_pixel_csv(path: Path) -> bool:
    """Whether ``path`` is a CSV with ``emotion`` and ``pixels`` columns."""
    return path.suffix.lower() == ".csv" and {"emotion", "pixels"} <= set(csv_header(path))


def _folder_fields(path: Path) -> tuple[str, str] | None:
    """``(partition, emotion)`` of an image in the folder layout, or ``None``."""
    partition = PARTITIONS.get(path.parent.parent.name.lower())
    if path.suffix.lower() not in IMAGE_EXTENSIONS or partition is None:
        return None
    try:
        return partition, to_canonical("fer2013", path.parent.name)
    except KeyError:
        return None


def looks_like(path: Path) -> bool:
    """Whether ``path`` is a FER2013 image or pixel CSV (used to detect)."""
    return _folder_fields(path) is not None or is_pixel_csv(path)


def read_fer2013(*roots: str | os.PathLike[str]) -> Corpus:
    """Read FER2013 from image folders and/or pixel CSVs into a clip table."""
    builder = CorpusBuilder("fer2013", "FER2013", roots, EXPECTED)
    for path in builder.files():
        if is_pixel_csv(path):
            labels = read_csv_labels(path)
            width = len(str(len(labels) - 1))
            for row, fields in enumerate(labels):
                builder.add(f"{path.stem}#{row:0{width}d}", "image", path, fields, ref=csv_ref(path, row))
            continue
        found = _folder_fields(path)
        if found is None:
            builder.reject(path, "not a FER2013 image (expected <train|validation|test>/<emotion>/*.jpg)")
            continue
        partition, emotion = found
        fields = {"emotion": emotion, "partition": partition}
        builder.add(f"{partition}/{path.parent.name}/{path.stem}", "image", path, fields)
    return builder.finish(make_table(builder.rows({"image": ("image",)})))


def read_csv_labels(csv: Path) -> list[dict[str, str | None]]:
    """Emotion and partition of each row of a FER2013 pixel CSV, in row order."""
    try:
        table = pd.read_csv(csv, usecols=lambda c: c.strip() in ("emotion", "Usage"), dtype=str)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise CorpusLayoutError(csv, f"cannot be read as a FER2013 CSV: {error}") from error
    table.columns = [c.strip() for c in table.columns]
    usage = table["Usage"] if "Usage" in table.columns else pd.Series([None] * len(table))
    fields = []
    for row, (code, use) in enumerate(zip(table["emotion"], usage)):
        try:
            emotion = to_canonical("fer2013", str(code).strip())
            partition = None if use is None else PARTITIONS[str(use).strip().lower()]
        except KeyError:
            raise CorpusLayoutError(csv, f"row {row}: emotion {code!r} or Usage {use!r} is not FER2013's") from None
        fields.append({"emotion": emotion, "partition": partition})
    return fields
