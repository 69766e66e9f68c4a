"""RAVDESS-SI5 `av` benchmark: audio (frozen Whisper features) + face (OpenFace AU means), every
fusion method, speaker-independent, on 8 classes and on the seeds' 6-class subset.

    python benchmarks/ravdess_av.py [--data ../shared/data/ravdess] [--labels ravdess8 seed6]
        [--methods product stacked ...] [--threads 1] [--features last|layers] [--out results.json]

Every row is a :class:`avemotion.fusion.MultimodalClassifier` cross-validated on the five
RAVDESS-SI5 folds (test actors 1-4, ..., 17-20; every fold leakage-checked). Inside a fold the
branch heads' C (the AU head: logistic regression averaged with 200 extremely randomised
trees) and the out-of-fold branch probabilities the learned fusers train on come from
a 4-fold inner cross-validation grouped by actor over the 16 training actors; networks stop
early on validation actors taken from the training actors. ``audio`` and ``au`` rows are the
single branches built the same way. Writes benchmarks/results/ravdess_av.json (rewritten after
each row) and each row's predictions.csv / metrics.json under benchmarks/results/ravdess_av/.

BLAS and torch run on ``--threads`` threads (default 1: on 2 shared cores, multi-threaded BLAS
made the logistic fits ~30x slower).
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
import torch
from threadpoolctl import threadpool_limits

import avemotion
from avemotion.cache import FeatureCache
from avemotion.core.atomic import atomic_write_bytes
from avemotion.corpora import read_corpus
from avemotion.corpora.openface import au_columns
from avemotion.features import recipe_features, stack
from avemotion.fusion import FUSIONS, MultimodalClassifier
from avemotion.recipes import load_recipe
from avemotion.training.crossval import cross_validate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "ravdess"
#: The branch heads' candidate C (inner cross-validation picks one per fold).
CS = {"audio": (0.001, 0.003, 0.01, 0.03), "au": (0.01, 0.03, 0.1, 0.3, 1.0)}
#: The AU branch averages its logistic head with 200 extremely randomised trees.
TREES = {"au": 200}
SINGLE = ("audio", "au")
#: Audio features: the last Whisper layers (``audio_whisper``), or the layer statistics of the
#: hidden states the audio model chose when trained on TESS, TurEV-DB and CREMA-D without any
#: RAVDESS clip (benchmarks/results/cross_corpus.json, recipe/loco/ravdess/others): a choice no
#: RAVDESS speaker took part in, so it leaks nothing into RAVDESS-SI5.
AUDIO_FEATURES = {
    "last": {"extractor": ["whisper_base", "whisper_tiny"], "params": {}},
    "layers": {"extractor": ["whisper_layers_base", "whisper_layers_tiny"], "params": {}, "states": [[2, 3, 4, 5], [1, 2, 3]]},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--labels", nargs="+", default=["ravdess8", "seed6"])
    parser.add_argument("--methods", nargs="+", default=[*SINGLE, *FUSIONS], choices=[*SINGLE, *FUSIONS])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--features", choices=sorted(AUDIO_FEATURES), default="last", help="audio features (see AUDIO_FEATURES)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_av.json")
    parser.add_argument("--outputs", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_av")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    table = read_corpus(args.data).table
    columns = au_columns(table)
    table = table[table["audio"].notna() & table[columns].notna().all(axis=1)].reset_index(drop=True)
    recipe = load_recipe("audio_whisper")
    recipe["features"] = AUDIO_FEATURES[args.features]
    start = time.perf_counter()
    feats, failures = recipe_features(list(table["audio"]), recipe, cache=FeatureCache())
    if failures:
        print(f"{len(failures)} clips failed: {failures[:3]}", file=sys.stderr)
        keep = [i for i, f in enumerate(feats) if f is not None]
        table, feats = table.iloc[keep].reset_index(drop=True), [feats[i] for i in keep]
    audio = stack(feats)
    feature_seconds = time.perf_counter() - start
    au = table[columns].to_numpy(dtype=np.float64)
    X = np.concatenate([audio, au], axis=1)
    modalities = [("audio", audio.shape[1]), ("au", au.shape[1])]

    document: dict = json.loads(args.out.read_text()) if args.out.is_file() else {}
    document.update(
        benchmark="RAVDESS-SI5 av: Whisper audio features + OpenFace AU means",
        command="python benchmarks/ravdess_av.py",
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        cpu_count=os.cpu_count(),
        threads=args.threads,
        machine=platform.machine(),
        avemotion=avemotion.__version__,
        n_clips=len(table),
        audio_features=recipe["features"],
        au_features=len(columns),
        feature_seconds=feature_seconds,
    )
    document.setdefault("label_sets", {})
    with threadpool_limits(args.threads):
        for labels in args.labels:
            cache: dict = {}
            rows = document["label_sets"].setdefault(labels, {})
            for method in args.methods:
                if method in SINGLE:
                    i = SINGLE.index(method)
                    mods, Xm, fusion = [modalities[i]], (audio, au)[i], "mean"
                else:
                    mods, Xm, fusion = modalities, X, method
                tic = time.perf_counter()
                result = cross_validate(
                    lambda mods=mods, labels=labels, fusion=fusion, cache=cache: MultimodalClassifier(mods, labels=labels, fusion=fusion, Cs=CS, branch_cache=cache, trees=TREES),
                    Xm, table, split="ravdess-si5", labels=labels, out_dir=args.outputs / labels / method,
                    progress=False,
                )
                m = result.metrics
                rows[method] = {
                    "folds": [{k: f[k] for k in ("name", "test_speakers", "n_train", "n_val", "n_test", "uar", "war", "macro_f1")}
                              for f in m["folds"]],
                    "mean": {k: m["mean"][k] for k in ("uar", "war", "macro_f1")},
                    "std": {k: m["std"][k] for k in ("uar", "war", "macro_f1")},
                    "seconds": time.perf_counter() - tic,
                }
                print(f"{labels:9s} {method:9s} UAR {100 * m['mean']['uar']:.1f} +- {100 * m['std']['uar']:.1f}  "
                      f"WAR {100 * m['mean']['war']:.1f}  F1 {100 * m['mean']['macro_f1']:.1f}", flush=True)
                fused = {k: v["mean"]["uar"] for k, v in rows.items() if k not in SINGLE}
                if fused and all(s in rows for s in SINGLE):
                    best = max(fused, key=fused.__getitem__)
                    document.setdefault("best", {})[labels] = {
                        "method": best,
                        "uar": fused[best],
                        "gain_over_best_single": fused[best] - max(rows[s]["mean"]["uar"] for s in SINGLE),
                    }
                atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
