"""CK+ (the 48x48 release): ``CK+48/<emotion>/S010_004_00000017.png``.

Emotion folders: anger, contempt, disgust, fear, happy, sadness, surprise (and neutral where a
release has it). The name is subject, sequence and frame; the speaker is ``ck_plus:S010``, the
extra column ``sequence`` is ``S010_004`` and the clip id is the file stem. CK+ gives no
gender in this release.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avemotion.core.formats import IMAGE_EXTENSIONS
from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder, preference
from avemotion.corpora.table import Corpus, make_table

EXPECTED = "CK+48/<emotion>/S010_004_00000017.png (emotions anger, contempt, disgust, ...)"
_NAME = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})$")
_IMAGE_ORDER = (".png",)


def _fields(path: Path) -> dict[str, str] | None:
    match = _NAME.match(path.stem)
    if path.suffix.lower() not in IMAGE_EXTENSIONS or match is None:
        return None
    try:
        emotion = to_canonical("ck_plus", path.parent.name)
    except KeyError:
        return None
    subject, sequence, _ = match.groups()
    return {"speaker": f"ck_plus:{subject}", "emotion": emotion, "sequence": f"{subject}_{sequence}"}


def looks_like(path: Path) -> bool:
    """Whether ``path`` is a CK+ image in an emotion folder (used to detect)."""
    return _fields(path) is not None


def read_ck_plus(*roots: str | os.PathLike[str]) -> Corpus:
    """Read CK+48 from one or more folders into a clip table (one row per image)."""
    builder = CorpusBuilder("ck_plus", "CK+", roots, EXPECTED)
    for path in builder.files():
        fields = _fields(path)
        if fields is None:
            builder.reject(path, "not a CK+ image (expected <emotion>/S010_004_00000017.png)")
            continue
        builder.add(path.stem, "image", path, fields, preference(path, _IMAGE_ORDER))
    return builder.finish(make_table(builder.rows({"image": ("image",)}), ("sequence",)))
