"""A content-addressed cache of extracted features.

An entry's key is made of the input file's content hash (SHA-256), the extractor's name and its
parameters, so renaming or moving a file still hits the cache and changing one parameter misses
it. Values are NumPy arrays or ``dict[str, ndarray]``, stored as ``.npz`` files. Every write goes
to a temporary file in the same folder and is renamed into place, so a run killed half-way
leaves either the whole entry or none.

Location: the ``root`` argument, else ``$AVEMOTION_CACHE_DIR``, else the user's cache folder
(``platformdirs.user_cache_dir("avemotion")``, e.g. ``~/.cache/avemotion``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from avemotion.core.atomic import atomic_write_bytes, atomic_write_npz
from avemotion.core.env import CACHE_DIR_VAR
from avemotion.core.folders import unwritable_reason
from avemotion.errors import CacheError

ENV_VAR = CACHE_DIR_VAR
_VALUE = "__value__"

Feature = np.ndarray | dict[str, np.ndarray]


def default_cache_dir() -> Path:
    """``$AVEMOTION_CACHE_DIR`` if set, else the platform's user cache folder for avemotion."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("avemotion"))


def cannot_write(root: str | os.PathLike[str], error: OSError | str) -> CacheError:
    """The :class:`~avemotion.errors.CacheError` for a cache folder ``root`` that cannot be written."""
    reason = error if isinstance(error, str) else (error.strerror or str(error)).lower()
    return CacheError(root, f"cannot write the cache folder ({reason}); give a writable one with --cache-dir or ${ENV_VAR}")


def check_writable(root: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder (``root`` or :func:`default_cache_dir`), made if missing; raises
    :class:`~avemotion.errors.CacheError` when no file can be written in it."""
    folder = Path(root).expanduser() if root is not None else default_cache_dir()
    reason = unwritable_reason(folder)
    if reason is not None:
        raise cannot_write(folder, reason)
    return folder


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """Size of a cache: ``entries`` feature files taking ``bytes`` bytes under ``root``."""

    root: str
    entries: int
    bytes: int


class FeatureCache:
    """Content-addressed store of features (see the module docstring).

    ``hits`` and ``misses`` count lookups made through :meth:`get_or_compute` by this object.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0
        self._digests: dict[tuple[str, int, int], str] = {}

    # --- keys ----------------------------------------------------------------------------

    def file_digest(self, path: str | os.PathLike[str]) -> str:
        """SHA-256 of the file's bytes, remembered per (path, size, mtime) in memory and on disk."""
        path = Path(path)
        try:
            st = path.stat()
            real = str(path.resolve())
        except OSError as e:
            raise CacheError(path, f"cannot read file to hash it: {e.strerror}") from None
        stamp = (real, st.st_size, st.st_mtime_ns)
        if stamp in self._digests:
            return self._digests[stamp]
        memo = self.root / "digests" / (hashlib.sha1(repr(stamp).encode()).hexdigest() + ".txt")
        try:
            digest = memo.read_text().strip()
        except OSError:
            digest = ""
        if len(digest) != 64:
            digest = _hash_file(path)
            try:
                atomic_write_bytes(memo, digest.encode())
            except OSError:
                pass  # a read-only cache still works, it just hashes again next run
        self._digests[stamp] = digest
        return digest

    def key(self, path: str | os.PathLike[str], extractor: str, params: Mapping[str, Any]) -> str:
        """The entry key of ``extractor(params)`` applied to the file at ``path``."""
        blob = json.dumps(
            {"file": self.file_digest(path), "extractor": extractor, "params": dict(params)},
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def _entry(self, extractor: str, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in extractor)
        return self.root / "features" / safe / key[:2] / f"{key}.npz"

    # --- entries -------------------------------------------------------------------------

    def get(self, extractor: str, key: str) -> Feature | None:
        """The stored value, or ``None`` on a miss (an unreadable entry is removed and missed)."""
        entry = self._entry(extractor, key)
        if not entry.is_file():
            return None
        try:
            with np.load(entry, allow_pickle=False) as npz:
                value = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            entry.unlink(missing_ok=True)
            return None
        return value[_VALUE] if set(value) == {_VALUE} else value

    def put(self, extractor: str, key: str, value: Feature) -> None:
        """Store ``value`` atomically under ``key`` (:class:`~avemotion.errors.CacheError` when the
        cache folder cannot be written)."""
        arrays = {_VALUE: np.asarray(value)} if not isinstance(value, dict) else dict(value)
        if _VALUE in arrays and len(arrays) > 1:
            raise ValueError(f"a feature dict may not use the reserved name {_VALUE!r}")
        try:
            atomic_write_npz(self._entry(extractor, key), arrays)
        except OSError as error:
            raise cannot_write(self.root, error) from None

    def get_or_compute(
        self,
        path: str | os.PathLike[str],
        extractor: str,
        params: Mapping[str, Any],
        compute: Callable[[], Feature],
    ) -> Feature:
        """Return the cached feature of ``path``, computing and storing it on a miss."""
        key = self.key(path, extractor, params)
        value = self.get(extractor, key)
        if value is not None:
            self.hits += 1
            return value
        self.misses += 1
        value = compute()
        self.put(extractor, key, value)
        return value

    # --- maintenance ---------------------------------------------------------------------

    def stats(self) -> CacheStats:
        """Number of feature entries and bytes used by the whole cache folder."""
        entries = 0
        size = 0
        if self.root.is_dir():
            for dirpath, _, files in os.walk(self.root):
                for name in files:
                    size += (Path(dirpath) / name).stat().st_size
                    entries += name.endswith(".npz") and not name.startswith(".")
        return CacheStats(str(self.root), entries, size)

    def clear(self) -> CacheStats:
        """Delete every entry; returns what was removed. Only avemotion's own folders are touched."""
        removed = self.stats()
        for sub in ("features", "digests"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
        return removed
