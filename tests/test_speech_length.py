"""How much speech a clip holds: quiet speech counts, short words and silence do not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avemotion.audio.features import check_enough_speech, speech_seconds
from avemotion.errors import TooLittleSpeechError
from avemotion.media.decode import load_audio

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"


def test_quiet_speech_is_still_speech() -> None:
    speech = load_audio(SAMPLE, sr=16000)
    loud = speech_seconds(speech, 16000)
    quiet = speech / np.abs(speech).max() * 10 ** (-45 / 20)     # peak at -45 dBFS
    assert loud > 1.0
    assert speech_seconds(quiet, 16000) > 0.75 * loud          # the -75 dBFS floor trims only the faintest tails


def test_a_short_word_in_silence_is_too_little_speech() -> None:
    speech = load_audio(SAMPLE, sr=16000)
    clip = np.zeros(2 * 16000, dtype=np.float32)
    clip[8000:12800] = speech[16000:20800]                       # 0.3 s of speech
    assert speech_seconds(clip, 16000) < 0.5
    with pytest.raises(TooLittleSpeechError, match=r"word\.wav: too little speech to recognise \(0\.\d\d s; at least 0\.5 s needed\)"):
        check_enough_speech(clip, 16000, "word.wav")
    assert speech_seconds(np.zeros(100, dtype=np.float32), 16000) == 0.0
