"""Evaluation report: a metrics JSON and a self-contained HTML page with plots.

:func:`evaluate_predictions` scores label strings against a probability matrix (UAR, WAR,
macro-F1, per-class precision / recall / F1 / one-vs-rest ROC-AUC, confusion, per-fold figures),
on the labels shared by the model and the data only (see :func:`align_labels`).
:func:`write_report` turns those metrics into ``metrics.json``, ``report.html`` and PNG plots;
:func:`report_from_crossval` does all of it for a folder written by
:func:`~avemotion.training.crossval.cross_validate`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.metrics import roc_auc_score, roc_curve

from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.metrics import (
    confusion,
    macro_f1,
    mean_std,
    per_class,
    uar,
    war,
)
from avemotion.errors import PathError

#: Per-fold figures of ``evaluate_predictions(..., folds=...)``.
FOLD_METRICS = ("uar", "war", "macro_f1")

#: Optional per-fold columns shown in the report when the fold records carry them.
_FOLD_EXTRAS = (("n_train", "n train"), ("best_epoch", "best epoch"), ("test_speakers", "test speakers"))

_DPI = 110


# --- metrics -----------------------------------------------------------------------------


def _align(
    y_true: Sequence[str], proba: np.ndarray, model_labels: Sequence[str], data_labels: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], dict[str, int], list[str]]:
    """:func:`align_labels` plus the mask of the rows kept and the model labels removed."""
    y = np.asarray([str(v) for v in y_true], dtype=object)
    p = np.asarray(proba, dtype=float)
    model = [str(m) for m in model_labels]
    if p.ndim != 2 or p.shape != (len(y), len(model)):
        raise ValueError(f"proba must have shape ({len(y)}, {len(model)}), got {p.shape}")
    if len(set(model)) != len(model):
        raise ValueError(f"model labels repeat: {model}")
    keep = np.isin(y, model) if len(y) else np.zeros(0, dtype=bool)
    names, counts = np.unique(y[~keep], return_counts=True)
    dropped = {str(n): int(c) for n, c in zip(names, counts, strict=True)}
    used = set(y[keep]) if data_labels is None else {str(d) for d in data_labels}
    columns = [i for i, m in enumerate(model) if m in used]
    if not columns:
        raise ValueError(f"the model labels ({', '.join(model)}) and the data share no label")
    removed = [m for m in model if m not in used]
    p = p[keep][:, columns]
    total = p.sum(axis=1, keepdims=True)
    p = np.divide(p, total, out=np.full_like(p, 1.0 / len(columns)), where=total > 0)
    return y[keep], p, keep, [model[i] for i in columns], dropped, removed


def align_labels(
    y_true: Sequence[str],
    proba: np.ndarray,
    model_labels: Sequence[str],
    data_labels: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str], dict[str, int]]:
    """Restrict predictions to the labels shared by the model and the data.

    The rule: a clip whose true label is not a model label is dropped (a model without
    ``boredom`` cannot be scored on EmoDB's bored clips); a model column whose label the data
    never uses is removed (``calm`` on CREMA-D), and each row is renormalised to sum to 1 over the
    remaining columns (a row with no mass left becomes uniform), so the prediction is the most
    probable *shared* label. The data's label set is ``data_labels`` when given (the corpus's
    labels), else the true labels that occur in ``y_true``.

    Returns the kept true labels, the ``(n_kept, n_shared)`` probabilities, the shared labels in
    model order, and ``{label: clips dropped}`` for the true labels the model lacks.
    """
    y, p, _, labels, dropped, _ = _align(y_true, proba, model_labels, data_labels)
    return y, p, labels, dropped


def _auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """One-vs-rest ROC-AUC, ``None`` when the class has no positive or no negative clip."""
    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, score))


def _scores(t: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"uar": uar(t, pred), "war": war(t, pred), "macro_f1": macro_f1(t, pred)}


def evaluate_predictions(
    y_true: Sequence[str],
    proba: np.ndarray,
    labels: Sequence[str],
    *,
    folds: Sequence[str] | None = None,
    speakers: Sequence[str] | None = None,
    data_labels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Plain-JSON metrics of predictions ``argmax(proba)`` against the true label strings.

    ``labels`` names the columns of ``proba`` (the model's labels); scoring is on the labels
    shared with the data (:func:`align_labels`, ``data_labels`` as there). Keys: ``n``,
    ``labels`` (the labels scored), ``uar``, ``war`` (accuracy), ``macro_f1``, ``per_class``
    (``{label: {precision, recall, f1, support, auc}}``, ``auc`` one-vs-rest, ``None`` when
    undefined), ``confusion`` (rows true, columns predicted), ``roc_auc_macro`` (mean of the
    defined per-class AUCs), ``dropped_clips`` and ``dropped_model_labels``. With ``folds`` (one
    fold name per clip) also ``folds`` (``[{name, n, uar, war, macro_f1}]`` in order of first
    appearance), ``fold_mean`` and ``fold_std`` (population standard deviation). With
    ``speakers`` (one speaker id per clip, ``None`` or NaN where unknown, grouped as ``?``)
    also ``per_speaker`` (the same records, one per speaker, sorted by UAR, lowest first),
    ``speaker_mean`` and ``speaker_std``; not when no clip names its speaker (image sets).
    """
    y, p, keep, scored, dropped, removed = _align(y_true, proba, labels, data_labels)
    if not len(y):
        raise ValueError("no clip left to score")
    index = {name: i for i, name in enumerate(scored)}
    t = np.array([index[v] for v in y], dtype=np.int64)
    pred = p.argmax(axis=1)
    aucs = [_auc(t == i, p[:, i]) for i in range(len(scored))]
    classes: dict[str, dict[str, float | None]] = {
        name: {**row, "auc": auc} for (name, row), auc in zip(per_class(t, pred, scored).items(), aucs, strict=True)
    }
    defined = [a for a in aucs if a is not None]
    result: dict[str, Any] = {
        "n": int(len(t)),
        "labels": scored,
        **_scores(t, pred),
        "roc_auc_macro": float(np.mean(defined)) if defined else None,
        "per_class": classes,
        "confusion": confusion(t, pred, len(scored)).tolist(),
        "dropped_clips": dropped,
        "dropped_model_labels": removed,
    }
    if speakers is not None:
        speakers = ["?" if s is None or s != s else str(s) for s in speakers]  # s != s: NaN
        speakers = None if set(speakers) <= {"?"} else speakers
    for key, groups in (("fold", folds), ("speaker", speakers)):
        if groups is None:
            continue
        names = np.asarray([str(g) for g in groups], dtype=object)
        if len(names) != len(keep):
            raise ValueError(f"{key}s has {len(names)} entries for {len(keep)} clips")
        records = _group_records(names[keep], t, pred)
        if key == "speaker":
            records.sort(key=lambda r: (r["uar"], r["name"]))
        result["folds" if key == "fold" else "per_speaker"] = records
        result[f"{key}_mean"], result[f"{key}_std"] = mean_std(records, FOLD_METRICS)
    return result


def _group_records(names: np.ndarray, t: np.ndarray, pred: np.ndarray) -> list[dict[str, Any]]:
    """``[{name, n, uar, war, macro_f1}]`` of each group of (N,) ``names``, in order of first appearance."""
    records = []
    for name in dict.fromkeys(names):
        rows = names == name
        records.append({"name": str(name), "n": int(rows.sum()), **_scores(t[rows], pred[rows])})
    return records


# --- plots -------------------------------------------------------------------------------


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return buf.getvalue()


def _confusion_png(cm: np.ndarray, labels: Sequence[str]) -> bytes:
    """Row-normalised confusion matrix, each cell showing its count and row share."""
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    k = len(labels)
    side = max(4.5, 0.75 * k + 2.0)
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    small = 7 if k > 10 else 8.5
    for i in range(k):
        for j in range(k):
            colour = "white" if share[i, j] > 0.55 else "black"
            text = f"{cm[i, j]}\n{share[i, j]:.0%}" if cm[i, j] else "0"
            ax.text(j, i, text, ha="center", va="center", fontsize=small, color=colour)
    ax.set_xticks(range(k), labels, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), [f"{name} ({int(n)})" for name, n in zip(labels, rows[:, 0], strict=True)])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (clips)")
    ax.set_title("Confusion matrix: clips and % of each true class")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return _png(fig)


def _roc_png(
    t: np.ndarray, proba: np.ndarray, labels: Sequence[str], per: Mapping[str, Mapping[str, Any]], macro: float | None
) -> bytes:
    """One-vs-rest ROC curve per label, AUC in the legend."""
    fig = Figure(figsize=(6.8, 6.0))
    ax = fig.add_subplot()
    colours = _colours(len(labels))
    for i, name in enumerate(labels):
        auc = per[name].get("auc")
        if auc is None:
            continue
        fpr, tpr, _ = roc_curve(t == i, proba[:, i])
        ax.plot(fpr, tpr, color=colours[i], lw=1.6, label=f"{name}  AUC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="chance  AUC 0.500")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("One-vs-rest ROC curves" + (f" (macro AUC {macro:.3f})" if macro is not None else ""))
    ax.legend(loc="lower right", fontsize=8.5, framealpha=0.9)
    return _png(fig)


def _per_class_png(labels: Sequence[str], per: Mapping[str, Mapping[str, Any]]) -> bytes:
    """Grouped precision / recall / F1 bars per label."""
    k = len(labels)
    fig = Figure(figsize=(max(6.0, 0.9 * k + 1.5), 4.2))
    ax = fig.add_subplot()
    x = np.arange(k)
    width = 0.27
    for j, (key, colour) in enumerate((("precision", "#4c72b0"), ("recall", "#dd8452"), ("f1", "#55a868"))):
        ax.bar(x + (j - 1) * width, [per[n][key] for n in labels], width, color=colour, label=key.replace("f1", "F1"))
    ax.set_xticks(x, [f"{n}\n({per[n]['support']})" for n in labels], fontsize=8.5)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.set_title("Per-class precision, recall and F1 (clips in brackets)", pad=28)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=9)
    return _png(fig)


def _colours(n: int) -> list[Any]:
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


#: History keys drawn by the training curves.
_CURVE_KEYS = ("train_loss", "val_loss", "val_uar")


def _has_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> bool:
    """Whether any epoch record carries a loss or a validation UAR."""
    return any(e.get(k) is not None for h in (histories or {}).values() for e in h for k in _CURVE_KEYS)


def _curves_png(histories: Mapping[str, Sequence[Mapping[str, Any]]], best: Mapping[str, Any]) -> bytes:
    """Training curves: losses and validation UAR per epoch, one colour per fold."""
    runs = {name: list(h) for name, h in histories.items() if any(e.get(k) is not None for e in h for k in _CURVE_KEYS)}
    keys = {k for h in runs.values() for e in h for k in e}
    losses = [k for k in ("train_loss", "val_loss") if k in keys]
    panels = [p for p, on in (("loss", bool(losses)), ("val_uar", "val_uar" in keys)) if on]
    fig = Figure(figsize=(5.6 * max(1, len(panels)), 4.2))
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    colours = dict(zip(runs, _colours(len(runs)), strict=True))
    styles = {"train_loss": "-", "val_loss": "--"}

    def series(h: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
        pts = [(float(e.get("epoch", i + 1)), float(e[key])) for i, e in enumerate(h) if e.get(key) is not None]
        return [a for a, _ in pts], [b for _, b in pts]

    for ax, panel in zip(axes, panels, strict=False):
        if panel == "loss":
            for name, h in runs.items():
                for key in losses:
                    ax.plot(*series(h, key), color=colours[name], ls=styles[key], lw=1.3)
            ax.set_ylabel("loss")
            ax.set_title("Loss per epoch")
            ax.legend(
                [Line2D([], [], color="0.3", ls=styles[k]) for k in losses],
                [k.replace("_", " ").replace("val", "validation") for k in losses],
                fontsize=8.5,
            )
        else:
            for name, h in runs.items():
                ax.plot(*series(h, "val_uar"), color=colours[name], lw=1.3, label=name)
                epoch = best.get(name)
                hit = [e for e in h if e.get("epoch") == epoch and e.get("val_uar") is not None]
                if hit:
                    ax.plot(epoch, hit[0]["val_uar"], "o", color=colours[name], ms=6, mec="black", mew=0.7)
            if any(best.get(n) is not None for n in runs):
                ax.plot([], [], "o", color="white", mec="black", label="best epoch (kept)")
            ax.set_ylabel("validation UAR")
            ax.set_title("Validation UAR per epoch")
            ax.legend(fontsize=8, ncol=2 if len(runs) > 6 else 1, loc="best")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if panels == ["loss"] and len(runs) > 1:
        axes[0].add_artist(axes[0].get_legend())
        axes[0].legend([Line2D([], [], color=colours[n]) for n in runs], list(runs), fontsize=8, loc="center right")
    fig.tight_layout()
    return _png(fig)


# --- HTML --------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1000px;padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.3rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;
padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #d6d6d6;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{background:#f3f4f6}td.k,th.k{text-align:left}
table.details td{text-align:left;overflow-wrap:anywhere;max-width:760px}
table.details td.k{font-weight:600;white-space:nowrap;background:#f7f7f8}
tr.mean td{font-weight:600;background:#fafafa}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .8rem;margin:.8rem 0}
.muted{color:#666;font-size:.88rem}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.88rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, default=str)
    return str(value)


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[str]], cls: str = "", last_bold: bool = False) -> str:
    """An HTML table of already escaped cells; the first column is left-aligned."""

    def row(cells: Sequence[str], tag: str) -> str:
        return "".join(f'<{tag}{" class=k" if i == 0 else ""}>{c}</{tag}>' for i, c in enumerate(cells))

    lines = [f"<tr>{row(header, 'th')}</tr>"] if header else []
    for i, cells in enumerate(rows):
        bold = last_bold and i == len(rows) - 1
        lines.append(f'<tr{" class=mean" if bold else ""}>{row(cells, "td")}</tr>')
    return f'<table{f" class={cls}" if cls else ""}>{"".join(lines)}</table>'


_SUMMARY_ROWS = (
    ("n", "clips (n)"),
    ("war", "accuracy (WAR)"),
    ("uar", "UAR"),
    ("macro_f1", "macro-F1"),
    ("roc_auc_macro", "ROC-AUC (macro)"),
)


def _summary(metrics: Mapping[str, Any]) -> str:
    folds = metrics.get("folds")
    mean, std = metrics.get("fold_mean") or {}, metrics.get("fold_std") or {}
    rows = []
    for key, name in _SUMMARY_ROWS:
        pooled = str(metrics[key]) if key == "n" else _num(metrics.get(key))
        row = [_e(name), pooled]
        if folds:
            if key == "n":
                row.append(_e(f"{len(folds)} folds"))
            elif mean.get(key) is not None:
                row.append(f"{_num(mean[key])} ± {_num(std.get(key))}")
            else:
                row.append("—")
        rows.append(row)
    header = ["", "pooled"] + (["mean ± std over folds"] if folds else [])
    out = _table(header, rows)
    if folds:
        out += (
            '<p class="muted"><b>Pooled</b>: all test predictions of every fold scored together as one set. '
            "<b>Mean ± std over folds</b>: each fold scored on its own test speakers, then averaged "
            "(population standard deviation); the usual figure for speaker-independent cross-validation. "
            "The two agree for UAR and accuracy only when the folds are equally sized and balanced; "
            "macro-F1 generally differs, since F1 does not average over folds.</p>"
        )
    out += (
        '<p class="muted">UAR: mean recall over the classes (balanced accuracy). WAR: accuracy. '
        "Macro-F1: mean F1 over the classes. ROC-AUC: mean one-vs-rest AUC over the classes.</p>"
    )
    return out


def _dropped_note(metrics: Mapping[str, Any]) -> str:
    clips = metrics.get("dropped_clips") or {}
    model = metrics.get("dropped_model_labels") or []
    labels = metrics.get("labels", [])
    if not clips and not model:
        return f'<p class="muted">Scored on all {len(labels)} labels; no label was dropped.</p>'
    parts = [f"Scored on the {len(labels)} labels shared by the model and the data only: {_e(', '.join(labels))}."]
    if clips:
        shown = ", ".join(f"{k} ({v} clips)" for k, v in clips.items())
        parts.append(f"Clips whose true label the model does not have were left out: {_e(shown)}.")
    if model:
        parts.append(
            f"Model labels the data never uses were removed: {_e(', '.join(model))}; each clip's "
            "probabilities were renormalised over the remaining labels before taking the prediction."
        )
    return f'<div class="note">{" ".join(parts)}</div>'


def _per_class_table(metrics: Mapping[str, Any]) -> str:
    per = metrics["per_class"]
    rows = [
        [_e(n), str(per[n]["support"]), *(_num(per[n].get(k)) for k in ("precision", "recall", "f1", "auc"))]
        for n in metrics["labels"]
    ]
    return _table(["label", "clips", "precision", "recall", "F1", "ROC-AUC"], rows)


def _group_table(metrics: Mapping[str, Any], key: str) -> str:
    """The per-fold (``key="fold"``) or per-speaker (``"speaker"``) table, with a mean ± std row."""
    groups = metrics["folds" if key == "fold" else "per_speaker"]
    extras = [(k, h) for k, h in _FOLD_EXTRAS if any(f.get(k) is not None for f in groups)]
    rows = [
        [_e(f["name"]), str(f["n"]), _num(f["uar"]), _num(f["war"]), _num(f["macro_f1"])]
        + [_e(_text(f[k])) if f.get(k) is not None else "—" for k, _ in extras]
        for f in groups
    ]
    mean, std = metrics.get(f"{key}_mean") or {}, metrics.get(f"{key}_std") or {}
    rows.append(
        ["mean ± std", str(sum(f["n"] for f in groups))]
        + [f"{_num(mean.get(k))} ± {_num(std.get(k))}" for k in FOLD_METRICS]
        + [""] * len(extras)
    )
    header = [key, "test clips" if key == "fold" else "clips", "UAR", "WAR (accuracy)", "macro-F1", *[_e(h) for _, h in extras]]
    return _table(header, rows, last_bold=True)


def _figure(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, allow_nan=False) + "\n").encode())


def write_report(
    out_dir: str | Path,
    metrics: Mapping[str, Any],
    *,
    y_true: Sequence[str] | np.ndarray,
    proba: np.ndarray,
    labels: Sequence[str],
    histories: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    title: str,
    details: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``report.html``, ``metrics.json`` and the PNG plots to ``out_dir``; return the page.

    ``metrics`` comes from :func:`evaluate_predictions`; ``y_true``, ``proba`` and ``labels`` are
    the scored (aligned) predictions behind it, used for the ROC curves. ``histories`` maps a fold
    name to its per-epoch records (``epoch``, ``train_loss``, ``val_loss``, ``val_uar``): the
    training curves are drawn when any has an epoch, and a fold record's ``best_epoch`` is marked.
    ``details`` (model, data, split, date...) is shown as a key/value table and stored in
    ``metrics.json`` under ``details``. PNGs: ``confusion.png``, ``roc.png``, ``per_class.png``
    and ``curves.png``; each file is written atomically and nothing else in ``out_dir`` is touched.
    """
    out = Path(out_dir)
    labels = [str(n) for n in labels]
    if labels != list(metrics["labels"]):
        raise ValueError(f"labels {labels} are not the scored labels {metrics['labels']} (use align_labels first)")
    p = np.asarray(proba, dtype=float)
    index = {n: i for i, n in enumerate(labels)}
    unknown = sorted({str(v) for v in y_true} - set(index))
    if unknown:
        raise ValueError(f"true labels outside the scored labels: {', '.join(unknown)} (use align_labels first)")
    t = np.array([index[str(v)] for v in y_true], dtype=np.int64)
    if p.shape != (len(t), len(labels)):
        raise ValueError(f"proba must have shape ({len(t)}, {len(labels)}), got {p.shape}")

    per = metrics["per_class"]
    pngs: dict[str, tuple[bytes, str]] = {
        "confusion.png": (
            _confusion_png(np.asarray(metrics["confusion"]), labels),
            "Confusion matrix of the pooled test predictions: rows are the true labels, colour and "
            "percentage the share of that true label predicted as each column (recall on the diagonal).",
        ),
        "roc.png": (
            _roc_png(t, p, labels, per, metrics.get("roc_auc_macro")),
            "One-vs-rest ROC curves of the pooled test predictions (each label's probability against all "
            "other labels), AUC in the legend.",
        ),
        "per_class.png": (_per_class_png(labels, per), "Per-class precision, recall and F1 (pooled)."),
    }
    if histories is not None and _has_curves(histories):
        best = {f["name"]: f.get("best_epoch") for f in metrics.get("folds", [])}
        pngs["curves.png"] = (
            _curves_png(histories, best),
            "Training curves per fold: loss on the training and validation speakers, and validation UAR "
            "(the validation speakers are carved out of each fold's training speakers, never its test speakers).",
        )

    sections = [f"<h1>{_e(title)}</h1>"]
    if details:
        rows = [[_e(k), _e(_text(v))] for k, v in details.items()]
        sections.append(_table(None, rows, cls="details"))
    sections += ["<h2>Summary</h2>", _dropped_note(metrics), _summary(metrics)]
    sections += ["<h2>Per class</h2>", _per_class_table(metrics)]
    if metrics.get("folds"):
        sections += ["<h2>Per fold</h2>", _group_table(metrics, "fold")]
    if len(metrics.get("per_speaker") or []) > 1:
        sections += ["<h2>Per speaker</h2>", '<p class="muted">Each speaker\'s clips scored on their own, '
                     "lowest UAR first: a model can be good on average and poor for one voice.</p>",
                     _group_table(metrics, "speaker")]
    sections.append("<h2>Figures</h2>")
    sections += [_figure(png, name, caption) for name, (png, caption) in pngs.items()]
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )

    for name, (png, _) in pngs.items():
        atomic_write_bytes(out / name, png)
    _write_json(out / "metrics.json", {**metrics, **({"details": dict(details)} if details else {})})
    atomic_write_bytes(out / "report.html", page.encode("utf-8"))
    return out / "report.html"


# --- cross-validation folders -------------------------------------------------------------


def _fold_key(name: str) -> tuple[Any, ...]:
    """Natural sort key (``fold2`` before ``fold10``)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PathError(path, "not found (not a cross-validation folder?)") from None
    except json.JSONDecodeError as error:
        raise PathError(path, f"not valid JSON: {error}") from None


def report_from_crossval(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Build the report of a cross-validation folder (``predictions.csv``, ``metrics.json``,
    ``history_<fold>.json``) into ``out_dir`` (default ``run_dir/report``); return the page.

    Metrics are recomputed from ``predictions.csv``; the clips cross-validation itself left out
    (``dropped`` in its ``metrics.json``) are added to ``dropped_clips``.
    """
    run = Path(run_dir)
    cv = _load_json(run / "metrics.json")
    csv = run / "predictions.csv"
    if not csv.is_file():
        raise PathError(csv, "not found (not a cross-validation folder?)")
    table = pd.read_csv(csv, dtype={"y_true": str, "fold": str})
    labels = [str(n) for n in cv.get("labels") or [c[len("prob_"):] for c in table if c.startswith("prob_")]]
    missing = [c for c in ("y_true", *(f"prob_{n}" for n in labels)) if c not in table]
    if missing:
        raise PathError(csv, f"missing columns: {', '.join(missing)}")
    proba = table[[f"prob_{n}" for n in labels]].to_numpy(dtype=float)
    folds = table["fold"].tolist() if "fold" in table else None
    speakers = table["speaker"].tolist() if "speaker" in table else None
    metrics = evaluate_predictions(table["y_true"].tolist(), proba, labels, folds=folds, speakers=speakers)
    for name, count in (cv.get("dropped") or {}).items():
        metrics["dropped_clips"][name] = metrics["dropped_clips"].get(name, 0) + int(count)

    records = {str(f["name"]): f for f in cv.get("folds", [])}
    for fold in metrics.get("folds", []):
        source = records.get(fold["name"], {})
        fold.update({k: source[k] for k, _ in _FOLD_EXTRAS if source.get(k) is not None})

    # history files are named after the fold with characters other than [A-Za-z0-9_.-] as "_"
    by_file = {re.sub(r"[^\w.-]", "_", name): name for name in records}
    order = {name: i for i, name in enumerate(records)}
    found = {}
    for path in run.glob("history_*.json"):
        stem = path.stem[len("history_") :]
        found[by_file.get(stem, stem)] = list(_load_json(path) or [])
    histories = {k: found[k] for k in sorted(found, key=lambda k: (order.get(k, len(order)), _fold_key(k)))}

    y, p, scored, _ = align_labels(table["y_true"].tolist(), proba, labels)
    details = {
        "run": str(run.resolve()),
        "model": cv.get("estimator", "?"),
        "split": cv.get("split", "?"),
        "model labels": labels,
        "seed": cv.get("seed", "?"),
        "validation fraction": cv.get("validation_fraction", "?"),
        "clips in the split": cv.get("n_clips", "?"),
        "generated": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
    title = f"{run.resolve().name} — {cv.get('split', 'cross-validation')}"
    target = run / "report" if out_dir is None else Path(out_dir)
    return write_report(
        target, metrics, y_true=list(y), proba=p, labels=scored, histories=histories, title=title, details=details
    )
