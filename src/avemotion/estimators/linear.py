"""A linear classifier on fixed embeddings (e.g. frozen Whisper features), scikit-learn style.

:class:`LogisticHead` standardises its input and fits a multinomial logistic regression. Its
regularisation strength is chosen on the validation clips the caller passes (speaker-disjoint
from training: the cross-validation driver carves them by speaker), never on test clips; the
chosen model is then refitted on training + validation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from avemotion.core.atomic import atomic_write_npz


def _as_matrix(X: np.ndarray) -> np.ndarray:
    """(N, ...) features as an (N, D) float64 matrix."""
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def scaler_from_arrays(mean: np.ndarray, scale: np.ndarray) -> StandardScaler:
    """A fitted :class:`StandardScaler` from its saved (D,) ``mean_`` and ``scale_``."""
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_, scaler.var_ = mean, scale, scale**2
    scaler.n_features_in_ = len(mean)
    return scaler


class LogisticHead(ClassifierMixin, BaseEstimator):
    """Standardise, then class-balanced multinomial logistic regression.

    ``Cs``: the inverse regularisation strengths tried; with validation data the one with the
    best validation UAR wins (ties: the stronger regularisation), otherwise ``Cs[len(Cs)//2]``.
    """

    def __init__(self, Cs: Sequence[float] = (0.001, 0.003, 0.01, 0.03, 0.1), max_iter: int = 3000) -> None:
        self.Cs = Cs
        self.max_iter = max_iter

    def _fit_one(self, X: np.ndarray, y: np.ndarray, C: float) -> tuple[StandardScaler, LogisticRegression]:
        scaler = StandardScaler().fit(X)
        clf = LogisticRegression(C=C, max_iter=self.max_iter, class_weight="balanced")
        clf.fit(scaler.transform(X), y)
        return scaler, clf

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> LogisticHead:
        """Fit on (N, D) features and N labels; pick C on (X_val, y_val) when given."""
        X = _as_matrix(X)
        y = np.asarray(y)
        Cs = sorted(self.Cs)
        self.validation_uar_: dict[float, float] = {}
        if X_val is not None and y_val is not None and len(y_val):
            X_val = _as_matrix(X_val)
            y_val = np.asarray(y_val)
            for C in Cs:
                scaler, clf = self._fit_one(X, y, C)
                pred = clf.predict(scaler.transform(X_val))
                self.validation_uar_[C] = float(balanced_accuracy_score(y_val, pred))
            self.C_ = max(Cs, key=lambda c: (self.validation_uar_[c], -c))
            X, y = np.concatenate([X, X_val]), np.concatenate([y, y_val])
        else:
            self.C_ = Cs[len(Cs) // 2]
        self.scaler_, self.classifier_ = self._fit_one(X, y, self.C_)
        self.classes_ = self.classifier_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, C) probabilities, columns in ``classes_`` order."""
        return self.classifier_.predict_proba(self.scaler_.transform(_as_matrix(X)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) predicted labels."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def embed(self, X: np.ndarray) -> np.ndarray:
        """The standardised input features (N, D): this head's penultimate representation."""
        return self.scaler_.transform(_as_matrix(X)).astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted head to ``path/head.npz`` (plain arrays, no pickle); returns the folder."""
        folder = Path(path)
        atomic_write_npz(
            folder / "head.npz",
            {
                "mean": self.scaler_.mean_,
                "scale": self.scaler_.scale_,
                "coef": self.classifier_.coef_,
                "intercept": self.classifier_.intercept_,
                "classes": np.asarray(self.classes_).astype(str),
                "C": np.float64(self.C_),
                "Cs": np.asarray(self.Cs, dtype=np.float64),
            },
        )
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LogisticHead:
        """A fitted head from a folder written by :meth:`save`."""
        with np.load(Path(path) / "head.npz", allow_pickle=False) as z:
            head = cls(Cs=tuple(float(c) for c in z["Cs"]))
            head.C_ = float(z["C"])
            head.scaler_ = scaler_from_arrays(z["mean"], z["scale"])
            head.classifier_ = LogisticRegression(C=head.C_, class_weight="balanced")
            head.classifier_.coef_, head.classifier_.intercept_ = z["coef"], z["intercept"]
            head.classifier_.classes_ = z["classes"]
            head.classifier_.n_features_in_ = len(z["mean"])
            head.classes_ = z["classes"]
        return head
