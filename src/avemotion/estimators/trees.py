"""Extremely randomised trees on fixed features, saved as plain arrays (no pickle).

:class:`ExtraTreesHead` fits scikit-learn's class-balanced ``ExtraTreesClassifier`` and keeps
only the trees' arrays (split feature, threshold, children, leaf class distributions); it
predicts with its own vectorised traversal, so a saved and reloaded forest gives exactly the
probabilities of the fitted one. :class:`LogisticForestHead` averages it with a
:class:`~avemotion.estimators.linear.LogisticHead`: on the 35 OpenFace AU means of RAVDESS the two
err differently and their mean beats either (README, AU benchmark).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier

from avemotion.core.atomic import atomic_write_npz
from avemotion.estimators.linear import LogisticHead, _as_matrix


class ExtraTreesHead(ClassifierMixin, BaseEstimator):
    """``n_trees`` class-balanced extremely randomised trees, each split drawn among
    ``max_features`` of the features, leaves of at least ``min_samples_leaf`` clips."""

    def __init__(self, n_trees: int = 200, max_features: float = 0.5, min_samples_leaf: int = 1, seed: int = 0) -> None:
        self.n_trees = n_trees
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> ExtraTreesHead:
        """Fit on (N, D) features and N labels (validation clips, when given, are trained on too:
        the forest has nothing to select)."""
        X, y = _as_matrix(X), np.asarray(y)
        if X_val is not None and y_val is not None and len(y_val):
            X, y = np.concatenate([X, _as_matrix(X_val)]), np.concatenate([y, np.asarray(y_val)])
        forest = ExtraTreesClassifier(
            n_estimators=self.n_trees, max_features=self.max_features, min_samples_leaf=self.min_samples_leaf,
            class_weight="balanced", random_state=self.seed, n_jobs=1,
        ).fit(X, y)
        trees = [e.tree_ for e in forest.estimators_]
        offsets = np.cumsum([0] + [t.node_count for t in trees[:-1]])
        children = []
        for tree, offset in zip(trees, offsets):
            left, right = tree.children_left.copy(), tree.children_right.copy()
            internal = left >= 0
            left[internal] += offset
            right[internal] += offset
            children.append(np.stack([left, right], axis=1))
        values = np.concatenate([t.value[:, 0, :] for t in trees])
        self.children_ = np.concatenate(children).astype(np.int32)
        self.feature_ = np.concatenate([t.feature for t in trees]).astype(np.int32)
        # float32 thresholds (the saved form; the features are compared as float32)
        self.threshold_ = np.concatenate([t.threshold for t in trees]).astype(np.float32)
        # stored as float16 (the saved form), so a reloaded forest predicts exactly the same
        self.leaf_proba_ = (values / values.sum(axis=1, keepdims=True)).astype(np.float16).astype(np.float32)
        self.roots_ = offsets.astype(np.int32)
        self.classes_ = forest.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, C) probabilities (the trees' mean leaf distributions), columns in ``classes_`` order."""
        X = _as_matrix(X).astype(np.float32)  # the trees split on float32 values, as scikit-learn does
        node = np.broadcast_to(self.roots_, (len(X), len(self.roots_))).copy()
        rows = np.arange(len(X))[:, None]
        while True:
            internal = self.children_[node, 0] >= 0
            if not internal.any():
                break
            go_right = X[rows, np.where(internal, self.feature_[node], 0)] > self.threshold_[node]
            step = self.children_[node, go_right.astype(np.int64)]
            node = np.where(internal, step, node)
        return self.leaf_proba_[node].mean(axis=1).astype(np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) predicted labels."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted forest to ``path/forest.npz`` (plain arrays); returns the folder."""
        folder = Path(path)
        atomic_write_npz(folder / "forest.npz", compressed=True, arrays={
            "children": self.children_, "feature": self.feature_.astype(np.int16 if self.feature_.max() < 2**15 else np.int32),
            "threshold": self.threshold_,
            "leaf_proba": self.leaf_proba_.astype(np.float16), "roots": self.roots_,
            "classes": np.asarray(self.classes_).astype(str),
            "params": np.array([self.n_trees, self.max_features, self.min_samples_leaf, self.seed], dtype=np.float64),
        })
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExtraTreesHead:
        """A fitted forest from a folder written by :meth:`save`."""
        with np.load(Path(path) / "forest.npz", allow_pickle=False) as z:
            n_trees, max_features, leaf, seed = z["params"]
            head = cls(int(n_trees), float(max_features), int(leaf), int(seed))
            head.children_, head.feature_, head.threshold_ = z["children"], z["feature"].astype(np.int32), z["threshold"]
            head.leaf_proba_ = z["leaf_proba"].astype(np.float32)
            head.roots_, head.classes_ = z["roots"], z["classes"]
        return head


class LogisticForestHead(ClassifierMixin, BaseEstimator):
    """The mean of a :class:`LogisticHead` (``Cs``, chosen on validation clips as it does) and an
    :class:`ExtraTreesHead` of ``n_trees`` trees."""

    def __init__(self, Cs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0), n_trees: int = 200, seed: int = 0) -> None:
        self.Cs = Cs
        self.n_trees = n_trees
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> LogisticForestHead:
        """Fit both on (N, D) features and N labels (see :meth:`LogisticHead.fit` for ``X_val``)."""
        self.logistic_ = LogisticHead(Cs=self.Cs).fit(X, y, X_val, y_val)
        self.forest_ = ExtraTreesHead(self.n_trees, seed=self.seed).fit(X, y, X_val, y_val)
        self.classes_ = self.logistic_.classes_
        self.C_ = self.logistic_.C_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, C) mean of the two heads' probabilities, columns in ``classes_`` order."""
        return (self.logistic_.predict_proba(X) + self.forest_.predict_proba(X)) / 2

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) predicted labels."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def embed(self, X: np.ndarray) -> np.ndarray:
        """The standardised input features (N, D), as :meth:`LogisticHead.embed`."""
        return self.logistic_.embed(X)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write both heads into folder ``path`` (``head.npz`` and ``forest.npz``)."""
        self.logistic_.save(path)
        return self.forest_.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LogisticForestHead:
        """A fitted head from a folder written by :meth:`save`."""
        logistic, forest = LogisticHead.load(path), ExtraTreesHead.load(path)
        head = cls(Cs=logistic.Cs, n_trees=forest.n_trees, seed=forest.seed)
        head.logistic_, head.forest_ = logistic, forest
        head.classes_, head.C_ = logistic.classes_, logistic.C_
        return head


def load_head(path: str | os.PathLike[str]) -> LogisticHead | LogisticForestHead:
    """The head saved in folder ``path``: a :class:`LogisticForestHead` when it holds a forest."""
    return LogisticForestHead.load(path) if (Path(path) / "forest.npz").is_file() else LogisticHead.load(path)
