"""Fusion: label mapping, late-fusion rules with missing modalities, the BEL update rules by
hand, the fusion networks and the multimodal estimator (synthetic data; the shipped
``ravdess-av-au`` bundle on a real clip + its AU row)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avemotion.fusion import (
    BEL,
    MultimodalClassifier,
    map_proba,
    weighted_mean,
    weighted_product,
)
from avemotion.fusion.bel import (
    bel_forward,
    bel_step,
    gate_forward,
    mobel_step,
    posterior,
)
from avemotion.fusion.rules import fit_weights
from avemotion.models import build_model
from avemotion.models.fusion import split_modalities

SEVEN = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
EIGHT = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def test_map_proba_calm_takes_neutral_and_rows_renormalise() -> None:
    face = np.array([[0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]])
    out = map_proba(face, SEVEN, EIGHT)
    # calm copies neutral's 0.4, then the row (sum 1.4) is renormalised.
    np.testing.assert_allclose(out[0, :2], [0.4 / 1.4, 0.4 / 1.4])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_map_proba_drops_extra_source_labels_and_fills_uncovered() -> None:
    audio = np.array([[0.5, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.0]])
    six = ("happy", "sad", "angry", "fearful", "disgust", "surprised")
    out = map_proba(audio, EIGHT, six)
    np.testing.assert_allclose(out[0], np.array([0.1, 0.1, 0.1, 0.05, 0.05, 0.0]) / 0.4)
    contempt = map_proba(np.array([[0.6, 0.4]]), ("happy", "sad"), ("happy", "sad", "contempt"))
    # contempt: no column, no equivalent -> the mean of the covered ones (0.5), then renormalised.
    np.testing.assert_allclose(contempt[0], [0.6 / 1.5, 0.4 / 1.5, 0.5 / 1.5])
    with pytest.raises(ValueError, match="share nothing"):
        map_proba(np.array([[1.0]]), ("contempt",), ("happy",))


def test_rules_fuse_what_is_present() -> None:
    a = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]])
    v = np.array([[0.6, 0.3, 0.1], [np.nan, np.nan, np.nan]])
    mean = weighted_mean([a, v])
    np.testing.assert_allclose(mean[0], [0.65, 0.25, 0.1])
    np.testing.assert_allclose(mean[1], a[1])  # face missing: the audio alone
    prod = weighted_product([a, v])
    np.testing.assert_allclose(prod[0], np.array([0.42, 0.06, 0.01]) / 0.49)
    np.testing.assert_allclose(prod[1], a[1])
    np.testing.assert_allclose(weighted_mean([a, v], (1.0, 0.0))[0], a[0])
    with pytest.raises(ValueError, match="no modality"):
        weighted_mean([v, v])


def test_fit_weights_prefers_the_informative_modality() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    good = np.eye(3)[y] * 0.8 + 0.2 / 3
    noise = rng.dirichlet(np.ones(3), 300)
    w = fit_weights([noise, good], y)
    assert w[1] > w[0] and abs(sum(w) - 1) < 1e-9


def test_bel_step_matches_the_equations_by_hand() -> None:
    V = np.array([[0.1, -0.2, 0.05], [0.0, 0.3, -0.1]])  # (C=2, n+1=3)
    W = np.array([[0.2, 0.1], [-0.1, 0.4]])  # (C=2, n=2)
    p, t = np.array([0.5, 1.0]), np.array([1.0, 0.0])
    alpha, beta, gamma = 0.1, 0.2, 0.01
    # By hand: p_th = max(p) = 1.0
    e_a = np.array([0.1 * 0.5 - 0.2 * 1.0 + 0.05 * 1.0, 0.0 * 0.5 + 0.3 * 1.0 - 0.1 * 1.0])  # [-0.1, 0.2]
    e_o = np.array([0.2 * 0.5 + 0.1 * 1.0, -0.1 * 0.5 + 0.4 * 1.0])  # [0.2, 0.35]
    E = np.tanh(np.tanh(e_a) - np.tanh(e_o))
    got_e_a, got_e_o, got_E = bel_forward(V, W, p)
    np.testing.assert_allclose(got_e_a, e_a)
    np.testing.assert_allclose(got_e_o, e_o)
    np.testing.assert_allclose(got_E, E)
    V1, W1 = bel_step(V, W, p, t, alpha, beta, gamma)
    # dv_ij = -gamma v_ij + alpha p_j max(0, t_i - tanh(e_a_i)), with p_{n+1} = p_th
    amg = np.maximum(0.0, t - np.tanh(e_a))  # [1 - tanh(-0.1), 0]
    expected_V = V - gamma * V + alpha * np.array([[amg[0] * 0.5, amg[0] * 1.0, amg[0] * 1.0], [0.0, 0.0, 0.0]])
    # dw_ij = beta p_j (E_i - t_i)
    expected_W = W + beta * np.array([[(E[0] - 1) * 0.5, (E[0] - 1) * 1.0], [E[1] * 0.5, E[1] * 1.0]])
    np.testing.assert_allclose(V1, expected_V)
    np.testing.assert_allclose(W1, expected_W)
    # the update moves the output towards the target
    assert bel_forward(V1, W1, p)[2][0] > E[0]


def test_mobel_step_posterior_and_gate_update() -> None:
    rng = np.random.default_rng(1)
    experts = [(rng.normal(0, 0.1, (2, 4)), rng.normal(0, 0.1, (2, 3))) for _ in range(2)]
    gate = (rng.normal(0, 0.1, (2, 4)), rng.normal(0, 0.1, (2, 3)))
    p, t = np.array([0.2, -0.4, 0.9]), np.array([0.0, 1.0])
    E = np.stack([bel_forward(V, W, p)[2] for V, W in experts])
    e_a_g, g = gate_forward(*gate, p)
    h = g * np.exp(-0.5 * ((t - E) ** 2).sum(axis=1))
    h /= h.sum()
    np.testing.assert_allclose(posterior(g, E, t), h)
    new_experts, (Vg, Wg) = mobel_step(experts, gate, p, t, 0.1, 0.1, 0.05, 0.05, 0.01)
    pa = np.append(p, p.max())
    np.testing.assert_allclose(Vg, gate[0] - 0.01 * gate[0] + 0.05 * np.outer(np.maximum(0, h - np.tanh(e_a_g)), pa))
    np.testing.assert_allclose(Wg, gate[1] + 0.05 * np.outer(g - h, p))
    V0, W0 = bel_step(*experts[0], p, t, 0.1, 0.1, 0.01, h=h[0])
    np.testing.assert_allclose(new_experts[0][0], V0)
    np.testing.assert_allclose(new_experts[0][1], W0)


def _toy(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two noisy modalities (8-d audio-like, 4-d face-like) of 3 classes, 12 speakers."""
    rng = np.random.default_rng(seed)
    y = np.array(["happy", "sad", "angry"])[rng.integers(0, 3, n)]
    centres = {"happy": 0, "sad": 1, "angry": 2}
    k = np.array([centres[v] for v in y])
    audio = rng.normal(0, 1.0, (n, 8)) + np.eye(8)[k] * 1.5
    face = rng.normal(0, 1.0, (n, 4)) + np.eye(4)[k] * 1.5
    groups = np.array([f"s{i % 12}" for i in range(n)])
    return np.concatenate([audio, face], axis=1), y, groups


def test_bel_learns_with_the_seed_rules() -> None:
    X, y, _ = _toy()
    model = BEL(alpha=0.05, beta=0.05, epochs=10).fit(X[:180], y[:180])
    assert (model.predict(X[180:]) == y[180:]).mean() > 0.6
    mix = BEL(n_experts=2, alpha=0.05, beta=0.05, epochs=10).fit(X[:180], y[:180], X[180:], y[180:])
    proba = mix.predict_proba(X[180:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (mix.predict(X[180:]) == y[180:]).mean() > 0.6
    again = BEL.from_arrays(mix.arrays())
    np.testing.assert_allclose(again.predict_proba(X[180:]), proba)


@pytest.mark.parametrize("name", ["fc_fusion", "bel", "mobel", "gated_fusion"])
def test_fusion_networks_take_missing_blocks(name: str) -> None:
    torch.manual_seed(0)
    net = build_model(name, 3, dims=[8, 4], modality_dropout=0.5)
    x = torch.randn(5, 12)
    x[0, 8:] = float("nan")  # no face
    x[1, :8] = float("nan")  # no audio
    net.train()
    assert torch.isfinite(net(x)).all()
    net.eval()
    proba = net.predict_proba(x)
    assert proba.shape == (5, 3) and torch.isfinite(proba).all()
    assert net.embed(x).shape == (5, net.embedding_dim)


def test_split_modalities_dropout_never_hides_everything() -> None:
    x = torch.randn(200, 6)
    x[:50, 3:] = float("nan")
    blocks, mask = split_modalities(x, [3, 3], dropout=0.9, training=True)
    assert (mask.sum(dim=1) >= 1).all()
    assert (mask[:50, 1] == 0).all()
    assert torch.isfinite(torch.cat(blocks, dim=1)).all()


@pytest.mark.parametrize("fusion", ["product", "weighted", "bel", "mobel", "gated", "stacked"])
def test_multimodal_classifier_fits_saves_and_handles_a_missing_modality(fusion: str, tmp_path) -> None:
    X, y, groups = _toy()
    cache: dict = {}
    model = MultimodalClassifier(
        [("audio", 8), ("face", 4)], labels=["happy", "sad", "angry"], fusion=fusion,
        trainer={"epochs": 15}, inner_folds=3, branch_cache=cache,
    )
    model.fit(X[:200], y[:200], X[200:220], y[200:220], groups=groups[:200], groups_val=groups[200:220])
    test = X[220:].copy()
    test[0, 8:] = np.nan  # this clip has no face
    proba = model.predict_proba(test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (model.predict(X[220:]) == y[220:]).mean() > 0.6
    assert model.modalities_used(test)[0] == ["audio"] and model.modalities_used(test)[1] == ["audio", "face"]
    if fusion != "gated":  # rules and fallbacks: a face-less clip gets the audio branch's answer
        np.testing.assert_allclose(proba[0], model.branch_proba(test)["audio"][0])
    again = MultimodalClassifier.load(model.save(tmp_path / "m"))
    np.testing.assert_allclose(again.predict_proba(test), proba, atol=1e-6)


def test_multimodal_classifier_needs_speakers() -> None:
    X, y, _ = _toy(60)
    with pytest.raises(ValueError, match="groups"):
        MultimodalClassifier([("audio", 8), ("face", 4)], labels=["happy", "sad", "angry"]).fit(X, y)
