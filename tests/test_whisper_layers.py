"""The PyTorch Whisper encoder: same output as CTranslate2, every layer, any length, checked files."""

from __future__ import annotations

import itertools
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avemotion.audio import whisper
from avemotion.audio.ct2_weights import CT2FormatError, read_variables
from avemotion.audio.extract import cache_params, compute
from avemotion.media.decode import load_audio

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample.mp4"

#: Largest |torch - CTranslate2 float32| of the last layer, relative to the largest |output|.
#: Measured 2.3e-6 (tiny) and 2.5e-5 (base) on real RAVDESS speech: float32 rounding only.
CT2_TOLERANCE = 1e-3


def _speech(shared: Path | None = None) -> np.ndarray:
    if shared is not None:
        return load_audio(shared / "ravdess/audio_speech_16k/Actor_01/03-01-05-02-01-01-01.flac", sr=16000)
    return load_audio(SAMPLE, sr=16000)


@pytest.mark.parametrize("model", ["tiny", "base"])
def test_last_layer_matches_ctranslate2_on_real_speech(model: str, shared_data: Path) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    signal = _speech(shared_data)
    states = whisper.encode_layers(signal, model=model)
    encoder = whisper.load_encoder(model)
    assert states.shape == (encoder.n_layers + 1, int(np.ceil(len(signal) / 320)), encoder.dim)
    mel = whisper.whisper_log_mel(signal)[None]
    reference = ctranslate2.models.Whisper(str(whisper.model_dir(model)), device="cpu", compute_type="float32")
    expected = np.asarray(reference.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))[0]
    assert np.abs(states[-1] - expected).max() <= CT2_TOLERANCE * np.abs(expected).max()
    # the middle layers are not the last one
    assert np.abs(states[len(states) // 2] - states[-1]).mean() > 0.1


def test_layer_statistics_are_the_mean_and_std_of_each_state() -> None:
    signal = _speech()
    states = whisper.encode_layers(signal, model="tiny")
    stats = whisper.layer_statistics(signal, model="tiny")
    assert stats.shape == (5, 768)
    np.testing.assert_allclose(stats[:, :384], states.mean(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(stats[:, 384:], states.std(axis=1), rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(compute("whisper_layers_tiny", signal), stats.reshape(-1))
    np.testing.assert_array_equal(compute("whisper_tiny", signal), stats[-1])


def test_windows_cover_every_frame_once() -> None:
    for n_frames in (2, 2998, 3000, 3002, 5500, 6000, 60_000, 60_002):
        windows = whisper._windows(n_frames)
        kept = [(a, b) for _, _, a, b in windows]
        assert kept[0][0] == 0 and kept[-1][1] == n_frames
        assert all(b0 == a1 for (_, b0), (a1, _) in itertools.pairwise(kept))
        for start, stop, keep_from, keep_to in windows:
            assert stop - start <= whisper.WINDOW_FRAMES and start <= keep_from < keep_to <= stop


def test_audio_over_30_seconds_is_encoded_in_windows() -> None:
    speech = _speech()
    signal = np.tile(speech, int(np.ceil(65 * 16000 / len(speech))))[: 65 * 16000]
    with pytest.raises(ValueError, match="up to 30 s"):
        whisper.encode_layers(signal, model="tiny")
    stats = whisper.layer_statistics(signal, model="tiny")
    assert stats.shape == (5, 768) and np.isfinite(stats).all()
    # the same as encoding each 30 s window by hand and pooling the frames each one keeps
    kept = []
    for start, stop, keep_from, keep_to in whisper._windows(len(signal) // 160):
        states = whisper.encode_layers(signal[start * 160 : stop * 160], model="tiny")
        kept.append(states[:, (keep_from - start) // 2 : (keep_to - start) // 2])
    frames = np.concatenate(kept, axis=1)
    assert frames.shape[1] == len(signal) // 320
    np.testing.assert_allclose(stats[:, :384], frames.mean(axis=1), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(stats[:, 384:], frames.std(axis=1), rtol=1e-3, atol=1e-4)


def test_same_features_when_the_cpu_is_capped_to_avx2() -> None:
    """Float32 features do not depend on the instruction set (AVX-512 vs AVX2 kernels)."""
    signal = _speech()[: 3 * 16000]
    here = whisper.layer_statistics(signal, model="tiny")
    code = (
        "import sys, numpy as np; from avemotion.audio import whisper; from avemotion.media.decode import load_audio;"
        f"s = load_audio({str(SAMPLE)!r}, sr=16000)[: 3 * 16000];"
        "sys.stdout.buffer.write(whisper.layer_statistics(s, model='tiny').astype('<f4').tobytes())"
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True).stdout
    capped = np.frombuffer(out, dtype="<f4").reshape(here.shape)
    np.testing.assert_allclose(capped, here, rtol=1e-4, atol=1e-5)


def test_installed_models_are_checked_against_their_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert whisper.load_encoder("tiny").sha256 == whisper.MODEL_SHA256["tiny"]
    good = whisper.model_dir("tiny") / "model.bin"
    damaged = tmp_path / "model.bin"
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(CT2FormatError, match="SHA-256"):
        read_variables(damaged, "encoder/", sha256=whisper.MODEL_SHA256["tiny"])
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(good.read_bytes()[:100_000])
    with pytest.raises(CT2FormatError, match="truncated"):
        read_variables(truncated, "encoder/")


def test_any_ctranslate2_model_folder_loads_through_the_same_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "my-whisper"
    folder.mkdir()
    shutil.copyfile(whisper.model_dir("tiny") / "model.bin", folder / "model.bin")
    signal = _speech()[: 2 * 16000]
    by_path = compute("whisper_layers_base", signal, model=str(folder))
    np.testing.assert_array_equal(by_path, compute("whisper_layers_tiny", signal))
    # a folder is not checked against a pinned digest, but its digest keys the cache
    assert cache_params("whisper_layers_base", model=str(folder))["model_sha256"] == whisper.MODEL_SHA256["tiny"]
    monkeypatch.setenv("AVEMOTION_WHISPER_BASE", str(folder))
    whisper.load_encoder.cache_clear()
    try:
        assert whisper.expected_sha256("base") is None
        assert whisper.load_encoder("base").n_layers == 4
        with pytest.raises(whisper.WhisperUnavailableError, match="no model.bin"):
            (folder / "model.bin").unlink()
            whisper.load_encoder.cache_clear()
            whisper.load_encoder("base")
    finally:
        whisper.load_encoder.cache_clear()


def _write_ct2(path: Path, variables: dict[str, tuple[int, np.ndarray]], aliases: dict[str, str]) -> None:
    """A model.bin in CTranslate2's format (version 6): type ids 0 float32, 1 int8, 4 float16."""

    def string(text: str) -> bytes:
        return struct.pack("<H", len(text) + 1) + text.encode() + b"\0"

    out = struct.pack("<I", 6) + string("TestSpec") + struct.pack("<I", 1) + struct.pack("<I", len(variables))
    for name, (type_id, array) in variables.items():
        out += string(name) + struct.pack("<B", array.ndim) + b"".join(struct.pack("<I", d) for d in array.shape)
        out += struct.pack("<B", type_id) + struct.pack("<I", array.nbytes) + array.tobytes()
    out += struct.pack("<I", len(aliases)) + b"".join(string(a) + string(t) for a, t in aliases.items())
    path.write_bytes(out)


def test_int8_and_float16_weights_are_widened_to_float32(tmp_path: Path) -> None:
    weight = np.array([[0.5, -1.0], [0.25, 0.125]], dtype=np.float32)
    scale = (127.0 / np.abs(weight).max(axis=1)).astype(np.float32)
    quantised = np.round(weight * scale[:, None]).astype(np.int8)
    _write_ct2(tmp_path / "model.bin", {
        "encoder/a/weight": (1, quantised),
        "encoder/a/weight_scale": (0, scale),
        "encoder/b": (4, np.array([1.5, -2.0], dtype=np.float16)),
        "decoder/c": (0, np.zeros(3, dtype=np.float32)),
    }, {"encoder/b_alias": "encoder/b"})
    variables, digest = read_variables(tmp_path / "model.bin", "encoder/")
    assert sorted(variables) == ["encoder/a/weight", "encoder/b", "encoder/b_alias"]
    np.testing.assert_allclose(variables["encoder/a/weight"], weight, atol=1e-2)
    assert variables["encoder/a/weight"].dtype == np.float32
    np.testing.assert_array_equal(variables["encoder/b_alias"], [1.5, -2.0])
    assert len(digest) == 64
