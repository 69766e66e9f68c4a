"""Loading still images: image files and rows of a pixel CSV (``"<csv path>#<row>"``).

FER2013's ``fer2013.csv`` stores each face as a ``pixels`` string of space-separated gray
values; the clip table refers to row ``i`` (0-based, data rows only) as ``"<csv path>#i"``.
A parsed CSV is cached per path (and modification time), so loading its images one by one
parses it once.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from avemotion.errors import CorpusLayoutError, CorruptMediaError, MediaNotFoundError

#: Separates a CSV path from a row number in an image reference.
ROW_SEPARATOR = "#"


def split_ref(ref: str | os.PathLike[str]) -> tuple[Path, int | None]:
    """``(path, row)`` of an image reference; ``row`` is ``None`` for an image file."""
    text = os.fspath(ref)
    path, sep, row = text.rpartition(ROW_SEPARATOR)
    if sep and row.isdigit() and path.lower().endswith(".csv"):
        return Path(path), int(row)
    return Path(text), None


def csv_ref(csv: str | os.PathLike[str], row: int) -> str:
    """The reference of row ``row`` of a pixel CSV."""
    return f"{os.fspath(csv)}{ROW_SEPARATOR}{row}"


def load_image(ref: str | os.PathLike[str]) -> np.ndarray:
    """The image as uint8: ``(H, W)`` for gray files and CSV rows, ``(H, W, 3)`` RGB for colour."""
    path, row = split_ref(ref)
    if not path.is_file():
        raise MediaNotFoundError(path, "image file not found")
    if row is None:
        return _read_image_file(path)
    pixels = _csv_pixels(str(path.resolve()), path.stat().st_mtime_ns)
    if row >= len(pixels):
        raise CorpusLayoutError(path, f"has no row {row} (it has {len(pixels)})")
    return pixels[row]


def _read_image_file(path: Path) -> np.ndarray:
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise CorruptMediaError(path, "cannot be decoded as an image")
    if image.dtype == np.uint16:
        image = np.right_shift(image, 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise CorruptMediaError(path, f"unsupported image sample type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(image, code)
    return image


@lru_cache(maxsize=2)
def _csv_pixels(path: str, mtime_ns: int) -> np.ndarray:
    """All images of a pixel CSV as one ``(N, H, W)`` uint8 array (``mtime_ns`` keys the cache)."""
    try:
        table = pd.read_csv(path, usecols=lambda c: c.strip() == "pixels", dtype=str)
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise CorpusLayoutError(path, f"cannot be read as a pixel CSV: {error}") from error
    if table.shape[1] != 1:
        raise CorpusLayoutError(path, "has no 'pixels' column")
    strings = table.iloc[:, 0].fillna("").tolist()
    if not strings:
        raise CorpusLayoutError(path, "has no rows")
    side = math.isqrt(len(strings[0].split()))
    images = np.empty((len(strings), side, side), dtype=np.uint8)
    for i, text in enumerate(strings):
        try:
            values = np.array(text.split(), dtype=np.int64)
        except ValueError:
            raise CorpusLayoutError(path, f"row {i}: pixels are not integers") from None
        if side == 0 or values.size != side * side or values.min() < 0 or values.max() > 255:
            raise CorpusLayoutError(path, f"row {i}: expected {side}x{side} pixel values 0..255")
        images[i] = values.reshape(side, side)
    return images
