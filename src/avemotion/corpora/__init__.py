"""Corpus readers: a folder of a known emotion corpus becomes a clip table.

``read_corpus(folder)`` detects the corpus from its file names and folders and returns a
:class:`~avemotion.corpora.table.Corpus`; ``READERS[name](*folders)`` reads a named corpus;
``read_corpora(*roots)`` reads roots of several corpora (and manifest CSVs) into one table.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from avemotion.corpora import (
    ck_plus,
    crema_d,
    emodb,
    enterface,
    fer2013,
    manifest,
    ravdess,
    savee,
    tess,
    turev,
)
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
    "tess": tess.read_tess,
    "turev": turev.read_turev,
    "manifest": manifest.read_manifest,
}

_LOOKS_LIKE: dict[str, Callable[[Path], bool]] = {
    "ravdess": ravdess.looks_like,
    "crema_d": crema_d.looks_like,
    "emodb": emodb.looks_like,
    "savee": savee.looks_like,
    "enterface": enterface.looks_like,
    "fer2013": fer2013.looks_like,
    "ck_plus": ck_plus.looks_like,
    "tess": tess.looks_like,
    "turev": turev.looks_like,
    "manifest": manifest.looks_like,
}

#: Detection looks at no more than this many files of a folder.
MAX_FILES_TO_DETECT = 20_000

__all__ = ["READERS", "Corpus", "combine_corpora", "detect_corpus", "group_roots", "read_corpora", "read_corpus"]


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
    groups = list(group_roots(*roots, corpus=corpus).items())
    if len(groups) > 1:
        (first, _), (name, others) = groups[:2]
        raise CorpusLayoutError(others[0], f"holds {name} but {roots[0]} holds {first}")
    corpus = groups[0][0]
    if corpus not in READERS:
        raise ValueError(f"unknown corpus {corpus!r}; known: {', '.join(READERS)}")
    return READERS[corpus](*roots)


def group_roots(
    *roots: str | os.PathLike[str], corpus: str | None = None
) -> dict[str, list[str | os.PathLike[str]]]:
    """Corpus name -> its roots, in the order the corpora first appear; every root goes under
    ``corpus`` when it is given, else under its :func:`detect_corpus`."""
    groups: dict[str, list[str | os.PathLike[str]]] = {}
    for root in roots:
        groups.setdefault(corpus or detect_corpus(root), []).append(root)
    return groups


def read_corpora(*roots: str | os.PathLike[str], corpus: str | None = None) -> Corpus:
    """Read roots of one or several corpora (any mix of layouts and manifest CSVs) as one corpus.

    Roots are grouped by :func:`group_roots`, each group is read by its reader (so roots of one
    corpus are merged as :func:`read_corpus` does) and the tables are joined by
    :func:`combine_corpora`.
    """
    if not roots:
        raise TypeError("read_corpora() needs at least one folder")
    groups = group_roots(*roots, corpus=corpus)
    return combine_corpora([read_corpus(*group, corpus=name) for name, group in groups.items()])


def combine_corpora(corpora: list[Corpus]) -> Corpus:
    """One corpus of several: named ``"tess+turev"``, roots, tables and unrecognised files in order.

    A single corpus is returned unchanged. Otherwise the table holds the union of the columns
    (missing cells ``None``, or NaN in numeric columns) and each clip id is prefixed with its
    reader's name (``tess:OAF_back_angry``) so that ids stay unique; speaker ids already are.
    """
    if len(corpora) == 1:
        return corpora[0]
    tables = [c.table.assign(clip_id=[f"{c.name}:{i}" for i in c.table["clip_id"]]) for c in corpora]
    table = pd.concat(tables, ignore_index=True, sort=False).astype({"clip_id": object})
    for column in [c for c in table.columns if table[c].dtype.kind == "O"]:
        table[column] = table[column].where(table[column].notna(), None)
    return Corpus(
        "+".join(c.name for c in corpora),
        tuple(root for c in corpora for root in c.roots),
        table,
        [u for c in corpora for u in c.unrecognised],
    )
