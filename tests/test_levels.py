"""Signal levels and the Whisper statistics' pooling options (speech frames only, level normalised)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avemotion.audio import levels, whisper
from avemotion.media.decode import load_audio

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"


def _speech() -> np.ndarray:
    return load_audio(SAMPLE, sr=16000)


def test_frame_levels_of_known_signals() -> None:
    full_scale_sine = np.sin(2 * np.pi * 400 * np.arange(16000) / 16000)   # 8 periods a frame
    db = levels.frame_levels_db(full_scale_sine, 320)
    assert db.shape == (50,)
    np.testing.assert_allclose(db, 20 * np.log10(1 / np.sqrt(2)), atol=1e-6)   # -3.01 dBFS
    assert levels.frame_levels_db(np.zeros(100), 320)[0] == levels.FLOOR_DB
    assert levels.frame_levels_db(np.ones(330), 320).shape == (2,)             # last frame padded


def test_normalise_level_sets_the_active_level_whatever_the_gain() -> None:
    speech = _speech()
    for gain_db in (-30.0, 0.0, 12.0):
        louder = speech * 10 ** (gain_db / 20)
        out = levels.normalise_level(louder, 16000, -20.0)
        assert abs(levels.active_level_db(out, 16000) - -20.0) < 1e-3
        np.testing.assert_allclose(out, levels.normalise_level(speech, 16000, -20.0), rtol=1e-4, atol=1e-7)
    assert not levels.normalise_level(np.zeros(1600), 16000, -20.0).any()


def test_active_level_ignores_the_silence_around_speech() -> None:
    speech = _speech()
    padded = np.concatenate([np.zeros(16000 * 3), speech, np.zeros(16000 * 3)])
    assert abs(levels.active_level_db(padded, 16000) - levels.active_level_db(speech, 16000)) < 3.0


def test_speech_frames_mark_speech_not_silence() -> None:
    speech = _speech()
    padded = np.concatenate([np.zeros(16000), speech, 1e-5 * np.ones(16000)])
    marks = levels.speech_frames(padded, 320, len(padded) // 320)
    assert not marks[:45].any() and not marks[-45:].any()                       # 1 s of silence each side
    assert marks[50:-50].mean() > 0.6                                           # most of the speech
    assert levels.speech_frames(padded, 320, len(padded) // 320 + 7)[-7:].sum() == 0   # past the end


def test_speech_pooling_is_blind_to_added_silence_and_level_to_gain() -> None:
    speech = _speech()
    padded = np.concatenate([np.zeros(16000 * 2), speech, np.zeros(16000 * 2)])
    every = [whisper.layer_statistics(x, model="tiny") for x in (speech, padded)]
    spoken = [whisper.layer_statistics(x, model="tiny", pool="speech") for x in (speech, padded)]
    # pooled over every frame, two seconds of silence each side change the statistics a lot;
    # pooled over the speech frames, less than 70 % as much (about 55 %: the encoder's context still sees the silence)
    assert np.abs(spoken[0] - spoken[1]).mean() < 0.7 * np.abs(every[0] - every[1]).mean()
    quiet = speech * 10 ** (-20 / 20)
    a = whisper.layer_statistics(speech, model="tiny", level_db=-20.0)
    b = whisper.layer_statistics(quiet, model="tiny", level_db=-20.0)
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    assert np.abs(whisper.layer_statistics(quiet, model="tiny") - whisper.layer_statistics(speech, model="tiny")).max() > 0.01
    with pytest.raises(ValueError, match="pool must be"):
        whisper.layer_statistics(speech, model="tiny", pool="voiced")


def test_speech_pooling_over_30_seconds_uses_the_windows_frames() -> None:
    speech = _speech()
    silence = np.zeros(16000 * 2, dtype=np.float32)
    signal = np.tile(np.concatenate([speech, silence]), 6)[: 40 * 16000]
    stats = whisper.layer_statistics(signal, model="tiny", pool="speech")
    assert stats.shape == (5, 768) and np.isfinite(stats).all()
    keep = levels.speech_frames(signal, 320, len(signal) // 320)
    kept = []
    for start, stop, keep_from, keep_to in whisper._windows(len(signal) // 160):
        states = whisper.encode_layers(signal[start * 160 : stop * 160], model="tiny")
        frames = states[:, (keep_from - start) // 2 : (keep_to - start) // 2]
        kept.append(frames[:, keep[keep_from // 2 : keep_to // 2]])
    frames = np.concatenate(kept, axis=1)
    assert frames.shape[1] == keep.sum() < len(keep)
    np.testing.assert_allclose(stats[:, :384], frames.mean(axis=1), rtol=1e-3, atol=1e-4)
