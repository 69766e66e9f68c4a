"""Signal levels: frame energies, the active speech level, level normalisation, speech frames.

Pure NumPy functions of a mono float signal (full scale 1.0). Corpora are recorded at very
different levels (RAVDESS's speech peaks at about -35 dBFS in 20 ms frames, TESS's at -27,
TurEV-DB's at -22), and a Whisper encoder sees the absolute level (its log-mel is floored and
scaled, not normalised), so a model trained on some corpora can read the recording level of
another as an emotion. :func:`normalise_level` brings every clip's active speech level to the
same value; :func:`speech_frames` marks the frames that carry speech, so that statistics over
time are not dominated by the silence around it (45 % of a RAVDESS clip, a few % of TESS's).
"""

from __future__ import annotations

import numpy as np

__all__ = ["active_level_db", "frame_levels_db", "normalise_level", "speech_frames"]

#: Levels below this (dBFS) count as digital silence.
FLOOR_DB = -100.0


def frame_levels_db(signal: np.ndarray, frame: int) -> np.ndarray:
    """(ceil(N / frame),) RMS level in dBFS of consecutive ``frame``-sample frames (the last one
    zero-padded), floored at :data:`FLOOR_DB`."""
    x = np.asarray(signal, dtype=np.float64).reshape(-1)
    n = -(-len(x) // frame) if len(x) else 0
    x = np.pad(x, (0, n * frame - len(x)))
    power = np.mean(x.reshape(n, frame) ** 2, axis=1) if n else np.zeros(0)
    return np.maximum(10 * np.log10(power + 1e-20), FLOOR_DB)


def active_level_db(signal: np.ndarray, sr: int, *, percentile: float = 95.0) -> float:
    """The active speech level of a clip in dBFS: the ``percentile`` of its 20 ms frame levels
    (robust to a few clicks, insensitive to how much silence surrounds the speech)."""
    levels = frame_levels_db(signal, max(1, int(round(0.02 * sr))))
    return float(np.percentile(levels, percentile)) if len(levels) else FLOOR_DB


def normalise_level(signal: np.ndarray, sr: int, target_db: float) -> np.ndarray:
    """``signal`` scaled so that its :func:`active_level_db` is ``target_db`` dBFS (float32;
    digital silence is returned unchanged)."""
    x = np.asarray(signal, dtype=np.float32)
    level = active_level_db(x, sr)
    if level <= FLOOR_DB:
        return x
    return (x * np.float32(10 ** ((target_db - level) / 20))).astype(np.float32)


def speech_frames(signal: np.ndarray, frame: int, n_frames: int, *, relative_db: float = 30.0, dilate: int = 2) -> np.ndarray:
    """(n_frames,) bool: the ``frame``-sample frames within ``relative_db`` dB of the clip's
    loudest frame, widened by ``dilate`` frames on each side (onsets and decays). Frames past
    the signal's end are silent; at least the loudest frame is always marked."""
    levels = frame_levels_db(np.asarray(signal).reshape(-1)[: n_frames * frame], frame)
    levels = np.pad(levels, (0, max(0, n_frames - len(levels))), constant_values=FLOOR_DB)[:n_frames]
    if not len(levels):
        return np.zeros(0, dtype=bool)
    loud = levels >= levels.max() - relative_db
    if dilate:
        loud = np.convolve(loud.astype(np.float64), np.ones(2 * dilate + 1), mode="same") > 0.5
    return loud
