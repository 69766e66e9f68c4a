"""Named audio feature extractors, computed from files through the feature cache.

An extractor is a pure function of :mod:`.features` with its default parameters and a version.
:func:`extract` reads a file with :func:`avemotion.media.decode.load_audio`, rejects silent
audio, computes the feature and stores it in a :class:`~avemotion.cache.FeatureCache` under the
extractor's name and its full parameter dict (defaults, overrides, ``sr`` and ``version``), so
a re-run with the same parameters reads the cache and never decodes the file again.

========================  =====================================  =====================
name                      value                                  seed
========================  =====================================  =====================
``logmel_segments``       (12, 96, 32) normalised log-mel        000, 003
``log_mel``               (96, n_frames) dB                      003
``mfcc``                  (120, n_frames): 40 MFCCs + 2 deltas   001
``seed001``               (180,) MFCC/chroma/mel means           001
``seed002``               (22, n_frames) ZCR, RMS, 20 MFCCs      002
``mfcc_sequence``         (282, 20) padded MFCC frames           004
``egemaps``               (88,) openSMILE eGeMAPSv02             (optional extra)
``compare``               (6373,) openSMILE ComParE_2016         (optional extra)
``whisper_tiny``          (768,) Whisper tiny.en mean+std        ours
``whisper_base``          (1024,) Whisper base mean+std          ours
``whisper_layers_base``   (7 * 1024,) every layer's mean+std     ours
``whisper_layers_tiny``   (5 * 768,) every layer's mean+std      ours
========================  =====================================  =====================
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from avemotion.audio import features, whisper
from avemotion.cache import FeatureCache
from avemotion.errors import AvemotionError, MediaNotFoundError, UnsupportedMediaError
from avemotion.media.decode import load_audio

__all__ = [
    "EXTRACTORS", "Extractor", "cache_params", "compute", "extract", "extract_all", "extract_many", "extractor_params",
    "state_count",
]

PathLike = str | os.PathLike[str]


def _keyword_defaults(function: Callable[..., Any]) -> dict[str, Any]:
    """The keyword parameters of ``function`` that have defaults (those after ``signal, sr``)."""
    parameters = list(inspect.signature(function).parameters.values())[2:]
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


@dataclass(frozen=True)
class Extractor:
    """A named feature: ``function(signal, sr, **params)`` with ``defaults`` for every parameter.

    ``version`` goes into the cache key: bump it when the computation changes. ``runtime``
    names keyword parameters of ``function`` that only save work for a given consumer (e.g.
    ``states``: how many Whisper hidden states to compute): they are no part of the cache key,
    recipes cannot set them, and only :func:`compute` passes them. ``identity``
    maps the full parameters to extra cache-key entries that the parameters alone do not fix
    (e.g. the SHA-256 of the model file a model name resolves to). ``key`` is the name the
    cache stores values under (default ``name``): extractors that differ only in their default
    parameters share it, so equal computations share their entries.
    """

    name: str
    function: Callable[..., np.ndarray]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    version: str = "1"
    identity: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    key: str = ""
    runtime: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keyword = {k: v for k, v in _keyword_defaults(self.function).items() if k not in self.runtime}
        merged = {**keyword, **self.defaults}
        object.__setattr__(self, "defaults", MappingProxyType(merged))
        object.__setattr__(self, "key", self.key or self.name)


def _model_identity(param: str) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """The ``identity`` of an extractor whose parameter ``param`` names a Whisper model."""
    return lambda params: whisper.model_identity(params[param])


def _registry(*extractors: Extractor) -> Mapping[str, Extractor]:
    return MappingProxyType({e.name: e for e in extractors})


EXTRACTORS: Mapping[str, Extractor] = _registry(
    Extractor("logmel_segments", features.segment_log_mels, _keyword_defaults(features.log_mel)),
    Extractor("log_mel", features.log_mel),
    Extractor("mfcc", features.mfcc),
    Extractor("seed001", features.seed001_vector),
    Extractor("seed002", features.seed002_frames),
    Extractor("mfcc_sequence", features.mfcc_sequence),
    Extractor("egemaps", features.opensmile_functionals, {"feature_set": "eGeMAPSv02"}),
    Extractor("compare", features.opensmile_functionals, {"feature_set": "ComParE_2016"}),
    Extractor("whisper_tiny", whisper.whisper_embedding, {"size": "tiny"}, "2", _model_identity("size")),
    Extractor("whisper_base", whisper.whisper_embedding, {"size": "base"}, "2", _model_identity("size")),
    Extractor("whisper_layers_base", whisper.whisper_layers, {"model": "base"}, "1", _model_identity("model"),
              "whisper_layers", ("states",)),
    Extractor("whisper_layers_tiny", whisper.whisper_layers, {"model": "tiny"}, "1", _model_identity("model"),
              "whisper_layers", ("states",)),
)
"""Every extractor by name (read-only)."""


def _extractor(name: str) -> Extractor:
    try:
        return EXTRACTORS[name]
    except KeyError:
        raise ValueError(f"unknown audio extractor {name!r}: use one of {sorted(EXTRACTORS)}") from None


def extractor_params(name: str, *, sr: int = 16000, **params: Any) -> dict[str, Any]:
    """The full parameter dict of extractor ``name``: its defaults, ``params`` over them, ``sr`` and ``version``.

    This dict is the cache key's parameter part. Unknown parameter names raise ValueError.
    """
    extractor = _extractor(name)
    unknown = sorted(set(params) - set(extractor.defaults))
    if unknown:
        expected = sorted(extractor.defaults)
        raise ValueError(f"unknown parameter(s) {unknown} for extractor {name!r}: it takes {expected}")
    return {**extractor.defaults, **params, "sr": sr, "version": extractor.version}


def cache_params(name: str, *, sr: int = 16000, **params: Any) -> dict[str, Any]:
    """:func:`extractor_params` plus the extractor's ``identity`` entries: the full cache key part."""
    full = extractor_params(name, sr=sr, **params)
    identity = _extractor(name).identity
    return {**full, **identity(full)} if identity is not None else full


def state_count(name: str, params: Mapping[str, Any]) -> int:
    """How many hidden states a ``whisper_layers_*`` extractor's vector holds (layers + 1)."""
    extractor = _extractor(name)
    if extractor.function is not whisper.whisper_layers:
        raise ValueError(f"extractor {name!r} has no hidden states to choose from (a whisper_layers_* extractor has)")
    return whisper.load_encoder(extractor_params(name, **params)["model"]).n_layers + 1


def compute(
    name: str, signal: np.ndarray, sr: int = 16000, *, runtime: Mapping[str, Any] | None = None, **params: Any
) -> np.ndarray:
    """Feature ``name`` of an in-memory mono ``signal`` at ``sr`` Hz (no cache, no silence check);
    ``runtime``: values of the extractor's :attr:`Extractor.runtime` parameters."""
    extractor = _extractor(name)
    full = extractor_params(name, sr=sr, **params)
    extra = dict(runtime or {})
    unknown = sorted(set(extra) - set(extractor.runtime))
    if unknown:
        raise ValueError(f"extractor {name!r} takes no runtime parameter(s) {unknown} (it takes {list(extractor.runtime)})")
    return np.asarray(extractor.function(signal, sr, **{k: full[k] for k in extractor.defaults}, **extra))


def _require_file(path: Path) -> None:
    """The checks the cache's hashing needs first, with the errors decoding would give."""
    if not path.exists():
        raise MediaNotFoundError(path, "file not found")
    if not path.is_file():
        raise UnsupportedMediaError(path, "not a file (a directory?)")


def extract_all(
    path: PathLike,
    specs: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    sr: int = 16000,
    cache: FeatureCache | None = None,
) -> list[np.ndarray]:
    """Several features of one file, ``specs`` = ``[(name, params), ...]``, in that order.

    Each comes from ``cache`` when present; the file is decoded (and checked with
    :func:`features.check_not_silent`) at most once, however many features miss.
    """
    fulls = [cache_params(name, sr=sr, **params) for name, params in specs]
    path = Path(path)
    _require_file(path)
    cache = cache if cache is not None else FeatureCache()
    decoded: list[np.ndarray] = []

    def signal() -> np.ndarray:
        if not decoded:
            decoded.append(load_audio(path, sr=sr))
            features.check_not_silent(decoded[0], path)
        return decoded[0]

    values = []
    for (name, params), full in zip(specs, fulls):

        def compute_one(name: str = name, params: Mapping[str, Any] = params) -> np.ndarray:
            return compute(name, signal(), sr, **params)

        value = cache.get_or_compute(path, _extractor(name).key, full, compute_one)
        if not isinstance(value, np.ndarray):
            raise TypeError(f"extractor {name!r} cached a {type(value).__name__}, not an array")
        values.append(value)
    return values


def extract(
    path: PathLike, name: str, *, sr: int = 16000, cache: FeatureCache | None = None, **params: Any
) -> np.ndarray:
    """Feature ``name`` of the audio (or the video's audio track) at ``path``, read at ``sr`` Hz.

    ``params`` override the extractor's defaults. The value comes from ``cache`` (default: the
    user's :class:`FeatureCache`) when present; otherwise the file is decoded, checked with
    :func:`features.check_not_silent` (SilentAudioError below -60 dBFS) and the feature is
    computed and stored. Media problems raise :mod:`avemotion.errors` classes naming the file.
    """
    return extract_all(path, [(name, params)], sr=sr, cache=cache)[0]


def extract_many(
    paths: Iterable[PathLike],
    name: str,
    *,
    sr: int = 16000,
    cache: FeatureCache | None = None,
    **params: Any,
) -> tuple[dict[PathLike, np.ndarray], list[tuple[PathLike, str]]]:
    """:func:`extract` for each path, going on past files that fail.

    Returns ``(features, failures)``: ``features`` maps each path that worked (as given) to its
    value, in order; ``failures`` lists ``(path, message)`` for each file that raised an
    :class:`~avemotion.errors.AvemotionError` (missing, corrupt, silent...). Bad parameters
    raise at once, before any file is read.
    """
    extractor_params(name, sr=sr, **params)
    cache = cache if cache is not None else FeatureCache()
    done: dict[PathLike, np.ndarray] = {}
    failures: list[tuple[PathLike, str]] = []
    for path in paths:
        try:
            done[path] = extract(path, name, sr=sr, cache=cache, **params)
        except AvemotionError as err:
            failures.append((path, str(err)))
    return done, failures
