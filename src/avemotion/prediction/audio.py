"""Speech emotion from an audio file (or a video's audio track) with an audio bundle.

>>> model = AudioEmotionModel.load("audio")          # the shipped audio model
>>> model.predict_proba("clip.wav")                   # {"neutral": 0.02, "calm": 0.01, ...}
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from avemotion.audio.features import check_speech
from avemotion.bundles import Bundle, load_bundle
from avemotion.errors import AvemotionError
from avemotion.media.decode import load_audio
from avemotion.training.pipeline import SAMPLE_RATE, signal_features


def speech_signal(path: str | os.PathLike[str]) -> np.ndarray:
    """The 16 kHz mono audio of ``path``; media errors, SilentAudioError and
    TooLittleSpeechError (under 0.5 s of speech) name the file."""
    signal = load_audio(path, SAMPLE_RATE)
    check_speech(signal, SAMPLE_RATE, path)
    return signal


class AudioEmotionModel:
    """A loaded audio bundle: features as its recipe says, then its estimator."""

    def __init__(self, bundle: Bundle) -> None:
        if bundle.config.get("kind") != "audio":
            raise AvemotionError(f"{bundle.path}: not an audio bundle (kind {bundle.config.get('kind')!r})")
        self.bundle = bundle
        self.labels: tuple[str, ...] = bundle.labels

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "audio") -> AudioEmotionModel:
        """Load a shipped audio bundle by name or a bundle folder by path."""
        return cls(load_bundle(name_or_path))

    def features(self, signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """The recipe's feature of a mono float signal (resampled to 16 kHz first if needed)."""
        if sr != SAMPLE_RATE:
            import soxr

            signal = soxr.resample(signal, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)
        return signal_features(signal, self.bundle.recipe)

    def adapted(self, paths: list[str]) -> AudioEmotionModel:
        """A copy adapted, without labels, to the audio of ``paths`` (at least two usable files):
        its estimator standardises with their features' statistics (estimators with ``adapt``,
        e.g. the shipped ``layerwise`` head). Files that cannot be read are left out."""
        if not hasattr(self.bundle.estimator, "adapt"):
            raise AvemotionError(f"{self.bundle.path}: this audio model cannot adapt (its estimator has no adapt)")
        rows = []
        for path in paths:
            try:
                rows.append(self.features(speech_signal(path)))
            except AvemotionError:
                continue
        if len(rows) < 2:
            raise AvemotionError(f"adaptation needs at least two readable audio files, got {len(rows)}")
        bundle = Bundle(self.bundle.path, self.bundle.config, self.bundle.estimator.adapt(np.stack(rows)))
        return AudioEmotionModel(bundle)

    def proba_of_signal(self, signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """(n_labels,) probabilities for one signal, in :attr:`labels` order."""
        return self.bundle.predict_proba(self.features(signal, sr)[None])[0]

    def predict_proba(self, path: str | os.PathLike[str]) -> dict[str, float]:
        """Emotion -> probability for the audio of ``path``. Raises the media errors of
        :mod:`avemotion.errors` (missing, corrupt, no audio track, silent...) naming the file."""
        return dict(zip(self.labels, map(float, self.proba_of_signal(speech_signal(path)))))

    def embed(self, path: str | os.PathLike[str]) -> np.ndarray:
        """The estimator's penultimate embedding of the audio of ``path``, (D,) float32."""
        return np.asarray(self.bundle.estimator.embed(self.features(speech_signal(path))[None]), dtype=np.float32)[0]

    def predict(self, path: str | os.PathLike[str]) -> str:
        """The most probable emotion for the audio of ``path``."""
        proba = self.predict_proba(path)
        return max(proba, key=proba.__getitem__)

    def describe(self) -> dict[str, Any]:
        """Name, recipe model and features, labels and training data of the bundle."""
        c = self.bundle.config
        return {
            "name": c["name"],
            "path": str(self.bundle.path),
            "model": c["recipe"]["model"]["name"],
            "features": c["recipe"]["features"]["extractor"],
            "labels": list(self.labels),
            "trained_on": c["trained_on"],
        }
