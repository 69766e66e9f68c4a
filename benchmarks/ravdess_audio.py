"""RAVDESS-SI5 audio benchmark: every audio recipe, speaker-independent, 8 classes.

    python benchmarks/ravdess_audio.py [--data ../shared/data/ravdess] [--recipes NAME ...]
        [--out benchmarks/results/ravdess_audio.json] [--outputs benchmarks/results/ravdess_audio]

For each recipe: features for the 1200 clips (through the feature cache), then the five
RAVDESS-SI5 folds (test actors 1-4, 5-8, 9-12, 13-16, 17-20; validation actors taken from the
training actors; every fold leakage-checked). Writes per fold and mean +- std of UAR, WAR and
macro-F1, feature-extraction and training time, into one JSON file (rewritten atomically after
each recipe, so a long run keeps what it finished) and each recipe's predictions.csv /
metrics.json into --outputs/<recipe>/. Each finished fold is kept there too (fold_<fold>.json):
a rerun reuses the folds an interrupted run finished with the same recipe and clips, unless
--fresh is given (a resumed recipe's training times are those of the runs that made each fold).
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

import numpy as np

import avemotion
from avemotion.cache import FeatureCache
from avemotion.core.atomic import atomic_write_bytes
from avemotion.corpora import read_corpus
from avemotion.recipes import list_recipes, load_recipe
from avemotion.training.pipeline import cross_validate_recipe

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "ravdess"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--recipes", nargs="+", default=[r for r in list_recipes() if r.startswith("audio_")])
    parser.add_argument("--split", default="ravdess-si5")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_audio.json")
    parser.add_argument("--outputs", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_audio")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--fresh", action="store_true", help="train every fold again, reusing none")
    args = parser.parse_args(argv)

    table = read_corpus(args.data).table
    results: dict = {}
    if args.out.is_file():
        results = json.loads(args.out.read_text()).get("recipes", {})
    finished: list[str] = []
    for name in args.recipes:
        cache = FeatureCache()
        recipe = load_recipe(name)
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        result, info = cross_validate_recipe(
            recipe, table, split=args.split, out_dir=args.outputs / name, cache=cache,
            progress=sys.stderr.isatty(), num_threads=args.threads, resume=not args.fresh,
        )
        m = result.metrics
        folds = [
            {
                "name": f["name"],
                "test_speakers": f["test_speakers"],
                "n_train": f["n_train"],
                "n_val": f["n_val"],
                "n_test": f["n_test"],
                "uar": f["uar"],
                "war": f["war"],
                "macro_f1": f["macro_f1"],
                "best_epoch": f.get("best_epoch"),
                "train_seconds": f["train_seconds"],
            }
            for f in m["folds"]
        ]
        results[name] = {
            "model": recipe["model"]["name"],
            "features": recipe["features"]["extractor"],
            "folds": folds,
            "mean": {k: m["mean"][k] for k in ("uar", "war", "macro_f1")},
            "std": {k: m["std"][k] for k in ("uar", "war", "macro_f1")},
            "feature_seconds": info["feature_seconds"],
            "augment_seconds": info["augment_seconds"],
            "train_seconds": float(np.sum([f["train_seconds"] for f in folds])),
            "wall_seconds": time.perf_counter() - start,
            "n_clips": info["n_clips"],
            "feature_cache": {"hits": cache.hits, "misses": cache.misses},
            "command": f"python benchmarks/ravdess_audio.py --recipes {name}",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "threads": args.threads,
            "failures": info["failures"],
        }
        print(
            f"   UAR {100 * m['mean']['uar']:.1f} +- {100 * m['std']['uar']:.1f}  "
            f"WAR {100 * m['mean']['war']:.1f}  F1 {100 * m['mean']['macro_f1']:.1f}  "
            f"({results[name]['wall_seconds']:.0f} s)",
            flush=True,
        )
        finished.append(name)
        if args.out.is_file():  # another run may have added recipes meanwhile: keep them
            results = {**json.loads(args.out.read_text()).get("recipes", {}), **{n: results[n] for n in finished}}
        document = {
            "benchmark": "RAVDESS-SI5 audio, 8 classes",
            "split": args.split,
            "data": str(args.data),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "avemotion": avemotion.__version__,
            "note": "feature_seconds covers only cache misses (feature_cache counts hits and misses)",
            "recipes": results,
        }
        atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
