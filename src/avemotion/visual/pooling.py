"""Pooling one clip's per-frame values (probabilities or embeddings) into one vector.

``mean``, ``max`` (per column) or ``attention`` (frames weighted by their confidence,
:func:`attention_weights`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Pooling = Literal["mean", "max", "attention"]


def attention_weights(probs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Frame weights ``(N,)`` summing to 1: softmax over frames of ``-entropy / temperature`` of
    each frame's probabilities ``probs`` ``(N, C)``, so confident frames count more."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    score = (p * np.log(p)).sum(axis=1) / temperature
    w = np.exp(score - score.max())
    return w / w.sum()


def pool(
    values: np.ndarray, method: Pooling = "mean", *, probs: np.ndarray | None = None, temperature: float = 1.0
) -> np.ndarray:
    """One clip's frames ``values`` ``(N, D)`` (probabilities or embeddings) pooled to ``(D,)``.

    ``attention`` weights the frames by :func:`attention_weights` of ``probs`` ``(N, C)``, by
    default ``values`` themselves (then they must be probabilities). Pooled probabilities are
    not renormalised (``max`` does not sum to 1).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or not len(values):
        raise ValueError(f"expected (N, D) frame values with N >= 1, got shape {values.shape}")
    if method == "mean":
        return values.mean(axis=0)
    if method == "max":
        return values.max(axis=0)
    if method == "attention":
        weights = attention_weights(values if probs is None else probs, temperature)
        if len(weights) != len(values):
            raise ValueError(f"{len(values)} frames but {len(weights)} attention weights")
        return weights @ values
    raise ValueError(f"pooling must be mean, max or attention, got {method!r}")
