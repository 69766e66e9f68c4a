"""Whole seed systems as recipes: an audio and a video (or face) branch plus a fusion rule.

A system file (``avemotion/recipes/systems/<name>.yaml``, or any YAML file of that shape)::

    labels: seed6                          # the fused label set
    branches:
      audio: {recipe: audio_crnn_seed003}  # a branch recipe trained on the data
      video: {recipe: video_c3d_seed003}
      face: {bundle: face}                 # or an existing bundle, kept as it is
    fusion: bel                            # a rule (mean, product) or a learned fusion
    fusion_params: {}                      # optional: the fuser's parameters
    fusion_speakers: 0.25                  # optional: share of speakers held out to learn it

:func:`fit_system` trains each branch recipe on the modality the data has and skips the others,
saying why; the result is a :class:`~avemotion.prediction.recognizer.Recognizer` (saved as one
bundle folder).

A learned fusion (:data:`~avemotion.prediction.recognizer.LEARNED_FUSIONS`: ``weighted``,
``bel``, ``bel_gd``, ``stacked`` on the branches' probabilities; ``mobel``, ``mobel_gd``,
``fc``, ``gated`` on their embeddings) is fitted on the branch outputs for speakers the branches
never trained on: ``fusion_speakers`` of the speakers whose clips have every branch's input
(video with audio) are held out of branch training, the trained recognizer analyses their clips,
and a :class:`~avemotion.fusion.multimodal.MultimodalClassifier` learns the fusion from those
outputs (speaker-grouped inner cross-validation). Data with fewer than two such speakers cannot
teach a fusion: the branches then train on everything and the product rule fuses them (the
result says so).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from avemotion.bundles import Bundle, load_bundle
from avemotion.core.labels import label_set
from avemotion.corpora.splits import speaker_train_test_split
from avemotion.errors import AvemotionError
from avemotion.features import recipe_modality
from avemotion.fusion.multimodal import FEATURE_LEVEL, FUSIONS, MultimodalClassifier
from avemotion.prediction.recognizer import LEARNED_FUSIONS, Recognizer, branch_of_bundle
from avemotion.recipes import RecipeError, list_systems, load_recipe
from avemotion.training.pipeline import fit_recipe

_BRANCHES = ("audio", "video", "face")
#: The clip-table column each kind of branch reads when it is a shipped bundle.
_BUNDLE_INPUT = {"audio": "audio", "face": "video", "video": "video"}


def load_system(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """A packaged system by name or a system YAML file, checked; raises RecipeError naming it."""
    name = os.fspath(name_or_path)
    path = Path(str(resources.files("avemotion") / "recipes" / "systems" / f"{name}.yaml"))
    if name not in list_systems():
        path = Path(name)
    try:
        system = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise RecipeError(path, f"cannot read the system recipe: {error}") from None
    if not isinstance(system, dict) or not isinstance(system.get("branches"), dict) or not system["branches"]:
        raise RecipeError(path, "a system recipe needs labels, branches and fusion")
    label_set(system.get("labels", "ravdess8"))
    if system.get("fusion") not in FUSIONS:
        raise RecipeError(path, f"fusion must be one of {', '.join(FUSIONS)}")
    share = system.setdefault("fusion_speakers", 0.25)
    if not isinstance(share, int | float) or not 0 < share < 1:
        raise RecipeError(path, f"fusion_speakers must be a fraction between 0 and 1, got {share!r}")
    if not isinstance(system.setdefault("fusion_params", {}), dict):
        raise RecipeError(path, "fusion_params must be a mapping")
    for branch, spec in system["branches"].items():
        if branch not in _BRANCHES or not isinstance(spec, dict) or len(spec) != 1 or not ({"recipe", "bundle"} & set(spec)):
            raise RecipeError(path, f"branch {branch!r}: expected audio/video/face with one of recipe: or bundle:")
    return system


def is_system(name_or_path: str | os.PathLike[str]) -> bool:
    """Whether ``name_or_path`` names a packaged system or a YAML file with ``branches``."""
    name = os.fspath(name_or_path)
    if name in list_systems():
        return True
    path = Path(name)
    if not path.is_file():
        return False
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        return False
    return isinstance(content, dict) and "branches" in content


def _input_column(branch: str, spec: dict[str, Any]) -> str:
    """The clip-table column (``audio`` or ``video``) a branch reads."""
    if "bundle" in spec:
        return _BUNDLE_INPUT[branch]
    column = recipe_modality(load_recipe(spec["recipe"]))
    return "video" if column == "image" else column


def _has(table: pd.DataFrame, column: str) -> np.ndarray:
    return table[column].notna().to_numpy() if column in table.columns else np.zeros(len(table), dtype=bool)


def fusion_speakers(system: dict[str, Any], table: pd.DataFrame) -> tuple[np.ndarray, str | None]:
    """Rows (bool mask) of the speakers held out to learn the system's fusion, or no rows and
    why it cannot be learned from ``table``."""
    columns = {_input_column(b, spec) for b, spec in system["branches"].items()}
    labels = label_set(system["labels"])
    paired = np.logical_and.reduce([_has(table, c) for c in columns]) & table["emotion"].isin(labels).to_numpy()
    speakers = table["speaker"].to_numpy(dtype=object)
    candidates = sorted({str(s) for s in speakers[paired]})
    if len(candidates) < 2 or len({str(s) for s in speakers}) < 3:
        return np.zeros(len(table), dtype=bool), (
            f"learning {system['fusion']} needs clips with {' and '.join(sorted(columns))} of at least two speakers "
            f"besides those the branches train on; the data has {len(candidates)} such speaker(s)"
        )
    sub = table[paired].reset_index(drop=True)
    n = max(2, int(round(system["fusion_speakers"] * len(candidates))))
    fold = speaker_train_test_split(sub, validation=0.0, test=n / len(candidates), seed=0, name="fusion")
    held = {str(s) for s in sub["speaker"].to_numpy(dtype=object)[fold.test]}
    if len(held) < 2:
        held = set(candidates[:2])
    return np.isin(speakers.astype(str), sorted(held)), None


def fit_fuser(
    recognizer: Any, table: pd.DataFrame, fusion: str, *, params: dict[str, Any] | None = None,
    labels: str | list[str] = "ravdess8", seed: int = 0, progress: bool = False,
) -> tuple[MultimodalClassifier, dict[str, Any]]:
    """Learn ``fusion`` from ``recognizer``'s branch outputs (probabilities, or embeddings for
    feature-level fusions) on the clips of ``table`` (a clip's video, else its audio file).
    Clips that fail are left out and listed. Returns the fitted fuser and what it learned from."""
    embed = fusion in FEATURE_LEVEL
    names = list(recognizer.branches)
    rows: list[dict[str, np.ndarray]] = []
    kept: list[int] = []
    failures: dict[str, str] = {}
    for i, path in enumerate(tqdm(clip_paths(table), desc=f"learning {fusion} fusion", unit="clip", disable=not progress)):
        try:
            outputs, _ = recognizer.embeddings(path) if embed else recognizer.branch_outputs(path)
        except AvemotionError as error:
            failures[str(path)] = str(error)
            continue
        if outputs:
            rows.append({m: (o.embedding if embed else o.proba) for m, o in outputs.items()})
            kept.append(i)
    dims = {m: len(r[m]) for r in rows for m in r}
    modalities = [(m, dims[m]) for m in names if m in dims]
    complete = sum(all(m in r for m, _ in modalities) for r in rows)
    if len(modalities) < 2 or not complete:
        raise AvemotionError(f"learning {fusion} needs clips where every branch gives an output; none of {len(table)} did")
    X = np.stack([np.concatenate([r.get(m, np.full(d, np.nan)) for m, d in modalities]) for r in rows])
    sub = table.iloc[kept]
    fuser = MultimodalClassifier(modalities, labels, fusion, params, seed=seed)
    fuser.fit(X, sub["emotion"].to_numpy(), groups=sub["speaker"].astype(str).to_numpy())
    info = {
        "fusion": fusion,
        "inputs": "embedding" if embed else "proba",
        "modalities": dict(modalities),
        "n_clips": len(kept),
        "n_complete": int(complete),
        "speakers": sorted(sub["speaker"].astype(str).unique()),
        "failures": failures,
    }
    return fuser, info


def fit_system(system: dict[str, Any], table: pd.DataFrame, *, progress: bool = False) -> tuple[Any, dict[str, Any]]:
    """Train every branch recipe of ``system`` whose modality ``table`` has (others are skipped
    with a reason), learn the fusion when it is a learned one (see the module docstring) and
    assemble the recognizer. Returns it and ``{"trained": {branch: info}, "skipped": {branch or
    "fusion": reason}, "fusion": {...}}``."""
    labels = label_set(system["labels"])
    table = table[table["emotion"].isin(labels)].reset_index(drop=True)
    fusion = system["fusion"]
    held = np.zeros(len(table), dtype=bool)
    skipped: dict[str, str] = {}
    if fusion in LEARNED_FUSIONS:
        held, why = fusion_speakers(system, table)
        if why:
            skipped["fusion"] = f"{why}: fused by the product rule instead"
    parts: dict[str, Any] = {}
    trained: dict[str, Any] = {}
    for branch, spec in system["branches"].items():
        if "bundle" in spec:
            parts[branch] = branch_of_bundle(load_bundle(spec["bundle"]))
            continue
        recipe = load_recipe(spec["recipe"])
        column = recipe_modality(recipe)
        branch_table = table[~held]
        if column not in branch_table.columns or not branch_table[column].notna().any():
            skipped[branch] = f"no clip of the data has {column} (recipe {spec['recipe']})"
            continue
        estimator, info = fit_recipe(recipe, branch_table, progress=progress)
        config = {"name": branch, "kind": branch, "labels": list(label_set(recipe["labels"])), "recipe": recipe,
                  "trained_on": {**info, "recipe_name": spec["recipe"]}}
        parts[branch] = branch_of_bundle(Bundle(Path("<fitted in memory>"), config, estimator))
        trained[branch] = info
    if not parts:
        raise AvemotionError(f"no branch of the system could be trained: {'; '.join(skipped.values())}")
    branches = list(parts.values())
    if fusion not in LEARNED_FUSIONS:
        return Recognizer(branches, fusion=fusion, labels=system["labels"]), {
            "trained": trained, "skipped": skipped, "fusion": {"fusion": fusion}}
    recognizer = Recognizer(branches, fusion="product", labels=system["labels"])
    fusion_info: dict[str, Any] = {"fusion": "product"}
    if held.any() and len(parts) < 2:
        skipped["fusion"] = "only one branch could be trained: nothing to fuse"
    elif held.any():
        try:
            fuser, fusion_info = fit_fuser(recognizer, table[held], fusion, params=system["fusion_params"],
                                           labels=system["labels"], progress=progress)
            recognizer = Recognizer(branches, fusion=fusion, fuser=fuser, labels=system["labels"])
        except AvemotionError as error:
            skipped["fusion"] = f"{error}: fused by the product rule instead"
    return recognizer, {"trained": trained, "skipped": skipped, "fusion": fusion_info}


def retrain_audio(
    recognizer: Recognizer, table: pd.DataFrame, *, recipe: str | dict[str, Any] = "audio_whisper",
    progress: bool | None = None,
) -> Recognizer:
    """A copy of ``recognizer`` whose audio branch is retrained on the clips of a corpus table
    (``read_corpus(...).table``) with an audio recipe (validation speakers taken from the
    table's speakers); the other branches are kept (the face model trains on still images:
    ``scripts/train_face_model.py``). :meth:`~avemotion.prediction.recognizer.Recognizer.save`
    writes the result. ``progress``: a progress bar of the feature extraction and training
    (default: on a terminal)."""
    import sys

    spec = load_recipe(recipe) if isinstance(recipe, str) else recipe
    estimator, info = fit_recipe(spec, table, progress=sys.stderr.isatty() if progress is None else progress)
    config = {"name": "audio", "kind": "audio", "labels": list(label_set(spec["labels"])), "recipe": spec,
              "trained_on": info}
    return recognizer.with_branch(branch_of_bundle(Bundle(Path("<fitted in memory>"), config, estimator)))


def clip_paths(table: pd.DataFrame) -> list[str]:
    """Each clip's file to analyse: its video (which carries the audio too) where it has one,
    else its audio file."""
    video = table["video"] if "video" in table.columns else pd.Series([None] * len(table), index=table.index)
    return [str(v) if isinstance(v, str) else str(a) for v, a in zip(video, table["audio"])]


class SystemClassifier:
    """A whole system as an estimator over row positions of ``table`` (``X``: (N, 1) ints), so
    that :func:`~avemotion.training.crossval.cross_validate` can cross-validate it: ``fit``
    trains the system (:func:`fit_system`) on those rows, ``predict_proba`` analyses each row's
    clip with the trained recognizer. A clip the recognizer cannot analyse gets uniform
    probabilities and is listed in ``failures_``."""

    def __init__(self, system: dict[str, Any], table: pd.DataFrame, *, progress: bool = False) -> None:
        self.system = system
        self.table = table
        self.progress = progress

    def __repr__(self) -> str:
        return f"SystemClassifier({self.system!r})"

    def fit(self, X: np.ndarray, y: Any = None) -> SystemClassifier:
        rows = np.asarray(X, dtype=int).ravel()
        self.recognizer_, self.info_ = fit_system(self.system, self.table.iloc[rows], progress=self.progress)
        self.classes_ = np.array(label_set(self.system["labels"]))
        self.failures_: list[str] = []
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        rows = np.asarray(X, dtype=int).ravel()
        out = np.full((len(rows), len(self.classes_)), 1.0 / len(self.classes_))
        for i, path in enumerate(clip_paths(self.table.iloc[rows])):
            try:
                proba = self.recognizer_.predict_proba(path)
            except AvemotionError as error:
                self.failures_.append(str(error))
                continue
            out[i] = [proba[label] for label in self.classes_]
        return out
