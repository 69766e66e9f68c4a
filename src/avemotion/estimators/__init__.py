"""Estimators, scikit-learn style (``fit`` / ``predict`` / ``predict_proba``, ``save`` / ``load``):
:class:`~.neural.NeuralClassifier` wraps any registered network with the one :mod:`.trainer`;
heads on fixed (N, D) features are in :data:`HEADS` (:mod:`.linear` ``logistic``, :mod:`.trees`
``logistic_forest``, :mod:`.layerwise` ``layerwise``, built on :mod:`.partial`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from avemotion.estimators.layerwise import LayerwiseHead
from avemotion.estimators.linear import LogisticHead
from avemotion.estimators.trees import LogisticForestHead

#: Head name -> scikit-learn-style estimator class for fixed (N, D) features.
HEADS: dict[str, Callable[..., Any]] = {
    "logistic": LogisticHead, "logistic_forest": LogisticForestHead, "layerwise": LayerwiseHead,
}

__all__ = ["HEADS", "LayerwiseHead", "LogisticForestHead", "LogisticHead"]
