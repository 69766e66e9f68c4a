"""Read the variables of a CTranslate2 ``model.bin`` into float32 NumPy arrays.

CTranslate2 stores a model as one binary file (format versions 5 and 6): a header (version,
spec name, revision), then each variable as name, shape, data type and raw little-endian
bytes, then aliases (one variable stored under two names). Weights quantised to ``int8`` come
with a per-row ``<name>_scale`` variable and are dequantised as ``int8 / scale``; ``float16``
and ``bfloat16`` are widened to ``float32``. Only NumPy is used, so the same file gives the
same float32 arrays on every CPU.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from avemotion.errors import AvemotionError

__all__ = ["CT2FormatError", "read_variables"]

_SUPPORTED_VERSIONS = (5, 6)
# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_NUMPY = {"float32": "<f4", "int8": "i1", "int16": "<i2", "int32": "<i4", "float16": "<f2", "bfloat16": "<u2"}


class CT2FormatError(AvemotionError):
    """A file is not a CTranslate2 model.bin this reader understands."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")


class _Reader:
    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.offset = path, data, 0

    def unpack(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise CT2FormatError(self.path, "truncated CTranslate2 model file")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return int(value)

    def string(self) -> str:
        n = self.unpack("<H")
        text = self.data[self.offset : self.offset + n - 1].decode("utf-8")
        self.offset += n
        return text

    def raw(self, n: int) -> memoryview:
        if self.offset + n > len(self.data):
            raise CT2FormatError(self.path, "truncated CTranslate2 model file")
        view = memoryview(self.data)[self.offset : self.offset + n]
        self.offset += n
        return view


def _widen(raw: memoryview, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    array = np.frombuffer(raw, dtype=_NUMPY[dtype]).reshape(shape)
    if dtype == "bfloat16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array


def read_variables(
    path: str | os.PathLike[str], prefix: str = "", *, sha256: str | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """Every variable of the CTranslate2 model file ``path`` whose name starts with ``prefix``.

    Returns ``({name: array}, sha256)``: floating-point and int8-quantised weights as float32
    (int8 dequantised with their ``_scale``), integer scalars as stored, and the file's SHA-256
    (hex). With ``sha256`` given, a file with another digest is refused. Raises
    :class:`CT2FormatError` for a file that cannot be read, has the wrong digest, is truncated
    or has an unknown format version.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CT2FormatError(path, f"cannot read ({error.strerror or error})") from None
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise CT2FormatError(path, f"SHA-256 {digest[:12]}... is not the expected {sha256[:12]}... (damaged or replaced file)")
    reader = _Reader(path, data)
    version = reader.unpack("<I")
    if version not in _SUPPORTED_VERSIONS:
        raise CT2FormatError(path, f"CTranslate2 model format version {version} is not supported (5 or 6 are)")
    reader.string()
    reader.unpack("<I")
    stored: dict[str, tuple[str, np.ndarray]] = {}
    for _ in range(reader.unpack("<I")):
        name = reader.string()
        shape = tuple(reader.unpack("<I") for _ in range(reader.unpack("<B")))
        type_id = reader.unpack("<B")
        raw = reader.raw(reader.unpack("<I"))
        if type_id >= len(_DTYPES):
            raise CT2FormatError(path, f"unknown data type {type_id} for variable {name}")
        if name.startswith(prefix):
            stored[name] = (_DTYPES[type_id], _widen(raw, _DTYPES[type_id], shape))
    for _ in range(reader.unpack("<I")):
        alias, target = reader.string(), reader.string()
        if alias.startswith(prefix) and target in stored:
            stored[alias] = stored[target]
    out: dict[str, np.ndarray] = {}
    for name, (dtype, array) in stored.items():
        if name.endswith("_scale") and name[: -len("_scale")] in stored:
            continue
        if dtype == "int8" and f"{name}_scale" in stored:
            scale = stored[f"{name}_scale"][1].astype(np.float32)
            out[name] = (array.astype(np.float32) / scale.reshape(-1, *([1] * (array.ndim - 1)))).astype(np.float32)
        elif dtype in ("float32", "float16", "bfloat16"):
            out[name] = array.astype(np.float32)
        else:
            out[name] = array.copy()
    return out, digest
