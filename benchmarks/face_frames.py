"""How many frames the face branch needs: its clip probabilities at fewer frames per second (and
sparser face detection, fewer frames for short clips, reference frames only) against 8
frames/s with detection on every 4th frame and every frame decoded (the setting before
2026-12-02), on the real sample videos (2 RAVDESS, 6 CREMA-D) and the project's sample.

    python benchmarks/face_frames.py

For each setting: the share of clips whose top face emotion is the same as at 8 frames/s, the
mean over clips of the largest probability change, and the face branch's seconds per clip
(decoding + detection + network). Writes benchmarks/results/face_frames.json.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path

import numpy as np

from avemotion.core.atomic import atomic_write_bytes
from avemotion.prediction.face import FaceBranch
from avemotion.prediction.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"
#: (frames per second, at least n frames, detection on every k-th frame, reference frames only);
#: the first is the reference.
SETTINGS = (
    (8.0, 12, 4, False), (4.0, 12, 4, False), (3.0, 12, 4, False), (3.0, 12, 4, True), (3.0, 8, 4, True),
    (2.0, 8, 4, True), (3.0, 12, 8, True), (8.0, 12, 8, False),
)


def main() -> int:
    clips = sorted((SHARED / "ravdess" / "video_samples").rglob("*.mp4"))
    clips += sorted((SHARED / "crema_d_samples" / "VideoFlash").glob("*.flv"))
    clips += [REPO / "examples" / "sample.mp4"]
    reference: dict[Path, np.ndarray] = {}
    rows = []
    for fps, n_frames, every, fast in SETTINGS:
        face = FaceBranch.load("face", frames_per_second=fps, n_frames=n_frames, detect_every=every)
        recognizer = Recognizer([face], fast_decode=fast)
        probas, seconds = {}, []
        for clip in clips:
            recognizer.analyse(clip)
            prediction = recognizer.analyse(clip)
            seconds.append(sum(prediction.timings[k] for k in ("decode", "face_detection", "face_model")))
            probas[clip] = np.array(list(prediction.modalities["face"].values()))
        reference = reference or probas
        rows.append({
            "frames_per_second": fps,
            "n_frames": n_frames,
            "detect_every": every,
            "reference_frames_only": fast,
            "top1_agreement_with_8fps": float(np.mean([probas[c].argmax() == reference[c].argmax() for c in clips])),
            "mean_max_abs_change": round(float(np.mean([np.abs(probas[c] - reference[c]).max() for c in clips])), 4),
            "decode_and_face_seconds_per_clip": round(float(np.mean(seconds)), 4),
        })
        print(rows[-1], flush=True)
    document = {
        "benchmark": "face branch: fewer frames per second against 8 frames/s",
        "command": "python benchmarks/face_frames.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "clips": [c.name for c in clips],
        "settings": rows,
    }
    out = REPO / "benchmarks" / "results" / "face_frames.json"
    atomic_write_bytes(out, (json.dumps(document, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
