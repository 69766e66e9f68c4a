"""``avemotion evaluate``: score a model on a labelled corpus, with a metrics JSON and an HTML report.

Without ``--split`` the trained model predicts every clip of the data (video where a clip has
one, else its audio, else its image; an audio + AU model also gets the clip's AU means) and is
scored on the labels the model and the data share. ``--split`` takes either:

* a corpus partition, ``train``, ``validation`` or ``test`` (FER2013's own partitions, a
  manifest's ``split`` column): the trained model predicts the clips of that partition only;
* a named speaker-independent split (:data:`avemotion.corpora.splits.NAMED_SPLITS`, e.g.
  ``ravdess-si5``, ``speaker5``): the model's *recipe* (audio or video) is cross-validated on the
  data instead (a fresh model trained per fold), so that a model is never scored on speakers it
  was trained on.

``--data`` takes folders and manifest CSVs of any mix of corpora (read into one table by
:func:`~avemotion.corpora.read_corpora`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avemotion.cli.adapt_options import add_adapt_options
from avemotion.cli.engine_options import add_engine_options, count, make_engine, uses_engine
from avemotion.core.labels import label_set
from avemotion.errors import AvemotionError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


#: The partitions a corpus may have (FER2013's, a manifest's ``split`` column).
PARTITIONS = ("train", "validation", "test")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a model on a labelled corpus",
        description="Score a model on a labelled corpus: accuracy, UAR, macro-F1, per-class "
        "figures, confusion matrix and ROC curves, as JSON and as an HTML report.",
    )
    p.add_argument("--model", default="default", help="model name or bundle folder (default: %(default)s)")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR",
                   help="corpus folder(s) or manifest CSV(s), of one corpus or several")
    p.add_argument("--split", metavar="NAME",
                   help="train, validation or test: score the trained model on that partition of the data only "
                        "(e.g. FER2013's test images); or a named speaker-independent split (ravdess-si5, "
                        "ravdess-6fold, seed003, partition, speaker5, speaker10): cross-validate the model's audio "
                        "or video recipe on the data instead, a fresh model per fold")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the metrics JSON here")
    p.add_argument("--report", type=Path, metavar="DIR", help="write report.html and its plots here")
    p.add_argument("--limit", type=count, metavar="N", help="score only the first N clips (a quick look)")
    add_engine_options(p, "predict the clips (or, with a named --split, extract the features)")
    add_adapt_options(p, "all the clips given", per_speaker=True)
    p.set_defaults(run=run)


def _media(row: pd.Series) -> str | None:
    for column in ("video", "audio", "image"):
        if column in row and isinstance(row[column], str):
            return row[column]
    return None


def _predict_table(model: Any, table: pd.DataFrame, failures: list[str], novelty: list[float] | None = None
                   ) -> tuple[list[str], np.ndarray, list[list[str]], list[Any]]:
    """Labels, (N, K) probabilities, modalities used and speaker ids (None where the corpus
    names none) of the clips of ``table`` that could be predicted (the others go to ``failures``); ``novelty``, when given, receives the
    audio novelty of each clip that has one."""
    import numpy as np
    from tqdm import tqdm

    from avemotion.corpora.openface import au_columns

    columns = au_columns(table) if "au" in model.branches else []
    y, rows, used, speakers = [], [], [], []
    for _, row in tqdm(table.iterrows(), total=len(table), desc="evaluate", unit="clip", disable=not sys.stderr.isatty()):
        path = _media(row)
        if path is None:
            failures.append(f"{row['clip_id']}: no media file")
            continue
        try:
            if columns:
                au = None if row[columns].isna().any() else row[columns].astype(float).to_dict()
                prediction = model.analyse(row["audio"] if isinstance(row.get("audio"), str) else path, side={"au": au})
            else:
                prediction = model.analyse(path)
        except AvemotionError as error:
            failures.append(str(error))
            continue
        y.append(str(row["emotion"]))
        rows.append([prediction.probabilities[label] for label in model.labels])
        used.append(prediction.used)
        speakers.append(row.get("speaker"))
        if novelty is not None and "audio" in prediction.novelty:
            novelty.append(prediction.novelty["audio"])
    return y, np.asarray(rows, dtype=float).reshape(-1, len(model.labels)), used, speakers


def _predict_adapted(model: Any, table: pd.DataFrame, method: str, per: str, failures: list[str]
                     ) -> tuple[list[str], np.ndarray, list[list[str]], list[Any]]:
    """:func:`_predict_table` with the model adapted without labels (``method``) to all the
    clips (``per="set"``) or to each speaker's clips (``"speaker"``; speakers with fewer than two
    readable clips get the set's adaptation). Rows come grouped by speaker."""
    import numpy as np

    def audio(rows: pd.DataFrame) -> list[str]:
        return [p for p in rows["audio"] if isinstance(p, str)]

    if per == "set":
        return _predict_table(model.adapted(audio(table), method), table, failures)
    whole = None  # the set's adaptation, read only if a speaker has too few clips of their own
    y: list[str] = []
    proba: list[np.ndarray] = []
    used: list[list[str]] = []
    speakers: list[Any] = []
    for _, rows in table.groupby("speaker", sort=False, dropna=False):
        try:
            adapted = model.adapted(audio(rows), method)
        except AvemotionError:
            if whole is None:
                whole = model.adapted(audio(table), method)
            adapted = whole
        part = _predict_table(adapted, rows, failures)
        y += part[0]
        proba.append(part[1])
        used += part[2]
        speakers += part[3]
    return y, np.concatenate(proba), used, speakers


def _predict_with_engine(
    args: argparse.Namespace, model: Any, table: pd.DataFrame, failures: list[str], novelty: list[float] | None = None
) -> tuple[list[str], np.ndarray, list[list[str]], list[Any]]:
    """:func:`_predict_table` with the clips analysed on the engine the options ask for."""
    import numpy as np

    from avemotion.batch.engines import PredictJob, Task, failed

    engine, threads = make_engine(args)
    tasks: list[Task] = []
    labelled: dict[str, tuple[str, Any]] = {}  # task name -> (emotion, speaker)
    for _, row in table.iterrows():
        path = _media(row)
        if path is None:
            failures.append(f"{row['clip_id']}: no media file")
            continue
        tasks.append(Task(path, str(len(tasks))))
        labelled[str(len(tasks) - 1)] = (str(row["emotion"]), row.get("speaker"))
    done: dict[str, dict[str, Any]] = {}
    for result in engine.map(PredictJob(args.model, threads), tasks):
        lost = failed(result)
        record = result if lost is None else {"sha256": lost[0].sha256, "error": f"{lost[0].source}: {lost[1]}"}
        if "error" in record:
            failures.append(record["error"])
        else:
            done[record["sha256"]] = record
    order = sorted(done, key=int)  # the table's order, whatever the completion order
    if novelty is not None:
        novelty += [done[k]["novelty"]["audio"] for k in order if "audio" in done[k].get("novelty", {})]
    proba = np.asarray([[done[k]["probabilities"][label] for label in model.labels] for k in order], dtype=float)
    return ([labelled[k][0] for k in order], proba.reshape(-1, len(model.labels)), [done[k]["used"] for k in order],
            [labelled[k][1] for k in order])


def _cross_validate(args: argparse.Namespace, table: pd.DataFrame, details: dict[str, Any]) -> int:
    from avemotion.bundles import load_bundle, read_config
    from avemotion.core.atomic import atomic_write_bytes
    from avemotion.corpora.splits import get_split
    from avemotion.evaluation.report import report_from_crossval
    from avemotion.features import recipe_modality
    from avemotion.training.pipeline import cross_validate_recipe

    name = "audio" if args.model == "default" else args.model
    shown = "default (its audio branch)" if args.model == "default" else args.model
    _, config = read_config(name)
    if config["kind"] not in ("audio", "video"):
        raise AvemotionError(f"--split {args.split}: model {shown} is a bundle of kind {config['kind']}; a named split "
                             f"cross-validates an audio or video bundle's recipe (use --split {'/'.join(PARTITIONS)} "
                             "to score this model on a partition of the data)")
    bundle = load_bundle(name)
    recipe = bundle.recipe
    if not recipe or "features" not in recipe or "model" not in recipe:
        raise AvemotionError(f"--split {args.split}: model {shown} has no single recipe to cross-validate "
                             f"(an audio or video recipe is needed); use --split {'/'.join(PARTITIONS)} to score it "
                             "on a partition of the data")
    column = recipe_modality(recipe)
    if column not in ("audio", "video"):
        raise AvemotionError(f"--split {args.split}: model {shown} has a {column} recipe; only audio and video "
                             "recipes are cross-validated here")
    if column not in table.columns or table[column].isna().all():
        raise AvemotionError(f"--split {args.split} cross-validates the {column} recipe of model {shown}; "
                             f"{details['corpus']} has no {column} clips")
    get_split(args.split, table[table[column].notna()].reset_index(drop=True))  # a split that cannot be made fails here, before the features
    if uses_engine(args):
        from avemotion.batch.run import fill_feature_cache

        engine, threads = make_engine(args)
        fill_feature_cache([str(p) for p in table[column].dropna()], recipe, engine, threads=threads)
    run_dir = args.report or Path(f"evaluate-{args.split}")
    _, info = cross_validate_recipe(recipe, table, split=args.split, out_dir=run_dir / "crossval",
                                    progress=sys.stderr.isatty())
    page = report_from_crossval(run_dir / "crossval", run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["details"] = {**details, **metrics.get("details", {}), "failures": info["failures"]}
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(metrics, indent=2) + "\n").encode())
    _say(metrics, page)
    return 1 if info["failures"] else 0


def _say(metrics: dict[str, Any], page: Path | None) -> None:
    print(f"n {metrics['n']}  accuracy {metrics['war']:.3f}  UAR {metrics['uar']:.3f}  macro-F1 {metrics['macro_f1']:.3f}")
    if metrics.get("dropped_clips"):
        print("not scored (labels the model lacks): " + ", ".join(f"{k} {v}" for k, v in metrics["dropped_clips"].items()))
    if metrics.get("dropped_model_labels"):
        print("model labels the data lacks (left out): " + ", ".join(metrics["dropped_model_labels"]))
    speakers = metrics.get("per_speaker") or []
    if len(speakers) > 1:
        low, high, mean, std = speakers[0], speakers[-1], metrics["speaker_mean"]["uar"], metrics["speaker_std"]["uar"]
        print(f"UAR per speaker: {mean:.3f} ± {std:.3f} over {len(speakers)} speakers, lowest {low['uar']:.3f} "
              f"({low['name']}, {low['n']} clips), highest {high['uar']:.3f} ({high['name']}, {high['n']} clips)")
    if page is not None:
        print(f"report: {page}")
    novel = metrics.get("details", {}).get("audio_novelty")
    if novel and novel["share_novel"] > 0.5:  # most clips
        print(f"audio: {100 * novel['share_novel']:.0f} % of the clips sound unlike the audio model's training corpora "
              f"(mean novelty {novel['mean']:.2f}); its probabilities are calibrated as for a new corpus, and --adapt "
              "may help")


def run(args: argparse.Namespace) -> int:
    from avemotion.corpora import read_corpora
    from avemotion.corpora.splits import NAMED_SPLITS

    corpus = read_corpora(*args.data)  # a missing folder is reported here, before a model loads
    table = corpus.table
    data = ", ".join(map(str, args.data))
    corpora = ", ".join(sorted(table["corpus"].unique()))
    split = "none (the trained model predicts every clip)"
    partition = args.split in PARTITIONS
    if args.split and not partition and args.split not in NAMED_SPLITS:
        raise AvemotionError(f"--split {args.split}: not a partition ({', '.join(PARTITIONS)}) nor a named split "
                             f"({', '.join(NAMED_SPLITS)})")
    if partition:
        parts = table["partition"] if "partition" in table.columns else None
        if parts is None or not (parts == args.split).any():
            present = sorted(set(parts.dropna())) if parts is not None else []
            has = f"its partitions are {', '.join(present)}" if present else "it has no partitions (FER2013 has)"
            raise AvemotionError(f"--split {args.split}: {corpora} has no {args.split} partition; {has}")
        table = table[parts == args.split].reset_index(drop=True)
    if args.limit:
        table = table.head(args.limit)
    if partition:
        split = f"{args.split} partition (the trained model predicts its {len(table)} clips)"
    details = {
        "model": args.model,
        "data": data,
        "corpus": corpora,
        "split": split if not args.split or partition else args.split,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if args.split and not partition:
        return _cross_validate(args, table, details)
    import numpy as np
    import pandas as pd

    from avemotion.core.atomic import atomic_write_bytes
    from avemotion.evaluation.report import align_labels, evaluate_predictions, write_report
    from avemotion.prediction.recognizer import load

    model = load(args.model)
    if uses_engine(args) and ("au" in model.branches or args.adapt):
        raise AvemotionError("--workers and --engine predict clips without side inputs: not with an AU model or --adapt")
    failures: list[str] = []
    novelty: list[float] = []
    if args.adapt:
        details["adapted"] = f"audio model adapted to these clips without labels ({args.adapt_method}, per {args.adapt_per})"
        y, proba, used, speakers = _predict_adapted(model, table, args.adapt_method, args.adapt_per, failures)
    else:
        y, proba, used, speakers = _predict_with_engine(args, model, table, failures, novelty) if uses_engine(args) else \
            _predict_table(model, table, failures, novelty)
    if not y:
        raise AvemotionError(f"no clip of {details['data']} could be scored ({len(failures)} failed)")
    corpus_labels = [e for e in label_set("all") if e in set(table["emotion"].dropna())]
    y_kept, p_kept, labels, _ = align_labels(y, proba, model.labels, corpus_labels)
    metrics = evaluate_predictions(y, proba, model.labels, speakers=speakers, data_labels=corpus_labels)
    counts = pd.Series(["+".join(u) for u in used]).value_counts().to_dict()
    metrics["details"] = {**details, "modalities_used": counts, "failures": failures}
    if novelty:
        from avemotion.estimators.layerwise import NOVEL_ABOVE

        metrics["details"]["audio_novelty"] = {"n": len(novelty), "mean": float(np.mean(novelty)),
                                               "share_novel": float(np.mean(np.asarray(novelty) > NOVEL_ABOVE))}
    page = None
    if args.report:
        page = write_report(args.report, metrics, y_true=y_kept, proba=p_kept, labels=labels,
                            title=f"avemotion evaluate: {args.model} on {details['corpus']}", details=details)
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(metrics, indent=2) + "\n").encode())
    _say(metrics, page)
    if failures:
        print(f"{len(failures)} clips failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
    return 1 if failures else 0
