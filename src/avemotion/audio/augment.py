"""Seedable audio augmentation: waveform transforms and SpecAugment masks.

Every random choice comes from an explicit ``rng`` (:class:`numpy.random.Generator`), so the
same seed gives the same output. Waveforms are mono float32 of shape (n,) at ``sr`` Hz; every
transform returns float32 of the same length (samples may leave [-1, 1]: nothing is clipped).
Seed 002 trains on Gaussian noise, pitch shifting and both combined (:func:`noise_and_pitch`).
Channel effects of recordings made elsewhere: room reverberation (:func:`reverberate`),
telephone band-limiting (:func:`band_limit`), a lossy telephone codec (:func:`mu_law`, G.711's
8-bit companding) and speed changes (:func:`change_speed`).
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from avemotion.audio.features import _mono, frame_lengths

__all__ = [
    "Augmenter",
    "add_noise",
    "band_limit",
    "change_speed",
    "mu_law",
    "noise_and_pitch",
    "pitch_shift",
    "random_gain",
    "reverberate",
    "spec_augment",
    "time_stretch",
]


def add_noise(signal: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``signal`` plus white Gaussian noise at exactly ``snr_db`` dB below the signal's mean power.

    SNR = 10 log10(mean(signal^2) / mean(noise^2)) over the whole signal; the drawn noise is
    rescaled to hit it exactly. A signal of zeros comes back unchanged.
    """
    x = _mono(signal)
    noise = rng.standard_normal(len(x))
    signal_power = float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0
    noise_power = float(np.mean(np.square(noise))) if len(x) else 0.0
    if signal_power == 0.0 or noise_power == 0.0:
        return x.copy()
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (x + scale * noise).astype(np.float32)


def pitch_shift(signal: np.ndarray, sr: float, n_steps: float) -> np.ndarray:
    """The signal shifted by ``n_steps`` semitones (fractions allowed), same length and duration.

    librosa's phase-vocoder stretch then soxr resampling, with the features' 92.9 ms window.
    """
    n_fft, _ = frame_lengths(sr)
    return librosa.effects.pitch_shift(_mono(signal), sr=sr, n_steps=n_steps, n_fft=n_fft).astype(np.float32)


def noise_and_pitch(
    signal: np.ndarray, sr: float, rng: np.random.Generator, *, n_steps: float, snr_db: float
) -> np.ndarray:
    """Seed 002's combined augmentation: :func:`pitch_shift` by ``n_steps``, then :func:`add_noise` at ``snr_db``."""
    return add_noise(pitch_shift(signal, sr, n_steps), snr_db, rng)


def time_stretch(signal: np.ndarray, sr: float, rate: float, *, keep_length: bool = True) -> np.ndarray:
    """The signal played ``rate`` times faster at the same pitch (phase vocoder, 92.9 ms window).

    With ``keep_length`` (default) the result is cropped or zero-padded at the end back to the
    input length; otherwise it has about ``n / rate`` samples.
    """
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    x = _mono(signal)
    n_fft, _ = frame_lengths(sr)
    stretched = librosa.effects.time_stretch(x, rate=rate, n_fft=n_fft)
    if keep_length:
        stretched = librosa.util.fix_length(stretched, size=len(x))
    return stretched.astype(np.float32)


def random_gain(signal: np.ndarray, rng: np.random.Generator, min_db: float = -6.0, max_db: float = 6.0) -> np.ndarray:
    """The signal scaled by a gain drawn uniformly in [``min_db``, ``max_db``] dB."""
    if min_db > max_db:
        raise ValueError(f"min_db {min_db} is above max_db {max_db}")
    return _gain(signal, rng.uniform(min_db, max_db))


def reverberate(signal: np.ndarray, sr: float, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room response: a direct path plus exponentially decaying noise
    reaching -60 dB after ``rt60`` seconds (response cut at 1 s); the RMS level is kept."""
    from scipy.signal import fftconvolve

    x = _mono(signal)
    t = np.arange(int(min(rt60, 1.0) * sr)) / sr
    response = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * 0.3
    response[0] = 1.0
    wet = fftconvolve(x, response)[: len(x)]
    level = np.sqrt(np.mean(x**2) / max(np.mean(wet**2), 1e-20))
    return (wet * level).astype(np.float32)


def band_limit(signal: np.ndarray, sr: float, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """Telephone band: a 4th-order Butterworth band-pass from ``low_hz`` to ``high_hz`` (zero phase)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [low_hz, min(high_hz, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    return sosfiltfilt(sos, _mono(signal)).astype(np.float32)


def mu_law(signal: np.ndarray, bits: int = 8, mu: float = 255.0) -> np.ndarray:
    """A lossy telephone codec: mu-law companding to ``bits`` bits and back (G.711), the signal
    scaled to a full-scale peak first and back after."""
    x = _mono(signal)
    peak = float(np.max(np.abs(x))) or 1.0
    y = np.sign(x / peak) * np.log1p(mu * np.abs(x / peak)) / np.log1p(mu)
    levels = 2 ** (bits - 1)
    y = np.round(y * levels) / levels
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu * peak).astype(np.float32)


def change_speed(signal: np.ndarray, sr: float, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch together, as a tape would), then cut or
    zero-pad to the original length."""
    import soxr

    x = _mono(signal)
    fast = soxr.resample(x, sr * factor, sr).astype(np.float32)
    out = np.zeros(len(x), dtype=np.float32)
    out[: min(len(x), len(fast))] = fast[: len(x)]
    return out


def _gain(signal: np.ndarray, gain_db: float) -> np.ndarray:
    return (_mono(signal) * 10 ** (gain_db / 20)).astype(np.float32)


def _mask(length: int, n_masks: int, max_width: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean (length,) mask of ``n_masks`` bands, each of a width drawn in [0, max_width]."""
    masked = np.zeros(length, dtype=bool)
    for _ in range(n_masks):
        width = int(rng.integers(0, min(max_width, length) + 1))
        start = int(rng.integers(0, length - width + 1))
        masked[start : start + width] = True
    return masked


def spec_augment(
    spec: np.ndarray,
    rng: np.random.Generator,
    *,
    n_time_masks: int = 2,
    max_time: int = 8,
    n_freq_masks: int = 2,
    max_freq: int = 8,
    fill: float | None = None,
) -> np.ndarray:
    """SpecAugment masking (Park et al. 2019, without time warping) of a (..., n_freq, n_frames) spectrogram.

    ``n_freq_masks`` bands of whole frequency rows, each 0 to ``max_freq`` rows wide, and
    ``n_time_masks`` bands of whole frames, each 0 to ``max_time`` frames wide, are set to
    ``fill`` (default: the spectrogram's mean, 0 after standard normalisation). Leading axes
    (e.g. the 12 segments of a CRNN input) share the same masks. Returns a masked copy.
    """
    out = np.array(spec, dtype=np.float32)
    if out.ndim < 2:
        raise ValueError(f"expected a spectrogram of shape (..., n_freq, n_frames), got {out.shape}")
    value = float(out.mean()) if fill is None else fill
    out[..., _mask(out.shape[-2], n_freq_masks, max_freq, rng), :] = value
    out[..., _mask(out.shape[-1], n_time_masks, max_time, rng)] = value
    return out


@dataclass(frozen=True)
class Augmenter:
    """A random chain of waveform augmentations, each applied with its probability.

    Order: time stretch (rate in ``stretch_rate``), pitch shift (semitones in ``pitch_steps``),
    gain (dB in ``gain_db``), then the channel effects: speed (factor in ``speed_factor``),
    reverberation (RT60 in s in ``reverb_rt60``), telephone band (:func:`band_limit`), mu-law
    codec; then noise (SNR in dB in ``noise_snr_db``, last so it is measured on the final
    signal). Every value is drawn uniformly in its (low, high) range. Every draw is made
    whether or not its step applies, so one seed gives one fixed sequence of choices (the
    channel effects draw only when one of them has a probability above 0, so chains without
    them give what they gave before those existed).
    """

    p_stretch: float = 0.0
    stretch_rate: tuple[float, float] = (0.9, 1.1)
    p_pitch: float = 0.5
    pitch_steps: tuple[float, float] = (-2.0, 2.0)
    p_gain: float = 0.5
    gain_db: tuple[float, float] = (-6.0, 6.0)
    p_noise: float = 0.5
    noise_snr_db: tuple[float, float] = (15.0, 30.0)
    p_speed: float = 0.0
    speed_factor: tuple[float, float] = (0.9, 1.1)
    p_reverb: float = 0.0
    reverb_rt60: tuple[float, float] = (0.2, 0.8)
    p_telephone: float = 0.0
    p_codec: float = 0.0

    def __post_init__(self) -> None:
        for p in (self.p_stretch, self.p_pitch, self.p_gain, self.p_noise, self.p_speed, self.p_reverb,
                  self.p_telephone, self.p_codec):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"probabilities must be in [0, 1], got {p}")
        for low, high in (self.stretch_rate, self.pitch_steps, self.gain_db, self.noise_snr_db,
                          self.speed_factor, self.reverb_rt60):
            if low > high:
                raise ValueError(f"a range must be (low, high), got ({low}, {high})")
        if self.stretch_rate[0] <= 0:
            raise ValueError(f"stretch rates must be > 0, got {self.stretch_rate}")

    def __call__(self, signal: np.ndarray, sr: float, rng: np.random.Generator) -> np.ndarray:
        """An augmented copy of ``signal`` (n,), float32 of the same length."""
        apply = rng.random(4) < (self.p_stretch, self.p_pitch, self.p_gain, self.p_noise)
        ranges = (self.stretch_rate, self.pitch_steps, self.gain_db, self.noise_snr_db)
        rate, steps, gain, snr = [rng.uniform(low, high) for low, high in ranges]
        x = _mono(signal)
        if apply[0]:
            x = time_stretch(x, sr, rate)
        if apply[1]:
            x = pitch_shift(x, sr, steps)
        if apply[2]:
            x = _gain(x, gain)
        channel = (self.p_speed, self.p_reverb, self.p_telephone, self.p_codec)
        if any(channel):
            effects = rng.random(4) < channel
            factor, rt60 = rng.uniform(*self.speed_factor), rng.uniform(*self.reverb_rt60)
            if effects[0]:
                x = change_speed(x, sr, factor)
            if effects[1]:
                x = reverberate(x, sr, rt60, rng)
            if effects[2]:
                x = band_limit(x, sr)
            if effects[3]:
                x = mu_law(x)
        if apply[3]:
            x = add_noise(x, snr, rng)
        return x.copy() if x is signal else x
