"""The media files a batch analyses: named files, folders (searched recursively), glob
patterns and manifest CSVs (a ``file`` column, paths relative to the CSV)."""

from __future__ import annotations

import csv
import glob
from collections.abc import Iterable
from pathlib import Path

from avemotion.core.formats import MEDIA_EXTENSIONS
from avemotion.errors import MediaNotFoundError

_GLOB = set("*?[")


def _manifest(path: Path, failures: list[str]) -> list[Path]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "file" not in reader.fieldnames:
                failures.append(f"{path}: a manifest CSV needs a 'file' column")
                return []
            return [(path.parent / row["file"]) for row in reader if (row.get("file") or "").strip()]
    except (OSError, UnicodeError, csv.Error) as error:
        failures.append(f"{path}: cannot read the manifest ({error})")
        return []


def expand_inputs(items: Iterable[str]) -> tuple[list[Path], list[str]]:
    """The media files the items name, in order, each once, and ``"<item>: <problem>"`` for
    the items that name none (a missing file, a folder without media, a glob matching
    nothing)."""
    files: list[Path] = []
    failures: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
            if not found:
                failures.append(f"{path}: no media files in this folder")
            files += found
        elif path.is_file() and path.suffix.lower() == ".csv":
            files += _manifest(path, failures)
        elif path.exists():
            files.append(path)
        elif _GLOB & set(item):
            matched = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            if not matched:
                failures.append(f"{item}: no file matches this pattern")
            files += matched
        else:
            failures.append(str(MediaNotFoundError(path, "file not found")))
    seen: set[Path] = set()
    unique = []
    for f in files:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique, failures
