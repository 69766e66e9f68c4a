"""Training: one trainer for every network, a scikit-learn-style wrapper, cross-validation."""

from __future__ import annotations

from avemotion.estimators.neural import NeuralClassifier, encode_labels
from avemotion.estimators.trainer import (
    Trainer,
    TrainResult,
    embed,
    predict_proba,
    seeded,
)
from avemotion.training.crossval import CVResult, cross_validate

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
