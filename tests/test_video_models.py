"""The seeds' video networks (c3d, cnn2d_frames, cnn_lstm, alexnet_frames), the face_sequence extractor and
video recipes through the training pipeline, on synthetic tensors and the real RAVDESS videos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from avemotion.cache import FeatureCache
from avemotion.core.labels import label_set
from avemotion.corpora.splits import Fold
from avemotion.errors import NoFaceError
from avemotion.estimators.neural import NeuralClassifier
from avemotion.features import recipe_modality
from avemotion.media.encode import write_video
from avemotion.models import MODELS, build_model
from avemotion.recipes import RecipeError, list_recipes, load_recipe, validate
from avemotion.training.pipeline import cross_validate_recipe
from avemotion.visual.extract import (
    N_BLENDSHAPES,
    blendshapes,
    face_sequence,
    video_extractor_params,
)
from avemotion.visual.faces import CROP_SIZES, CropSpec

torch.set_num_threads(1)

VIDEOS = {  # RAVDESS video samples: file -> (speaker, emotion)
    "Actor_01/01-01-07-02-02-01-01.mp4": ("ravdess:01", "disgust"),
    "Actor_19/02-01-08-02-01-01-19.mp4": ("ravdess:19", "surprised"),
}
#: model -> (recipe, input shape (T, H, W, C), embedding size, small parameters for training tests)
VIDEO_MODELS: dict[str, tuple[str, tuple[int, ...], int, dict[str, Any]]] = {
    "c3d": (
        "video_c3d_seed003",
        (12, 100, 96, 3),
        256,
        {"filters": [8, 16, 32, 64], "dense_units": [128, 64], "conv_dropout": 0.0, "dense_dropout": 0.0},
    ),
    "cnn2d_frames": ("video_cnn2d_seed002", (22, 48, 48, 1), 64, {}),
    "cnn_lstm": ("video_cnn_lstm_seed004", (10, 64, 64, 1), 256, {}),
    "alexnet_frames": ("video_alexnet_seed004", (10, 224, 224, 3), 512, {}),
}


def _pixels(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed)).float()


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_shapes_embeddings_and_recipes(name: str) -> None:
    recipe_name, shape, dim, _ = VIDEO_MODELS[name]
    recipe = load_recipe(recipe_name)
    assert recipe_modality(recipe) == "video" and recipe["model"]["name"] == name and name in MODELS
    n_classes = len(label_set(recipe["labels"]))
    model = build_model(name, n_classes, **recipe["model"]["params"]).eval()
    x = _pixels((2, *shape))
    with torch.no_grad():
        embedding = model.embed(x)
        assert embedding.shape == (2, dim) == (2, model.embedding_dim)
        assert model.classify(embedding).shape == model(x).shape == (2, n_classes)
        torch.testing.assert_close(model.predict_proba(x).sum(-1), torch.ones(2))
    with pytest.raises(ValueError, match=name):
        model(x[..., :1] if shape[-1] == 3 else x.expand(-1, -1, -1, -1, 3))


def test_temporal_pooling_of_the_frame_cnn() -> None:
    mean = build_model("cnn2d_frames", 8).eval()
    x = _pixels((1, 5, 48, 48, 1))
    with torch.no_grad():
        assert mean(x).shape == (1, 8)  # any frame count
        torch.testing.assert_close(mean(x.to(torch.uint8)), mean(x))  # the extractor's uint8 crops cast
    concat = build_model("cnn2d_frames", 8, frames=4, temporal="concat").eval()
    assert concat.dense[0][1].in_features == 4 * 64 * 12 * 12
    with pytest.raises(ValueError, match="expects 4 frames"):
        concat(_pixels((1, 5, 48, 48, 1)))


def test_alexnet_frames_averages_the_frames() -> None:
    model = build_model("alexnet_frames", 7, height=112, width=112, strides=[2, 1, 1, 1, 1]).eval()
    assert model.trunk.cnn(torch.zeros(1, 3, 112, 112)).shape == (1, 64 * 6 * 6)  # AlexNet's 6x6 maps
    x = _pixels((2, 3, 112, 112, 3))
    with torch.no_grad():
        frames = model.frame_logits(x)
        assert frames.shape == (2, 3, 7)
        torch.testing.assert_close(model(x), frames.mean(dim=1))
        torch.testing.assert_close(model(x.flip(1)), model(x))  # the frames' order does not count
        assert model(x[:, :2]).shape == (2, 7)  # any frame count


def test_recipe_validation_of_video_features() -> None:
    recipe = load_recipe("video_c3d_seed003")
    assert recipe["labels"] == "seed6" and recipe["features"]["params"]["size"] == "seed003"
    assert video_extractor_params("face_sequence", size=(64, 64))["size"] == [64, 64]
    for params, problem in (({"n": 0}, "n must be"), ({"size": "huge"}, "size"), ({"colour": 1}, "unknown")):
        bad = {**recipe, "features": {"extractor": "face_sequence", "params": params}}
        with pytest.raises(RecipeError, match=problem):
            validate(bad)


# --- real clips --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def videos(shared_data: Path) -> list[Path]:
    paths = [shared_data / "ravdess" / "video_samples" / name for name in VIDEOS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"RAVDESS video samples not found: {', '.join(missing)}")
    return paths


@pytest.fixture(scope="module")
def video_cache(tmp_path_factory: pytest.TempPathFactory) -> FeatureCache:
    return FeatureCache(tmp_path_factory.mktemp("video-cache"))


def _sequences(name: str, videos: list[Path], cache: FeatureCache) -> np.ndarray:
    params = load_recipe(VIDEO_MODELS[name][0])["features"]["params"]
    return np.stack([face_sequence(path, cache=cache, **params) for path in videos])


def test_face_sequence_is_cached(videos: list[Path], video_cache: FeatureCache) -> None:
    first = face_sequence(videos[0], n=12, size="seed003", margin=0.0, cache=video_cache)
    assert first.shape == (12, 100, 96, 3) and first.dtype == np.uint8 and first.std() > 10
    hits, misses = video_cache.hits, video_cache.misses
    again = face_sequence(videos[0], n=12, size="seed003", margin=0.0, cache=video_cache)
    assert (video_cache.hits, video_cache.misses) == (hits + 1, misses)
    np.testing.assert_array_equal(again, first)


def test_face_sequence_raises_on_a_faceless_video(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    rng = np.random.default_rng(0)
    write_video(path, rng.integers(0, 64, (20, 72, 96, 3)).astype(np.uint8), 25)
    cache = FeatureCache(tmp_path / "cache")
    with pytest.raises(NoFaceError, match=r"noise\.mp4: no face found"):
        face_sequence(path, n=4, size="seed002", cache=cache)
    assert cache.stats().entries == 0


@pytest.mark.parametrize("name", VIDEO_MODELS)
def test_trains_on_real_face_crops(name: str, videos: list[Path], video_cache: FeatureCache) -> None:
    recipe_name, shape, _, small = VIDEO_MODELS[name]
    recipe = load_recipe(recipe_name)
    X = _sequences(name, videos, video_cache)
    assert X.shape == (2, *shape)
    trainer = {**recipe["training"], "epochs": 6, "batch_size": 2, "patience": None, "lr": 1e-3, "num_threads": 1}
    del trainer["validation_fraction"]
    params = {**recipe["model"]["params"], **small}
    clf = NeuralClassifier(name, ["disgust", "surprised"], params, trainer).fit(X, [e for _, e in VIDEOS.values()])
    losses = [epoch["train_loss"] for epoch in clf.history_]
    assert losses[-1] < losses[0], losses
    assert clf.predict_proba(X).shape == (2, 2) and clf.embed(X).shape == (2, clf.model_.embedding_dim)


def test_video_recipe_cross_validates_end_to_end(videos: list[Path], tmp_path: Path) -> None:
    faceless = tmp_path / "01-01-03-02-01-01-02.mp4"
    write_video(faceless, np.random.default_rng(1).integers(0, 64, (20, 72, 96, 3)).astype(np.uint8), 25)
    rows = [  # each real clip twice under two made-up speakers: two speakers train, two test
        {"clip_id": f"{k}-{p.stem}", "corpus": "ravdess", "speaker": f"s{k}", "emotion": emotion, "video": str(p)}
        for k in range(2)
        for p, (_, emotion) in zip(videos, VIDEOS.values(), strict=True)
    ]
    rows += [
        {"clip_id": "faceless", "corpus": "ravdess", "speaker": "s9", "emotion": "happy", "video": str(faceless)},
        {"clip_id": "audio-only", "corpus": "ravdess", "speaker": "s9", "emotion": "happy", "video": None},
    ]
    recipe = load_recipe("video_cnn2d_seed002")
    recipe["training"].update(epochs=2, batch_size=2, validation_fraction=0.0)
    folds = [Fold("f1", train=np.array([0, 1]), test=np.array([2, 3]))]
    result, info = cross_validate_recipe(
        recipe, pd.DataFrame(rows), split=folds, out_dir=tmp_path / "cv", cache=FeatureCache(tmp_path / "c"),
        progress=False, num_threads=1,
    )  # fmt: skip
    assert info["n_clips"] == 4 and info["without_media"] == ["audio-only"]
    assert len(info["failures"]) == 1 and str(faceless) in info["failures"][0] and "no face" in info["failures"][0]
    assert len(result.predictions) == 2 and 0.0 <= result.metrics["mean"]["uar"] <= 1.0


def test_blendshapes_of_real_keyframes(videos: list[Path], shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("mediapipe", reason="the optional mediapipe package is not installed")
    model = shared_data.parent / "models" / "face_landmarker.task"
    if not model.is_file():
        pytest.skip(f"MediaPipe face landmarker model not found at {model}")
    cache = FeatureCache(tmp_path / "cache")
    scores = blendshapes(videos[0], n=3, model_path=model, cache=cache)
    assert scores.shape == (3, N_BLENDSHAPES) and scores.dtype == np.float32
    assert 0.0 <= scores.min() and scores.max() <= 1.0 and scores.max() > 0.3
    np.testing.assert_array_equal(blendshapes(videos[0], n=3, model_path=model, cache=cache), scores)
    assert cache.hits == 1
    faceless = tmp_path / "noise.mp4"
    write_video(faceless, np.random.default_rng(2).integers(0, 64, (20, 72, 96, 3)).astype(np.uint8), 25)
    with pytest.raises(NoFaceError):
        blendshapes(faceless, n=2, model_path=model, cache=cache)


@pytest.mark.parametrize("recipe_name", [r for r in list_recipes() if r.startswith("video_")])
def test_every_video_recipe_builds_a_model_for_its_own_features(recipe_name: str) -> None:
    recipe = load_recipe(recipe_name)
    params = video_extractor_params(recipe["features"]["extractor"], **recipe["features"]["params"])
    spec = CROP_SIZES[params["size"]] if isinstance(params["size"], str) else CropSpec(tuple(params["size"]), False)
    gray = spec.gray if params["gray"] is None else params["gray"]
    shape = (2, params["n"], *spec.size, 1 if gray else 3)
    model = build_model(recipe["model"]["name"], len(label_set(recipe["labels"])), **recipe["model"]["params"]).eval()
    with torch.no_grad():
        logits = model(_pixels(shape))
    assert logits.shape == (2, len(label_set(recipe["labels"]))) and torch.isfinite(logits).all()
