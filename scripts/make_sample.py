"""Make the quick-start sample clip ``examples/sample.mp4`` from public-domain material.

    python scripts/make_sample.py [--out examples/sample.mp4] [--text "..."]

Picture: NASA's portrait of astronaut Eileen Collins (public domain, as shipped by
scikit-image as ``skimage.data.astronaut()``), slowly zoomed over the clip so the frames differ.
Speech: the sentence synthesised by espeak-ng (``apt install espeak-ng``). Needs
``pip install scikit-image`` and espeak-ng only to re-make the file; the clip is committed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf

from avemotion.media.encode import write_video

REPO = Path(__file__).resolve().parents[1]
FPS = 25
SIZE = (640, 480)  # width, height


def speech(text: str, sr: int = 16000) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float32 at ``sr`` Hz."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
        signal, rate = sf.read(wav, dtype="float32")
    import soxr

    return soxr.resample(signal, rate, sr).astype(np.float32)


def frames(image: np.ndarray, n: int) -> np.ndarray:
    """``n`` frames of ``image`` zoomed in from 100 % to 110 % around its upper centre."""
    h, w = image.shape[:2]
    out = []
    for zoom in np.linspace(1.0, 1.1, n):
        ch, cw = int(h / zoom), int(w / zoom)
        top, left = (h - ch) // 3, (w - cw) // 2
        out.append(cv2.resize(image[top : top + ch, left : left + cw], SIZE, interpolation=cv2.INTER_AREA))
    return np.stack(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "examples" / "sample.mp4")
    parser.add_argument("--text", default="I can't believe it, this is the best news I have heard all year!")
    args = parser.parse_args()
    from skimage import data

    audio = speech(args.text)
    seconds = len(audio) / 16000 + 0.3
    audio = np.concatenate([audio, np.zeros(int(0.3 * 16000), dtype=np.float32)])
    write_video(args.out, frames(data.astronaut(), int(seconds * FPS)), FPS, audio=0.9 * audio / np.abs(audio).max(), sr=16000)
    print(f"wrote {args.out} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
