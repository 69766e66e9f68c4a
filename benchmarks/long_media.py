"""Long recordings: ``avemotion predict`` with the default model on a 10-minute video and on its
audio as a FLAC, whole-clip and as a timeline: seconds, real-time factor, peak memory, windows.

    python benchmarks/long_media.py [--minutes 10] [--timeline-on video|audio|both|none]

Inputs, generated in a temporary folder from the project's sample (examples/sample.mp4): its
first 4 s letterboxed to 640x360 and encoded once (H.264, 25 fps), then repeated by copying the
encoded packets with shifted timestamps (no re-encoding) for ``--minutes``, with the same 4 s of
speech repeated as one AAC track (16 kHz mono); and that speech alone as a 16 kHz FLAC. Each run
is ``avemotion predict --json`` in its own subprocess (model loading included), so its peak RSS
(``os.wait4``) is its own; the 4.6 s sample is run first for reference. The timeline uses
``--window 2 --hop 1`` on ``--timeline-on`` (default: the video, audio and face per window).
Writes benchmarks/results/long_media.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import torch

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.media.decode import load_audio, load_frames, probe
from avemotion.media.encode import write_audio, write_video

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample.mp4"
SR, FPS, UNIT_SECONDS = 16000, 25, 4.0
SIZE = (360, 640)  # height, width


def unit_clip(path: Path) -> np.ndarray:
    """Write the sample's first 4 s as a 640x360 25 fps H.264 video (its 480x360 frames centred
    on a dark canvas); return its speech, 16 kHz float32 (64,000 samples)."""
    frames = load_frames(SAMPLE, np.arange(0, UNIT_SECONDS, 1 / FPS)).images
    images = np.full((len(frames), *SIZE, 3), 16, dtype=np.uint8)
    images[:, :, 80:560] = [cv2.resize(f, (480, 360), interpolation=cv2.INTER_AREA) for f in frames]
    write_video(path, images, FPS)
    return load_audio(SAMPLE, SR)[: int(UNIT_SECONDS * SR)]


def long_video(path: Path, unit: Path, speech: np.ndarray, copies: int) -> None:
    """``copies`` repeats of ``unit``'s H.264 packets (timestamps shifted, no re-encoding) with
    ``speech`` repeated alongside as one AAC track."""
    with av.open(str(unit)) as first, av.open(str(path), "w", options={"movflags": "+faststart"}) as dst:
        template = first.streams.video[0]
        span = sum(p.duration for p in first.demux(template) if p.size)  # in the stream's time base
        video = dst.add_stream_from_template(template)
        audio = dst.add_stream("aac", rate=SR, layout="mono")
        for k in range(copies):
            with av.open(str(unit)) as src:
                for packet in src.demux(src.streams.video[0]):
                    if not packet.size:
                        continue
                    packet.pts += k * span
                    packet.dts += k * span
                    packet.stream = video
                    dst.mux(packet)
            frame = av.AudioFrame.from_ndarray(speech[None], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SR, k * len(speech), Fraction(1, SR)
            dst.mux(audio.encode(frame))
        dst.mux(audio.encode(None))


def predict(path: Path, extra: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``avemotion predict PATH --json EXTRA`` in a subprocess: wall seconds, peak RSS (MB),
    exit code and its JSON document."""
    with tempfile.TemporaryFile("w+") as out:
        command = [sys.executable, "-m", "avemotion.cli.main", "predict", str(path), "--json", *extra]
        tic = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - tic
        child.returncode = os.waitstatus_to_exitcode(status)
        err = child.stderr.read() if child.stderr else ""
        out.seek(0)
        text = out.read()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}): {err.strip()}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "document": json.loads(text)}


def row(name: str, path: Path, mode: str, run: dict[str, Any], frames: int | None) -> dict[str, Any]:
    duration = probe(path).duration
    predictions = run["document"]["predictions"]
    first = predictions[0]
    out = {
        "input": name,
        "mode": mode,
        "media_duration_s": round(duration, 2),
        "seconds": round(run["seconds"], 1),
        "real_time_factor": round(run["seconds"] / duration, 4),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "timeline_windows": len(predictions) if mode == "timeline" else None,
        "frames_analysed": frames,
        "used": first["used"],
    }
    if mode == "clip":
        out["stages_s"] = {k: round(v, 2) for k, v in first["timings"].items()}
    print(f"{name:8s} {mode:8s} {duration:7.1f} s media  {out['seconds']:7.1f} s  RTF {out['real_time_factor']:.3f}  "
          f"peak RSS {out['peak_rss_mb']:7.1f} MB" + (f"  {len(predictions)} windows" if mode == "timeline" else ""),
          flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--timeline-on", choices=("video", "audio", "both", "none"), default="video")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "long_media.json")
    args = parser.parse_args()
    copies = round(args.minutes * 60 / UNIT_SECONDS)
    model = avemotion.load("default").branches["face"]  # the face branch decides how many frames are read
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = dict(os.environ, AVEMOTION_CACHE_DIR=str(folder / "cache"))
        tic = time.perf_counter()
        speech = unit_clip(folder / "unit.mp4")
        media = {"video": folder / "long.mp4", "audio": folder / "long.flac"}
        long_video(media["video"], folder / "unit.mp4", speech, copies)
        write_audio(media["audio"], np.tile(speech, copies), SR)
        generate = time.perf_counter() - tic
        info = probe(media["video"])
        print(f"generated {info.duration:.1f} s of 640x360 video and FLAC in {generate:.1f} s", flush=True)
        rows = [row("sample", SAMPLE, "clip", predict(SAMPLE, [], env), model.frame_count(probe(SAMPLE).duration))]
        for name, path in media.items():
            frames = model.frame_count(info.duration) if name == "video" else None
            rows.append(row(name, path, "clip", predict(path, [], env), frames))
        timeline = ["--timeline", "--window", "2", "--hop", "1"]
        for name in {"video": ["video"], "audio": ["audio"], "both": ["video", "audio"], "none": []}[args.timeline_on]:
            frames = model.frame_count(info.duration, timeline=True) if name == "video" else None
            rows.append(row(name, media[name], "timeline", predict(media[name], timeline, env), frames))
        sizes = {name: round(path.stat().st_size / 2**20, 1) for name, path in media.items()}
    document = {
        "benchmark": "avemotion predict on long recordings, default model (Whisper audio + FER face model)",
        "command": "python benchmarks/long_media.py" + ("" if args.minutes == 10 else f" --minutes {args.minutes:g}")
        + ("" if args.timeline_on == "video" else f" --timeline-on {args.timeline_on}"),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "avemotion": avemotion.__version__,
        "inputs": {
            "video": {"size": f"{info.video.width}x{info.video.height}" if info.video else None, "fps": FPS,
                      "codecs": "h264+aac", "duration_s": round(info.duration, 2), "mb": sizes["video"]},
            "audio": {"format": "flac 16 kHz mono", "duration_s": round(len(speech) * copies / SR, 2), "mb": sizes["audio"]},
            "generate_seconds": round(generate, 1),
        },
        "max_frames": model.max_frames,
        "timeline": {"window_s": 2.0, "hop_s": 1.0},
        "runs": rows,
        "notes": "seconds and peak RSS are per `avemotion predict` subprocess, model loading included; "
        "real_time_factor = seconds / media duration",
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
