"""The audio networks and their recipes.

Shapes, probabilities, determinism and padding on synthetic input; on real RAVDESS clips, every
recipe's features fit its model and a few Adam steps on one small batch make the training loss
fall (each network can learn from real features).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from avemotion.audio.extract import extract
from avemotion.cache import FeatureCache
from avemotion.core.labels import label_set
from avemotion.models import MODELS, EmotionNet, build_model
from avemotion.recipes import RecipeError, list_recipes, load_recipe

#: Each audio network, one input clip's shape (a short T for the frame features) and its recipe.
AUDIO_MODELS = {
    "crnn": ((12, 96, 32), "audio_crnn_seed003"),
    "gru": ((180,), "audio_gru_seed001"),
    "cnn1d": ((22, 40), "audio_cnn1d_seed002"),
    "lstm": ((282, 20), "audio_lstm_seed004"),
    "alexnet_mfcc": ((282, 20), "audio_cnn_seed004"),
    "avemotion_audio": ((12, 96, 32), "audio_avemotion"),
}
#: The value shape of each recipe extractor for one clip (``None``: any number of frames).
FEATURE_SHAPES = {
    "logmel_segments": (12, 96, 32),
    "seed001": (180,),
    "seed002": (22, None),
    "mfcc_sequence": (282, 20),
}
STEPS = 20


def _model(name: str, n_classes: int = 5, seed: int = 0, **hp: object) -> EmotionNet:
    torch.manual_seed(seed)
    return build_model(name, n_classes, **hp)


def _input(name: str, batch: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *AUDIO_MODELS[name][0], generator=generator)


# --- synthetic input ---------------------------------------------------------------------


@pytest.mark.parametrize("name", AUDIO_MODELS)
def test_shapes_and_probabilities(name: str) -> None:
    model = _model(name)
    x = _input(name, 3)
    assert model(x).shape == (3, 5)
    assert model.embed(x).shape == (3, model.embedding_dim)
    model.eval()
    proba = model.predict_proba(x)
    assert proba.shape == (3, 5)
    assert torch.allclose(proba.sum(1), torch.ones(3))
    one = model.predict_proba(x[:1])
    assert one.shape == (1, 5)
    assert torch.allclose(one, proba[:1], atol=1e-5)
    assert not model.training


@pytest.mark.parametrize("name", AUDIO_MODELS)
def test_deterministic_given_the_seed(name: str) -> None:
    a, b = _model(name, seed=3), _model(name, seed=3)
    for (key, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), key
    x = _input(name, 2)
    torch.manual_seed(7)
    out_a = a(x)
    torch.manual_seed(7)
    assert torch.equal(out_a, b(x))


def test_embedding_sizes_and_registry() -> None:
    sizes = {name: _model(name).embedding_dim for name in AUDIO_MODELS}
    assert sizes == {"crnn": 256, "gru": 256, "cnn1d": 512, "lstm": 128, "alexnet_mfcc": 512, "avemotion_audio": 256}
    assert set(AUDIO_MODELS) <= set(MODELS)
    assert sum(p.numel() for p in _model("avemotion_audio").parameters()) < 1_000_000


def test_lstm_reads_up_to_the_last_real_frame() -> None:
    model = _model("lstm").eval()
    x = torch.randn(2, 50, 20)
    padded = torch.cat([x, torch.zeros(2, 232, 20)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model.embed(x), model.embed(padded), atol=1e-5)
        literal = _model("lstm", ignore_padding=False).eval()
        assert not torch.allclose(literal.embed(x), literal.embed(padded), atol=1e-3)


def test_alexnet_mfcc_pads_short_inputs_as_the_extractor_does() -> None:
    model = _model("alexnet_mfcc").eval()
    x = torch.randn(2, 50, 20)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(torch.cat([x, torch.zeros(2, 232, 20)], dim=1)))
    for shape in ((2, 283, 20), (2, 282, 13), (2, 20, 282, 1)):
        with pytest.raises(ValueError, match="alexnet_mfcc expects"):
            model(torch.randn(*shape))


def test_cnn1d_pools_over_the_clip_not_the_padding() -> None:
    model = _model("cnn1d").eval()
    x = torch.randn(2, 22, 60)
    padded = [torch.cat([x, torch.zeros(2, 22, n)], dim=2) for n in (200, 400)]
    with torch.no_grad():
        assert torch.allclose(model.embed(padded[0]), model.embed(padded[1]), atol=1e-5)
        assert model(torch.randn(1, 22, 1)).shape == (1, 5)


def test_gru_reads_vectors_as_the_seed_and_sequences() -> None:
    seed_like = _model("gru").eval()
    assert seed_like(torch.randn(2, 180)).shape == (2, 5)
    with pytest.raises(ValueError, match="expected input"):
        seed_like(torch.randn(2, 10, 180))
    frames = _model("gru", n_features=120, vector_as_sequence=False).eval()
    assert frames(torch.randn(2, 30, 120)).shape == (2, 5)
    assert frames(torch.randn(2, 120)).shape == (2, 5)


def test_avemotion_audio_inputs_and_gain() -> None:
    model = _model("avemotion_audio").eval()
    segments = torch.randn(2, 12, 96, 32)
    joined = segments.permute(0, 2, 1, 3).reshape(2, 96, 12 * 32)
    with torch.no_grad():
        expected = model(segments)
        assert torch.allclose(model(joined), expected, atol=1e-5)
        assert torch.allclose(model(joined.unsqueeze(1)), expected, atol=1e-5)
        assert torch.allclose(model(joined - 20.0), expected, atol=1e-4)
        assert model(torch.randn(1, 96, 57)).shape == (1, 5)
    with pytest.raises(ValueError, match="96"):
        model(torch.randn(1, 64, 100))


def test_crnn_any_segment_count_and_shape_check() -> None:
    model = _model("crnn").eval()
    assert model(torch.randn(2, 7, 96, 32)).shape == (2, 5)
    with pytest.raises(ValueError, match="segments"):
        model(torch.randn(2, 96, 32))


# --- recipes -----------------------------------------------------------------------------


def test_every_audio_model_has_a_recipe() -> None:
    network_recipes = [r for r in list_recipes() if load_recipe(r)["model"]["name"] in AUDIO_MODELS]
    assert network_recipes == sorted(recipe for _, recipe in AUDIO_MODELS.values())
    for name, (_, recipe_name) in AUDIO_MODELS.items():
        recipe = load_recipe(recipe_name)
        assert recipe["model"]["name"] == name
        assert recipe["features"]["extractor"] in FEATURE_SHAPES
        assert recipe["training"]["optimizer"] in ("adam", "sgd")
        build_model(name, len(label_set(recipe["labels"])), **recipe["model"]["params"])


def test_recipe_by_path_and_clear_errors(tmp_path: Path) -> None:
    recipe = yaml.safe_load((Path(__file__).parents[1] / "src/avemotion/recipes/audio_lstm_seed004.yaml").read_text())
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert load_recipe(path)["model"]["name"] == "lstm"
    del recipe["training"]["lr"]
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError, match=r"mine\.yaml.*training\.lr"):
        load_recipe(path)
    del recipe["model"]
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError, match=r"mine\.yaml.*'model'"):
        load_recipe(str(path))
    with pytest.raises(RecipeError, match="no such recipe"):
        load_recipe(tmp_path / "absent.yaml")
    bad = load_recipe("audio_avemotion")
    bad["augmentation"]["waveform"]["p_wobble"] = 0.5
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(RecipeError, match="p_wobble"):
        load_recipe(path)


# --- real clips --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> tuple[list[Path], np.ndarray]:
    """Eight RAVDESS clips, sad and angry, two of each per actor for actors 1 and 2, and their labels 0/1."""
    root = shared_data / "ravdess" / "audio_speech_16k"
    paths = [
        path
        for actor in ("Actor_01", "Actor_02")
        for emotion in ("04", "05")
        for path in sorted((root / actor).glob(f"03-01-{emotion}-*.flac"))[:2]
    ]
    if len(paths) < 8:
        pytest.skip("RAVDESS speech clips of actors 1 and 2 not found")
    return paths, np.array([int(p.name.split("-")[2] == "05") for p in paths])


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> FeatureCache:
    return FeatureCache(tmp_path_factory.mktemp("model_features"))


def _batch(recipe: dict, paths: list[Path], cache: FeatureCache) -> torch.Tensor:
    """The recipe's features of ``paths`` stacked, frame features cropped to the shortest clip."""
    features = recipe["features"]
    values = [extract(p, features["extractor"], cache=cache, **features["params"]) for p in paths]
    expected = FEATURE_SHAPES[features["extractor"]]
    for value in values:
        assert value.dtype == np.float32
        assert len(value.shape) == len(expected)
        assert all(e is None or e == s for e, s in zip(expected, value.shape, strict=True))
    frames = min(v.shape[-1] for v in values)
    return torch.from_numpy(np.stack([v[..., :frames] if None in expected else v for v in values]))


@pytest.mark.parametrize("name", AUDIO_MODELS)
def test_recipe_trains_on_real_clips(
    name: str, clips: tuple[list[Path], np.ndarray], feature_cache: FeatureCache
) -> None:
    recipe = load_recipe(AUDIO_MODELS[name][1])
    paths, labels = clips
    x, y = _batch(recipe, paths, feature_cache), torch.from_numpy(labels)
    n_classes = len(label_set(recipe["labels"]))
    model = _model(name, n_classes, **recipe["model"]["params"]).eval()
    assert model(x).shape == (len(paths), n_classes)

    model = _model(name, 2, **recipe["model"]["params"]).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.7 * losses[0], losses
