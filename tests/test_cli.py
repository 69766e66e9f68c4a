from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avemotion.cli.main import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["info", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_info_ravdess_real(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, str(shared_data / "ravdess"))
    assert code == 0 and out["errors"] == []
    (summary,) = out["corpora"]
    assert summary["clips"] == 1200
    assert summary["files"] == {"audio": 1200, "video": 2}
    assert summary["modalities"] == {"audio": 1198, "audio+video": 2}
    assert summary["speakers"] == 20
    assert summary["emotions"]["neutral"] == 80 and summary["emotions"]["surprised"] == 160
    assert summary["au"] == {"clips": 1200, "columns": 35, "openface_frames": 0}
    assert summary["unrecognised_files"] == []


def test_info_several_corpora_and_media_text(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = shared_data / "crema_d_samples" / "VideoFlash" / "1001_DFA_ANG_XX.flv"
    code = main(["info", str(shared_data / "crema_d_samples"), str(shared_data / "ck_plus_48"), str(video)])
    out = capsys.readouterr().out
    assert code == 0
    assert "crema_d, 12 clips" in out and "clips by modality: audio 6, audio+video 6" in out
    assert "ck_plus, 981 clips" in out and "speakers: 118" in out
    assert "video: vp6f 480x360" in out and "audio: mp3 44100 Hz" in out


def test_info_fer2013_partitions(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_json(capsys, str(shared_data / "fer2013"))
    assert code == 0
    assert out["corpora"][0]["partitions"] == {"train": 28709, "validation": 3589, "test": 3589}


def test_info_bad_paths_are_one_line_each_and_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    (empty_dir / "unrelated.txt").write_text("x")
    code = main(["info", str(tmp_path / "missing.wav"), str(text), str(empty_dir)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    assert "3 of the paths could not be read" in captured.err
    assert f"{tmp_path / 'missing.wav'}: " in captured.err
    assert f"{text}: " in captured.err and "not an audio or video file" in captured.err
    assert "no known corpus layout" in captured.err


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "avemotion.cli.main", "info", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr
