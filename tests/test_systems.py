"""Whole systems (branches + fusion) on real CREMA-D clips: a learned fusion fitted on speakers
the branches never saw, its bundle round trip, the fallback when the data cannot teach a fusion,
and ``avemotion train --split`` cross-validating a system."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from avemotion.cli.main import main
from avemotion.corpora import read_corpus
from avemotion.prediction.recognizer import Recognizer
from avemotion.training.systems import SystemClassifier, fit_system, load_system

SIX = ["neutral", "happy", "sad", "angry", "fearful", "disgust"]


@pytest.fixture(scope="module")
def corpus(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CREMA-D folder of five speakers, each with the six real videos (and their audio) of
    actor 1001 under its own actor number."""
    source = shared_data / "crema_d_samples"
    root = tmp_path_factory.mktemp("crema4")
    for folder in ("AudioWAV", "VideoFlash"):
        (root / folder).mkdir()
    for video in sorted((source / "VideoFlash").glob("1001_*.flv")):
        for actor in ("1001", "1002", "1003", "1004", "1005"):
            name = video.stem.replace("1001", actor, 1)
            shutil.copy(video, root / "VideoFlash" / f"{name}.flv")
            shutil.copy(source / "AudioWAV" / f"{video.stem}.wav", root / "AudioWAV" / f"{name}.wav")
    return root


def _system(tmp_path: Path, fusion: str) -> dict:
    recipe = {
        "labels": SIX,
        "features": {"extractor": "seed001", "params": {}},
        "model": {"name": "logistic", "params": {"Cs": [0.1]}},
        "training": {"validation_fraction": 0.3, "seed": 0},
    }
    (tmp_path / "audio_quick.yaml").write_text(yaml.safe_dump(recipe))
    path = tmp_path / f"system_{fusion}.yaml"
    path.write_text(yaml.safe_dump({
        "labels": SIX,
        "branches": {"audio": {"recipe": str(tmp_path / "audio_quick.yaml")}, "face": {"bundle": "face"}},
        "fusion": fusion,
        "fusion_speakers": 0.5,
    }))
    return load_system(path)


@pytest.mark.parametrize("fusion", ["stacked", "mobel"])
def test_learned_fusion_on_held_out_speakers_round_trips(corpus: Path, tmp_path: Path, fusion: str) -> None:
    table = read_corpus(corpus).table
    recognizer, info = fit_system(_system(tmp_path, fusion), table)
    fused = info["fusion"]
    assert recognizer.fusion == fusion and recognizer.fuser is not None and not info["skipped"]
    assert fused["inputs"] == ("embedding" if fusion == "mobel" else "proba")
    assert fused["n_clips"] == fused["n_complete"] == 12 and len(fused["speakers"]) == 2
    # the fusion is learned on speakers the audio branch never trained or validated on
    assert not set(fused["speakers"]) & set(info["trained"]["audio"]["speakers"])
    assert [m for m, _ in recognizer.fuser.modalities] == ["audio", "face"]
    described = recognizer.describe()
    assert described["fusion"] == fusion and list(described["fuser"]["modalities"]) == ["audio", "face"]

    clip = str(corpus / "VideoFlash" / "1004_DFA_HAP_XX.flv")
    prediction = recognizer.analyse(clip)
    assert prediction.used == ["audio", "face"] and list(prediction.probabilities) == SIX
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    outputs, _ = recognizer.embeddings(clip) if fusion == "mobel" else recognizer.branch_outputs(clip)
    blocks = [o.embedding if fusion == "mobel" else o.proba for o in outputs.values()]
    expected = recognizer.fuser.predict_proba(np.concatenate(blocks)[None])[0]
    assert list(prediction.probabilities.values()) == pytest.approx(list(expected))

    folder = recognizer.save(tmp_path / "bundle")
    assert json.loads((folder / "bundle.json").read_text())["fusion"] == fusion
    again = Recognizer.load(folder)
    assert again.fusion == fusion
    assert again.analyse(clip).probabilities == pytest.approx(prediction.probabilities)
    # an audio file alone: the fuser fuses what is there
    audio_only = again.analyse(corpus / "AudioWAV" / "1004_DFA_HAP_XX.wav")
    assert audio_only.used == ["audio"] and sum(audio_only.probabilities.values()) == pytest.approx(1.0)


def test_fusion_that_cannot_be_learned_falls_back_to_the_product_rule(corpus: Path, tmp_path: Path) -> None:
    table = read_corpus(corpus).table
    table["video"] = None  # audio only: no clip has both inputs
    recognizer, info = fit_system(_system(tmp_path, "bel"), table)
    assert recognizer.fusion == "product" and recognizer.fuser is None
    assert "at least two speakers" in info["skipped"]["fusion"] and "product rule" in info["skipped"]["fusion"]
    assert len(info["trained"]["audio"]["speakers"]) + len(info["trained"]["audio"]["validation_speakers"]) >= 3


def test_recognizer_refuses_a_learned_fusion_without_its_fuser() -> None:
    face = Recognizer.load("face").branches["face"]
    with pytest.raises(ValueError, match="needs a fitted fuser"):
        Recognizer([face], fusion="bel")
    with pytest.raises(ValueError, match="fusion must be one of"):
        Recognizer([face], fusion="vote")


def test_cli_cross_validates_a_system_then_trains_it(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    system = tmp_path / "system.yaml"
    _system(tmp_path, "mean")
    shutil.copy(tmp_path / "system_mean.yaml", system)
    out = tmp_path / "model"
    assert main(["train", "--recipe", str(system), "--data", str(corpus), "--split", "speaker5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "speaker5: UAR" in printed and "fusion mean" in printed
    metrics = json.loads((out / "evaluation" / "crossval" / "metrics.json").read_text())
    assert metrics["estimator"].startswith("SystemClassifier(") and metrics["n_clips"] == 30
    for fold in metrics["folds"]:
        assert not set(fold["test_speakers"]) & set(fold["val_speakers"])
    predictions = (out / "evaluation" / "crossval" / "predictions.csv").read_text().splitlines()
    assert len(predictions) == 31
    assert (out / "evaluation" / "report.html").is_file()


def test_system_classifier_scores_a_clip_it_cannot_read_as_uniform(corpus: Path, tmp_path: Path) -> None:
    table = read_corpus(corpus).table
    estimator = SystemClassifier(_system(tmp_path, "mean"), table).fit(np.arange(18)[:, None])
    broken = tmp_path / "broken.flv"
    broken.write_bytes(b"not a video")
    table.loc[20, "video"] = str(broken)
    proba = estimator.predict_proba(np.array([[19], [20]]))
    assert proba[1] == pytest.approx(np.full(6, 1 / 6)) and abs(proba[0].sum() - 1) < 1e-6
    assert len(estimator.failures_) == 1 and "broken.flv" in estimator.failures_[0]
