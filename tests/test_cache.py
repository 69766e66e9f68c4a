from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from avemotion.cache import FeatureCache, default_cache_dir
from avemotion.cli.main import main
from avemotion.core.atomic import atomic_write_bytes


@pytest.fixture
def media_file(tmp_path: Path) -> Path:
    path = tmp_path / "clip.bin"
    path.write_bytes(os.urandom(4096))
    return path


def test_round_trip_and_hit_counts(tmp_path: Path, media_file: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(12, dtype=np.float32).reshape(3, 4)

    first = cache.get_or_compute(media_file, "toy", {"n": 3}, compute)
    second = cache.get_or_compute(media_file, "toy", {"n": 3}, compute)
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32
    # A fresh object (a later run) hits the same entry.
    again = FeatureCache(tmp_path / "c")
    again.get_or_compute(media_file, "toy", {"n": 3}, compute)
    assert again.hits == 1 and len(calls) == 1


def test_key_depends_on_content_extractor_and_params(tmp_path: Path, media_file: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    base = cache.key(media_file, "mel", {"n_mels": 96})
    assert cache.key(media_file, "mel", {"n_mels": 64}) != base
    assert cache.key(media_file, "mfcc", {"n_mels": 96}) != base
    moved = tmp_path / "renamed.bin"
    shutil.copy(media_file, moved)
    assert cache.key(moved, "mel", {"n_mels": 96}) == base
    moved.write_bytes(b"other content")
    assert cache.key(moved, "mel", {"n_mels": 96}) != base


def test_dict_values(tmp_path: Path, media_file: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    value = {"mfcc": np.ones((2, 3)), "rms": np.zeros(5)}
    cache.get_or_compute(media_file, "multi", {}, lambda: value)
    out = cache.get_or_compute(media_file, "multi", {}, lambda: pytest.fail("recomputed"))
    assert set(out) == {"mfcc", "rms"}
    np.testing.assert_array_equal(out["mfcc"], value["mfcc"])


def test_killed_write_leaves_no_entry(tmp_path: Path, media_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FeatureCache(tmp_path / "c")

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.get_or_compute(media_file, "toy", {}, lambda: np.ones(3))
    monkeypatch.undo()
    leftovers = [p for p in (tmp_path / "c" / "features").rglob("*") if p.is_file()]
    assert leftovers == []
    assert cache.stats().entries == 0


def test_corrupt_entry_is_recomputed(tmp_path: Path, media_file: Path) -> None:
    cache = FeatureCache(tmp_path / "c")
    cache.get_or_compute(media_file, "toy", {}, lambda: np.ones(3))
    (entry,) = (tmp_path / "c" / "features").rglob("*.npz")
    entry.write_bytes(b"garbage")
    out = cache.get_or_compute(media_file, "toy", {}, lambda: np.full(3, 7.0))
    np.testing.assert_array_equal(out, np.full(3, 7.0))


def test_default_location_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVEMOTION_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("AVEMOTION_CACHE_DIR")
    assert "avemotion" in str(default_cache_dir())


def test_atomic_write_bytes(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]


def test_cli_cache_info_and_clear(tmp_path: Path, media_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "cli-cache"
    FeatureCache(root).get_or_compute(media_file, "toy", {}, lambda: np.ones(1000))
    assert main(["--cache-dir", str(root), "cache"]) == 0
    out = capsys.readouterr().out
    assert str(root) in out and "1 entries" in out
    assert main(["--cache-dir", str(root), "cache", "clear"]) == 0
    assert "cleared" in capsys.readouterr().out
    assert FeatureCache(root).stats().entries == 0
