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

from avemotion.core.labels import label_set
from avemotion.core.version import __version__
from avemotion.errors import PathError
from avemotion.estimators.layerwise import LayerwiseHead
from avemotion.estimators.linear import LogisticHead
from avemotion.estimators.neural import NeuralClassifier, proba_in_label_order
from avemotion.estimators.trees import LogisticForestHead
from avemotion.fusion.multimodal import MultimodalClassifier

FORMAT = "avemotion-bundle/1"
BUNDLE_FILE = "bundle.json"

#: Bundles shipped inside the package: name -> folder under ``avemotion/pretrained``.
SHIPPED: dict[str, str] = {
    "default": "default",
    "audio": "audio",
    "face": "face",
    "ravdess-av-au": "ravdess-av-au",
}


#: The kinds of bundle (``bundle.json``'s ``kind``): single branches and the recognizers made of them.
KINDS = ("audio", "face", "video", "recognizer", "av-au")

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
    """The folder of a shipped bundle name or of a bundle path (a folder holding ``bundle.json``)."""
    name = os.fspath(name_or_path)
    if name in SHIPPED:
        return Path(str(resources.files("avemotion") / "pretrained" / SHIPPED[name]))
    path = Path(name).expanduser()
    if not path.exists():
        raise BundleError(path, f"not a model bundle: no such folder (shipped bundles: {', '.join(SHIPPED)})")
    if not path.is_dir():
        raise BundleError(path, "not a model bundle (a bundle is a folder holding bundle.json)")
    if not (path / BUNDLE_FILE).is_file():
        raise BundleError(path, f"not a model bundle (no {BUNDLE_FILE}); shipped bundles: {', '.join(SHIPPED)}")
    return path


def read_config(name_or_path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """The folder and the checked ``bundle.json`` of a bundle of any kind.

    Checks that it is a JSON object of this format (a newer format gives "made by a newer
    avemotion") with a ``kind`` and ``labels``; every problem is a one-line BundleError naming
    the file."""
    path = resolve(name_or_path)
    file = path / BUNDLE_FILE
    try:
        config = json.loads(file.read_text())
    except (OSError, UnicodeError) as error:
        raise BundleError(file, f"cannot be read ({getattr(error, 'strerror', None) or error})") from None
    except ValueError as error:
        raise BundleError(file, f"is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise BundleError(file, "is not a bundle description (not a JSON object)")
    found = config.get("format")
    if found != FORMAT:
        prefix, _, version = str(found).rpartition("/")
        if prefix == FORMAT.rpartition("/")[0] and version.isdigit() and int(version) > int(FORMAT.rpartition("/")[2]):
            raise BundleError(file, f"made by a newer avemotion (format {found}; this version reads {FORMAT})")
        raise BundleError(file, f"unknown bundle format {found!r} (expected {FORMAT})")
    for key in ("kind", "labels"):
        if key not in config:
            raise BundleError(file, f"has no {key!r}")
    if not isinstance(config["kind"], str) or not config["kind"]:
        raise BundleError(file, f"its 'kind' must name the kind of bundle ({', '.join(KINDS)}), not {json.dumps(config['kind'])}")
    return path, config


def part_folder(folder: Path, ref: str) -> Path:
    """The folder of a recognizer bundle's part ``ref``: ``"shipped:NAME"`` names a shipped
    bundle, anything else a sub-folder of ``folder``, which must hold a bundle (never a silent
    fallback to a shipped bundle of the same name)."""
    if ref.startswith("shipped:"):
        name = ref.removeprefix("shipped:")
        if name not in SHIPPED:
            raise BundleError(folder / BUNDLE_FILE, f"part {ref!r}: no shipped bundle {name!r} ({', '.join(SHIPPED)})")
        return resolve(name)
    local = folder / ref
    if not local.is_dir():
        raise BundleError(local, "missing: the part folder named in bundle.json is not there")
    if not (local / BUNDLE_FILE).is_file():
        raise BundleError(local, f"incomplete part: no {BUNDLE_FILE}")
    return local


def write_config(folder: Path, config: dict[str, Any]) -> None:
    """Write ``bundle.json`` into the (temporary) bundle ``folder``, with the format, the
    package versions and the creation time added."""
    full = {
        "format": FORMAT,
        **config,
        "versions": versions(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    (folder / BUNDLE_FILE).write_text(json.dumps(full, indent=2) + "\n")


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
        write_config(tmp, {
            "name": name,
            "kind": kind,
            "estimator": next(k for k, cls in ESTIMATORS.items() if isinstance(estimator, cls)),
            "labels": list(label_set(recipe["labels"])),
            "classes": [str(c) for c in estimator.classes_],
            "recipe": recipe,
            "trained_on": trained_on,
            **(extra or {}),
        })
    return Path(path)


def load_estimator(folder: Path, config: dict[str, Any]) -> Any:
    """The fitted estimator of the bundle in ``folder`` (``config``: its ``bundle.json``).
    A missing, truncated or unreadable estimator file is a one-line BundleError naming it."""
    kind = config.get("estimator")
    if kind is None:
        what = config.get("kind")
        problem = (f"a {what} bundle holds no estimator of its own (it combines other bundles)"
                   if what in ("recognizer", "av-au") else f"names no estimator (known: {', '.join(ESTIMATORS)})")
        raise BundleError(folder / BUNDLE_FILE, problem)
    if kind not in ESTIMATORS:
        raise BundleError(folder / BUNDLE_FILE, f"unknown estimator kind {kind} (known: {', '.join(ESTIMATORS)})")
    where = folder / "estimator"
    if not where.is_dir():
        raise BundleError(where, "missing: the bundle's estimator folder is not there")
    try:
        return ESTIMATORS[kind].load(where)
    except BundleError:
        raise
    except Exception as error:
        name = getattr(error, "filename", None)
        target = Path(name) if name else where
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BundleError(target, f"damaged or incomplete {kind} estimator ({reason})") from None


def load_bundle(name_or_path: str | os.PathLike[str]) -> Bundle:
    """Load a shipped bundle by name (e.g. ``"audio"``) or any bundle folder by path."""
    path, config = read_config(name_or_path)
    return Bundle(path, config, load_estimator(path, config))
