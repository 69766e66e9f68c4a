"""Training: one trainer for every network, a scikit-learn-style wrapper, cross-validation."""

from __future__ import annotations

from .crossval import CVResult, cross_validate
from .estimator import NeuralClassifier, encode_labels
from .trainer import Trainer, TrainResult, embed, predict_proba, seeded

__all__ = [
    "CVResult",
    "NeuralClassifier",
    "TrainResult",
    "Trainer",
    "cross_validate",
    "embed",
    "encode_labels",
    "predict_proba",
    "seeded",
]
