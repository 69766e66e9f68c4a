"""Named video feature extractors, computed from files through the feature cache.

=================  ====================================================  ===========
name               value                                                 seeds
=================  ====================================================  ===========
``face_sequence``  (n, H, W, C) uint8 face crops of n evenly spaced      002, 003,
                   keyframes, one tracked face (RGB, or gray with C=1)   001/004
``blendshapes``    (n, 52) float32 MediaPipe face blendshape scores in   (optional
                   [0, 1] on n evenly spaced keyframes                   extra)
=================  ====================================================  ===========

An entry's cache key is the file's content hash, the extractor's name and its full parameter
dict (:func:`video_extractor_params`: defaults, overrides and ``version``), as for the audio
extractors (:mod:`avemotion.audio.extract`). A video in which no keyframe shows a face raises
:class:`~avemotion.errors.NoFaceError` (nothing is cached for it). ``blendshapes`` needs the
``mediapipe`` package (``pip install "avemotion[mediapipe]"``) and the ``face_landmarker.task``
model file (argument or ``$AVEMOTION_FACE_LANDMARKER``); the model file's content hash is part
of its cache key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from avemotion.cache import FeatureCache
from avemotion.errors import (
    AvemotionError,
    MediaNotFoundError,
    NoFaceError,
    UnsupportedMediaError,
)
from avemotion.visual.faces import (
    CROP_SIZES,
    DETECTORS,
    LANDMARKER_ENV,
    _model_path,
    face_crops,
    make_detector,
)
from avemotion.visual.keyframes import load_keyframes

__all__ = ["N_BLENDSHAPES", "VIDEO_EXTRACTORS", "blendshapes", "face_sequence", "video_extractor_params"]

PathLike = str | os.PathLike[str]

_VERSION = "1"
#: MediaPipe's face blendshapes per face (``_neutral``, ``browDownLeft``, ... ``noseSneerRight``).
N_BLENDSHAPES = 52
_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "face_sequence": MappingProxyType(
            {"n": 12, "size": "seed003", "gray": None, "margin": 0.2, "detector": "haar"}
        ),
        "blendshapes": MappingProxyType({"n": 12}),
    }
)


def video_extractor_params(name: str, **params: Any) -> dict[str, Any]:
    """The full parameter dict of video extractor ``name`` (the cache key's parameter part).

    ``face_sequence`` takes ``n`` (keyframes, >= 1), ``size`` (a name in
    :data:`~avemotion.visual.faces.CROP_SIZES` or ``[height, width]`` in pixels), ``gray``
    (None: the named size's colour, RGB for explicit sizes), ``margin`` (fraction of the face
    box added on each side) and ``detector`` (a name in :data:`~avemotion.visual.faces.DETECTORS`).
    ``blendshapes`` takes ``n`` only. Unknown names or bad values raise ValueError.
    """
    if name not in _DEFAULTS:
        raise ValueError(f"unknown video extractor {name!r}: use one of {sorted(_DEFAULTS)}")
    unknown = sorted(set(params) - set(_DEFAULTS[name]))
    if unknown:
        expected = sorted(_DEFAULTS[name])
        raise ValueError(f"unknown parameter(s) {unknown} for extractor {name!r}: it takes {expected}")
    full = {**_DEFAULTS[name], **params, "version": _VERSION}
    if not isinstance(full["n"], int) or full["n"] < 1:
        raise ValueError(f"n must be an integer >= 1, got {full['n']!r}")
    if name == "blendshapes":
        return full
    size = full["size"]
    if isinstance(size, str):
        if size not in CROP_SIZES:
            raise ValueError(f"size {size!r} is not one of {sorted(CROP_SIZES)} or [height, width]")
    elif isinstance(size, Sequence) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size):
        full["size"] = [int(v) for v in size]
    else:
        raise ValueError(f"size must be a crop-size name or [height, width] in pixels, got {size!r}")
    if full["gray"] is not None and not isinstance(full["gray"], bool):
        raise ValueError(f"gray must be true, false or null, got {full['gray']!r}")
    if not 0.0 <= float(full["margin"]) <= 1.0:
        raise ValueError(f"margin must be in [0, 1], got {full['margin']!r}")
    full["margin"] = float(full["margin"])
    if full["detector"] not in DETECTORS:
        raise ValueError(f"detector {full['detector']!r} is not one of {sorted(DETECTORS)}")
    return full


def face_sequence(
    path: PathLike,
    n: int = 12,
    size: str | Sequence[int] = "seed003",
    gray: bool | None = None,
    margin: float = 0.2,
    detector: str = "haar",
    *,
    cache: FeatureCache | None = None,
) -> np.ndarray:
    """Face crops of one tracked face on ``n`` evenly spaced keyframes: ``(n, H, W, C)`` uint8.

    ``size`` is a name in :data:`~avemotion.visual.faces.CROP_SIZES` (``"seed003"``: 100x96 RGB,
    ``"seed002"``: 48x48 gray) or ``[height, width]``; C is 3 (RGB) or 1 (gray). The value comes
    from ``cache`` (default: the user's :class:`FeatureCache`) when present. Raises
    :class:`~avemotion.errors.NoFaceError` when no keyframe shows a face, and the media errors
    of :mod:`avemotion.errors` for missing or unreadable files.
    """
    full = video_extractor_params("face_sequence", n=n, size=size, gray=gray, margin=margin, detector=detector)
    file = _existing(path)
    cache = cache if cache is not None else FeatureCache()

    def crops() -> np.ndarray:
        crop_size = full["size"] if isinstance(full["size"], str) else tuple(full["size"])
        found = face_crops(
            file, n=n, detector=make_detector(detector), size=crop_size, gray=gray, margin=full["margin"]
        )
        return found.crops

    return np.asarray(cache.get_or_compute(file, "face_sequence", full, crops), dtype=np.uint8)


def _existing(path: PathLike) -> Path:
    """``path`` as a Path, with the errors decoding would give when it is missing or a folder."""
    file = Path(path)
    if not file.exists():
        raise MediaNotFoundError(file, "file not found")
    if not file.is_file():
        raise UnsupportedMediaError(file, "not a file (a directory?)")
    return file


def blendshapes(
    path: PathLike, n: int = 12, *, model_path: PathLike | None = None, cache: FeatureCache | None = None
) -> np.ndarray:
    """MediaPipe face blendshape scores (0..1) of the largest face on ``n`` evenly spaced
    keyframes: ``(n, 52)`` float32, columns in MediaPipe's order (``_neutral`` first).

    A keyframe without a face takes the scores of the nearest earlier one with a face (the first
    face's before it). Needs the ``mediapipe`` package and the face landmarker model
    (``model_path`` or ``$AVEMOTION_FACE_LANDMARKER``). Raises
    :class:`~avemotion.errors.NoFaceError` when no keyframe shows a face.
    """
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError:
        raise AvemotionError('blendshapes need the mediapipe package (pip install "avemotion[mediapipe]")') from None
    model = _model_path(model_path, LANDMARKER_ENV, "MediaPipe face landmarker")
    file = _existing(path)
    cache = cache if cache is not None else FeatureCache()
    params = {**video_extractor_params("blendshapes", n=n), "model": cache.file_digest(model)}

    def scores() -> np.ndarray:
        frames = load_keyframes(file, n)
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)), output_face_blendshapes=True, num_faces=4
        )
        rows: list[np.ndarray | None] = []
        with vision.FaceLandmarker.create_from_options(options) as landmarker:
            for image in frames.images:
                found = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
                if not found.face_blendshapes:
                    rows.append(None)
                    continue
                areas = [np.ptp([p.x for p in mesh]) * np.ptp([p.y for p in mesh]) for mesh in found.face_landmarks]
                shapes = found.face_blendshapes[int(np.argmax(areas))]
                rows.append(np.array([c.score for c in shapes], dtype=np.float32))
        hits = {i: row for i, row in enumerate(rows) if row is not None}
        if not hits:
            raise NoFaceError(file, f"no face found in any of the {len(rows)} analysed frames")
        first = next(iter(hits))
        return np.stack([hits[max([h for h in hits if h <= i], default=first)] for i in range(len(rows))])

    return np.asarray(cache.get_or_compute(file, "blendshapes", params, scores), dtype=np.float32)


#: Every video extractor by name: ``f(path, **params, cache=...) -> ndarray`` (read-only).
VIDEO_EXTRACTORS: Mapping[str, Callable[..., np.ndarray]] = MappingProxyType(
    {"face_sequence": face_sequence, "blendshapes": blendshapes}
)
