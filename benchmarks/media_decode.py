"""Time the media layer on a 4 s 1280x720 H.264 + AAC clip with speech.

The clip is made from RAVDESS Actor_01 ``01-01-07-02-02-01-01.mp4`` (640x480, 29.97 fps, 120 frames,
speech): its frames are scaled to 1280x720 and re-encoded with :func:`avemotion.media.encode.write_video`
(libx264 defaults, yuv420p) together with its own 44.1 kHz AAC audio, in a temporary folder.
Then :func:`load_clip` (12 frames + 16 kHz audio, what the predictor calls), :func:`probe`,
:func:`load_audio` and :func:`load_frames` are each run once to warm up and ``--runs`` times timed.

    python benchmarks/media_decode.py [--out benchmarks/results/media_decode.json] [--runs 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

import avemotion
from avemotion.media.decode import (
    iter_frames,
    load_audio,
    load_clip,
    load_frames,
    probe,
)
from avemotion.media.encode import write_video

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared"))
SOURCE = SHARED / "data/ravdess/video_samples/Actor_01/01-01-07-02-02-01-01.mp4"
HEIGHT, WIDTH = 720, 1280
N_FRAMES, SR = 12, 16000


def make_clip(source: Path, dst: Path) -> dict[str, object]:
    """Write the 1280x720 clip with ``source``'s speech to ``dst``; describe it."""
    info = probe(source)
    assert info.video is not None and info.audio is not None
    frames = np.stack([image for _, image in iter_frames(source, size=(HEIGHT, WIDTH))])
    audio = load_audio(source, sr=info.audio.sample_rate)
    fps = Fraction(info.video.fps).limit_denominator(1001)
    write_video(dst, frames, fps, audio=audio, sr=info.audio.sample_rate)
    made = probe(dst)
    assert made.video is not None and made.audio is not None
    video, audio = made.video, made.audio
    return {
        "description": f"RAVDESS {source.name} frames scaled to {WIDTH}x{HEIGHT}, re-encoded with "
        "avemotion.media.encode.write_video (libx264 defaults, yuv420p, faststart mp4) with its own AAC speech track",
        "source": str(source.relative_to(SHARED)) if source.is_relative_to(SHARED) else str(source),
        "container": made.format,
        "video": f"{video.codec} {video.width}x{video.height} {video.fps:.3f} fps, {video.n_frames} frames",
        "audio": f"{audio.codec} {audio.sample_rate} Hz, {audio.channels} channel(s)",
        "duration_s": round(made.duration, 3),
        "bytes": dst.stat().st_size,
    }


def timed(call: Callable[[], object], runs: int) -> dict[str, float | int]:
    """Median and min wall time (s) of ``runs`` calls after one warm-up call."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4), "runs": runs}


def write_json_atomic(path: Path, data: dict[str, object]) -> None:
    """Write ``data`` to a temporary file beside ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/media_decode.json")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    if not SOURCE.is_file():
        print(f"{SOURCE}: not found (the benchmark needs ../shared; set AVEMOTION_SHARED)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        clip = Path(folder) / "clip_1280x720.mp4"
        description = make_clip(SOURCE, clip)
        timings = {
            "load_clip": timed(lambda: load_clip(clip, n_frames=N_FRAMES, sr=SR), args.runs),
            "probe": timed(lambda: probe(clip), args.runs),
            "load_audio": timed(lambda: load_audio(clip, sr=SR), args.runs),
            "load_frames": timed(lambda: load_frames(clip, n=N_FRAMES), args.runs),
        }
    result = {
        "benchmark": "media_decode",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "avemotion": avemotion.__version__,
        "av": av.__version__,
        "ffmpeg": av.ffmpeg_version_info,
        "clip": description,
        "calls": {
            "load_clip": f"load_clip(path, n_frames={N_FRAMES}, sr={SR})",
            "probe": "probe(path)",
            "load_audio": f"load_audio(path, sr={SR})",
            "load_frames": f"load_frames(path, n={N_FRAMES})",
        },
        "timings": timings,
        "target_load_clip_s": 1.0,
    }
    write_json_atomic(args.out, result)
    for name, t in timings.items():
        print(f"{name:12s} median {t['median_s'] * 1000:7.1f} ms   min {t['min_s'] * 1000:7.1f} ms")
    print(f"{os.cpu_count()} cores; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
