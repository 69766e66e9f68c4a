"""Machinery shared by the corpus readers: walking roots, merging files into clips, reporting.

A reader walks :meth:`CorpusBuilder.files`, parses each name and either adds the file to a clip
(:meth:`~CorpusBuilder.add`), consumes it as known metadata (:meth:`~CorpusBuilder.consume`) or
rejects it with a reason (:meth:`~CorpusBuilder.reject`). Each file is added under a *kind*
(``"wav"``, ``"03"``...); one clip keeps at most one file per kind, and the table columns are
filled from the kinds in a reader-given order of preference.

README, LICENSE/LICENCE and COPYING files and ``*.md`` files are documentation: they are skipped
without being reported and do not count as files of the corpus.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from avemotion.corpora.table import Corpus, Unrecognised, iter_files, make_table
from avemotion.errors import CorpusLayoutError

_DOCUMENTATION_PREFIXES = ("readme", "license", "licence", "copying")


def is_documentation(path: Path) -> bool:
    """Whether ``path`` is a README/licence file that readers skip without reporting."""
    name = path.name.lower()
    return name.startswith(_DOCUMENTATION_PREFIXES) or name.endswith(".md")


def preference(path: Path, order: Sequence[str]) -> int:
    """Rank of ``path``'s extension in ``order`` (lower is preferred); unlisted ones rank last."""
    ext = path.suffix.lower()
    return order.index(ext) if ext in order else len(order)


def csv_header(path: Path) -> list[str]:
    """The stripped column names of a CSV's first line; ``[]`` when it cannot be read as text."""
    try:
        with open(path, encoding="utf-8-sig", errors="strict", newline="") as f:
            line = f.readline()
    except (OSError, UnicodeDecodeError):
        return []
    return [c.strip().strip('"').strip() for c in line.split(",")]


def walk_files(roots: Sequence[Path]) -> Iterator[tuple[int, Path]]:
    """``(root index, file)`` for every file under ``roots`` (a root may be a file itself)."""
    for index, root in enumerate(roots):
        for path in [root] if root.is_file() else iter_files(root):
            yield index, path


@dataclass
class _File:
    ref: str
    rank: int


class CorpusBuilder:
    """Collects one reader's clips, rejected files and per-root bookkeeping."""

    def __init__(self, name: str, title: str, roots: Sequence[str | os.PathLike[str]], expected: str) -> None:
        if not roots:
            raise TypeError(f"read_{name}() needs at least one folder")
        self.name = name
        self.title = title
        self.expected = expected
        self.roots = tuple(_resolve_root(r, title, expected) for r in roots)
        self.unrecognised: list[Unrecognised] = []
        self._recognised = [0] * len(self.roots)
        self._root = 0
        self._used: set[str] = set()
        self._fields: dict[str, dict[str, Any]] = {}
        self._files: dict[str, dict[str, _File]] = {}

    def files(self) -> Iterator[Path]:
        """Every file under the roots once, in root order then sorted path order."""
        seen: set[Path] = set()
        for index, path in walk_files(self.roots):
            self._root = index
            if path in seen:
                if str(path) in self._used:
                    self._recognised[index] += 1
                continue
            seen.add(path)
            if not is_documentation(path):
                yield path

    def reject(self, path: str | Path, reason: str) -> None:
        """Report ``path`` as a file the reader did not use."""
        self.unrecognised.append(Unrecognised(str(path), reason))

    def consume(self, path: Path) -> None:
        """Mark ``path`` as a known file of the corpus that is not a clip (metadata, features)."""
        self._used.add(str(path))
        self._recognised[self._root] += 1

    def add(
        self,
        clip_id: str,
        kind: str,
        path: Path,
        fields: Mapping[str, Any] | None,
        rank: int = 0,
        ref: str | None = None,
    ) -> None:
        """Record ``path`` (or ``ref``, a reference into it) as the ``kind`` file of ``clip_id``.

        ``fields`` are the clip's metadata columns; ``None`` marks a file that attaches to a clip
        but cannot make one (a feature file). Of two files of one kind the lower ``rank`` wins,
        then the first seen; the other is reported as a duplicate.
        """
        self.consume(path)
        ref = str(path) if ref is None else ref
        if fields is not None:
            known = self._fields.setdefault(clip_id, dict(fields))
            if known != fields:
                self.reject(ref, f"contradicts another file of clip {clip_id}")
                return
        kinds = self._files.setdefault(clip_id, {})
        new = _File(ref, rank)
        old = kinds.get(kind)
        if old is None:
            kinds[kind] = new
            return
        keep, drop = (old, new) if old.rank <= rank else (new, old)
        kinds[kind] = keep
        self.reject(drop.ref, f"duplicate of {keep.ref}")

    def rows(self, columns: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        """One row per clip: its fields and, per column, the file of the first kind present."""
        rows = []
        for clip_id, kinds in self._files.items():
            fields = self._fields.get(clip_id)
            if fields is None:
                for file in kinds.values():
                    self.reject(file.ref, f"no media file of clip {clip_id} was found")
                continue
            row: dict[str, Any] = {"clip_id": clip_id, "corpus": self.name, **fields}
            for column, order in columns.items():
                row[column] = next((kinds[k].ref for k in order if k in kinds), None)
            rows.append(row)
        return rows

    def finish(self, table: pd.DataFrame) -> Corpus:
        """The corpus; raises :class:`CorpusLayoutError` for a root without a file of the corpus."""
        for root, count in zip(self.roots, self._recognised):
            if count == 0:
                raise self.layout_error(root)
        if table.empty:
            raise self.layout_error(self.roots[0])
        self.unrecognised.sort(key=lambda u: u.path)
        return Corpus(self.name, tuple(str(r) for r in self.roots), table, self.unrecognised)

    def layout_error(self, root: Path) -> CorpusLayoutError:
        """The error for a root that holds no clip of this corpus."""
        return CorpusLayoutError(root, f"no {self.title} file found (expected {self.expected})")


#: Parses one file's path into its clip's fields, or into the reason it is not a clip.
PathParser = Callable[[Path], dict[str, Any] | str]


def read_audio_files(builder: CorpusBuilder, parse: PathParser, order: Sequence[str]) -> Corpus:
    """Read a corpus whose clips are one audio file each, with the file stem as clip id.

    Of two files of one stem (a .wav and a .flac) the extension earlier in ``order`` wins.
    """
    for path in builder.files():
        fields = parse(path)
        if isinstance(fields, str):
            builder.reject(path, fields)
        else:
            builder.add(path.stem, "audio", path, fields, preference(path, order))
    return builder.finish(make_table(builder.rows({"audio": ("audio",)})))


def _resolve_root(root: str | os.PathLike[str], title: str, expected: str) -> Path:
    path = Path(root).expanduser()
    if not path.exists():
        raise CorpusLayoutError(path, f"does not exist (expected a {title} folder: {expected})")
    return path.resolve()
