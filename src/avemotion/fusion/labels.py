"""Putting branches with different label sets on one label set before fusing them.

A branch gives probabilities over its own labels (the audio model: RAVDESS's eight; a
FER-trained face model: the basic seven, no calm). :func:`map_proba` moves them onto the fused
label set with one explicit rule, per target label:

1. the source column of the same name, if the branch has that label;
2. else the column of its equivalent in :data:`EQUIVALENTS` (calm takes the face model's
   neutral probability: calm and neutral faces look alike, and a face model has no other
   evidence about calm);
3. else the branch's mean probability over the target labels it does cover (no evidence
   either way).

Source labels outside the target set are dropped; each row is then renormalised to sum to 1.
Rows that are entirely NaN (a missing modality) stay NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Target label -> the source label standing in for it when a branch lacks the target.
EQUIVALENTS: Mapping[str, str] = {"calm": "neutral"}


def map_proba(
    proba: np.ndarray,
    source: Sequence[str] | np.ndarray,
    target: Sequence[str] | np.ndarray,
    equivalents: Mapping[str, str] = EQUIVALENTS,
    *,
    uncovered: str = "mean",
) -> np.ndarray:
    """``(N, len(source))`` probabilities -> ``(N, len(target))``, by the module's rule.

    ``uncovered``: what a target label with no source label (nor equivalent) gets before the
    rows are renormalised: ``"mean"`` of the others (for fusing with a branch that has it) or
    ``"zero"`` (for reporting one branch's own probabilities on a wider label set)."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(source):
        raise ValueError(f"proba has shape {proba.shape}, expected (N, {len(source)})")
    index = {label: j for j, label in enumerate(source)}
    if uncovered not in ("mean", "zero"):
        raise ValueError(f"uncovered must be 'mean' or 'zero', got {uncovered!r}")
    fill = uncovered
    out = np.full((len(proba), len(target)), np.nan)
    missing = []
    for k, label in enumerate(target):
        j = index.get(label, index.get(equivalents.get(label, ""), -1))
        if j >= 0:
            out[:, k] = proba[:, j]
        else:
            missing.append(k)
    if len(missing) == len(target):
        raise ValueError(f"labels {list(source)} share nothing with {list(target)}")
    if missing and fill == "zero":
        out[:, missing] = 0.0
    elif missing:
        out[:, missing] = np.nanmean(out, axis=1, keepdims=True)
    total = out.sum(axis=1, keepdims=True)
    return np.divide(out, total, out=np.full_like(out, 1.0 / len(target)), where=total > 0)
