"""The networks, registered in :data:`MODELS` (built by :func:`build_model`); the estimators that
train them and the heads on fixed embeddings are in :mod:`avemotion.estimators`.

Importing this package imports the model modules, so that each registers itself:
:mod:`.audio` (``crnn``, ``gru``, ``cnn1d``, ``lstm``, ``alexnet_mfcc``, ``avemotion_audio``),
:mod:`.video` (``c3d``, ``cnn2d_frames``, ``cnn_lstm``, ``alexnet_frames``), :mod:`.fusion`
(``fc_fusion``, ``bel``, ``mobel``, ``gated_fusion``).
"""

from __future__ import annotations

from avemotion.models import (
    audio,
    fusion,
    video,  # noqa: F401  (registers c3d, cnn2d_frames, cnn_lstm, alexnet_frames)
    visual,  # noqa: F401  (registers fer_cnn)
)
from avemotion.models.base import MODELS, EmotionNet, build_model, hyper_parameter_names, register

__all__ = ["MODELS", "EmotionNet", "audio", "build_model", "fusion", "hyper_parameter_names", "register"]
