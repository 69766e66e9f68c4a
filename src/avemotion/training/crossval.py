"""Speaker-independent cross-validation of any classifier on precomputed features.

:func:`cross_validate` runs one fresh estimator per fold of a named split (or given folds):
clips whose emotion is outside the label set are dropped, validation speakers are carved out of
the training speakers only, every fold is leakage-checked, and the test clips of each fold are
predicted. Files written to ``out_dir`` (each atomically):

``predictions.csv``
    one row per test clip: ``clip_id, speaker, fold, y_true, y_pred`` and ``prob_<emotion>``
    per label, in label order (fusion and reports reuse these).
``metrics.json``
    ``split``, ``labels``, ``seed``, ``validation_fraction``, ``n_clips``, ``dropped``
    (emotion -> clips left out), ``estimator``, ``folds`` (one record per fold: ``name``,
    ``test_speakers``, ``val_speakers``, ``n_train``, ``n_val``, ``n_test``, ``n_extra``,
    ``uar``, ``war``, ``macro_f1``, ``log_loss``, ``best_epoch``, ``best_val_uar``,
    ``train_seconds``), ``mean`` and ``std`` over folds (population std), and ``overall``
    (:func:`~avemotion.core.metrics.summarize_metrics` of all test predictions pooled).
``history_<fold>.json``
    the estimator's per-epoch history (``[]`` for estimators without one).
``fold_<fold>.json``
    only with ``resume``: the finished fold (its record, prediction rows and history) keyed by the
    estimator's description and the clips of its training, validation and test parts; a rerun
    with the same key reuses it instead of training again, so a long run that stops keeps
    every fold it finished.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.labels import label_set
from avemotion.core.metrics import mean_std, summarize_metrics
from avemotion.corpora.splits import (
    Fold,
    check_fold,
    check_folds,
    get_split,
    with_validation,
)
from avemotion.estimators.neural import encode_labels, proba_in_label_order

log = logging.getLogger(__name__)

#: Metrics averaged over folds in ``metrics.json``'s ``mean`` and ``std``.
FOLD_KEYS = ("uar", "war", "macro_f1", "log_loss", "train_seconds")

ExtraTrain = Callable[[np.ndarray], Sequence[tuple[np.ndarray, Any]]]


@dataclass
class CVResult:
    """Everything :func:`cross_validate` wrote: the prediction table, the metrics dict, the folds
    as used (filtered to the label set, validation carved) and each fold's training history.
    """

    predictions: pd.DataFrame
    metrics: dict[str, Any]
    folds: list[Fold]
    histories: dict[str, list[dict[str, Any]]]


def _say(message: str, progress: bool) -> None:
    log.info(message)
    if progress:
        tqdm.write(message, file=sys.stderr)


def fit_parameters(estimator: Any) -> set[str]:
    """Names of the explicit parameters of ``estimator.fit`` (``**kwargs`` are not counted)."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in inspect.signature(estimator.fit).parameters.values() if p.kind in kinds}


def _restrict(fold: Fold, keep: np.ndarray) -> Fold:
    """``fold`` without the rows where ``keep`` is false."""
    return Fold(
        fold.name,
        train=fold.train[keep[fold.train]],
        test=fold.test[keep[fold.test]],
        validation=fold.validation[keep[fold.validation]],
    )


def _speakers(table: pd.DataFrame, rows: np.ndarray) -> list[str]:
    return sorted({str(s) for s in table["speaker"].to_numpy(dtype=object)[rows] if not pd.isna(s)})


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2) + "\n").encode())


def _fit(
    estimator: Any,
    params: set[str],
    X: np.ndarray,
    y: np.ndarray,
    fold: Fold,
    extras: Sequence[tuple[np.ndarray, np.ndarray]],
    speakers: np.ndarray,
) -> float:
    """Fit on the fold's training rows (and validation rows, extra sets and the rows'
    speakers as ``groups`` / ``groups_val`` where ``fit`` takes them, else extra sets are
    appended to the training data); returns the seconds it took.
    """
    X_fit, y_fit = X[fold.train], y[fold.train]
    kwargs: dict[str, Any] = {}
    if len(fold.validation):
        kwargs.update(X_val=X[fold.validation], y_val=y[fold.validation])
    if "groups" in params:
        kwargs["groups"] = speakers[fold.train]
        if len(fold.validation) and "groups_val" in params:
            kwargs["groups_val"] = speakers[fold.validation]
    if "extra_train" in params:
        kwargs["extra_train"] = list(extras)
    elif extras:
        X_fit = np.concatenate([X_fit, *(xe for xe, _ in extras)])
        y_fit = np.concatenate([y_fit, *(ye for _, ye in extras)])
    start = time.perf_counter()
    estimator.fit(X_fit, y_fit, **kwargs)
    return time.perf_counter() - start


def _fold_outputs(
    table: pd.DataFrame, fold: Fold, y: np.ndarray, proba: np.ndarray, labels: Sequence[str]
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The fold's metrics record and its rows of ``predictions.csv`` (``y``: label strings)."""
    summary = summarize_metrics(encode_labels(y[fold.test], labels), proba, labels)
    record = {
        "name": fold.name,
        "test_speakers": _speakers(table, fold.test),
        "val_speakers": _speakers(table, fold.validation),
        "n_train": int(len(fold.train)),
        "n_val": int(len(fold.validation)),
        "n_test": int(len(fold.test)),
        **{k: summary[k] for k in ("uar", "war", "macro_f1", "log_loss")},
    }
    frame = pd.DataFrame(
        {
            "clip_id": table["clip_id"].to_numpy(dtype=object)[fold.test],
            "speaker": table["speaker"].to_numpy(dtype=object)[fold.test],
            "fold": fold.name,
            "y_true": y[fold.test],
            "y_pred": np.asarray(labels, dtype=object)[proba.argmax(axis=1)],
        }
    )
    for i, label in enumerate(labels):
        frame[f"prob_{label}"] = proba[:, i]
    return record, frame


def _fold_key(table: pd.DataFrame, fold: Fold, estimator: str, n_extra: int) -> dict[str, Any]:
    """What a finished fold depends on: the estimator's description and a digest of the clip
    ids of each part of the fold."""
    clips = table["clip_id"].to_numpy(dtype=object)

    def digest(rows: np.ndarray) -> str:
        return hashlib.sha256("\n".join(sorted(str(c) for c in clips[rows])).encode()).hexdigest()[:16]

    return {
        "estimator": estimator,
        "train": digest(fold.train),
        "validation": digest(fold.validation),
        "test": digest(fold.test),
        "n_extra": n_extra,
    }


def _load_fold(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The saved fold at ``path`` when its key equals ``key``, else None."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get("key") == key else None


def cross_validate(
    make_estimator: Callable[[], Any],
    X: np.ndarray,
    table: pd.DataFrame,
    *,
    split: str | Sequence[Fold],
    labels: Sequence[str] | str,
    validation_fraction: float = 0.125,
    seed: int = 0,
    out_dir: str | Path | None = None,
    extra_train: ExtraTrain | None = None,
    progress: bool = True,
    resume: bool = False,
) -> CVResult:
    """Cross-validate ``make_estimator()`` (one fresh estimator per fold) on features ``X``.

    ``X[i]`` is the feature of ``table`` row ``i``; ``split`` is a split name (see
    :func:`~avemotion.corpora.splits.get_split`) or folds of row positions into ``table``.
    Estimators need ``fit(X, y)`` and ``predict_proba``; ``y`` is passed as label strings,
    and each row's speaker as ``groups`` (``groups_val``) when ``fit`` takes it.
    When ``fit`` takes ``X_val`` and ``y_val``, validation speakers (``validation_fraction``
    of the training speakers, drawn with ``seed``) are held out of training for model
    selection, unless the fold brings its own validation part; other estimators train on all
    training rows (a fold's own validation part is then unused). ``extra_train(train_rows)``
    returns extra ``(X, y)`` training sets for the given training row positions (e.g. their
    augmented copies); they go to ``fit(extra_train=...)`` or, for estimators without that
    parameter, are appended to the training data. ``resume`` (needs ``out_dir``) reuses the
    folds an earlier run with the same estimator and clips finished (``fold_<fold>.json``).
    """
    labels = label_set(labels)
    X = np.asarray(X)
    if len(X) != len(table):
        raise ValueError(f"X has {len(X)} rows but the table has {len(table)}")
    names = np.array(labels, dtype=object)
    keep = table["emotion"].isin(labels).to_numpy()
    counts = table.loc[~keep, "emotion"].fillna("<none>").value_counts()
    dropped = {str(k): int(v) for k, v in counts.items()}
    if dropped:
        shown = ", ".join(f"{k} {v}" for k, v in dropped.items())
        n_out = int((~keep).sum())
        _say(f"dropping {n_out} of {len(table)} clips outside the labels {','.join(labels)}: {shown}", progress)
    emotions = table["emotion"].to_numpy(dtype=object)
    speakers = table["speaker"].to_numpy(dtype=object)
    folds = get_split(split, table) if isinstance(split, str) else check_folds(table, split)
    extra_sets = extra_train or (lambda rows: [])

    out = Path(out_dir) if out_dir is not None else None
    records: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    used: list[Fold] = []
    histories: dict[str, list[dict[str, Any]]] = {}
    description = ""
    bar = tqdm(folds, desc="cross-validation", unit="fold", disable=not progress)
    for given in bar:
        fold = _restrict(given, keep)
        if not len(fold.test):
            _say(f"fold {fold.name}: no test clip in the label set, skipped", progress)
            continue
        estimator = make_estimator()
        description = description or repr(estimator)
        params = fit_parameters(estimator)
        if not {"X_val", "y_val"} <= params:
            fold = Fold(fold.name, train=fold.train, test=fold.test)
        elif not len(fold.validation) and validation_fraction > 0:
            fold = with_validation(table, fold, fraction=validation_fraction, seed=seed)
        check_fold(table, fold)
        used.append(fold)
        extras = [(np.asarray(xe), names[encode_labels(ye, labels)]) for xe, ye in extra_sets(fold.train)]
        n_extra = int(sum(len(xe) for xe, _ in extras))
        key = _fold_key(table, fold, repr(estimator), n_extra)
        saved_path = out / f"fold_{_file_safe(fold.name)}.json" if out is not None and resume else None
        saved = _load_fold(saved_path, key) if saved_path is not None else None
        if saved is not None:
            _say(f"fold {fold.name}: reused {saved_path}", progress)
            record, frame, history = saved["record"], pd.DataFrame(saved["predictions"]), saved["history"]
        else:
            seconds = _fit(estimator, params, X, emotions, fold, extras, speakers)
            proba = proba_in_label_order(estimator, X[fold.test], labels)
            record, frame = _fold_outputs(table, fold, emotions, proba, labels)
            record.update(
                n_extra=n_extra,
                best_epoch=getattr(estimator, "best_epoch_", None),
                best_val_uar=getattr(estimator, "best_val_uar_", None),
                train_seconds=seconds,
            )
            history = list(getattr(estimator, "history_", None) or [])
            if saved_path is not None:
                _write_json(
                    saved_path,
                    {"key": key, "record": record, "predictions": frame.to_dict(orient="list"), "history": history},
                )
        records.append(record)
        frames.append(frame)
        histories[fold.name] = history
        if out is not None:
            _write_json(out / f"history_{_file_safe(fold.name)}.json", history)
        bar.set_postfix(uar=f"{record['uar']:.3f}")
    bar.close()
    if not frames:
        raise ValueError("no fold has a test clip in the label set")

    predictions = pd.concat(frames, ignore_index=True)
    mean, std = mean_std(records, FOLD_KEYS)
    metrics = {
        "split": split if isinstance(split, str) else "custom",
        "labels": list(labels),
        "seed": seed,
        "validation_fraction": validation_fraction,
        "n_clips": int(keep.sum()),
        "dropped": dropped,
        "estimator": description,
        "folds": records,
        "mean": mean,
        "std": std,
        "overall": summarize_metrics(
            encode_labels(predictions["y_true"].to_numpy(), labels),
            predictions[[f"prob_{label}" for label in labels]].to_numpy(),
            labels,
        ),
    }
    if out is not None:
        atomic_write_bytes(out / "predictions.csv", predictions.to_csv(index=False).encode())
        _write_json(out / "metrics.json", metrics)
    return CVResult(predictions=predictions, metrics=metrics, folds=used, histories=histories)
