"""Keyframes of a video: evenly spaced (the default), every k-th frame (seed 004), fixed count (seed 003).

Times are in seconds; images are RGB uint8 of shape (N, H, W, 3), as :class:`~avemotion.media.decode.Frames`.
"""

from __future__ import annotations

import os

import numpy as np

from avemotion.core.sampling import fixed_count
from avemotion.media.decode import Frames, evenly_spaced_times, iter_frames, load_frames

__all__ = ["fixed_keyframes", "keyframe_times", "load_keyframes", "strided_frames"]

PathLike = str | os.PathLike[str]
Size = tuple[int, int]


def keyframe_times(duration: float, n: int) -> np.ndarray:
    """``n`` evenly spaced times (s) over ``duration`` s: the centres of ``n`` equal intervals, shape (n,)."""
    return evenly_spaced_times(duration, n)


def load_keyframes(path: PathLike, n: int = 12, size: Size | None = None) -> Frames:
    """``n`` evenly spaced frames of the video at ``path``; ``size`` = (height, width) in pixels scales them."""
    return load_frames(path, n=n, size=size)


def strided_frames(path: PathLike, *, every: int = 10, size: Size | None = None) -> Frames:
    """Every ``every``-th decoded frame, starting with the first (seed 004 keeps one frame in ten)."""
    times, images = zip(*iter_frames(path, every=every, size=size), strict=True)
    return Frames(np.stack(images), np.asarray(times, dtype=np.float64))


def fixed_keyframes(frames: Frames, n: int = 12) -> Frames:
    """Exactly ``n`` of ``frames`` by seed 003's rule (:func:`~avemotion.audio.features.fixed_count`)."""
    return Frames(fixed_count(frames.images, n), fixed_count(frames.times, n))
