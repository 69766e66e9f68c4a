"""Speed of ``avemotion predict`` with the default model: time per stage, real-time factor,
frames analysed per second of video, batch throughput and peak memory, on this CPU as it is
(``native``) and with its instruction sets capped to AVX2 (``avx2``), as on a CPU without AVX-512.

    python benchmarks/predict_speed.py [--repeats 5] [--threads N] [--isa both|native|avx2]

The AVX2 case runs in a child process with the runtimes' caps set before they load:
``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN: convolutions, linear layers), ``ATEN_CPU_CAPABILITY=avx2``
(PyTorch's own kernels), ``MKL_ENABLE_INSTRUCTIONS=AVX2`` (MKL) and ``OPENBLAS_CORETYPE=Haswell``
(NumPy's OpenBLAS). Each case records the CPU model, its instruction-set extensions, the ISA
PyTorch reports (``torch.backends.cpu.get_cpu_capability()``) and the ISA oneDNN says it
dispatches to (from ``ONEDNN_VERBOSE``), which shows that the cap is honoured.

Inputs: a 4 s 1280x720 H.264 + AAC clip with speech made from the project's sample
(examples/sample.mp4, frames scaled to 960x720 on a 1280x720 canvas), the sample itself, and the real sample
videos in ../shared/data (2 RAVDESS, 6 CREMA-D) when present. Each clip is analysed once to
warm up, then ``--repeats`` times; the median is reported. The batch figure is one pass over all
clips with the warm model. Writes benchmarks/results/predict_speed.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.media.decode import load_audio, load_frames, probe
from avemotion.media.encode import write_video
from avemotion.prediction.face import FaceBranch
from avemotion.prediction.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"
SAMPLE = REPO / "examples" / "sample.mp4"


def make_720p(path: Path, seconds: float = 4.0) -> Path:
    """The sample's first ``seconds`` at 1280x720, 25 fps, with its speech: each 640x480 frame
    scaled to 960x720 (aspect kept) and centred on a dark 1280x720 canvas."""
    frames = load_frames(SAMPLE, np.arange(0, seconds, 1 / 25))
    images = np.full((len(frames), 720, 1280, 3), 16, dtype=np.uint8)
    images[:, :, 160:1120] = [cv2.resize(f, (960, 720), interpolation=cv2.INTER_CUBIC) for f in frames.images]
    audio = load_audio(SAMPLE, 16000)[: int(seconds * 16000)]
    write_video(path, images, 25, audio=audio, sr=16000)
    return path


#: The environment that caps every runtime avemotion uses to AVX2.
AVX2_CAP = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
}
_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "avx_vnni")


def cpu_description() -> dict[str, object]:
    """The CPU model and the instruction-set extensions of interest it has (from /proc/cpuinfo)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return {"model": model, "extensions": [f for f in _FLAGS if f in flags]}


def _cpu_ticks() -> list[int]:
    """The machine's CPU time counters (user, nice, system, idle, iowait, irq, softirq, steal...)."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return []


def onednn_isa() -> str:
    """The ISA oneDNN reports it dispatches to, from a tiny convolution in a child process with
    ``ONEDNN_VERBOSE=1`` (inheriting this process's caps)."""
    code = "import torch; torch.nn.functional.conv2d(torch.rand(4, 16, 32, 32), torch.rand(16, 16, 3, 3))"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "ONEDNN_VERBOSE": "1"},
                         capture_output=True, text=True, timeout=120).stdout
    return next((line.split("isa:", 1)[1].strip() for line in out.splitlines() if "isa:" in line), "unknown")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--isa", choices=("both", "native", "avx2"), default="both")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "predict_speed.json")
    args = parser.parse_args()
    if args.isa == "both":
        cases = {}
        with tempfile.TemporaryDirectory() as tmp:
            for isa, env in (("native", {}), ("avx2", AVX2_CAP)):
                part = Path(tmp) / f"{isa}.json"
                command = [sys.executable, __file__, "--isa", isa, "--repeats", str(args.repeats), "--out", str(part)]
                command += ["--threads", str(args.threads)] if args.threads else []
                subprocess.run(command, env={**os.environ, **env}, check=True)
                cases[isa] = json.loads(part.read_text())
        document = {
            "benchmark": "avemotion predict speed, default model (Whisper audio + FER face model, product fusion)",
            "command": "python benchmarks/predict_speed.py",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpu": cpu_description(),
            "cases": cases,
        }
        atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clips = [make_720p(Path(tmp) / "speech_720p.mp4"), SAMPLE]
        clips += sorted((SHARED / "ravdess" / "video_samples").rglob("*.mp4"))
        clips += sorted((SHARED / "crema_d_samples" / "VideoFlash").glob("*.flv"))
        tic = time.perf_counter()
        model = Recognizer.load("default")
        load_seconds = time.perf_counter() - tic
        face = model.branches["face"]
        assert isinstance(face, FaceBranch)
        rows = []
        steal_before = _cpu_ticks()
        for clip in clips:
            duration = probe(clip).duration
            model.analyse(clip)
            runs = []
            for _ in range(args.repeats):
                tic = time.perf_counter()
                prediction = model.analyse(clip)
                runs.append((time.perf_counter() - tic, prediction))
            total = statistics.median(r[0] for r in runs)
            stages = {k: statistics.median(r[1].timings.get(k, 0.0) for r in runs) for k in runs[0][1].timings}
            info = probe(clip)
            n_frames = face.frame_count(duration) if info.has_video else 0
            rows.append({
                "clip": clip.name if clip.parent != Path(tmp) else "generated 1280x720 H.264+AAC with speech",
                "size": f"{info.video.width}x{info.video.height}" if info.video else None,
                "duration_s": round(duration, 3),
                "seconds": round(total, 4),
                "fastest_s": round(min(r[0] for r in runs), 4),
                "real_time_factor": round(total / duration, 4),
                "frames_analysed": n_frames,
                "frames_analysed_per_video_second": round(n_frames / duration, 2),
                "stages_s": {k: round(v, 4) for k, v in stages.items()},
                "used": prediction.used,
            })
            print(f"{rows[-1]['clip'][:44]:44s} {duration:5.2f} s media  {total:6.3f} s  RTF {total / duration:.3f}  "
                  + " ".join(f"{k} {v:.3f}" for k, v in stages.items()), flush=True)
        tic = time.perf_counter()
        for clip in clips:
            model.analyse(clip)
        batch = time.perf_counter() - tic
        ticks = [b - a for a, b in zip(steal_before, _cpu_ticks())]
    document = {
        "isa": args.isa,
        "caps": {k: os.environ[k] for k in AVX2_CAP if k in os.environ},
        "cpu": cpu_description(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_isa": onednn_isa(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "avemotion": avemotion.__version__,
        "model_load_seconds": round(load_seconds, 3),
        "face_model_precision": face.precision,
        "parallel_branches": model.parallel,
        "repeats": args.repeats,
        "clips": rows,
        "batch": {"clips": len(clips), "seconds": round(batch, 3), "clips_per_minute": round(60 * len(clips) / batch, 1)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "steal_share": round(ticks[7] / max(sum(ticks), 1), 4) if len(ticks) > 7 else None,
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    print(f"batch: {document['batch']['clips_per_minute']} clips/min; peak RSS {document['peak_rss_mb']} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
