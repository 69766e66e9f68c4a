"""Face detection behind one interface, tracking across frames and cropping.

Images are RGB uint8 of shape (H, W, 3); boxes are ``(x, y, w, h)`` in pixels of that image.
Detectors (:data:`DETECTORS`, :func:`make_detector`):

* ``"haar"``: OpenCV's Haar cascades (frontal face default, alt2 as fallback); needs no download.
* ``"yunet"``: OpenCV's YuNet CNN (``cv2.FaceDetectorYN``); model file from the argument or
  ``$AVEMOTION_YUNET_MODEL``. Gives 5 landmarks.
* ``"mediapipe"``: MediaPipe's face landmarker; needs the ``mediapipe`` package and a model file
  from the argument or ``$AVEMOTION_FACE_LANDMARKER``. Gives 5 landmarks.

Landmarks are (5, 2) pixel coordinates: right eye, left eye (as seen from the subject), nose tip,
right and left mouth corners.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import cv2
import numpy as np

from avemotion.errors import AvemotionError, NoFaceError, PathError
from avemotion.media.decode import Frames
from avemotion.visual.keyframes import load_keyframes

__all__ = [
    "CROP_SIZES",
    "DETECTORS",
    "CropSpec",
    "Face",
    "FaceCrops",
    "FaceDetector",
    "HaarDetector",
    "MediaPipeDetector",
    "YuNetDetector",
    "crop_face",
    "face_crops",
    "make_detector",
    "pick_face",
    "track_faces",
]

PathLike = str | os.PathLike[str]
Box = tuple[int, int, int, int]
Size = tuple[int, int]

YUNET_ENV = "AVEMOTION_YUNET_MODEL"
LANDMARKER_ENV = "AVEMOTION_FACE_LANDMARKER"
# A face in the next frame is the same face when its box overlaps the last one this much (IoU).
_SAME_FACE_IOU = 0.3


@dataclass(frozen=True, eq=False)
class Face:
    """A detected face: ``box`` (x, y, w, h) in pixels, detector ``score`` (higher is surer),
    ``landmarks`` (5, 2) in pixels or None, ``tracked`` True when the box was reused from
    another frame by :func:`track_faces` rather than detected in this one."""

    box: Box
    score: float
    landmarks: np.ndarray | None = None
    tracked: bool = False

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


@runtime_checkable
class FaceDetector(Protocol):
    """Anything that finds faces in an RGB uint8 image (H, W, 3)."""

    def detect(self, image: np.ndarray) -> list[Face]: ...


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"need an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")


def _downscaled(image: np.ndarray, max_short_side: int) -> tuple[np.ndarray, float]:
    """``image`` shrunk (INTER_AREA) so its shorter side is at most ``max_short_side``, and the
    factor that maps its pixel coordinates back to the original."""
    short = min(image.shape[:2])
    if short <= max_short_side:
        return image, 1.0
    scale = short / max_short_side
    size = (round(image.shape[1] / scale), round(image.shape[0] / scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _scaled_box(box: Sequence[float], scale: float) -> Box:
    x, y, w, h = (round(float(v) * scale) for v in box)
    return (x, y, w, h)


def _model_path(model_path: PathLike | None, env: str, what: str) -> Path:
    """The model file from the argument or the environment variable ``env``; a clear error if absent."""
    given = model_path if model_path is not None else os.environ.get(env)
    if not given:
        raise AvemotionError(f"the {what} detector needs its model file: pass model_path or set {env}")
    path = Path(given)
    if not path.is_file():
        raise PathError(path, f"{what} model file not found (from model_path or {env})")
    return path


class HaarDetector:
    """OpenCV Haar cascades: frontal face default, then alt2 when the default finds nothing.

    Works on a grayscale, histogram-equalised copy whose shorter side is at most ``work_size``
    pixels; faces smaller than ``min_face`` of the shorter side are ignored. ``score`` is the
    number of neighbouring detections that support the box.
    """

    def __init__(
        self,
        *,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_face: float = 0.15,
        work_size: int = 360,
        fallback: bool = True,
    ) -> None:
        cascades = ["haarcascade_frontalface_default.xml"] + (["haarcascade_frontalface_alt2.xml"] if fallback else [])
        folder = cv2.data.haarcascades  # type: ignore[attr-defined]  # cv2's stubs lack cv2.data
        self.cascades = [cv2.CascadeClassifier(os.path.join(folder, name)) for name in cascades]
        if any(c.empty() for c in self.cascades):
            raise AvemotionError(f"OpenCV's Haar cascades are missing from {folder}")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors
        self.min_face, self.work_size = min_face, work_size

    def detect(self, image: np.ndarray) -> list[Face]:
        _check_image(image)
        small, scale = _downscaled(image, self.work_size)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        side = max(1, round(self.min_face * min(gray.shape)))
        for cascade in self.cascades:
            boxes, neighbours = cascade.detectMultiScale2(
                gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(side, side)
            )
            if len(boxes):
                return [Face(_scaled_box(b, scale), float(n)) for b, n in zip(boxes, neighbours, strict=True)]
        return []


class YuNetDetector:
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``), with 5 landmarks per face.

    ``model_path`` defaults to ``$AVEMOTION_YUNET_MODEL``. Images are shrunk so their shorter side
    is at most ``work_size`` pixels; ``score`` is YuNet's confidence in [0, 1].
    """

    def __init__(
        self,
        model_path: PathLike | None = None,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        work_size: int = 480,
    ) -> None:
        self.model_path = _model_path(model_path, YUNET_ENV, "YuNet")
        try:
            self._net = cv2.FaceDetectorYN.create(str(self.model_path), "", (320, 320), score_threshold, nms_threshold)
        except cv2.error as err:
            raise PathError(self.model_path, f"not a YuNet model OpenCV can load ({err.err})") from None
        self.work_size = work_size

    def detect(self, image: np.ndarray) -> list[Face]:
        _check_image(image)
        small, scale = _downscaled(image, self.work_size)
        self._net.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self._net.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        if rows is None:
            return []
        return [Face(_scaled_box(r[:4], scale), float(r[14]), r[4:14].reshape(5, 2) * scale) for r in rows]


# MediaPipe face mesh indices of the 5 landmarks: iris centres, nose tip, mouth corners.
_MESH_FIVE = (468, 473, 1, 61, 291)


class MediaPipeDetector:
    """MediaPipe's face landmarker (478-point mesh), reduced to a box and 5 landmarks.

    ``model_path`` (a ``face_landmarker.task`` file) defaults to ``$AVEMOTION_FACE_LANDMARKER``.
    The box is the mesh's bounding box; ``score`` is 1.0 (the landmarker reports none).
    """

    def __init__(self, model_path: PathLike | None = None, *, max_faces: int = 4) -> None:
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError:
            message = "the mediapipe detector needs the 'mediapipe' package (pip install mediapipe)"
            raise AvemotionError(message) from None
        self.model_path = _model_path(model_path, LANDMARKER_ENV, "MediaPipe face landmarker")
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)), num_faces=max_faces
        )
        self._mp = mp
        self._landmarker = vision.FaceLandmarker.create_from_options(options)

    def detect(self, image: np.ndarray) -> list[Face]:
        _check_image(image)
        height, width = image.shape[:2]
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        faces = []
        for mesh in self._landmarker.detect(mp_image).face_landmarks:
            points = np.array([(p.x * width, p.y * height) for p in mesh])
            (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
            five = points[list(_MESH_FIVE)] if len(points) > max(_MESH_FIVE) else None
            faces.append(Face(_scaled_box((x0, y0, x1 - x0, y1 - y0), 1.0), 1.0, five))
        return faces

    def close(self) -> None:
        """Release the landmarker now (MediaPipe's own finaliser fails at interpreter exit)."""
        self._landmarker.close()


DETECTORS: dict[str, Callable[..., FaceDetector]] = {
    "haar": HaarDetector,
    "yunet": YuNetDetector,
    "mediapipe": MediaPipeDetector,
}


def make_detector(name: str, **kw: Any) -> FaceDetector:
    """The detector registered as ``name`` in :data:`DETECTORS`, built with ``kw``."""
    if name not in DETECTORS:
        raise AvemotionError(f"unknown face detector '{name}' (known: {', '.join(sorted(DETECTORS))})")
    return DETECTORS[name](**kw)


# --- choosing and tracking ---------------------------------------------------------------


def pick_face(faces: Sequence[Face], how: Literal["largest", "score"] = "largest") -> Face | None:
    """The largest face (by box area) or the best-scoring one; None when ``faces`` is empty."""
    if how not in ("largest", "score"):
        raise ValueError(f"how must be 'largest' or 'score', got {how!r}")
    if not faces:
        return None
    return max(faces, key=(lambda f: f.area) if how == "largest" else (lambda f: f.score))


def _iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _follow(faces: Sequence[Face], last: Face | None, how: Literal["largest", "score"]) -> Face | None:
    """The face overlapping ``last`` most (IoU >= 0.3), else :func:`pick_face`'s choice."""
    if last is not None and faces:
        overlap, face = max(((_iou(f.box, last.box), f) for f in faces), key=lambda pair: pair[0])
        if overlap >= _SAME_FACE_IOU:
            return face
    return pick_face(faces, how)


def track_faces(
    images: np.ndarray | Sequence[np.ndarray],
    detector: FaceDetector,
    how: Literal["largest", "score"] = "largest",
    detect_every: int = 1,
) -> list[Face | None]:
    """One face per frame of ``images`` (N, H, W, 3), following one person across frames.

    The track starts at the first frame with a face (chosen by :func:`pick_face`); later frames
    take the face overlapping the previous box most (IoU >= 0.3), else :func:`pick_face`'s choice.
    A frame without a face reuses the last box; frames before the first hit take the first hit's
    box; reused faces have ``tracked=True``. All None when no frame has a face. With
    ``detect_every=k`` the detector runs on every k-th frame only (frames 0, k, 2k...; until the
    first face is found, on every frame) and the frames between reuse the last box: k times
    fewer detections for a talking head that moves little between neighbouring keyframes.
    """
    if detect_every < 1:
        raise ValueError(f"detect_every must be >= 1, got {detect_every}")
    found: list[Face | None] = []
    last: Face | None = None
    for i, image in enumerate(images):
        if last is not None and i % detect_every:
            found.append(replace(last, tracked=True))
            continue
        face = _follow(detector.detect(image), last, how)
        if face is None and last is not None:
            face = replace(last, tracked=True)
        found.append(face)
        last = face or last
    first = next((f for f in found if f is not None), None)
    if first is None:
        return found
    return [f if f is not None else replace(first, tracked=True) for f in found]


# --- cropping ----------------------------------------------------------------------------


class CropSpec(NamedTuple):
    """A named crop: ``size`` (height, width) in pixels and whether it is grayscale."""

    size: Size
    gray: bool


CROP_SIZES: dict[str, CropSpec] = {
    "seed003": CropSpec((100, 96), False),  # seed 003: cv2.resize(face, (96, 100)), height 100, width 96
    "seed002": CropSpec((48, 48), True),  # seed 002: Haar crops at 48x48 grayscale (FER-2013 style)
    "imagenet": CropSpec((224, 224), False),  # seed 004: AlexNet input
}


def _level_eyes(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``image`` rotated about the eyes' midpoint so that the eyes (landmarks 0 and 1) are level."""
    (x0, y0), (x1, y1) = landmarks[0], landmarks[1]
    if x1 < x0:
        (x0, y0), (x1, y1) = (x1, y1), (x0, y0)
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    matrix = cv2.getRotationMatrix2D(((x0 + x1) / 2, (y0 + y1) / 2), angle, 1.0)
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def _crop_window(box: Box, margin: float, aspect: float, height: int, width: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a window around ``box``: its larger side plus ``margin`` of it on each
    side, widened or heightened to ``aspect`` (width / height), shifted and clipped into the image."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    crop_w, crop_h = (side * aspect, side) if aspect >= 1 else (side, side / aspect)
    crop_w, crop_h = min(round(crop_w), width), min(round(crop_h), height)
    x0 = min(max(round(x + w / 2 - crop_w / 2), 0), width - crop_w)
    y0 = min(max(round(y + h / 2 - crop_h / 2), 0), height - crop_h)
    return x0, y0, x0 + max(crop_w, 1), y0 + max(crop_h, 1)


def crop_face(
    image: np.ndarray,
    box: Box,
    *,
    margin: float = 0.2,
    size: Size | None = None,
    gray: bool = False,
    align_eyes: bool = False,
    landmarks: np.ndarray | None = None,
) -> np.ndarray:
    """The face in ``box`` (x, y, w, h) cut from an RGB uint8 image (H, W, 3).

    The window is square around the box's centre (its larger side plus ``margin`` of it on each
    side), stretched to the aspect of ``size`` = (height, width), shifted to stay inside the image
    and clipped when larger than it, then resized with INTER_AREA (None keeps the window's size).
    ``align_eyes`` first rotates the image so the eyes in ``landmarks`` (5, 2) are level (no-op
    without landmarks). Returns uint8 (h, w, 3), or (h, w, 1) when ``gray``.
    """
    _check_image(image)
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"box must have a positive width and height, got {box}")
    if align_eyes and landmarks is not None:
        image = _level_eyes(image, landmarks)
    aspect = 1.0 if size is None else size[1] / size[0]
    x0, y0, x1, y1 = _crop_window(box, margin, aspect, *image.shape[:2])
    crop = image[y0:y1, x0:x1]
    if size is not None:
        crop = cv2.resize(crop, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    if gray:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None]
    return np.ascontiguousarray(crop)


class FaceCrops(NamedTuple):
    """Face crops of a video: ``crops`` (N, h, w, C) uint8, ``boxes`` (N, 4) int (x, y, w, h) in
    pixels of the frame, ``times`` (N,) s, ``tracked`` (N,) bool (box reused, not detected there)."""

    crops: np.ndarray
    boxes: np.ndarray
    times: np.ndarray
    tracked: np.ndarray


def face_crops(
    path: PathLike,
    *,
    n: int = 12,
    detector: FaceDetector | None = None,
    size: str | Size = "seed003",
    gray: bool | None = None,
    margin: float = 0.2,
    align_eyes: bool = False,
) -> FaceCrops:
    """Crops of one tracked face on ``n`` evenly spaced keyframes of the video at ``path``.

    ``size`` is a name in :data:`CROP_SIZES` or (height, width) in pixels; ``gray`` defaults to
    the named size's colour (RGB for explicit sizes). ``detector`` defaults to Haar. Raises
    :class:`~avemotion.errors.NoFaceError` when no keyframe has a face (never background crops).
    """
    frames = load_keyframes(path, n)
    return crops_of_frames(
        frames, path, detector=detector, size=size, gray=gray, margin=margin, align_eyes=align_eyes
    )


def crops_of_frames(
    frames: Frames,
    source: PathLike,
    *,
    detector: FaceDetector | None = None,
    size: str | Size = "seed003",
    gray: bool | None = None,
    margin: float = 0.2,
    align_eyes: bool = False,
    detect_every: int = 1,
) -> FaceCrops:
    """:func:`face_crops` on frames already decoded from ``source`` (named in errors);
    ``detect_every`` as in :func:`track_faces`."""
    if isinstance(size, str) and size not in CROP_SIZES:
        raise AvemotionError(f"unknown crop size '{size}' (known: {', '.join(sorted(CROP_SIZES))})")
    spec = CROP_SIZES[size] if isinstance(size, str) else CropSpec(size, False)
    faces = track_faces(frames.images, detector or HaarDetector(), detect_every=detect_every)
    if faces[0] is None:
        raise NoFaceError(source, f"no face found in any of the {len(frames)} analysed frames")
    tracked_faces = [f for f in faces if f is not None]
    crops = [
        crop_face(
            image, face.box, margin=margin, size=spec.size, gray=spec.gray if gray is None else gray,
            align_eyes=align_eyes, landmarks=face.landmarks,
        )
        for image, face in zip(frames.images, tracked_faces, strict=True)
    ]  # fmt: skip
    return FaceCrops(
        np.stack(crops),
        np.array([f.box for f in tracked_faces], dtype=np.int64),
        frames.times,
        np.array([f.tracked for f in tracked_faces]),
    )
