"""Frames per second of face detection plus the face model, per detector, on 2 cores.

    python benchmarks/face_speed.py [--frames 24] [--repeats 3]

On the real sample videos in ../shared/data (2 RAVDESS 1280x720, 6 CREMA-D 480x360), ``--frames``
evenly spaced keyframes per clip (decoded once, not timed) go through: the detector on every
frame (``detect``), then the shipped face model on the tracked crops (``model``, with its
mirrored-crop averaging). Reports frames per second of each stage and of both, per detector:
``haar`` (the default, Haar on a 360-pixel copy), ``haar-fast`` (what ``avemotion predict``
uses: a 240-pixel copy, scale step 1.2, detection on every 4th frame), ``yunet`` and
``mediapipe`` when their model files are named ($AVEMOTION_YUNET_MODEL,
$AVEMOTION_FACE_LANDMARKER; by default looked up in ../shared/models). Writes
benchmarks/results/face_speed.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.errors import AvemotionError
from avemotion.prediction.face import FaceBranch
from avemotion.visual.faces import HaarDetector, crop_face, make_detector, track_faces
from avemotion.visual.keyframes import load_keyframes

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared"))
MODEL_FILES = {"yunet": ("AVEMOTION_YUNET_MODEL", "face_detection_yunet_2026may.onnx"),
               "mediapipe": ("AVEMOTION_FACE_LANDMARKER", "face_landmarker.task")}


def detectors() -> dict[str, tuple[object, int]]:
    """Name -> (detector, detect_every) for every detector that can be built here."""
    out: dict[str, tuple[object, int]] = {"haar": (HaarDetector(), 1),
                                          "haar-fast": (HaarDetector(work_size=240, scale_factor=1.2), 4)}
    for name, (env, file) in MODEL_FILES.items():
        path = os.environ.get(env) or str(SHARED / "models" / file)
        try:
            out[name] = (make_detector(name, model_path=path), 1)
        except (AvemotionError, ImportError) as error:
            print(f"{name}: skipped ({error})", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "face_speed.json")
    args = parser.parse_args()
    videos = sorted((SHARED / "data" / "ravdess" / "video_samples").rglob("*.mp4"))
    videos += sorted((SHARED / "data" / "crema_d_samples" / "VideoFlash").glob("*.flv"))
    if not videos:
        raise SystemExit(f"no sample videos under {SHARED / 'data'}")
    clips = [load_keyframes(v, args.frames).images for v in videos]
    n_frames = sum(len(c) for c in clips)
    model = FaceBranch.load("face")
    rows = {}
    for name, (detector, every) in detectors().items():
        detect_s, model_s, found = [], [], 0
        for _ in range(args.repeats):
            d = m = 0.0
            found = 0
            for images in clips:
                tic = time.perf_counter()
                faces = track_faces(images, detector, detect_every=every)  # type: ignore[arg-type]
                d += time.perf_counter() - tic
                if faces[0] is None:
                    continue
                found += sum(not f.tracked for f in faces)
                crops = [crop_face(im, f.box, margin=model.input["margin"], size=(model.size, model.size), gray=True)[..., 0]
                         for im, f in zip(images, faces)]
                tic = time.perf_counter()
                model.proba_of_crops(crops)
                m += time.perf_counter() - tic
            detect_s.append(d)
            model_s.append(m)
        d, m = statistics.median(detect_s), statistics.median(model_s)
        if hasattr(detector, "close"):
            detector.close()
        rows[name] = {"detect_every": every, "detected_frames": found, "frames": n_frames,
                      "detect_fps": round(n_frames / d, 1), "model_fps": round(n_frames / m, 1),
                      "detect_plus_model_fps": round(n_frames / (d + m), 1)}
        print(f"{name:10s} detect {rows[name]['detect_fps']:7.1f} fps  model {rows[name]['model_fps']:7.1f} fps  "
              f"both {rows[name]['detect_plus_model_fps']:7.1f} fps  (faces detected on {found} of {n_frames} frames)",
              flush=True)
    document = {
        "benchmark": "face detection + face model speed per detector, sample videos",
        "command": "python benchmarks/face_speed.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "machine": platform.machine(),
        "face_model_precision": model.precision,
        "avemotion": avemotion.__version__, "videos": [v.name for v in videos], "frames_per_clip": args.frames,
        "detectors": rows,
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
