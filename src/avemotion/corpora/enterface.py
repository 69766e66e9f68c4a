"""eNTERFACE'05: ``subject N/<emotion>/sentence M/sN_an_M.avi``.

Emotion folders: anger, disgust, fear, happiness, sadness, surprise. The real corpus is
irregular, so each field is looked for in the folders first (names compared case-, space- and
underscore-insensitively: ``Subject 1``, ``subject_1``, ``Sentence 2``) and then in the file
name (``s1_an_2.avi``, ``s_1_an_2.avi``). Some subjects have no sentence folders: the sentence
then comes from the name, or is ``None``. Where folder and name disagree the folder wins. The
.avi carries the audio, so ``audio`` and ``video`` are both the file. Clip id: ``s1_an_2``
(``s1_an_<file stem>`` without a sentence number).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avemotion.core.formats import VIDEO_EXTENSIONS
from avemotion.core.labels import CORPUS_LABELS
from avemotion.corpora._builder import CorpusBuilder, preference
from avemotion.corpora.table import Corpus, make_table

EXPECTED = "subject N/<emotion>/sentence M/*.avi (emotions anger, disgust, ...)"
_LABELS = CORPUS_LABELS["enterface"]
#: Canonical emotion -> the two-letter code of eNTERFACE file names.
_CODES = {emotion: code for code, emotion in _LABELS.items() if len(code) == 2}
_SUBJECT = re.compile(r"^subject(\d+)$")
_SENTENCE = re.compile(r"^sentence(\d+)$")
_FILE = re.compile(r"^s_?(\d+)_(an|di|fe|ha|sa|su)_?(\d+)?", re.IGNORECASE)
_VIDEO_ORDER = (".avi",)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def parse_path(path: Path) -> tuple[int, str, int | None] | None:
    """``(subject, canonical emotion, sentence)`` from folders and file name, or ``None``."""
    subject = sentence = emotion = None
    for folder in path.parent.parts:
        key = _key(folder)
        if m := _SUBJECT.match(key):
            subject = int(m.group(1))
        elif m := _SENTENCE.match(key):
            sentence = int(m.group(1))
        elif len(key) > 2 and key in _LABELS:
            emotion = _LABELS[key]
    if m := _FILE.match(path.stem):
        subject = int(m.group(1)) if subject is None else subject
        emotion = _LABELS[m.group(2).lower()] if emotion is None else emotion
        if sentence is None and m.group(3):
            sentence = int(m.group(3))
    if subject is None or emotion is None:
        return None
    return subject, emotion, sentence


def looks_like(path: Path) -> bool:
    """Whether ``path`` is an eNTERFACE'05 video by folders and name (used to detect)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and parse_path(path) is not None


def read_enterface(*roots: str | os.PathLike[str]) -> Corpus:
    """Read eNTERFACE'05 from one or more folders (speakers ``enterface:N``)."""
    builder = CorpusBuilder("enterface", "eNTERFACE'05", roots, EXPECTED)
    for path in builder.files():
        parsed = parse_path(path) if path.suffix.lower() in VIDEO_EXTENSIONS else None
        if parsed is None:
            builder.reject(path, "not an eNTERFACE'05 video (expected subject N/<emotion>/.../sN_an_M.avi)")
            continue
        subject, emotion, sentence = parsed
        fields = {
            "speaker": f"enterface:{subject}",
            "emotion": emotion,
            "sentence": None if sentence is None else str(sentence),
        }
        clip_id = f"s{subject}_{_CODES[emotion]}_{path.stem if sentence is None else sentence}"
        builder.add(clip_id, "video", path, fields, preference(path, _VIDEO_ORDER))
    columns = {"audio": ("video",), "video": ("video",)}
    return builder.finish(make_table(builder.rows(columns)))
