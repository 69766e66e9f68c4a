"""RAVDESS: ``MM-VV-EE-II-SS-RR-AA.ext`` files, any folder layout, any number of roots.

Fields: modality (01 full-AV, 02 video-only, 03 audio-only), vocal channel (01 speech, 02 song),
emotion, intensity (01 normal, 02 strong), statement, repetition, actor (odd male, even female).
A clip is a recording: its id is the name without the modality field, so the audio-only,
full-AV and video-only files of one recording, found in one root or several, make one row:

* ``audio``: the 03 file; else the 01 video (whose track holds the audio).
* ``video``: the 01 file; else the 02 file. ``video_only`` keeps the 02 file whenever there is one.
* ``openface``: a per-frame OpenFace CSV named by the clip's file name (FeatureExtraction output
  or Zenodo 3255102's tracking CSVs); FeatureExtraction's by-products are consumed silently.
* AU columns: from any per-clip table in the roots (first column a RAVDESS file name), e.g.
  ``openface_au_means.csv``.

Two files of one modality for one clip (a .wav and a .flac, or one name in two roots): the
preferred extension (.wav, .flac, then others; .mp4 for video) wins, then root order, then path
order; the other is reported as a duplicate. A file inside an ``Actor_NN`` folder whose name
gives another actor is reported, not read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from avemotion.core.formats import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS
from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder, preference
from avemotion.corpora.openface import (
    is_openface_byproduct,
    join_au_tables,
    read_clip_au_table,
    sniff_openface,
)
from avemotion.corpora.table import Corpus, make_table

EXPECTED = "Actor_NN/MM-VV-EE-II-SS-RR-AA.wav|.flac|.mp4 files, e.g. 03-01-05-01-02-01-12.wav"
AUDIO_ORDER = (".wav", ".flac")
VIDEO_ORDER = (".mp4",)
_COLUMNS = {"audio": ("03", "01"), "video": ("01", "02"), "video_only": ("02",), "openface": ("openface",)}
_EXTRA_COLUMNS = ("channel", "repetition", "video_only", "openface")
_CODES = {
    "modality": ("01", "02", "03"),
    "channel": ("01", "02"),
    "intensity": ("01", "02"),
    "statement": ("01", "02"),
    "repetition": ("01", "02"),
}
_FIELDS = re.compile(r"^\d{2}(-\d{2}){6}$")
_ACTOR_FOLDER = re.compile(r"^actor_(\d+)$", re.IGNORECASE)


class RavdessName(NamedTuple):
    """The seven fields of a RAVDESS file name, as their two-digit codes."""

    modality: str
    channel: str
    emotion: str
    intensity: str
    statement: str
    repetition: str
    actor: str

    @property
    def clip_id(self) -> str:
        """The name without its modality field: ``VV-EE-II-SS-RR-AA``."""
        return "-".join(self[1:])


def parse_name(stem: str) -> RavdessName:
    """Parse ``MM-VV-EE-II-SS-RR-AA``; raises ``ValueError`` saying which field is wrong."""
    if not _FIELDS.match(stem):
        raise ValueError("not a RAVDESS file name (expected MM-VV-EE-II-SS-RR-AA)")
    name = RavdessName(*stem.split("-"))
    for field, codes in _CODES.items():
        if getattr(name, field) not in codes:
            raise ValueError(f"RAVDESS {field} code {getattr(name, field)} is not one of {'/'.join(codes)}")
    try:
        to_canonical("ravdess", name.emotion)
    except KeyError:
        raise ValueError(f"RAVDESS emotion code {name.emotion} is not 01..08") from None
    if name.actor == "00":
        raise ValueError("RAVDESS actor 00 does not exist")
    return name


def clip_id_of(key: str) -> str | None:
    """The clip id for a file name or clip id (with or without modality or extension)."""
    stem = Path(str(key).strip()).stem if "." in str(key) else str(key).strip()
    try:
        return parse_name(stem).clip_id
    except ValueError:
        pass
    try:
        return parse_name(f"01-{stem}").clip_id
    except ValueError:
        return None


def looks_like(path: Path) -> bool:
    """Whether ``path`` is named like a RAVDESS media file or per-clip CSV (used to detect)."""
    ext = path.suffix.lower()
    if ext not in AUDIO_EXTENSIONS and ext not in VIDEO_EXTENSIONS and ext != ".csv":
        return False
    try:
        parse_name(path.stem)
    except ValueError:
        return False
    return True


def read_ravdess(*roots: str | os.PathLike[str]) -> Corpus:
    """Read RAVDESS from one or more folders into a clip table (see the module docstring)."""
    builder = CorpusBuilder("ravdess", "RAVDESS", roots, EXPECTED)
    au_tables = []
    for path in builder.files():
        ext = path.suffix.lower()
        if ext == ".csv":
            kind = sniff_openface(path)
            if kind == "clips":
                au_tables.append(read_clip_au_table(path))
                builder.consume(path)
                continue
            if kind is None:
                builder.reject(path, "CSV is neither OpenFace per-frame output nor a per-clip AU table")
                continue
        elif is_openface_byproduct(path):
            builder.consume(path)
            continue
        elif ext not in AUDIO_EXTENSIONS and ext not in VIDEO_EXTENSIONS:
            builder.reject(path, "not a RAVDESS audio, video or OpenFace file")
            continue
        try:
            name = parse_name(path.stem)
        except ValueError as error:
            builder.reject(path, str(error))
            continue
        folder = _ACTOR_FOLDER.match(path.parent.name)
        if folder and int(folder.group(1)) != int(name.actor):
            builder.reject(path, f"in folder {path.parent.name} but the name says actor {name.actor}")
            continue
        if ext == ".csv":
            builder.add(name.clip_id, "openface", path, None)
        elif name.modality == "03":
            if ext not in AUDIO_EXTENSIONS:
                builder.reject(path, "modality 03 (audio-only) but not an audio file")
                continue
            builder.add(name.clip_id, "03", path, _fields(name), preference(path, AUDIO_ORDER))
        elif ext not in VIDEO_EXTENSIONS:
            builder.reject(path, f"modality {name.modality} (video) but not a video file")
        else:
            builder.add(name.clip_id, name.modality, path, _fields(name), preference(path, VIDEO_ORDER))
    table = make_table(builder.rows(_COLUMNS), _EXTRA_COLUMNS)
    table = join_au_tables(table, au_tables, clip_id_of)
    return builder.finish(table)


def _fields(name: RavdessName) -> dict[str, object]:
    actor = int(name.actor)
    return {
        "speaker": f"ravdess:{name.actor}",
        "gender": "male" if actor % 2 else "female",
        "emotion": to_canonical("ravdess", name.emotion),
        "intensity": "normal" if name.intensity == "01" else "strong",
        "sentence": name.statement,
        "channel": "speech" if name.channel == "01" else "song",
        "repetition": int(name.repetition),
    }
