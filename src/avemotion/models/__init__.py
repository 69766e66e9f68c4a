"""The models: networks registered in :data:`MODELS` (built by :func:`build_model`) and
classifier heads on fixed embeddings in :data:`HEADS` (scikit-learn estimators).

Importing this package imports the model modules, so that each registers itself:
:mod:`.audio` (``crnn``, ``gru``, ``cnn1d``, ``lstm``, ``alexnet_mfcc``, ``avemotion_audio``),
:mod:`.video` (``c3d``, ``cnn2d_frames``, ``cnn_lstm``, ``alexnet_frames``), :mod:`.fusion`
(``fc_fusion``, ``bel``, ``mobel``, ``gated_fusion``); heads in :mod:`.linear` (``logistic``) and
:mod:`.trees` (``logistic_forest``) and :mod:`.layerwise` (``layerwise``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import audio, fusion
from . import visual  # noqa: F401  (registers fer_cnn)
from . import video  # noqa: F401  (registers c3d, cnn2d_frames, cnn_lstm, alexnet_frames)
from .base import MODELS, EmotionNet, build_model, register
from .layerwise import LayerwiseHead
from .linear import LogisticHead
from .trees import LogisticForestHead

#: Head name -> scikit-learn-style estimator class for fixed (N, D) features.
HEADS: dict[str, Callable[..., Any]] = {
    "logistic": LogisticHead, "logistic_forest": LogisticForestHead, "layerwise": LayerwiseHead,
}

__all__ = ["HEADS", "MODELS", "EmotionNet", "LayerwiseHead", "LogisticForestHead", "LogisticHead", "audio", "fusion", "build_model", "register"]
