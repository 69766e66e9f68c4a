"""Issue 14, the command line: every mistake a user can make gives one line
``avemotion: <what>: <problem>`` (exit 1), or argparse's usage error (exit 2) for a bad option
value, and never a traceback.

Each test runs :func:`avemotion.cli.main.main` on files it makes in ``tmp_path``, or on the
shared data (skipped when it is absent).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from avemotion.cli.main import main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample.mp4"
PRETRAINED = REPO / "src" / "avemotion" / "pretrained"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)``: (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str, *parts: str) -> str:
    """The one stderr line, checked to start with ``avemotion:`` and to hold each of ``parts``."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("avemotion: "), line
    for part in parts:
        assert part in line, line
    return line


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``argv``, which argparse must refuse (exit 2); its error line."""
    with pytest.raises(SystemExit) as stop:
        main(list(argv))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("usage: avemotion")
    return err.strip().splitlines()[-1]


def write_manifest(folder: Path, speakers: list[str], *, suffix: str = ".wav") -> Path:
    """A manifest CSV of small files (never decoded by these tests), one clip per speaker and emotion."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,emotion,speaker"]
    for s in speakers:
        for emotion in ("angry", "happy"):
            name = f"{s}_{emotion}{suffix}"
            (folder / name).write_bytes(b"RIFF")
            rows.append(f"{name},{emotion},{s}")
    path = folder / "clips.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


# --- 1. --window / --hop -----------------------------------------------------------------


@pytest.mark.parametrize(("option", "value"), [("--hop", "0"), ("--window", "-1"), ("--window", "nan"), ("--hop", "inf")])
def test_timeline_window_and_hop_must_be_finite_and_positive(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    line = usage_error(capsys, "predict", str(SAMPLE), "--timeline", option, value)
    assert line == f"avemotion predict: error: argument {option}: '{value}': must be a finite number of seconds > 0"


def test_timeline_window_must_be_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error(capsys, "predict", str(SAMPLE), "--timeline", "--window", "two")
    assert line == "avemotion predict: error: argument --window: 'two' is not a number of seconds"


def test_evaluate_limit_must_be_a_positive_count(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = usage_error(capsys, "evaluate", "--data", str(tmp_path), "--limit", "0")
    assert line == "avemotion evaluate: error: argument --limit: '0': must be a whole number >= 1"


# --- 2. --cache-dir ----------------------------------------------------------------------


def _commands(tmp_path: Path) -> dict[str, list[str]]:
    return {
        "predict": ["predict", str(SAMPLE)],
        "evaluate": ["evaluate", "--data", str(tmp_path)],
        "train": ["train", "--recipe", "audio_whisper", "--data", str(tmp_path), "--out", str(tmp_path / "out")],
    }


@pytest.mark.parametrize("command", ["predict", "evaluate", "train"])
def test_cache_dir_that_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    for folder, problem in ((file, "it is a file, not a folder"), (file / "sub", f"{file} is a file, not a folder")):
        code, _, err = run(capsys, "--cache-dir", str(folder), *_commands(tmp_path)[command])
        assert code == 1
        line = one_line(err, "cannot write the cache folder", problem)
        assert line.startswith(f"avemotion: {folder}: ")


@pytest.mark.parametrize("command", ["predict", "evaluate", "train"])
def test_cache_dir_that_cannot_be_written(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    from avemotion.core.folders import unwritable_reason

    if not Path("/proc").is_dir() or unwritable_reason("/proc") is None:
        pytest.skip("needs a folder no file can be created in (/proc)")
    code, _, err = run(capsys, "--cache-dir", "/proc", *_commands(tmp_path)[command])
    assert code == 1
    assert one_line(err, "cannot write the cache folder").startswith("avemotion: /proc: ")


def test_cache_dir_is_made_when_missing(tmp_path: Path) -> None:
    from avemotion.core.folders import unwritable_reason

    folder = tmp_path / "new" / "cache"
    assert unwritable_reason(folder) is None and folder.is_dir()
    assert list(folder.iterdir()) == []  # the check leaves nothing behind


def test_train_list_does_not_need_a_cache(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    code, out, _ = run(capsys, "--cache-dir", str(file), "train", "--list")
    assert code == 0 and "audio_whisper" in out


def test_feature_cache_write_failure_is_a_cache_error(tmp_path: Path) -> None:
    from avemotion.cache import FeatureCache
    from avemotion.errors import CacheError

    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(CacheError, match=r"file: cannot write the cache folder \(.*\); give a writable one with --cache-dir"):
        FeatureCache(file).put("mfcc", "ab" * 32, np.zeros(3))


def test_whisper_base_model_join_names_the_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from avemotion.audio import whisper
    from avemotion.errors import CacheError

    file = tmp_path / "file"
    file.write_text("x")
    monkeypatch.setenv("AVEMOTION_CACHE_DIR", str(file))
    monkeypatch.delenv("AVEMOTION_WHISPER_BASE", raising=False)
    with pytest.raises(CacheError) as error:
        whisper.model_dir("base")
    message = str(error.value)
    assert message.startswith(f"{file}: cannot write the cache folder (the Whisper base model is joined into it on first use")


# --- 3. model.params ---------------------------------------------------------------------


def _recipe(path: Path, model: dict, *, extractor: str = "whisper_base", training: dict | None = None) -> Path:
    recipe = {"labels": "ravdess8", "features": {"extractor": extractor}, "model": model,
              "training": training or {"validation_fraction": 0.1, "seed": 0}}
    path.write_text(json.dumps(recipe))  # JSON is YAML
    return path


NETWORK_TRAINING = {"epochs": 1, "batch_size": 8, "optimizer": "adam", "lr": 0.001, "weight_decay": 0.0,
                    "patience": 1, "class_balance": "loss", "validation_fraction": 0.2, "seed": 0}


@pytest.mark.parametrize(
    ("model", "extractor", "unknown"),
    [
        ({"name": "logistic", "params": {"Cz": [1]}}, "whisper_base", "'Cz'"),
        ({"name": "crnn", "params": {"kernel_sise": 3}}, "log_mel", "'kernel_sise'"),
        ({"name": "alexnet_mfcc", "params": {"pool_strid": 2}}, "mfcc_sequence", "'pool_strid'"),  # **trunk
        ({"name": "cnn1d", "params": {"n_classes": 3}}, "mfcc_sequence", "'n_classes'"),  # set from the labels
    ],
)
def test_misspelt_model_parameter_is_refused_when_the_recipe_loads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: dict, extractor: str, unknown: str
) -> None:
    neural = model["name"] != "logistic"
    recipe = _recipe(tmp_path / "my.yaml", model, extractor=extractor, training=NETWORK_TRAINING if neural else None)
    # the data folder does not exist: the recipe is refused before the data is even read
    code, _, err = run(capsys, "train", "--recipe", str(recipe), "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "b"))
    assert code == 1
    one_line(err, f"{recipe}: ", unknown, f"model.params of {model['name']}", "known: ")


def test_forwarded_parameters_are_accepted() -> None:
    from avemotion.recipes import validate

    model = {"name": "alexnet_mfcc", "params": {"n_mfcc": 20, "pool_stride": 2, "fc_units": [64, 64]}}
    recipe = {"labels": "ravdess8", "features": {"extractor": "mfcc_sequence"}, "model": model, "training": NETWORK_TRAINING}
    assert validate(recipe)["model"]["params"]["pool_stride"] == 2


# --- 4. evaluate --split -----------------------------------------------------------------


def test_evaluate_split_test_scores_that_partition(shared_data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_json = tmp_path / "m.json"
    code, out, err = run(capsys, "evaluate", "--data", str(shared_data / "fer2013"), "--split", "test", "--limit", "3",
                         "--json", str(out_json))
    assert code == 0, err
    assert "Traceback" not in err and out.startswith("n 3 ")
    details = json.loads(out_json.read_text())["details"]
    assert details["split"] == "test partition (the trained model predicts its 3 clips)"


@pytest.mark.parametrize("split", ["speaker5", "partition"])
def test_evaluate_named_split_on_images_says_there_is_no_audio(
    shared_data: Path, capsys: pytest.CaptureFixture[str], split: str
) -> None:
    code, _, err = run(capsys, "evaluate", "--model", "default", "--data", str(shared_data / "fer2013"), "--split", split)
    assert code == 1
    one_line(err, f"--split {split} cross-validates the audio recipe of model default", "fer2013 has no audio clips")


def test_evaluate_unknown_split_and_missing_partition(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_manifest(tmp_path / "m", ["a", "b"])
    code, _, err = run(capsys, "evaluate", "--data", str(data), "--split", "bogus")
    assert code == 1
    one_line(err, "--split bogus: not a partition (train, validation, test) nor a named split (ravdess-si5")
    code, _, err = run(capsys, "evaluate", "--data", str(data), "--split", "test")
    assert code == 1
    one_line(err, "--split test: manifest has no test partition; it has no partitions")


def test_evaluate_named_split_of_a_recognizer_bundle(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_manifest(tmp_path / "m", ["a", "b"])
    code, _, err = run(capsys, "evaluate", "--model", "ravdess-av-au", "--data", str(data), "--split", "speaker5")
    assert code == 1
    one_line(err, "model ravdess-av-au is a bundle of kind av-au", "--split train/validation/test")


# --- 5. info on a text file with a media name --------------------------------------------


def test_info_text_file_named_flac(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from avemotion.errors import CorruptMediaError, UnsupportedMediaError
    from avemotion.media.decode import load_audio, probe

    text = tmp_path / "x.flac"
    text.write_text("this is a text file, not a FLAC file\n")
    code, out, err = run(capsys, "info", str(text))
    assert code == 1 and out == ""
    assert one_line(err) == f"avemotion: {text}: not an audio or video file"
    for read in (probe, load_audio):
        with pytest.raises(UnsupportedMediaError, match="not an audio or video file"):
            read(text)
    damaged = tmp_path / "y.flac"
    damaged.write_bytes(b"fLaC\x00\x00\x00\x22garbage")
    with pytest.raises(CorruptMediaError):
        probe(damaged)


# --- 6. messages in the user's words -----------------------------------------------------


def test_too_few_speakers_for_cross_validation(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    one = write_manifest(tmp_path / "one", ["a"])
    two = write_manifest(tmp_path / "two", ["a", "b"])
    code, _, err = run(capsys, "train", "--recipe", "audio_whisper", "--data", str(one), "--split", "speaker5",
                       "--out", str(tmp_path / "b"))
    assert code == 1
    assert one_line(err) == "avemotion: cross-validation by speaker needs at least 2 speakers; the data has 1 speaker"
    code, _, err = run(capsys, "evaluate", "--data", str(two), "--split", "speaker10")
    assert code == 1
    assert one_line(err) == ("avemotion: cross-validation by speaker needs a speaker per fold: 10 speakers for "
                             "10 folds; the data has 2 speakers")


def test_too_few_speakers_to_train(tmp_path: Path) -> None:
    import pandas as pd

    from avemotion.corpora.splits import speaker_train_test_split
    from avemotion.errors import SplitError

    table = pd.DataFrame({"clip_id": ["1", "2"], "speaker": ["m:a", "m:a"]})
    with pytest.raises(SplitError) as error:
        speaker_train_test_split(table, validation=0.2, test=0.0, name="training")
    assert str(error.value) == "training: a split by speaker into train and validation needs at least 2 speakers; the data has 1 speaker"


def test_speaker_ids_are_plain_strings_in_messages(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_manifest(tmp_path / "m", ["crema_d:1001", "crema_d:1002"])
    code, _, err = run(capsys, "train", "--recipe", "audio_whisper", "--data", str(data), "--split", "ravdess-si5",
                       "--out", str(tmp_path / "b"))
    assert code == 1
    line = one_line(err, "speaker manifest:crema_d:1001 is not a RAVDESS actor")
    assert "np.str_" not in line and "'" not in line


def test_recipe_for_a_modality_the_data_lacks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = write_manifest(tmp_path / "m", ["a", "b"], suffix=".png")
    code, _, err = run(capsys, "train", "--recipe", "audio_whisper", "--data", str(data), "--out", str(tmp_path / "b"))
    assert code == 1
    assert one_line(err) == "avemotion: recipe audio_whisper trains on audio clips; manifest has none"


def _bundle_without_kind(folder: Path) -> Path:
    shutil.copytree(PRETRAINED / "audio", folder)
    config = json.loads((folder / "bundle.json").read_text())
    config["kind"] = None
    (folder / "bundle.json").write_text(json.dumps(config))
    return folder


def test_bundle_without_a_kind(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bundle = _bundle_without_kind(tmp_path / "b")
    code, _, err = run(capsys, "predict", "--model", str(bundle), str(SAMPLE))
    assert code == 1
    line = one_line(err, f"{bundle / 'bundle.json'}: its 'kind' must name the kind of bundle (audio, face, video")
    assert line.endswith("not null") and "None" not in line


def test_recognizer_part_without_a_kind(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    recognizer = tmp_path / "r"
    shutil.copytree(PRETRAINED / "default", recognizer)
    config = json.loads((recognizer / "bundle.json").read_text())
    config["parts"] = {"audio": "audio", "face": "shipped:face"}
    (recognizer / "bundle.json").write_text(json.dumps(config))
    _bundle_without_kind(recognizer / "audio")
    code, _, err = run(capsys, "predict", "--model", str(recognizer), str(SAMPLE))
    assert code == 1
    line = one_line(err, f"{recognizer / 'audio' / 'bundle.json'}: its 'kind' must name the kind of bundle")
    assert "None" not in line


def test_recognizer_bundle_has_no_estimator_of_its_own() -> None:
    from avemotion.bundles import BundleError, load_bundle

    with pytest.raises(BundleError, match="a recognizer bundle holds no estimator of its own"):
        load_bundle("default")
