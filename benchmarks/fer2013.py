"""FER2013 test and CK+48 (6 shared classes, no training on it) for a face bundle, and its speed.

    OMP_NUM_THREADS=1 python benchmarks/fer2013.py [--bundle face] [--data ../shared/data]
        [--out benchmarks/results/fer2013.json]

FER2013: the 3,589 test images (PrivateTest), 7 classes, scored once with the bundle as shipped
(selected on validation by scripts/train_face_model.py). CK+48: all images of the six classes
FER2013 and CK+ share (``fer_ck6``, contempt left out); the model's probabilities are restricted
to those six columns before the argmax. Every crop is scored with its mirror (flip TTA); the
FER2013 figures without it are given too. Every figure is computed in float32; where the CPU
has bfloat16 instructions the FER2013 test is scored once more in ``bf16`` (what
``FaceBranch``'s default ``precision="auto"`` runs there). Speed: frames/s of
``proba_of_crops`` (flip TTA, so two forward passes per frame) on a batch of 256 48x48 crops,
with 1 and 2 torch threads, per precision.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.labels import label_set
from avemotion.core.metrics import summarize_metrics
from avemotion.corpora.image_arrays import image_arrays
from avemotion.estimators.neural import encode_labels
from avemotion.models.base import cpu_has_bf16
from avemotion.prediction.face import FaceBranch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"
KEYS = ("n", "war", "uar", "macro_f1", "log_loss", "labels", "per_class", "confusion")


def _scores(model: FaceBranch, images: np.ndarray, emotions: np.ndarray, labels: tuple[str, ...],
            flip: bool = True) -> dict[str, Any]:  # fmt: skip
    """Metrics of the model on ``images`` restricted to the columns of ``labels`` (renormalised)."""
    proba = model.proba_of_crops(images) if flip else model.bundle.predict_proba(model.prepare(images))
    proba = proba[:, [model.labels.index(e) for e in labels]]
    proba /= proba.sum(axis=1, keepdims=True)
    m = summarize_metrics(encode_labels(emotions, labels), proba, labels)
    m = {k: m[k] for k in KEYS}
    m["per_class_recall"] = {e: v["recall"] for e, v in m.pop("per_class").items()}
    return {"accuracy": m.pop("war"), **m}


def _frames_per_second(model: FaceBranch, crops: np.ndarray, threads: int) -> float:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model.proba_of_crops(crops)  # warm-up
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            model.proba_of_crops(crops)
            runs.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return len(crops) / min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="face", help="shipped bundle name or bundle folder")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fer2013.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    model = FaceBranch.load(args.bundle, precision="fp32")
    bf16 = FaceBranch(model.bundle, precision="bf16") if cpu_has_bf16() else None
    fer = image_arrays(args.data / "fer2013", corpus="fer2013").subset("test")
    ck = image_arrays(args.data / "ck_plus_48", corpus="ck_plus")
    shared = label_set("fer_ck6")
    keep = np.isin(ck.emotion, shared)
    results = {
        "fer2013_test": _scores(model, fer.images, fer.emotion, model.labels),
        "fer2013_test_no_flip": {
            k: v for k, v in _scores(model, fer.images, fer.emotion, model.labels, flip=False).items()
            if k in ("accuracy", "uar", "macro_f1")
        },
        "ck_plus_48_fer_ck6": {
            **_scores(model, ck.images[keep], ck.emotion[keep], shared),
            "n_subjects": len({c.split("_")[0] for c in ck.clip_id[keep]}),
        },
    }
    if bf16 is not None:
        scores = _scores(bf16, fer.images, fer.emotion, model.labels)
        results["fer2013_test_bf16"] = {k: v for k, v in scores.items() if k in ("accuracy", "uar", "macro_f1")}
    crops = fer.images[:256]
    speed = {
        f"{name}_{t}_thread{'s' * (t > 1)}": round(_frames_per_second(m, crops, t), 1)
        for name, m in (("fp32", model), ("bf16", bf16)) if m is not None
        for t in (1, 2)
    }  # fmt: skip
    trained_on = model.bundle.config["trained_on"]
    document = {
        "benchmark": "FER2013 test (7 classes) and CK+48 (6 classes shared with FER2013, not trained on)",
        "command": "OMP_NUM_THREADS=1 python benchmarks/fer2013.py"
        + (f" --bundle {args.bundle}" if args.bundle != "face" else ""),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "avemotion": avemotion.__version__,
        "bundle": {
            "name": model.bundle.config["name"],
            "model": model.bundle.recipe["model"],
            "recipe": trained_on.get("recipe_name"),
            "created": model.bundle.config.get("created"),
            "weights_bytes": (model.bundle.path / "estimator" / "model.pt").stat().st_size,
        },
        "training": {
            k: trained_on.get(k)
            for k in ("n_train", "n_validation", "best_epoch", "best_val_uar", "val_accuracy_flip_tta",
                      "val_uar_flip_tta", "train_seconds", "threads", "cpu_count")
        },
        "test_time": "each crop averaged with its horizontal mirror (flip TTA) unless noted",
        "results": results,
        "frames_per_second": {
            "batch": len(crops),
            "flip_tta": True,
            **speed,
            "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the machine slows these
        },
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    f, c = results["fer2013_test"], results["ck_plus_48_fer_ck6"]
    print(f"FER2013 test: accuracy {100 * f['accuracy']:.1f} UAR {100 * f['uar']:.1f} F1 {100 * f['macro_f1']:.1f} | "
          f"CK+48 6 classes: accuracy {100 * c['accuracy']:.1f} UAR {100 * c['uar']:.1f} | frames/s {speed}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
