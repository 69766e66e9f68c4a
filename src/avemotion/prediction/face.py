"""The face branch: facial expression of the tracked face in a clip's frames, or of an image.

>>> branch = FaceBranch.load("face")                  # the shipped FER2013 frame model
>>> branch.proba_of_crops(crops)                      # (N, 7) per-frame probabilities

The bundle's ``input`` block says how crops are made: ``size`` (square side, pixels), ``gray``
(gray or RGB), ``margin`` (fraction of the detected box added on each side; FER2013 faces are
tightly cut, so 0.1), ``flip_tta`` (score every crop with its horizontal mirror and average the
two) and ``crop_max_side`` (an image no larger than this on both sides is taken as the face
itself, as FER2013's and CK+48's are). A clip's frames are pooled by their mean.

``precision``: ``fp32``, ``bf16`` (the network runs under bfloat16 autocast: about 1.8x faster
on CPUs with AVX-512 BF16; FER2013 test accuracy 70.1 % in both, ``benchmarks/fer2013.py``) or
``auto`` (the default: ``bf16`` where the CPU computes it natively and oneDNN is not capped
below it, else ``fp32``; see :func:`~avemotion.models.base.cpu_has_bf16`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Literal, get_args

import cv2
import numpy as np
import torch

from avemotion.bundles import Bundle, load_bundle
from avemotion.corpora.image_arrays import to_gray_square
from avemotion.errors import AvemotionError, NoFaceError, NoVideoStreamError
from avemotion.estimators.neural import proba_in_label_order
from avemotion.media.decode import evenly_spaced_times
from avemotion.models.base import cpu_has_bf16
from avemotion.prediction.branch import Branch, BranchOutput, ClipInputs, frames_at
from avemotion.visual.faces import FaceDetector, HaarDetector, crop_face, crops_of_frames, pick_face

Precision = Literal["auto", "fp32", "bf16"]
#: The crop settings of a face bundle without an ``input`` block (or with some left out).
INPUT_DEFAULTS: dict[str, Any] = {"size": 48, "gray": True, "margin": 0.1, "flip_tta": True, "crop_max_side": 96}


class FaceBranch(Branch):
    """A loaded face bundle: face crops -> probabilities over :attr:`labels`, embeddings.

    A clip's face is analysed on ``max(n_frames, duration * frames_per_second)`` evenly spaced
    frames, at most ``max_frames`` for a whole clip (256: 3 frames/s up to 85 s; a longer video
    gets 256 frames spread over its whole length, so memory stays bounded); a timeline takes
    ``frames_per_second`` over the whole video. 3 frames/s rather than 8 changes the top
    emotion of none of 10 real and sample clips and the probabilities by 0.03 on average
    (``benchmarks/face_frames.py``) for 2.7x less face work. The ``detector`` (default: Haar on a 240-pixel
    copy) runs on every ``detect_every``-th frame and the track carries the box between (see
    :func:`~avemotion.visual.faces.track_faces`).
    """

    name = "face"
    needs = "frames"

    def __init__(
        self,
        bundle: Bundle,
        precision: Precision = "auto",
        *,
        detector: FaceDetector | None = None,
        detect_every: int = 4,
        n_frames: int = 12,
        frames_per_second: float = 3.0,
        max_frames: int = 256,
    ) -> None:
        if precision not in get_args(Precision):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
        if bundle.config.get("kind") != "face":
            raise AvemotionError(f"{bundle.path}: not a face bundle (kind {bundle.config.get('kind')!r})")
        if not 1 <= n_frames <= max_frames:
            raise ValueError(f"need 1 <= n_frames <= max_frames, got {n_frames} and {max_frames}")
        self.bundle = bundle
        self.labels = bundle.labels
        size = bundle.recipe["features"]["params"].get("size", INPUT_DEFAULTS["size"])
        self.input: dict[str, Any] = {**INPUT_DEFAULTS, "size": size, **bundle.config.get("input", {})}
        self.size = int(self.input["size"])
        view = getattr(bundle.estimator, "inference_view", None)
        self._estimator = view() if view is not None else bundle.estimator  # prediction-only network
        self.precision: Precision = ("bf16" if cpu_has_bf16() else "fp32") if precision == "auto" else precision
        self.detector = detector or HaarDetector(work_size=240, scale_factor=1.2)
        self.detect_every = detect_every
        self.n_frames, self.frames_per_second, self.max_frames = n_frames, frames_per_second, max_frames

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "face", precision: Precision = "auto", **kwargs: Any) -> FaceBranch:
        """Load a shipped face bundle by name or a bundle folder by path (no download)."""
        return cls(load_bundle(name_or_path), precision, **kwargs)

    def frame_count(self, duration: float, *, timeline: bool = False) -> int:
        """Frames analysed in a ``duration`` s video: ``max(n_frames, duration * frames_per_second)``,
        at most :attr:`max_frames` unless for a ``timeline``."""
        n = max(self.n_frames, int(np.ceil(duration * self.frames_per_second)))
        return n if timeline else min(n, self.max_frames)

    def frame_times(self, duration: float, *, timeline: bool = False) -> np.ndarray:
        return evenly_spaced_times(duration, self.frame_count(duration, timeline=timeline))

    def _with_mirror(self, crops: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``fn`` on the prepared crops (in :attr:`precision`), averaged with their mirror images
        in the same batch when the bundle's ``flip_tta`` says so: ``(N, ...)``."""
        x = self.prepare(crops)
        mirror = bool(self.input["flip_tta"])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            both = fn(np.concatenate([x, x[:, :, ::-1]]) if mirror else x)
        return (both[: len(x)] + both[len(x) :]) / 2 if mirror else both

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """``(N, H, W)`` gray, ``(N, H, W, 1)`` or ``(N, H, W, 3)`` RGB uint8 -> ``(N, size, size)``
        float32 (gray bundles) or ``(N, size, size, 3)`` (colour bundles)."""
        crops = np.asarray(crops)
        if crops.ndim == 4 and crops.shape[-1] == 1:
            crops = crops[..., 0]
        if crops.ndim not in (3, 4) or (crops.ndim == 4 and crops.shape[-1] != 3) or not len(crops):
            raise ValueError(f"expected crops (N, H, W), (N, H, W, 1) or (N, H, W, 3), got shape {crops.shape}")
        crops = crops.astype(np.uint8, copy=False)
        if self.input["gray"]:
            return np.stack([to_gray_square(c, self.size) for c in crops]).astype(np.float32)
        rgb = [np.repeat(c[..., None], 3, axis=2) if c.ndim == 2 else c for c in crops]
        return np.stack([cv2.resize(c, (self.size, self.size), interpolation=cv2.INTER_AREA) for c in rgb]).astype(np.float32)

    def proba_of_crops(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, n_labels)`` in :attr:`labels` order (averaged with the mirrored crops')."""
        return self._with_mirror(crops, lambda x: proba_in_label_order(self._estimator, x, self.labels))

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """Penultimate embeddings ``(N, D)`` float32 (averaged with the mirrored crops')."""
        return self._with_mirror(crops, self._estimator.embed).astype(np.float32)

    def crops(self, inputs: ClipInputs) -> np.ndarray:
        """Face crops ``(N, size, size)`` gray or ``(N, size, size, 3)`` RGB uint8 of the clip's
        frames (one tracked face) or of an image. Raises NoFaceError."""
        if inputs.frames is None or not len(inputs.frames):
            raise NoVideoStreamError(inputs.source, "no video stream")
        size, gray, margin = (self.size, self.size), bool(self.input["gray"]), float(self.input["margin"])
        if inputs.is_image:
            image = inputs.frames.images[0]
            if max(image.shape[:2]) <= int(self.input["crop_max_side"]):
                return image[None]
            face = pick_face(self.detector.detect(image))
            if face is None:
                raise NoFaceError(inputs.source, "no face found in the image")
            crop = crop_face(image, face.box, margin=margin, size=size, gray=gray)
            return crop[None, ..., 0] if gray else crop[None]
        frames = frames_at(inputs.frames, inputs.start + self.frame_times(inputs.duration), unique=True)
        crops = crops_of_frames(
            frames, inputs.source, detector=self.detector, size=size, gray=gray, margin=margin,
            detect_every=self.detect_every,
        ).crops
        return crops[..., 0] if gray else crops

    def outputs(self, inputs: ClipInputs, *, embed: bool = False, timings: dict[str, float] | None = None) -> BranchOutput:
        timings = {} if timings is None else timings
        tic = time.perf_counter()
        crops = self.crops(inputs)
        mid = time.perf_counter()
        out = BranchOutput(self.proba_of_crops(crops).mean(axis=0), self.labels)
        if embed:
            out.embedding = self.embed_crops(crops).mean(axis=0).astype(np.float64)
        timings.update(face_detection=mid - tic, face_model=time.perf_counter() - mid)
        return out

    def describe(self) -> dict[str, Any]:
        c = self.bundle.config
        return {"branch": self.name, "needs": self.needs, "labels": list(self.labels), "name": c["name"],
                "path": str(self.bundle.path), "input": self.input, "precision": self.precision,
                "trained_on": c["trained_on"]}
