"""Batch analysis: inputs (folders, globs, manifests), the streamed resumable output, a run
killed and resumed, --workers 2 against --workers 1, and the Ray engine with a killed worker."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from avemotion.batch.engines import LocalEngine, PredictJob, RayEngine, Task
from avemotion.batch.inputs import expand_inputs
from avemotion.batch.results import ResultLog
from avemotion.batch.run import run_batch
from avemotion.cli.main import main

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real clips (the sample, its audio, the shared RAVDESS sample videos when present) and a corrupt one."""
    from avemotion.media.decode import load_audio
    from avemotion.media.encode import write_audio

    root = tmp_path_factory.mktemp("clips")
    shutil.copy(SAMPLE, root / "a_sample.mp4")
    write_audio(root / "b_speech.wav", load_audio(SAMPLE, 16000), 16000)
    shared = Path(os.environ.get("AVEMOTION_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
    for video in sorted((shared / "ravdess" / "video_samples").rglob("*.mp4")):
        shutil.copy(video, root / video.name)
    (root / "c_corrupt.mp4").write_bytes(SAMPLE.read_bytes()[:30000])
    return root


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "timings"}


def test_inputs_from_folders_globs_and_manifests(folder: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"file,emotion,speaker\n{folder / 'a_sample.mp4'},happy,x\n")
    files, failures = expand_inputs([str(folder / "*.wav"), str(manifest), str(folder), str(tmp_path / "nope.mp4"),
                                     str(tmp_path / "*.flv")])
    assert files[0] == folder / "b_speech.wav" and files[1] == folder / "a_sample.mp4"
    assert len(files) == len(set(files)) == len(list(folder.iterdir()))  # each file once
    assert [f.split(": ", 1)[1] for f in failures] == ["file not found", "no file matches this pattern"]


def test_cli_streams_one_line_per_clip_and_resume_adds_nothing(folder: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.jsonl"
    assert main(["predict", str(folder), "--out", str(out)]) == 1  # the corrupt clip fails
    records = _lines(out)
    assert sorted(r["source"] for r in records) == sorted(str(p) for p in folder.iterdir())
    bad = [r for r in records if "error" in r]
    assert len(bad) == 1 and bad[0]["source"].endswith("c_corrupt.mp4") and "truncated" in bad[0]["error"]
    good = [r for r in records if "error" not in r]
    assert all(len(r["sha256"]) == 64 and r["emotion"] in r["probabilities"] for r in good)
    err = capsys.readouterr().err
    assert f"{len(good)} done, 0 skipped" in err and "1 failed" in err and "clips per minute" in err
    assert main(["predict", str(folder), "--out", str(out), "--resume"]) == 0
    assert _lines(out) == records  # nothing new
    assert "0 done, " in capsys.readouterr().err
    assert main(["predict", str(folder), "--out", str(out)]) == 1  # never overwritten without --resume
    assert "already exists" in capsys.readouterr().err
    csv_out = tmp_path / "r.csv"
    assert main(["predict", str(folder / "a_sample.mp4"), "--out", str(csv_out), "--timeline"]) == 0
    rows = csv_out.read_text().splitlines()
    assert rows[0].startswith("source,sha256,start,end,emotion") and len(rows) >= 4


def test_a_killed_run_resumes_to_exactly_one_line_per_clip(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "avemotion.cli.main", "predict", str(folder), "--out", str(out)]
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and out.read_bytes().count(b"\n") >= 1):
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    first = out.read_bytes()
    assert first.count(b"\n") < len(list(folder.iterdir()))  # killed before the end
    with out.open("ab") as f:
        f.write(b'{"source": "half a li')  # as if killed mid-write
    assert subprocess.run([*command, "--resume"], capture_output=True).returncode == 1  # the corrupt clip
    records = _lines(out)  # every line is whole JSON
    assert sorted(r["source"] for r in records) == sorted(str(p) for p in folder.iterdir())


def test_two_workers_give_the_results_of_one(folder: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["predict", str(folder), "--out", str(one)]) == 1
    assert main(["predict", str(folder), "--out", str(two), "--workers", "2"]) == 1
    by_source = {r["source"]: _comparable(r) for r in _lines(one)}
    for record in _lines(two):
        expected = by_source.pop(record["source"])
        got = _comparable(record)
        if "probabilities" in expected:
            assert got["emotion"] == expected["emotion"] and got["used"] == expected["used"]
            assert got["probabilities"] == pytest.approx(expected["probabilities"], abs=1e-5)
        else:
            assert got == expected
    assert not by_source


@pytest.fixture(scope="module")
def ray_cluster() -> Any:
    """A local Ray cluster of 2 CPUs for this module's Ray tests (engines reuse a running one)."""
    ray = pytest.importorskip("ray", reason='the Ray engine needs ray (pip install -e ".[ray]")')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_survives_a_killed_worker(folder: Path, tmp_path: Path, ray_cluster: Any) -> None:
    ray = ray_cluster

    log = ResultLog(tmp_path / "ray.jsonl", resume=False, labels=["neutral"])
    engine = RayEngine(num_cpus=2, workers=2, in_flight=2)
    job = PredictJob("default", threads=1)
    files = sorted(folder.iterdir()) * 2  # enough clips for a kill mid-run
    tasks = [Task(str(f), f"{i:064d}") for i, f in enumerate(files)]
    results = []
    killed = False
    try:
        for result in engine.map(job, tasks):
            results.append(result)
            if not killed:
                pid = ray.get(engine.actors[0].pid.remote())
                os.kill(pid, signal.SIGKILL)
                killed = True
    finally:
        log.close()
    assert killed and sorted(r["sha256"] for r in results) == sorted(t.sha256 for t in tasks)  # every clip, once
    assert sum("error" in r for r in results) == 2  # only the corrupt clip, twice
    assert ray.is_initialized()  # a cluster it did not start is left running


def test_cli_ray_engine_writes_every_clip_and_resumes(folder: Path, tmp_path: Path, ray_cluster: Any) -> None:
    out = tmp_path / "r.jsonl"
    assert main(["predict", str(folder), "--engine", "ray", "--out", str(out)]) == 1
    assert sorted(r["source"] for r in _lines(out)) == sorted(str(p) for p in folder.iterdir())
    assert main(["predict", str(folder), "--engine", "ray", "--out", str(out), "--resume"]) == 0
    assert len(_lines(out)) == len(list(folder.iterdir()))


def test_run_batch_skips_what_the_log_has(folder: Path, tmp_path: Path) -> None:
    log = ResultLog(tmp_path / "x.jsonl", resume=False, labels=["happy"])

    class Echo:
        def setup(self) -> None:
            return None

        def __call__(self, state: None, task: Task) -> dict[str, Any]:
            return {"source": task.source, "sha256": task.sha256, "emotion": "happy", "probabilities": {"happy": 1.0}}

    files = sorted(folder.iterdir())
    first = run_batch(files, LocalEngine(1), Echo(), log, progress=False)  # type: ignore[arg-type]
    second = run_batch(files, LocalEngine(1), Echo(), log, progress=False)  # type: ignore[arg-type]
    log.close()
    assert (first.done, first.skipped, second.done, second.skipped) == (len(files), 0, 0, len(files))


def test_features_fill_the_cache_and_evaluate_predicts_on_two_workers(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from avemotion.audio import extract
    from avemotion.batch.run import fill_feature_cache
    from avemotion.cache import FeatureCache
    from avemotion.features import file_features
    from avemotion.recipes import load_recipe

    recipe = load_recipe("audio_whisper")
    wavs = [str(p) for p in sorted((shared_data / "crema_d_samples" / "AudioWAV").glob("*.wav"))[:4]]
    assert fill_feature_cache([*wavs, str(tmp_path / "gone.wav")], recipe, LocalEngine(2), threads=1) == [
        f"{tmp_path / 'gone.wav'}: file not found"]
    cache = FeatureCache()
    assert cache.stats().entries == 2 * len(wavs)  # two extractors per clip, computed by the workers
    with monkeypatch.context() as m:  # this process now reads them back without computing anything
        m.setattr(extract, "compute", lambda *a, **k: pytest.fail("computed a cached feature"))
        assert all(file_features(wav, recipe, cache).shape == (1792,) for wav in wavs)
    data = str(shared_data / "crema_d_samples")
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert main(["evaluate", "--model", "default", "--data", data, "--limit", "8", "--json", str(one)]) == 0
    assert main(["evaluate", "--model", "default", "--data", data, "--limit", "8", "--json", str(two), "--workers", "2"]) == 0
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert a["n"] == b["n"] == 8 and a["confusion"] == b["confusion"] and a["uar"] == pytest.approx(b["uar"])


def test_csv_log_has_the_audio_novelty_and_resumes_an_older_header(tmp_path: Path) -> None:
    """A CSV log has an ``audio_novelty`` column (empty where the model has none); resuming a CSV
    written before that column existed keeps its header, so every row stays aligned with it."""
    record = {"source": "a.wav", "sha256": "1" * 64, "emotion": "happy", "confidence": 0.9, "used": ["audio"],
              "probabilities": {"happy": 0.9, "sad": 0.1}, "novelty": {"audio": 0.25}}
    log = ResultLog(tmp_path / "new.csv", resume=False, labels=["happy", "sad"])
    log.write(record)
    log.write({**record, "source": "b.jpg", "used": ["face"], "novelty": {}})
    log.close()
    rows = list(csv.DictReader((tmp_path / "new.csv").open()))
    assert [r["audio_novelty"] for r in rows] == ["0.25", ""] and rows[0]["happy"] == "0.9"

    old = tmp_path / "old.csv"
    old.write_text("source,sha256,start,end,emotion,confidence,used,skipped,error,happy,sad\n"
                   f"x.wav,{'2' * 64},,,sad,0.8,audio,,,0.2,0.8\n")
    log = ResultLog(old, resume=True, labels=["happy", "sad"])
    log.write(record)
    log.write({"source": "bad.mp4", "sha256": "3" * 64, "error": "bad.mp4: corrupt file"})
    log.close()
    lines = list(csv.reader(old.open()))
    assert all(len(line) == 11 for line in lines)
    rows = list(csv.DictReader(old.open()))
    assert [r["source"] for r in rows] == ["x.wav", "a.wav", "bad.mp4"]
    assert rows[1]["emotion"] == "happy" and rows[1]["sad"] == "0.1" and rows[2]["error"] == "bad.mp4: corrupt file"
