"""Classification metrics on integer labels: UAR, WAR, macro-F1, confusion and per-class scores.

Labels are integer class indices ``0..C-1`` (positions in a label set); probability matrices are
``(N, C)`` with columns in the same order. Every function returns plain Python types (or a NumPy
array for :func:`confusion`), so results go straight into JSON. Divisions by zero (a class never
predicted, or absent) give 0, as scikit-learn's ``zero_division=0`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _labels(y: Any) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a 1-d array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError("class indices must be >= 0")
    return arr.astype(np.int64)


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true), _labels(y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}")
    return t, p


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num), dtype=float), where=den > 0)


def confusion(y_true: Any, y_pred: Any, n_classes: int | None = None) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class.

    ``n_classes`` defaults to one more than the largest label seen.
    """
    t, p = _pair(y_true, y_pred)
    seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    c = seen if n_classes is None else n_classes
    if seen > c:
        raise ValueError(f"a label is >= n_classes={c}")
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c)


def _scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix."""
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    precision = _divide(tp, cm.sum(axis=0))
    recall = _divide(tp, support)
    f1 = _divide(2 * precision * recall, precision + recall)
    return precision, recall, f1, support


def uar(y_true: Any, y_pred: Any) -> float:
    """Unweighted average recall (balanced accuracy): mean recall over the classes in ``y_true``."""
    t, p = _pair(y_true, y_pred)
    if not len(t):
        raise ValueError("UAR of no samples")
    _, recall, _, support = _scores(confusion(t, p))
    return float(recall[support > 0].mean())


def war(y_true: Any, y_pred: Any) -> float:
    """Weighted average recall, i.e. accuracy."""
    t, p = _pair(y_true, y_pred)
    if not len(t):
        raise ValueError("WAR of no samples")
    return float((t == p).mean())


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Mean F1 over the classes that occur in ``y_true`` or ``y_pred`` (scikit-learn's macro F1)."""
    t, p = _pair(y_true, y_pred)
    if not len(t):
        raise ValueError("F1 of no samples")
    cm = confusion(t, p)
    _, _, f1, _ = _scores(cm)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(f1[present].mean())


def per_class(y_true: Any, y_pred: Any, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{label: {precision, recall, f1, support}}`` for every label, in ``labels`` order."""
    precision, recall, f1, support = _scores(confusion(y_true, y_pred, len(labels)))
    return {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(labels)
    }


def log_loss(y_true: Any, proba: np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-probability of the true class (probabilities clipped to ``eps``)."""
    t = _labels(y_true)
    p = np.asarray(proba, dtype=float)
    return float(-np.log(np.clip(p[np.arange(len(t)), t], eps, 1.0)).mean())


def expected_calibration_error(y_true: Any, proba: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence: the clip-weighted mean, over
    ``n_bins`` equal-width confidence bins, of |accuracy - mean confidence| (0 = calibrated)."""
    t = _labels(y_true)
    p = np.asarray(proba, dtype=float)
    confidence, correct = p.max(axis=1), (p.argmax(axis=1) == t).astype(float)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    gap = 0.0
    for b in np.unique(bins):
        inside = bins == b
        gap += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(gap / max(len(t), 1))


def summarize_metrics(y_true: Any, proba: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """All metrics of predictions ``argmax(proba)``, JSON-ready.

    Keys: ``n``, ``uar``, ``war``, ``macro_f1``, ``log_loss``, ``ece`` (see
    :func:`expected_calibration_error`), ``labels``, ``per_class`` (see
    :func:`per_class`) and ``confusion`` (list of rows, true class by predicted class).
    """
    t = _labels(y_true)
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape != (len(t), len(labels)):
        raise ValueError(f"proba must have shape ({len(t)}, {len(labels)}), got {p.shape}")
    pred = p.argmax(axis=1)
    return {
        "n": int(len(t)),
        "uar": uar(t, pred),
        "war": war(t, pred),
        "macro_f1": macro_f1(t, pred),
        "log_loss": log_loss(t, p),
        "ece": expected_calibration_error(t, p),
        "labels": list(labels),
        "per_class": per_class(t, pred, labels),
        "confusion": confusion(t, pred, len(labels)).tolist(),
    }


def mean_std(
    results: Sequence[Mapping[str, Any]], keys: Sequence[str], ddof: int = 0
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Mean and standard deviation of each key over ``results`` (e.g. one dict per fold).

    Missing or ``None`` values are left out; a key with no value gets ``None``. ``ddof=0`` is the
    population standard deviation, ``ddof=1`` the sample one (``None`` for a single value).
    """
    means: dict[str, float | None] = {}
    stds: dict[str, float | None] = {}
    for key in keys:
        values = np.array([float(r[key]) for r in results if r.get(key) is not None])
        means[key] = float(values.mean()) if len(values) else None
        stds[key] = float(values.std(ddof=ddof)) if len(values) > ddof else None
    return means, stds
