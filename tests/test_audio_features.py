"""The audio feature layer: pure features, augmentation, and cached extraction from files.

Pure functions are tested on synthetic signals whose answer is known; behaviour that is about
media (real speech, decoding, the cache, bad files) on real RAVDESS clips from ../shared.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from avemotion.audio import augment, features
from avemotion.audio import extract as extract_module
from avemotion.audio.extract import (
    EXTRACTORS,
    extract,
    extract_all,
    extract_many,
    extractor_params,
)
from avemotion.cache import FeatureCache
from avemotion.errors import CorruptMediaError, MediaNotFoundError, SilentAudioError
from avemotion.media.decode import load_audio

SR = 16000
HOP = 372  # 512/22050 s at 16 kHz


def sine(freq: float, seconds: float = 1.0, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    clean64 = clean.astype(np.float64)
    return float(10 * np.log10(np.mean(clean64**2) / np.mean((noisy.astype(np.float64) - clean64) ** 2)))


@pytest.fixture(scope="module")
def clip_path(shared_data: Path) -> Path:
    clips = sorted((shared_data / "ravdess" / "audio_speech_16k").glob("Actor_*/*.flac"))
    if not clips:
        pytest.skip("no RAVDESS speech clips under ravdess/audio_speech_16k")
    return clips[0]


@pytest.fixture(scope="module")
def clip(clip_path: Path) -> np.ndarray:
    return load_audio(clip_path, sr=SR)


# --- framing and log-mel -------------------------------------------------------------------


def test_framing_is_the_seeds_at_any_rate() -> None:
    assert features.frame_lengths(22050) == (2048, 512)
    assert features.frame_lengths(16000) == (1486, HOP)
    assert features.frame_count(SR, SR) == 1 + SR // HOP
    with pytest.raises(ValueError):
        features.frame_lengths(16000, 1e-6, 1e-6)


def test_log_mel_of_a_real_clip(clip: np.ndarray) -> None:
    assert 3.0 <= len(clip) / SR <= 4.5
    spec = features.log_mel(clip, SR)
    assert spec.dtype == np.float32
    assert spec.shape == (96, 1 + len(clip) // HOP)
    assert np.all(np.isfinite(spec))
    assert spec.max() - spec.min() <= 80.0 + 1e-3  # top_db
    # louder frames have higher dB: frame energy and mean mel level rise together
    energy = features.rms(clip, SR)[0]
    loud, quiet = np.argsort(energy)[-10:], np.argsort(energy)[:10]
    assert spec[:, loud].mean() > spec[:, quiet].mean() + 20
    assert np.corrcoef(20 * np.log10(energy + 1e-6), spec.mean(axis=0))[0, 1] > 0.9
    # +6.02 dB of gain moves every value by 6.02 dB
    np.testing.assert_allclose(features.log_mel(2 * clip, SR) - spec, 20 * np.log10(2), atol=1e-3)


def test_log_mel_puts_a_tone_in_the_right_band() -> None:
    spec = features.log_mel(sine(1000.0), SR, fmin=20.0, fmax=8000.0)
    band_centres = librosa.mel_frequencies(96 + 2, fmin=20.0, fmax=8000.0)[1:-1]
    peak = int(np.argmax(spec[:, 5:-5].mean(axis=1)))
    assert abs(band_centres[peak] - 1000.0) < 60.0


# --- segments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(1.0, 1), (1.4, 1), (1.5, 2), (2.0, 3), (3.3, 5), (4.0, 7)],
)
def test_segment_counts_whole_windows(seconds: float, expected: int) -> None:
    signal = np.random.default_rng(0).standard_normal(round(seconds * SR)).astype(np.float32)
    segments = features.segment(signal, SR)
    assert segments.shape == (expected, SR)
    for i, seg in enumerate(segments):
        np.testing.assert_array_equal(seg, signal[i * SR // 2 : i * SR // 2 + SR])


def test_segment_pads_a_short_signal_to_one_window() -> None:
    short = np.ones(100, dtype=np.float32)
    segments = features.segment(short, SR)
    assert segments.shape == (1, SR)
    assert segments[0, :100].tolist() == [1.0] * 100 and not segments[0, 100:].any()
    assert features.segment(np.zeros(0, np.float32), SR).shape == (1, SR)


def test_segment_log_mels_of_a_real_clip(clip: np.ndarray) -> None:
    mels = features.segment_log_mels(clip, SR)
    assert mels.shape == (12, 96, 32) and mels.dtype == np.float32
    assert np.all(np.isfinite(mels))
    assert abs(mels.mean()) < 1e-4 and abs(mels.std() - 1) < 1e-3
    # a 3-4 s clip has 5-7 whole segments: the last one is repeated up to 12
    n_real = len(features.segment(clip, SR))
    assert 5 <= n_real <= 7
    for repeated in mels[n_real:]:
        np.testing.assert_array_equal(repeated, mels[n_real - 1])
    assert not np.array_equal(mels[0], mels[1])
    per_segment = features.segment_log_mels(clip, SR, per_segment=True)
    np.testing.assert_allclose(per_segment.mean(axis=(1, 2)), 0, atol=1e-4)
    minmax = features.segment_log_mels(clip, SR, norm="minmax")
    assert minmax.min() == 0.0 and minmax.max() == 1.0
    raw = features.segment_log_mels(clip, SR, norm=None)
    # the 32-frame window is the centre of the segment's 44 frames
    first = features.log_mel(clip[:SR], SR)
    assert first.shape[1] == 44
    np.testing.assert_allclose(raw[0], first[:, 6:38], atol=1e-4)


def test_segment_log_mels_pads_short_spectrograms_with_silence() -> None:
    mels = features.segment_log_mels(sine(300.0, 0.3), SR, segment_s=0.3, segment_hop_s=0.15, n_frames=32, norm=None)
    assert mels.shape == (12, 96, 32)
    assert np.all(mels[:, :, 0] == mels.min()) and np.all(mels[:, :, -1] == mels.min())


# --- fixed count (seed 003) ------------------------------------------------------------------


def test_fixed_count_keeps_exactly_n() -> None:
    np.testing.assert_array_equal(features.fixed_count(np.arange(12)), np.arange(12))


@pytest.mark.parametrize(
    ("count", "kept"),
    [
        (13, range(0, 12)),  # 13 is odd: the last goes
        (14, range(1, 13)),  # 14 even: the first, then 13: the last
        (15, range(1, 13)),  # last, first, last
        (16, range(2, 14)),  # first, last, first, last
    ],
)
def test_fixed_count_drops_first_and_last_alternately_as_the_seed(count: int, kept: range) -> None:
    np.testing.assert_array_equal(features.fixed_count(np.arange(count)), np.array(kept))


def test_fixed_count_parity_rule_for_odd_n() -> None:
    np.testing.assert_array_equal(features.fixed_count(np.arange(4), 3), [1, 2, 3])
    np.testing.assert_array_equal(features.fixed_count(np.arange(5), 3), [1, 2, 3])


def test_fixed_count_repeats_the_last_when_short() -> None:
    np.testing.assert_array_equal(features.fixed_count(np.arange(5)), [0, 1, 2, 3, 4] + [4] * 7)
    np.testing.assert_array_equal(features.fixed_count([7]), [7] * 12)


def test_fixed_count_works_on_frames_and_lists() -> None:
    frames = np.random.default_rng(0).integers(0, 255, (14, 4, 5, 3), dtype=np.uint8)
    kept = features.fixed_count(frames)
    assert kept.shape == (12, 4, 5, 3) and kept.dtype == np.uint8
    np.testing.assert_array_equal(kept, frames[1:13])
    assert features.fixed_count(["a", "b"], 3).tolist() == ["a", "b", "b"]


def test_fixed_count_rejects_nothing_and_bad_n() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        features.fixed_count([])
    with pytest.raises(ValueError, match="at least one item"):
        features.fixed_count(np.zeros((0, 96, 32)))
    with pytest.raises(ValueError, match="n must be"):
        features.fixed_count([1, 2], 0)


# --- normalisation ---------------------------------------------------------------------------


def test_normalize_methods() -> None:
    spec = np.random.default_rng(0).normal(-40, 12, (96, 50)).astype(np.float32)
    standard = features.normalize(spec)
    assert abs(standard.mean()) < 1e-5 and abs(standard.std() - 1) < 1e-4
    minmax = features.normalize(spec, "minmax")
    assert minmax.min() == 0.0 and minmax.max() == 1.0
    np.testing.assert_allclose(features.normalize(spec, axis=1).mean(axis=1), 0, atol=1e-5)
    assert not features.normalize(np.full((4, 4), -80.0), "minmax").any()
    assert not features.normalize(np.full((4, 4), -80.0)).any()
    with pytest.raises(ValueError, match="unknown normalisation"):
        features.normalize(spec, "zscore")  # type: ignore[arg-type]


# --- frame-wise descriptors --------------------------------------------------------------------


def test_frame_features_share_one_framing() -> None:
    signal = sine(220.0, 1.3)
    frames = 1 + len(signal) // HOP
    assert features.mfcc(signal, SR).shape == (120, frames)
    assert features.mfcc(signal, SR, n_mfcc=13, deltas=1).shape == (26, frames)
    assert features.chroma(signal, SR).shape == (12, frames)
    assert features.zero_crossing_rate(signal, SR).shape == (1, frames)
    assert features.rms(signal, SR).shape == (1, frames)
    assert features.mel_power(signal, SR).shape == (128, frames)


def test_mfcc_deltas_vanish_on_a_steady_tone() -> None:
    coefficients = features.mfcc(sine(440.0, 2.0), SR)[:, 10:-10]
    base, deltas = coefficients[:40], coefficients[40:]
    assert np.abs(deltas).max() < 0.05 * np.abs(base).max()
    louder = features.mfcc(sine(440.0, 2.0, amplitude=1.0), SR)[0, 10:-10]
    assert np.all(louder > base[0])  # c0 follows the log energy


@pytest.mark.parametrize(("freq", "pitch_class"), [(440.0, 9), (261.63, 0), (392.0, 7)])
def test_chroma_peaks_at_the_pitch_class(freq: float, pitch_class: int) -> None:
    assert int(np.argmax(features.chroma(sine(freq), SR, tuning=0.0).mean(axis=1))) == pitch_class


def test_zero_crossing_rate_follows_frequency() -> None:
    low = features.zero_crossing_rate(sine(200.0), SR)[0, 5:-5]
    high = features.zero_crossing_rate(sine(3000.0), SR)[0, 5:-5]
    assert high.mean() > 5 * low.mean()
    assert abs(high.mean() - 2 * 3000 / SR) < 0.01


def test_rms_tracks_amplitude() -> None:
    signal = np.concatenate([sine(300.0, 1.0, 0.1), sine(300.0, 1.0, 0.8)])
    level = features.rms(signal, SR)[0]
    quiet, loud = level[5:35], level[-35:-5]
    np.testing.assert_allclose(quiet, 0.1 / np.sqrt(2), rtol=0.02)
    np.testing.assert_allclose(loud, 0.8 / np.sqrt(2), rtol=0.02)


def test_functionals_are_mean_then_std() -> None:
    frames = np.array([[1.0, 3.0], [2.0, 2.0]])
    np.testing.assert_allclose(features.functionals(frames), [2.0, 2.0, 1.0, 0.0])
    with pytest.raises(ValueError):
        features.functionals(np.zeros((3, 0)))


def test_seed_recipes_of_a_real_clip(clip: np.ndarray) -> None:
    frames = 1 + len(clip) // HOP
    vector = features.seed001_vector(clip, SR)
    assert vector.shape == (180,) and np.all(np.isfinite(vector))
    np.testing.assert_allclose(vector[:40], features.mfcc(clip, SR, deltas=0).mean(axis=1), rtol=1e-5)
    assert np.all((vector[40:52] >= 0) & (vector[40:52] <= 1))
    frame_features = features.seed002_frames(clip, SR)
    assert frame_features.shape == (22, frames)
    np.testing.assert_array_equal(frame_features[1], features.rms(clip, SR)[0])
    sequence = features.mfcc_sequence(clip, SR)
    assert sequence.shape == (282, 20)
    np.testing.assert_array_equal(sequence[:frames], features.mfcc(clip, SR, n_mfcc=20, deltas=0).T)
    assert not sequence[frames:].any()
    assert features.mfcc_sequence(clip, SR, n_mfcc=13, max_frames=10).shape == (10, 13)


# --- silence -------------------------------------------------------------------------------


def test_check_not_silent(clip: np.ndarray) -> None:
    features.check_not_silent(clip, "clip.flac")
    with pytest.raises(SilentAudioError, match=r"x\.wav: silent audio \(peak -inf dBFS\)"):
        features.check_not_silent(np.zeros(SR, np.float32), "x.wav")
    with pytest.raises(SilentAudioError, match=r"peak -70\.0 dBFS"):
        features.check_not_silent(np.full(SR, 10 ** (-70 / 20), np.float32), "hum.wav")
    assert features.peak_dbfs(np.zeros(0)) == -np.inf


# --- augmentation ----------------------------------------------------------------------------


def test_waveform_augmentations_keep_length_and_dtype(clip: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    outputs = [
        augment.add_noise(clip, 20.0, rng),
        augment.pitch_shift(clip, SR, 2.0),
        augment.noise_and_pitch(clip, SR, rng, n_steps=-1.5, snr_db=15.0),
        augment.time_stretch(clip, SR, 1.25),
        augment.time_stretch(clip, SR, 0.8),
        augment.random_gain(clip, rng),
    ]
    for out in outputs:
        assert out.shape == clip.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert abs(len(augment.time_stretch(clip, SR, 1.25, keep_length=False)) - len(clip) / 1.25) < 0.01 * len(clip)


@pytest.mark.parametrize("target", [0.0, 10.0, 20.0, 35.0])
def test_add_noise_reaches_the_snr(clip: np.ndarray, target: float) -> None:
    noisy = augment.add_noise(clip, target, np.random.default_rng(1))
    assert abs(snr_db(clip, noisy) - target) < 0.5


def test_pitch_shift_moves_a_tone_by_semitones() -> None:
    shifted = augment.pitch_shift(sine(440.0), SR, 12.0)
    spectrum = np.abs(np.fft.rfft(shifted[2000:-2000]))
    peak_hz = np.argmax(spectrum) * SR / len(shifted[2000:-2000])
    assert abs(peak_hz - 880.0) < 10.0


def test_random_gain_stays_in_range() -> None:
    signal = sine(300.0)
    for seed in range(5):
        out = augment.random_gain(signal, np.random.default_rng(seed), -3.0, 6.0)
        gain = 20 * np.log10(np.abs(out).max() / np.abs(signal).max())
        assert -3.0 - 1e-3 <= gain <= 6.0 + 1e-3


def test_augmenter_is_deterministic_for_a_seed(clip: np.ndarray) -> None:
    augmenter = augment.Augmenter(p_stretch=1.0, p_pitch=1.0, p_gain=1.0, p_noise=1.0)
    first = augmenter(clip, SR, np.random.default_rng(7))
    again = augmenter(clip, SR, np.random.default_rng(7))
    other = augmenter(clip, SR, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert first.shape == clip.shape and not np.allclose(first, other)
    untouched = augment.Augmenter(p_pitch=0.0, p_gain=0.0, p_noise=0.0)(clip, SR, np.random.default_rng(0))
    np.testing.assert_array_equal(untouched, clip)
    assert untouched is not clip
    with pytest.raises(ValueError):
        augment.Augmenter(p_noise=1.5)
    with pytest.raises(ValueError):
        augment.Augmenter(gain_db=(6.0, -6.0))


def _runs(mask: np.ndarray) -> list[int]:
    """Widths of the runs of True in a 1-D boolean mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))


def test_spec_augment_masks_the_requested_bands() -> None:
    spec = np.random.default_rng(0).normal(0, 1, (96, 32)).astype(np.float32)
    widths = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        out = augment.spec_augment(spec, rng, n_time_masks=0, n_freq_masks=1, max_freq=10, fill=-9.0)
        rows = np.all(out == -9.0, axis=1)
        assert not np.all(out == -9.0, axis=0).any()  # no time mask asked
        np.testing.assert_array_equal(out[~rows], spec[~rows])
        runs = _runs(rows)
        assert len(runs) <= 1 and all(w <= 10 for w in runs)
        widths += runs
    assert max(widths) > 0
    out = augment.spec_augment(spec, np.random.default_rng(3), n_time_masks=2, max_time=5, n_freq_masks=0, max_freq=0)
    columns = np.all(out == spec.mean(), axis=0)
    assert columns.sum() <= 10 and all(w <= 10 for w in _runs(columns))
    np.testing.assert_array_equal(out[:, ~columns], spec[:, ~columns])
    stack = np.stack([spec] * 12)
    masked = augment.spec_augment(stack, np.random.default_rng(5), max_time=6, max_freq=6)
    assert masked.shape == stack.shape
    for seg in masked[1:]:
        np.testing.assert_array_equal(seg, masked[0])
    np.testing.assert_array_equal(masked, augment.spec_augment(stack, np.random.default_rng(5), max_time=6, max_freq=6))


# --- extraction from files ---------------------------------------------------------------------


def write_wav(path: Path, signal: np.ndarray) -> Path:
    sf.write(path, signal, SR, subtype="PCM_16")
    return path


def test_extract_computes_once_then_hits_the_cache(clip_path: Path, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    first = extract(clip_path, "logmel_segments", cache=cache)
    assert first.shape == (12, 96, 32) and first.dtype == np.float32
    assert (cache.hits, cache.misses) == (0, 1)
    second = extract(clip_path, "logmel_segments", cache=cache)
    assert (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, features.segment_log_mels(load_audio(clip_path), SR), atol=1e-6)
    changed = extract(clip_path, "logmel_segments", cache=cache, n_mels=64)
    assert changed.shape == (12, 64, 32) and cache.misses == 2


def test_extract_all_decodes_once_for_several_features(
    clip_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def counting_load_audio(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(args)
        return load_audio(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(extract_module, "load_audio", counting_load_audio)
    cache = FeatureCache(tmp_path / "c")
    frames, vector = extract_all(clip_path, [("seed002", {}), ("seed001", {})], cache=cache)
    assert len(calls) == 1 and cache.misses == 2
    np.testing.assert_array_equal(frames, extract(clip_path, "seed002", cache=cache))
    assert vector.shape == (180,) and len(calls) == 1


def test_extract_uses_the_default_cache(clip_path: Path) -> None:
    extract(clip_path, "seed001")
    assert FeatureCache().stats().entries == 1


def test_extractor_params_are_complete_and_checked() -> None:
    params = extractor_params("logmel_segments", n_mels=64)
    assert params["n_mels"] == 64 and params["fmin"] == 20.0 and params["n_segments"] == 12
    assert params["sr"] == 16000 and params["version"]
    for name in EXTRACTORS:
        assert {"sr", "version"} <= set(extractor_params(name))
    with pytest.raises(ValueError, match="unknown parameter"):
        extractor_params("mfcc", n_mel=64)
    with pytest.raises(ValueError, match="unknown audio extractor"):
        extractor_params("spectral_flux")


def test_extract_rejects_silent_audio(tmp_path: Path) -> None:
    silent = write_wav(tmp_path / "silent.wav", np.zeros(2 * SR, np.float32))
    with pytest.raises(SilentAudioError, match=r"silent\.wav: silent audio"):
        extract(silent, "mfcc", cache=FeatureCache(tmp_path / "cache"))


def test_extract_many_goes_on_past_bad_files(clip_path: Path, tmp_path: Path) -> None:
    good = write_wav(tmp_path / "tone.wav", sine(440.0, 2.0))
    corrupt = write_wav(tmp_path / "corrupt.wav", sine(440.0, 2.0))
    corrupt.write_bytes(corrupt.read_bytes()[: corrupt.stat().st_size // 2])
    silent = write_wav(tmp_path / "silent.wav", np.zeros(SR, np.float32))
    missing = tmp_path / "missing.wav"
    paths = [clip_path, corrupt, missing, good, silent]
    cache = FeatureCache(tmp_path / "cache")
    done, failures = extract_many(paths, "seed002", cache=cache)
    assert list(done) == [clip_path, good]
    assert done[good].shape == (22, 1 + 2 * SR // HOP)
    assert [path for path, _ in failures] == [corrupt, missing, silent]
    assert all(str(path) in message for path, message in failures)
    assert "silent audio" in failures[2][1]
    with pytest.raises(CorruptMediaError):
        extract(corrupt, "seed002", cache=cache)
    with pytest.raises(MediaNotFoundError):
        extract(missing, "seed002", cache=cache)
    with pytest.raises(ValueError, match="unknown parameter"):
        extract_many(paths, "seed002", cache=cache, n_mels=3)


def test_opensmile_functionals(clip_path: Path, tmp_path: Path) -> None:
    pytest.importorskip("opensmile")
    cache = FeatureCache(tmp_path / "cache")
    egemaps = extract(clip_path, "egemaps", cache=cache)
    assert egemaps.shape == (88,) and np.all(np.isfinite(egemaps))
    compare = extract(clip_path, "compare", cache=cache)
    assert compare.shape == (6373,) and np.all(np.isfinite(compare))
    with pytest.raises(ValueError, match="unknown openSMILE feature set"):
        features.opensmile_functionals(sine(200.0), SR, "GeMAPSv99")
