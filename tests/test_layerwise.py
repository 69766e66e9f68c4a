"""The layer-choosing, multi-corpus, calibrated head and its partial-label logistic regression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import OptimizeResult
from scipy.special import logsumexp

from avemotion.core.metrics import expected_calibration_error
from avemotion.estimators.layerwise import LayerwiseHead, corpus_of
from avemotion.estimators.partial import (
    PartialLabelLogistic,
    PartialLabelMLP,
    balanced_weights,
    fit_temperature,
    fit_temperature_offsets,
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


def _two_corpora(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corpus a (rows 0-199) offers 4 labels; corpus b (rows 200-399, shifted elsewhere in
    feature space) offers the first 3 only."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.integers(0, 4, 200), rng.integers(0, 3, 200)])
    X = rng.standard_normal((400, 5))
    X[np.arange(400), y] += 2.0
    X[200:, 4] += 6.0
    mask = np.ones((400, 4), bool)
    mask[200:, 3] = False
    return X, y, mask


def test_absent_weight_runs_from_the_partial_label_loss_to_cross_entropy() -> None:
    X, y, mask = _two_corpora()
    w = np.ones(400)
    fit = {lam: PartialLabelLogistic(C=1.0, max_iter=500, absent_weight=lam).fit(X, y, mask, w) for lam in (0.0, 0.1, 1.0)}
    pure = PartialLabelLogistic(C=1.0, max_iter=500).fit(X, y, mask, w)
    np.testing.assert_allclose(fit[0.0].coef_, pure.coef_)
    full = PartialLabelLogistic(C=1.0, max_iter=500).fit(X, y, np.ones((400, 4), bool), w)
    np.testing.assert_allclose(fit[1.0].coef_, full.coef_, atol=1e-4)
    # in corpus b's region, the label b lacks scores highest under the pure partial-label loss
    # and lower as b's clips discourage it more
    b_region = X[200:]
    share = {lam: np.mean(m.decision_function(b_region).argmax(axis=1) == 3) for lam, m in fit.items()}
    assert share[0.0] > 0.2 and share[0.1] < share[0.0] and share[1.0] <= share[0.1]
    with pytest.raises(ValueError, match="absent_weight"):
        PartialLabelLogistic(absent_weight=1.5)


def test_absent_weight_gradient_matches_the_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """The analytic gradient of the mixed loss equals central differences of the loss."""
    import avemotion.estimators.partial as partial

    captured = {}

    def keep_objective(fun, x0, **kwargs):  # scipy.optimize.minimize's signature
        captured["f"] = fun
        return OptimizeResult(x=x0)

    monkeypatch.setattr(partial, "minimize", keep_objective)
    X, y, mask = _two_corpora()
    PartialLabelLogistic(C=1.0, absent_weight=0.3).fit(X, y, mask, np.ones(400))
    f = captured["f"]
    theta = np.random.default_rng(2).standard_normal(5 * 4 + 4) * 0.3
    step = 1e-3                                      # the products with X are float32
    numeric = np.array([(f(theta + step * e)[0] - f(theta - step * e)[0]) / (2 * step) for e in np.eye(len(theta))])
    np.testing.assert_allclose(f(theta)[1], numeric, rtol=1e-3, atol=1e-4)


def test_corpus_selection_holds_out_each_training_corpus() -> None:
    """With selection="corpora" the inner CV trains on all corpora but one and scores that one
    on the labels both sides have; its score is each held-out corpus's UAR, averaged."""
    X, y, groups = _layered_data(speakers=12)
    corpus = np.array(["a", "b", "c"])[np.arange(len(y)) * 3 // len(y)]
    groups = np.char.add(np.char.add(corpus, ":"), groups)
    keep = (corpus != "c") | (y != "surprised")          # corpus c lacks "surprised"
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]], [[0], [2]]], Cs=(0.1,), absent_weight=0.1)
    head = LayerwiseHead(**kwargs, selection="corpora", min_corpus_clips=50).fit(X[keep], y[keep], groups=groups[keep])
    assert head.selection_ == "corpora" and head.layer_set_ == [[1], [0]]
    index = np.searchsorted(head.classes_, y[keep])
    mask = np.stack([np.isin(head.classes_, head.corpus_labels_[c]) for c in corpus[keep]])
    [(folds, allowed)] = head._inner_folds(index, mask, groups[keep], corpus[keep], head._held_out_corpora(corpus[keep]))
    assert [sorted(set(corpus[keep][test])) for _, test in folds] == [["a"], ["b"], ["c"]]
    assert all(not set(corpus[keep][train]) & set(corpus[keep][test]) for train, test in folds)
    # corpus a held out: trained on b + c, which have "surprised" (b), so it is scored on all four
    assert allowed[corpus[keep] == "a"].all()
    assert not allowed[corpus[keep] == "c"][:, list(head.classes_).index("surprised")].any()
    # the chosen candidate's score, recomputed by hand
    uars = []
    for train, test in folds:
        part = LayerwiseHead(**{**kwargs, "layer_sets": [[[1], [0]]]}, inner_folds=2)
        part.fit(X[keep][train], y[keep][train], groups=groups[keep][train])
        logits = np.where(allowed[test], part.decision_function(X[keep][test]), -np.inf)
        uars.append(np.mean([np.mean(logits[index[test] == k].argmax(axis=1) == k) for k in np.unique(index[test])]))
    assert head.inner_score_ == pytest.approx(np.mean(uars), abs=0.02)
    # one corpus only: speaker groups, whatever the option says
    a = corpus == "a"
    alone = LayerwiseHead(**kwargs, selection="corpora").fit(X[a], y[a], groups=groups[a])
    assert alone.selection_ == "speakers"
    with pytest.raises(ValueError, match="selection must be"):
        LayerwiseHead(**kwargs, selection="actors").fit(X[a], y[a], groups=groups[a])


def test_mixed_selection_averages_corpus_and_speaker_cross_validation() -> None:
    """selection="mixed" runs both inner cross-validations and averages their scores."""
    X, y, groups = _layered_data(speakers=12)
    corpus = np.array(["a", "b", "c"])[np.arange(len(y)) * 3 // len(y)]
    groups = np.char.add(np.char.add(corpus, ":"), groups)
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]]], Cs=(0.1,), absent_weight=0.1, min_corpus_clips=50)
    heads = {sel: LayerwiseHead(**kwargs, selection=sel).fit(X, y, groups=groups) for sel in ("corpora", "speakers", "mixed")}
    assert [heads[sel].selection_ for sel in ("corpora", "speakers", "mixed")] == ["corpora", "speakers", "mixed"]
    assert heads["mixed"].inner_score_ == pytest.approx((heads["corpora"].inner_score_ + heads["speakers"].inner_score_) / 2)
    index = np.searchsorted(heads["mixed"].classes_, y)
    mask = np.ones((len(y), len(heads["mixed"].classes_)), dtype=bool)
    (by_corpus, _), (by_speaker, _) = heads["mixed"]._inner_folds(index, mask, groups, corpus, ["a", "b", "c"])
    assert [sorted(set(corpus[test])) for _, test in by_corpus] == [["a"], ["b"], ["c"]]
    held_out = np.concatenate([test for _, test in by_speaker])
    assert sorted(held_out) == list(range(len(y)))            # every clip held out once
    assert all(not set(groups[train]) & set(groups[test]) for train, test in by_speaker)
    # the temperature is fitted on both sets of held-out clips, so it differs from each alone
    assert heads["mixed"].temperature_ not in (heads["corpora"].temperature_, heads["speakers"].temperature_)
    # one corpus: speaker groups only
    a = corpus == "a"
    assert LayerwiseHead(**kwargs, selection="mixed").fit(X[a], y[a], groups=groups[a]).selection_ == "speakers"


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


def test_temperature_offsets_undo_a_shifted_class() -> None:
    """Held-out logits three times too confident and 2 too high for class 0: the joint fit finds
    T about 3 and an offset pulling class 0 back by about 2 / T; a column no clip is scored on
    keeps offset 0; a huge penalty leaves the temperature alone."""
    rng = np.random.default_rng(3)
    true_logits = rng.standard_normal((4000, 5)) * 1.5
    true_logits[:, 4] = 0.0
    mask = np.ones((4000, 5), bool)
    mask[:, 4] = False
    p = np.exp(true_logits[:, :4]) / np.exp(true_logits[:, :4]).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    shifted = true_logits * 3.0
    shifted[:, 0] += 2.0
    t, b = fit_temperature_offsets(shifted, y, mask, l2=1e-4)
    assert t == pytest.approx(3.0, rel=0.15)
    assert b[0] - b[1:4].mean() == pytest.approx(-2.0 / t, abs=0.1)
    assert b[4] == pytest.approx(0.0, abs=1e-6)
    t_only = fit_temperature(shifted, y, mask)
    t_big, b_big = fit_temperature_offsets(shifted, y, mask, l2=1e6)
    assert t_big == pytest.approx(t_only, rel=1e-3) and np.abs(b_big).max() < 1e-4


def test_head_offsets_move_the_intercepts_and_stay_calibrated() -> None:
    """offset_l2 adds the held-out offsets (times T) to the intercepts; layers and C are chosen
    as without them, and the probabilities are softmax(logits / T)."""
    X, y, groups = _layered_data(speakers=12)
    corpus = np.array(["a", "b", "c"])[np.arange(len(y)) * 3 // len(y)]
    groups = np.char.add(np.char.add(corpus, ":"), groups)
    X[corpus == "b", 8] += 1.5                       # corpus b leans towards "angry"
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]], [[0], [2]]], Cs=(0.1,), absent_weight=0.1,
                  selection="corpora", min_corpus_clips=50)
    plain = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    shifted = LayerwiseHead(**kwargs, offset_l2=1e-3).fit(X, y, groups=groups)
    np.testing.assert_array_equal(plain.offsets_, 0.0)
    assert shifted.layer_set_ == plain.layer_set_ and shifted.C_ == plain.C_
    assert np.abs(shifted.offsets_).max() > 0.05
    np.testing.assert_allclose(shifted.intercept_ - plain.intercept_, shifted.offsets_)
    z = shifted.decision_function(X) / shifted.temperature_
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(shifted.predict_proba(X), expected / expected.sum(axis=1, keepdims=True))


def _three_corpora(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_layered_data's clips as corpora a, b, c of 4 speakers each, every corpus at its own place
    in the second block's state 0 (columns 24-29, a state the head reads)."""
    X, y, groups = _layered_data(speakers=12, seed=seed)
    corpus = np.array(["a", "b", "c"])[np.arange(len(y)) * 3 // len(y)]
    X[:, 24:30] += np.select([corpus == "b", corpus == "c"], [2.0, -2.0], 0.0)[:, None]
    return X, y, np.char.add(np.char.add(corpus, ":"), groups)


def test_gate_calibrates_familiar_and_novel_clips_apart(tmp_path: Path) -> None:
    """gate: new speakers of the training corpora get novelty near 0 and the held-out speakers'
    temperature; a corpus far from all of them gets novelty near 1 and the held-out corpora's
    temperature and offsets; saved and loaded alike; adapt() calibrates as for a new corpus."""
    X, y, groups = _three_corpora(seed=0)
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]], [[0], [2]]], Cs=(0.1,), absent_weight=0.1,
                  selection="corpora", min_corpus_clips=50, offset_l2=1e-3)
    plain = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    head = LayerwiseHead(**kwargs, gate=True).fit(X, y, groups=groups)
    assert head.layer_set_ == plain.layer_set_ == [[1], [0]] and head.C_ == plain.C_
    np.testing.assert_array_equal(head.offsets_, 0.0)
    np.testing.assert_allclose(head.decision_function(X), plain.decision_function(X) - plain.offsets_, atol=1e-8)
    familiar, _, _ = _three_corpora(seed=1)
    novel = familiar.copy()
    novel[:, 24:30] += 8.0
    g_familiar, g_novel = head.novelty(familiar), head.novelty(novel)
    assert np.median(g_familiar) < 0.05 and np.mean(g_familiar > 0.5) < 0.1 and g_novel.min() > 0.99
    assert head.temperature_familiar_ != head.temperature_ and np.abs(head.offsets_novel_).max() > 0.01
    z = head.decision_function(familiar)
    as_familiar, as_novel = z / head.temperature_familiar_, z / head.temperature_ + head.offsets_novel_
    g = g_familiar[:, None]
    np.testing.assert_allclose(head.calibrated_logits(familiar), (1 - g) * as_familiar + g * as_novel, atol=1e-10)
    z = head.decision_function(novel)
    np.testing.assert_allclose(head.calibrated_logits(novel), z / head.temperature_ + head.offsets_novel_, atol=1e-2)
    proba = head.predict_proba(novel)
    np.testing.assert_array_equal(head.predict(novel), head.classes_[proba.argmax(axis=1)])

    loaded = LayerwiseHead.load(head.save(tmp_path / "head"))
    np.testing.assert_array_equal(loaded.predict_proba(novel), proba)
    np.testing.assert_array_equal(loaded.novelty(familiar), g_familiar)

    adapted = head.adapt(novel, "standardise")
    z = adapted.decision_function(novel) / head.temperature_
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(adapted.predict_proba(novel), expected / expected.sum(axis=1, keepdims=True))
    with pytest.raises(ValueError, match="gate"):
        plain.novelty(X)


def _tight_and_loose_corpora(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_three_corpora's clips with corpora b and c moved farther from a, and every speaker of b
    and c moved by its own offset (speakers spread far apart) while a's speakers stay together."""
    X, y, groups = _three_corpora(seed)
    loose = ~np.char.startswith(groups, "a:")
    X[:, 24:30] += np.where(np.char.startswith(groups, "b:"), 4.0, np.where(loose, -4.0, 0.0))[:, None]
    rng = np.random.default_rng(100 + seed)
    for speaker in np.unique(groups[loose]):
        X[groups == speaker, :30] += 1.5 * rng.standard_normal(30)
    return X, y, groups


def test_gate_per_corpus_reads_novelty_against_the_nearest_corpus_spread(tmp_path: Path) -> None:
    """gate_per_corpus: each training corpus gets its own threshold from its own held-out
    speakers, so a clip a little outside the tight corpus a reads as novel although the loose
    corpora's speakers lie that far apart; new speakers of every corpus stay familiar. Without
    it every corpus shares one threshold (a head saved with a single value loads the same)."""
    X, y, groups = _tight_and_loose_corpora(seed=0)
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]]], Cs=(0.1,), absent_weight=0.1,
                  selection="corpora", min_corpus_clips=50, offset_l2=1e-3, gate=True)
    pooled = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    own = LayerwiseHead(**kwargs, gate_per_corpus=True).fit(X, y, groups=groups)
    assert pooled.gate_threshold_ is not None and own.gate_threshold_ is not None
    assert np.ptp(pooled.gate_threshold_) == 0 and own.gate_threshold_[0] < own.gate_threshold_[1:].min() - 0.3
    new, _, new_groups = _tight_and_loose_corpora(seed=1)
    for corpus in "abc":  # new speakers: no more novel than with one threshold (a: near 0)
        rows = np.char.startswith(new_groups, corpus + ":")
        assert np.median(own.novelty(new[rows])) <= max(np.median(pooled.novelty(new[rows])), 0.05)
    outside_a = new[np.char.startswith(new_groups, "a:")].copy()
    outside_a[:, 24:30] += 1.7 * np.array([1, -1, 1, -1, 1, -1])  # away from a, no nearer to b or c
    assert np.median(pooled.novelty(outside_a)) < 0.5 < np.median(own.novelty(outside_a))

    folder = own.save(tmp_path / "own")
    np.testing.assert_array_equal(LayerwiseHead.load(folder).novelty(outside_a), own.novelty(outside_a))
    folder = pooled.save(tmp_path / "pooled")
    with np.load(folder / "head.npz") as z:
        arrays = dict(z)
    arrays["gate_threshold"], arrays["gate_width"] = arrays["gate_threshold"][0], arrays["gate_width"][0]
    np.savez(folder / "head.npz", **arrays)
    np.testing.assert_array_equal(LayerwiseHead.load(folder).predict_proba(outside_a), pooled.predict_proba(outside_a))


def _corpus_b_speaks_its_own_code(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """_three_corpora, but corpus b shows class k where a and c show class k + 1 (so the shared
    head, trained mostly on a and c, misreads b), and corpus c has no clip of the last label."""
    X, y, groups = _three_corpora(seed)
    k = np.searchsorted(LABELS, y)
    b = np.char.startswith(groups, "b:")
    X[np.flatnonzero(b), 8 + k[b]] -= 3.0
    X[np.flatnonzero(b), 8 + (k[b] + 1) % 4] += 3.0
    keep = ~(np.char.startswith(groups, "c:") & (y == LABELS[3]))
    return X[keep], y[keep], groups[keep]


def test_experts_decide_among_their_corpus_labels_for_familiar_clips(tmp_path: Path) -> None:
    """experts: new speakers of corpus b (its own code) are read by b's expert, far better than
    by the shared head; clips of no training corpus are calibrated as without experts; a familiar
    clip keeps the shared head's probability of a label its nearest corpus lacks; saved and
    loaded alike; adapt() leaves the experts out."""
    X, y, groups = _corpus_b_speaks_its_own_code(seed=0)
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]]], Cs=(0.03, 0.1), absent_weight=0.1,
                  selection="corpora", min_corpus_clips=50, offset_l2=1e-3, gate=True)
    shared = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    head = LayerwiseHead(**kwargs, experts=True).fit(X, y, groups=groups)
    assert head.has_experts and not shared.has_experts and head.expert_corpora_ == ["a", "b", "c"]
    np.testing.assert_array_equal(head.expert_labels_[2], np.isin(head.classes_, LABELS[:3]))
    assert set(head.expert_C_) <= {0.03, 0.1} and np.all(head.expert_temperature_ > 0)
    assert head.expert_used_[1] and head.expert_score_[1] > 0.85     # b's expert beats the shared head on b

    Xt, yt, gt = _corpus_b_speaks_its_own_code(seed=1)
    b = np.char.startswith(gt, "b:")
    assert np.median(head.novelty(Xt[b])) < 0.05
    assert np.mean(head.predict(Xt[b]) == yt[b]) > 0.85 > 0.5 > np.mean(shared.predict(Xt[b]) == yt[b])
    assert np.mean(head.predict(Xt[~b]) == yt[~b]) > 0.85

    novel = Xt.copy()
    novel[:, 24:30] += 20.0
    assert head.novelty(novel).min() > 1 - 1e-6
    np.testing.assert_allclose(head.calibrated_logits(novel), shared.calibrated_logits(novel), atol=1e-4)

    c = np.flatnonzero(np.char.startswith(gt, "c:"))
    selected = head._selected(Xt[c])
    z = head._logits_of(selected)
    familiar = head._familiar_logits(selected, z, np.full(len(c), 2))
    p_shared = np.exp(z / head.temperature_familiar_)
    p_shared /= p_shared.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(familiar).sum(axis=1), 1.0)
    last = np.flatnonzero(head.classes_ == LABELS[3])[0]
    np.testing.assert_allclose(np.exp(familiar[:, last]), p_shared[:, last])

    unused = head.expert_used_.copy()
    head.expert_used_ = np.zeros(3, dtype=bool)                    # no expert used: the shared head's familiar logits
    np.testing.assert_allclose(head.predict_proba(Xt), shared.predict_proba(Xt), atol=1e-10)
    head.expert_used_ = unused

    loaded = LayerwiseHead.load(head.save(tmp_path / "head"))
    assert loaded.expert_corpora_ == head.expert_corpora_
    np.testing.assert_array_equal(loaded.expert_used_, head.expert_used_)
    np.testing.assert_array_equal(loaded.predict_proba(Xt), head.predict_proba(Xt))
    adapted = head.adapt(Xt[b], "standardise")
    assert not adapted.has_experts


def test_gate_needs_two_corpora_to_hold_out() -> None:
    """With one corpus there is no held-out corpus to calibrate novel clips on: a gated head is
    the plain head (no offsets either)."""
    X, y, groups = _layered_data()
    kwargs = dict(blocks=[(3, 8), (3, 6)], layer_sets=[[[1], [0]]], Cs=(0.1,), selection="corpora")
    plain = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    gated = LayerwiseHead(**kwargs, gate=True, offset_l2=1e-3).fit(X, y, groups=groups)
    assert gated.gate_threshold_ is None
    np.testing.assert_array_equal(gated.offsets_, 0.0)
    np.testing.assert_array_equal(gated.predict_proba(X), plain.predict_proba(X))


def test_head_saves_and_loads_without_pickle(tmp_path: Path) -> None:
    X, y, groups = _layered_data()
    head = LayerwiseHead(blocks=[(3, 8), (3, 6)], layer_sets=[[[1, 2], [0]]], Cs=(0.1,), normalise="utterance").fit(X, y, groups=groups)
    loaded = LayerwiseHead.load(head.save(tmp_path / "head"))
    np.testing.assert_array_equal(loaded.predict_proba(X), head.predict_proba(X))
    assert loaded.layer_set_ == [[1, 2], [0]] and loaded.temperature_ == head.temperature_


def test_mean_statistics_read_only_the_first_half_of_each_state(tmp_path: Path) -> None:
    """Each state's 8 values are 4 means then 4 standard deviations: a head told to read the means
    alone must not see a class carried by a standard deviation."""
    X, y, groups = _layered_data()
    Xt, yt, _ = _layered_data(seed=1)
    for data in (X, Xt):  # the class moves from the state's means (values 0-3) to its deviations (4-7)
        data[:, 12:16] = data[:, 8:12]
        data[:, 8:12] = np.random.default_rng(2).standard_normal((len(data), 4))
    kwargs = {"blocks": [(3, 8), (3, 6)], "layer_sets": [[[1], [0]]], "Cs": (0.1,)}
    both = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    means = LayerwiseHead(statistics="mean", **kwargs).fit(X, y, groups=groups)
    assert np.mean(both.predict(Xt) == yt) > 0.85
    assert np.mean(means.predict(Xt) == yt) < 0.4
    assert means.coef_.shape[0] == 4 + 3
    loaded = LayerwiseHead.load(means.save(tmp_path / "head"))
    assert loaded.statistics == "mean"
    np.testing.assert_array_equal(loaded.predict_proba(Xt), means.predict_proba(Xt))
    with pytest.raises(ValueError, match="statistics"):
        LayerwiseHead(statistics="median", **kwargs).fit(X, y, groups=groups)


def test_clip_keeps_one_wild_value_from_deciding_a_clip(tmp_path: Path) -> None:
    """A scored clip whose one noise feature lies 1000 standard deviations out: unclipped, that
    value decides the class; clipped to 3, the clip's informative values still do."""
    X, y, groups = _layered_data()
    Xt, yt, _ = _layered_data(seed=1)
    kwargs = {"blocks": [(3, 8), (3, 6)], "layer_sets": [[[1], [0]]], "Cs": (0.1,)}
    plain = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    clipped = LayerwiseHead(clip=3.0, **kwargs).fit(X, y, groups=groups)
    np.testing.assert_array_equal(plain.coef_, clipped.coef_)  # training clips are never clipped
    column = 8 + 5  # state 1 of block 0, a value that carries no class; 6th of the selected columns
    pulled = plain.classes_[np.argmax(plain.coef_[5])]
    rows = yt != pulled
    wild = Xt[rows].copy()
    wild[:, column] = X[:, column].mean() + 1000 * X[:, column].std()
    assert np.all(plain.predict(wild) == pulled)
    assert np.mean(clipped.predict(wild) == yt[rows]) > 0.8
    assert np.abs(clipped.embed(wild)).max() <= 3.0
    loaded = LayerwiseHead.load(clipped.save(tmp_path / "head"))
    assert loaded.clip == 3.0 and LayerwiseHead.load(plain.save(tmp_path / "plain")).clip is None
    np.testing.assert_array_equal(loaded.predict_proba(wild), clipped.predict_proba(wild))


def test_mlp_learns_a_boundary_no_linear_model_can() -> None:
    """XOR of two signs: a linear model stays near chance, the network does not; the same seed
    gives the same network, and a label the clips' corpus lacks is never the answer."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 2))
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    mask = np.zeros((600, 3), bool)
    mask[:, :2] = True
    Xt = rng.standard_normal((400, 2))
    yt = ((Xt[:, 0] > 0) ^ (Xt[:, 1] > 0)).astype(int)
    kwargs = {"hidden": 32, "dropout": 0.0, "input_dropout": 0.0, "epochs": 60, "members": 2, "lr": 1e-2}
    net = PartialLabelMLP(**kwargs).fit(X, y, mask, np.ones(600))
    linear = PartialLabelLogistic(C=1.0).fit(X, y, mask, np.ones(600))
    assert np.mean(linear.decision_function(Xt)[:, :2].argmax(axis=1) == yt) < 0.65
    assert np.mean(net.decision_function(Xt)[:, :2].argmax(axis=1) == yt) > 0.9
    again = PartialLabelMLP(**kwargs).fit(X, y, mask, np.ones(600))
    np.testing.assert_array_equal(again.decision_function(Xt), net.decision_function(Xt))
    assert net.w1_.shape == (2, 2, 32) and net.w2_.shape == (2, 32, 3)


def test_mlp_head_blends_the_two_log_probabilities(tmp_path: Path) -> None:
    """With ``mlp`` the head's log-probabilities are the weighted mean of its linear part's and
    the network's; weight 0 gives the linear head's; saving keeps the network; adapting works."""
    X, y, groups = _layered_data()
    Xt, yt, _ = _layered_data(seed=1)
    kwargs = {"blocks": [(3, 8), (3, 6)], "layer_sets": [[[1], [0]]], "Cs": (0.1,)}
    mlp = {"hidden": 16, "dropout": 0.2, "epochs": 20, "members": 2}
    plain = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    head = LayerwiseHead(mlp=mlp, mlp_weight=0.3, **kwargs).fit(X, y, groups=groups)
    assert head.blended and not plain.blended
    np.testing.assert_array_equal(head.coef_, plain.coef_)
    net = head.mlp_.decision_function(head.embed(Xt)) / head.mlp_temperature_
    expected = 0.7 * np.log(plain.predict_proba(Xt)) + 0.3 * (net - logsumexp(net, axis=1, keepdims=True))
    np.testing.assert_allclose(np.log(head.predict_proba(Xt)), expected - logsumexp(expected, axis=1, keepdims=True),
                               atol=1e-6)
    assert np.mean(head.predict(Xt) == yt) > 0.85
    zero = LayerwiseHead(mlp=mlp, mlp_weight=0.0, **kwargs).fit(X, y, groups=groups)
    np.testing.assert_allclose(zero.predict_proba(Xt), plain.predict_proba(Xt), atol=1e-9)
    loaded = LayerwiseHead.load(head.save(tmp_path / "head"))
    assert loaded.blended and loaded.mlp_weight == 0.3 and loaded.mlp_temperature_ == head.mlp_temperature_
    np.testing.assert_allclose(loaded.predict_proba(Xt), head.predict_proba(Xt), atol=1e-6)
    assert not LayerwiseHead.load(plain.save(tmp_path / "plain")).blended
    balanced = head.adapt(Xt[yt != "sad"], "balance").predict_proba(Xt[yt != "sad"])
    assert np.allclose(balanced.mean(axis=0), 0.25, atol=1e-3)
    with pytest.raises(ValueError, match="mlp_weight"):
        LayerwiseHead(mlp=mlp, mlp_weight=1.5, **kwargs).fit(X, y, groups=groups)


def test_mlp_head_calibrates_an_overconfident_network() -> None:
    """A network trained far past the point of fitting is overconfident on new speakers; the
    temperature fitted on the inner folds' held-out speakers lowers its held-out NLL."""
    X, y, groups = _layered_data()
    Xt, yt, _ = _layered_data(seed=1)
    X[:, 8:12] -= 2.0  # weaker class signal, so that new speakers are often wrong
    Xt[:, 8:12] -= 2.0
    kwargs = {"blocks": [(3, 8), (3, 6)], "layer_sets": [[[1], [0]]], "Cs": (0.1,), "mlp_weight": 1.0,
              "mlp": {"hidden": 64, "dropout": 0.0, "input_dropout": 0.0, "epochs": 200, "members": 1, "lr": 1e-2}}
    head = LayerwiseHead(**kwargs).fit(X, y, groups=groups)
    raw = LayerwiseHead(calibrate=False, **kwargs).fit(X, y, groups=groups)
    assert raw.mlp_temperature_ == 1.0 and head.mlp_temperature_ > 1.5
    truth = np.searchsorted(head.classes_, yt)

    def nll(model: LayerwiseHead) -> float:
        return float(-np.log(model.predict_proba(Xt)[np.arange(len(yt)), truth]).mean())

    assert nll(head) < nll(raw)


def test_head_refuses_features_of_another_shape() -> None:
    X, y, groups = _layered_data()
    with pytest.raises(ValueError, match="blocks"):
        LayerwiseHead(blocks=[(7, 1024), (5, 768)]).fit(X, y, groups=groups)
