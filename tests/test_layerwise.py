"""The layer-choosing, multi-corpus, calibrated head and its partial-label logistic regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avemotion.core.metrics import expected_calibration_error
from avemotion.estimators.layerwise import LayerwiseHead, corpus_of
from avemotion.estimators.partial import (
    PartialLabelLogistic,
    balanced_weights,
    fit_temperature,
    row_space_basis,
)

LABELS = np.array(["angry", "happy", "sad", "surprised"])


def _layered_data(n_per_speaker: int = 24, speakers: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two blocks of 3 states x 8 values; only state 1 of block 0 carries the class."""
    rng = np.random.default_rng(seed)
    n = n_per_speaker * speakers
    y = np.tile(np.arange(4), n // 4)
    X = rng.standard_normal((n, 3 * 8 + 3 * 6))
    X[np.arange(n), 8 + y] += 3.0
    groups = np.repeat([f"a:{i}" for i in range(speakers)], n_per_speaker)
    return X, LABELS[y], groups


def test_head_picks_the_informative_layer_by_inner_cv_and_predicts_well() -> None:
    X, y, groups = _layered_data()
    head = LayerwiseHead(blocks=[(3, 8), (3, 6)], layer_sets=[[[-1], [-1]], [[1], [0]], [[0], [2]]],
                         Cs=(0.01, 0.1), inner_folds=4).fit(X, y, groups=groups)
    assert head.layer_set_ == [[1], [0]]
    Xt, yt, _ = _layered_data(seed=1)
    assert np.mean(head.predict(Xt) == yt) > 0.85
    proba = head.predict_proba(Xt)
    assert proba.shape == (len(yt), 4) and np.allclose(proba.sum(axis=1), 1)


def test_partial_labels_teach_nothing_about_labels_a_corpus_lacks() -> None:
    """A clip of a corpus without 'surprised' must not push the 'surprised' logit down."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = rng.integers(0, 3, 200)
    mask = np.zeros((200, 4), bool)
    mask[:, :3] = True
    model = PartialLabelLogistic(C=1.0).fit(X, y, mask, np.ones(200))
    np.testing.assert_array_equal(model.coef_[:, 3], 0.0)
    assert model.intercept_[3] == 0.0
    # an unmasked loss does learn "not surprised"
    full = PartialLabelLogistic(C=1.0).fit(X, y, np.ones((200, 4), bool), np.ones(200))
    assert full.intercept_[3] < -1.0


def test_multi_corpus_head_keeps_each_corpus_labels() -> None:
    X, y, groups = _layered_data(speakers=8)
    second = np.char.startswith(groups.astype(str), "a:1") | np.char.startswith(groups.astype(str), "a:2")
    groups = np.where(second, np.char.replace(groups.astype(str), "a:", "b:"), groups)
    keep = ~second | (y != "surprised")          # corpus b has no "surprised"
    head = LayerwiseHead(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]]], Cs=(0.1,), inner_folds=3)
    head.fit(X[keep], y[keep], groups=groups[keep])
    assert head.corpus_labels_["b"] == ["angry", "happy", "sad"]
    assert head.corpus_labels_["a"] == list(LABELS)
    assert list(corpus_of(np.array(["tess:OAF", "turev:1157", "x"]))) == ["tess", "turev", "x"]


def test_row_space_fit_equals_the_direct_fit() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 80))
    y = rng.integers(0, 3, 30)
    mask = np.ones((30, 3), bool)
    wide = PartialLabelLogistic(C=0.1, max_iter=2000).fit(X, y, mask, np.ones(30))
    basis = row_space_basis(X)
    assert basis.shape == (80, 30)
    np.testing.assert_allclose(basis.T @ basis, np.eye(30), atol=1e-8)
    narrow = PartialLabelLogistic(C=0.1, max_iter=2000).fit(X @ basis, y, mask, np.ones(30))
    np.testing.assert_allclose(basis @ narrow.coef_, wide.coef_, atol=1e-4)


def test_balanced_weights_equalise_corpora_and_classes() -> None:
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1, 1, 1])
    corpora = np.array(["a"] * 4 + ["b"] * 6)
    w = balanced_weights(y, corpora, "equal")
    assert w.mean() == pytest.approx(1.0)
    assert w[corpora == "a"].sum() == pytest.approx(w[corpora == "b"].sum())
    assert w[(corpora == "a") & (y == 0)].sum() == pytest.approx(w[(corpora == "a") & (y == 1)].sum())
    sqrt = balanced_weights(y, corpora, "sqrt")
    assert sqrt[corpora == "b"].sum() / sqrt[corpora == "a"].sum() == pytest.approx(np.sqrt(6 / 4))
    with pytest.raises(ValueError, match="corpus_balance"):
        balanced_weights(y, corpora, "bogus")


def test_temperature_undoes_overconfidence_and_lowers_ece() -> None:
    rng = np.random.default_rng(2)
    true_logits = rng.standard_normal((4000, 4)) * 1.5
    p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    overconfident = true_logits * 3.0
    t = fit_temperature(overconfident, y, np.ones((4000, 4), bool))
    assert t == pytest.approx(3.0, rel=0.15)

    def softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    assert expected_calibration_error(y, softmax(overconfident / t)) < expected_calibration_error(y, softmax(overconfident)) / 2


def test_head_saves_and_loads_without_pickle(tmp_path: Path) -> None:
    X, y, groups = _layered_data()
    head = LayerwiseHead(blocks=[(3, 8), (3, 6)], layer_sets=[[[1, 2], [0]]], Cs=(0.1,), normalise="utterance").fit(X, y, groups=groups)
    loaded = LayerwiseHead.load(head.save(tmp_path / "head"))
    np.testing.assert_array_equal(loaded.predict_proba(X), head.predict_proba(X))
    assert loaded.layer_set_ == [[1, 2], [0]] and loaded.temperature_ == head.temperature_


def test_head_refuses_features_of_another_shape() -> None:
    X, y, groups = _layered_data()
    with pytest.raises(ValueError, match="blocks"):
        LayerwiseHead(blocks=[(7, 1024), (5, 768)]).fit(X, y, groups=groups)
