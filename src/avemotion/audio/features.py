"""Audio features: pure functions of a mono signal and its sample rate (no I/O, no state).

``signal`` is mono audio of shape (n,) with samples in [-1, 1]; ``sr`` is its rate in Hz. Every
window and hop is given as a duration in seconds and turned into samples at ``sr`` (rounded), so
a feature means the same thing at 16 kHz as at the 22.05 kHz the seeds used.

One framing is shared by every frame-wise feature: centred frames (librosa's ``center=True``,
zero padding) of ``FRAME_S`` = 2048/22050 s = 92.9 ms every ``HOP_S`` = 512/22050 s = 23.2 ms.
That is librosa's default STFT (n_fft 2048, hop 512) at its default 22.05 kHz rate, which seeds
001-004 all rely on. At 16 kHz it is a window (and FFT) of 1486 samples and a hop of 372 samples
(23.25 ms); a signal of n samples gives ``1 + n // hop`` frames (:func:`frame_count`).

Mel filterbanks are librosa's (Slaney mel scale and area normalisation); decibels are
``10 log10(power)`` relative to a full-scale power of 1.0, floored at the maximum minus ``top_db``.

Seeds followed: 000 and 003 (the EmoCRNet / MoBEL report: 1 s segments every 0.5 s, 96-band log
mel 20-8000 Hz, 12 segments of 32 frames), 001 (MFCC, chroma and mel means), 002 (ZCR, RMS and
MFCC per frame), 004 (a zero-padded MFCC sequence).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Final, Literal

import librosa
import numpy as np

from avemotion.core.sampling import fixed_count
from avemotion.errors import SilentAudioError, TooLittleSpeechError

__all__ = [
    "FRAME_S",
    "HOP_S",
    "OPENSMILE_FEATURE_SETS",
    "check_not_silent",
    "chroma",
    "frame_count",
    "frame_lengths",
    "functionals",
    "log_mel",
    "mel_power",
    "mfcc",
    "mfcc_sequence",
        "normalize",
    "opensmile_functionals",
    "peak_dbfs",
    "rms",
    "seed001_vector",
    "seed002_frames",
    "segment",
    "segment_log_mels",
    "zero_crossing_rate",
]

FRAME_S: Final = 2048 / 22050
"""Analysis window of every frame-wise feature, in seconds (92.9 ms)."""
HOP_S: Final = 512 / 22050
"""Hop between frames, in seconds (23.2 ms)."""
OPENSMILE_FEATURE_SETS: Final = ("eGeMAPSv02", "ComParE_2016")
"""The openSMILE functional sets the extract registry names (88 and 6373 values)."""

_EPS: Final = 1e-6  # seed 003's spec_to_image: (spec - mean) / (std + 1e-6)
_DELTA_WIDTH: Final = 9  # librosa's default delta window, in frames

NormMethod = Literal["standard", "minmax"]


# --- framing -----------------------------------------------------------------------------


def frame_lengths(sr: float, win_s: float = FRAME_S, hop_s: float = HOP_S) -> tuple[int, int]:
    """(window, hop) in samples for a window and hop in seconds: (2048, 512) at 22050 Hz, (1486, 372) at 16000 Hz."""
    win, hop = round(win_s * sr), round(hop_s * sr)
    if win < 1 or hop < 1:
        raise ValueError(f"window {win_s} s and hop {hop_s} s are under one sample at {sr} Hz")
    return win, hop


def frame_count(n_samples: int, sr: float, hop_s: float = HOP_S) -> int:
    """Number of centred frames a signal of ``n_samples`` gets with a hop of ``hop_s`` seconds."""
    _, hop = frame_lengths(sr, FRAME_S, hop_s)
    return 1 + n_samples // hop


def _mono(signal: np.ndarray) -> np.ndarray:
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected a mono signal of shape (n,), got shape {x.shape}")
    return x


# --- spectrograms ------------------------------------------------------------------------


def mel_power(
    signal: np.ndarray,
    sr: float,
    *,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    win_s: float = FRAME_S,
    hop_s: float = HOP_S,
) -> np.ndarray:
    """Mel power spectrogram: (n_mels, n_frames) float32, |STFT|^2 through ``n_mels`` bands ``fmin``-``fmax`` Hz.

    ``fmax=None`` means ``sr / 2``. The defaults are librosa's ``melspectrogram`` (seed 001's mel).
    """
    n_fft, hop = frame_lengths(sr, win_s, hop_s)
    spec = librosa.feature.melspectrogram(
        y=_mono(signal), sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    return spec.astype(np.float32, copy=False)


def log_mel(
    signal: np.ndarray,
    sr: float,
    *,
    n_mels: int = 96,
    fmin: float = 20.0,
    fmax: float | None = 8000.0,
    win_s: float = FRAME_S,
    hop_s: float = HOP_S,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Log-mel spectrogram in dB: (n_mels, n_frames) float32.

    Seed 003 (``get_melspectrogram_db``): 96 mel bands from 20 to 8000 Hz, FFT 2048 and hop 512
    at 22050 Hz, ``power_to_db(top_db=80)``. Here the FFT and hop are durations (92.9 ms, 23.2
    ms): at 16 kHz, n_fft = 1486 and hop = 372 samples, the same 10.8 Hz bin spacing.
    """
    power = mel_power(signal, sr, n_mels=n_mels, fmin=fmin, fmax=fmax, win_s=win_s, hop_s=hop_s)
    return librosa.power_to_db(power, ref=1.0, top_db=top_db).astype(np.float32, copy=False)


def normalize(
    spec: np.ndarray, method: NormMethod = "standard", *, axis: int | tuple[int, ...] | None = None
) -> np.ndarray:
    """Per-clip normalisation, float32 of the same shape; statistics over ``axis`` (None: all values).

    ``"standard"``: ``(x - mean) / (std + 1e-6)``, seed 003's ``spec_to_image``. ``"minmax"``:
    scaled to [0, 1], the seed's final 0-255 image scaling divided by 255 (before its uint8
    rounding). A constant input gives zeros either way.
    """
    x = np.asarray(spec, dtype=np.float32)
    if method == "standard":
        return (x - x.mean(axis=axis, keepdims=True)) / (x.std(axis=axis, keepdims=True) + _EPS)
    if method == "minmax":
        low = x.min(axis=axis, keepdims=True)
        span = x.max(axis=axis, keepdims=True) - low
        return np.where(span > 0, (x - low) / np.where(span > 0, span, 1), 0).astype(np.float32)
    raise ValueError(f"unknown normalisation {method!r}: use 'standard' or 'minmax'")


# --- segments ----------------------------------------------------------------------------


def segment(signal: np.ndarray, sr: float, *, win_s: float = 1.0, hop_s: float = 0.5) -> np.ndarray:
    """Overlapping windows of the signal: (n_segments, win_samples) float32.

    Seeds 000/003: 1000 ms segments overlapping by 500 ms. As in seed 003's
    ``split_audio_with_overlap``, only whole windows are kept (a trailing part shorter than a
    window is dropped): ``n_segments = 1 + (n - win) // hop``. A signal shorter than one window
    is zero-padded at the end to one segment (the seed would give none).
    """
    x = _mono(signal)
    win, hop = frame_lengths(sr, win_s, hop_s)
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    return librosa.util.frame(x, frame_length=win, hop_length=hop, axis=0).copy()


def _centre_frames(spec: np.ndarray, n: int) -> np.ndarray:
    """The central ``n`` frames (last axis); a shorter spectrogram is padded with its minimum on both sides."""
    t = spec.shape[-1]
    if t >= n:
        start = (t - n) // 2
        return spec[..., start : start + n]
    before = (n - t) // 2
    widths = [(0, 0)] * (spec.ndim - 1) + [(before, n - t - before)]
    return np.pad(spec, widths, constant_values=spec.min())


def segment_log_mels(
    signal: np.ndarray,
    sr: float,
    *,
    n_segments: int = 12,
    n_frames: int = 32,
    segment_s: float = 1.0,
    segment_hop_s: float = 0.5,
    norm: NormMethod | None = "standard",
    per_segment: bool = False,
    **mel_kwargs: Any,
) -> np.ndarray:
    """The CRNN input of seeds 000/003: (n_segments, n_mels, n_frames) float32, by default (12, 96, 32).

    1. :func:`segment` into ``segment_s`` windows every ``segment_hop_s`` (1 s every 0.5 s);
    2. :func:`fixed_count` to ``n_segments`` (seed 003's drop/repeat rule);
    3. :func:`log_mel` of each segment (``mel_kwargs`` go to it), with ``top_db`` per segment
       as the seed's one-image-per-segment code had it;
    4. the 32-frame context window: the central ``n_frames`` frames (a centre crop, time
       resolution untouched). A 1 s segment has 44 frames at 23.2 ms, so the window keeps its
       central 0.74 s; with a 0.5 s hop the crops of neighbouring segments still overlap, so
       nothing between the first and the last crop is lost. Shorter spectrograms are padded
       with their minimum (silence in dB);
    5. :func:`normalize` with ``norm`` over the whole clip (``per_segment=True``: each segment
       on its own, as seed 003 did per image), or nothing for ``norm=None``.
    """
    segments = fixed_count(segment(signal, sr, win_s=segment_s, hop_s=segment_hop_s), n_segments)
    mels = np.stack([_centre_frames(log_mel(s, sr, **mel_kwargs), n_frames) for s in segments])
    if norm is None:
        return mels
    return normalize(mels, norm, axis=(1, 2) if per_segment else None)


# --- frame-wise descriptors --------------------------------------------------------------


def _delta(x: np.ndarray, order: int) -> np.ndarray:
    """Time derivative of ``order`` over a 9-frame window, narrowed for short inputs (zeros under 3 frames)."""
    t = x.shape[-1]
    width = min(_DELTA_WIDTH, t if t % 2 else t - 1)
    if width < 3:
        return np.zeros_like(x)
    return librosa.feature.delta(x, width=width, order=order)


def mfcc(
    signal: np.ndarray,
    sr: float,
    *,
    n_mfcc: int = 40,
    deltas: int = 2,
    n_mels: int = 128,
    win_s: float = FRAME_S,
    hop_s: float = HOP_S,
) -> np.ndarray:
    """MFCCs and their derivatives: (n_mfcc * (1 + deltas), n_frames) float32.

    librosa's recipe (seeds 001, 002, 004): orthonormal DCT-II of the dB mel spectrogram
    (``n_mels`` bands over 0 to sr/2, ``top_db`` 80). Rows: the ``n_mfcc`` coefficients, then
    their first, ..., ``deltas``-th time derivatives (per frame, 9-frame Savitzky-Golay).
    40 coefficients follow seed 001.
    """
    if deltas < 0:
        raise ValueError(f"deltas must be >= 0, got {deltas}")
    spec = log_mel(signal, sr, n_mels=n_mels, fmin=0.0, fmax=None, win_s=win_s, hop_s=hop_s)
    base = librosa.feature.mfcc(S=spec, n_mfcc=n_mfcc)
    return np.concatenate([base, *(_delta(base, k) for k in range(1, deltas + 1))]).astype(np.float32)


def chroma(
    signal: np.ndarray, sr: float, *, win_s: float = FRAME_S, hop_s: float = HOP_S, tuning: float | None = None
) -> np.ndarray:
    """Chromagram: (12, n_frames) float32 in [0, 1], rows the pitch classes C, C#, ..., B.

    STFT magnitudes folded onto pitch classes, each frame scaled to a maximum of 1 (silent
    frames stay 0). Seed 001 passes ``|STFT|`` (not its square) to ``chroma_stft``; ``tuning``
    in fractions of a semitone, None to estimate it from the signal (librosa's default).
    """
    n_fft, hop = frame_lengths(sr, win_s, hop_s)
    magnitude = np.abs(librosa.stft(_mono(signal), n_fft=n_fft, hop_length=hop))
    return librosa.feature.chroma_stft(S=magnitude, sr=sr, n_fft=n_fft, tuning=tuning).astype(np.float32)


def zero_crossing_rate(signal: np.ndarray, sr: float, *, win_s: float = FRAME_S, hop_s: float = HOP_S) -> np.ndarray:
    """Zero-crossing rate: (1, n_frames) float32, sign changes per sample in each frame (0 to 1).

    Times ``sr`` it is crossings per second: a sine of f Hz gives about 2 f / sr. Seed 002.
    """
    win, hop = frame_lengths(sr, win_s, hop_s)
    return librosa.feature.zero_crossing_rate(_mono(signal), frame_length=win, hop_length=hop).astype(np.float32)


def rms(signal: np.ndarray, sr: float, *, win_s: float = FRAME_S, hop_s: float = HOP_S) -> np.ndarray:
    """Root-mean-square amplitude per frame: (1, n_frames) float32, full scale 1. Seed 002.

    A sine of amplitude a gives a / sqrt(2).
    """
    win, hop = frame_lengths(sr, win_s, hop_s)
    return librosa.feature.rms(y=_mono(signal), frame_length=win, hop_length=hop).astype(np.float32)


# --- summaries and seed recipes ----------------------------------------------------------


def functionals(frames: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over time of (d, T) frames: (2d,) float32, means first."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"expected frames of shape (d, T) with T >= 1, got {x.shape}")
    return np.concatenate([x.mean(axis=1), x.std(axis=1)])


def seed001_vector(signal: np.ndarray, sr: float) -> np.ndarray:
    """Seed 001's utterance vector: (180,) float32, time means of 40 MFCCs, 12 chroma and 128 mel powers.

    Seed 001 names MFCC, chroma and mel-spectrogram features from librosa; its published code
    averages ``mfcc(n_mfcc=40)``, ``chroma_stft(S=|stft|)`` and ``melspectrogram()`` (librosa
    defaults otherwise) over time and concatenates them. Means only, no deltas.
    """
    parts = (mfcc(signal, sr, n_mfcc=40, deltas=0), chroma(signal, sr), mel_power(signal, sr))
    return np.concatenate([p.mean(axis=1) for p in parts]).astype(np.float32)


def seed002_frames(signal: np.ndarray, sr: float, *, n_mfcc: int = 20) -> np.ndarray:
    """Seed 002's frame features: (2 + n_mfcc, n_frames) float32, rows ZCR, RMS, then the MFCCs.

    Seed 002 extracts zero-crossing rate, RMS energy and MFCCs; it gives no counts, so librosa's
    defaults stand: 20 MFCCs and the shared 92.9 ms / 23.2 ms framing.
    """
    return np.concatenate(
        [zero_crossing_rate(signal, sr), rms(signal, sr), mfcc(signal, sr, n_mfcc=n_mfcc, deltas=0)]
    )


def mfcc_sequence(signal: np.ndarray, sr: float, *, n_mfcc: int = 20, max_frames: int = 282) -> np.ndarray:
    """Seed 004's LSTM/CNN input: (max_frames, n_mfcc) float32, MFCC frames in time order.

    Seed 004: ``librosa.feature.mfcc`` on the log mel spectrogram, zero-padded to (20, 282)
    (282 frames = 6.5 s at 23.2 ms, longer than any RAVDESS clip). Longer clips are truncated
    at the end; the result is transposed to (time, coefficient).
    """
    coefficients = mfcc(signal, sr, n_mfcc=n_mfcc, deltas=0)
    return np.ascontiguousarray(librosa.util.fix_length(coefficients, size=max_frames, axis=1).T)


# --- openSMILE (optional) ----------------------------------------------------------------


@functools.cache
def _smile(feature_set: str) -> Any:
    try:
        import opensmile
    except ImportError as err:
        raise ImportError(
            "openSMILE features need the optional 'opensmile' package: pip install 'avemotion[opensmile]'"
        ) from err
    known = list(opensmile.FeatureSet.__members__)
    if feature_set not in known:
        raise ValueError(f"unknown openSMILE feature set {feature_set!r}: use one of {known}")
    return opensmile.Smile(
        feature_set=opensmile.FeatureSet[feature_set], feature_level=opensmile.FeatureLevel.Functionals
    )


def opensmile_functionals(signal: np.ndarray, sr: float, feature_set: str = "eGeMAPSv02") -> np.ndarray:
    """openSMILE functionals of the whole signal: (d,) float32, 88 for eGeMAPSv02, 6373 for ComParE_2016.

    Needs the optional extra (``pip install 'avemotion[opensmile]'``), imported on first use.
    openSMILE is under audEERING's research licence: free for research and education only,
    commercial use needs a licence from audEERING.
    """
    table = _smile(feature_set).process_signal(_mono(signal), sr)
    return table.to_numpy(dtype=np.float32)[0]


# --- validation --------------------------------------------------------------------------


def peak_dbfs(signal: np.ndarray) -> float:
    """Peak level in dB relative to full scale (1.0): 0.0 for a full-scale peak, -inf for digital silence."""
    x = np.asarray(signal)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return float(20 * np.log10(peak)) if peak > 0 else -np.inf


def speech_seconds(signal: np.ndarray, sr: int, *, relative_db: float = 35.0, floor_db: float = -75.0) -> float:
    """Seconds of ``signal`` that carry voice-level energy: 25 ms frames every 10 ms whose RMS
    is within ``relative_db`` dB of the loudest frame and above ``floor_db`` dBFS."""
    frame, hop = int(0.025 * sr), int(0.010 * sr)
    x = np.asarray(signal, dtype=np.float64)
    if len(x) < frame:
        return 0.0
    energy = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, len(x) - frame + 1, hop)
    level = 10 * np.log10((energy[starts + frame] - energy[starts]) / frame + 1e-20)
    voiced = level > max(level.max() - relative_db, floor_db)
    return float(voiced.sum() * hop / sr)


def check_enough_speech(signal: np.ndarray, sr: int, path: str | os.PathLike[str], min_seconds: float = 0.5) -> None:
    """Raise :class:`TooLittleSpeechError` naming ``path`` when :func:`speech_seconds` < ``min_seconds``."""
    seconds = speech_seconds(signal, sr)
    if seconds < min_seconds:
        raise TooLittleSpeechError(path, f"too little speech to recognise ({seconds:.2f} s; at least {min_seconds:g} s needed)")


def check_speech(signal: np.ndarray, sr: int, path: str | os.PathLike[str]) -> None:
    """The checks a clip's audio passes before emotion is recognised in it:
    :func:`check_not_silent`, then :func:`check_enough_speech`."""
    check_not_silent(signal, path)
    check_enough_speech(signal, sr, path)


def check_not_silent(signal: np.ndarray, path: str | os.PathLike[str], threshold_db: float = -60.0) -> None:
    """Raise :class:`SilentAudioError` naming ``path`` when the peak is below ``threshold_db`` dBFS."""
    peak = peak_dbfs(signal)
    if peak < threshold_db:
        raise SilentAudioError(path, f"silent audio (peak {peak:.1f} dBFS)")
