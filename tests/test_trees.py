"""The pickle-free extremely randomised trees and the logistic + forest head."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier

from avemotion.bundles import load_bundle, save_bundle
from avemotion.estimators.linear import LogisticHead
from avemotion.estimators.trees import ExtraTreesHead, LogisticForestHead, load_head
from avemotion.fusion import MultimodalClassifier

LABELS = ["neutral", "happy", "sad", "angry"]


def blobs(n: int = 240, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.normal(size=(n, d)) + np.eye(4, d)[y] * 2.5
    return X, np.array(LABELS)[y]


def test_forest_predicts_like_scikit_learn_and_reloads_exactly(tmp_path: Path) -> None:
    X, y = blobs()
    head = ExtraTreesHead(n_trees=50, seed=3).fit(X[:180], y[:180])
    reference = ExtraTreesClassifier(
        n_estimators=50, max_features=0.5, class_weight="balanced", random_state=3, n_jobs=1
    ).fit(X[:180], y[:180])
    proba = head.predict_proba(X[180:])
    assert list(head.classes_) == sorted(LABELS)
    assert proba == pytest.approx(reference.predict_proba(X[180:]), abs=1e-3)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-3)
    assert (head.predict(X[180:]) == y[180:]).mean() > 0.8

    head.save(tmp_path / "forest")
    with zipfile.ZipFile(tmp_path / "forest" / "forest.npz") as z:
        assert all(not name.endswith(".pkl") for name in z.namelist())
    np.load(tmp_path / "forest" / "forest.npz", allow_pickle=False).close()  # plain arrays only
    again = ExtraTreesHead.load(tmp_path / "forest")
    assert np.array_equal(again.predict_proba(X[180:]), proba)
    assert again.n_trees == 50 and again.seed == 3


def test_logistic_forest_head_is_the_mean_of_its_two_heads(tmp_path: Path) -> None:
    X, y = blobs(seed=1)
    head = LogisticForestHead(Cs=(0.01, 1.0), n_trees=30).fit(X[:150], y[:150], X[150:200], y[150:200])
    assert head.C_ in (0.01, 1.0) and head.C_ == head.logistic_.C_
    expected = (head.logistic_.predict_proba(X[200:]) + head.forest_.predict_proba(X[200:])) / 2
    assert head.predict_proba(X[200:]) == pytest.approx(expected)
    assert head.embed(X[200:]).shape == (40, X.shape[1])
    head.save(tmp_path / "head")
    again = load_head(tmp_path / "head")
    assert isinstance(again, LogisticForestHead)
    assert np.array_equal(again.predict_proba(X[200:]), head.predict_proba(X[200:]))
    assert isinstance(load_head(LogisticHead(Cs=(1.0,)).fit(X, y).save(tmp_path / "lr")), LogisticHead)


def test_bundle_round_trip_of_a_logistic_forest_head(tmp_path: Path) -> None:
    X, y = blobs(seed=2)
    head = LogisticForestHead(Cs=(0.1,), n_trees=20).fit(X, y)
    recipe = {"labels": LABELS, "features": {"extractor": "seed001", "params": {}}, "model": {"name": "logistic_forest"}}
    save_bundle(tmp_path / "b", head, name="b", kind="audio", recipe=recipe, trained_on={})
    bundle = load_bundle(tmp_path / "b")
    assert bundle.config["estimator"] == "logistic_forest"
    assert np.array_equal(bundle.estimator.predict_proba(X), head.predict_proba(X))


def test_multimodal_branch_with_trees_round_trips(tmp_path: Path) -> None:
    Xa, y = blobs(n=200, d=8, seed=4)
    Xb = Xa[:, ::-1] + np.random.default_rng(5).normal(size=Xa.shape)
    X = np.concatenate([Xa, Xb], axis=1)
    groups = np.repeat([f"s{i}" for i in range(8)], 25)
    model = MultimodalClassifier([("a", 8), ("b", 8)], labels=LABELS, fusion="product", trees={"b": 20}, inner_folds=3)
    model.fit(X, y, groups=groups)
    assert isinstance(model.heads_["b"], LogisticForestHead) and isinstance(model.heads_["a"], LogisticHead)
    model.save(tmp_path / "mm")
    again = MultimodalClassifier.load(tmp_path / "mm")
    assert again.trees == {"b": 20} and isinstance(again.heads_["b"], LogisticForestHead)
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
