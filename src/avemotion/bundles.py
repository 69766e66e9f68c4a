"""Model bundles: one folder holding a trained model as a unit.

A bundle folder holds ``bundle.json`` (format, name, kind, label set, the recipe that made it,
what it was trained on, its validation figures and the package versions that made it) and the
fitted estimator's own files under ``estimator/`` (a :class:`NeuralClassifier`'s ``model.pt`` +
``config.json``, a :class:`LogisticHead`'s ``head.npz``, a :class:`MultimodalClassifier`'s folder). Weights always load from this
local folder; nothing is downloaded.

Bundles are named (the ones shipped in the package, see :data:`SHIPPED`) or given by path.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

from avemotion import __version__
from avemotion.corpora.labels import label_set
from avemotion.errors import PathError
from avemotion.fusion.multimodal import MultimodalClassifier
from avemotion.models.layerwise import LayerwiseHead
from avemotion.models.linear import LogisticHead
from avemotion.models.trees import LogisticForestHead
from avemotion.training.estimator import NeuralClassifier, proba_in_label_order

FORMAT = "avemotion-bundle/1"
BUNDLE_FILE = "bundle.json"

#: Bundles shipped inside the package: name -> folder under ``avemotion/pretrained``.
SHIPPED: dict[str, str] = {
    "default": "default",
    "audio": "audio",
    "face": "face",
    "ravdess-av-au": "ravdess-av-au",
}


#: Estimator kind recorded in ``bundle.json`` -> its class (each has ``save`` and ``load``).
ESTIMATORS: dict[str, Any] = {
    "logistic": LogisticHead,
    "logistic_forest": LogisticForestHead,
    "layerwise": LayerwiseHead,
    "neural": NeuralClassifier,
    "multimodal": MultimodalClassifier,
}


class BundleError(PathError):
    """A bundle folder that is missing, incomplete or of an unknown format."""


@dataclass
class Bundle:
    """A loaded bundle: its folder, its ``bundle.json`` contents and the fitted estimator."""

    path: Path
    config: dict[str, Any]
    estimator: Any

    @property
    def labels(self) -> tuple[str, ...]:
        """The bundle's label set, in its canonical order (see :meth:`predict_proba`)."""
        return tuple(self.config["labels"])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, n_labels) probabilities with columns in :attr:`labels` order (the estimator's
        own column order may differ; a label it never saw gets 0)."""
        return proba_in_label_order(self.estimator, X, self.labels)

    @property
    def recipe(self) -> dict[str, Any]:
        return self.config["recipe"]


def versions() -> dict[str, str]:
    """Versions of the packages a bundle depends on, recorded when it is saved."""
    return {"avemotion": __version__, "torch": torch.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__}


def resolve(name_or_path: str | os.PathLike[str]) -> Path:
    """The folder of a shipped bundle name or of a bundle path."""
    name = os.fspath(name_or_path)
    if name in SHIPPED:
        return Path(str(resources.files("avemotion") / "pretrained" / SHIPPED[name]))
    path = Path(name).expanduser()
    if not (path / BUNDLE_FILE).is_file():
        raise BundleError(path, f"not a model bundle (no {BUNDLE_FILE}); shipped bundles: {', '.join(SHIPPED)}")
    return path


@contextmanager
def writing_folder(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder next to ``path``; when the block succeeds it replaces
    ``path`` (renamed into place, an old folder moved aside first), otherwise it is removed.
    An existing ``path`` is only replaced with ``overwrite=True``."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise BundleError(target, "already exists (pass overwrite=True to replace it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_bundle(
    path: str | os.PathLike[str],
    estimator: Any,
    *,
    name: str,
    kind: str,
    recipe: dict[str, Any],
    trained_on: dict[str, Any],
    extra: dict[str, Any] | None = None,
    overwrite: bool = False,
    save_options: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle folder atomically: everything goes into a temporary sibling folder that is
    renamed into place at the end. An existing bundle is only replaced with ``overwrite=True``.
    ``save_options`` are passed to the estimator's ``save`` (e.g. ``{"half": True}``)."""
    with writing_folder(path, overwrite=overwrite) as tmp:
        estimator.save(tmp / "estimator", **(save_options or {}))
        config = {
            "format": FORMAT,
            "name": name,
            "kind": kind,
            "estimator": next(k for k, cls in ESTIMATORS.items() if isinstance(estimator, cls)),
            "labels": list(label_set(recipe["labels"])),
            "classes": [str(c) for c in estimator.classes_],
            "recipe": recipe,
            "trained_on": trained_on,
            "versions": versions(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **(extra or {}),
        }
        (tmp / BUNDLE_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return Path(path)


def load_bundle(name_or_path: str | os.PathLike[str]) -> Bundle:
    """Load a shipped bundle by name (e.g. ``"audio"``) or any bundle folder by path."""
    path = resolve(name_or_path)
    try:
        config = json.loads((path / BUNDLE_FILE).read_text())
    except (OSError, ValueError) as error:
        raise BundleError(path, f"cannot read {BUNDLE_FILE}: {error}") from None
    if config.get("format") != FORMAT:
        raise BundleError(path, f"unknown bundle format {config.get('format')!r} (expected {FORMAT})")
    if config.get("estimator") not in ESTIMATORS:
        raise BundleError(path, f"unknown estimator kind {config.get('estimator')!r}")
    return Bundle(path, config, ESTIMATORS[config["estimator"]].load(path / "estimator"))
