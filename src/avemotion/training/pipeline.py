"""From a recipe and a clip table to features, an estimator and a cross-validation run.

A recipe (:mod:`avemotion.recipes`) names the feature extractor(s), the augmentation, the model
and the training settings; this module assembles those named parts. The recipe's modality
(:func:`~avemotion.recipes.recipe_modality`) picks the table column its clips are read from
(``audio`` or ``video``) and the extractors that read them (:mod:`avemotion.audio.extract` or
:mod:`avemotion.visual.extract`); everything else is the same for both:

* :func:`recipe_features` computes each clip's features through the feature cache and stacks
  them into one array (variable-length features are zero-padded at the end of their last axis;
  several vector extractors are concatenated);
* :func:`augmented_copies` makes offline waveform-augmented copies of *training* clips only,
  cached like any feature;
* :func:`make_estimator` builds the recipe's estimator (a :class:`NeuralClassifier` for a
  network, a scikit-learn head for fixed embeddings), with SpecAugment as a batch transform;
* :func:`cross_validate_recipe` runs them over a named speaker-independent split.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from avemotion.audio.augment import Augmenter, spec_augment
from avemotion.audio.extract import cache_params
from avemotion.audio.features import check_not_silent
from avemotion.cache import FeatureCache
from avemotion.core.labels import label_set
from avemotion.corpora.splits import Fold, speaker_train_test_split
from avemotion.errors import AvemotionError
from avemotion.estimators import HEADS
from avemotion.estimators.neural import NeuralClassifier
from avemotion.features import (
    SAMPLE_RATE,
    feature_specs,
    media_column,
    recipe_features,
    signal_features,
    stack,
)
from avemotion.media.decode import load_audio
from avemotion.models import MODELS
from avemotion.training.crossval import CVResult, cross_validate, fit_parameters

_NOT_TRAINER = ("validation_fraction",)


def augmented_copies(
    paths: Sequence[str],
    recipe: dict[str, Any],
    *,
    copy: int,
    cache: FeatureCache | None = None,
    progress: bool = False,
) -> list[np.ndarray]:
    """Features of one waveform-augmented copy (number ``copy``) of each file.

    The augmentation of a file depends only on the recipe's seed, ``copy`` and the file's
    content hash, so the copies are reproducible and cached like any feature.
    """
    cache = cache if cache is not None else FeatureCache()
    augmenter = Augmenter(**recipe["augmentation"]["waveform"])
    seed = int(recipe["training"]["seed"])
    specs = feature_specs(recipe)
    out = []
    for path in tqdm(paths, desc=f"augmented copy {copy}", unit="clip", disable=not progress, leave=False):
        digest = cache.file_digest(path)

        def augmented(path: str = path, digest: str = digest) -> np.ndarray:
            signal = load_audio(path, SAMPLE_RATE)
            check_not_silent(signal, path)
            rng = np.random.default_rng([seed, copy, zlib.crc32(digest.encode())])
            return signal_features(augmenter(signal, SAMPLE_RATE, rng), recipe)

        params = {
            "features": [[n, cache_params(n, sr=SAMPLE_RATE, **p)] for n, p in specs],
            "augmenter": recipe["augmentation"]["waveform"],
            "seed": seed,
            "copy": copy,
        }
        out.append(np.asarray(cache.get_or_compute(path, "augmented", params, augmented), dtype=np.float32))
    return out


class SpecAugmentTransform:
    """A trainer ``batch_transform`` applying :func:`spec_augment` (with ``params``) to each item
    of a batch of (..., n_mels, n_frames) spectrograms, seeded from the trainer's generator."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = dict(params)

    def __repr__(self) -> str:
        return f"SpecAugmentTransform({self.params!r})"

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=generator.device).item())
        rng = np.random.default_rng(seed)
        batch = x.detach().cpu().numpy()
        masked = np.stack([spec_augment(item, rng, **self.params) for item in batch])
        return torch.from_numpy(masked).to(x.device, x.dtype)


def make_estimator(recipe: dict[str, Any], *, progress: bool = False, num_threads: int | None = None) -> Any:
    """A fresh, unfitted estimator as the recipe describes."""
    model = recipe["model"]
    if model["name"] in HEADS:
        return HEADS[model["name"]](**model["params"])
    if model["name"] not in MODELS:
        raise KeyError(f"unknown model {model['name']!r}")
    trainer = {k: v for k, v in recipe["training"].items() if k not in _NOT_TRAINER}
    trainer["progress"] = progress
    if num_threads is not None:
        trainer["num_threads"] = num_threads
    if recipe["augmentation"].get("spec_augment"):
        trainer["batch_transform"] = SpecAugmentTransform(recipe["augmentation"]["spec_augment"])
    return NeuralClassifier(model["name"], recipe["labels"], model["params"], trainer)


@dataclass
class RecipeData:
    """The clips of a table a recipe could use, with their features.

    ``table`` keeps the rows whose features worked (reindexed from 0), ``X`` their stacked
    features (N, ...), ``augmented`` one array like ``X`` per augmented copy of the rows asked
    for (zeros elsewhere), ``failures`` ``"path: message"`` for each file that failed,
    ``without_media`` the clip ids of the rows left out for having no file of the recipe's
    modality.
    """

    table: pd.DataFrame
    X: np.ndarray
    augmented: list[np.ndarray]
    failures: list[str]
    feature_seconds: float
    augment_seconds: float
    without_media: list[str]


def recipe_data(
    recipe: dict[str, Any],
    table: pd.DataFrame,
    *,
    cache: FeatureCache,
    copies: int,
    augment_rows: Callable[[pd.DataFrame], np.ndarray] | None = None,
    progress: bool = False,
) -> RecipeData:
    """Features of every clip of ``table`` with a file in the recipe's column
    (:func:`media_column`) and, when the recipe has waveform augmentation and ``copies`` > 0,
    augmented copies of the rows ``augment_rows(table)`` selects (default: all rows)."""
    column = media_column(recipe)
    present = table[column].notna().to_numpy()
    ids = table["clip_id"] if "clip_id" in table.columns else pd.Series(table.index, index=table.index)
    without_media = [str(i) for i in ids[~present]]
    table = table[present].reset_index(drop=True)
    start = time.perf_counter()
    if not len(table):
        raise AvemotionError(f"the recipe reads {column} files; none of the {len(present)} clips has one")
    feats, failures = recipe_features(list(table[column]), recipe, cache=cache, progress=progress)
    keep = [i for i, f in enumerate(feats) if f is not None]
    if not keep:
        raise AvemotionError(f"no {column} file of the {len(table)} clips could be read (first: {failures[0][0]}: {failures[0][1]})")
    table = table.iloc[keep].reset_index(drop=True)
    X = stack([f for f in feats if f is not None])
    feature_seconds = time.perf_counter() - start
    start = time.perf_counter()
    augmented = []
    if recipe["augmentation"].get("waveform") and copies > 0:
        rows = np.arange(len(table)) if augment_rows is None else augment_rows(table)
        paths = list(table["audio"].to_numpy()[rows])
        for c in range(copies):
            copy = np.zeros_like(X)
            copy[rows] = stack(augmented_copies(paths, recipe, copy=c, cache=cache, progress=progress), X.shape[-1])
            augmented.append(copy)
    return RecipeData(
        table,
        X,
        augmented,
        [f"{p}: {m}" for p, m in failures],
        feature_seconds,
        time.perf_counter() - start,
        without_media,
    )


def cross_validate_recipe(
    recipe: dict[str, Any],
    table: pd.DataFrame,
    *,
    split: str | Sequence[Fold],
    out_dir: str | Path | None = None,
    cache: FeatureCache | None = None,
    copies: int = 1,
    progress: bool = True,
    num_threads: int | None = None,
    resume: bool = False,
) -> tuple[CVResult, dict[str, Any]]:
    """Extract features for every clip with a file of the recipe's modality (audio or video),
    then cross-validate the recipe on ``split`` (a split name, or folds of row positions into
    ``table`` without the rows that have no such file or whose file fails).

    With waveform augmentation in the recipe, ``copies`` augmented copies of each *training*
    clip are added per fold (never of validation or test clips). ``resume`` reuses the folds an
    earlier run into ``out_dir`` finished (see :func:`~avemotion.training.crossval.cross_validate`). Returns the CV result and
    timings/failures: ``{"feature_seconds", "augment_seconds", "failures", "without_media",
    "n_clips"}``.
    """
    data = recipe_data(
        recipe, table, cache=cache if cache is not None else FeatureCache(), copies=copies, progress=progress
    )
    emotions = data.table["emotion"].to_numpy()

    def extra(rows: np.ndarray) -> list[tuple[np.ndarray, Any]]:
        return [(copy[rows], emotions[rows]) for copy in data.augmented]

    result = cross_validate(
        lambda: make_estimator(recipe, progress=progress, num_threads=num_threads),
        data.X,
        data.table,
        split=split,
        labels=recipe["labels"],
        validation_fraction=float(recipe["training"]["validation_fraction"]),
        seed=int(recipe["training"]["seed"]),
        out_dir=out_dir,
        extra_train=extra if data.augmented else None,
        progress=progress,
        resume=resume,
    )
    info = {
        "n_clips": len(data.table),
        "feature_seconds": data.feature_seconds,
        "augment_seconds": data.augment_seconds,
        "failures": data.failures,
        "without_media": data.without_media,
    }
    return result, info


def fit_recipe(
    recipe: dict[str, Any],
    table: pd.DataFrame,
    *,
    cache: FeatureCache | None = None,
    copies: int = 1,
    progress: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Train the recipe's estimator on every clip of ``table`` with a file of the recipe's
    modality (audio or video), for shipping.

    Validation actors (``training.validation_fraction`` of the speakers, by speaker) select the
    epoch or the regularisation; a head that refits (``LogisticHead``) then uses all clips.
    Augmented copies are made of the training actors' clips only. Returns the fitted estimator
    and what it was trained on.
    """
    labels = label_set(recipe["labels"])
    seed = int(recipe["training"]["seed"])

    def split(t: pd.DataFrame) -> Fold:
        fraction = float(recipe["training"]["validation_fraction"])
        return speaker_train_test_split(t, validation=fraction, test=0.0, seed=seed, name="training")

    copies = copies if recipe["model"]["name"] in MODELS else 0
    labelled = table[table["emotion"].isin(labels)]
    if not len(labelled):
        raise AvemotionError(f"none of the {len(table)} clips has one of the recipe's emotions ({', '.join(labels)})")
    data = recipe_data(
        recipe,
        labelled,
        cache=cache if cache is not None else FeatureCache(),
        copies=copies,
        augment_rows=lambda t: split(t).train,
        progress=progress,
    )
    fold = split(data.table)
    y = data.table["emotion"].to_numpy()
    estimator = make_estimator(recipe, progress=progress)
    kwargs: dict[str, Any] = {}
    if data.augmented:
        kwargs["extra_train"] = [(a[fold.train], y[fold.train]) for a in data.augmented]
    if "groups" in fit_parameters(estimator):
        speakers = data.table["speaker"].astype(str).to_numpy()
        kwargs.update(groups=speakers[fold.train], groups_val=speakers[fold.validation])
    estimator.fit(data.X[fold.train], y[fold.train], data.X[fold.validation], y[fold.validation], **kwargs)
    info = {
        "corpus": sorted(data.table["corpus"].unique()),
        "n_clips": len(data.table),
        "speakers": sorted(data.table["speaker"].unique()),
        "validation_speakers": sorted(set(data.table["speaker"].to_numpy()[fold.validation])),
        "failures": data.failures,
        "n_without_media": len(data.without_media),
    }
    return estimator, info
