"""Cross-corpus audio benchmark (BENCHMARKS.md): leave one corpus out, RAVDESS-SI5, and ablations.

    python benchmarks/cross_corpus.py [--recipe audio_whisper_layers] [--variants NAME ...]
        [--shared ../shared] [--out benchmarks/results/cross_corpus.json] [--threads 2]

Corpora: RAVDESS speech actors 1-20, TESS, TurEV-DB and the CREMA-D samples (too few to score
alone). For every variant of the recipe (its model parameters changed as the variant says):

* ``loco``: for each target (TESS, TurEV-DB, RAVDESS) train on the other corpora and, as a
  second row for TESS and TurEV-DB, on RAVDESS alone; every choice (layers, C, temperature)
  is made by the head's inner cross-validation on the training speakers; the target is scored
  on the labels it shares with the model (argmax restricted to them): UAR, WAR, macro-F1,
  confusion matrix, ECE before and after the temperature;
* ``si5``: RAVDESS-SI5 (test actors 1-4 ... 17-20), trained on the 16 other actors alone and,
  as ``si5_multi``, on them plus every clip of the other corpora.

Variants change the head's parameters (``absent_weight``, ``corpus_balance``, ``normalise``,
layer sets, ``selection``, ``offset_l2``: class offsets fitted with the temperature, ``gate``:
each clip calibrated by how unlike the training corpora it is), the
features' (``level_norm``: every clip's active speech level brought to -20 dBFS before the
encoders; ``speech_pool``: statistics over the speech frames only), or add augmented training
copies (``channel_aug``).

Every row is also scored ``adapted``: the same head standardising the target's features with
the target's own statistics, and ``adapted_by`` each method of
:data:`avemotion.core.adaptation.ADAPT_METHODS` (``balance``: class biases that make every
emotion equally common over the target; unsupervised test-time adaptation over the target,
labels never), and ``adapted_per_speaker`` each method over each target speaker's clips.

``turev_loso`` is an in-corpus reference for the TurEV-DB target: the same recipe trained on
five TurEV-DB speakers and scored on the sixth, for each speaker (TESS's two speakers are too few
for the head's inner speaker-grouped cross-validation).

``--parts`` runs some of ``loco``, ``si5``, ``si5_multi``, ``turev_loso`` only. Results are
rewritten atomically after every variant (a rerun recomputes only the variants and parts asked
for and keeps the others).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import avemotion
from avemotion.cache import FeatureCache
from avemotion.core.adaptation import ADAPT_METHODS
from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.labels import label_set, shared_labels
from avemotion.core.metrics import expected_calibration_error, summarize_metrics, uar
from avemotion.corpora import read_corpora
from avemotion.corpora.splits import get_split
from avemotion.features import stack
from avemotion.recipes import load_recipe
from avemotion.training.pipeline import augmented_copies, make_estimator, recipe_data

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared"))
CORPORA = {"ravdess": "ravdess", "tess": "tess", "turev": "turev", "crema_d": "crema_d_samples"}
TARGETS = ("tess", "turev", "ravdess")

#: Variant name -> the recipe's model parameters it changes. Every variant is also scored with
#: test-time adaptation (``adapted``) by the same fitted heads.
VARIANTS: dict[str, dict[str, Any]] = {
    "recipe": {},
    "pure_partial": {"absent_weight": 0.0},
    "last_layer": {"layer_sets": [[[-1], [-1]]]},
    "corpus_equal": {"corpus_balance": "equal"},
    "utterance_norm": {"normalise": "utterance"},
    "mixed_selection": {"selection": "mixed"},
    "held_out_offsets": {"gate": False, "offset_l2": 0.01},
    "ungated": {"gate": False, "offset_l2": None},
    "gate_q75": {"gate_quantile": 0.75},
    "no_experts": {"experts": False},
    "pooled_gate": {"gate_per_corpus": False},
    "mean_only": {"statistics": "mean"},
    "clip3": {"clip": 3.0},
    "mlp_blend": {"mlp": {"hidden": 128, "dropout": 0.7, "epochs": 60, "members": 3}, "mlp_weight": 0.5},
    "channel_aug": {},
}
#: Variants that change the features' parameters (per extractor), besides the model's.
FEATURES: dict[str, dict[str, dict[str, Any]]] = {
    "level_norm": {name: {"level_db": -20.0} for name in ("whisper_layers_base", "whisper_layers_tiny")},
    "speech_pool": {name: {"pool": "speech"} for name in ("whisper_layers_base", "whisper_layers_tiny")},
}
VARIANTS |= {name: {} for name in FEATURES}
#: Variants that add one waveform-augmented copy of every training clip (never of a test clip).
AUGMENTATION: dict[str, dict[str, Any]] = {
    "channel_aug": {"p_pitch": 0.0, "p_gain": 0.5, "gain_db": [-10.0, 6.0], "p_noise": 0.5, "noise_snr_db": [10.0, 30.0],
                    "p_speed": 0.3, "speed_factor": [0.9, 1.1], "p_reverb": 0.5, "reverb_rt60": [0.2, 0.8],
                    "p_telephone": 0.3, "p_codec": 0.3},
}


def _logits(head: Any, X: np.ndarray, adapt: str | None = None,
            groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) logits of ``head`` on X before and after its calibration, first adapted without
    labels by method ``adapt`` over all of X, or over each group of ``groups`` (speakers; a group
    of one clip gets all of X's adaptation)."""
    def both(model: Any, rows: Any = slice(None)) -> np.ndarray:
        return np.stack([model.decision_function(X[rows]), model.calibrated_logits(X[rows])])

    if not adapt:
        out = both(head)
    elif groups is None:
        out = both(head.adapt(X, adapt))
    else:
        whole = head.adapt(X, adapt)
        out = np.zeros((2, len(X), len(head.classes_)))
        for group in np.unique(groups):
            rows = groups == group
            out[:, rows] = both(head.adapt(X[rows], adapt) if rows.sum() >= 2 else whole, rows)
    return out[0], out[1]


def _scores(head: Any, X: np.ndarray, y: np.ndarray, adapt: str | None = None,
            groups: np.ndarray | None = None, speakers: np.ndarray | None = None) -> dict[str, Any]:
    """Metrics of ``head`` on (X, y), argmax restricted to the labels y and the head share;
    ``adapt``: a test-time adaptation method the head first applies over X, or over each group
    of ``groups`` (no labels); with ``speakers`` (N,), also each speaker's UAR."""
    labels = shared_labels(list(head.classes_), set(y))
    columns = [list(head.classes_).index(label) for label in labels]
    raw, calibrated = (z[:, columns] for z in _logits(head, X, adapt, groups))
    keep = np.isin(y, labels)
    index = np.array([labels.index(v) for v in y[keep]])

    def softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    proba = softmax(calibrated[keep])
    out = summarize_metrics(index, proba, labels)
    out["ece_uncalibrated"] = expected_calibration_error(index, softmax(raw[keep]))
    out["left_out"] = int((~keep).sum())
    predicted = proba.argmax(axis=1)
    if speakers is not None:
        who = speakers[keep]
        out["per_speaker_uar"] = {str(s): uar(index[who == s], predicted[who == s]) for s in np.unique(who)}
    confidence, correct = proba.max(axis=1), predicted == index
    band = (confidence >= 0.7) & (confidence < 0.9)
    out["confidence_0.7_0.9"] = {"n": int(band.sum()), "accuracy": float(correct[band].mean()) if band.any() else None,
                                 "mean_confidence": float(confidence[band].mean()) if band.any() else None}
    if band.any():  # the commonest (true -> predicted) pair among the band's clips, with its count
        pairs, counts = np.unique(np.stack([index[band], predicted[band]], axis=1), axis=0, return_counts=True)
        (true, said), count = pairs[counts.argmax()], counts.max()
        out["confidence_0.7_0.9"]["commonest"] = f"{labels[true]} -> {labels[said]}: {count}"
    out["layer_set"] = head.layer_set_
    out["C"] = head.C_
    out["temperature"] = head.temperature_
    if getattr(head, "gated", False) and not adapt:
        out["temperature_familiar"] = head.temperature_familiar_
        novelty = head.novelty(X[keep])
        out["novelty_mean"] = float(novelty.mean())
        if band.any():
            out["confidence_0.7_0.9"]["novelty_median"] = float(np.median(novelty[band]))
    if getattr(head, "has_experts", False) and not adapt:
        out["experts"] = {name: {"used": bool(used), "inner_uar": float(score), "C": float(C)} for name, used, score, C
                          in zip(head.expert_corpora_, head.expert_used_, head.expert_score_, head.expert_C_)}
    return out


def _pooled_band(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The 0.7-0.9 confidence band over several records: clips, accuracy, mean confidence."""
    bands = [r["confidence_0.7_0.9"] for r in records if r["confidence_0.7_0.9"]["n"]]
    n = sum(b["n"] for b in bands)
    if not n:
        return {"n": 0, "accuracy": None, "mean_confidence": None}
    return {"n": n, "accuracy": sum(b["n"] * b["accuracy"] for b in bands) / n,
            "mean_confidence": sum(b["n"] * b["mean_confidence"] for b in bands) / n}


def _fit(recipe: dict[str, Any], params: dict[str, Any], X: np.ndarray, y: np.ndarray, speakers: np.ndarray,
         X_aug: np.ndarray | None = None) -> Any:
    """The variant's head fitted on (X, y) and, when given, the rows' augmented copies (same labels and speakers)."""
    variant = copy.deepcopy(recipe)
    variant["model"]["params"].update(params)
    if X_aug is not None:
        X, y, speakers = np.concatenate([X, X_aug]), np.concatenate([y, y]), np.concatenate([speakers, speakers])
    return make_estimator(variant).fit(X, y, groups=speakers)


def variant_recipe(recipe: dict[str, Any], name: str) -> dict[str, Any]:
    """The recipe with variant ``name``'s feature parameters (the model's are applied by :func:`_fit`)."""
    variant = copy.deepcopy(recipe)
    for extractor, params in FEATURES.get(name, {}).items():
        variant["features"]["params"].setdefault(extractor, {}).update(params)
    return variant


def variant_data(recipe: dict[str, Any], name: str, data: Any) -> Any:
    """``data`` itself, or for a variant that changes the features, its own features of the same clips (through the cache)."""
    if name not in FEATURES:
        return data
    return recipe_data(variant_recipe(recipe, name), data.table, cache=FeatureCache(), copies=0, progress=True)


def augmented_features(recipe: dict[str, Any], name: str, table: Any, progress: bool = True) -> np.ndarray:
    """One augmented copy of every clip of ``table`` for variant ``name`` (through the cache)."""
    variant = copy.deepcopy(recipe)
    variant["augmentation"]["waveform"] = AUGMENTATION[name]
    return stack(augmented_copies(list(table["audio"]), variant, copy=0, cache=FeatureCache(), progress=progress))


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "uar", "war", "macro_f1", "ece", "ece_uncalibrated", "labels", "confusion", "layer_set", "C",
            "temperature", "temperature_familiar", "novelty_mean", "experts", "left_out", "confidence_0.7_0.9",
            "per_speaker_uar")
    return {k: record[k] for k in keys if k in record}


def run_variant(recipe: dict[str, Any], name: str, X: np.ndarray, table: Any, parts: list[str],
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    params = VARIANTS[name]
    X_aug = augmented_features(recipe, name, table) if name in AUGMENTATION else None
    y = table["emotion"].astype(str).to_numpy()
    corpus = table["corpus"].astype(str).to_numpy()
    speakers = table["speaker"].astype(str).to_numpy()
    out: dict[str, Any] = {"loco": {}, "si5": {}, "si5_multi": {}, "turev_loso": {}, **(previous or {}), "params": params}
    for target in TARGETS if "loco" in parts else ():
        test = corpus == target
        trainings = {"others": ~test} | ({"ravdess": corpus == "ravdess"} if target != "ravdess" else {})
        for training, rows in trainings.items():
            tic = time.perf_counter()
            head = _fit(recipe, params, X[rows], y[rows], speakers[rows], None if X_aug is None else X_aug[rows])
            record = _summary(_scores(head, X[test], y[test], speakers=speakers[test]))
            record["adapted_by"] = {m: _summary(_scores(head, X[test], y[test], m)) for m in ADAPT_METHODS}
            record["adapted"] = record["adapted_by"]["standardise"]
            record["adapted_per_speaker"] = {m: _summary(_scores(head, X[test], y[test], m, speakers[test]))
                                             for m in ADAPT_METHODS}
            record["seconds"] = time.perf_counter() - tic
            record["trained_on"] = sorted(set(corpus[rows]))
            out["loco"].setdefault(target, {})[training] = record
            adapted = " / ".join(f"{m} {100 * r['uar']:.1f}" for m, r in record["adapted_by"].items())
            adapted += "; per speaker " + " / ".join(f"{m} {100 * r['uar']:.1f}"
                                                      for m, r in record["adapted_per_speaker"].items())
            print(f"  {name} {target:8s} <- {training:7s} UAR {100 * record['uar']:.1f} adapted {adapted} (ECE {record['ece_uncalibrated']:.3f} -> {record['ece']:.3f}; "
                  f"{record['seconds']:.0f} s)", flush=True)
    ravdess = np.flatnonzero(corpus == "ravdess")
    folds = get_split("ravdess-si5", table.iloc[ravdess].reset_index(drop=True))
    for key, extra in (("si5", np.zeros(len(y), bool)), ("si5_multi", corpus != "ravdess")):
        if key not in parts:
            continue
        folds_out = []
        for fold in folds:
            train = np.zeros(len(y), bool)
            train[ravdess[fold.train]] = True
            train[ravdess[fold.validation]] = True
            train |= extra
            test = ravdess[fold.test]
            assert not set(speakers[train]) & set(speakers[test]), "speaker leakage"
            head = _fit(recipe, params, X[train], y[train], speakers[train], None if X_aug is None else X_aug[train])
            folds_out.append(_summary(_scores(head, X[test], y[test])))
            folds_out[-1]["adapted_uar_by"] = {m: _scores(head, X[test], y[test], m)["uar"] for m in ADAPT_METHODS}
            folds_out[-1]["adapted_uar"] = folds_out[-1]["adapted_uar_by"]["standardise"]
            folds_out[-1]["adapted_uar_per_speaker"] = {
                m: _scores(head, X[test], y[test], m, speakers[test])["uar"] for m in ADAPT_METHODS}
        uars = [f["uar"] for f in folds_out]
        out[key] = {"uar_mean": float(np.mean(uars)), "uar_std": float(np.std(uars)),
                    "war_mean": float(np.mean([f["war"] for f in folds_out])),
                    "macro_f1_mean": float(np.mean([f["macro_f1"] for f in folds_out])),
                    "ece_mean": float(np.mean([f["ece"] for f in folds_out])),
                    "ece_uncalibrated_mean": float(np.mean([f["ece_uncalibrated"] for f in folds_out])),
                    "confidence_0.7_0.9": _pooled_band(folds_out),
                    "adapted_uar_mean": float(np.mean([f["adapted_uar"] for f in folds_out])),
                    "adapted_uar_by_mean": {m: float(np.mean([f["adapted_uar_by"][m] for f in folds_out]))
                                            for m in ADAPT_METHODS},
                    "adapted_uar_per_speaker_mean": {
                        m: float(np.mean([f["adapted_uar_per_speaker"][m] for f in folds_out])) for m in ADAPT_METHODS},
                    "folds": folds_out}
        print(f"  {name} {key}: UAR {100 * np.mean(uars):.1f} +- {100 * np.std(uars):.1f} "
              f"({' / '.join(f'{100 * u:.0f}' for u in uars)})", flush=True)
    if "turev_loso" in parts:
        rows = np.flatnonzero(corpus == "turev")
        folds_out = []
        for speaker in np.unique(speakers[rows]):
            test, train = rows[speakers[rows] == speaker], rows[speakers[rows] != speaker]
            head = _fit(recipe, params, X[train], y[train], speakers[train], None if X_aug is None else X_aug[train])
            folds_out.append({"speaker": str(speaker), **_summary(_scores(head, X[test], y[test]))})
        uars = [f["uar"] for f in folds_out]
        out["turev_loso"] = {"uar_mean": float(np.mean(uars)), "uar_std": float(np.std(uars)),
                             "war_mean": float(np.mean([f["war"] for f in folds_out])),
                             "macro_f1_mean": float(np.mean([f["macro_f1"] for f in folds_out])),
                             "ece_mean": float(np.mean([f["ece"] for f in folds_out])), "folds": folds_out}
        print(f"  {name} turev_loso: UAR {100 * np.mean(uars):.1f} +- {100 * np.std(uars):.1f} "
              f"({' / '.join(f'{100 * u:.0f}' for u in uars)})", flush=True)
    out["measured"] = {**out.get("measured", {}), **dict.fromkeys(parts, datetime.date.today().isoformat())}
    return out


def _previous(path: Path, recipe: str) -> dict[str, Any]:
    """The variants already in ``path`` for ``recipe`` (read again before every write, so that
    several runs of this script with different variants can share the file)."""
    if not path.is_file():
        return {}
    previous = json.loads(path.read_text())
    return previous.get("variants", {}) if previous.get("recipe") == recipe else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="audio_whisper_layers")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "cross_corpus.json")
    parser.add_argument("--parts", nargs="+", default=["loco", "si5", "si5_multi", "turev_loso"],
                        choices=["loco", "si5", "si5_multi", "turev_loso"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extract-only", action="store_true", help="fill the feature cache (augmented copies too), fit nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    recipe = load_recipe(args.recipe)
    corpus = read_corpora(*(args.shared / "data" / folder for folder in CORPORA.values()))
    tic = time.perf_counter()
    data = recipe_data(recipe, corpus.table[corpus.table["emotion"].isin(label_set(recipe["labels"]))],
                       cache=FeatureCache(), copies=0, progress=True)
    print(f"features: {len(data.table)} clips in {time.perf_counter() - tic:.0f} s; failures: {len(data.failures)}", flush=True)
    if args.extract_only:
        for name in args.variants:
            variant_data(recipe, name, data)
            if name in AUGMENTATION:
                augmented_features(recipe, name, data.table)
        return 0
    results = _previous(args.out, args.recipe)
    for name in args.variants:
        print(f"== {name}", flush=True)
        own = variant_data(recipe, name, data)
        results[name] = run_variant(recipe, name, own.X, own.table, args.parts, results.get(name))
        merged = {**_previous(args.out, args.recipe), name: results[name]}
        document = {
            "benchmark": "cross-corpus audio (leave one corpus out) and RAVDESS-SI5",
            "recipe": args.recipe,
            "date": datetime.date.today().isoformat(),
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch_threads": args.threads},
            "avemotion": avemotion.__version__,
            "clips": {c: int((data.table["corpus"] == c).sum()) for c in CORPORA},
            "failures": data.failures,
            "variants": merged,
        }
        atomic_write_bytes(args.out, (json.dumps(document, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
