"""SAVEE: ``AudioData/DC/a01.wav`` (speaker folder) or flat ``DC_a01.wav`` files.

Four male speakers (DC, JE, JK, KL); the name is an emotion prefix (a anger, d disgust, f fear,
h happiness, n neutral, sa sadness, su surprise) and a number. The audio and the
``AudioVisualClip/DC/a01.avi`` video of one clip (id ``DC_a01``) make one row; ``audio`` is the
audio file, else the video (the clips carry sound). ``sentence`` is the file's code (``a01``):
SAVEE numbers its sentences per emotion.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avemotion.core.formats import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS
from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder, preference
from avemotion.corpora.table import Corpus, make_table

EXPECTED = "AudioData/DC/a01.wav, AudioVisualClip/DC/a01.avi or flat DC_a01.wav files"
SPEAKERS: tuple[str, ...] = ("DC", "JE", "JK", "KL")
_CODE = r"(sa|su|a|d|f|h|n)(\d{2})"
_IN_FOLDER = re.compile(rf"^{_CODE}$")
_FLAT = re.compile(rf"^([A-Z]{{2}})_{_CODE}$")
_AUDIO_ORDER = (".wav", ".flac")
_VIDEO_ORDER = (".avi", ".mp4")


def parse_path(path: Path) -> tuple[str, str, str] | None:
    """``(speaker, emotion code, number)`` from either layout, or ``None``."""
    flat = _FLAT.match(path.stem)
    if flat:
        return flat.group(1), flat.group(2), flat.group(3)
    nested = _IN_FOLDER.match(path.stem)
    if nested and path.parent.name in SPEAKERS:
        return path.parent.name, nested.group(1), nested.group(2)
    return None


def looks_like(path: Path) -> bool:
    """Whether ``path`` is a SAVEE recording by name and folder (used to detect)."""
    ext = path.suffix.lower()
    parsed = parse_path(path) if ext in AUDIO_EXTENSIONS or ext in VIDEO_EXTENSIONS else None
    return parsed is not None and parsed[0] in SPEAKERS


def read_savee(*roots: str | os.PathLike[str]) -> Corpus:
    """Read SAVEE from one or more folders into a clip table (speakers ``savee:DC``...)."""
    builder = CorpusBuilder("savee", "SAVEE", roots, EXPECTED)
    for path in builder.files():
        ext = path.suffix.lower()
        is_audio = ext in AUDIO_EXTENSIONS
        parsed = parse_path(path) if is_audio or ext in VIDEO_EXTENSIONS else None
        if parsed is None:
            builder.reject(path, "not a SAVEE recording (expected DC/a01.wav or DC_a01.wav)")
            continue
        speaker, code, number = parsed
        if speaker not in SPEAKERS:
            builder.reject(path, f"SAVEE has no speaker {speaker} (only {', '.join(SPEAKERS)})")
            continue
        fields = {
            "speaker": f"savee:{speaker}",
            "gender": "male",
            "emotion": to_canonical("savee", code),
            "sentence": f"{code}{number}",
        }
        kind, order = ("audio", _AUDIO_ORDER) if is_audio else ("video", _VIDEO_ORDER)
        builder.add(f"{speaker}_{code}{number}", kind, path, fields, preference(path, order))
    columns = {"audio": ("audio", "video"), "video": ("video",)}
    return builder.finish(make_table(builder.rows(columns)))
