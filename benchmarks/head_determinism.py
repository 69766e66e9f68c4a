"""Does the audio head come out the same whichever BLAS kernels the CPU gets? The recipe's
head (``audio_whisper_layers``) is fitted on every corpus but ``--target``, once per OpenBLAS
kernel family, each in a child process with ``OPENBLAS_CORETYPE`` set before NumPy loads:
``Haswell`` (what OpenBLAS runs on AVX2 CPUs, AMD's AVX-512 ones included) and ``SkylakeX``
(what it runs on Intel's AVX-512 CPUs; skipped where the CPU lacks AVX-512).

    python benchmarks/head_determinism.py [--target tess] [--threads 2]

Records, per kernel family: the layer set and C the inner cross-validation chose, its inner
scores, and the target's UAR; and between the two: the largest difference of an inner score,
the largest relative difference of a coefficient, and the share of target clips given another
emotion. The features are the same on every CPU (the encoders run in float32 with fixed
kernels, checked by the test suite); what differs is the head's fit, whose products with the
features run in float32 through OpenBLAS and whose L-BFGS stops at ``max_iter``. Writes
benchmarks/results/head_determinism.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from cross_corpus import CORPORA, DEFAULT_SHARED, TARGETS, VARIANTS, _fit
from predict_speed import cpu_description
from sklearn.metrics import balanced_accuracy_score

from avemotion.cache import FeatureCache
from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.labels import label_set, shared_labels
from avemotion.corpora import read_corpora
from avemotion.recipes import load_recipe
from avemotion.training.pipeline import recipe_data

REPO = Path(__file__).resolve().parent.parent
KERNELS = ("Haswell", "SkylakeX")


def fit_once(target: str, shared: Path, threads: int) -> dict[str, object]:
    """The recipe's head fitted without ``target`` in this process: its choices, coefficients and target predictions."""
    import torch

    torch.set_num_threads(threads)
    recipe = load_recipe("audio_whisper_layers")
    corpus = read_corpora(*(shared / "data" / folder for folder in CORPORA.values()))
    data = recipe_data(recipe, corpus.table[corpus.table["emotion"].isin(label_set(recipe["labels"]))],
                       cache=FeatureCache(), copies=0)
    y = data.table["emotion"].astype(str).to_numpy()
    corpora = data.table["corpus"].astype(str).to_numpy()
    speakers = data.table["speaker"].astype(str).to_numpy()
    train, test = corpora != target, corpora == target
    tic = time.perf_counter()
    head = _fit(recipe, VARIANTS["recipe"], data.X[train], y[train], speakers[train])
    labels = shared_labels(list(head.classes_), sorted(set(y[test])))
    keep = np.isin(y[test], labels)
    columns = np.searchsorted(head.classes_, labels)
    predicted = np.asarray(labels)[head.predict_proba(data.X[test][keep])[:, columns].argmax(axis=1)]
    return {"layer_set": head.layer_set_, "C": head.C_, "inner_scores": head.scores_,
            "coef": head.coef_.tolist(), "predicted": predicted.tolist(),
            "uar": 100 * float(balanced_accuracy_score(y[test][keep], predicted)), "seconds": time.perf_counter() - tic}


def compare(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    """How far two fits lie apart: same choice, inner scores, coefficients, predictions."""
    scores_a, scores_b = a["inner_scores"], b["inner_scores"]
    assert isinstance(scores_a, dict) and isinstance(scores_b, dict)
    out: dict[str, object] = {
        "same_choice": a["layer_set"] == b["layer_set"] and a["C"] == b["C"],
        "max_inner_score_difference": 100 * max(abs(scores_a[k] - scores_b[k]) for k in scores_a),
        "predictions_differing": float(np.mean(np.asarray(a["predicted"]) != np.asarray(b["predicted"]))),
    }
    if out["same_choice"]:
        coef_a, coef_b = np.asarray(a["coef"]), np.asarray(b["coef"])
        out["max_relative_coef_difference"] = float(np.abs(coef_a - coef_b).max() / np.abs(coef_a).max())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="tess", choices=list(TARGETS))
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "head_determinism.json")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        args.child.write_text(json.dumps(fit_once(args.target, args.shared, args.threads)))
        return 0

    cpu = cpu_description()
    kernels = [k for k in KERNELS if k != "SkylakeX" or "avx512f" in cpu["extensions"]]  # type: ignore[operator]
    fits: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kernel in kernels:
            path = Path(tmp) / f"{kernel}.json"
            subprocess.run([sys.executable, __file__, "--target", args.target, "--shared", str(args.shared),
                            "--threads", str(args.threads), "--child", str(path)],
                           env={**os.environ, "OPENBLAS_CORETYPE": kernel}, check=True)
            fits[kernel] = json.loads(path.read_text())
            print(f"{kernel}: layers {fits[kernel]['layer_set']}, C {fits[kernel]['C']:g}, "
                  f"UAR on {args.target} {fits[kernel]['uar']:.1f} ({fits[kernel]['seconds']:.0f} s)", flush=True)
    doc: dict[str, object] = {
        "date": datetime.date.today().isoformat(), "cpu": cpu, "target": args.target, "threads": args.threads,
        "fits": {k: {key: v for key, v in f.items() if key not in ("coef", "predicted")} for k, f in fits.items()},
    }
    if len(fits) == 2:
        doc["between"] = compare(fits["Haswell"], fits["SkylakeX"])
        print(doc["between"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, (json.dumps(doc, indent=1) + "\n").encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
