"""Audio + OpenFace action units: the ``ravdess-av-au`` bundle on new clips.

>>> rec = AudioAURecognizer.load("ravdess-av-au")
>>> rec.analyse("01-01-03-01-01-01-21.wav", au="01-01-03-01-01-01-21.csv")   # OpenFace per-frame CSV
>>> rec.analyse("clip.wav", au={"AU01_r": 0.3, ...})                          # or the 35 AU means

The AU features are OpenFace 2 FeatureExtraction outputs (AU01_r ... AU45_c), averaged over the
clip's frames where OpenFace succeeded; without them the audio branch alone answers (the
prediction says so in ``used`` / ``skipped``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from avemotion.bundles import Bundle, load_bundle
from avemotion.errors import AvemotionError, NoAudioStreamError, SilentAudioError
from avemotion.features import signal_features
from avemotion.fusion.multimodal import MultimodalClassifier
from avemotion.prediction.audio import speech_signal
from avemotion.prediction.recognizer import Prediction

AUInput = Mapping[str, float] | str | os.PathLike[str] | None


class AudioAURecognizer:
    """A loaded ``av-au`` bundle: audio features as its recipe says, AU means, then its fusion."""

    def __init__(self, bundle: Bundle) -> None:
        if bundle.config.get("kind") != "av-au" or not isinstance(bundle.estimator, MultimodalClassifier):
            raise AvemotionError(f"{bundle.path}: not an audio + AU bundle (kind {bundle.config.get('kind')!r})")
        self.bundle = bundle
        self.model: MultimodalClassifier = bundle.estimator
        self.labels: tuple[str, ...] = bundle.labels
        self.au_columns: list[str] = list(bundle.recipe["modalities"]["au"]["columns"])
        self.audio_recipe: dict[str, Any] = {"features": bundle.recipe["modalities"]["audio"]["features"]}

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "ravdess-av-au") -> AudioAURecognizer:
        return cls(load_bundle(name_or_path))

    def au_vector(self, au: AUInput) -> np.ndarray:
        """The bundle's AU columns as a (35,) vector from a mapping or an OpenFace CSV (per-frame
        FeatureExtraction output: averaged over successful frames); NaN when ``au`` is None."""
        if au is None:
            return np.full(len(self.au_columns), np.nan)
        if not isinstance(au, Mapping):
            from avemotion.corpora.openface import clip_au_means, read_openface_frames

            au = clip_au_means(read_openface_frames(au)).to_dict()
        missing = [c for c in self.au_columns if c not in au]
        if missing:
            raise AvemotionError(f"AU features lack {', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}")
        return np.array([float(au[c]) for c in self.au_columns])

    def analyse(self, path: str | os.PathLike[str], au: AUInput = None) -> Prediction:
        """Fused prediction for the audio of ``path`` and its AU features (see :meth:`au_vector`)."""
        source = os.fspath(path)
        skipped: dict[str, str] = {}
        audio_dim = dict(self.model.modalities)["audio"]
        audio = np.full(audio_dim, np.nan)
        try:
            audio = signal_features(speech_signal(source), self.audio_recipe).astype(np.float64)
        except NoAudioStreamError:
            skipped["audio"] = "no audio track"
        except SilentAudioError:
            skipped["audio"] = "silent audio"
        au_row = self.au_vector(au)
        if np.isnan(au_row).any():
            skipped["au"] = "no AU features given" if au is None else "no frame where OpenFace found a face"
        X = np.concatenate([audio, au_row])[None]
        used = self.model.modalities_used(X)[0]
        if not used:
            raise AvemotionError(f"{source}: nothing to recognise ({'; '.join(f'{k}: {v}' for k, v in skipped.items())})")
        fused = self.model.predict_proba(X)[0]
        branches = self.model.branch_proba(X)
        own = {m: {label: float(p) for label, p in zip(self.labels, branches[m][0])} for m in used}
        return Prediction.from_fused(source, self.labels, fused, own, skipped)

    def predict_proba(self, path: str | os.PathLike[str], au: AUInput = None) -> dict[str, float]:
        return self.analyse(path, au).probabilities

    def predict(self, path: str | os.PathLike[str], au: AUInput = None) -> str:
        return self.analyse(path, au).emotion
