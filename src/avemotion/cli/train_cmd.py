"""``avemotion train --recipe NAME --data DIR... [--split NAME] [--fusion METHOD] --out BUNDLE``.

Trains a recipe (a name from ``avemotion train --list`` or a YAML file) on the clips of the
corpus folders and manifest CSVs given (any mix of corpora, read into one table by
:func:`~avemotion.corpora.read_corpora`), and saves the model as a bundle folder that
``avemotion predict --model`` and ``avemotion evaluate --model`` take. With ``--split`` the
recipe is first cross-validated speaker-independently on that split, and the metrics and the
HTML report go to ``BUNDLE/evaluation/``. A recipe runs on the modality it is for; clips without it are left out
and counted, and files that fail are reported by name at the end.

A system (``avemotion/recipes/systems``) trains its branches and its fusion (``--fusion``
replaces the system's method) into one recognizer bundle; with ``--split`` the whole system,
branches and fusion, is trained and scored once per fold.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avemotion.cli.engine_options import add_engine_options, make_engine, uses_engine
from avemotion.errors import AvemotionError

if TYPE_CHECKING:
    import pandas as pd


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a recipe on corpus folders and save a model bundle",
        description="Train a recipe on corpus folders and save a model bundle; optionally "
        "cross-validate it speaker-independently first (--split).",
    )
    p.add_argument("--recipe", help="recipe or system name (see --list) or YAML file")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="corpus folder(s) or manifest CSV(s), of one corpus or several")
    p.add_argument("--split", help="cross-validate on this split first (e.g. ravdess-si5, speaker5)")
    p.add_argument("--out", type=Path, metavar="BUNDLE", help="bundle folder to write")
    p.add_argument("--fusion", help="systems: fuse with this method instead of the system's (mean, product, "
                   "weighted, bel, bel_gd, mobel, mobel_gd, fc, gated, stacked)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle folder")
    p.add_argument("--list", action="store_true", help="list the recipes and exit")
    add_engine_options(p, "extract the features (into the feature cache)")
    p.set_defaults(run=run)


def _list() -> int:
    """Print the packaged recipes (with their model) and systems (with their branches and fusion),
    read from their YAML without importing the training code."""
    from avemotion.recipes import list_recipes, list_systems, read_packaged

    for name in list_recipes():
        print(f"{name:24s} {read_packaged(name)['model']['name']}")
    for name in list_systems():
        system = read_packaged(name, system=True)
        branches = " + ".join(f"{b} {next(iter(v.values()))}" for b, v in system["branches"].items())
        print(f"{name:24s} system: {branches}; fusion {system['fusion']}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not (args.recipe and args.data and args.out):
        raise AvemotionError("train needs --recipe, --data and --out (or --list)")
    if args.out.exists() and not args.overwrite:
        raise AvemotionError(f"{args.out}: already exists (pass --overwrite to replace it)")
    from avemotion.corpora import read_corpora
    from avemotion.corpora.splits import get_split
    from avemotion.features import recipe_modality
    from avemotion.fusion.multimodal import FUSIONS
    from avemotion.recipes import load_recipe
    from avemotion.training.systems import is_system, load_system

    if is_system(args.recipe):
        system = load_system(args.recipe)
        if args.fusion:
            if args.fusion not in FUSIONS:
                raise AvemotionError(f"--fusion {args.fusion}: not one of {', '.join(FUSIONS)}")
            system["fusion"] = args.fusion
        return _train_system(args, system)
    if args.fusion:
        raise AvemotionError(f"--fusion applies to systems; {args.recipe} is a single-branch recipe")
    recipe = load_recipe(args.recipe)
    kind = {"audio": "audio", "video": "video"}.get(recipe_modality(recipe), "face")
    if kind == "face":
        raise AvemotionError(f"recipe {args.recipe}: face recipes train with scripts/train_face_model.py for now")
    table = read_corpora(*args.data).table
    without = int(table[kind].isna().sum())
    if without == len(table):
        corpora = ", ".join(sorted(map(str, table["corpus"].unique())))
        raise AvemotionError(f"recipe {args.recipe} trains on {kind} clips; {corpora} has none")
    if args.split:  # a split that cannot be made fails here, before any feature is extracted
        get_split(args.split, table[table[kind].notna()].reset_index(drop=True))
    if without:
        print(f"skipping {without} clips without {kind} (recipe {args.recipe} trains on {kind})", file=sys.stderr)
    failures: list[str] = []
    if uses_engine(args):
        from avemotion.batch.run import fill_feature_cache

        engine, threads = make_engine(args)
        fill_feature_cache([str(p) for p in table[kind].dropna()], recipe, engine, threads=threads)
    cv_dir = Path(tempfile.mkdtemp(prefix="avemotion-cv-"))
    try:
        return _train(args, recipe, table, kind, cv_dir, failures)
    finally:
        shutil.rmtree(cv_dir, ignore_errors=True)


def _train(args: argparse.Namespace, recipe: dict[str, Any], table: pd.DataFrame, kind: str, cv_dir: Path, failures: list[str]) -> int:
    from avemotion.bundles import save_bundle
    from avemotion.training.pipeline import cross_validate_recipe, fit_recipe

    progress = sys.stderr.isatty()
    if args.split:
        result, info = cross_validate_recipe(recipe, table, split=args.split, out_dir=cv_dir, progress=progress)
        failures += info["failures"]
    estimator, info = fit_recipe(recipe, table, progress=progress)
    failures += [f for f in info["failures"] if f not in failures]
    name = Path(args.recipe).stem
    save_bundle(args.out, estimator, name=name, kind=kind, recipe=recipe,
                trained_on={**info, "recipe_name": name, "data": [str(d) for d in args.data]}, overwrite=args.overwrite)
    print(f"wrote {args.out} ({info['n_clips']} clips, {len(info['speakers'])} speakers)")
    if args.split:
        _report_split(args, cv_dir, result.metrics)
    return _report_failures(failures)


def _train_system(args: argparse.Namespace, system: dict[str, Any]) -> int:
    """Train a whole system (cross-validated on ``--split`` first) and save its recognizer."""
    import numpy as np

    from avemotion.corpora import read_corpora
    from avemotion.corpora.splits import get_split
    from avemotion.training.crossval import cross_validate
    from avemotion.training.systems import SystemClassifier, fit_system

    progress = sys.stderr.isatty()
    table = read_corpora(*args.data).table
    if args.split:  # a split that cannot be made fails here, before any branch trains
        get_split(args.split, table)
    failures: list[str] = []
    if uses_engine(args):
        raise AvemotionError("--workers and --engine extract one recipe's features; train a system's branches without them")
    cv_dir = Path(tempfile.mkdtemp(prefix="avemotion-cv-"))
    try:
        if args.split:
            estimators: list[SystemClassifier] = []

            def make() -> SystemClassifier:
                estimators.append(SystemClassifier(system, table, progress=progress))
                return estimators[-1]

            result = cross_validate(make, np.arange(len(table))[:, None], table, split=args.split,
                                    labels=system["labels"], out_dir=cv_dir, progress=progress)
            failures += [f for e in estimators for f in getattr(e, "failures_", [])]
        recognizer, info = fit_system(system, table, progress=progress)
        recognizer.save(args.out, overwrite=args.overwrite)
        for branch, reason in info["skipped"].items():
            print(f"skipped {'the fusion' if branch == 'fusion' else f'the {branch} branch'}: {reason}", file=sys.stderr)
        trained = ", ".join(f"{b} ({i['n_clips']} clips)" for b, i in info["trained"].items()) or "none"
        fused = info["fusion"]
        learned = f" learned on {fused['n_clips']} clips of {len(fused['speakers'])} speakers" if "n_clips" in fused else ""
        print(f"wrote {args.out}: trained {trained}; fusion {fused['fusion']}{learned}")
        failures += [f for i in info["trained"].values() for f in i["failures"]]
        failures += list(fused.get("failures", {}).values())
        if args.split:
            _report_split(args, cv_dir, result.metrics)
    finally:
        shutil.rmtree(cv_dir, ignore_errors=True)
    return _report_failures(failures)


def _report_split(args: argparse.Namespace, cv_dir: Path, metrics: dict[str, Any]) -> None:
    """Write the cross-validation's HTML report and files into ``BUNDLE/evaluation`` and print its figures."""
    from avemotion.evaluation.report import report_from_crossval

    page = report_from_crossval(cv_dir, args.out / "evaluation")
    shutil.copytree(cv_dir, args.out / "evaluation" / "crossval")
    mean, std = metrics["mean"], metrics["std"]
    print(f"{args.split}: UAR {mean['uar']:.3f} +- {std['uar']:.3f}, WAR {mean['war']:.3f}, "
          f"macro-F1 {mean['macro_f1']:.3f}; report: {page}")


def _report_failures(failures: list[str]) -> int:
    """List the files that failed on stderr; the exit code (1 if any failed)."""
    if failures:
        print(f"{len(failures)} files failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
    return 1 if failures else 0
