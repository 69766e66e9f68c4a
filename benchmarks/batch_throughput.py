"""Batch throughput: ``avemotion predict FOLDER --out r.jsonl`` on the same 40 clips with 1
worker, 2 workers and the Ray engine (a local cluster), each run in its own process.

    python benchmarks/batch_throughput.py [--clips 40]

The clips are the real sample videos and audio of ../shared/data (6 CREMA-D videos, 18 CREMA-D
audio files, 2 RAVDESS videos) and the project's sample, copied round-robin to ``--clips``
files. Reports, per run: wall seconds (model loading included), clips per minute, and the peak
resident memory of the whole process tree (the command and its workers, Ray's included),
sampled every 0.2 s. Writes benchmarks/results/batch_throughput.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from avemotion.core.atomic import atomic_write_bytes

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"
RUNS = {"1 worker": [], "2 workers": ["--workers", "2"], "Ray, local cluster": ["--engine", "ray"]}


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MB."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total / 1024


def _run(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak process-tree RSS (MB) and exit code of ``command``."""
    tic = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0.0]

    def sample() -> None:
        while process.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(process.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = process.communicate()
    watcher.join()
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{err}")
    return time.perf_counter() - tic, peak[0], process.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "batch_throughput.json")
    args = parser.parse_args()
    sources = sorted((SHARED / "crema_d_samples" / "VideoFlash").glob("*.flv"))
    sources += sorted((SHARED / "crema_d_samples" / "AudioWAV").glob("*.wav"))
    sources += sorted((SHARED / "crema_d_samples" / "AudioMP3").glob("*.mp3"))
    sources += [*sorted((SHARED / "ravdess" / "video_samples").rglob("*.mp4")), REPO / "examples" / "sample.mp4"]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        folder.mkdir()
        for i in range(args.clips):
            source = sources[i % len(sources)]
            shutil.copy(source, folder / f"{i:03d}_{source.name}")
        for name, extra in RUNS.items():
            out = Path(tmp) / f"{name.replace(' ', '_')}.jsonl"
            seconds, peak, _ = _run([sys.executable, "-m", "avemotion.cli.main", "predict", str(folder), "--out", str(out), *extra])
            lines = out.read_text().splitlines()
            rows[name] = {
                "seconds": round(seconds, 1),
                "clips": len(lines),
                "failed": sum('"error"' in line for line in lines),
                "clips_per_minute": round(60 * len(lines) / seconds, 1),
                "peak_rss_mb_process_tree": round(peak),
            }
            print(name, rows[name], flush=True)
    document = {
        "benchmark": "avemotion predict --out on 40 clips: 1 worker, 2 workers, Ray local",
        "command": "python benchmarks/batch_throughput.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "clips": args.clips,
        "runs": rows,
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
