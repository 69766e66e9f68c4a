"""Keyframes, face detection, tracking and cropping (avemotion.visual)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avemotion.errors import AvemotionError, NoFaceError
from avemotion.media.decode import Frames
from avemotion.media.encode import write_video
from avemotion.visual.faces import (
    CROP_SIZES,
    DETECTORS,
    Face,
    FaceDetector,
    HaarDetector,
    YuNetDetector,
    crop_face,
    face_crops,
    make_detector,
    pick_face,
    track_faces,
)
from avemotion.visual.keyframes import (
    fixed_keyframes,
    keyframe_times,
    load_keyframes,
    strided_frames,
)

VIDEOS = [
    "ravdess/video_samples/Actor_01/01-01-07-02-02-01-01.mp4",
    "ravdess/video_samples/Actor_19/02-01-08-02-01-01-19.mp4",
    *(f"crema_d_samples/VideoFlash/1001_DFA_{e}_XX.flv" for e in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")),
]
YUNET_MODEL = "face_detection_yunet_2026may.onnx"


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


@pytest.fixture(scope="module")
def ravdess_frames(shared_data: Path) -> Frames:
    return load_keyframes(shared_data / VIDEOS[0], n=4)


# --- keyframes ---------------------------------------------------------------------------


def test_keyframe_times_are_interval_centres() -> None:
    np.testing.assert_allclose(keyframe_times(3.0, 3), [0.5, 1.5, 2.5])


def test_fixed_keyframes_follows_seed_003_rule() -> None:
    frames = Frames(np.arange(14)[:, None, None, None].repeat(3, axis=3).astype(np.uint8), np.arange(14.0))
    kept = fixed_keyframes(frames, 12)
    np.testing.assert_array_equal(kept.times, np.arange(1, 13))  # 14: drop the first, then the last
    np.testing.assert_array_equal(kept.images[:, 0, 0, 0], np.arange(1, 13))
    short = fixed_keyframes(Frames(frames.images[:3], frames.times[:3]), 5)
    np.testing.assert_array_equal(short.times, [0, 1, 2, 2, 2])  # too few: repeat the last


def test_strided_frames_keeps_every_kth(tmp_path: Path) -> None:
    path = tmp_path / "ramp.mp4"
    write_video(path, np.repeat(np.linspace(0, 255, 25, dtype=np.uint8)[:, None, None, None], 32, axis=1)
                .repeat(32, axis=2).repeat(3, axis=3), 25)  # fmt: skip
    frames = strided_frames(path, every=10)
    assert frames.images.shape == (3, 32, 32, 3)
    np.testing.assert_allclose(frames.times, [0.0, 0.4, 0.8], atol=1e-6)


# --- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize("video", VIDEOS, ids=lambda v: Path(v).name)
def test_haar_finds_a_face_on_real_keyframes(shared_data: Path, haar: HaarDetector, video: str) -> None:
    frames = load_keyframes(shared_data / video, n=2)
    for image in frames.images:
        face = pick_face(haar.detect(image))
        assert face is not None
        x, y, w, _ = face.box
        height, width = image.shape[:2]
        assert 0.15 * min(height, width) <= w <= min(height, width) and 0 <= x < width and 0 <= y < height


def test_yunet_finds_a_face_with_landmarks(shared_data: Path, ravdess_frames: Frames) -> None:
    model = shared_data.parent / "models" / YUNET_MODEL
    if not model.is_file():
        pytest.skip(f"YuNet model not found at {model}")
    faces = YuNetDetector(model).detect(ravdess_frames.images[0])
    face = pick_face(faces, "score")
    assert face is not None and face.score > 0.6
    assert face.landmarks is not None and face.landmarks.shape == (5, 2)
    x, y, w, h = face.box
    assert np.all((face.landmarks >= [x, y]) & (face.landmarks <= [x + w, y + h]))


def test_yunet_without_a_model_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVEMOTION_YUNET_MODEL", raising=False)
    with pytest.raises(AvemotionError, match="AVEMOTION_YUNET_MODEL"):
        make_detector("yunet")


def test_mediapipe_needs_its_package_or_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVEMOTION_FACE_LANDMARKER", raising=False)
    with pytest.raises(AvemotionError, match="mediapipe|AVEMOTION_FACE_LANDMARKER"):
        make_detector("mediapipe")


def test_make_detector_registry() -> None:
    assert set(DETECTORS) == {"haar", "yunet", "mediapipe"}
    assert isinstance(make_detector("haar"), FaceDetector)
    with pytest.raises(AvemotionError, match="unknown face detector 'ssd'.*haar"):
        make_detector("ssd")


def test_pick_face() -> None:
    small, big = Face((0, 0, 10, 10), 0.9), Face((5, 5, 50, 50), 0.5)
    assert pick_face([small, big]) is big
    assert pick_face([small, big], "score") is small
    assert pick_face([]) is None


# --- tracking ----------------------------------------------------------------------------


def test_tracking_reuses_the_box_over_a_miss(ravdess_frames: Frames, haar: HaarDetector) -> None:
    images = ravdess_frames.images.copy()
    images[0] = 0  # the first frame misses: back-filled from the first hit
    images[2] = 0  # a later miss: the previous box is reused
    faces = track_faces(images, haar)
    assert all(f is not None for f in faces)
    assert [f.tracked for f in faces if f is not None] == [True, False, True, False]
    assert faces[0].box == faces[1].box and faces[2].box == faces[1].box  # type: ignore[union-attr]


def test_tracking_without_any_face_gives_none(haar: HaarDetector) -> None:
    assert track_faces(np.zeros((2, 64, 64, 3), np.uint8), haar) == [None, None]


def test_no_face_error_names_the_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.mp4"
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)[None, :, None]
    frames = np.stack([(rng.integers(0, 64, (72, 96, 3)) + np.roll(ramp, 4 * i, axis=1) // 2) for i in range(25)])
    write_video(path, frames.astype(np.uint8), 25)
    with pytest.raises(NoFaceError, match=r"noise\.mp4: no face found in any of the 4 analysed frames"):
        face_crops(path, n=4)


# --- cropping ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CROP_SIZES))
def test_named_crop_sizes(name: str) -> None:
    image = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    spec = CROP_SIZES[name]
    crop = crop_face(image, (100, 60, 80, 90), size=spec.size, gray=spec.gray)
    assert crop.dtype == np.uint8 and crop.shape == (*spec.size, 1 if spec.gray else 3)


def test_seed_sizes() -> None:
    assert CROP_SIZES["seed003"] == ((100, 96), False)
    assert CROP_SIZES["seed002"] == ((48, 48), True)
    assert CROP_SIZES["imagenet"] == ((224, 224), False)


def test_crop_clamps_at_the_borders() -> None:
    image = np.zeros((100, 120, 3), np.uint8)
    image[:50, :60] = 200  # the top-left quadrant is bright
    crop = crop_face(image, (0, 0, 40, 40), margin=0.5)  # window 80x80, would start at (-20, -20)
    assert crop.shape == (80, 80, 3)
    np.testing.assert_array_equal(crop[:50, :60], 200)  # shifted inside: starts at the corner
    whole = crop_face(image, (10, 10, 100, 90), margin=0.5)  # larger than the image: clipped
    assert whole.shape == (100, 120, 3)


def test_align_eyes_levels_a_tilted_pair() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[45:55, 20:80] = 255  # a horizontal bar
    eyes = np.array([[30, 40], [70, 60], [50, 60], [40, 70], [60, 70]], dtype=float)
    straight = crop_face(image, (20, 20, 60, 60), margin=0.0)
    rotated = crop_face(image, (20, 20, 60, 60), margin=0.0, align_eyes=True, landmarks=eyes)
    assert straight.shape == rotated.shape == (60, 60, 3)
    assert not np.array_equal(straight, rotated)
    np.testing.assert_array_equal(crop_face(image, (20, 20, 60, 60), margin=0.0, align_eyes=True), straight)


def test_face_crops_on_a_real_video(shared_data: Path) -> None:
    crops, boxes, times, tracked = face_crops(shared_data / VIDEOS[2], n=3, size="seed002")
    assert crops.shape == (3, 48, 48, 1) and boxes.shape == (3, 4) and times.shape == (3,)
    assert not tracked.any()
    with pytest.raises(AvemotionError, match="unknown crop size"):
        face_crops(shared_data / VIDEOS[2], n=3, size="huge")
