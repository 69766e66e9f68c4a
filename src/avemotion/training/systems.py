"""Whole seed systems as recipes: an audio and a video (or face) branch plus a fusion rule.

A system file (``avemotion/recipes/systems/<name>.yaml``, or any YAML file of that shape)::

    labels: seed6                          # the fused label set
    branches:
      audio: {recipe: audio_crnn_seed003}  # a branch recipe trained on the data
      video: {recipe: video_c3d_seed003}
      face: {bundle: face}                 # or an existing bundle, kept as it is
    fusion: product                        # mean or product

:func:`fit_system` trains each branch recipe on the modality the data has and skips the others,
saying why; the result is a :class:`~avemotion.prediction.recognizer.Recognizer` (saved as one
bundle folder).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from avemotion.bundles import Bundle
from avemotion.corpora.labels import label_set
from avemotion.errors import AvemotionError
from avemotion.fusion.rules import RULES
from avemotion.recipes import RecipeError, load_recipe, recipe_modality

_BRANCHES = ("audio", "video", "face")


def list_systems() -> list[str]:
    """Names of the packaged system recipes."""
    folder = resources.files("avemotion") / "recipes" / "systems"
    return sorted(Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".yaml"))


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
    if system.get("fusion") not in RULES:
        raise RecipeError(path, f"fusion must be one of {', '.join(RULES)}")
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


def fit_system(system: dict[str, Any], table: pd.DataFrame, *, progress: bool = False) -> tuple[Any, dict[str, Any]]:
    """Train every branch recipe of ``system`` whose modality ``table`` has (others are skipped
    with a reason) and assemble the recognizer. Returns it and ``{"trained": {branch: info},
    "skipped": {branch: reason}}``."""
    from avemotion.prediction.recognizer import PART_MODELS, Recognizer
    from avemotion.training.pipeline import fit_recipe

    parts: dict[str, Any] = {}
    trained: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for branch, spec in system["branches"].items():
        if "bundle" in spec:
            parts[branch] = PART_MODELS[branch].load(spec["bundle"])
            continue
        recipe = load_recipe(spec["recipe"])
        column = recipe_modality(recipe)
        if column not in table.columns or not table[column].notna().any():
            skipped[branch] = f"no clip of the data has {column} (recipe {spec['recipe']})"
            continue
        estimator, info = fit_recipe(recipe, table, progress=progress)
        config = {"name": branch, "kind": branch, "labels": list(label_set(recipe["labels"])), "recipe": recipe,
                  "trained_on": {**info, "recipe_name": spec["recipe"]}}
        parts[branch] = PART_MODELS[branch](Bundle(Path("<fitted in memory>"), config, estimator))
        trained[branch] = info
    if not parts:
        raise AvemotionError(f"no branch of the system could be trained: {'; '.join(skipped.values())}")
    recognizer = Recognizer(parts.get("audio"), parts.get("face"), video=parts.get("video"),
                            labels=system["labels"], fusion=system["fusion"])
    return recognizer, {"trained": trained, "skipped": skipped}
