"""The audio branch: speech emotion from a clip's 16 kHz mono signal.

>>> branch = AudioBranch.load("audio")                 # the shipped audio bundle
>>> branch.proba_of_signal(signal)                      # (8,) over branch.labels

Features as the bundle's recipe says (:func:`avemotion.features.signal_features`, nothing
written to the feature cache), then its estimator. A signal under -60 dBFS or with under 0.5 s
of speech is refused (SilentAudioError, TooLittleSpeechError naming the file).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from avemotion.audio.features import check_speech
from avemotion.bundles import Bundle, load_bundle
from avemotion.core.adaptation import DEFAULT_ADAPT
from avemotion.errors import AvemotionError, NoAudioStreamError
from avemotion.estimators.neural import proba_in_label_order
from avemotion.features import SAMPLE_RATE, signal_features
from avemotion.media.decode import load_audio
from avemotion.prediction.branch import Branch, BranchOutput, ClipInputs


def speech_signal(path: str | os.PathLike[str]) -> np.ndarray:
    """The 16 kHz mono audio of ``path``; media errors, SilentAudioError and
    TooLittleSpeechError (under 0.5 s of speech) name the file."""
    signal = load_audio(path, SAMPLE_RATE)
    check_speech(signal, SAMPLE_RATE, path)
    return signal


class AudioBranch(Branch):
    """Recipe features of the speech signal, then ``head`` (any estimator with ``predict_proba``
    and ``classes_``; ``embed`` when embeddings are asked for).

    ``features``: a recipe's ``features`` block; ``labels``: the output order; ``info``: what
    :meth:`describe` reports; ``bundle``: the audio bundle it comes from, if any (what
    :meth:`~avemotion.prediction.recognizer.Recognizer.save` copies). :meth:`load` builds one
    from an audio bundle.
    """

    needs = "audio"

    def __init__(
        self, features: dict[str, Any], head: Any, labels: Sequence[str], *, name: str = "audio",
        info: dict[str, Any] | None = None, bundle: Bundle | None = None,
    ) -> None:
        self.bundle = bundle
        self.recipe = {"features": features}
        self.head = head
        self.labels = tuple(labels)
        self.name = name
        self.info = dict(info or {})

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> AudioBranch:
        """The branch of an audio bundle (kind ``audio``)."""
        if bundle.config.get("kind") != "audio":
            raise AvemotionError(f"{bundle.path}: not an audio bundle (kind {bundle.config.get('kind')!r})")
        c = bundle.config
        info = {"name": c["name"], "path": str(bundle.path), "model": c["recipe"]["model"]["name"],
                "features": c["recipe"]["features"]["extractor"], "trained_on": c["trained_on"]}
        return cls(bundle.recipe["features"], bundle.estimator, bundle.labels, info=info, bundle=bundle)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "audio") -> AudioBranch:
        """The branch of a shipped audio bundle by name or of a bundle folder."""
        return cls.from_bundle(load_bundle(name_or_path))

    def features(self, signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """The recipe's feature vector of a mono float signal (resampled to 16 kHz first if needed)."""
        if sr != SAMPLE_RATE:
            import soxr

            signal = soxr.resample(signal, sr, SAMPLE_RATE, quality="HQ").astype(np.float32)
        return signal_features(signal, self.recipe, runtime=self._runtime())

    def _runtime(self) -> list[dict[str, Any] | None] | None:
        """Per extractor, the hidden states worth computing when the head reads only some
        (a ``layerwise`` head on ``whisper_layers_*`` features): the features it reads are the
        same, the later encoder layers are not run."""
        needed = getattr(self.head, "states_needed", None)
        extractors = self.recipe["features"]["extractor"]
        names = extractors if isinstance(extractors, list) else [extractors]
        if needed is None or not all(n.startswith("whisper_layers_") for n in names):
            return None
        states = needed()
        return [{"states": s} for s in states] if len(states) == len(names) else None

    def proba_of_signal(self, signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
        """(n_labels,) probabilities for one signal, in :attr:`labels` order (no speech checks)."""
        return proba_in_label_order(self.head, self.features(signal, sr)[None], self.labels)[0]

    def outputs(self, inputs: ClipInputs, *, embed: bool = False, timings: dict[str, float] | None = None) -> BranchOutput:
        if inputs.signal is None:
            raise NoAudioStreamError(inputs.source, "no audio track")
        timings = {} if timings is None else timings
        tic = time.perf_counter()
        check_speech(inputs.signal, inputs.sr, inputs.source)
        x = self.features(inputs.signal, inputs.sr)
        mid = time.perf_counter()
        out = BranchOutput(proba_in_label_order(self.head, x[None], self.labels)[0], self.labels, features=x,
                           novelty=self._novelty(x))
        if embed:
            out.embedding = np.asarray(self.head.embed(x[None]), dtype=np.float64)[0]
        timings.update(audio_features=mid - tic, audio_model=time.perf_counter() - mid)
        return out

    def _novelty(self, x: np.ndarray) -> float | None:
        """The head's novelty of one feature vector (0: like its training corpora, 1: unlike every
        one), or None for a head that cannot tell (no gate, or adapted to a set of recordings)."""
        if not getattr(self.head, "gated", False):
            return None
        return float(self.head.novelty(x[None])[0])

    def adapted(self, paths: Sequence[str | os.PathLike[str]], method: str = DEFAULT_ADAPT) -> AudioBranch:
        """A copy adapted, without labels, to the audio of ``paths`` (at least two usable files)
        by its estimator's ``adapt(X, method)`` (e.g. the shipped ``layerwise`` head: ``balance``
        class biases, ``standardise`` features, or ``both``). Files that cannot be read are left out."""
        if not hasattr(self.head, "adapt"):
            raise AvemotionError(f"{self.info.get('path', self.name)}: this audio model cannot adapt (its estimator has no adapt)")
        rows = []
        for path in paths:
            try:
                rows.append(self.features(speech_signal(path)))
            except AvemotionError:
                continue
        if len(rows) < 2:
            raise AvemotionError(f"adaptation needs at least two readable audio files, got {len(rows)}")
        head = self.head.adapt(np.stack(rows), method)
        bundle = None if self.bundle is None else Bundle(self.bundle.path, self.bundle.config, head)
        return AudioBranch(self.recipe["features"], head, self.labels, name=self.name, info=self.info, bundle=bundle)

    def describe(self) -> dict[str, Any]:
        return {"branch": self.name, "needs": self.needs, "labels": list(self.labels), **self.info}
