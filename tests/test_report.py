"""Evaluation report: metrics by hand, label alignment, the HTML page and cross-validation folders."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avemotion.evaluation.report import (
    align_labels,
    evaluate_predictions,
    report_from_crossval,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Six clips, three labels; predictions a a b | b c c against truth a a a | b b c.
LABELS = ["a", "b", "c"]
Y_TRUE = ["a", "a", "a", "b", "b", "c"]
PROBA = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.3, 0.5],
        [0.05, 0.15, 0.8],
    ]
)
FOLDS = ["f1", "f1", "f1", "f2", "f2", "f2"]


def test_evaluate_predictions_by_hand() -> None:
    m = evaluate_predictions(Y_TRUE, PROBA, LABELS, folds=FOLDS)
    # recall a 2/3, b 1/2, c 1; precision a 1, b 1/2, c 1/2; F1 a 0.8, b 0.5, c 2/3
    assert m["n"] == 6 and m["labels"] == LABELS
    assert m["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["war"] == pytest.approx(4 / 6)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    expected_a = {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3, "auc": 1.0}
    assert m["per_class"]["a"] == pytest.approx(expected_a)
    # b: positives 0.8, 0.3 against negatives 0.1, 0.2, 0.6, 0.15 -> 7 of 8 pairs ordered right
    assert m["per_class"]["b"]["auc"] == pytest.approx(7 / 8)
    assert m["per_class"]["c"]["auc"] == pytest.approx(1.0)
    assert m["roc_auc_macro"] == pytest.approx((1 + 7 / 8 + 1) / 3)
    assert m["dropped_clips"] == {} and m["dropped_model_labels"] == []
    # fold f1: truth a a a, pred a a b -> UAR 2/3, macro-F1 over {a, b} = (0.8 + 0) / 2
    # fold f2: truth b b c, pred b c c -> UAR 3/4, F1 b = c = 2/3
    f1, f2 = m["folds"]
    assert f1 == pytest.approx({"name": "f1", "n": 3, "uar": 2 / 3, "war": 2 / 3, "macro_f1": 0.4})
    assert f2 == pytest.approx({"name": "f2", "n": 3, "uar": 0.75, "war": 2 / 3, "macro_f1": 2 / 3})
    assert m["fold_mean"]["uar"] == pytest.approx((2 / 3 + 0.75) / 2)
    assert m["fold_std"]["uar"] == pytest.approx(abs(0.75 - 2 / 3) / 2)
    json.dumps(m, allow_nan=False)


def test_evaluate_predictions_per_speaker_lowest_first(tmp_path: Path) -> None:
    # speaker s1: truth a a b, pred a b b -> UAR (1/2 + 1) / 2 = 3/4; s2: truth a c c, pred a c c -> 1
    speakers = ["s2", "s1", "s1", "s1", "s2", "s2"]
    y = ["a", "a", "a", "b", "c", "c"]
    proba = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    m = evaluate_predictions(y, proba, LABELS, speakers=speakers)
    low, high = m["per_speaker"]
    assert low == pytest.approx({"name": "s1", "n": 3, "uar": 0.75, "war": 2 / 3, "macro_f1": (2 / 3 + 2 / 3) / 2})
    assert high["name"] == "s2" and high["uar"] == 1.0 and high["n"] == 3
    assert m["speaker_mean"]["uar"] == pytest.approx(0.875) and m["speaker_std"]["uar"] == pytest.approx(0.125)
    assert "folds" not in m
    page = write_report(tmp_path, m, y_true=y, proba=proba, labels=LABELS, title="t").read_text()
    assert "<h2>Per speaker</h2>" in page and page.index(">s1<") < page.index(">s2<")
    with pytest.raises(ValueError, match="speakers has 2 entries"):
        evaluate_predictions(y, proba, LABELS, speakers=["s1", "s2"])


def test_auc_undefined_for_absent_class() -> None:
    m = evaluate_predictions(["a", "a", "b"], np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]]), ["a", "b"],
                             data_labels=["a", "b", "c"])
    assert m["per_class"]["a"]["auc"] == pytest.approx(1.0)
    one = evaluate_predictions(["a", "a"], np.array([[0.9, 0.1], [0.4, 0.6]]), ["a", "b"], data_labels=["a", "b"])
    assert one["per_class"]["a"]["auc"] is None and one["per_class"]["b"]["auc"] is None
    assert one["roc_auc_macro"] is None


def test_align_labels_drops_both_ways() -> None:
    model = ["neutral", "calm", "angry"]
    y = ["neutral", "angry", "boredom", "boredom", "angry"]
    proba = np.array([[0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    y2, p2, labels, dropped = align_labels(y, proba, model)
    assert labels == ["neutral", "angry"]
    assert dropped == {"boredom": 2}
    assert list(y2) == ["neutral", "angry", "angry"]
    # calm removed, rows renormalised; a row with no mass left becomes uniform
    np.testing.assert_allclose(p2, [[0.5, 0.5], [1 / 9, 8 / 9], [0.5, 0.5]])
    # the corpus's own label set keeps calm even if no clip of it is here
    _, p3, labels3, _ = align_labels(y, proba, model, data_labels=["neutral", "calm", "angry", "boredom"])
    assert labels3 == model and p3.shape == (3, 3)

    m = evaluate_predictions(y, proba, model, folds=["x", "x", "y", "y", "y"])
    assert m["n"] == 3 and m["labels"] == ["neutral", "angry"]
    assert m["dropped_clips"] == {"boredom": 2} and m["dropped_model_labels"] == ["calm"]
    assert [(f["name"], f["n"]) for f in m["folds"]] == [("x", 2), ("y", 1)]


def test_align_labels_no_shared_label() -> None:
    with pytest.raises(ValueError, match="share no label"):
        align_labels(["boredom"], np.array([[0.5, 0.5]]), ["a", "b"])


def _history(epochs: int) -> list[dict[str, float]]:
    return [
        {"epoch": e, "train_loss": 2.0 - 0.1 * e, "val_loss": 2.0 - 0.05 * e, "val_uar": 0.3 + 0.02 * e}
        for e in range(1, epochs + 1)
    ]


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def test_write_report(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    m = evaluate_predictions(Y_TRUE, PROBA, LABELS, folds=FOLDS)
    page = write_report(out, m, y_true=Y_TRUE, proba=PROBA, labels=LABELS, histories={"f1": _history(4), "f2": []},
                        title="Model <x> & co", details={"model": "logistic", "labels": LABELS})
    assert page == out / "report.html"
    assert (out / "keep.txt").read_text() == "mine"
    for name in ("confusion.png", "roc.png", "per_class.png", "curves.png"):
        assert (out / name).read_bytes().startswith(PNG_MAGIC)
    text = page.read_text(encoding="utf-8")
    assert len(_images(text)) == 4
    assert "Model &lt;x&gt; &amp; co" in text and "<x>" not in text
    assert not re.search(r'(src|href)="(?!data:)', text)
    for phrase in ("UAR", "macro-F1", "ROC-AUC", "Per class", "Per fold", "mean ± std", "logistic"):
        assert phrase in text
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("uar", "war", "macro_f1", "n", "per_class", "confusion", "labels", "folds", "roc_auc_macro"):
        assert key in saved
    assert saved["details"]["model"] == "logistic"

    write_report(out, {k: v for k, v in m.items() if k not in ("folds", "fold_mean", "fold_std")},
                 y_true=Y_TRUE, proba=PROBA, labels=LABELS, histories={"f1": []}, title="again")
    text = page.read_text(encoding="utf-8")
    assert len(_images(text)) == 3 and "Per fold" not in text
    with pytest.raises(ValueError, match="align_labels"):
        write_report(out, m, y_true=["a", "z"], proba=PROBA[:2], labels=LABELS, title="bad")


def test_report_from_crossval(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    labels = ["neutral", "happy", "sad", "surprised"]
    rng = np.random.default_rng(0)
    truth = ["neutral", "happy", "sad"] * 8  # the data has no surprised
    proba = rng.dirichlet(np.ones(len(labels)), size=len(truth))
    frame = pd.DataFrame({
        "clip_id": [f"c{i}" for i in range(len(truth))],
        "speaker": [f"s{i % 4}" for i in range(len(truth))],
        "fold": [f"k-fold{1 + i % 2}" for i in range(len(truth))],
        "y_true": truth,
        "y_pred": [labels[i] for i in proba.argmax(axis=1)],
    })
    for i, name in enumerate(labels):
        frame[f"prob_{name}"] = proba[:, i]
    frame.to_csv(run / "predictions.csv", index=False)
    folds = [{"name": f"k-fold{k}", "test_speakers": ["s1"], "n_train": 10, "best_epoch": 2} for k in (1, 2)]
    cv = {"split": "toy-k2", "labels": labels, "seed": 0, "n_clips": 27, "dropped": {"boredom": 3},
          "estimator": "Toy()", "folds": folds}
    (run / "metrics.json").write_text(json.dumps(cv))
    (run / "history_k-fold1.json").write_text(json.dumps(_history(3)))
    (run / "history_k-fold2.json").write_text(json.dumps(_history(5)))

    page = report_from_crossval(run)
    assert page == run / "report" / "report.html"
    assert json.loads((run / "metrics.json").read_text()) == cv
    m = json.loads((run / "report" / "metrics.json").read_text())
    assert m["n"] == 24 and m["labels"] == ["neutral", "happy", "sad"]
    assert m["dropped_clips"] == {"boredom": 3} and m["dropped_model_labels"] == ["surprised"]
    assert [f["name"] for f in m["folds"]] == ["k-fold1", "k-fold2"] and m["folds"][0]["best_epoch"] == 2
    assert m["details"]["split"] == "toy-k2"
    assert sorted(r["name"] for r in m["per_speaker"]) == ["s0", "s1", "s2", "s3"]
    assert [r["uar"] for r in m["per_speaker"]] == sorted(r["uar"] for r in m["per_speaker"])
    assert (run / "report" / "curves.png").is_file()
    text = page.read_text(encoding="utf-8")
    assert "boredom (3 clips)" in text and "surprised" in text and len(_images(text)) == 4
    assert "<h2>Per speaker</h2>" in text

    other = report_from_crossval(run, tmp_path / "elsewhere")
    assert other == tmp_path / "elsewhere" / "report.html" and other.is_file()
