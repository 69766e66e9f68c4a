"""Reading audio and video files: the one module that opens media (with PyAV).

Times are in seconds, sample rates in Hz. Audio comes back as mono float32 of shape (n,) with
samples in [-1, 1]; images as RGB uint8 of shape (N, H, W, 3), upright (display rotation applied).

Every failure a file can cause is raised as an :mod:`avemotion.errors` class naming the file:
:class:`MediaNotFoundError`, :class:`UnsupportedMediaError` (not media, or a directory),
:class:`CorruptMediaError` (truncated or damaged), :class:`NoAudioStreamError`,
:class:`NoVideoStreamError`, :class:`EmptyMediaError` (streams but no samples or frames).
No PyAV exception escapes, and FFmpeg's log is kept off the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, cast

import av
import av.container
import numpy as np
import soxr
from numpy.typing import ArrayLike

from avemotion.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaNotFoundError,
    NoAudioStreamError,
    NoVideoStreamError,
    UnsupportedMediaError,
)

__all__ = [
    "AudioStreamInfo",
    "Frames",
    "MediaInfo",
    "VideoStreamInfo",
    "evenly_spaced_times",
    "iter_frames",
    "load_audio",
    "load_clip",
    "load_frames",
    "probe",
    "stream_frames",
]

PathLike = str | os.PathLike[str]
Size = tuple[int, int]

# FFmpeg's log stays off the terminal. Not routed to Python either: PyAV's log callback can
# deadlock with threaded decoders (PyAV issues #751, #909), e.g. on a damaged H.264 stream.
av.logging.set_level(None)

_VIDEO_THREADING = "AUTO"


def _decoder_threads() -> int:
    """Video decoder threads: the cores this process may run on (FFmpeg's own default takes one
    more than the machine's cores, which is slower on 2 cores: 0.127 s against 0.113 s for 4 s
    of 720p H.264)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
_HEAD_BYTES = 1 << 16
_TIME_EPS = 1e-6
# Data ending this much before the stated duration means truncation: max(seconds, fraction).
_TRUNCATION_SECONDS, _TRUNCATION_FRACTION = 0.1, 0.05
# Demuxers that estimate duration from the bit rate: a short read there is not proof of truncation.
_ESTIMATED_DURATION_FORMATS = frozenset({"mp3", "aac", "ac3", "eac3", "mpeg", "mpegts", "h264", "hevc"})
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"})
_MAGIC = (
    *((4, box) for box in _MP4_BOXES),
    (0, b"RIFF"), (0, b"RF64"), (0, b"fLaC"), (0, b"ID3"), (0, b"FLV"), (0, b"OggS"),
    (0, b"\x1aE\xdf\xa3"), (0, b"FORM"), (0, b"caff"), (0, b"#!AMR"), (0, b"\x00\x00\x01\xba"),
    (0, b"0&\xb2u\x8ef\xcf\x11"),
)  # fmt: skip


# --- public types ------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoStreamInfo:
    """A video stream.

    ``width``/``height`` are the display size in pixels (after ``rotation``, the counter-clockwise
    display rotation in degrees). ``fps`` is the average frame rate. ``n_frames`` is the count the
    container states, or else the number of video packets (counted by demuxing, no decoding).
    ``duration`` in seconds (0.0 when unknown).
    """

    codec: str
    width: int
    height: int
    fps: float
    n_frames: int
    rotation: int
    duration: float


@dataclass(frozen=True)
class AudioStreamInfo:
    """An audio stream: ``sample_rate`` in Hz, ``duration`` in seconds (0.0 when unknown)."""

    codec: str
    sample_rate: int
    channels: int
    duration: float


@dataclass(frozen=True)
class MediaInfo:
    """What :func:`probe` finds: the FFmpeg demuxer name, the duration (s) and the first streams."""

    path: str
    format: str
    duration: float
    video: VideoStreamInfo | None
    audio: AudioStreamInfo | None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def has_video(self) -> bool:
        return self.video is not None


@dataclass(frozen=True)
class Frames:
    """Decoded frames: ``images`` (N, H, W, 3) uint8 RGB, ``times`` (N,) float64 seconds.

    ``times[i]`` is the presentation time of ``images[i]``, the frame on screen at the time asked.
    """

    images: np.ndarray
    times: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


# --- opening -----------------------------------------------------------------------------


def _looks_like_media(head: bytes) -> bool:
    """Whether the first bytes carry a known audio/video signature (incl. an MPEG audio sync)."""
    mpeg_audio_sync = len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
    return mpeg_audio_sync or any(head[at : at + len(magic)] == magic for at, magic in _MAGIC)


def _wav_truncation(head: bytes, file_size: int) -> str | None:
    """What is missing when a RIFF/WAVE header promises more audio data than the file holds."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at, byte_rate = 12, 0
    while at + 8 <= len(head):
        chunk, size = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        if chunk == b"fmt " and at + 20 <= len(head):
            byte_rate = int.from_bytes(head[at + 16 : at + 20], "little")
        if chunk == b"data":
            present = file_size - (at + 8)
            if byte_rate == 0 or size in (0, 0xFFFFFFFF) or size <= present:
                return None
            promised, held = size / byte_rate, present / byte_rate
            return f"truncated: the header promises {promised:.2f} s, the file holds {held:.2f} s"
        at += 8 + size + (size & 1)
    return None


def _mp4_truncation(f: BinaryIO, head: bytes, file_size: int) -> str | None:
    """What is missing when the file ends inside a top-level MP4/MOV box (ISO BMFF)."""
    if head[4:8] not in _MP4_BOXES:
        return None
    at = 0
    while at < file_size:
        f.seek(at)
        header = f.read(16)
        size = int.from_bytes(header[:4], "big")
        if size == 1 and len(header) == 16:
            size = int.from_bytes(header[8:16], "big")
        if size == 0 and len(header) >= 8:
            return None  # the last box runs to the end of the file
        if len(header) < 8 or at + size > file_size:
            kind = header[4:8].decode("latin-1") or "?"
            held = f"{file_size - at} of {max(size, 8)} bytes present"
            return f"truncated: the file ends inside its '{kind}' box ({held})"
        if size < 8:
            return None  # not a box layout after all; FFmpeg will judge
        at += size
    return None


def _reason(error: Exception) -> str:
    """FFmpeg's own words for ``error`` when it logged any, else the error string."""
    log = getattr(error, "log", None)
    if log and len(log) == 3 and log[2].strip():
        return f"{log[1]}: {log[2].strip()}" if log[1] else log[2].strip()
    return getattr(error, "strerror", None) or str(error)


def _checked_path(path: PathLike) -> tuple[Path, bytes]:
    """The path and its first bytes, after the checks that need no decoder."""
    p = Path(path)
    if not p.exists():
        raise MediaNotFoundError(p, "file not found")
    if not p.is_file():
        raise UnsupportedMediaError(p, "not a file (a directory?)" if p.is_dir() else "not a regular file")
    try:
        with p.open("rb") as f:
            head = f.read(_HEAD_BYTES)
            size = p.stat().st_size
            truncation = _wav_truncation(head, size) or _mp4_truncation(f, head, size)
    except OSError as err:
        raise MediaError(p, f"cannot be read ({err.strerror})") from None
    if not head:
        raise EmptyMediaError(p, "empty file (0 bytes)")
    if truncation:
        raise CorruptMediaError(p, truncation)
    return p, head


def _is_media_format(container: av.container.InputContainer) -> bool:
    """False for demuxers that read text or still images (tty, image2, png_pipe, ...)."""
    name = container.format.name
    return not (name in ("tty", "image2", "image2pipe") or name.endswith("_pipe"))


def _audio_streams(container: av.container.InputContainer) -> list[av.AudioStream]:
    """Audio streams FFmpeg can decode."""
    return [s for s in container.streams.audio if s.codec_context is not None]


def _video_streams(container: av.container.InputContainer) -> list[av.VideoStream]:
    """Video streams FFmpeg can decode that are moving pictures (not cover art)."""
    return [
        s
        for s in container.streams.video
        if s.codec_context is not None and not s.disposition & av.stream.Disposition.attached_pic
    ]


def _described(stream: av.AudioStream | av.VideoStream) -> bool:
    """Whether FFmpeg found the stream's basic parameters: a sample rate and channels for audio,
    a frame size for video. A demuxer chosen by the file name alone (a text file named ``.flac``)
    gives a stream without them."""
    if isinstance(stream, av.AudioStream):
        audio = stream.codec_context
        return audio.sample_rate > 0 and audio.layout.nb_channels > 0
    video = stream.codec_context
    return video.width > 0 and video.height > 0


@contextmanager
def _open(path: PathLike) -> Iterator[_Reader]:
    """Open ``path`` for reading; map every PyAV error, here or in the body, to a MediaError."""
    p, head = _checked_path(path)
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeError) as err:
        if _looks_like_media(head):
            raise CorruptMediaError(p, f"damaged: cannot be opened ({_reason(err)})") from None
        raise UnsupportedMediaError(p, "not an audio or video file") from None
    try:
        streams: list[av.AudioStream | av.VideoStream] = [*_audio_streams(container), *_video_streams(container)]
        if not streams:
            if _looks_like_media(head):
                raise EmptyMediaError(p, "no audio or video streams")
            raise UnsupportedMediaError(p, "not an audio or video file")
        if not any(_described(s) for s in streams):
            if _looks_like_media(head):
                raise CorruptMediaError(p, "damaged: no stream has a sample rate or a frame size")
            raise UnsupportedMediaError(p, "not an audio or video file")
        if not _is_media_format(container):
            raise UnsupportedMediaError(p, "not an audio or video file")
        yield _Reader(p, container)
    except av.FFmpegError as err:
        raise CorruptMediaError(p, f"damaged ({_reason(err)})") from None
    finally:
        container.close()


# --- reading packets and frames ----------------------------------------------------------


def _seconds(value: int | None, time_base: Fraction | None) -> float:
    return float(value * time_base) if value and time_base else 0.0


class _Reader:
    """An open container that demuxes once, decodes chosen streams and explains failures.

    It tracks the end time of the data read so far, so that a clean end of file well before the
    stated duration is reported as truncation.
    """

    def __init__(self, path: Path, container: av.container.InputContainer) -> None:
        self.path = path
        self.container = container
        self.duration = _seconds(container.duration, Fraction(1, av.time_base))
        self.end = 0.0
        self._active: set[int] = set()

    def audio_stream(self) -> av.AudioStream:
        streams = _audio_streams(self.container)
        if not streams:
            raise NoAudioStreamError(self.path, "no audio track")
        return streams[0]

    def video_stream(self) -> av.VideoStream:
        streams = _video_streams(self.container)
        if not streams:
            raise NoVideoStreamError(self.path, "no video track")
        streams[0].thread_type = _VIDEO_THREADING
        streams[0].codec_context.thread_count = _decoder_threads()
        return streams[0]

    def stop(self, stream: av.stream.Stream) -> None:
        """Decode no more of ``stream``; reading ends once no stream is left."""
        self._active.discard(stream.index)

    def frames(self, *streams: av.stream.Stream) -> Iterator[av.AudioFrame | av.VideoFrame]:
        """Decoded frames of ``streams`` in file order; checks completeness at the end of file."""
        self._active = {s.index for s in streams}
        for packet in self.packets():
            if packet.stream.index in self._active:
                yield from self.decode(packet)
            if not self._active:
                return
        self._check_complete()

    def packets(self) -> Iterator[av.Packet]:
        """All packets in file order (the final empty ones flush the decoders)."""
        packets = self.container.demux()
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError as err:
                raise self._corrupt(f"damaged: unreadable after {self.end:.2f} s", err) from None
            if packet.pts is not None and packet.time_base:
                self.end = max(self.end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            yield packet

    def decode(self, packet: av.Packet) -> Sequence[av.AudioFrame | av.VideoFrame]:
        """The frames ``packet`` completes; a decoder error is a CorruptMediaError."""
        try:
            return packet.decode()
        except av.FFmpegError as err:
            if packet.pos is not None and 0 <= packet.pos and packet.pos + packet.size >= self.path.stat().st_size:
                raise self._corrupt(self._truncation(), err) from None
            raise self._corrupt(f"damaged: decoding failed at {self.end:.2f} s of {self.duration:.2f} s", err) from None

    def _truncation(self) -> str:
        return f"truncated: decoded {self.end:.2f} s of {self.duration:.2f} s"

    def _corrupt(self, problem: str, err: Exception) -> CorruptMediaError:
        return CorruptMediaError(self.path, f"{problem} ({_reason(err)})")

    def _check_complete(self) -> None:
        if self.container.format.name in _ESTIMATED_DURATION_FORMATS:
            return
        if self.end < self.duration - max(_TRUNCATION_SECONDS, _TRUNCATION_FRACTION * self.duration):
            raise CorruptMediaError(self.path, self._truncation())


def _frame_time(frame: av.VideoFrame, previous: float, step: float) -> float:
    """Presentation time (s) of ``frame``; without a timestamp, ``step`` after ``previous``."""
    return float(frame.time) if frame.time is not None else previous + step


def _frame_rate(stream: av.VideoStream) -> float:
    """Average frames per second (0.0 when unknown)."""
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else 0.0


def _frame_step(stream: av.VideoStream) -> float:
    rate = _frame_rate(stream)
    return 1 / rate if rate else 0.0


def _stream_duration(reader: _Reader, stream: av.stream.Stream) -> float:
    return _seconds(stream.duration, stream.time_base) or reader.duration


# --- audio -------------------------------------------------------------------------------


class _AudioSink:
    """Collects decoded audio as mono float32 at the native rate, up to sample ``stop``."""

    def __init__(self, stream: av.AudioStream, stop: int | None = None) -> None:
        self.stream = stream
        self.stop = stop
        self.rate = stream.codec_context.sample_rate
        self.n = 0
        self._to_float = av.AudioResampler(format="fltp")
        self._chunks: list[np.ndarray] = []

    @property
    def full(self) -> bool:
        return self.stop is not None and self.n >= self.stop

    def add(self, frame: av.AudioFrame) -> None:
        self.rate = frame.sample_rate
        for planar in self._to_float.resample(frame):
            channels = planar.to_ndarray()
            self._chunks.append(channels.mean(axis=0) if len(channels) > 1 else channels[0])
            self.n += channels.shape[1]

    def signal(self, reader: _Reader, start: int = 0) -> np.ndarray:
        """Samples [start, stop) with the encoder's end padding dropped; EmptyMediaError if none."""
        if self.n == 0:
            raise EmptyMediaError(reader.path, "no audio samples")
        x = np.concatenate(self._chunks).astype(np.float32, copy=False)
        stated = round(_seconds(self.stream.duration, self.stream.time_base) * self.rate)
        if stated and 0 < len(x) - stated <= 2 * self.stream.codec_context.frame_size:
            x = x[:stated]
        return x[start : self.stop]


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """``x`` (n,) from ``sr_in`` to ``sr_out`` Hz with soxr's HQ filter; length round(n*out/in)."""
    if sr_in == sr_out:
        return x
    return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def load_audio(
    path: PathLike, sr: int = 16000, *, offset: float = 0.0, duration: float | None = None
) -> np.ndarray:
    """Mono float32 audio of shape (n,) at ``sr`` Hz, from an audio file or a video's audio track.

    Decodes at the native rate, averages the channels, then resamples with soxr (HQ).
    ``offset`` and ``duration`` (s) select a segment, counted from the first audio sample; a
    segment past the end is cut short. Decoding starts at the beginning (exact for every format)
    and stops as soon as the segment is complete.
    """
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError(f"offset and duration must be >= 0, got {offset} and {duration}")
    with _open(path) as reader:
        stream = reader.audio_stream()
        start = round(offset * stream.codec_context.sample_rate)
        stop = None if duration is None else start + round(duration * stream.codec_context.sample_rate)
        sink = _AudioSink(stream, stop)
        for frame in reader.frames(stream):
            sink.add(cast(av.AudioFrame, frame))
            if sink.full:
                reader.stop(stream)
        return _resample(sink.signal(reader, start), sink.rate, sr)


# --- video -------------------------------------------------------------------------------


def evenly_spaced_times(duration: float, n: int) -> np.ndarray:
    """The centres (s) of ``n`` equal intervals covering [0, ``duration``]: shape (n,)."""
    if n < 1 or duration < 0:
        raise ValueError(f"need n >= 1 and duration >= 0, got n={n}, duration={duration}")
    return (np.arange(n) + 0.5) * (duration / n)


def _quarter_turns(rotation: int) -> int:
    """Counter-clockwise display rotation in degrees as a number of quarter turns (0-3)."""
    return round(rotation / 90) % 4


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """``image`` (H, W, C) rotated counter-clockwise by ``rotation`` degrees (nearest 90)."""
    turns = _quarter_turns(rotation)
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _to_rgb(frame: av.VideoFrame, size: Size | None) -> np.ndarray:
    """An upright RGB uint8 image of ``frame``, scaled (by swscale) to ``size`` = (height, width)."""
    height, width = (None, None) if size is None else size
    if _quarter_turns(frame.rotation) % 2:
        height, width = width, height
    return _upright(frame.to_ndarray(width=width, height=height, format="rgb24"), frame.rotation)


class _FramePicker:
    """Picks, from frames arriving in presentation order, the one on screen at each target time.

    That is the last frame whose time is <= the target (the first frame for targets before it,
    the last frame for targets after the end). Only the previous frame and the picked frames not
    yet taken are held; only the picked frames are converted to RGB.
    """

    def __init__(self, targets: np.ndarray) -> None:
        self._order = np.argsort(targets, kind="stable")
        self._targets = targets[self._order]
        self._picked: list[tuple[float, av.VideoFrame]] = []  # in time order, not yet taken
        self._taken = 0
        self._previous: tuple[float, av.VideoFrame] | None = None

    @property
    def ready(self) -> int:
        """Frames picked and not yet taken."""
        return len(self._picked)

    @property
    def done(self) -> bool:
        return self._taken + len(self._picked) == len(self._targets)

    def add(self, time: float, frame: av.VideoFrame) -> None:
        while not self.done and self._targets[self._taken + len(self._picked)] < time - _TIME_EPS:
            self._picked.append(self._previous or (time, frame))
        self._previous = (time, frame)

    def finish(self, reader: _Reader) -> None:
        """At the end of the stream: the last frame goes to the targets after it;
        EmptyMediaError if no frame came."""
        if self._previous is None:
            raise EmptyMediaError(reader.path, "no video frames")
        self._picked += [self._previous] * (len(self._targets) - self._taken - len(self._picked))

    def take(self, count: int, size: Size | None) -> Frames:
        """The next ``count`` (or fewer) picked frames in time order, removed from the picker."""
        chunk, self._picked = self._picked[:count], self._picked[count:]
        self._taken += len(chunk)
        return _as_frames(chunk, size, np.arange(len(chunk)))

    def frames(self, reader: _Reader, size: Size | None) -> Frames:
        """All the picked frames in the order of the targets (none taken before)."""
        self.finish(reader)
        return _as_frames(self._picked, size, self._order)


def _as_frames(picked: list[tuple[float, av.VideoFrame]], size: Size | None, slots: np.ndarray) -> Frames:
    """The (time, frame) pairs ``picked`` as RGB Frames, pair i at index ``slots[i]``; a frame
    picked more than once is converted once."""
    converted: dict[int, np.ndarray] = {}
    for _, frame in picked:
        if id(frame) not in converted:
            converted[id(frame)] = image = _to_rgb(frame, size)
            size = image.shape[:2]  # should the resolution change mid-stream
    images = np.empty((len(picked), *(size or (0, 0)), 3), np.uint8)
    times = np.empty(len(picked))
    for slot, (time, frame) in zip(slots, picked, strict=True):
        images[slot], times[slot] = converted[id(frame)], time
    return Frames(images, times)


def _check_times(times: ArrayLike) -> np.ndarray:
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or len(t) == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"times must be a non-empty 1-D array of finite seconds >= 0, got shape {t.shape}")
    return t


def _timed_frames(
    reader: _Reader, video: av.VideoStream, sink: _AudioSink | None = None
) -> Iterator[tuple[float, av.VideoFrame]]:
    """The ``video`` frames with their times (s), in one pass that also feeds audio to ``sink``;
    ``reader.stop(video)`` ends the video decoding."""
    step = _frame_step(video)
    time = -step
    for frame in reader.frames(video, *([] if sink is None else [sink.stream])):
        if isinstance(frame, av.VideoFrame):
            time = _frame_time(frame, time, step)
            yield time, frame
        elif sink is not None:
            sink.add(frame)


def _read_clip(reader: _Reader, video: av.VideoStream, picker: _FramePicker, sink: _AudioSink | None = None) -> None:
    """In one pass, feed ``video`` frames to ``picker`` (until it is done) and audio to ``sink``."""
    for time, frame in _timed_frames(reader, video, sink):
        picker.add(time, frame)
        if picker.done:
            reader.stop(video)


def _targets(reader: _Reader, video: av.VideoStream, times: np.ndarray | None, n: int | None) -> np.ndarray:
    """``times``, or ``n`` evenly spaced times over ``video``."""
    return times if times is not None else evenly_spaced_times(_stream_duration(reader, video), cast(int, n))


def load_frames(
    path: PathLike, times: ArrayLike | None = None, *, n: int | None = None, size: Size | None = None
) -> Frames:
    """The frames on screen at ``times`` (s), or at ``n`` evenly spaced times over the video.

    Decodes the file once, from the start, in presentation order (variable frame rate is fine:
    frame timestamps are used, never a constant rate) up to the last time asked; only the frames
    kept are converted to RGB. ``size`` = (height, width) scales the upright images.
    """
    if (times is None) == (n is None):
        raise ValueError("give either times or n")
    asked = None if times is None else _check_times(times)
    with _open(path) as reader:
        video = reader.video_stream()
        picker = _FramePicker(_targets(reader, video, asked, n))
        _read_clip(reader, video, picker)
        return picker.frames(reader, size)


def stream_frames(
    path: PathLike, times: ArrayLike | None = None, *, n: int | None = None, chunk: int = 32, size: Size | None = None
) -> Iterator[Frames]:
    """The frames of :func:`load_frames` (at increasing ``times``, or ``n`` evenly spaced), as
    consecutive chunks of at most ``chunk`` frames in time order.

    The same single decoding pass, but only one chunk of frames is held at a time, so memory
    does not grow with the video's length. All chunks have the first chunk's image size.
    """
    if (times is None) == (n is None):
        raise ValueError("give either times or n")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    asked = None if times is None else _check_times(times)
    if asked is not None and np.any(np.diff(asked) < 0):
        raise ValueError("times must be increasing")
    with _open(path) as reader:
        video = reader.video_stream()
        picker = _FramePicker(_targets(reader, video, asked, n))
        for time, frame in _timed_frames(reader, video):
            picker.add(time, frame)
            while picker.ready >= chunk:
                frames = picker.take(chunk, size)
                size = frames.images.shape[1:3]
                yield frames
            if picker.done:
                reader.stop(video)
        picker.finish(reader)
        while picker.ready:
            yield picker.take(chunk, size)


def iter_frames(path: PathLike, *, every: int = 1, size: Size | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Every ``every``-th decoded frame as (time in s, upright RGB uint8 image (H, W, 3)).

    ``size`` = (height, width) scales the images. A truncated file raises CorruptMediaError
    after the frames that could be read.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    with _open(path) as reader:
        count = 0
        for time, frame in _timed_frames(reader, reader.video_stream()):
            if count % every == 0:
                yield time, _to_rgb(frame, size)
            count += 1
        if count == 0:
            raise EmptyMediaError(reader.path, "no video frames")


def load_clip(
    path: PathLike, *, n_frames: int, sr: int = 16000, size: Size | None = None
) -> tuple[Frames, np.ndarray | None]:
    """``n_frames`` evenly spaced frames and the mono audio at ``sr`` Hz (None without an audio track).

    One pass over the file: audio and video packets are demuxed together; video decoding stops
    after the last frame needed. Same conventions as :func:`load_frames` and :func:`load_audio`.
    """
    with _open(path) as reader:
        video = reader.video_stream()
        picker = _FramePicker(evenly_spaced_times(_stream_duration(reader, video), n_frames))
        sink = _AudioSink(reader.audio_stream()) if _audio_streams(reader.container) else None
        _read_clip(reader, video, picker, sink)
        frames = picker.frames(reader, size)
        return frames, None if sink is None else _resample(sink.signal(reader), sink.rate, sr)


@dataclass(frozen=True)
class DecodedMedia:
    """What :func:`load_media` read: the duration (s; ``video_duration``: the video stream's,
    the one ``frame_times`` was given), which streams there are, the frames asked for (None
    without video or when none were asked) and the mono audio (None without audio or when not
    asked)."""

    duration: float
    video_duration: float
    has_video: bool
    has_audio: bool
    frames: Frames | None
    signal: np.ndarray | None


def load_media(
    path: PathLike,
    *,
    frame_times: Callable[[float], np.ndarray | None] | None = None,
    audio: bool = True,
    sr: int = 16000,
    size: Size | None = None,
    reference_frames_only: bool = False,
) -> DecodedMedia:
    """Everything a recognizer needs from an audio or video file, opened and decoded once.

    ``frame_times(video_duration)`` gives the times (s) of the frames wanted (None or empty:
    none); ``audio``: whether to decode the audio track (at ``sr`` Hz, mono). Audio and video
    packets are demuxed together and video decoding stops after the last frame needed.
    ``reference_frames_only``: the decoder skips the frames no other frame refers to (H.264's
    B-frames; about half of a typical stream's, 20 % less decoding time) and the deblocking
    filter (another 10-20 %): the frame at a target time is then the last reference frame
    before it, a few frames earlier at most, without the smoothing of block edges.
    Conventions as :func:`load_frames` and :func:`load_audio`; media errors name the file.
    """
    with _open(path) as reader:
        video = reader.video_stream() if _video_streams(reader.container) else None
        if video is not None and reference_frames_only:
            video.codec_context.skip_frame = "NONREF"
            video.codec_context.options = {"skip_loop_filter": "all"}
        has_audio = bool(_audio_streams(reader.container))
        streams = [s for s in (video, reader.audio_stream() if has_audio else None) if s is not None]
        duration = reader.duration or max(_stream_duration(reader, s) for s in streams)
        times = None
        video_duration = _stream_duration(reader, video) if video is not None else 0.0
        if video is not None and frame_times is not None:
            times = frame_times(video_duration)
        sink = _AudioSink(reader.audio_stream()) if audio and has_audio else None
        frames = None
        if times is not None and len(times):
            picker = _FramePicker(_check_times(times))
            _read_clip(reader, video, picker, sink)  # type: ignore[arg-type]
            frames = picker.frames(reader, size)
        elif sink is not None:
            for frame in reader.frames(sink.stream):
                sink.add(frame)  # type: ignore[arg-type]
        signal = None if sink is None else _resample(sink.signal(reader), sink.rate, sr)
        return DecodedMedia(duration, video_duration, video is not None, has_audio, frames, signal)


# --- probe -------------------------------------------------------------------------------


def _first_frame_and_count(reader: _Reader, stream: av.VideoStream) -> tuple[av.VideoFrame | None, int]:
    """The first decoded frame and the number of video packets (counted only when not stated)."""
    first, count = None, 0
    for packet in reader.packets():
        if packet.stream.index != stream.index:
            continue
        count += packet.size > 0
        if first is None:
            first = cast(av.VideoFrame | None, next(iter(reader.decode(packet)), None))
        if first is not None and stream.frames:
            break
    return first, stream.frames or count


def _video_info(reader: _Reader, stream: av.VideoStream) -> VideoStreamInfo:
    first, n_frames = _first_frame_and_count(reader, stream)
    rotation = first.rotation if first is not None else 0
    width, height = stream.codec_context.width, stream.codec_context.height
    if _quarter_turns(rotation) % 2:
        width, height = height, width
    duration = _stream_duration(reader, stream)
    fps = _frame_rate(stream) or (n_frames / duration if duration else 0.0)
    return VideoStreamInfo(stream.codec_context.codec.canonical_name, width, height, fps, n_frames, rotation, duration)


def _audio_info(reader: _Reader, stream: av.AudioStream) -> AudioStreamInfo:
    context = stream.codec_context
    duration = _stream_duration(reader, stream)
    return AudioStreamInfo(context.codec.canonical_name, context.sample_rate, context.layout.nb_channels, duration)


def probe(path: PathLike) -> MediaInfo:
    """Container format, duration (s) and first audio and video streams of ``path``.

    Reads headers; for video it also decodes the first frame (for the rotation) and, when the
    container does not state the frame count, demuxes the video packets to count them.
    """
    with _open(path) as reader:
        container = reader.container
        videos = _video_streams(container)
        video = _video_info(reader, videos[0]) if videos else None
        audios = _audio_streams(container)
        audio = _audio_info(reader, audios[0]) if audios else None
        streams = [s for s in (video, audio) if s is not None]
        duration = reader.duration or max(s.duration for s in streams)
        return MediaInfo(str(reader.path), container.format.name, duration, video, audio)
