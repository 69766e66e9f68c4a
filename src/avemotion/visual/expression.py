"""Facial expression from face crops, images and videos with a face bundle.

>>> model = FaceExpressionModel.load("face")          # the shipped FER2013 frame model
>>> model.proba_of_crops(crops)                       # (N, 7) per-frame probabilities
>>> model.predict_proba("clip.mp4")                   # {"neutral": 0.31, "happy": 0.02, ...}

Crops are resized to the bundle's square input and made gray; every crop is scored together
with its horizontal mirror and the two averaged (flip test-time augmentation). A clip's frames
are pooled by :func:`pool`: ``mean``, ``max`` (per column) or ``attention`` (frames weighted by
their confidence, :func:`attention_weights`).

``precision``: ``fp32``, ``bf16`` (the network runs under bfloat16 autocast: about 1.8x faster
on CPUs with AVX-512 BF16; FER2013 test accuracy 70.1 % in both, ``benchmarks/fer2013.py``) or
``auto`` (the default: ``bf16`` where the CPU has AVX-512 BF16 or AMX, else ``fp32``).
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable
from typing import Literal, get_args

import numpy as np
import torch

from avemotion.bundles import Bundle, load_bundle
from avemotion.corpora.image_arrays import to_gray_square
from avemotion.corpora.images import load_image
from avemotion.corpora.table import IMAGE_EXTENSIONS
from avemotion.errors import AvemotionError, NoFaceError
from avemotion.models.base import cpu_has_bf16
from avemotion.training.estimator import proba_in_label_order
from avemotion.visual.faces import FaceDetector, HaarDetector, crop_face, face_crops, pick_face

Pooling = Literal["mean", "max", "attention"]
Precision = Literal["auto", "fp32", "bf16"]
#: Face crop margin (fraction of the detected box on each side): FER2013 faces are tightly cut.
MARGIN = 0.1
#: Images no larger than this on both sides are taken as face crops already (FER2013, CK+48).
CROP_MAX_SIDE = 96


def attention_weights(probs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Frame weights ``(N,)`` summing to 1: softmax over frames of ``-entropy / temperature`` of
    each frame's probabilities ``probs`` ``(N, C)``, so confident frames count more."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    score = (p * np.log(p)).sum(axis=1) / temperature
    w = np.exp(score - score.max())
    return w / w.sum()


def pool(
    values: np.ndarray, method: Pooling = "mean", *, probs: np.ndarray | None = None, temperature: float = 1.0
) -> np.ndarray:
    """One clip's frames ``values`` ``(N, D)`` (probabilities or embeddings) pooled to ``(D,)``.

    ``attention`` weights the frames by :func:`attention_weights` of ``probs`` ``(N, C)``, by
    default ``values`` themselves (then they must be probabilities). Pooled probabilities are
    not renormalised (``max`` does not sum to 1).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or not len(values):
        raise ValueError(f"expected (N, D) frame values with N >= 1, got shape {values.shape}")
    if method == "mean":
        return values.mean(axis=0)
    if method == "max":
        return values.max(axis=0)
    if method == "attention":
        weights = attention_weights(values if probs is None else probs, temperature)
        if len(weights) != len(values):
            raise ValueError(f"{len(values)} frames but {len(weights)} attention weights")
        return weights @ values
    raise ValueError(f"pooling must be mean, max or attention, got {method!r}")


class FaceExpressionModel:
    """A loaded face bundle: gray square crops -> probabilities over :attr:`labels`, embeddings."""

    def __init__(self, bundle: Bundle, precision: Precision = "auto") -> None:
        if precision not in get_args(Precision):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
        if bundle.config.get("kind") != "face":
            raise AvemotionError(f"{bundle.path}: not a face bundle (kind {bundle.config.get('kind')!r})")
        self.bundle = bundle
        self.labels: tuple[str, ...] = bundle.labels
        self.size: int = int(bundle.recipe["features"]["params"].get("size", 48))
        view = getattr(bundle.estimator, "inference_view", None)
        self._estimator = view() if view is not None else bundle.estimator  # prediction-only network
        if precision == "auto":
            precision = "bf16" if cpu_has_bf16() else "fp32"
        self.precision: Precision = precision

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "face", precision: Precision = "auto") -> FaceExpressionModel:
        """Load a shipped face bundle by name or a bundle folder by path (no download)."""
        return cls(load_bundle(name_or_path), precision)

    def _with_mirror(self, crops: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``fn`` on the prepared crops and their mirror images in one batch (in :attr:`precision`),
        the two halves averaged: ``(N, ...)``."""
        x = self.prepare(crops)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            both = fn(np.concatenate([x, x[:, :, ::-1]]))
        return (both[: len(x)] + both[len(x) :]) / 2

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` gray, ``(N, H, W, 1)`` or ``(N, H, W, 3)`` RGB uint8 -> ``(N, size, size)`` float32."""
        crops = np.asarray(crops)
        if crops.ndim == 4 and crops.shape[-1] == 1:
            crops = crops[..., 0]
        if crops.ndim not in (3, 4) or (crops.ndim == 4 and crops.shape[-1] != 3) or not len(crops):
            raise ValueError(f"expected crops (N, H, W), (N, H, W, 1) or (N, H, W, 3), got shape {crops.shape}")
        crops = crops.astype(np.uint8, copy=False)
        return np.stack([to_gray_square(c, self.size) for c in crops]).astype(np.float32)

    def proba_of_crops(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, n_labels)`` in :attr:`labels` order, averaged with the mirrored crops."""
        return self._with_mirror(crops, lambda x: proba_in_label_order(self._estimator, x, self.labels))

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """Penultimate embeddings ``(N, D)`` float32, averaged with the mirrored crops'."""
        return self._with_mirror(crops, self._estimator.embed).astype(np.float32)

    def crops(self, path: str | os.PathLike[str], *, n: int = 12, detector: FaceDetector | None = None) -> np.ndarray:
        """Gray face crops ``(N, size, size)`` uint8 of ``n`` keyframes of a video, or of an image
        (one crop; an image of at most :data:`CROP_MAX_SIDE` pixels a side is taken as the face).
        Raises :class:`~avemotion.errors.NoFaceError` when no face is found."""
        size = (self.size, self.size)
        if Path(path).suffix.lower() not in IMAGE_EXTENSIONS:
            return face_crops(path, n=n, detector=detector, size=size, gray=True, margin=MARGIN).crops[..., 0]
        image = load_image(path)
        if max(image.shape[:2]) <= CROP_MAX_SIDE:
            return to_gray_square(image, self.size)[None]
        rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        face = pick_face((detector or HaarDetector()).detect(rgb))
        if face is None:
            raise NoFaceError(path, "no face found in the image")
        return crop_face(rgb, face.box, margin=MARGIN, size=size, gray=True)[None, ..., 0]

    def predict_proba(
        self,
        path: str | os.PathLike[str],
        *,
        n: int = 12,
        pooling: Pooling = "mean",
        detector: FaceDetector | None = None,
    ) -> dict[str, float]:
        """Emotion -> probability (summing to 1) for the face of a video (``n`` keyframes, frame
        probabilities pooled by ``pooling``) or an image. Raises NoFaceError and the media errors."""
        pooled = pool(self.proba_of_crops(self.crops(path, n=n, detector=detector)), pooling)
        return dict(zip(self.labels, map(float, pooled / pooled.sum())))

    def predict(self, path: str | os.PathLike[str], **kw: object) -> str:
        """The most probable emotion for the face of ``path`` (arguments as :meth:`predict_proba`)."""
        proba = self.predict_proba(path, **kw)  # type: ignore[arg-type]
        return max(proba, key=proba.__getitem__)
