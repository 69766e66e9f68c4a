"""TurEV-DB (Turkish Emotion-Voice Database): ``Sound Source/<Emotion>/<SPEAKER>_<code>_<word>.wav``.

Six speakers (1157, 1234, 1358, 1984, 6783, 7895) say single Turkish words in four emotions,
coded in the name: kz angry, sk calm, mt happy, hl sad (folders Angry, Calm, Happy, Sad; any
case). The word (any letters, Turkish ones included) goes into ``sentence`` and the clip id is
the file stem. Where the folder is an emotion name, it must agree with the code. The database
documents no speaker's gender, so ``gender`` is ``None``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avemotion.core.formats import AUDIO_EXTENSIONS
from avemotion.core.labels import CORPUS_LABELS
from avemotion.corpora._builder import CorpusBuilder, read_audio_files
from avemotion.corpora.table import Corpus

EXPECTED = "Sound Source/<Angry|Calm|Happy|Sad>/1234_kz_word.wav|.flac"
SPEAKERS: tuple[str, ...] = ("1157", "1234", "1358", "1984", "6783", "7895")
_NAME = re.compile(r"^(\d{4})_([a-z]{2})_(.+)$", re.IGNORECASE)
_AUDIO_ORDER = (".wav", ".flac")
_LABELS = CORPUS_LABELS["turev"]


def parse_path(path: Path) -> dict[str, str] | str:
    """The clip's fields from the name and folder of ``path``, or why it is not a TurEV-DB clip."""
    match = _NAME.match(path.stem) if path.suffix.lower() in AUDIO_EXTENSIONS else None
    if match is None:
        return "not a TurEV-DB recording (expected 1234_kz_word.wav)"
    speaker, code, word = match.groups()
    emotion = _LABELS.get(code.lower())
    if emotion is None:
        return f"unknown TurEV-DB emotion code {code!r} (expected kz, sk, mt or hl)"
    if speaker not in SPEAKERS:
        return f"TurEV-DB has no speaker {speaker} (only {', '.join(SPEAKERS)})"
    folder = _LABELS.get(path.parent.name.lower())
    if folder is not None and folder != emotion:
        return f"in folder {path.parent.name} but the code {code} says {emotion}"
    return {"speaker": f"turev:{speaker}", "emotion": emotion, "sentence": word}


def looks_like(path: Path) -> bool:
    """Whether ``path`` is a TurEV-DB recording by name (used to detect)."""
    return isinstance(parse_path(path), dict)


def read_turev(*roots: str | os.PathLike[str]) -> Corpus:
    """Read TurEV-DB from one or more folders into a clip table (speakers ``turev:1157``...)."""
    return read_audio_files(CorpusBuilder("turev", "TurEV-DB", roots, EXPECTED), parse_path, _AUDIO_ORDER)
