"""The one branch interface: one decode per clip, every branch on a timeline (video included),
nothing written to the feature cache at prediction, and clean errors for broken bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from avemotion.bundles import BundleError, save_bundle
from avemotion.cache import FeatureCache
from avemotion.cli.main import main
from avemotion.estimators.neural import NeuralClassifier
from avemotion.media import decode
from avemotion.media.encode import write_audio
from avemotion.prediction.audio import AudioBranch
from avemotion.prediction.branch import Branch
from avemotion.prediction.face import FaceBranch
from avemotion.prediction.recognizer import Recognizer
from avemotion.prediction.video import VideoBranch
from avemotion.recipes import load_recipe

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"
N_FRAMES = 4


@pytest.fixture(scope="module")
def default() -> Recognizer:
    return Recognizer.load("default")


@pytest.fixture(scope="module")
def video_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small (barely trained) seed-002 video network saved as a video bundle: 4 gray 48x48 crops."""
    recipe = load_recipe("video_cnn2d_seed002")
    recipe["features"]["params"] = {**recipe["features"]["params"], "n": N_FRAMES}
    recipe["model"]["params"] = {**recipe["model"]["params"], "frames": N_FRAMES}
    X = np.random.default_rng(0).integers(0, 256, (8, N_FRAMES, 48, 48, 1)).astype(np.float32)
    y = ["happy", "sad"] * 4
    trainer = {"epochs": 1, "batch_size": 4, "patience": None, "num_threads": 1, "seed": 0}
    model = NeuralClassifier("cnn2d_frames", recipe["labels"], recipe["model"]["params"], trainer).fit(X, y)
    folder = tmp_path_factory.mktemp("bundles") / "video"
    return save_bundle(folder, model, name="tiny-video", kind="video", recipe=recipe, trained_on={"n_clips": 8})


@pytest.fixture(scope="module")
def three(default: Recognizer, video_bundle: Path) -> Recognizer:
    return Recognizer([*default.branches.values(), VideoBranch.load(video_bundle)])


def test_every_branch_has_the_one_interface(three: Recognizer) -> None:
    assert list(three.branches) == ["audio", "face", "video"]
    for branch in three.branches.values():
        assert isinstance(branch, Branch) and branch.labels and branch.needs in ("audio", "frames")
        assert branch.describe()["branch"] == branch.name
    assert isinstance(three.branches["audio"], AudioBranch) and isinstance(three.branches["face"], FaceBranch)


def test_one_decode_per_clip(three: Recognizer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    opened: list[str] = []
    real_open = av.open

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(decode.av, "open", counting)
    prediction = three.analyse(SAMPLE)
    assert prediction.used == ["audio", "face", "video"] and prediction.skipped == {}
    assert opened == [str(SAMPLE)]  # audio, the face's frames and the video branch's frames: one pass
    wav = tmp_path / "speech.wav"
    write_audio(wav, decode.load_audio(SAMPLE, 16000), 16000)
    opened.clear()
    audio_only = three.analyse(wav)
    assert opened == [str(wav)] and audio_only.used == ["audio"]
    assert audio_only.skipped == {"face": "no video stream", "video": "no video stream"}


def test_the_video_branch_reads_the_decoded_frames_as_training_read_the_file(three: Recognizer, tmp_path: Path) -> None:
    """The branch's crops of the recognizer's frames equal the face_sequence feature of the file."""
    from avemotion.visual.extract import face_sequence

    video = three.branches["video"]
    assert isinstance(video, VideoBranch)
    params = {k: v for k, v in video.params.items() if k != "version"}
    from_file = face_sequence(SAMPLE, cache=FeatureCache(tmp_path / "cache"), **params)
    proba_file = video.bundle.predict_proba(from_file[None])[0]
    outputs, _ = three.branch_outputs(SAMPLE)
    np.testing.assert_allclose(outputs["video"].proba, proba_file, atol=1e-5)


def test_timeline_runs_every_branch(three: Recognizer) -> None:
    windows = three.timeline(SAMPLE, window=2.0, hop=1.0)
    assert len(windows) >= 3
    for w in windows:
        assert w.used == ["audio", "face", "video"], (w.start, w.skipped)
        assert set(w.modalities["video"]) == set(three.branches["video"].labels)


def test_prediction_writes_nothing_into_the_feature_cache(three: Recognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("prediction touched the feature cache")

    monkeypatch.setattr(FeatureCache, "get_or_compute", refuse)
    monkeypatch.setattr(FeatureCache, "put", refuse, raising=False)
    assert three.analyse(SAMPLE).used == ["audio", "face", "video"]
    assert three.timeline(SAMPLE, window=4.0, hop=4.0)


# --- broken bundles ----------------------------------------------------------------------


def _copy_shipped(name: str, tmp_path: Path) -> Path:
    from avemotion.bundles import resolve

    return Path(shutil.copytree(resolve(name), tmp_path / name))


def _one_line_error(capsys: pytest.CaptureFixture[str], model: Path, needle: str) -> None:
    assert main(["predict", "--model", str(model), str(SAMPLE)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("avemotion: ") and "\n" not in err and "Traceback" not in err, err
    assert needle in err, err


def test_a_bundle_json_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy_shipped("audio", tmp_path)
    (folder / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"bundle\.json: is not valid JSON"):
        Recognizer.load(folder)
    _one_line_error(capsys, folder, "bundle.json: is not valid JSON")
    (folder / "bundle.json").write_text(json.dumps({"format": "avemotion-bundle/9", "kind": "audio", "labels": []}))
    with pytest.raises(BundleError, match="made by a newer avemotion"):
        Recognizer.load(folder)


def test_truncated_and_missing_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audio = _copy_shipped("audio", tmp_path)
    head = audio / "estimator" / "head.npz"
    head.write_bytes(head.read_bytes()[:1000])
    with pytest.raises(BundleError, match="damaged or incomplete layerwise estimator"):
        Recognizer.load(audio)
    _one_line_error(capsys, audio, "damaged or incomplete")
    face = _copy_shipped("face", tmp_path)
    weights = face / "estimator" / "model.pt"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    _one_line_error(capsys, face, "damaged or incomplete neural estimator")
    shutil.rmtree(face / "estimator")
    with pytest.raises(BundleError, match="estimator: missing"):
        Recognizer.load(face)


def test_a_recognizer_part_that_is_missing_is_an_error_not_the_shipped_part(
    default: Recognizer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = default.save(tmp_path / "mine")
    assert json.loads((folder / "bundle.json").read_text())["parts"] == {"audio": "audio", "face": "face"}
    shutil.rmtree(folder / "audio")
    with pytest.raises(BundleError, match=r"mine/audio: missing"):
        Recognizer.load(folder)
    _one_line_error(capsys, folder, "audio: missing")
    (folder / "audio").mkdir()
    with pytest.raises(BundleError, match="incomplete part: no bundle.json"):
        Recognizer.load(folder)


# --- speed levers that must not change results -------------------------------------------


def test_the_audio_branch_computes_only_the_states_its_head_reads(default: Recognizer) -> None:
    from avemotion.audio.extract import compute
    from avemotion.audio.whisper import layer_statistics
    from avemotion.features import signal_features

    audio = default.branches["audio"]
    assert isinstance(audio, AudioBranch)
    signal = decode.load_audio(SAMPLE, 16000)
    needed = audio.head.states_needed()
    assert needed == [1 + max(i % n for i in layers) for (n, _), layers in zip(audio.head.blocks, audio.head.layer_set_)]
    full = signal_features(signal, audio.recipe)
    fast = audio.features(signal)
    columns = audio.head._columns(audio.head.layer_set_)
    np.testing.assert_array_equal(fast[columns], full[columns])  # the same computation, stopped early
    assert np.all(layer_statistics(signal, model="tiny", states=2)[2:] == 0)
    with pytest.raises(ValueError, match="no runtime parameter"):
        compute("mfcc", signal, 16000, runtime={"states": 2})
    with pytest.raises(ValueError, match="unknown parameter"):
        compute("whisper_layers_tiny", signal, 16000, states=2)  # never a recipe or cache-key parameter


def test_reference_frames_only_decodes_frames_at_or_before_each_target(tmp_path: Path) -> None:
    times = decode.evenly_spaced_times(4.0, 12)
    exact = decode.load_media(SAMPLE, frame_times=lambda d: times, audio=False)
    fast = decode.load_media(SAMPLE, frame_times=lambda d: times, audio=False, reference_frames_only=True)
    assert exact.frames is not None and fast.frames is not None and len(fast.frames) == len(exact.frames) == 12
    gap = exact.frames.times - fast.frames.times
    assert np.all(gap >= -1e-6) and np.all(gap <= 0.2)  # the last reference frame before, at most a few frames off


def test_a_recipe_can_keep_chosen_whisper_states() -> None:
    from avemotion.features import signal_features
    from avemotion.recipes import RecipeError, validate

    recipe = validate({
        "labels": "ravdess8",
        "features": {"extractor": ["whisper_layers_base", "whisper_layers_tiny"], "states": [[3, 4], [2]]},
        "model": {"name": "logistic"},
        "training": {"validation_fraction": 0.1, "seed": 0},
    })
    signal = decode.load_audio(SAMPLE, 16000)
    kept = signal_features(signal, recipe)
    full = signal_features(signal, {"features": {"extractor": recipe["features"]["extractor"], "params": {}}})
    base, tiny = full[: 7 * 1024].reshape(7, 1024), full[7 * 1024 :].reshape(5, 768)
    np.testing.assert_array_equal(kept, np.concatenate([base[3], base[4], tiny[2]]))
    with pytest.raises(RecipeError, match="features.states"):
        validate({**recipe, "features": {"extractor": ["mfcc"], "states": [[1]]}})


def test_a_face_crop_image_is_recognised_without_detection_and_calm_is_not_invented(
    default: Recognizer, shared_data: Path, tmp_path: Path
) -> None:
    images = sorted((shared_data / "fer2013" / "test" / "sad").glob("*.jpg"))[:3]
    face = default.branches["face"]
    assert isinstance(face, FaceBranch)
    for image in images:
        prediction = default.analyse(image)
        assert prediction.used == ["face"] and prediction.skipped == {"audio": "an image has no audio"}
        own = prediction.modalities["face"]
        assert prediction.probabilities["calm"] == 0.0
        assert prediction.probabilities["neutral"] == pytest.approx(own["neutral"])  # not halved with calm
    out = tmp_path / "fer.json"
    assert main(["evaluate", "--model", "default", "--data", str(shared_data / "fer2013" / "test"), "--limit", "40",
                 "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["n"] == 40 and metrics["details"]["failures"] == []  # every clip counted, none "no face"
