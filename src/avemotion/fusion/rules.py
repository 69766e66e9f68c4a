"""Late fusion rules on class probabilities: mean (seed 002), weighted (seed 004), product (seed 003).

Each rule takes one ``(N, C)`` probability array per modality, all on the same label set (see
:func:`~avemotion.fusion.labels.map_proba`). A row of NaN in a modality's array means that
modality is missing for that clip (no face found, no audio track): the rule then fuses the
modalities that are there, so every clip with at least one modality gets a prediction.
Outputs are ``(N, C)`` probabilities whose rows sum to 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from avemotion.core.metrics import uar

#: Probabilities are clipped to this floor before logarithms (the product rule).
EPS = 1e-6


def _stack(probas: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(M, N, C) probabilities with missing rows zeroed, and the (M, N) availability mask."""
    P = np.stack([np.asarray(p, dtype=np.float64) for p in probas])
    if P.ndim != 3:
        raise ValueError("each modality needs an (N, C) probability array")
    present = np.logical_not(np.isnan(P).any(axis=2))
    if not present.any(axis=0).all():
        raise ValueError("a clip has no modality to fuse")
    return np.where(present[..., None], P, 0.0), present


def _weights(weights: Sequence[float] | None, m: int) -> np.ndarray:
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (m,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"need {m} non-negative weights, not all zero; got {weights}")
    return w


def weighted_mean(probas: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted arithmetic mean of the available modalities' probabilities (equal weights:
    the mean rule); weights are renormalised over the modalities present in each row."""
    P, present = _stack(probas)
    w = _weights(weights, len(P))[:, None] * present
    fused = np.einsum("mn,mnc->nc", w, P) / w.sum(axis=0)[:, None]
    return fused / fused.sum(axis=1, keepdims=True)


def weighted_product(probas: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """Product rule: ``prod_m p_m ** w_m``, renormalised (equal weights: the plain product)."""
    P, present = _stack(probas)
    w = _weights(weights, len(P))[:, None] * present
    log = np.einsum("mn,mnc->nc", w, np.log(np.clip(P, EPS, 1.0)))
    log -= log.max(axis=1, keepdims=True)
    fused = np.exp(log)
    return fused / fused.sum(axis=1, keepdims=True)


RULES = {"mean": weighted_mean, "product": weighted_product}


def fit_weights(
    probas: Sequence[np.ndarray],
    y: np.ndarray,
    rule: str = "mean",
    grid: Sequence[float] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2)),
) -> tuple[float, ...]:
    """The modality weights (summing to 1, on ``grid``) whose fused prediction has the best UAR
    on held-out clips ``probas`` / ``y`` (integer class indices); ties go to the most even."""
    m = len(probas)
    best: tuple[float, float, tuple[float, ...]] | None = None
    for combo in itertools.product(grid, repeat=m - 1):
        last = 1.0 - sum(combo)
        if last < -1e-9:
            continue
        w = (*combo, max(last, 0.0))
        score = uar(y, RULES[rule](probas, w).argmax(axis=1))
        spread = -float(np.std(w))
        if best is None or (score, spread) > best[:2]:
            best = (score, spread, w)
    assert best is not None
    return best[2]
