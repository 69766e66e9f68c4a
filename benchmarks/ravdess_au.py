"""RAVDESS-SI5 `au` benchmark: the action-unit branch on OpenFace per-clip AU means, 8 classes.

    python benchmarks/ravdess_au.py [--data ../shared/data/ravdess] [--out benchmarks/results/ravdess_au.json]

Features: the 35 OpenFace AU columns joined to each clip (17 intensities AUxx_r, 18 presences
AUxx_c, means over the clip's frames). Classifier: the mean of a class-balanced logistic head
(its C chosen on validation actors taken from the training actors, then refitted on training +
validation) and 200 class-balanced extremely randomised trees (``LogisticForestHead``); with
``--head logistic`` the logistic head alone.
Five folds by actor (test actors 1-4, ..., 17-20), each leakage-checked.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.corpora import read_corpus
from avemotion.corpora.openface import au_columns
from avemotion.estimators.linear import LogisticHead
from avemotion.estimators.trees import LogisticForestHead
from avemotion.training.crossval import cross_validate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "ravdess"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_au.json")
    parser.add_argument("--outputs", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_au")
    parser.add_argument("--head", choices=["logistic_forest", "logistic"], default="logistic_forest")
    args = parser.parse_args()

    heads = {"logistic_forest": LogisticForestHead, "logistic": LogisticHead}
    table = read_corpus(args.data).table
    columns = au_columns(table)
    table = table[table[columns].notna().all(axis=1)].reset_index(drop=True)
    X = table[columns].to_numpy(dtype="float32")
    result = cross_validate(
        lambda: heads[args.head](Cs=(0.01, 0.03, 0.1, 0.3, 1.0)),
        X,
        table,
        split="ravdess-si5",
        labels="ravdess8",
        validation_fraction=0.125,
        seed=0,
        out_dir=args.outputs,
        progress=False,
    )
    m = result.metrics
    document = {
        "benchmark": "RAVDESS-SI5 au (OpenFace AU means), 8 classes",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "avemotion": avemotion.__version__,
        "n_clips": len(table),
        "features": columns,
        "model": {"logistic_forest": "mean of logistic (C on validation actors) and 200 extremely randomised trees",
                  "logistic": "logistic (C on validation actors)"}[args.head],
        "command": f"python benchmarks/ravdess_au.py --head {args.head}",
        "folds": [{k: f[k] for k in ("name", "test_speakers", "n_train", "n_val", "n_test", "uar", "war", "macro_f1")} for f in m["folds"]],
        "mean": {k: m["mean"][k] for k in ("uar", "war", "macro_f1")},
        "std": {k: m["std"][k] for k in ("uar", "war", "macro_f1")},
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    print(f"UAR {100 * m['mean']['uar']:.1f} +- {100 * m['std']['uar']:.1f}  WAR {100 * m['mean']['war']:.1f}  "
          f"F1 {100 * m['mean']['macro_f1']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
