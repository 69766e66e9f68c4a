"""Corpus readers: a folder of a known emotion corpus becomes a clip table.

``read_corpus(folder)`` detects the corpus from its file names and folders and returns a
:class:`~avemotion.corpora.table.Corpus`; ``READERS[name](*folders)`` reads a named corpus.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from avemotion.corpora import ck_plus, crema_d, emodb, enterface, fer2013, ravdess, savee
from avemotion.corpora._builder import is_documentation, walk_files
from avemotion.corpora.table import Corpus
from avemotion.errors import CorpusLayoutError

#: Corpus name -> reader.
READERS: dict[str, Callable[..., Corpus]] = {
    "ravdess": ravdess.read_ravdess,
    "crema_d": crema_d.read_crema_d,
    "emodb": emodb.read_emodb,
    "savee": savee.read_savee,
    "enterface": enterface.read_enterface,
    "fer2013": fer2013.read_fer2013,
    "ck_plus": ck_plus.read_ck_plus,
}

_LOOKS_LIKE: dict[str, Callable[[Path], bool]] = {
    "ravdess": ravdess.looks_like,
    "crema_d": crema_d.looks_like,
    "emodb": emodb.looks_like,
    "savee": savee.looks_like,
    "enterface": enterface.looks_like,
    "fer2013": fer2013.looks_like,
    "ck_plus": ck_plus.looks_like,
}

#: Detection looks at no more than this many files of a folder.
MAX_FILES_TO_DETECT = 20_000

__all__ = ["READERS", "Corpus", "detect_corpus", "read_corpus"]


def detect_corpus(path: str | os.PathLike[str]) -> str:
    """The name of the corpus whose file names and folders ``path`` holds most of.

    Raises :class:`CorpusLayoutError` when the path does not exist, matches no corpus, or
    matches two corpora equally.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise CorpusLayoutError(root, "does not exist")
    root = root.resolve()
    counts: Counter[str] = Counter()
    for seen, (_, file) in enumerate(walk_files([root])):
        if seen >= MAX_FILES_TO_DETECT:
            break
        if not is_documentation(file):
            counts.update(name for name, looks_like in _LOOKS_LIKE.items() if looks_like(file))
    ranked = counts.most_common(2)
    if not ranked:
        raise CorpusLayoutError(root, f"no known corpus layout (expected one of: {', '.join(READERS)})")
    if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
        raise CorpusLayoutError(
            root, f"matches {ranked[0][0]} and {ranked[1][0]} equally; name the corpus to read it"
        )
    return ranked[0][0]


def read_corpus(*roots: str | os.PathLike[str], corpus: str | None = None) -> Corpus:
    """Read one corpus from one or more folders; detects it when ``corpus`` is not given.

    All roots must hold the same corpus; ``CorpusLayoutError`` names the first that does not.
    """
    if not roots:
        raise TypeError("read_corpus() needs at least one folder")
    if corpus is None:
        found = [detect_corpus(root) for root in roots]
        for root, name in zip(roots, found):
            if name != found[0]:
                raise CorpusLayoutError(root, f"holds {name} but {roots[0]} holds {found[0]}")
        corpus = found[0]
    if corpus not in READERS:
        raise ValueError(f"unknown corpus {corpus!r}; known: {', '.join(READERS)}")
    return READERS[corpus](*roots)
