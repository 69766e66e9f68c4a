"""CREMA-D: ``SSSS_SEN_EMO_IN`` files in AudioWAV, AudioMP3, VideoFlash and VideoMP4.

Speaker (1001..1091), sentence (IEO, DFA...), emotion (ANG DIS FEA HAP NEU SAD), intensity (LO MD
HI -> low/medium/high; XX, unspecified -> ``None``). Files are recognised by name and extension,
whatever folder they are in; the files of one recording make one row:

* ``audio``: the WAV, else the MP3, else the video (MP4, then FLV: both carry audio).
* ``video``: the MP4, else the FLV.
* ``audio_mp3`` and ``video_flv`` keep the MP3 and FLV whenever they exist, chosen or not.

``VideoDemographics.csv`` (ActorID, Sex) anywhere in the roots gives each speaker's gender.
``SentenceFilenames.csv`` and the rating tables of the CREMA-D repository
(``finishedResponses.csv``...) are consumed as metadata, not reported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder
from avemotion.corpora.table import Corpus, make_table
from avemotion.errors import CorpusLayoutError

EXPECTED = "AudioWAV/, AudioMP3/, VideoFlash/ or VideoMP4/ with files like 1001_DFA_ANG_XX.wav"
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$", re.IGNORECASE)
_INTENSITY = {"LO": "low", "MD": "medium", "HI": "high", "XX": None}
_KINDS = {".wav": "wav", ".mp3": "mp3", ".mp4": "mp4", ".flv": "flv"}
_COLUMNS = {
    "audio": ("wav", "mp3", "mp4", "flv"),
    "video": ("mp4", "flv"),
    "audio_mp3": ("mp3",),
    "video_flv": ("flv",),
}
DEMOGRAPHICS = "videodemographics.csv"
_METADATA = frozenset(
    {
        "sentencefilenames.csv",
        "finishedresponses.csv",
        "finishedemoresponses.csv",
        "finishedresponseswithrepeatwithpractice.csv",
        "summarytable.csv",
        "tabulatedvotes.csv",
    }
)
_SEX = {"male": "male", "female": "female"}


def looks_like(path: Path) -> bool:
    """Whether ``path`` is named like a CREMA-D media or metadata file (used to detect)."""
    name = path.name.lower()
    if name == DEMOGRAPHICS or name in _METADATA:
        return True
    return path.suffix.lower() in _KINDS and _NAME.match(path.stem) is not None


def read_crema_d(*roots: str | os.PathLike[str]) -> Corpus:
    """Read CREMA-D from one or more folders into a clip table (see the module docstring)."""
    builder = CorpusBuilder("crema_d", "CREMA-D", roots, EXPECTED)
    genders: dict[str, str | None] = {}
    for path in builder.files():
        lower = path.name.lower()
        if lower == DEMOGRAPHICS:
            genders.update(read_demographics(path))
            builder.consume(path)
            continue
        if lower in _METADATA:
            builder.consume(path)
            continue
        kind = _KINDS.get(path.suffix.lower())
        match = _NAME.match(path.stem)
        if kind is None or match is None:
            builder.reject(path, "not a CREMA-D file (expected 1001_DFA_ANG_XX.wav|.mp3|.flv|.mp4)")
            continue
        speaker, sentence, emotion, intensity = (g.upper() for g in match.groups())
        try:
            fields = {
                "speaker": f"crema_d:{speaker}",
                "emotion": to_canonical("crema_d", emotion),
                "intensity": _INTENSITY[intensity],
                "sentence": sentence,
            }
        except KeyError:
            builder.reject(path, f"unknown CREMA-D emotion {emotion} or intensity {intensity}")
            continue
        builder.add(f"{speaker}_{sentence}_{emotion}_{intensity}", kind, path, fields)
    rows = builder.rows(_COLUMNS)
    for row in rows:
        row["gender"] = genders.get(row["speaker"])
    return builder.finish(make_table(rows, tuple(_COLUMNS)[2:]))


def read_demographics(csv: str | os.PathLike[str]) -> dict[str, str | None]:
    """Speaker id -> gender from CREMA-D's ``VideoDemographics.csv`` (columns ActorID, Sex)."""
    path = Path(csv)
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise CorpusLayoutError(path, f"cannot be read as CREMA-D demographics: {error}") from error
    if not {"ActorID", "Sex"} <= set(table.columns):
        raise CorpusLayoutError(path, "CREMA-D demographics need the columns ActorID and Sex")
    return {
        f"crema_d:{actor.strip()}": _SEX.get(str(sex).strip().lower())
        for actor, sex in zip(table["ActorID"], table["Sex"])
        if isinstance(actor, str)
    }
