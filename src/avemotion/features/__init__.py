"""A recipe's features of a signal or a file: the inference feature code that prediction,
training and the benchmarks share (no training here).

A recipe's ``features`` block names one extractor or several (``extractor: [a, b]``; their
vectors are concatenated) with their parameters; :func:`recipe_modality` says which table
column its clips are read from (``audio``, ``video`` or ``image``). For the Whisper layer
extractors (``whisper_layers_*``) ``states: [[3, 4], [2, 3]]`` keeps only those hidden states
of each (their mean and std), in that order: the cache holds every state, a signal's
features compute only up to the last one kept.

* :func:`signal_features`: one in-memory 16 kHz signal, no cache;
* :func:`file_features`: one audio or video file, through the feature cache;
* :func:`recipe_features`: many files, going on past those that fail;
* :func:`stack`: same-rank arrays into one (N, ...) array, zero-padded on the last axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from avemotion.audio.extract import compute, extract_all, state_count
from avemotion.cache import FeatureCache
from avemotion.errors import AvemotionError
from avemotion.visual.extract import VIDEO_EXTRACTORS

#: Sample rate (Hz) every audio feature is computed at.
SAMPLE_RATE = 16000


def feature_specs(recipe: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The recipe's extractors as ``(name, params)`` pairs, in concatenation order."""
    features = recipe["features"]
    names = features["extractor"] if isinstance(features["extractor"], list) else [features["extractor"]]
    if len(names) == 1:
        return [(names[0], dict(features["params"]))]
    return [(name, dict(features["params"].get(name) or {})) for name in names]


def stack(arrays: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """Stack same-rank arrays, zero-padding (or cutting) the last axis to ``length`` (default:
    the longest); all other axes must agree. Returns (N, ...) float32."""
    if not arrays:
        raise ValueError("nothing to stack")
    target = length if length is not None else max(a.shape[-1] for a in arrays)
    out = np.zeros((len(arrays), *arrays[0].shape[:-1], target), dtype=np.float32)
    for i, a in enumerate(arrays):
        if a.shape[:-1] != arrays[0].shape[:-1]:
            raise ValueError(f"feature shapes differ: {a.shape} vs {arrays[0].shape}")
        n = min(target, a.shape[-1])
        out[i, ..., :n] = a[..., :n]
    return out


def _kept_states(recipe: dict[str, Any]) -> list[list[int]] | None:
    states = recipe["features"].get("states")
    return None if states is None else [[int(i) for i in s] for s in states]


def _select(parts: list[np.ndarray], recipe: dict[str, Any]) -> list[np.ndarray]:
    """``parts`` with only the hidden states the recipe's ``states`` keeps (all without it)."""
    kept = _kept_states(recipe)
    if kept is None:
        return parts
    specs = feature_specs(recipe)
    return [
        part.reshape(state_count(name, params), -1)[states].reshape(-1)
        for part, (name, params), states in zip(parts, specs, kept, strict=True)
    ]


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return np.asarray(parts[0], dtype=np.float32)
    if any(p.ndim != 1 for p in parts):
        raise ValueError("only vector features (one axis) can be concatenated")
    return np.concatenate(parts).astype(np.float32)


def signal_features(
    signal: np.ndarray, recipe: dict[str, Any], sr: int = SAMPLE_RATE,
    runtime: Sequence[Mapping[str, Any] | None] | None = None,
) -> np.ndarray:
    """The recipe's feature of one in-memory mono signal (no cache); ``runtime``: per extractor,
    in order, values of its runtime parameters (see :class:`avemotion.audio.extract.Extractor`)."""
    specs = feature_specs(recipe)
    kept = _kept_states(recipe)
    if runtime is None and kept is not None:
        runtime = [{"states": 1 + max(s)} for s in kept]
    hints = list(runtime) if runtime is not None else [None] * len(specs)
    if len(hints) != len(specs):
        raise ValueError(f"{len(hints)} runtime parameter sets for {len(specs)} extractors")
    parts = [compute(name, signal, sr, runtime=hint, **params) for (name, params), hint in zip(specs, hints)]
    return _combine(_select(parts, recipe))


def media_column(recipe: dict[str, Any]) -> str:
    """The clip-table column holding the files the recipe's features read (``audio`` or ``video``)."""
    modality = recipe_modality(recipe)
    if modality not in ("audio", "video"):
        raise ValueError(f"{modality} recipes are not trained from clip tables by this pipeline")
    return modality


def file_features(path: str, recipe: dict[str, Any], cache: FeatureCache | None = None) -> np.ndarray:
    """The recipe's feature of one audio or video file, through ``cache`` (default: the user's)."""
    cache = cache if cache is not None else FeatureCache()
    specs = feature_specs(recipe)
    if media_column(recipe) == "video":
        return _combine([VIDEO_EXTRACTORS[name](path, cache=cache, **params) for name, params in specs])
    return _combine(_select(extract_all(path, specs, sr=SAMPLE_RATE, cache=cache), recipe))


def recipe_features(
    paths: Sequence[str],
    recipe: dict[str, Any],
    *,
    cache: FeatureCache | None = None,
    progress: bool = False,
) -> tuple[list[np.ndarray | None], list[tuple[str, str]]]:
    """Each file's feature (``None`` where it failed) and the failures as ``(path, message)``;
    ``paths`` are files of the recipe's modality (:func:`media_column`)."""
    cache = cache if cache is not None else FeatureCache()
    out: list[np.ndarray | None] = []
    failures: list[tuple[str, str]] = []
    for path in tqdm(paths, desc="features", unit="clip", disable=not progress, leave=False):
        try:
            out.append(file_features(path, recipe, cache))
        except AvemotionError as error:
            out.append(None)
            failures.append((str(path), str(error)))
    return out, failures


def recipe_modality(recipe: Mapping[str, Any]) -> Literal["audio", "video", "image"]:
    """The table column a checked recipe's features read: ``video`` for a video extractor,
    ``image`` for ``face_gray``, else ``audio``."""
    extractor = recipe["features"]["extractor"]
    if isinstance(extractor, str) and extractor in VIDEO_EXTRACTORS:
        return "video"
    return "image" if extractor == "face_gray" else "audio"
