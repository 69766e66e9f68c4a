"""TESS (Toronto Emotional Speech Set): ``<SPK>_<emotion>/<SPK>_<word>_<emotion>.wav|.flac``.

Two female speakers, OAF (aged 64) and YAF (aged 26), say "Say the word ___" for 200 words in
seven emotions. The emotion is the last part of the file name (angry, disgust, fear, happy,
neutral, ps = pleasant surprise, sad; any case); the word goes into ``sentence`` and the clip id
is the file stem. The published ``OA_bite_neutral`` is speaker OAF. Where the folder is named
``<SPK>_<emotion>`` (``OAF_pleasant_surprise``, ``YAF_Fear``...), its speaker and emotion must
agree with the file's; other folders are not checked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avemotion.core.formats import AUDIO_EXTENSIONS
from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder, read_audio_files
from avemotion.corpora.table import Corpus

EXPECTED = "TESS_Toronto_emotional_speech_set_data/OAF_angry/OAF_back_angry.wav|.flac"
#: File-name prefix -> speaker (``OA_bite_neutral`` drops the F).
SPEAKERS: dict[str, str] = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF", "YA": "YAF"}
_NAME = re.compile(r"^(OAF|YAF|OA|YA)_(.+)_([a-z]+)$", re.IGNORECASE)
_FOLDER = re.compile(r"^(OAF|YAF)_(.+)$", re.IGNORECASE)
_AUDIO_ORDER = (".wav", ".flac")


def _emotion(label: str) -> str | None:
    try:
        return to_canonical("tess", label)
    except KeyError:
        return None


def parse_path(path: Path) -> dict[str, str] | str:
    """The clip's fields from the name and folder of ``path``, or why it is not a TESS clip."""
    match = _NAME.match(path.stem) if path.suffix.lower() in AUDIO_EXTENSIONS else None
    if match is None:
        return "not a TESS recording (expected OAF_back_angry.wav)"
    prefix, word, code = match.groups()
    speaker, emotion = SPEAKERS[prefix.upper()], _emotion(code)
    if emotion is None:
        return f"unknown TESS emotion {code!r}"
    folder = _FOLDER.match(path.parent.name)
    if folder and (folder.group(1).upper() != speaker or _emotion(folder.group(2)) != emotion):
        return f"in folder {path.parent.name} but the name says {speaker} {code}"
    return {"speaker": f"tess:{speaker}", "gender": "female", "emotion": emotion, "sentence": word}


def looks_like(path: Path) -> bool:
    """Whether ``path`` is a TESS recording by name and folder (used to detect)."""
    return isinstance(parse_path(path), dict)


def read_tess(*roots: str | os.PathLike[str]) -> Corpus:
    """Read TESS from one or more folders into a clip table (speakers ``tess:OAF``, ``tess:YAF``)."""
    return read_audio_files(CorpusBuilder("tess", "TESS", roots, EXPECTED), parse_path, _AUDIO_ORDER)
