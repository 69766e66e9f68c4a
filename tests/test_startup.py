"""Start-up stays light: ``--help``, ``--version``, ``train --list`` and ``info FILE`` import no
model code, and a missing input is reported before any model loads.

Each command runs in a fresh interpreter (the test process has imported everything already) that
reports the modules it ended up with. No wall-clock times are asserted here (timing belongs in
the benchmarks).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

#: Runs ``main(argv)`` and prints, as JSON, its exit code, its stdout and the modules it imported.
CHILD = """
import contextlib, io, json, sys
from avemotion.cli.main import main

out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as stop:  # argparse's --help and --version
        code = stop.code
print(json.dumps({"code": code, "stdout": out.getvalue(), "modules": sorted(sys.modules)}))
"""

#: Model and training code none of the light commands may import.
HEAVY = ("torch", "sklearn", "librosa", "avemotion.prediction", "avemotion.training", "avemotion.bundles")


def run_cli(*argv: str, cwd: Path) -> tuple[dict[str, Any], str]:
    """Run the command line in a fresh interpreter: (its report, its stderr)."""
    done = subprocess.run([sys.executable, "-c", CHILD, *argv], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def imported(report: dict[str, Any], *names: str) -> list[str]:
    """Those of ``names`` (packages) the run imported."""
    modules = set(report["modules"])
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


@pytest.fixture()
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return path


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["predict", "--help"], ["cache", "--help"]])
def test_help_and_version_import_only_the_standard_library_and_core(argv: list[str], tmp_path: Path) -> None:
    report, _ = run_cli(*argv, cwd=tmp_path)
    assert report["code"] == 0
    assert "avemotion" in report["stdout"]
    assert imported(report, *HEAVY, "numpy", "pandas", "yaml", "av", "cv2", "tqdm") == []


def test_train_list_reads_the_recipe_names_without_the_training_code(tmp_path: Path) -> None:
    report, _ = run_cli("train", "--list", cwd=tmp_path)
    assert report["code"] == 0
    assert imported(report, *HEAVY, "numpy", "pandas") == []
    lines = report["stdout"].splitlines()
    assert any(line.split() == ["audio_whisper", "logistic"] for line in lines)
    assert any(line.startswith("avemotion ") and "system: audio audio_whisper + face face; fusion product" in line
               for line in lines)


def test_train_list_shows_what_the_checked_loaders_read(tmp_path: Path) -> None:
    """``train --list`` reads the YAML unchecked; the checked recipes and systems say the same."""
    from avemotion.recipes import list_recipes, list_systems, load_recipe
    from avemotion.training.systems import load_system

    report, _ = run_cli("train", "--list", cwd=tmp_path)
    expected = [f"{name:24s} {load_recipe(name)['model']['name']}" for name in list_recipes()]
    for name in list_systems():
        system = load_system(name)
        branches = " + ".join(f"{b} {next(iter(v.values()))}" for b, v in system["branches"].items())
        expected.append(f"{name:24s} system: {branches}; fusion {system['fusion']}")
    assert report["stdout"].splitlines() == expected


def test_info_on_a_media_file_needs_only_pyav(wav: Path, tmp_path: Path) -> None:
    report, _ = run_cli("info", str(wav), cwd=tmp_path)
    assert report["code"] == 0
    assert report["stdout"].splitlines()[0] == f"{wav}: wav, 1.00 s"
    assert imported(report, *HEAVY, "pandas", "cv2", "avemotion.corpora", "avemotion.audio") == []


def test_info_on_a_missing_file_imports_no_decoder(tmp_path: Path) -> None:
    report, err = run_cli("info", "missing.wav", cwd=tmp_path)
    assert report["code"] == 1
    assert "missing.wav: file not found" in err
    assert imported(report, *HEAVY, "av", "pandas") == []


def test_predict_a_missing_file_is_one_line_and_loads_no_model(tmp_path: Path) -> None:
    report, err = run_cli("predict", "missing.mp4", cwd=tmp_path)
    assert report["code"] == 1
    assert err == "avemotion: missing.mp4: file not found\n"
    assert report["stdout"] == ""
    assert imported(report, *HEAVY, "numpy") == []


def test_predict_with_every_input_missing_lists_them_and_loads_no_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    report, err = run_cli("predict", "a.wav", "empty", "--json", cwd=tmp_path)
    assert report["code"] == 1
    assert err.splitlines() == ["2 failed:", "  a.wav: file not found", "  empty: no media files in this folder"]
    assert imported(report, *HEAVY) == []


def test_predict_au_csv_missing_is_reported_before_the_model_loads(wav: Path, tmp_path: Path) -> None:
    report, err = run_cli("predict", str(wav), "--au", "missing.csv", "--model", "ravdess-av-au", cwd=tmp_path)
    assert report["code"] == 1
    assert err == "avemotion: missing.csv: file not found\n"
    assert imported(report, *HEAVY) == []


def test_evaluate_a_missing_folder_is_reported_before_the_model_loads(tmp_path: Path) -> None:
    report, err = run_cli("evaluate", "--data", "missing_folder", cwd=tmp_path)
    assert report["code"] == 1
    assert err == "avemotion: missing_folder: does not exist\n"
    assert imported(report, *HEAVY) == []


def test_the_installed_script_reports_a_missing_file_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "avemotion.cli.main", "predict", "missing.mp4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "avemotion: missing.mp4: file not found\n")


def test_info_corpus_choices_are_the_readers() -> None:
    from avemotion.cli.info_cmd import CORPUS_NAMES
    from avemotion.corpora import READERS

    assert list(CORPUS_NAMES) == sorted(READERS)


def test_cache_dir_variable_is_the_one_the_cache_reads() -> None:
    from avemotion.cache import ENV_VAR
    from avemotion.core.env import CACHE_DIR_VAR

    assert ENV_VAR == CACHE_DIR_VAR == "AVEMOTION_CACHE_DIR"
