"""Berlin EmoDB: ``wav/03a01Fa.wav`` = speaker 03, sentence a01, emotion letter F, version a.

Emotion letters are German initials (W anger, L boredom, E disgust, A fear, F happiness,
T sadness, N neutral). Files are recognised by name wherever they are. The annotation folders of
the EmoDB download (``lablaut/``, ``labsilb/``, ``silb/``) and its ``erkennung.txt`` and
``erklaerung.txt`` are consumed as metadata, not reported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from avemotion.core.formats import AUDIO_EXTENSIONS
from avemotion.core.labels import to_canonical
from avemotion.corpora._builder import CorpusBuilder, preference
from avemotion.corpora.table import Corpus, make_table

EXPECTED = "wav/ with files like 03a01Fa.wav"
_NAME = re.compile(r"^(\d{2})([a-z]\d{2})([WLEAFTN])([a-z])$")
_AUDIO_ORDER = (".wav", ".flac")
_METADATA_FOLDERS = frozenset({"lablaut", "labsilb", "silb"})
_METADATA_FILES = frozenset({"erkennung.txt", "erklaerung.txt"})

#: The ten EmoDB speakers' genders.
GENDERS: dict[str, str] = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}


def looks_like(path: Path) -> bool:
    """Whether ``path`` is named like an EmoDB recording (used to detect)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and _NAME.match(path.stem) is not None


def read_emodb(*roots: str | os.PathLike[str]) -> Corpus:
    """Read EmoDB from one or more folders into a clip table (speakers ``emodb:03``...)."""
    builder = CorpusBuilder("emodb", "EmoDB", roots, EXPECTED)
    for path in builder.files():
        if path.name.lower() in _METADATA_FILES or path.parent.name.lower() in _METADATA_FOLDERS:
            builder.consume(path)
            continue
        match = _NAME.match(path.stem) if path.suffix.lower() in AUDIO_EXTENSIONS else None
        if match is None:
            builder.reject(path, "not an EmoDB recording (expected a name like 03a01Fa.wav)")
            continue
        speaker, sentence, emotion, _ = match.groups()
        fields = {
            "speaker": f"emodb:{speaker}",
            "gender": GENDERS.get(speaker),
            "emotion": to_canonical("emodb", emotion),
            "sentence": sentence,
        }
        builder.add(path.stem, "audio", path, fields, preference(path, _AUDIO_ORDER))
    return builder.finish(make_table(builder.rows({"audio": ("audio",)})))
