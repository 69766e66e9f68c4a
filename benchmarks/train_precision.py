"""Training speed of a recipe's network in float32 and under bfloat16 autocast (``precision``).

    python benchmarks/train_precision.py [--recipe face_fer2013] [--threads 2] [--steps 8]

Times an epoch of ``--steps`` Trainer batches (forward, loss, backward, optimiser step; after a
warm-up epoch) of the recipe's model on random 48x48 gray faces, once per precision, and reports
the seconds per batch and the projected minutes per FER2013 epoch (28,709 faces). No data is
read. Writes benchmarks/results/train_precision.json. Whether bfloat16 pays depends on the CPU
(AVX-512 BF16 or AMX); on others autocast can be slower.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.estimators.trainer import PRECISIONS, Trainer
from avemotion.models import build_model
from avemotion.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
FER2013_TRAIN = 28_709


def seconds_per_batch(recipe: dict, precision: str, steps: int, threads: int) -> float:
    """Mean wall seconds of one training batch of ``recipe``'s model in ``precision``: two
    :meth:`Trainer.fit` epochs of ``steps`` batches on random faces, the first one a warm-up."""
    training = recipe["training"]
    batch = int(training["batch_size"])
    size = int(recipe["features"]["params"].get("size", 48))
    torch.manual_seed(0)
    model = build_model(recipe["model"]["name"], 7, **recipe["model"]["params"])
    X = np.random.default_rng(0).uniform(0, 255, (steps * batch, size, size)).astype(np.float32)
    y = np.arange(len(X)) % 7
    trainer = Trainer(epochs=2, batch_size=batch, optimizer=training["optimizer"], lr=training["lr"],
                      precision=precision, patience=None, num_threads=threads, device="cpu")  # fmt: skip
    return trainer.fit(model, X, y).history[-1]["seconds"] / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="face_fer2013")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "train_precision.json")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    rows = {}
    for precision in PRECISIONS:
        per_batch = seconds_per_batch(recipe, precision, args.steps, args.threads)
        batches = FER2013_TRAIN / recipe["training"]["batch_size"]
        rows[precision] = {"seconds_per_batch": round(per_batch, 4),
                           "minutes_per_fer2013_epoch": round(per_batch * batches / 60, 2)}  # fmt: skip
        print(f"{precision}: {per_batch * 1000:.0f} ms per batch of {recipe['training']['batch_size']}, "
              f"{rows[precision]['minutes_per_fer2013_epoch']} min per FER2013 epoch")  # fmt: skip
    document = {
        "benchmark": "training seconds per batch, float32 against bfloat16 autocast",
        "command": " ".join(["python", "benchmarks/train_precision.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "recipe": args.recipe,
        "model": recipe["model"],
        "batch_size": recipe["training"]["batch_size"],
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "avemotion": avemotion.__version__,
        "torch": torch.__version__,
        "results": rows,
        "speedup_bf16": round(rows["fp32"]["seconds_per_batch"] / rows["bf16"]["seconds_per_batch"], 2),
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    print(f"bf16 speed-up {document['speedup_bf16']}x; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
