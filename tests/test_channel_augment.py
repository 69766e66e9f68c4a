"""Channel augmentation: reverberation, telephone band, mu-law codec, speed."""

from __future__ import annotations

import numpy as np
import pytest

from avemotion.audio.augment import (
    Augmenter,
    band_limit,
    change_speed,
    mu_law,
    reverberate,
)

SR = 16000


def _tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(SR * seconds)) / SR)).astype(np.float32)


def _dominant(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[spectrum.argmax()])


def test_band_limit_keeps_the_telephone_band_only() -> None:
    for freq, kept in ((100.0, False), (1000.0, True), (6000.0, False)):
        out = band_limit(_tone(freq), SR)
        ratio = np.sqrt(np.mean(out[2000:-2000] ** 2) / np.mean(_tone(freq)[2000:-2000] ** 2))
        assert (ratio > 0.9) if kept else (ratio < 0.2), (freq, ratio)


def test_reverberation_smears_in_time_and_keeps_the_level() -> None:
    click = np.zeros(SR, dtype=np.float32)
    click[100] = 1.0
    out = reverberate(click, SR, 0.5, np.random.default_rng(0))
    assert out.shape == click.shape and out.dtype == np.float32
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(click**2)), rel=1e-3)
    assert np.abs(out[2000:6000]).max() > 1e-3          # a tail after the direct sound


def test_mu_law_is_a_small_lossy_change() -> None:
    x = _tone(440.0)
    out = mu_law(x)
    assert out.dtype == np.float32 and not np.array_equal(out, x)
    assert np.max(np.abs(out - x)) < 0.02


def test_change_speed_raises_the_pitch_and_keeps_the_length() -> None:
    out = change_speed(_tone(500.0), SR, 1.2)
    assert out.shape == (SR,)
    assert _dominant(out[: int(SR / 1.2) - 100]) == pytest.approx(600.0, abs=5)


def test_augmenter_with_channel_effects_is_seeded_and_keeps_length() -> None:
    augmenter = Augmenter(p_speed=1.0, p_reverb=1.0, p_telephone=1.0, p_codec=1.0, p_noise=1.0)
    x = np.random.default_rng(1).standard_normal(SR).astype(np.float32) * 0.1
    a = augmenter(x, SR, np.random.default_rng(7))
    b = augmenter(x, SR, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    with pytest.raises(ValueError, match="probabilities"):
        Augmenter(p_reverb=1.5)


def test_chains_without_channel_effects_are_unchanged() -> None:
    """Adding channel effects must not change what older recipes' chains produce."""
    x = np.random.default_rng(2).standard_normal(SR).astype(np.float32) * 0.1
    rng = np.random.default_rng(3)
    out = Augmenter(p_pitch=0.0, p_gain=1.0, p_noise=1.0)(x, SR, rng)
    rng = np.random.default_rng(3)
    apply = rng.random(4)
    assert apply.shape == (4,)
    _, _, gain, snr = [rng.uniform(lo, hi) for lo, hi in ((0.9, 1.1), (-2.0, 2.0), (-6.0, 6.0), (15.0, 30.0))]
    scaled = x * 10 ** (gain / 20)
    noise = rng.standard_normal(len(x))
    expected = scaled + noise * np.sqrt(np.mean(scaled**2) / 10 ** (snr / 10) / np.mean(noise**2))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
