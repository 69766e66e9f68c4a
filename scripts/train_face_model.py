"""Train the face (frame expression) bundle shipped in the package (``avemotion/pretrained/face``).

    OMP_NUM_THREADS=2 python scripts/train_face_model.py --threads 2 [--data ../shared/data/fer2013]
        [--recipe face_fer2013] [--out src/avemotion/pretrained/face]

Trains the recipe on FER2013's train partition and keeps the epoch with the best validation
UAR (validation partition; test is not read); the shipped bundle took 85 minutes on 2 cores
(recipe ``face_fer2013``, bfloat16). The full training state is saved after every epoch under
the cache folder (``<cache>/face_training/<recipe>-<digest of recipe and data>/resume.pt``):
run the same command again after an interruption and it continues from the last finished
epoch; a changed recipe starts afresh. The weights are saved as float16. Test figures:
``benchmarks/fer2013.py``.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from avemotion.bundles import save_bundle
from avemotion.cache import default_cache_dir
from avemotion.core.metrics import uar
from avemotion.corpora.image_arrays import (
    ImageArrays,
    image_arrays,
    load_arrays,
    save_arrays,
)
from avemotion.estimators.neural import encode_labels
from avemotion.models.visual import augment_faces
from avemotion.recipes import load_recipe
from avemotion.training.pipeline import make_estimator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "fer2013"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--recipe", default="face_fer2013")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "avemotion" / "pretrained" / "face")
    parser.add_argument("--limit", type=int, help="train on N random training images only (smoke tests)")
    parser.add_argument("--arrays", type=Path, help="read the faces from this pack (see --pack) instead of --data")
    parser.add_argument("--pack", type=Path, help="write the train and validation faces to this .npz and exit")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    name = Path(args.recipe).stem
    size = recipe["features"]["params"].get("size", 48)
    arrays = load_arrays(args.arrays) if args.arrays else image_arrays(args.data, corpus="fer2013", size=size)
    if arrays.images.shape[1:] != (size, size):
        raise SystemExit(f"the faces are {arrays.images.shape[1:]}, the recipe wants {size}x{size}")
    if args.pack:
        keep = np.isin(arrays.partition, ["train", "validation"])
        path = save_arrays(ImageArrays(*(v[keep] for v in vars(arrays).values())), args.pack)
        print(f"wrote {path} ({int(keep.sum())} faces, {path.stat().st_size / 1e6:.1f} MB)")
        return 0
    train, val = arrays.subset("train"), arrays.subset("validation")
    if args.limit:  # a random subset (the arrays are sorted by clip id, so by emotion)
        pick = np.random.default_rng(0).permutation(len(train.images))[: args.limit]
        train = ImageArrays(*(v[pick] for v in vars(train).values()))

    estimator = make_estimator(recipe, progress=True, num_threads=args.threads)
    # A resume file belongs to one recipe and one training set: a changed recipe starts afresh.
    run = json.dumps([recipe, len(train.images), args.limit], sort_keys=True, default=str)
    work = default_cache_dir() / "face_training" / f"{name}-{hashlib.sha256(run.encode()).hexdigest()[:12]}"
    estimator.trainer_params |= {
        "batch_transform": functools.partial(augment_faces, **(recipe["augmentation"]["faces"] or {})),
        "checkpoint_path": str(work / "best.pt"),
        "resume_path": str(work / "resume.pt"),
    }
    started = time.time()
    estimator.fit(train.images.astype(np.float32), train.emotion, val.images.astype(np.float32), val.emotion)
    # The saved config must not point at this machine's cache folder or hold the transform.
    for key in ("batch_transform", "checkpoint_path", "resume_path"):
        estimator.trainer_params.pop(key)
    estimator.trainer_ = type(estimator.trainer_)(**estimator.trainer_params)

    with torch.inference_mode():
        x = val.images.astype(np.float32)
        proba = (estimator.predict_proba(x) + estimator.predict_proba(x[:, :, ::-1].copy())) / 2
    y = encode_labels(val.emotion, estimator.classes_.tolist())
    pred = proba.argmax(1)
    figures = {"val_accuracy_flip_tta": float((pred == y).mean()), "val_uar_flip_tta": float(uar(y, pred))}
    trained_on = {
        "corpus": "fer2013",
        "recipe_name": name,
        "train_partition": "train",
        "n_train": int(len(train.images)),
        "selection_partition": "validation",
        "n_validation": int(len(val.images)),
        "best_epoch": estimator.best_epoch_,
        "best_val_uar": estimator.best_val_uar_,
        "train_seconds": estimator.train_seconds_,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        **figures,
    }
    save_bundle(
        args.out,
        estimator,
        name="face",
        kind="face",
        recipe=recipe,
        trained_on=trained_on,
        extra={"input": {"size": size, "gray": True, "flip_tta": True}},
        overwrite=True,
        save_options={"half": True},
    )
    print(f"wrote {args.out}: best epoch {estimator.best_epoch_}, {figures}, {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
