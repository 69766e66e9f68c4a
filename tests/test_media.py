"""The media layer: probing, decoding, resampling, frame picking, writing, and every bad-file case.

Tests on the real corpora use the ``shared_data`` fixture (skipped when ../shared is absent);
the others write their own small files with :mod:`avemotion.media.encode`.
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from avemotion.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaNotFoundError,
    NoAudioStreamError,
    NoVideoStreamError,
    UnsupportedMediaError,
)
from avemotion.media.decode import (
    Frames,
    evenly_spaced_times,
    iter_frames,
    load_audio,
    load_clip,
    load_frames,
    probe,
)
from avemotion.media.encode import write_audio, write_video

RAVDESS_AV = "ravdess/video_samples/Actor_01/01-01-07-02-02-01-01.mp4"
RAVDESS_SILENT = "ravdess/video_samples/Actor_19/02-01-08-02-01-01-19.mp4"
CREMA_FLV = "crema_d_samples/VideoFlash"
CREMA_MP3 = "crema_d_samples/AudioMP3"
CREMA_WAV = "crema_d_samples/AudioWAV"
RAVDESS_FLAC = "ravdess/audio_speech_16k/Actor_01"

FPS = 25
N_FRAMES = 30  # 1.2 s
SR = 16000


# --- helpers and synthetic fixtures ------------------------------------------------------


def numbered_frames(n: int, height: int = 64, width: int = 96) -> np.ndarray:
    """Frame i is a flat grey of level 8 * i, so a decoded frame tells its index."""
    return np.repeat(np.arange(n, dtype=np.uint8)[:, None, None, None] * 8, height * width * 3).reshape(
        n, height, width, 3
    )


def frame_index(image: np.ndarray) -> int:
    return int(round(float(image.mean()) / 8))


def sine(freq: float, seconds: float, sr: int, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr)


def raises_own(cls: type[MediaError], path: Path, call: object, *args: object, **kwargs: object) -> str:
    """Run ``call``; it must raise exactly ``cls`` with a one-line message naming ``path``."""
    with pytest.raises(MediaError) as caught:
        call(path, *args, **kwargs)  # type: ignore[operator]
    assert type(caught.value) is cls, f"{type(caught.value).__name__}: {caught.value}"
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def cut(src: Path, dst: Path, keep: float | int) -> Path:
    """Copy the first ``keep`` bytes (or fraction) of ``src`` to ``dst``."""
    data = src.read_bytes()
    dst.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    return dst


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.2 s, 96x64, 25 fps H.264 + AAC mp4 of numbered frames and a 440 Hz tone."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    write_video(path, numbered_frames(N_FRAMES), FPS, audio=sine(440, N_FRAMES / FPS, SR), sr=SR)
    return path


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "silent.mp4"
    write_video(path, numbered_frames(10), FPS)
    return path


@pytest.fixture(scope="module")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "tone.wav"
    write_audio(path, sine(440, 1.0, SR), SR)
    return path


# --- real data ---------------------------------------------------------------------------


def test_probe_ravdess_h264_aac(shared_data: Path) -> None:
    info = probe(shared_data / RAVDESS_AV)
    assert info.format.startswith("mov,mp4") and info.has_video and info.has_audio
    assert info.duration == pytest.approx(4.004, abs=1e-3)
    v, a = info.video, info.audio
    assert v is not None and a is not None
    assert (v.codec, v.width, v.height, v.n_frames, v.rotation) == ("h264", 640, 480, 120, 0)
    assert v.fps == pytest.approx(30000 / 1001, rel=1e-6)
    assert v.duration == pytest.approx(4.004, abs=1e-3)
    assert (a.codec, a.sample_rate, a.channels) == ("aac", 44100, 1)
    assert a.duration == pytest.approx(4.004, abs=1e-3)


def test_probe_ravdess_mpeg4_without_audio(shared_data: Path) -> None:
    info = probe(shared_data / RAVDESS_SILENT)
    assert not info.has_audio and info.video is not None
    assert (info.video.codec, info.video.width, info.video.height, info.video.n_frames) == ("mpeg4", 720, 720, 122)
    assert info.video.fps == pytest.approx(29.97, rel=1e-6)
    assert info.duration == pytest.approx(4.0707, abs=1e-3)


# CREMA-D 1001_DFA_*: FLV frame count (no count in the container: packets are counted), and the
# length of the 16 kHz WAV of the same recording.
FLV_FRAMES = {"ANG": (67, 2.235, 36363), "DIS": (70, 2.335, 38034), "FEA": (65, 2.168, 35527),
              "HAP": (56, 1.868, 30511), "NEU": (61, 2.035, 33019), "SAD": (60, 2.002, 32601)}  # fmt: skip


@pytest.mark.parametrize("emotion", sorted(FLV_FRAMES))
def test_crema_flv_probe_frames_and_audio(shared_data: Path, emotion: str) -> None:
    path = shared_data / CREMA_FLV / f"1001_DFA_{emotion}_XX.flv"
    n_frames, duration, wav_samples = FLV_FRAMES[emotion]
    info = probe(path)
    assert info.format == "flv" and info.video is not None and info.audio is not None
    assert (info.video.codec, info.video.width, info.video.height, info.video.n_frames) == ("vp6f", 480, 360, n_frames)
    assert info.video.fps == pytest.approx(29.97, abs=0.01)
    assert info.duration == pytest.approx(duration, abs=1e-3)
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("mp3", 44100, 1)
    assert sum(1 for _ in iter_frames(path)) == n_frames
    assert abs(len(load_audio(path)) - wav_samples) <= 2


def test_real_videos_all_frames_and_evenly_spaced_frames(shared_data: Path) -> None:
    videos = [shared_data / RAVDESS_AV, shared_data / RAVDESS_SILENT, shared_data / CREMA_FLV / "1001_DFA_ANG_XX.flv"]
    for path in videos:
        info = probe(path)
        assert info.video is not None
        times = [t for t, image in iter_frames(path, every=1)]
        assert len(times) == info.video.n_frames
        assert np.all(np.diff(times) > 0)
        frames = load_frames(path, n=8)
        assert frames.images.shape == (8, info.video.height, info.video.width, 3)
        assert frames.images.dtype == np.uint8 and frames.images.std() > 10
        assert np.all(np.diff(frames.times) > 0) and 0 <= frames.times[0] and frames.times[-1] <= info.duration
        assert set(frames.times) <= set(times)
        strided = list(iter_frames(path, every=10))
        assert [t for t, _ in strided] == times[::10]


def test_frame_on_screen_at_requested_time(shared_data: Path) -> None:
    path = shared_data / RAVDESS_AV
    times = np.array([t for t, _ in iter_frames(path)])
    asked = np.array([times[50], times[50] + 0.01, times[7], 3.99])  # exact, between, unsorted, last
    frames = load_frames(path, asked)
    assert frames.times.tolist() == [times[50], times[50], times[7], times[-1]]
    everything = dict(iter_frames(path))
    np.testing.assert_array_equal(frames.images[2], everything[times[7]])


@pytest.mark.parametrize(
    ("relative", "sr", "samples"),
    [
        (f"{CREMA_WAV}/1001_DFA_ANG_XX.wav", 16000, 36363),
        (f"{CREMA_WAV}/1001_DFA_ANG_XX.wav", 8000, 18182),
        (f"{CREMA_MP3}/1002_DFA_ANG_XX.mp3", 16000, 41796),
        (f"{RAVDESS_FLAC}/03-01-01-01-01-01-01.flac", 16000, 52853),
        (RAVDESS_AV, 16000, 64064),  # AAC: the encoder's end padding is dropped (4.004 s)
        (RAVDESS_AV, 22050, 88288),
    ],
)
def test_real_audio_length_and_signal(shared_data: Path, relative: str, sr: int, samples: int) -> None:
    path = shared_data / relative
    info = probe(path)
    assert info.audio is not None
    y = load_audio(path, sr)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == samples
    assert abs(len(y) / sr - info.audio.duration) < 0.003
    assert np.sqrt(np.mean(y**2)) > 1e-3 and np.abs(y).max() <= 1.0


@pytest.mark.parametrize("other", [f"{CREMA_MP3}/1002_DFA_ANG_XX.mp3", f"{CREMA_FLV}/1001_DFA_ANG_XX.flv"])
def test_resampled_mp3_matches_the_16k_wav_of_the_same_recording(shared_data: Path, other: str) -> None:
    """44.1 kHz MP3 (alone or in FLV) decoded and resampled to 16 kHz lines up with CREMA-D's WAV."""
    path = shared_data / other
    wav = load_audio(shared_data / CREMA_WAV / f"{path.stem}.wav")
    y = load_audio(path)
    n = min(len(y), len(wav))
    assert abs(len(y) - len(wav)) <= 2
    assert np.corrcoef(y[:n], wav[:n])[0, 1] > 0.999


def test_real_clip_with_and_without_audio(shared_data: Path) -> None:
    frames, audio = load_clip(shared_data / RAVDESS_AV, n_frames=12, size=(112, 112))
    assert frames.images.shape == (12, 112, 112, 3) and audio is not None and len(audio) == 64064
    frames, audio = load_clip(shared_data / RAVDESS_SILENT, n_frames=4)
    assert frames.images.shape == (4, 720, 720, 3) and audio is None


def test_real_files_damaged_or_misused(shared_data: Path, tmp_path: Path) -> None:
    mp4 = cut(shared_data / RAVDESS_AV, tmp_path / "half.mp4", 0.5)
    assert "truncated" in raises_own(CorruptMediaError, mp4, load_clip, n_frames=4)
    assert "truncated" in raises_own(CorruptMediaError, mp4, probe)
    flv = cut(shared_data / CREMA_FLV / "1001_DFA_ANG_XX.flv", tmp_path / "half.flv", 0.5)
    message = raises_own(CorruptMediaError, flv, load_audio)
    assert "truncated: decoded 1.0" in message and "of 2.23 s" in message
    wav = cut(shared_data / CREMA_WAV / "1001_DFA_ANG_XX.wav", tmp_path / "half.wav", 0.5)
    assert "header promises 2.27 s" in raises_own(CorruptMediaError, wav, load_audio)
    raises_own(NoAudioStreamError, shared_data / RAVDESS_SILENT, load_audio)
    raises_own(NoVideoStreamError, shared_data / CREMA_MP3 / "1002_DFA_ANG_XX.mp3", load_frames, n=3)


# --- synthetic: decoding -----------------------------------------------------------------


def test_evenly_spaced_times() -> None:
    np.testing.assert_allclose(evenly_spaced_times(10.0, 4), [1.25, 3.75, 6.25, 8.75])
    with pytest.raises(ValueError):
        evenly_spaced_times(1.0, 0)


def test_written_clip_round_trips(clip: Path) -> None:
    info = probe(clip)
    assert info.video is not None and info.audio is not None
    assert (info.video.width, info.video.height, info.video.n_frames, info.video.fps) == (96, 64, N_FRAMES, FPS)
    assert info.duration == pytest.approx(1.2, abs=0.01)
    assert (info.audio.codec, info.audio.sample_rate) == ("aac", SR)
    decoded = list(iter_frames(clip))
    assert [frame_index(image) for _, image in decoded] == list(range(N_FRAMES))
    np.testing.assert_allclose([t for t, _ in decoded], np.arange(N_FRAMES) / FPS, atol=1e-9)


def test_load_frames_picks_the_frame_on_screen(clip: Path) -> None:
    frames = load_frames(clip, [0.0, 0.039, 0.04, 0.5, 1.19, 0.07, 5.0])
    assert [frame_index(im) for im in frames.images] == [0, 0, 1, 12, 29, 1, 29]
    np.testing.assert_allclose(frames.times, [0.0, 0.0, 0.04, 0.48, 1.16, 0.04, 1.16], atol=1e-9)
    evenly = load_frames(clip, n=6, size=(32, 48))
    assert isinstance(evenly, Frames) and len(evenly) == 6 and evenly.images.shape == (6, 32, 48, 3)
    assert [frame_index(im) for im in evenly.images] == [2, 7, 12, 17, 22, 27]
    with pytest.raises(ValueError):
        load_frames(clip, [0.1], n=2)
    with pytest.raises(ValueError):
        load_frames(clip, [-1.0])


def test_variable_frame_rate(tmp_path: Path) -> None:
    shown = [0.0, 0.1, 0.15, 0.5, 0.52, 1.0]
    path = tmp_path / "vfr.mkv"
    write_video(path, numbered_frames(6), FPS, times=np.array(shown))
    assert [round(t, 6) for t, _ in iter_frames(path)] == shown
    frames = load_frames(path, [0.12, 0.6, 0.51, 0.0, 0.99])
    assert frames.times.tolist() == [0.1, 0.52, 0.5, 0.0, 0.52]
    assert [frame_index(im) for im in frames.images] == [1, 4, 3, 0, 4]


@pytest.mark.parametrize(("rotation", "corner"), [(0, (0, 0)), (90, (-1, 0)), (-90, (0, -1)), (180, (-1, -1))])
def test_rotation_metadata_is_applied(tmp_path: Path, rotation: int, corner: tuple[int, int]) -> None:
    """A white square at the top-left of the stored picture lands where the rotation puts it."""
    stored = np.zeros((4, 32, 64, 3), np.uint8)
    stored[:, :8, :8] = 255
    path = tmp_path / "rotated.mp4"
    write_video(path, stored, FPS, rotation=rotation)
    info = probe(path)
    assert info.video is not None and info.video.rotation % 360 == rotation % 360
    upright = (32, 64) if rotation % 180 == 0 else (64, 32)
    assert (info.video.height, info.video.width) == upright
    image = load_frames(path, n=1).images[0]
    assert image.shape[:2] == upright
    corners = {(0, 0): image[:4, :4], (0, -1): image[:4, -4:], (-1, 0): image[-4:, :4], (-1, -1): image[-4:, -4:]}
    assert {at for at, patch in corners.items() if patch.mean() > 200} == {corner}
    (_, first), *_ = iter_frames(path, size=(20, 10))
    assert first.shape == (20, 10, 3)
    sized = load_frames(path, n=1, size=(20, 10)).images[0]
    assert sized.shape == (20, 10, 3)


def test_resampling_keeps_pitch_and_length(tmp_path: Path) -> None:
    path = tmp_path / "sine44k.wav"
    x = sine(1000, 2.0, 44100)
    write_audio(path, x, 44100, subtype="FLOAT")
    y = load_audio(path, 16000)
    assert len(y) == round(len(x) * 16000 / 44100)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak = np.fft.rfftfreq(len(y), 1 / 16000)[np.argmax(spectrum)]
    assert abs(peak - 1000) <= 1.0
    middle = y[1000:-1000]
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_channels_are_averaged(tmp_path: Path) -> None:
    path = tmp_path / "stereo.flac"
    left = sine(300, 0.5, SR)
    write_audio(path, np.stack([left, np.zeros_like(left)], axis=1), SR)
    y = load_audio(path, SR)
    np.testing.assert_allclose(y, left / 2, atol=2e-4)


def test_offset_and_duration(tone: Path) -> None:
    full = load_audio(tone, SR)
    part = load_audio(tone, SR, offset=0.25, duration=0.5)
    np.testing.assert_array_equal(part, full[4000:12000])
    assert len(load_audio(tone, SR, offset=0.9, duration=1.0)) == 1600
    with pytest.raises(ValueError):
        load_audio(tone, SR, offset=-1)


def test_clip_frames_and_audio_in_one_pass(clip: Path, silent_clip: Path) -> None:
    frames, audio = load_clip(clip, n_frames=12, sr=SR)
    assert frames.images.shape == (12, 64, 96, 3) and audio is not None
    assert len(audio) == pytest.approx(1.2 * SR, abs=0.003 * SR)
    on_screen = np.floor(evenly_spaced_times(N_FRAMES / FPS, 12) * FPS + 1e-9).astype(int)
    assert [frame_index(im) for im in frames.images] == on_screen.tolist()
    reference = sine(440, 1.2, SR)[: len(audio)]
    assert np.corrcoef(audio[: len(reference)], reference)[0, 1] > 0.98  # AAC is lossy, but aligned
    np.testing.assert_array_equal(frames.images, load_frames(clip, n=12).images)
    frames, audio = load_clip(silent_clip, n_frames=3)
    assert len(frames) == 3 and audio is None


def test_other_containers(tmp_path: Path) -> None:
    for name, codec, audio_codec in [("a.mkv", "mpeg4", "flac"), ("a.webm", "libvpx-vp9", "libopus")]:
        path = tmp_path / name
        audio = sine(440, 0.4, 48000)
        write_video(path, numbered_frames(10), FPS, audio=audio, sr=48000, codec=codec, audio_codec=audio_codec)
        info = probe(path)
        assert info.video is not None and info.video.n_frames == 10
        assert [frame_index(im) for _, im in iter_frames(path)] == list(range(10))
        assert len(load_audio(path, SR)) == pytest.approx(0.4 * SR, abs=0.03 * SR)


# --- synthetic: writing ------------------------------------------------------------------


def test_writers_are_atomic(tmp_path: Path) -> None:
    write_audio(tmp_path / "a.wav", sine(440, 0.1, SR), SR)
    write_video(tmp_path / "v.mp4", numbered_frames(2), FPS)
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "v.mp4"]
    with pytest.raises(ValueError):  # PyAV's UnknownCodecError, raised after the temp file exists
        write_video(tmp_path / "bad.mp4", numbered_frames(2), FPS, codec="no-such-codec")
    with pytest.raises(ValueError):
        write_video(tmp_path / "odd.mp4", numbered_frames(2, 63, 96), FPS)
    assert sorted(os.listdir(tmp_path)) == ["a.wav", "v.mp4"]


# --- synthetic: every bad file raises its own error ---------------------------------------


def test_missing_and_not_media(tmp_path: Path) -> None:
    raises_own(MediaNotFoundError, tmp_path / "nope.mp4", probe)
    raises_own(MediaNotFoundError, tmp_path / "nope.wav", load_audio)
    raises_own(UnsupportedMediaError, tmp_path, load_frames, n=2)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    assert raises_own(UnsupportedMediaError, text, load_audio).endswith("not an audio or video file")
    ansi = tmp_path / "notes.txt"  # FFmpeg's "tty" demuxer would show it as a video
    ansi.write_text("this is not a video\n" * 50)
    raises_own(UnsupportedMediaError, ansi, load_frames, n=2)
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).bytes(20000))
    raises_own(UnsupportedMediaError, noise, probe)
    raises_own(UnsupportedMediaError, noise, load_clip, n_frames=2)


def test_truncated_and_damaged(clip: Path, tmp_path: Path) -> None:
    half = cut(clip, tmp_path / "half.mp4", 0.5)
    message = raises_own(CorruptMediaError, half, load_clip, n_frames=4)
    assert "truncated: the file ends inside its 'mdat' box" in message
    header_only = cut(clip, tmp_path / "header.mp4", 200)
    assert "'moov'" in raises_own(CorruptMediaError, header_only, probe)
    mkv = tmp_path / "clip.mkv"
    write_video(mkv, numbered_frames(N_FRAMES), FPS, audio=sine(440, 1.2, SR), sr=SR)
    half_mkv = cut(mkv, tmp_path / "half.mkv", 0.5)
    message = raises_own(CorruptMediaError, half_mkv, load_audio)
    assert message.split(": ", 1)[1].startswith("truncated: decoded 0.") and "of 1.2" in message
    raises_own(CorruptMediaError, half_mkv, lambda p: list(iter_frames(p)))
    garbled = tmp_path / "garbled.mp4"
    data = bytearray(clip.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = np.random.default_rng(1).bytes(4000)
    garbled.write_bytes(bytes(data))
    assert "damaged" in raises_own(CorruptMediaError, garbled, lambda p: list(iter_frames(p)))


def test_truncated_and_empty_wav(tone: Path, tmp_path: Path) -> None:
    short = cut(tone, tmp_path / "short.wav", 0.5)
    message = raises_own(CorruptMediaError, short, load_audio)
    assert "truncated: the header promises 1.00 s, the file holds 0.50 s" in message
    raises_own(CorruptMediaError, short, probe)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), SR)
    assert probe(empty).audio is not None
    raises_own(EmptyMediaError, empty, load_audio)
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    raises_own(EmptyMediaError, zero, probe)


def test_mp4_with_streams_but_no_packets(tmp_path: Path) -> None:
    path = tmp_path / "nothing.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.add_stream("aac", rate=SR)
        container.start_encoding()
    raises_own(EmptyMediaError, path, probe)
    raises_own(EmptyMediaError, path, load_clip, n_frames=2)


def test_wrong_kind_of_stream(silent_clip: Path, tone: Path) -> None:
    assert raises_own(NoAudioStreamError, silent_clip, load_audio).endswith("no audio track")
    raises_own(NoVideoStreamError, tone, load_frames, n=2)
    raises_own(NoVideoStreamError, tone, load_clip, n_frames=2)
    raises_own(NoVideoStreamError, tone, lambda p: next(iter_frames(p)))
