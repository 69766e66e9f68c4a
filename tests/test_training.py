from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from avemotion.core.metrics import (
    confusion,
    macro_f1,
    mean_std,
    per_class,
    summarize_metrics,
    uar,
    war,
)
from avemotion.corpora.table import make_table
from avemotion.estimators.neural import NeuralClassifier
from avemotion.estimators.trainer import Trainer, embed, predict_proba
from avemotion.models.base import MODELS, EmotionNet, register
from avemotion.training import cross_validate


class TinyMLP(EmotionNet):
    """A one-hidden-layer network, enough for separable blobs."""

    def __init__(self, n_classes: int, n_features: int = 6, hidden: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.embedding_dim = hidden
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


if "_test_mlp" not in MODELS:
    register("_test_mlp")(TinyMLP)

LABELS4 = ("neutral", "happy", "sad", "angry")


def blobs(
    n: int, n_classes: int = 4, spread: float = 0.5, seed: int = 0, dim: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points around one centre per class (unit-distance-3 centres), float32 / int64."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(0, 3, size=(n_classes, dim))
    y = np.arange(n) % n_classes
    X = centres[y] + rng.normal(0, spread, size=(n, dim))
    return X.astype(np.float32), y.astype(np.int64)


def fit_tiny(seed: int = 0, n: int = 120, **trainer_params: object) -> tuple[TinyMLP, object, tuple]:
    X, y = blobs(n, seed=1)
    Xv, yv = blobs(40, seed=2)
    torch.manual_seed(0)
    model = TinyMLP(4)
    params = {"epochs": 20, "batch_size": 16, "lr": 0.01, "seed": seed, "num_threads": 1, **trainer_params}
    result = Trainer(**params).fit(model, X, y, Xv, yv)
    return model, result, (X, y, Xv, yv)


# --- metrics -------------------------------------------------------------------------------


def test_metrics_on_a_hand_example() -> None:
    y_true = np.array([0] * 8 + [1] * 2)
    y_pred = np.array([0] * 8 + [0, 1])
    assert uar(y_true, y_pred) == pytest.approx((1.0 + 0.5) / 2)
    assert war(y_true, y_pred) == pytest.approx(0.9)
    f1_0 = 2 * (8 / 9) * 1 / (8 / 9 + 1)
    f1_1 = 2 * 1 * 0.5 / 1.5
    assert macro_f1(y_true, y_pred) == pytest.approx((f1_0 + f1_1) / 2)
    assert confusion(y_true, y_pred, 3).tolist() == [[8, 0, 0], [1, 1, 0], [0, 0, 0]]
    scores = per_class(y_true, y_pred, ["a", "b", "c"])
    assert scores["b"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(f1_1), "support": 2}
    assert scores["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # A class only predicted, never true, does not count in UAR.
    assert uar([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx(0.75)


def test_summarize_metrics_and_mean_std() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    summary = summarize_metrics(np.array([0, 1, 1, 1]), proba, ["sad", "happy"])
    assert json.loads(json.dumps(summary)) == summary
    assert summary["n"] == 4 and summary["war"] == 0.75 and summary["uar"] == pytest.approx((1 + 2 / 3) / 2)
    assert summary["confusion"] == [[1, 0], [1, 2]]
    assert set(summary["per_class"]) == {"sad", "happy"}
    mean, std = mean_std([{"uar": 0.5, "x": None}, {"uar": 0.7}], ["uar", "x"])
    assert mean == {"uar": pytest.approx(0.6), "x": None}
    assert std["uar"] == pytest.approx(0.1) and std["x"] is None


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_scikit_learn(seed: int) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n_classes = 5
    y_true = rng.choice(n_classes - 1, size=60, p=[0.5, 0.3, 0.15, 0.05])  # imbalanced, class 4 absent
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, n_classes, 60))
    assert uar(y_true, y_pred) == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    assert war(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    f1 = skm.f1_score(y_true, y_pred, average="macro", zero_division=0)
    assert macro_f1(y_true, y_pred) == pytest.approx(f1)
    labels = list(range(n_classes))
    expected = skm.confusion_matrix(y_true, y_pred, labels=labels)
    np.testing.assert_array_equal(confusion(y_true, y_pred, n_classes), expected)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    got = per_class(y_true, y_pred, [str(c) for c in labels])
    for c in labels:
        assert got[str(c)] == {"precision": pytest.approx(p[c]), "recall": pytest.approx(r[c]),
                               "f1": pytest.approx(f[c]), "support": s[c]}


# --- trainer -------------------------------------------------------------------------------


def test_trainer_learns_separable_blobs() -> None:
    model, result, (_, _, Xv, _yv) = fit_tiny(patience=None)
    assert result.best_val_uar >= 0.95
    assert len(result.history) == 20 and not result.stopped_early
    keys = {"epoch", "train_loss", "val_loss", "val_uar", "val_war", "lr", "seconds"}
    assert set(result.history[0]) == keys
    proba = predict_proba(model, Xv)
    assert proba.shape == (40, 4) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert embed(model, Xv, batch_size=7).shape == (40, 16)
    assert not model.training


def test_early_stopping_when_validation_stops_improving() -> None:
    _, result, _ = fit_tiny(lr=0.0, patience=3, epochs=50)
    assert result.stopped_early and result.best_epoch == 1
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4]


def test_best_epoch_is_restored(tmp_path: Path) -> None:
    X, y = blobs(80, spread=3.0, seed=3)
    Xv, yv = blobs(40, spread=3.0, seed=4)
    torch.manual_seed(0)
    model = TinyMLP(4, hidden=32)
    ckpt = tmp_path / "best.pt"
    trainer = Trainer(
        epochs=60, batch_size=8, optimizer="sgd", lr=0.3, patience=4, num_threads=1, checkpoint_path=ckpt
    )
    result = trainer.fit(model, X, y, Xv, yv)
    assert result.stopped_early and result.best_epoch < len(result.history)
    best = max(h["val_uar"] for h in result.history)
    assert result.best_val_uar == best == result.history[result.best_epoch - 1]["val_uar"]
    assert uar(yv, predict_proba(model, Xv).argmax(axis=1)) == pytest.approx(best)
    saved = torch.load(ckpt, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())


def test_without_validation_trains_all_epochs_and_keeps_the_last() -> None:
    X, y = blobs(60)
    torch.manual_seed(0)
    result = Trainer(epochs=5, batch_size=16, patience=2, num_threads=1).fit(TinyMLP(4), X, y)
    assert result.best_epoch == 5 and result.best_val_uar is None
    assert [h["val_uar"] for h in result.history] == [None] * 5


def test_same_seed_same_weights_other_seed_differs() -> None:
    X, y = blobs(64, seed=1)
    torch.manual_seed(0)
    start = TinyMLP(4, dropout=0.3)
    fits = []
    threads = torch.get_num_threads()
    for seed in (7, 7, 8):
        model = copy.deepcopy(start)
        Trainer(epochs=3, batch_size=16, seed=seed, mixup_alpha=0.2, num_threads=1).fit(model, X, y)
        fits.append(model.state_dict())
    assert all(torch.equal(fits[0][k], fits[1][k]) for k in fits[0])
    assert not all(torch.equal(fits[0][k], fits[2][k]) for k in fits[0])
    assert torch.get_num_threads() == threads and not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize(
    "params",
    [
        {"class_balance": "loss"},
        {"class_balance": "sampler"},
        {"class_balance": "none", "optimizer": "adamw", "scheduler": "cosine", "weight_decay": 0.01},
        {"optimizer": "sgd", "scheduler": "plateau", "label_smoothing": 0.1, "grad_clip": 1.0,
         "mixup_alpha": 0.4},
        {"precision": "bf16", "mixup_alpha": 0.2},
    ],
)
def test_trainer_options_run_on_imbalanced_data(params: dict) -> None:
    X, y = blobs(200, seed=5)
    keep = (y != 3) | (np.arange(200) % 5 == 0)  # class 3 is rare
    calls: list[int] = []

    def jitter(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        calls.append(len(x))
        return x + 0.05 * torch.randn(x.shape, generator=gen, device=x.device)

    Xv, yv = blobs(40, seed=6)
    torch.manual_seed(0)
    model = TinyMLP(4)
    result = Trainer(epochs=6, batch_size=32, lr=0.02, num_threads=1, batch_transform=jitter, **params).fit(
        model, X[keep], y[keep], Xv, yv
    )
    assert result.best_val_uar > 0.5
    assert sum(calls) <= len(result.history) * int(keep.sum())  # training batches only


def test_trainer_rejects_bad_configuration_and_labels() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(optimizer="lbfgs")
    with pytest.raises(ValueError, match="precision"):
        Trainer(precision="fp8")
    X, y = blobs(20)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        Trainer(epochs=1).fit(TinyMLP(4), X, y + 1)


# --- estimator -----------------------------------------------------------------------------


def test_neural_classifier_save_load_round_trip(tmp_path: Path) -> None:
    X, y = blobs(80, seed=1)
    Xv, yv = blobs(40, seed=2)
    names = np.array(LABELS4)
    trainer_params = {"epochs": 8, "batch_size": 16, "lr": 0.02, "num_threads": 1}
    est = NeuralClassifier("_test_mlp", LABELS4, {"hidden": 8}, trainer_params)
    est.fit(X, names[y], Xv, names[yv], extra_train=[(X + 0.1, y)])
    assert list(est.classes_) == list(LABELS4) and len(est.history_) >= 1
    assert set(est.predict(Xv)) <= set(LABELS4)
    assert (est.predict(Xv) == names[yv]).mean() > 0.9
    folder = est.save(tmp_path / "clf")
    config = json.loads((folder / "config.json").read_text())
    assert config["model"] == "_test_mlp" and config["labels"] == list(LABELS4)
    assert config["model_params"] == {"hidden": 8} and config["torch_version"] == torch.__version__
    assert "avemotion_version" in config
    loaded = NeuralClassifier.load(folder)
    np.testing.assert_array_equal(loaded.predict_proba(Xv), est.predict_proba(Xv))
    np.testing.assert_array_equal(loaded.embed(Xv), est.embed(Xv))
    assert loaded.history_ == est.history_ and loaded.best_epoch_ == est.best_epoch_
    half = NeuralClassifier.load(est.save(tmp_path / "half", half=True))
    assert (tmp_path / "half" / "model.pt").stat().st_size < (folder / "model.pt").stat().st_size
    assert all(p.dtype == torch.float32 for p in half.model_.parameters())
    np.testing.assert_allclose(half.predict_proba(Xv), est.predict_proba(Xv), atol=1e-2)


def test_neural_classifier_same_seed_same_predictions() -> None:
    X, y = blobs(64, seed=1)

    def proba(seed: int) -> np.ndarray:
        params = {"epochs": 3, "batch_size": 16, "seed": seed, "num_threads": 1}
        return NeuralClassifier("_test_mlp", LABELS4, {"dropout": 0.2}, params).fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(proba(3), proba(3))
    assert not np.array_equal(proba(3), proba(4))
    with pytest.raises(ValueError, match="calm"):
        NeuralClassifier("_test_mlp", LABELS4).fit(X[:2], ["calm", "happy"])


# --- cross-validation ----------------------------------------------------------------------


def ravdess_like(per_actor: int = 10, dim: int = 6) -> tuple[pd.DataFrame, np.ndarray]:
    """Actors 1-20, emotions cycling through LABELS4 + surprised; features separate the emotions."""
    emotions = (*LABELS4, "surprised")
    rows = [
        {
            "clip_id": f"{a:02d}-{i:02d}",
            "corpus": "ravdess",
            "speaker": f"ravdess:{a:02d}",
            "gender": "male" if a % 2 else "female",
            "emotion": emotions[(a + i) % len(emotions)],
        }
        for a in range(1, 21)
        for i in range(per_actor)
    ]
    table = make_table(rows)
    centres = np.random.default_rng(123).normal(0, 3, size=(len(emotions), dim))
    codes = table["emotion"].map({e: k for k, e in enumerate(emotions)}).to_numpy(dtype=int)
    X = centres[codes] + np.random.default_rng(0).normal(0, 0.7, size=(len(table), dim))
    return table, X.astype(np.float32)


def check_cv_outputs(out: Path, result: object, table: pd.DataFrame) -> dict:
    for name in ("predictions.csv", "metrics.json"):
        assert (out / name).is_file()
    assert not list(out.glob(".*.tmp"))
    predictions = pd.read_csv(out / "predictions.csv", dtype={"clip_id": str})
    in_labels = table.loc[table["emotion"].isin(LABELS4), "clip_id"]
    assert sorted(predictions["clip_id"]) == sorted(in_labels)  # every clip exactly once
    assert list(predictions.columns) == ["clip_id", "speaker", "fold", "y_true", "y_pred"] + [
        f"prob_{e}" for e in LABELS4
    ]
    probs = predictions[[f"prob_{e}" for e in LABELS4]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-6)
    speakers = table["speaker"].to_numpy()
    for fold in result.folds:
        test = set(speakers[fold.test])
        assert not test & set(speakers[fold.train]) and not test & set(speakers[fold.validation])
        assert set(predictions.loc[predictions["fold"] == fold.name, "speaker"]) == test
        assert (out / f"history_{fold.name}.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "ravdess-si5" and metrics["labels"] == list(LABELS4)
    assert len(metrics["folds"]) == 5 and metrics["dropped"] == {"surprised": len(table) - len(in_labels)}
    for key in ("uar", "war", "macro_f1"):
        assert 0 <= metrics["mean"][key] <= 1 and metrics["std"][key] >= 0
    assert metrics["overall"]["n"] == len(in_labels)
    return metrics


def test_cross_validate_neural_classifier(tmp_path: Path) -> None:
    table, X = ravdess_like()
    seen_rows: list[np.ndarray] = []

    def augmented(rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        seen_rows.append(rows)
        return [(X[rows] + 0.05, table["emotion"].to_numpy()[rows])]

    def make() -> NeuralClassifier:
        params = {"epochs": 15, "batch_size": 16, "lr": 0.02, "patience": 4, "num_threads": 1}
        return NeuralClassifier("_test_mlp", LABELS4, {}, params)

    out = tmp_path / "cv"
    result = cross_validate(
        make,
        X,
        table,
        split="ravdess-si5",
        labels=LABELS4,
        out_dir=out,
        extra_train=augmented,
        progress=False,
    )
    metrics = check_cv_outputs(out, result, table)
    assert metrics["overall"]["uar"] > 0.9
    for fold, rows in zip(result.folds, seen_rows):
        assert len(fold.validation) and np.array_equal(rows, fold.train)  # augment training rows only
    for record in metrics["folds"]:
        assert record["n_val"] > 0 and record["n_extra"] == record["n_train"] and record["best_epoch"] >= 1
        assert len(json.loads((out / f"history_{record['name']}.json").read_text())) >= record["best_epoch"]


def test_cross_validate_scikit_learn_estimators(tmp_path: Path) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    table, X = ravdess_like()
    for k, make in enumerate(
        [
            lambda: linear_model.LogisticRegression(max_iter=500),
            lambda: make_pipeline(StandardScaler(), linear_model.LogisticRegression(max_iter=500)),
        ]
    ):
        out = tmp_path / f"cv{k}"
        result = cross_validate(
            make, X, table, split="ravdess-si5", labels=LABELS4, out_dir=out, progress=False
        )
        metrics = check_cv_outputs(out, result, table)
        assert metrics["overall"]["uar"] > 0.9
        assert all(r["n_val"] == 0 and r["best_epoch"] is None for r in metrics["folds"])
        assert json.loads((out / "history_si5-fold1.json").read_text()) == []


def test_cross_validate_resumes_finished_folds(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    table, X = ravdess_like()
    fits: list[int] = []

    class Counting(LogisticRegression):
        def fit(self, X, y, sample_weight=None):  # type: ignore[no-untyped-def]
            fits.append(len(X))
            return super().fit(X, y, sample_weight)

    def run(C: float, resume: bool = True):  # type: ignore[no-untyped-def]
        return cross_validate(
            lambda: Counting(C=C, max_iter=500), X, table, split="ravdess-si5", labels=LABELS4,
            out_dir=tmp_path / "cv", progress=False, resume=resume,
        )

    first = run(1.0)
    assert len(fits) == 5 and len(list((tmp_path / "cv").glob("fold_*.json"))) == 5
    (tmp_path / "cv" / "fold_si5-fold3.json").unlink()  # as if the run had stopped in fold 3
    second = run(1.0)
    assert len(fits) == 6  # only fold 3 trained again
    pd.testing.assert_frame_equal(first.predictions, second.predictions, check_dtype=False)
    for key in ("uar", "war", "macro_f1", "log_loss"):
        assert second.metrics["mean"][key] == pytest.approx(first.metrics["mean"][key], rel=1e-9)
    run(0.5)  # another estimator: nothing reused
    assert len(fits) == 11
    run(0.5, resume=False)
    assert len(fits) == 16
