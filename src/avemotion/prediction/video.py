"""Emotion from a video's face sequence with a video bundle (the seeds' 3D-CNN, 2D CNN, CNN-LSTM).

>>> model = VideoEmotionModel.load("my-video-model")   # from `avemotion train --recipe video_...`
>>> model.predict_proba("clip.mp4")                      # {"neutral": 0.1, "calm": 0.05, ...}
"""

from __future__ import annotations

import os

import numpy as np

from avemotion.bundles import Bundle, load_bundle
from avemotion.errors import AvemotionError
from avemotion.training.pipeline import file_features


class VideoEmotionModel:
    """A loaded video bundle: the recipe's face-sequence features of a file, then its network."""

    def __init__(self, bundle: Bundle) -> None:
        if bundle.config.get("kind") != "video":
            raise AvemotionError(f"{bundle.path}: not a video bundle (kind {bundle.config.get('kind')!r})")
        self.bundle = bundle
        self.labels: tuple[str, ...] = bundle.labels

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str]) -> VideoEmotionModel:
        return cls(load_bundle(name_or_path))

    def proba_of_path(self, path: str | os.PathLike[str]) -> np.ndarray:
        """(n_labels,) probabilities for the video at ``path``; raises NoFaceError and the media errors."""
        return self.outputs(path)[0]

    def outputs(self, path: str | os.PathLike[str], *, embed: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """(n_labels,) probabilities for the video at ``path`` and, when ``embed``, the
        network's penultimate embedding (D,) (else None); raises NoFaceError and the media errors."""
        x = file_features(os.fspath(path), self.bundle.recipe)[None]
        proba = self.bundle.predict_proba(x)[0]
        embedding = np.asarray(self.bundle.estimator.embed(x), dtype=np.float64)[0] if embed else None
        return proba, embedding

    def predict_proba(self, path: str | os.PathLike[str]) -> dict[str, float]:
        return dict(zip(self.labels, map(float, self.proba_of_path(path))))
