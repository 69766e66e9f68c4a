from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avemotion.cache import FeatureCache
from avemotion.corpora import read_corpus
from avemotion.features import feature_specs, stack
from avemotion.recipes import validate
from avemotion.training.pipeline import augmented_copies, cross_validate_recipe


def test_stack_pads_and_checks_shapes() -> None:
    out = stack([np.ones((2, 3)), np.ones((2, 5))])
    assert out.shape == (2, 2, 5) and out[0, :, 3:].sum() == 0 and out[1].sum() == 10
    assert stack([np.ones((2, 7))], length=4).shape == (1, 2, 4)
    with pytest.raises(ValueError, match="shapes differ"):
        stack([np.ones((2, 3)), np.ones((3, 3))])


def small_recipe(**augmentation: object) -> dict:
    return validate(
        {
            "labels": ["happy", "sad", "angry"],
            "features": {"extractor": ["seed001", "whisper_tiny"], "params": {"whisper_tiny": {"size": "tiny"}}},
            "augmentation": augmentation,
            "model": {"name": "logistic", "params": {"Cs": [0.01, 1.0]}},
            "training": {"validation_fraction": 0.25, "seed": 0},
        }
    )


def test_feature_specs_of_a_list() -> None:
    specs = feature_specs(small_recipe())
    assert [name for name, _ in specs] == ["seed001", "whisper_tiny"]
    assert specs[0][1] == {} and specs[1][1] == {"size": "tiny"}


@pytest.fixture(scope="module")
def small_table(shared_data: Path) -> pd.DataFrame:
    table = read_corpus(shared_data / "ravdess").table
    actors = {f"ravdess:{a:02d}" for a in range(1, 6)}
    keep = table["speaker"].isin(actors) & table["emotion"].isin(["happy", "sad", "angry"]) & (table["intensity"] == "strong")
    return table[keep].reset_index(drop=True)


def test_cross_validate_recipe_reports_bad_files_and_never_leaks(
    small_table: pd.DataFrame, tmp_path: Path
) -> None:
    broken = tmp_path / "03-01-03-02-01-01-05.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    bad_row = small_table.iloc[[0]].assign(clip_id="broken", audio=str(broken))
    table = pd.concat([small_table, bad_row], ignore_index=True)
    result, info = cross_validate_recipe(
        small_recipe(), table, split="speaker5", out_dir=tmp_path / "out", cache=FeatureCache(tmp_path / "c"), progress=False
    )
    assert info["n_clips"] == len(small_table)
    assert len(info["failures"]) == 1 and str(broken) in info["failures"][0]
    preds = result.predictions
    assert sorted(preds["clip_id"]) == sorted(small_table["clip_id"])
    for fold in result.folds:
        test_speakers = set(preds.loc[preds["fold"] == fold.name, "speaker"])
        assert len(test_speakers) == 1
    assert (tmp_path / "out" / "metrics.json").is_file() and (tmp_path / "out" / "predictions.csv").is_file()
    assert 0.0 <= result.metrics["mean"]["uar"] <= 1.0


def test_augmented_copies_are_reproducible_cached_and_different(small_table: pd.DataFrame, tmp_path: Path) -> None:
    recipe = small_recipe(waveform={"p_noise": 1.0, "p_pitch": 0.0, "p_gain": 0.0, "noise_snr_db": [10.0, 10.0]})
    paths = list(small_table["audio"][:3])
    cache = FeatureCache(tmp_path / "c")
    first = augmented_copies(paths, recipe, copy=0, cache=cache)
    assert cache.misses == 3
    again = augmented_copies(paths, recipe, copy=0, cache=cache)
    assert cache.hits == 3
    other = augmented_copies(paths, recipe, copy=1, cache=cache)
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, c)
