"""Long and very short media: 40 s audio and video (longer than one 30 s Whisper window) predict
through the Python API and ``avemotion predict`` with a bounded number of decoded frames, the
timeline covers the whole 40 s, and a clip with too little speech is reported by name while a
batch goes on. The clips are made from the project's sample (examples/sample.mp4)."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import avemotion
from avemotion.cli.main import main
from avemotion.errors import TooLittleSpeechError
from avemotion.media.decode import Frames, load_audio, load_frames, probe, stream_frames
from avemotion.media.encode import write_audio, write_video
from avemotion.prediction import recognizer as recognizer_module
from avemotion.prediction.branch import ClipInputs
from avemotion.prediction.face import FaceBranch
from avemotion.prediction.recognizer import (
    TIMELINE_CHUNK,
    Recognizer,
    _frames_per_window,
)

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"
SR = 16000
LONG = 40.0
TOO_SHORT = r"too little speech to recognise \(0\.\d\d s; at least 0\.5 s needed\)"


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    """The default recognizer with its face branch at 8 frames/s, so that a 40 s video passes
    the 256-frame cap (at the default 3 frames/s it takes 86 s)."""
    default = avemotion.load("default")
    face = default.branches["face"]
    assert isinstance(face, FaceBranch) and face.frames_per_second == 3.0
    return default.with_branch(FaceBranch(face.bundle, frames_per_second=8.0))


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``long_audio``: the sample's speech repeated to 40 s (FLAC); ``long_video``: its frames
    (320x240, 10 fps) and speech repeated to 40 s (H.264 + AAC); ``short``: the sample itself;
    ``tiny``: 0.3 s of its speech (WAV)."""
    folder = tmp_path_factory.mktemp("long")
    audio = load_audio(SAMPLE, SR)
    speech = np.tile(audio, int(np.ceil(LONG * SR / len(audio))))[: int(LONG * SR)]
    frames = load_frames(SAMPLE, np.arange(0, 4.5, 0.1), size=(240, 320)).images
    out = {"long_audio": folder / "long.flac", "long_video": folder / "long.mp4", "short": folder / "short.mp4",
           "tiny": folder / "tiny.wav"}
    write_audio(out["long_audio"], speech, SR)
    write_video(out["long_video"], np.tile(frames, (int(LONG * 10) // len(frames) + 1, 1, 1, 1))[: int(LONG * 10)], 10,
                audio=speech, sr=SR)
    shutil.copy(SAMPLE, out["short"])
    write_audio(out["tiny"], audio[SR : SR + int(0.3 * SR)], SR)
    return out


def test_frame_count_is_capped_for_a_clip_not_for_a_timeline(recognizer: Recognizer) -> None:
    face = recognizer.branches["face"]
    assert isinstance(face, FaceBranch) and face.max_frames == 256
    assert face.frame_count(4.58) == 37  # 8 frames/s as before
    assert face.frame_count(600.0) == 256
    assert face.frame_count(600.0, timeline=True) == 4800


def test_stream_frames_gives_the_frames_of_load_frames_in_chunks() -> None:
    whole = load_frames(SAMPLE, n=37)
    chunks = list(stream_frames(SAMPLE, n=37, chunk=10))
    assert [len(c) for c in chunks] == [10, 10, 10, 7]
    np.testing.assert_array_equal(np.concatenate([c.times for c in chunks]), whole.times)
    np.testing.assert_array_equal(np.concatenate([c.images for c in chunks]), whole.images)
    with pytest.raises(ValueError, match="increasing"):
        next(stream_frames(SAMPLE, [1.0, 0.5]))


def test_frames_per_window_selects_like_a_mask_over_all_frames() -> None:
    times = np.round(np.arange(0.0625, 10, 0.125), 4)
    images = np.arange(len(times), dtype=np.uint8).reshape(-1, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)
    chunks = [Frames(images[i : i + 7], times[i : i + 7]) for i in range(0, len(times), 7)]
    spans = [*recognizer_module._spans(10.0, 2.0, 0.75), (9.99, 10.0)]
    for (start, end), got in zip(spans, _frames_per_window(chunks, spans), strict=True):
        keep = (times >= start) & (times < end + 1e-6)
        if not keep.any():
            assert got is None
        else:
            assert got is not None
            np.testing.assert_array_equal(got.times, times[keep])
            np.testing.assert_array_equal(got.images, images[keep])
    assert list(_frames_per_window([], [(0.0, 2.0)])) == [None]


def test_long_audio_predicts_through_the_api(recognizer: Recognizer, clips: dict[str, Path]) -> None:
    p = recognizer.analyse(clips["long_audio"])
    assert p.used == ["audio"] and p.skipped == {"face": "no video stream"}
    assert abs(sum(p.probabilities.values()) - 1) < 1e-6


def test_long_video_predicts_through_the_api_on_at_most_max_frames(
    recognizer: Recognizer, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[Frames] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        media = load_media(*args, **kwargs)
        decoded.append(media.frames)
        return media

    load_media = recognizer_module.load_media
    monkeypatch.setattr(recognizer_module, "load_media", spy)
    p = recognizer.analyse(clips["long_video"])
    assert p.used == ["audio", "face"] and p.skipped == {}
    assert {"decode", "audio_features", "face_detection", "face_model"} <= set(p.timings)
    (frames,) = decoded
    assert len(frames) == 256  # the face branch's cap, not 40 s x 8 = 320
    assert frames.times[0] < 0.2 and frames.times[-1] > LONG - 0.3  # spread over the whole video


def test_timeline_of_a_long_video_covers_it_decoding_in_chunks(
    recognizer: Recognizer, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    chunk_sizes: list[int] = []
    window_frames: list[int] = []

    def spy_stream(*args: Any, **kwargs: Any) -> Iterator[Frames]:
        for chunk in stream(*args, **kwargs):
            chunk_sizes.append(len(chunk))
            yield chunk

    def spy_face(self: FaceBranch, inputs: ClipInputs, **kwargs: Any) -> Any:
        window_frames.append(len(inputs.frames) if inputs.frames is not None else 0)
        return face_output(self, inputs, **kwargs)

    def no_whole_clip(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a timeline must not decode the whole clip at once")

    stream, face_output = recognizer_module.stream_frames, FaceBranch.outputs
    monkeypatch.setattr(recognizer_module, "stream_frames", spy_stream)
    monkeypatch.setattr(FaceBranch, "outputs", spy_face)
    monkeypatch.setattr(recognizer_module, "load_media", no_whole_clip)
    windows = recognizer.timeline(clips["long_video"], window=4.0, hop=4.0)
    duration = probe(clips["long_video"]).duration
    assert [w.start for w in windows] == pytest.approx(np.arange(0, 40, 4.0))
    assert windows[-1].end == pytest.approx(duration) and duration == pytest.approx(LONG, abs=0.1)
    assert all(b.start <= a.end for a, b in itertools.pairwise(windows))  # no gap
    assert all(w.used == ["audio", "face"] for w in windows)
    assert sum(chunk_sizes) == recognizer.branches["face"].frame_count(duration, timeline=True) == 320  # type: ignore[attr-defined]
    assert max(chunk_sizes) == TIMELINE_CHUNK
    assert len(window_frames) == 10 and max(window_frames) <= 4 * 8 + 1


def test_cli_predicts_a_long_video(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(clips["long_video"]), "--json"]) == 0
    (prediction,) = json.loads(capsys.readouterr().out)["predictions"]
    assert prediction["used"] == ["audio", "face"]


def test_cli_folder_with_a_long_a_short_and_a_too_short_clip(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("long_audio", "short", "tiny"):
        shutil.copy(clips[name], folder)
    assert main(["predict", str(folder)]) == 1
    captured = capsys.readouterr()
    rows = captured.out.splitlines()
    assert [r.split()[0] for r in rows] == ["file", "long.flac", "short.mp4"]
    assert "Traceback" not in captured.err
    failures = [line.strip() for line in captured.err.splitlines() if line.startswith("  ")]
    assert len(failures) == 1
    assert re.fullmatch(re.escape(str(folder / "tiny.wav")) + ": " + TOO_SHORT, failures[0])


def test_a_clip_with_too_little_speech_is_one_clear_error(recognizer: Recognizer, clips: dict[str, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    tiny = clips["tiny"]
    with pytest.raises(TooLittleSpeechError, match=r"tiny\.wav: " + TOO_SHORT):
        recognizer.analyse(tiny)
    with pytest.raises(TooLittleSpeechError, match=r"tiny\.wav: " + TOO_SHORT):
        recognizer.timeline(tiny)
    assert main(["predict", str(tiny), "--timeline"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{tiny}: too little speech to recognise (" in err
