"""Training one audio model on several corpora of different layouts and label sets."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from avemotion.bundles import load_bundle
from avemotion.cli.main import main
from avemotion.media.decode import load_audio

REPO = Path(__file__).resolve().parents[1]
SR = 16_000
TESS_EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad")
TUREV = {"Angry": "kz", "Calm": "sk", "Happy": "mt", "Sad": "hl"}


def _clip(speech: np.ndarray, seed: int) -> np.ndarray:
    """1.5 s of the sample's speech from a seeded offset, with a seeded gain and pitch-free noise."""
    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, len(speech) - int(1.5 * SR)))
    piece = speech[start : start + int(1.5 * SR)] * rng.uniform(0.5, 1.0)
    return (piece + 0.003 * rng.standard_normal(len(piece))).astype(np.float32)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    speech = load_audio(REPO / "examples" / "sample.mp4", sr=SR)
    root = tmp_path_factory.mktemp("corpora")
    tess = root / "tess" / "TESS_Toronto_emotional_speech_set_data"
    seed = 0
    for speaker in ("OAF", "YAF"):
        for emotion in TESS_EMOTIONS:
            folder = tess / f"{speaker}_{'pleasant_surprise' if emotion == 'ps' else emotion}"
            folder.mkdir(parents=True, exist_ok=True)
            for word in ("back", "bar"):
                seed += 1
                sf.write(folder / f"{speaker}_{word}_{emotion}.flac", _clip(speech, seed), SR)
    turev = root / "turev" / "Sound Source"
    for emotion, code in TUREV.items():
        (turev / emotion).mkdir(parents=True, exist_ok=True)
        for speaker in ("1157", "1234", "1358"):
            for word in ("elma", "kalem"):
                seed += 1
                sf.write(turev / emotion / f"{speaker}_{code}_{word}.flac", _clip(speech, seed), SR)
    return root / "tess", root / "turev"


def test_train_on_two_corpora_with_different_label_sets(corpora: tuple[Path, Path], tmp_path: Path) -> None:
    tess, turev = corpora
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "labels: ravdess8\n"
        "features:\n  extractor: [whisper_layers_tiny]\n"
        "model:\n  name: layerwise\n  params:\n    blocks: [[5, 768]]\n"
        "    layer_sets: [[[-1]], [[2]]]\n    Cs: [0.01]\n    inner_folds: 3\n"
        "training:\n  validation_fraction: 0.2\n  seed: 0\n"
    )
    out = tmp_path / "model"
    assert main(["train", "--recipe", str(recipe), "--data", str(tess), str(turev), "--out", str(out)]) == 0
    bundle = load_bundle(out)
    head = bundle.estimator
    assert sorted(bundle.config["trained_on"]["corpus"]) == ["tess", "turev"]
    assert head.layer_set_ in ([[-1]], [[2]]) and head.temperature_ > 0
    proba = bundle.predict_proba(np.zeros((1, 5 * 768)))
    assert proba.shape == (1, 8) and np.isclose(proba.sum(), 1.0)
    # the model answers for a new file
    clip = tmp_path / "new.wav"
    sf.write(clip, _clip(load_audio(REPO / "examples" / "sample.mp4", sr=SR), 999), SR)
    assert main(["predict", "--model", str(out), str(clip), "--json"]) == 0
    # unsupervised test-time adaptation over several inputs; one input cannot adapt
    other = tmp_path / "other.wav"
    sf.write(other, _clip(load_audio(REPO / "examples" / "sample.mp4", sr=SR), 998), SR)
    assert main(["predict", "--model", str(out), str(clip), str(other), "--adapt", "--json"]) == 0
    assert main(["predict", "--model", str(out), str(clip), str(other), "--adapt", "--adapt-method", "standardise", "--json"]) == 0
    assert main(["predict", "--model", str(out), str(clip), "--adapt"]) == 1
    assert main(["evaluate", "--model", str(out), "--data", str(turev), "--adapt"]) == 0
    metrics = tmp_path / "adapted.json"   # a method alone adapts with it
    assert main(["evaluate", "--model", str(out), "--data", str(turev), "--adapt-method", "balance",
                 "--json", str(metrics)]) == 0
    assert json.loads(metrics.read_text())["details"]["adapted"].endswith("(balance, per set)")
    assert main(["evaluate", "--model", str(out), "--data", str(turev), "--adapt-per", "speaker",
                 "--json", str(metrics)]) == 0
    per_speaker = json.loads(metrics.read_text())
    assert per_speaker["details"]["adapted"].endswith("(both, per speaker)") and per_speaker["n"] == 24
    with pytest.raises(SystemExit) as refused:  # argparse: an unknown method is a usage error
        main(["evaluate", "--model", str(out), "--data", str(turev), "--adapt", "--adapt-method", "whiten"])
    assert refused.value.code == 2


def test_adapted_head_standardises_with_the_batch() -> None:
    from avemotion.estimators.layerwise import LayerwiseHead

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 12))
    y = np.array(["angry", "sad", "happy"] * 20)
    head = LayerwiseHead(blocks=[(2, 6)], layer_sets=[[[0, 1]]], Cs=(0.1,), inner_folds=3)
    head.fit(X, y, groups=np.repeat([f"c:{i}" for i in range(6)], 10))
    shifted = X * 3.0 + 5.0                      # the same clips through another channel
    adapted = head.adapt(shifted, "standardise")
    np.testing.assert_allclose(adapted.predict_proba(shifted), head.adapt(X, "standardise").predict_proba(X), atol=1e-6)
    assert not np.allclose(head.predict_proba(shifted), head.predict_proba(X))
    assert head.mean_ is not adapted.mean_        # the fitted head is unchanged
    with pytest.raises(ValueError, match="at least two"):
        head.adapt(X[:1])
    with pytest.raises(ValueError, match="method must be one of"):
        head.adapt(X, "whiten")


def test_balanced_head_makes_every_class_equally_common_in_the_batch() -> None:
    from avemotion.estimators.layerwise import LayerwiseHead

    rng = np.random.default_rng(1)
    centres = rng.standard_normal((3, 12)) * 2.0
    y = np.array(["angry", "sad", "happy"] * 30)
    X = centres[np.searchsorted(["angry", "happy", "sad"], y)] + rng.standard_normal((90, 12))
    head = LayerwiseHead(blocks=[(2, 6)], layer_sets=[[[0, 1]]], Cs=(0.1,), inner_folds=3)
    head.fit(X, y, groups=np.repeat([f"c:{i}" for i in range(9)], 10))
    # another corpus: the same three emotions, equally common, each clip pushed towards "sad"
    # (the bias an unseen corpus gives a head: TESS's clips all lean to one class)
    target = X + 1.5 * (centres[2] - centres[:2].mean(axis=0))
    before = head.predict(target)
    assert np.mean(before == "sad") > 0.5
    balanced = head.adapt(target, "balance")
    np.testing.assert_allclose(balanced.predict_proba(target).mean(axis=0), 1 / 3, atol=1e-5)
    assert np.mean(balanced.predict(target) == y) > np.mean(before == y) + 0.15
    np.testing.assert_allclose(balanced.coef_, head.coef_)     # only the class biases moved
    assert not np.allclose(balanced.intercept_, head.intercept_)
    assert np.isclose((balanced.intercept_ - head.intercept_).mean(), 0.0)
    assert head.predict(target).tolist() == before.tolist()     # the fitted head is unchanged
    both = head.adapt(target, "both")                           # standardise, then balance
    np.testing.assert_allclose(both.mean_, target.mean(axis=0))
    np.testing.assert_allclose(both.predict_proba(target).mean(axis=0), 1 / 3, atol=1e-5)


def test_evaluate_adapts_to_each_speaker_apart() -> None:
    import pandas as pd

    from avemotion.cli.evaluate_cmd import _predict_adapted
    from avemotion.errors import AvemotionError

    class Model:
        """Stands for a recognizer: adapting records the files; a prediction says which files it was adapted to."""

        labels = ("angry", "sad")
        branches = ("audio",)

        def __init__(self, files: tuple[str, ...] = ()) -> None:
            self.files = files

        def adapted(self, paths: list[str], method: str) -> Model:
            if len(paths) < 2:
                raise AvemotionError("adaptation needs at least two readable audio files")
            return Model(tuple(paths))

        def analyse(self, path: str) -> Any:
            return SimpleNamespace(probabilities={"angry": 1.0, "sad": 0.0}, used=["audio", *self.files])

    table = pd.DataFrame({"clip_id": list("abcde"), "speaker": ["s1", "s2", "s1", "s2", "s3"],
                          "emotion": ["angry"] * 5, "audio": [f"{c}.wav" for c in "abcde"]})
    for per, expected in (("set", [("a.wav", "b.wav", "c.wav", "d.wav", "e.wav")] * 5),
                          ("speaker", [("a.wav", "c.wav")] * 2 + [("b.wav", "d.wav")] * 2
                           + [("a.wav", "b.wav", "c.wav", "d.wav", "e.wav")])):  # s3's one clip: the set's
        y, proba, used, speakers = _predict_adapted(Model(), table, "both", per, [])
        assert [tuple(u[1:]) for u in used] == expected and y == ["angry"] * 5 and proba.shape == (5, 2)
        assert sorted(speakers) == ["s1", "s1", "s2", "s2", "s3"]


def test_balancing_offsets() -> None:
    from avemotion.estimators.partial import balancing_offsets

    rng = np.random.default_rng(2)
    logits = rng.standard_normal((400, 5)) + np.array([4.0, 0.0, 0.0, -1.0, -3.0])
    for temperature in (1.0, 3.5):
        b = balancing_offsets(logits, temperature)
        z = (logits + b) / temperature
        p = np.exp(z - z.max(axis=1, keepdims=True))
        np.testing.assert_allclose((p / p.sum(axis=1, keepdims=True)).mean(axis=0), 0.2, atol=1e-5)
        assert np.isclose(b.mean(), 0.0) and b[0] < b[1] and b[4] > b[3]   # the favoured class loses most
    # a batch whose classes are already equally likely is left as it is
    symmetric = np.concatenate([np.roll(np.eye(4) * 3.0, k, axis=1) for k in range(4)])
    np.testing.assert_allclose(balancing_offsets(symmetric), 0.0, atol=1e-8)


def test_each_corpus_teaches_only_its_labels(corpora: tuple[Path, Path]) -> None:
    from avemotion.corpora import read_corpora
    from avemotion.recipes import load_recipe
    from avemotion.training.pipeline import fit_recipe

    recipe = load_recipe("audio_whisper_layers")
    recipe["features"] = {"extractor": ["whisper_layers_tiny"], "params": {}}
    recipe["model"]["params"].update(blocks=[[5, 768]], layer_sets=[[[-1]]], Cs=[0.01], inner_folds=3)
    table = read_corpora(*corpora).table
    head, info = fit_recipe(recipe, table, progress=False)
    assert head.corpus_labels_["turev"] == ["angry", "calm", "happy", "sad"]
    assert head.corpus_labels_["tess"] == ["angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]
    assert set(info["speakers"]) == {"tess:OAF", "tess:YAF", "turev:1157", "turev:1234", "turev:1358"}


def test_manifest_trains_like_any_corpus(corpora: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tess, _ = corpora
    files = sorted(tess.rglob("*.flac"))
    lines = ["file,emotion,speaker"] + [
        f"{f},{'joy' if f.stem.endswith('happy') else 'anger' if f.stem.endswith('angry') else 'sadness'},{f.stem[:3]}"
        for f in files if f.stem.endswith(("happy", "angry", "sad"))
    ]
    manifest = tmp_path / "mine.csv"
    manifest.write_text("\n".join(lines) + "\n")
    assert main(["info", str(manifest), "--json"]) == 0
    (summary,) = json.loads(capsys.readouterr().out)["corpora"]
    assert summary["corpus"] == "manifest" and summary["clips"] == 12 and summary["speakers"] == 2
    assert summary["emotions"] == {"happy": 4, "sad": 4, "angry": 4}
