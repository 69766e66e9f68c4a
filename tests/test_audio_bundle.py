from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avemotion.audio.whisper import whisper_log_mel
from avemotion.bundles import BundleError, load_bundle, save_bundle
from avemotion.errors import SilentAudioError
from avemotion.estimators.linear import LogisticHead
from avemotion.media.encode import write_audio
from avemotion.prediction.audio import AudioBranch
from avemotion.prediction.recognizer import Recognizer


def blobs(n: int = 120, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.array(["happy", "sad", "angry"])[rng.integers(0, 3, n)]
    centres = {"happy": 0.0, "sad": 1.5, "angry": 3.0}
    X = rng.normal(size=(n, d)) + np.array([centres[v] for v in y])[:, None]
    return X, y


def test_logistic_head_selects_on_validation_and_round_trips(tmp_path: Path) -> None:
    X, y = blobs()
    Xv, yv = blobs(60, seed=1)
    head = LogisticHead(Cs=(1e-4, 0.1, 10.0)).fit(X, y, Xv, yv)
    assert set(head.validation_uar_) == {1e-4, 0.1, 10.0}
    assert head.C_ == max(head.validation_uar_, key=lambda c: (head.validation_uar_[c], -c))
    Xt, yt = blobs(60, seed=2)
    assert np.mean(head.predict(Xt) == yt) > 0.8
    loaded = LogisticHead.load(head.save(tmp_path / "head"))
    np.testing.assert_allclose(loaded.predict_proba(Xt), head.predict_proba(Xt), rtol=1e-6, atol=1e-9)
    assert list(loaded.classes_) == list(head.classes_)


def test_bundle_save_load_round_trip_and_no_silent_overwrite(tmp_path: Path) -> None:
    X, y = blobs()
    head = LogisticHead().fit(X, y)
    recipe = {"labels": ["happy", "sad", "angry"], "model": {"name": "logistic"}}
    path = save_bundle(tmp_path / "b", head, name="toy", kind="audio", recipe=recipe, trained_on={"n_clips": 120})
    bundle = load_bundle(path)
    assert bundle.config["name"] == "toy" and bundle.config["versions"]["avemotion"]
    assert bundle.labels == ("happy", "sad", "angry")
    np.testing.assert_allclose(bundle.estimator.predict_proba(X), head.predict_proba(X), rtol=1e-6, atol=1e-9)
    # Columns follow the recipe's label order, whatever the estimator's own order.
    order = [list(head.classes_).index(label) for label in bundle.labels]
    np.testing.assert_allclose(bundle.predict_proba(X), head.predict_proba(X)[:, order], rtol=1e-6)
    with pytest.raises(BundleError, match="already exists"):
        save_bundle(path, head, name="toy", kind="audio", recipe=recipe, trained_on={})
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(tmp_path / "nothing-here")


def test_whisper_log_mel_shape() -> None:
    signal = np.random.default_rng(0).normal(scale=0.1, size=16000 * 3).astype(np.float32)
    mel = whisper_log_mel(signal, 16000)
    assert mel.shape == (80, 300) and mel.dtype == np.float32
    assert mel.max() <= 2.5 and mel.max() - mel.min() <= 2.0 + 1e-6  # floored 8 log10 units below max, /4
    with pytest.raises(ValueError, match="16000"):
        whisper_log_mel(signal, 22050)


@pytest.fixture(scope="module")
def shipped() -> Recognizer:
    return Recognizer.load("audio")


def test_shipped_audio_model_scores_real_clips(shipped: Recognizer, shared_data: Path) -> None:
    assert shipped.labels == ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
    folder = shared_data / "ravdess" / "audio_speech_16k" / "Actor_01"
    hits = 0
    for code, emotion in enumerate(shipped.labels, start=1):
        proba = shipped.predict_proba(folder / f"03-01-{code:02d}-01-01-01-01.flac")
        assert set(proba) == set(shipped.labels)
        assert abs(sum(proba.values()) - 1.0) < 1e-6
        hits += max(proba, key=proba.__getitem__) == emotion
    # Actor 1 was in the training data: a correctly loaded model recognises most of its clips;
    # a broken loader (shuffled columns, wrong features) would be near chance (1 in 8).
    assert hits >= 6


def test_shipped_audio_model_on_a_video_track_and_silence(shipped: Recognizer, shared_data: Path, tmp_path: Path) -> None:
    video = shared_data / "ravdess" / "video_samples" / "Actor_01" / "01-01-07-02-02-01-01.mp4"
    assert shipped.predict(video) in shipped.labels
    branch = shipped.branches["audio"]
    assert isinstance(branch, AudioBranch)
    head = branch.head
    selected = sum(width * len(layers) for (_, width), layers in zip(head.blocks, head.layer_set_))
    outputs, skipped = shipped.embeddings(video)
    assert outputs["audio"].embedding is not None and outputs["audio"].embedding.shape == (selected,) and not skipped
    silent = tmp_path / "silent.wav"
    write_audio(silent, np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(SilentAudioError, match="silent.wav"):
        shipped.predict_proba(silent)


def test_whisper_model_folder_override_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from avemotion.audio.whisper import WhisperUnavailableError, model_dir

    monkeypatch.setenv("AVEMOTION_WHISPER_BASE", str(tmp_path))
    with pytest.raises(WhisperUnavailableError, match="no model.bin"):
        model_dir("base")
    (tmp_path / "model.bin").write_bytes(b"x")
    assert model_dir("base") == tmp_path
    with pytest.raises(WhisperUnavailableError, match="large: not a Whisper model folder; use tiny, base"):
        model_dir("large")
