"""Picking a fixed number of items from a sequence (audio segments, video keyframes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def fixed_count(items: Sequence[Any] | np.ndarray, n: int = 12) -> np.ndarray:
    """Exactly ``n`` items along axis 0 (audio segments, video keyframes...), by seed 003's rule.

    Seed 003 (``extract_12_frames_audio`` / ``extract_12_frames_video``): while there are more
    than ``n``, drop the first item when the count is even and the last when it is odd (for
    n = 12: 13 items lose the last one, 14 the first then the last, 15 the last, the first and
    the last). With fewer than ``n``, the last item is repeated. Returns a new array.
    """
    array = np.asarray(items)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if array.ndim == 0 or len(array) == 0:
        raise ValueError("fixed_count needs at least one item, got none")
    start, stop = 0, len(array)
    while stop - start > n:
        if (stop - start) % 2 == 0:
            start += 1
        else:
            stop -= 1
    kept = array[start:stop]
    return np.concatenate([kept, np.repeat(kept[-1:], n - len(kept), axis=0)])
