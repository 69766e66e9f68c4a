"""Which classifier for the AU branch? Candidates compared on the RAVDESS-SI5 folds, with and
without choosing among them inside each training fold.

    python benchmarks/ravdess_au_heads.py [--data ../shared/data/ravdess]

Candidates on the 35 OpenFace AU means: class-balanced logistic regression (C 0.1, standardised),
200 extremely randomised trees (max_features 0.5), gradient-boosted trees (300 iterations, rate
0.05), an RBF SVM (C 1, Platt probabilities), and the mean of the probabilities of every subset
of them (15 candidates). ``per_candidate``: each candidate's test UAR per fold (choosing the
best of these by looking at them is optimistic); ``nested``: in each fold the candidate with
the best UAR over a 4-fold actor-grouped cross-validation of the 16 training actors is chosen,
then scored on the fold's test actors (an honest estimate of the choosing). Writes
benchmarks/results/ravdess_au_heads.json.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

import avemotion
from avemotion.core.atomic import atomic_write_bytes
from avemotion.corpora import read_corpus
from avemotion.corpora.openface import au_columns
from avemotion.corpora.splits import get_split

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "ravdess"
MODELS = {
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced")),
    "extra_trees": lambda: ExtraTreesClassifier(n_estimators=200, max_features=0.5, class_weight="balanced", random_state=0, n_jobs=1),
    "boosting": lambda: HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, class_weight="balanced", random_state=0),
    "svm": lambda: make_pipeline(StandardScaler(), SVC(C=1, class_weight="balanced", probability=True, random_state=0)),
}
warnings.filterwarnings("ignore", category=FutureWarning)  # SVC(probability=True), deprecated in scikit-learn 1.9
CANDIDATES = [c for r in range(1, len(MODELS) + 1) for c in itertools.combinations(MODELS, r)]


def probabilities(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each model's (n_test, C) probabilities after training on ``train`` rows; and the classes."""
    out = {}
    for name, make in MODELS.items():
        model = make().fit(X[train], y[train])
        out[name], classes = model.predict_proba(X[test]), model.classes_
    return classes, out


def score(y: np.ndarray, classes: np.ndarray, proba: dict[str, np.ndarray], candidate: tuple[str, ...]) -> float:
    return float(balanced_accuracy_score(y, classes[np.mean([proba[m] for m in candidate], axis=0).argmax(axis=1)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "ravdess_au_heads.json")
    args = parser.parse_args()
    table = read_corpus(args.data).table
    columns = au_columns(table)
    table = table[table[columns].notna().all(axis=1)].reset_index(drop=True)
    X, y = table[columns].to_numpy(dtype=np.float64), table["emotion"].to_numpy()
    speakers = table["speaker"].to_numpy()
    per_candidate: dict[str, list[float]] = {"+".join(c): [] for c in CANDIDATES}
    nested = []
    with threadpool_limits(1):
        for fold in get_split("ravdess-si5", table):
            classes, test_proba = probabilities(X, y, fold.train, fold.test)
            for c in CANDIDATES:
                per_candidate["+".join(c)].append(score(y[fold.test], classes, test_proba, c))
            actors = np.random.default_rng(0).permutation(np.unique(speakers[fold.train]))
            inner = {m: np.zeros((len(fold.train), len(classes))) for m in MODELS}
            for part in np.array_split(actors, 4):
                held = np.isin(speakers[fold.train], part)
                _, proba = probabilities(X, y, fold.train[~held], fold.train[held])
                for m in MODELS:
                    inner[m][held] = proba[m]
            chosen = max(CANDIDATES, key=lambda c: score(y[fold.train], classes, inner, c))
            nested.append({"fold": fold.name, "chosen": "+".join(chosen), "uar": score(y[fold.test], classes, test_proba, chosen)})
            print(f"{fold.name}: chose {'+'.join(chosen)}, UAR {100 * nested[-1]['uar']:.1f}", flush=True)
    document = {
        "benchmark": "RAVDESS-SI5 au: classifier candidates on the 35 OpenFace AU means, 8 classes",
        "command": "python benchmarks/ravdess_au_heads.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "avemotion": avemotion.__version__,
        "per_candidate": {k: {"folds": v, "mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in per_candidate.items()},
        "nested": {"folds": nested, "mean": float(np.mean([n["uar"] for n in nested])), "std": float(np.std([n["uar"] for n in nested]))},
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    for name, r in sorted(document["per_candidate"].items(), key=lambda kv: -kv[1]["mean"]):
        print(f"{name:34s} {100 * r['mean']:.1f} +- {100 * r['std']:.1f}")
    print(f"nested choice: {100 * document['nested']['mean']:.1f} +- {100 * document['nested']['std']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
