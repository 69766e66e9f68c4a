"""Recipes: YAML files that name a training run's parts and hyper-parameters (no code).

A recipe has five sections::

    labels: ravdess8                      # a label-set name or a list of emotions
    features: {extractor: NAME, params: {...}}      # avemotion.audio.extract.EXTRACTORS
    augmentation: {waveform: {...}, spec_augment: {...}}   # optional, all parts optional
    model: {name: NAME, params: {...}}    # avemotion.models.MODELS
    training: {epochs, batch_size, optimizer, lr, weight_decay, patience,
               class_balance, validation_fraction, seed, ...}

``augmentation.waveform`` holds :class:`avemotion.audio.augment.Augmenter` fields and
``augmentation.spec_augment`` the keyword parameters of
:func:`avemotion.audio.augment.spec_augment`. A visual recipe's feature is ``face_gray``
(``params: {size: 48}``: square gray face crops) and its ``augmentation.faces`` holds the keyword
parameters of :func:`avemotion.models.visual.augment_faces`. A video recipe's feature is a
:data:`avemotion.visual.extract.VIDEO_EXTRACTORS` name (``face_sequence``, ``params: {n: 12, size:
seed003}``); :func:`avemotion.features.recipe_modality` tells the three kinds apart. ``training`` may also name the
:class:`~avemotion.estimators.trainer.Trainer` options in :data:`OPTIONAL_TRAINING`. The package's
own recipes are ``src/avemotion/recipes/*.yaml`` (:func:`list_recipes`); :func:`load_recipe`
reads one of them by name, or any YAML file by path, and checks it. The packaged systems
(``src/avemotion/recipes/systems/*.yaml``, see :mod:`avemotion.training.systems`) are
:func:`list_systems`; :func:`read_packaged` reads a packaged recipe or system as written, without
the checks (which import the feature and model code), for listings such as ``avemotion train --list``.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from avemotion.errors import PathError

__all__ = ["OPTIONAL_TRAINING", "REQUIRED_TRAINING", "RecipeError", "list_recipes", "list_systems", "load_recipe", "read_packaged"]

REQUIRED_TRAINING = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "patience",
    "class_balance",
    "validation_fraction",
    "seed",
)
"""Keys every recipe's ``training`` section must have."""
OPTIONAL_TRAINING = ("momentum", "scheduler", "scheduler_patience", "label_smoothing", "grad_clip", "mixup_alpha", "precision")
"""Further ``training`` keys a recipe may have (Trainer options)."""
_OPTIMIZERS = ("adam", "adamw", "sgd")
_CLASS_BALANCE = ("loss", "sampler", "none")


class RecipeError(PathError, ValueError):
    """A recipe file that is missing, unreadable or incomplete: ``"<file>: <problem>"``."""


def _package_files() -> dict[str, Any]:
    return {
        entry.name.removesuffix(".yaml"): entry
        for entry in resources.files(__name__).iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    }


def list_recipes() -> list[str]:
    """Names of the package's recipes, sorted (``audio_avemotion``, ``audio_crnn_seed003``, ...)."""
    return sorted(_package_files())


def _system_files() -> dict[str, Any]:
    return {
        entry.name.removesuffix(".yaml"): entry
        for entry in (resources.files(__name__) / "systems").iterdir()
        if entry.name.endswith(".yaml") and entry.is_file()
    }


def list_systems() -> list[str]:
    """Names of the package's system recipes, sorted (``avemotion``, ``seed001``, ...)."""
    return sorted(_system_files())


def read_packaged(name: str, *, system: bool = False) -> dict[str, Any]:
    """The packaged recipe (or, with ``system``, the packaged system) ``name`` as its YAML reads,
    unchecked: nothing but YAML is imported (:func:`load_recipe` and
    :func:`avemotion.training.systems.load_system` check a recipe against the feature and model
    code). Raises :class:`RecipeError` for a name that is not packaged or a file that is not a mapping."""
    files = _system_files() if system else _package_files()
    if name not in files:
        kind = "system" if system else "recipe"
        raise RecipeError(name, f"no such packaged {kind}; packaged: {', '.join(sorted(files))}")
    try:
        content = yaml.safe_load(files[name].read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RecipeError(str(files[name]), f"not valid YAML: {err}") from None
    if not isinstance(content, dict):
        raise RecipeError(str(files[name]), "a recipe must be a YAML mapping")
    return content


def _section(recipe: Mapping[str, Any], key: str, source: str, *, required: bool = True) -> dict[str, Any]:
    """``recipe[key]`` as a dict (``{}`` when absent and not required, or null)."""
    if key not in recipe:
        if required:
            raise RecipeError(source, f"missing required key {key!r}")
        return {}
    value = recipe[key]
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RecipeError(source, f"{key!r} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _require(section: Mapping[str, Any], keys: tuple[str, ...], where: str, source: str) -> None:
    for key in keys:
        if key not in section:
            raise RecipeError(source, f"missing required key {where}.{key}")


def _no_unknown(section: Mapping[str, Any], known: Collection[str], where: str, source: str) -> None:
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise RecipeError(source, f"unknown key(s) {unknown} in {where}; known: {sorted(known)}")


def _check_features(features: dict[str, Any], source: str) -> None:
    """``extractor`` is one name, or a list of names whose (vector) features are concatenated;
    with a list, ``params`` maps each name to its parameters."""
    from avemotion.audio.extract import EXTRACTORS, extractor_params
    from avemotion.visual.extract import VIDEO_EXTRACTORS, video_extractor_params

    _require(features, ("extractor",), "features", source)
    features["params"] = dict(features.get("params") or {})
    if features["extractor"] == "face_gray":
        _no_unknown(features["params"], ("size",), "features.params", source)
        return
    if isinstance(features["extractor"], str) and features["extractor"] in VIDEO_EXTRACTORS:
        try:
            video_extractor_params(features["extractor"], **features["params"])
        except ValueError as err:
            raise RecipeError(source, f"features.params: {err}") from None
        return
    names = features["extractor"] if isinstance(features["extractor"], list) else [features["extractor"]]
    for name in names:
        if name not in EXTRACTORS:
            raise RecipeError(source, f"features.extractor {name!r} is not one of {sorted(EXTRACTORS)}")
        params = features["params"].get(name, {}) if len(names) > 1 else features["params"]
        try:
            extractor_params(name, **(params or {}))
        except ValueError as err:
            raise RecipeError(source, f"features.params: {err}") from None
    _no_unknown(features, ("extractor", "params", "states"), "features", source)
    states = features.get("states")
    if states is not None:
        ok = isinstance(states, list) and len(states) == len(names) and all(
            isinstance(s, list) and s and all(isinstance(i, int) and i >= 0 for i in s) for s in states
        )
        if not ok or not all(n.startswith("whisper_layers_") for n in names):
            raise RecipeError(source, "features.states: one list of hidden-state indices (>= 0) per whisper_layers_* extractor")


def _check_augmentation(augmentation: dict[str, Any], source: str) -> None:
    from avemotion.audio.augment import Augmenter, spec_augment
    from avemotion.models.visual import augment_faces

    _no_unknown(augmentation, ("waveform", "spec_augment", "faces"), "augmentation", source)
    waveform = augmentation.get("waveform") or {}
    _no_unknown(waveform, {f.name for f in dataclasses.fields(Augmenter)}, "augmentation.waveform", source)
    masks = augmentation.get("spec_augment") or {}
    keyword = inspect.Parameter.KEYWORD_ONLY
    names = {p.name for p in inspect.signature(spec_augment).parameters.values() if p.kind == keyword}
    _no_unknown(masks, names, "augmentation.spec_augment", source)
    faces = {p.name for p in inspect.signature(augment_faces).parameters.values() if p.kind == keyword}
    _no_unknown(augmentation.get("faces") or {}, faces, "augmentation.faces", source)


def _check_model(model: dict[str, Any], source: str) -> None:
    """``name`` is a network (``MODELS``) or a head (``HEADS``), and every key of ``params`` one of
    its constructor's parameters (so that a misspelt one is refused before any feature is extracted)."""
    from avemotion.estimators import HEADS
    from avemotion.models import MODELS, hyper_parameter_names

    _require(model, ("name",), "model", source)
    _no_unknown(model, ("name", "params"), "model", source)
    params = model.get("params")
    if params is not None and not isinstance(params, Mapping):
        raise RecipeError(source, f"model.params must be a mapping, got {type(params).__name__}")
    model["params"] = dict(params or {})
    name = model["name"]
    if not isinstance(name, str) or (name not in MODELS and name not in HEADS):
        known = sorted([*MODELS, *HEADS])
        raise RecipeError(source, f"model.name {name!r} is not one of {known}")
    accepted = hyper_parameter_names(HEADS[name] if name in HEADS else MODELS[name])
    if accepted is not None:
        _no_unknown(model["params"], accepted, f"model.params of {name}", source)


def _check_training(training: dict[str, Any], source: str, *, neural: bool = True) -> None:
    """A network needs every :data:`REQUIRED_TRAINING` key; a fixed-feature head (``HEADS``)
    only ``validation_fraction`` and ``seed``."""
    if not neural:
        _require(training, ("validation_fraction", "seed"), "training", source)
        _no_unknown(training, ("validation_fraction", "seed"), "training", source)
        return
    _require(training, REQUIRED_TRAINING, "training", source)
    _no_unknown(training, REQUIRED_TRAINING + OPTIONAL_TRAINING, "training", source)
    if training["optimizer"] not in _OPTIMIZERS:
        raise RecipeError(source, f"training.optimizer must be one of {_OPTIMIZERS}, got {training['optimizer']!r}")
    if training["class_balance"] not in _CLASS_BALANCE:
        raise RecipeError(
            source, f"training.class_balance must be one of {_CLASS_BALANCE}, got {training['class_balance']!r}"
        )
    if not 0.0 <= float(training["validation_fraction"]) < 1.0:
        fraction = training["validation_fraction"]
        raise RecipeError(source, f"training.validation_fraction must be in [0, 1), got {fraction}")
    for key in ("epochs", "batch_size"):
        if not isinstance(training[key], int) or training[key] < 1:
            raise RecipeError(source, f"training.{key} must be an integer >= 1, got {training[key]!r}")


def validate(recipe: Any, source: str | os.PathLike[str] = "<recipe>") -> dict[str, Any]:
    """A checked copy of ``recipe`` with ``params``, ``augmentation`` and its parts filled in as dicts.

    Raises :class:`RecipeError` naming ``source`` and the first missing or wrong key.
    """
    from avemotion.core.labels import label_set

    source = str(source)
    if not isinstance(recipe, Mapping):
        raise RecipeError(source, f"a recipe must be a YAML mapping, got {type(recipe).__name__}")
    if "labels" not in recipe:
        raise RecipeError(source, "missing required key 'labels'")
    try:
        label_set(recipe["labels"])
    except KeyError as err:
        raise RecipeError(source, f"labels: {err.args[0]}") from None
    checked = {"labels": recipe["labels"]}
    for key, check in (
        ("features", _check_features),
        ("augmentation", _check_augmentation),
        ("model", _check_model),
    ):
        checked[key] = _section(recipe, key, source, required=key != "augmentation")
        check(checked[key], source)
    from avemotion.models import MODELS

    checked["training"] = _section(recipe, "training", source)
    _check_training(checked["training"], source, neural=checked["model"]["name"] in MODELS)
    checked["augmentation"] = {
        "waveform": dict(checked["augmentation"].get("waveform") or {}) or None,
        "spec_augment": dict(checked["augmentation"].get("spec_augment") or {}) or None,
        "faces": dict(checked["augmentation"].get("faces") or {}) or None,
    }
    _no_unknown(recipe, checked, "the recipe", source)
    return checked


def load_recipe(name_or_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The recipe named ``name_or_path`` (a package recipe, see :func:`list_recipes`) or read from that YAML file.

    Returns the checked dict (:func:`validate`): ``features.params`` and ``model.params`` are
    dicts (``{}`` when not given); ``augmentation`` has ``waveform`` and ``spec_augment``, each
    a dict or None. Raises :class:`RecipeError` naming the file for a missing file, bad YAML or
    a missing or wrong key.
    """
    packaged = _package_files()
    name = os.fspath(name_or_path)
    if name in packaged:
        source: Any = packaged[name]
    else:
        source = Path(name)
        if not source.is_file():
            raise RecipeError(source, f"no such recipe file; package recipes: {', '.join(sorted(packaged))}")
    try:
        recipe = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RecipeError(str(source), f"not valid YAML: {err}") from None
    return validate(recipe, str(source))
