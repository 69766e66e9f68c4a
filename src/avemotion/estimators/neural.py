"""A scikit-learn-style classifier around a registered avemotion network and the :class:`Trainer`.

``NeuralClassifier("model name", labels, model_params, trainer_params)`` builds the network
(seeded with the trainer's seed) when it is fitted, trains it with :class:`Trainer`, and
predicts label strings or probabilities with columns in ``labels`` order. ``save`` writes a
folder with ``model.pt`` (the state dict) and ``config.json`` (everything needed to rebuild it);
``NeuralClassifier.load`` reads it back.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.labels import label_set
from avemotion.core.version import __version__
from avemotion.estimators.trainer import Trainer, embed, predict_proba, seeded
from avemotion.models import EmotionNet, build_model
from avemotion.models.base import inference_copy

CONFIG_FORMAT = "avemotion.NeuralClassifier/1"


def encode_labels(y: Any, labels: Sequence[str] | np.ndarray) -> np.ndarray:
    """Class indices (int64) of ``y``, given as label strings or as indices into ``labels``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        if len(arr) and (arr.min() < 0 or arr.max() >= len(labels)):
            raise ValueError(f"class indices must be in [0, {len(labels)}), got {arr.min()}..{arr.max()}")
        return arr.astype(np.int64)
    index = {name: i for i, name in enumerate(labels)}
    unknown = sorted({str(v) for v in arr} - set(index))
    if unknown:
        raise ValueError(f"labels not in the label set ({', '.join(labels)}): {', '.join(unknown)}")
    return np.array([index[str(v)] for v in arr], dtype=np.int64)


def proba_in_label_order(estimator: Any, X: np.ndarray, labels: Sequence[str] | np.ndarray) -> np.ndarray:
    """``predict_proba`` with its columns moved to ``labels`` order (via ``classes_`` when the
    estimator has one; classes it never saw get probability 0).
    """
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        if proba.shape[1] != len(labels):
            raise ValueError(f"predict_proba gave {proba.shape[1]} columns for {len(labels)} labels")
        return proba
    out = np.zeros((len(proba), len(labels)))
    out[:, encode_labels(np.asarray(classes), labels)] = proba
    return out


def _json_ready(params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The parameters JSON can hold (round-tripped, so tuples become lists), and the others' names."""
    kept, dropped = {}, []
    for key, value in params.items():
        try:
            kept[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            dropped.append(key)
    return kept, dropped


#: Trainer settings that do not change what a model learns, left out of its description.
RUNTIME_ONLY = ("progress", "num_threads", "device", "eval_batch_size", "checkpoint_path", "resume_path")


class NeuralClassifier:
    """Fit / predict / save a registered :class:`EmotionNet` on NumPy features.

    ``labels``: a label-set name or a sequence of canonical emotions; their order is the order
    of the output columns. ``model_params`` go to :func:`build_model`, ``trainer_params`` to
    :class:`Trainer`. After :meth:`fit`: ``classes_`` (label strings), ``model_``,
    ``history_``, ``best_epoch_``, ``best_val_uar_``, ``train_seconds_``.
    """

    def __init__(
        self,
        model: str,
        labels: Sequence[str] | str,
        model_params: Mapping[str, Any] | None = None,
        trainer_params: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.labels = labels
        self.model_params = model_params
        self.trainer_params = trainer_params

    def __repr__(self) -> str:
        """The model and every setting that changes what it learns (trainer settings that only
        change where or how visibly it runs, :data:`RUNTIME_ONLY`, are left out)."""
        trainer = {k: v for k, v in (self.trainer_params or {}).items() if k not in RUNTIME_ONLY}
        return (
            f"NeuralClassifier(model={self.model!r}, labels={self.labels!r}, "
            f"model_params={self.model_params!r}, trainer_params={trainer!r})"
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments (scikit-learn's ``clone`` uses this)."""
        return {
            "model": self.model,
            "labels": self.labels,
            "model_params": self.model_params,
            "trainer_params": self.trainer_params,
        }

    def set_params(self, **params: Any) -> NeuralClassifier:
        """Change constructor arguments; returns ``self``."""
        known = self.get_params()
        for key, value in params.items():
            if key not in known:
                raise ValueError(f"unknown parameter {key!r}; known: {', '.join(known)}")
            setattr(self, key, value)
        return self

    # --- fitting and predicting -----------------------------------------------------------

    def _build(self, labels: Sequence[str]) -> EmotionNet:
        return build_model(self.model, len(labels), **dict(self.model_params or {}))

    def fit(
        self,
        X: np.ndarray,
        y: Any,
        X_val: np.ndarray | None = None,
        y_val: Any = None,
        extra_train: Sequence[tuple[np.ndarray, Any]] | None = None,
    ) -> NeuralClassifier:
        """Build and train the network; ``y`` as label strings or class indices."""
        labels = label_set(self.labels)
        trainer = Trainer(**dict(self.trainer_params or {}))
        with seeded(trainer.seed, trainer.num_threads):
            model = self._build(labels)
        result = trainer.fit(
            model,
            X,
            encode_labels(y, labels),
            X_val,
            None if y_val is None else encode_labels(y_val, labels),
            extra_train=[(xe, encode_labels(ye, labels)) for xe, ye in extra_train or []],
        )
        self.classes_ = np.array(labels)
        self.trainer_ = trainer
        self.model_ = model
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_val_uar_ = result.best_val_uar
        self.train_seconds_ = result.seconds
        return self

    def _fitted(self) -> EmotionNet:
        if not hasattr(self, "model_"):
            raise RuntimeError("this NeuralClassifier is not fitted yet; call fit() or load()")
        return self.model_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, C)``, columns in ``classes_`` order."""
        return predict_proba(self._fitted(), X, self.trainer_.eval_batch_size)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable label string of each sample."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Penultimate embeddings ``(N, embedding_dim)``."""
        return embed(self._fitted(), X, self.trainer_.eval_batch_size)

    def inference_view(self) -> NeuralClassifier:
        """A shallow copy whose network is :func:`~avemotion.models.base.inference_copy`'d
        (batch norms folded into the convolutions, channels-last weights): same predictions and
        embeddings to float rounding, faster on CPU. For prediction only: do not fit or save it."""
        view = copy.copy(self)
        view.model_ = inference_copy(self._fitted())
        return view

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, half: bool = False) -> Path:
        """Write ``model.pt`` and ``config.json`` into the folder ``path`` (atomically each);
        returns the folder. Trainer parameters JSON cannot hold (e.g. a ``batch_transform``
        function) are listed under ``unsaved_trainer_params`` and not restored by :meth:`load`.
        ``half``: store floating-point weights as float16 (half the file; :meth:`load` puts
        them back into the float32 network).
        """
        model = self._fitted()
        folder = Path(path)
        model_params, unsaved = _json_ready(dict(self.model_params or {}))
        if unsaved:
            raise ValueError(f"model parameters that JSON cannot hold: {', '.join(unsaved)}")
        trainer_params, unsaved_trainer = _json_ready(dict(self.trainer_params or {}))
        buffer = io.BytesIO()
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        if half:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        torch.save(state, buffer)
        atomic_write_bytes(folder / "model.pt", buffer.getvalue())
        config = {
            "format": CONFIG_FORMAT,
            "model": self.model,
            "model_params": model_params,
            "labels": [str(c) for c in self.classes_],
            "trainer_params": trainer_params,
            "unsaved_trainer_params": unsaved_trainer,
            "avemotion_version": __version__,
            "torch_version": torch.__version__,
            "best_epoch": self.best_epoch_,
            "best_val_uar": self.best_val_uar_,
            "train_seconds": self.train_seconds_,
            "history": self.history_,
        }
        atomic_write_bytes(folder / "config.json", (json.dumps(config, indent=2) + "\n").encode())
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NeuralClassifier:
        """A fitted classifier from a folder written by :meth:`save`."""
        folder = Path(path)
        config = json.loads((folder / "config.json").read_text())
        if config.get("format") != CONFIG_FORMAT:
            found = config.get("format")
            raise ValueError(f"{folder / 'config.json'}: not a saved NeuralClassifier (format {found!r})")
        est = cls(config["model"], config["labels"], config["model_params"], config["trainer_params"])
        labels = label_set(config["labels"])
        est.trainer_ = Trainer(**config["trainer_params"])
        model = est._build(labels)
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
        est.model_ = model.to(est.trainer_.device).eval()
        est.classes_ = np.array(labels)
        est.history_ = config["history"]
        est.best_epoch_ = config["best_epoch"]
        est.best_val_uar_ = config["best_val_uar"]
        est.train_seconds_ = config["train_seconds"]
        return est
