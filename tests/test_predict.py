"""Prediction on media: the default recognizer (audio + face, fused) on the project's own sample
clip and on clips made from it (no audio track, no video, no face), the timeline, bundle round
trips, ``avemotion predict`` / ``evaluate`` on real files, and the ``ravdess-av-au`` bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import avemotion
from avemotion.bundles import BundleError
from avemotion.cli.main import main
from avemotion.core.labels import LABEL_SETS
from avemotion.media.decode import load_audio, load_frames
from avemotion.media.encode import write_audio, write_video
from avemotion.prediction.recognizer import Prediction, Recognizer

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"
EIGHT = list(LABEL_SETS["ravdess8"])


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load("default")


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample without its audio, its audio alone, its audio over faceless frames, a corrupt file."""
    folder = tmp_path_factory.mktemp("variants")
    frames = load_frames(SAMPLE, np.linspace(0, 4.4, 45))
    audio = load_audio(SAMPLE, 16000)
    out = {"silent_video": folder / "no_audio.mp4", "audio": folder / "speech.wav", "faceless": folder / "faceless.mp4",
           "corrupt": folder / "corrupt.mp4"}
    write_video(out["silent_video"], frames.images, 10)
    write_audio(out["audio"], audio, 16000)
    gray = np.full_like(frames.images, 128)
    write_video(out["faceless"], gray, 10, audio=audio, sr=16000)
    out["corrupt"].write_bytes(SAMPLE.read_bytes()[:20000])
    return out


def _check(p: Prediction, used: list[str]) -> None:
    assert p.used == used
    assert list(p.probabilities) == EIGHT
    assert abs(sum(p.probabilities.values()) - 1) < 1e-6
    assert p.emotion == max(p.probabilities, key=p.probabilities.__getitem__)
    assert p.confidence == pytest.approx(p.probabilities[p.emotion])
    assert set(p.modalities) == set(used)


def test_default_recognizer_fuses_audio_and_face_on_the_sample(recognizer: Recognizer) -> None:
    p = recognizer.analyse(SAMPLE)
    _check(p, ["audio", "face"])
    assert p.skipped == {}
    # the face model speaks the basic seven, the audio model RAVDESS's eight
    assert "calm" not in p.modalities["face"] and "calm" in p.modalities["audio"]
    # the astronaut is smiling
    assert max(p.modalities["face"], key=p.modalities["face"].__getitem__) == "happy"
    assert avemotion.load("default").predict_proba(SAMPLE) == pytest.approx(p.probabilities)


def test_a_missing_modality_still_gets_a_prediction(recognizer: Recognizer, variants: dict[str, Path]) -> None:
    no_audio = recognizer.analyse(variants["silent_video"])
    _check(no_audio, ["face"])
    assert no_audio.skipped == {"audio": "no audio track"}
    audio_only = recognizer.analyse(variants["audio"])
    _check(audio_only, ["audio"])
    assert audio_only.skipped == {"face": "no video stream"}
    faceless = recognizer.analyse(variants["faceless"])
    _check(faceless, ["audio"])
    assert faceless.skipped["face"].startswith("no face found") and list(faceless.skipped) == ["face"]
    # with one modality the fused answer is that modality's (on the common labels)
    assert faceless.probabilities == pytest.approx(faceless.modalities["audio"])


def test_timeline_windows(recognizer: Recognizer) -> None:
    windows = recognizer.timeline(SAMPLE, window=2.0, hop=1.0)
    starts = [w.start for w in windows]
    assert starts[:3] == [0.0, 1.0, 2.0] and len(windows) == 4
    assert all(w.end - w.start == pytest.approx(2.0) for w in windows)
    assert windows[-1].end == pytest.approx(4.58, abs=0.05)
    for w in windows:
        assert abs(sum(w.probabilities.values()) - 1) < 1e-6 and w.used


def test_audio_novelty_tells_a_training_corpus_from_other_speech(recognizer: Recognizer, shared_data: Path,
                                                                 variants: dict[str, Path]) -> None:
    """The shipped audio model was trained on RAVDESS: a real RAVDESS clip sounds familiar, the
    sample's speech does not; an adapted model calibrates every clip as new and reports none."""
    familiar = recognizer.analyse(shared_data / "ravdess" / "video_samples" / "Actor_01" / "01-01-07-02-02-01-01.mp4")
    novel = recognizer.analyse(SAMPLE)
    assert familiar.novelty["audio"] < 0.2 and novel.novelty["audio"] > 0.9
    assert "face" not in novel.novelty
    adapted = recognizer.adapted([SAMPLE, variants["audio"]], method="standardise")
    assert adapted.analyse(SAMPLE).novelty == {}


def test_recognizer_bundle_round_trip(recognizer: Recognizer, tmp_path: Path) -> None:
    folder = recognizer.save(tmp_path / "mine")
    assert (folder / "audio" / "bundle.json").is_file() and (folder / "face" / "bundle.json").is_file()
    again = Recognizer.load(folder)
    assert again.analyse(SAMPLE).probabilities == pytest.approx(recognizer.analyse(SAMPLE).probabilities)
    with pytest.raises(BundleError, match="already exists"):
        recognizer.save(folder)


def test_cli_predict_batch_goes_past_a_corrupt_file(variants: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["predict", str(SAMPLE), str(variants["corrupt"]), str(variants["audio"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["labels"] == EIGHT and out["model"] == "default"
    assert [Path(p["source"]).name for p in out["predictions"]] == ["sample.mp4", "speech.wav"]
    assert len(out["failures"]) == 1 and "corrupt.mp4" in out["failures"][0]
    first = out["predictions"][0]
    assert set(first) == {"source", "emotion", "confidence", "probabilities", "modalities", "used", "skipped", "start", "end",
                          "timings", "novelty"}
    assert set(first["novelty"]) == {"audio"} and 0.0 <= first["novelty"]["audio"] <= 1.0
    assert set(first["timings"]) >= {"decode", "audio_features", "audio_model", "face_detection", "face_model", "fusion"}


def test_cli_predict_table_csv_and_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(SAMPLE)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["file", "emotion", "conf"] and table[1].startswith("sample.mp4")
    assert main(["predict", str(SAMPLE), "--csv", "--timeline"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["file", "start", "end", "emotion"] and "face_emotion" in header and "audio_novelty" in header
    assert len(lines) == 1 + 4


def test_cli_evaluate_on_crema_d_samples(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "--data", str(shared_data / "crema_d_samples"), "--json", str(tmp_path / "m.json"),
                 "--report", str(tmp_path / "report")])
    assert code == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"uar", "war", "macro_f1", "n", "per_class", "confusion"} <= set(metrics)
    assert metrics["n"] == 12
    assert metrics["dropped_model_labels"] == ["calm", "surprised"]
    assert set(metrics["per_class"]) == {"neutral", "happy", "sad", "angry", "fearful", "disgust"}
    assert "data:image/png;base64," in (tmp_path / "report" / "report.html").read_text()
    out = capsys.readouterr().out
    assert "UAR" in out
    per_speaker = metrics["per_speaker"]  # the 12 samples come from several CREMA-D actors
    assert len(per_speaker) > 1 and sum(s["n"] for s in per_speaker) == 12
    assert [s["uar"] for s in per_speaker] == sorted(s["uar"] for s in per_speaker)
    assert f"over {len(per_speaker)} speakers, lowest" in out
    assert "<h2>Per speaker</h2>" in (tmp_path / "report" / "report.html").read_text()
    novelty = metrics["details"]["audio_novelty"]
    assert novelty["n"] == 12 and 0.0 <= novelty["mean"] <= 1.0
    assert ("sound unlike the audio model's training corpora" in out) == (novelty["share_novel"] > 0.5)


def test_ravdess_av_au_bundle_scores_a_real_clip_and_its_au_row(shared_data: Path) -> None:
    from avemotion.corpora import read_corpus
    from avemotion.corpora.openface import au_columns

    table = read_corpus(shared_data / "ravdess").table
    row = table[table["audio"].notna()].iloc[0]
    model = avemotion.load("ravdess-av-au")
    au = row[au_columns(table)].astype(float).to_dict()
    both = model.analyse(row["audio"], side={"au": au})
    assert both.used == ["audio", "au"] and abs(sum(both.probabilities.values()) - 1) < 1e-6
    alone = model.analyse(row["audio"])
    assert alone.used == ["audio"] and alone.skipped == {"au": "no AU features given"}
    assert alone.probabilities == pytest.approx(alone.modalities["audio"])


def test_cli_train_writes_a_bundle_that_predicts(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine"
    assert main(["train", "--recipe", "audio_whisper", "--data", str(shared_data / "crema_d_samples"), "--out", str(out)]) == 0
    config = json.loads((out / "bundle.json").read_text())
    assert config["kind"] == "audio" and config["trained_on"]["n_clips"] == 12
    assert main(["train", "--recipe", "audio_whisper", "--data", str(shared_data / "crema_d_samples"), "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["predict", "--model", str(out), str(SAMPLE), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["predictions"][0]["used"] == ["audio"]
    assert document["predictions"][0]["skipped"] == {}


def test_retrain_audio_on_a_corpus_table_then_save(shared_data: Path, tmp_path: Path) -> None:
    from avemotion.corpora import read_corpus
    from avemotion.training.systems import retrain_audio

    table = read_corpus(shared_data / "crema_d_samples").table
    rec = retrain_audio(Recognizer.load("default"), table)
    audio = rec.branches["audio"]
    assert audio.bundle is not None and audio.bundle.config["trained_on"]["n_clips"] == 12  # type: ignore[attr-defined]
    folder = rec.save(tmp_path / "refit")
    again = Recognizer.load(folder)
    assert again.analyse(SAMPLE).probabilities == pytest.approx(rec.analyse(SAMPLE).probabilities)


def _quick_recipe(name: str, folder: Path) -> Path:
    """A copy of a packaged recipe that trains for 2 epochs."""
    import yaml

    from avemotion.recipes import load_recipe

    recipe = load_recipe(name)
    recipe["training"]["epochs"] = 2
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_cli_train_a_seed_system_on_audio_and_video_then_on_audio_alone(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import yaml

    system = tmp_path / "seed002_quick.yaml"
    system.write_text(yaml.safe_dump({
        "labels": "ravdess8",
        "branches": {"audio": {"recipe": str(_quick_recipe("audio_cnn1d_seed002", tmp_path))},
                     "video": {"recipe": str(_quick_recipe("video_cnn2d_seed002", tmp_path))}},
        "fusion": "mean",
    }))
    # a small RAVDESS folder: the 2 real videos (actors 1 and 19) and 6 speech clips per actor
    ravdess = shared_data / "ravdess"
    corpus = tmp_path / "ravdess_small"
    for actor in ("01", "19"):
        (corpus / "audio" / f"Actor_{actor}").mkdir(parents=True)
        for flac in sorted((ravdess / "audio_speech_16k" / f"Actor_{actor}").glob("*.flac"))[:6]:
            shutil.copy(flac, corpus / "audio" / f"Actor_{actor}")
    shutil.copytree(ravdess / "video_samples", corpus / "video")
    out = tmp_path / "both"
    main(["train", "--recipe", str(system), "--data", str(corpus), "--out", str(out)])
    assert (out / "audio" / "bundle.json").is_file() and (out / "video" / "bundle.json").is_file()
    video = ravdess / "video_samples" / "Actor_01" / "01-01-07-02-02-01-01.mp4"
    capsys.readouterr()
    assert main(["predict", "--model", str(out), str(video), "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)["predictions"][0]
    assert prediction["used"] == ["audio", "video"]
    assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-6

    shutil.rmtree(corpus / "video")
    assert main(["train", "--recipe", str(system), "--data", str(corpus), "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "skipped the video branch: no clip of the data has video" in err
    assert not (tmp_path / "a" / "video").exists()
