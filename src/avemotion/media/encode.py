"""Small writers for audio and video files (tests, benchmarks, demo samples).

Both writers are atomic: they write a temporary file in the destination folder and move it
into place with :func:`os.replace`, so a reader never sees a half-written file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

__all__ = ["write_audio", "write_video"]

_AUDIO_LAYOUTS = {1: "mono", 2: "stereo"}
_VFR_TIME_BASE = Fraction(1, 1000)
_MOV_SUFFIXES = frozenset({".mp4", ".mov", ".m4v"})  # written with the index first (faststart)


@contextlib.contextmanager
def _atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path`` (same suffix, so writers pick the same
    format); move it onto ``path`` on success, remove it on failure."""
    final = Path(path)
    tmp = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:12]}.tmp{final.suffix}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _as_channels_last(signal: np.ndarray) -> np.ndarray:
    """``signal`` as float32 of shape (n,) or (n, channels); raises ValueError otherwise."""
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim not in (1, 2) or x.shape[0] == 0:
        raise ValueError(f"signal must have shape (n,) or (n, channels) with n > 0, got {x.shape}")
    return x


def write_audio(
    path: str | os.PathLike[str], signal: np.ndarray, sr: int, *, subtype: str | None = None
) -> None:
    """Write ``signal`` (float in [-1, 1], shape (n,) or (n, channels)) at ``sr`` Hz.

    The format follows the extension (``.wav``, ``.flac``, ...; anything soundfile writes);
    ``subtype`` is soundfile's (default: 16-bit PCM).
    """
    x = _as_channels_last(signal)
    with _atomic_path(path) as tmp:
        sf.write(tmp, x, sr, subtype=subtype)


def _audio_frames(signal: np.ndarray, sr: int, n_chunks: int) -> list[av.AudioFrame]:
    """``signal`` (n,) or (n, channels) as ``n_chunks`` consecutive planar float frames."""
    planar = np.ascontiguousarray(signal.reshape(signal.shape[0], -1).T)
    layout = _AUDIO_LAYOUTS[planar.shape[0]]
    bounds = np.linspace(0, planar.shape[1], n_chunks + 1).round().astype(int)
    frames = []
    for start, stop in itertools.pairwise(bounds):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, start:stop]), format="fltp", layout=layout)
        frame.sample_rate = sr
        frame.pts = int(start)
        frame.time_base = Fraction(1, sr)
        frames.append(frame)
    return frames


def _timestamps(n: int, rate: Fraction, times: np.ndarray | None) -> tuple[Fraction, np.ndarray, np.ndarray]:
    """Time base, pts and durations (in that time base) of ``n`` frames at ``rate`` or at ``times`` (s)."""
    if times is None:
        return 1 / rate, np.arange(n), np.ones(n, dtype=np.int64)
    t = np.asarray(times, dtype=np.float64)
    if t.shape != (n,) or np.any(np.diff(t) <= 0) or t[0] < 0:
        raise ValueError(f"times must be {n} increasing seconds >= 0, got {times!r}")
    pts = np.round(t * _VFR_TIME_BASE.denominator).astype(np.int64)
    last = round(_VFR_TIME_BASE.denominator / rate)
    return _VFR_TIME_BASE, pts, np.diff(pts, append=pts[-1] + last)


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray,
    fps: float | Fraction,
    *,
    audio: np.ndarray | None = None,
    sr: int = 16000,
    codec: str = "libx264",
    audio_codec: str = "aac",
    rotation: int = 0,
    times: np.ndarray | None = None,
) -> None:
    """Write RGB ``frames`` (N, H, W, 3) uint8 at ``fps`` frames/s, with optional ``audio``.

    The container follows the extension (``.mp4``, ``.mkv``, ``.webm``, ``.avi``, ...; MP4/MOV get
    their index first, "faststart", as for streaming). ``audio`` is float in [-1, 1], shape (n,)
    or (n, 1 or 2 channels), at ``sr`` Hz; it is interleaved with the video. H and W must be even
    (yuv420p). ``rotation`` (degrees counter-clockwise, a multiple of 90) is stored as
    display-matrix metadata, as phones do; the pixels are written as given. ``times`` (N,)
    increasing seconds makes a variable-frame-rate video (millisecond precision; ``fps`` then
    only sets the last frame's duration).
    """
    images = np.asarray(frames)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8 or len(images) == 0:
        raise ValueError(f"frames must be a non-empty (N, H, W, 3) uint8 array, got {images.shape} {images.dtype}")
    height, width = images.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"frame height and width must be even, got {height}x{width}")
    signal = None if audio is None else _as_channels_last(audio)
    if signal is not None and signal.reshape(len(signal), -1).shape[1] not in _AUDIO_LAYOUTS:
        raise ValueError(f"audio must be mono or stereo, got shape {signal.shape}")
    rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
    time_base, pts, durations = _timestamps(len(images), rate, times)
    duration_of = dict(zip(pts.tolist(), durations.tolist(), strict=True))
    options = {"movflags": "+faststart"} if Path(path).suffix.lower() in _MOV_SUFFIXES else {}
    with _atomic_path(path) as tmp, av.open(str(tmp), mode="w", options=options) as container:
        video = container.add_stream(codec, rate=rate)
        if not isinstance(video, VideoStream):
            raise ValueError(f"{codec!r} is not a video codec")
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = time_base
        if rotation:
            video.set_display_rotation(rotation)
        chunks: list[av.AudioFrame] = []
        if signal is not None:
            chunks = _audio_frames(signal, sr, len(images))
            stream = container.add_stream(audio_codec, rate=sr, layout=chunks[0].layout.name)
            if not isinstance(stream, AudioStream):
                raise ValueError(f"{audio_codec!r} is not an audio codec")
            sound = stream

        def mux_video(packets: list[av.Packet]) -> None:
            for packet in packets:
                packet.duration = duration_of.get(packet.pts, packet.duration)
            container.mux(packets)

        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = int(pts[i]), time_base
            mux_video(video.encode(frame))
            if chunks:
                container.mux(sound.encode(chunks[i]))
        mux_video(video.encode(None))
        if chunks:
            container.mux(sound.encode(None))
