"""Face detection check on real videos: detection rates and a contact sheet of the crops.

For each video, detects faces on 12 evenly spaced keyframes with the chosen detector, tracks one
face across them and crops it at 96x96. Prints the detection rate (keyframes where the detector
itself found a face / keyframes analysed) per video and overall, and writes to ``--out``:

* ``contact_sheet_<detector>.png``: one row per video, its crops left to right; a red border marks
  a box reused from tracking (no detection in that frame), a gray tile a video without any face;
* ``rates_<detector>.json``: the rates.

Default videos: the sample videos under ``$AVEMOTION_SHARED/data`` (else ``../shared/data``
next to the repository). Usage::

    python scripts/face_contact_sheet.py --detector haar
    AVEMOTION_YUNET_MODEL=../shared/models/face_detection_yunet_2026may.onnx \\
        python scripts/face_contact_sheet.py --detector yunet
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from avemotion.errors import AvemotionError
from avemotion.visual.faces import (
    DETECTORS,
    Face,
    crop_face,
    make_detector,
    track_faces,
)
from avemotion.visual.keyframes import load_keyframes

REPO = Path(__file__).resolve().parents[1]
TILE = 96  # pixels
BORDER = 4  # pixels
LABEL_WIDTH = 260  # pixels
RED = (255, 0, 0)
GRAY = (128, 128, 128)


def default_videos() -> list[Path]:
    """The real sample videos (RAVDESS .mp4, CREMA-D .flv) in the shared data folder."""
    data = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"
    return sorted(data.glob("ravdess/video_samples/**/*.mp4")) + sorted(data.glob("crema_d_samples/VideoFlash/*.flv"))


def tile(image: np.ndarray, face: Face | None) -> np.ndarray:
    """A TILE x TILE RGB crop of ``face``; red-bordered when its box was reused, gray when None."""
    if face is None:
        return np.full((TILE, TILE, 3), GRAY, np.uint8)
    crop = crop_face(image, face.box, size=(TILE, TILE))
    if face.tracked:
        crop = cv2.copyMakeBorder(crop[BORDER:-BORDER, BORDER:-BORDER], *[BORDER] * 4, cv2.BORDER_CONSTANT, value=RED)
    return crop


def row(name: str, tiles: list[np.ndarray], rate: float) -> np.ndarray:
    """One contact-sheet row: a label (video name and rate) then the tiles."""
    label = np.full((TILE, LABEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(label, name, (4, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(label, f"{rate:.0%} detected", (4, 64), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.hstack([label, *tiles])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="*", type=Path, help="videos (default: the shared sample videos)")
    parser.add_argument("--detector", default="haar", choices=sorted(DETECTORS))
    parser.add_argument("--model-path", type=Path, help="model file of the yunet/mediapipe detector")
    parser.add_argument("--n", type=int, default=12, help="keyframes per video")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "faces")
    args = parser.parse_args(argv)

    videos = args.videos or default_videos()
    if not videos:
        print("no videos given and none found in the shared data folder (set AVEMOTION_SHARED)", file=sys.stderr)
        return 2
    try:
        detector = make_detector(args.detector, **({"model_path": args.model_path} if args.model_path else {}))
    except AvemotionError as err:
        print(err, file=sys.stderr)
        return 2

    rows, rates, detected_total, analysed_total = [], {}, 0, 0
    for video in videos:
        frames = load_keyframes(video, args.n)
        faces = track_faces(frames.images, detector)
        detected = sum(f is not None and not f.tracked for f in faces)
        rate = detected / len(faces)
        rates[video.name] = {"detected": detected, "analysed": len(faces), "rate": rate}
        detected_total, analysed_total = detected_total + detected, analysed_total + len(faces)
        tiles = [tile(image, face) for image, face in zip(frames.images, faces, strict=True)]
        rows.append(row(video.name, tiles, rate))
        print(f"{video.name:32s} {detected:3d}/{len(faces):<3d} {rate:6.1%}")
    overall = detected_total / analysed_total
    print(f"{'overall':32s} {detected_total:3d}/{analysed_total:<3d} {overall:6.1%}")

    args.out.mkdir(parents=True, exist_ok=True)
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    png = args.out / f"contact_sheet_{args.detector}.png"
    cv2.imwrite(str(png), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    report = {"detector": args.detector, "keyframes_per_video": args.n, "videos": rates, "overall": overall}
    (args.out / f"rates_{args.detector}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {png} and {args.out / f'rates_{args.detector}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
