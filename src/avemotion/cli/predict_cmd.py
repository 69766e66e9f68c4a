"""``avemotion predict FILE_OR_FOLDER...``: the emotion of each clip, per modality and fused.

Folders are searched recursively for media (video, audio, images). Output: a readable table
(default), ``--json`` (one document: ``{"model", "labels", "predictions": [...], "failures":
[...]}``, each prediction as :meth:`avemotion.prediction.recognizer.Prediction.to_dict`) or
``--csv`` (one row per clip or window). ``--timeline`` gives the same over sliding windows. A
file that fails is reported by name with its reason and the batch goes on; the exit code is 1
when any file failed. Missing inputs are found before the model loads: when no input is left,
they are reported and no model is loaded at all.

Batch mode, ``--out results.jsonl`` (or ``.csv``): inputs may also be glob patterns and
manifest CSVs (a ``file`` column); each clip's result is written as soon as it is done (one
JSON object a line, a prediction of the ``--json`` schema plus ``sha256``; a failure as
``{"source", "sha256", "error"}``) and flushed to disk, with a progress bar on a terminal and a
summary at the end. ``--resume`` skips the inputs already in the file (same path and content
hash); a killed run loses at most the clips in flight. ``--workers N`` analyses in N worker
processes, ``--engine ray`` over a Ray cluster (``--address``, or a local one).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avemotion.cli.adapt_options import add_adapt_options
from avemotion.cli.engine_options import add_engine_options, make_engine, uses_engine
from avemotion.core.formats import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from avemotion.errors import AvemotionError, PathError

if TYPE_CHECKING:
    from avemotion.prediction.recognizer import Prediction

MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS | IMAGE_EXTENSIONS


def seconds(text: str) -> float:
    """An argparse ``type=``: a finite number of seconds > 0 (``--window``, ``--hop``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number of seconds > 0")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="recognise the emotion of media files",
        description="Recognise the emotion of video, audio and image files (folders are searched "
        "recursively): the top emotion, its confidence and every emotion's probability, per "
        "modality and fused, and which modalities were used.",
    )
    p.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER")
    p.add_argument("--model", default="default", help="model name or bundle folder (default: %(default)s)")
    p.add_argument("--au", metavar="CSV", help="OpenFace per-frame CSV for an audio + AU model (one input file)")
    p.add_argument("--timeline", action="store_true", help="predict over sliding windows")
    p.add_argument("--window", type=seconds, default=2.0, help="timeline window, seconds (default: %(default)s)")
    p.add_argument("--hop", type=seconds, default=1.0, help="timeline hop, seconds (default: %(default)s)")
    add_adapt_options(p, "all the inputs (at least two)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON document")
    out.add_argument("--csv", action="store_true", help="print CSV, one row per clip or window")
    out.add_argument("--out", metavar="FILE", type=Path,
                     help="batch mode: write each clip's result to FILE (.jsonl: one JSON object a line; .csv) as "
                          "soon as it is done, failures included; inputs may also be globs and manifest CSVs")
    p.add_argument("--resume", action="store_true",
                   help="with --out: skip the inputs already in it (same path and content hash) and append the rest")
    add_engine_options(p, "with --out: analyse the clips")
    p.set_defaults(run=run)


def _rows(predictions: Sequence[Prediction], labels: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for p in predictions:
        row: dict[str, Any] = {"file": p.source, "start": p.start, "end": p.end, "emotion": p.emotion,
                               "confidence": round(p.confidence, 4), "used": "+".join(p.used),
                               "skipped": "; ".join(f"{m}: {r}" for m, r in p.skipped.items())}
        row.update({label: round(p.probabilities[label], 4) for label in labels})
        for modality, proba in p.modalities.items():
            top = max(proba, key=proba.__getitem__)
            row[f"{modality}_emotion"] = top
            row[f"{modality}_confidence"] = round(proba[top], 4)
        row.update({f"{modality}_novelty": round(value, 4) for modality, value in p.novelty.items()})
        rows.append(row)
    return rows


#: Modality columns of the table, in this order, for the modalities a batch used or skipped.
MODALITIES = ("audio", "face", "video", "au")


def _table(predictions: Sequence[Prediction], labels: Sequence[str], timeline: bool) -> str:
    short = [label[:5] for label in labels]
    seen = {m for p in predictions for m in (*p.used, *p.skipped)}
    modalities = [m for m in MODALITIES if m in seen]
    head = ["file", *(["window"] if timeline else []), "emotion", "conf", *modalities, "used", *short]
    lines = []
    for p in predictions:
        cells = [Path(p.source).name]
        if timeline:
            cells.append(f"{p.start:.1f}-{p.end:.1f}s")
        cells += [p.emotion, f"{p.confidence:.2f}"]
        for modality in modalities:
            proba = p.modalities.get(modality)
            if proba:
                top = max(proba, key=proba.__getitem__)
                cells.append(f"{top} {proba[top]:.2f}")
            else:
                cells.append(f"- ({p.skipped.get(modality, 'n/a')})")
        cells.append("+".join(p.used))
        cells += [f"{p.probabilities[label]:.2f}" for label in labels]
        lines.append(cells)
    widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [head, *lines])


#: The error for ``--au`` with several inputs or a model without an AU branch.
AU_USAGE = "--au gives the AU features of one input file to a model with an AU branch (e.g. --model ravdess-av-au)"


def _report_failures(failures: Sequence[str], *, gap: bool = True) -> None:
    print(("\n" if gap else "") + f"{len(failures)} failed:", file=sys.stderr)
    for failure in failures:
        print(f"  {failure}", file=sys.stderr)


def _batch(args: argparse.Namespace) -> int:
    """``--out``: the resumable, streamed batch (any engine)."""
    from avemotion.batch.engines import PredictJob
    from avemotion.batch.inputs import expand_inputs
    from avemotion.batch.results import ResultLog
    from avemotion.batch.run import run_batch
    from avemotion.bundles import read_config

    if args.au is not None or args.adapt:
        raise AvemotionError("--au and --adapt work on one run in this process, not with --out")
    files, failures = expand_inputs(args.paths)
    labels = list(read_config(args.model)[1]["labels"])
    log = ResultLog(args.out, resume=args.resume, labels=labels)
    try:
        for failure in failures:  # inputs that name no file: recorded, not analysed
            log.write({"source": failure.split(": ")[0], "sha256": "", "error": failure})
        engine, threads = make_engine(args)
        job = PredictJob(args.model, threads)
        summary = run_batch(files, engine, job, log, timeline=args.timeline, window=args.window, hop=args.hop)
    finally:
        log.close()
    summary.failed += len(failures)
    summary.failures = failures + summary.failures
    print(f"{args.out}: {summary.line()}", file=sys.stderr)
    if summary.failures:
        _report_failures(summary.failures)
    return 1 if summary.failures else 0


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        return _batch(args)
    if args.resume or uses_engine(args):
        raise AvemotionError("--resume, --workers, --engine and --address are for batch mode: give --out results.jsonl")
    from avemotion.batch.inputs import expand_inputs

    files, failures = expand_inputs(args.paths)
    if not files:  # every input is missing (or an empty folder): say so without loading a model
        if len(failures) == 1:
            raise AvemotionError(failures[0])
        _report_failures(failures, gap=False)
        return 1
    if args.au is not None:
        if len(files) != 1:
            raise AvemotionError(AU_USAGE)
        if not Path(args.au).is_file():
            raise PathError(args.au, "file not found")
    from tqdm import tqdm

    from avemotion.prediction.recognizer import load

    model = load(args.model)
    if args.au is not None and "au" not in model.branches:
        raise AvemotionError(AU_USAGE)
    if args.adapt:
        model = model.adapted(files, args.adapt_method)
    side = {} if args.au is None else {"au": args.au}
    predictions: list[Prediction] = []
    for path in tqdm(files, desc="predict", unit="file", disable=len(files) < 2 or not sys.stderr.isatty()):
        try:
            if args.timeline:
                predictions += model.timeline(path, window=args.window, hop=args.hop)
            else:
                predictions.append(model.analyse(path, side=side))
        except AvemotionError as error:
            failures.append(str(error))
    labels = list(model.labels)
    if args.json:
        document = {"model": args.model, "labels": labels, "predictions": [p.to_dict() for p in predictions],
                    "failures": failures}
        print(json.dumps(document, indent=2))
    elif args.csv:
        rows = _rows(predictions, labels)
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row)) or ["file"]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        print(buffer.getvalue(), end="")
    elif predictions:
        print(_table(predictions, labels, args.timeline))
    if failures and not args.json:
        _report_failures(failures)
    return 1 if failures else 0
