"""One estimator that fuses per-modality branches, scikit-learn style.

Input ``X`` is ``(N, sum(dims))``: each modality's feature vector side by side (e.g. frozen
Whisper features of the audio and the 35 OpenFace AU means of the face). A modality that is
missing for a clip (no audio track, no face found) is a block of NaN there.

Fitting (:meth:`MultimodalClassifier.fit`):

1. Branches: per modality a class-balanced logistic head (:class:`LogisticHead`), or, for the
   modalities given ``trees``, its mean with an extremely randomised forest
   (:class:`~avemotion.estimators.trees.LogisticForestHead`); C is
   chosen by speaker-grouped inner cross-validation on the training clips, which also gives
   *out-of-fold* branch probabilities for every training clip: the decision-level fusers learn
   from those, never from a head's predictions on its own training data.
2. Embeddings for feature-level fusion: per modality standardised and, above ``embed_dim``
   dimensions, PCA-reduced (unsupervised, fitted on the training clips; saved only with a
   feature-level fuser).
3. The fuser, one of :data:`FUSIONS`:

   ``mean``, ``product``      fixed late-fusion rules (seeds 002, 003)
   ``weighted``               weighted mean, weights fitted on the out-of-fold probabilities (seed 004)
   ``bel``                    decision-level BEL on the concatenated branch probabilities, seed rules (seed 003)
   ``bel_gd``                 the same unit trained by gradient descent
   ``mobel``                  feature-level MoBEL on the concatenated embeddings, seed rules (seeds 000/003)
   ``mobel_gd``               the same mixture trained by gradient descent
   ``fc``                     seed 004's three fully connected layers on the embeddings
   ``gated``                  ours: attention over modality encoders, trained with modality dropout
   ``stacked``                ours: a logistic head on the branches' out-of-fold log-probabilities

Missing modalities at prediction: the rules, ``weighted`` and the networks fuse what is there
(the networks see a masked block); ``bel``, ``mobel`` and ``stacked`` fall back to the product
rule of the branches present for such clips. :meth:`modalities_used` says which were used.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from avemotion.core.atomic import atomic_write_bytes, atomic_write_npz
from avemotion.core.labels import label_set
from avemotion.core.metrics import uar
from avemotion.estimators.linear import LogisticHead, scaler_from_arrays
from avemotion.estimators.neural import (
    NeuralClassifier,
    encode_labels,
    proba_in_label_order,
)
from avemotion.estimators.trees import ExtraTreesHead, LogisticForestHead, load_head
from avemotion.fusion.bel import BEL
from avemotion.fusion.rules import fit_weights, weighted_mean, weighted_product

FUSIONS = ("mean", "product", "weighted", "bel", "bel_gd", "mobel", "mobel_gd", "fc", "gated", "stacked")
_NETWORKS = {"bel_gd": "bel", "mobel_gd": "mobel", "fc": "fc_fusion", "gated": "gated_fusion"}
_FALLBACK = ("bel", "mobel", "stacked")
#: Fusions that read the modalities' embeddings (the others read branch probabilities).
FEATURE_LEVEL = ("mobel", "mobel_gd", "fc", "gated")
_DEFAULT_TRAINER = {"epochs": 200, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-4, "patience": 20, "seed": 0}
FORMAT = "avemotion-multimodal/1"


def _group_folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """Row masks of ``k`` folds over the distinct groups (speakers), shuffled with ``seed``."""
    unique = np.unique(groups)
    if len(unique) < 2:
        raise ValueError("inner cross-validation needs clips of at least two speakers")
    order = np.random.default_rng(seed).permutation(unique)
    return [np.isin(groups, part) for part in np.array_split(order, min(k, len(unique)))]


class MultimodalClassifier:
    """Branch heads per modality plus a fuser (see the module docstring).

    ``modalities``: ``(name, dim)`` pairs in column order; ``fusion``: one of :data:`FUSIONS`;
    ``fusion_params``: the fuser's parameters (BEL rates, network hyper-parameters);
    ``trainer``: :class:`~avemotion.estimators.trainer.Trainer` settings for the networks;
    ``Cs``: the branch heads' candidate C per modality; ``trees``: modality -> number of
    extremely randomised trees averaged into its head (none: logistic only); ``branch_cache``: a dict shared between
    estimators fitted on the same data so that the branches are fitted once (benchmarks).
    """

    def __init__(
        self,
        modalities: Sequence[tuple[str, int]],
        labels: Sequence[str] | str = "ravdess8",
        fusion: str = "product",
        fusion_params: Mapping[str, Any] | None = None,
        trainer: Mapping[str, Any] | None = None,
        Cs: Mapping[str, Sequence[float]] | None = None,
        inner_folds: int = 4,
        embed_dim: int = 256,
        seed: int = 0,
        branch_cache: dict[str, Any] | None = None,
        trees: Mapping[str, int] | None = None,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; known: {', '.join(FUSIONS)}")
        self.modalities = [(str(n), int(d)) for n, d in modalities]
        self.labels = labels
        self.fusion = fusion
        self.fusion_params = dict(fusion_params or {})
        self.trainer = dict(trainer or {})
        self.Cs = {k: tuple(v) for k, v in (Cs or {}).items()}
        self.inner_folds = inner_folds
        self.embed_dim = embed_dim
        self.seed = seed
        self.branch_cache = branch_cache
        self.trees = {k: int(v) for k, v in (trees or {}).items() if int(v) > 0}

    # --- blocks ------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.modalities]

    def blocks(self, X: np.ndarray) -> list[np.ndarray]:
        """The modalities' column blocks of ``X`` (N, d_m) each."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != sum(d for _, d in self.modalities):
            raise ValueError(f"X has shape {X.shape}; expected (N, {sum(d for _, d in self.modalities)})")
        return np.split(X, np.cumsum([d for _, d in self.modalities])[:-1], axis=1)

    def presence(self, X: np.ndarray) -> np.ndarray:
        """(N, M) bool: which modalities each clip has (a block with any NaN counts as missing)."""
        return np.stack([~np.isnan(b).any(axis=1) for b in self.blocks(X)], axis=1)

    def modalities_used(self, X: np.ndarray) -> list[list[str]]:
        """For each clip, the names of the modalities its prediction used."""
        return [[n for n, p in zip(self.names, row) if p] for row in self.presence(X)]

    # --- fitting -----------------------------------------------------------------------

    def _fit_branches(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> dict[str, Any]:
        key = hashlib.sha256(
            b"".join([X.tobytes(), "|".join(y).encode(), "|".join(map(str, groups)).encode(),
                      repr((self.modalities, self.Cs, self.inner_folds, self.seed, self.embed_dim, self.trees)).encode()])
        ).hexdigest()
        if self.branch_cache is not None and key in self.branch_cache:
            return self.branch_cache[key]
        labels = self.classes_
        folds = _group_folds(groups, self.inner_folds, self.seed)
        heads, oof, chosen, embedders = {}, [], {}, {}
        for (name, _), block in zip(self.modalities, self.blocks(X)):
            have = ~np.isnan(block).any(axis=1)
            n_trees = self.trees.get(name, 0)
            forest = np.zeros((len(X), len(labels)))
            for test in folds if n_trees else ():
                trees = ExtraTreesHead(n_trees, seed=self.seed).fit(block[have & ~test], y[have & ~test])
                forest[have & test] = proba_in_label_order(trees, block[have & test], labels)
            best: tuple[float, float, np.ndarray] | None = None
            for C in self.Cs.get(name, LogisticHead().Cs):
                proba = np.full((len(X), len(labels)), np.nan)
                for test in folds:
                    train = have & ~test
                    head = LogisticHead(Cs=(C,)).fit(block[train], y[train])
                    proba[have & test] = proba_in_label_order(head, block[have & test], labels)
                if n_trees:
                    proba = (proba + forest) / 2
                score = uar(encode_labels(y[have], labels), np.nan_to_num(proba[have]).argmax(axis=1))
                if best is None or (score, -C) > (best[0], -best[1]):
                    best = (score, C, proba)
            assert best is not None
            chosen[name] = {"C": best[1], "inner_uar": best[0]}
            oof.append(best[2])
            if n_trees:
                heads[name] = LogisticForestHead(Cs=(best[1],), n_trees=n_trees, seed=self.seed).fit(block[have], y[have])
            else:
                heads[name] = LogisticHead(Cs=(best[1],)).fit(block[have], y[have])
            scaler = StandardScaler().fit(block[have])
            pca = None
            if block.shape[1] > self.embed_dim:
                pca = PCA(self.embed_dim, random_state=self.seed).fit(scaler.transform(block[have]))
            embedders[name] = (scaler, pca)
        result = {"heads": heads, "oof": oof, "chosen": chosen, "embedders": embedders}
        if self.branch_cache is not None:
            self.branch_cache[key] = result
        return result

    def fit(
        self,
        X: np.ndarray,
        y: Sequence[str] | np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: Sequence[str] | np.ndarray | None = None,
        groups: Sequence[str] | np.ndarray | None = None,
        groups_val: Sequence[str] | np.ndarray | None = None,
    ) -> MultimodalClassifier:
        """Fit on (N, sum(dims)) features and label strings. ``groups``: each clip's speaker,
        required (the branches' inner cross-validation is grouped by speaker). Validation clips
        (speaker-disjoint, with ``groups_val``) are used for the networks' early stopping and
        the BEL epoch choice, and are part of the branches' training data."""
        if groups is None:
            raise ValueError("MultimodalClassifier.fit needs groups (each clip's speaker)")
        self.classes_ = np.array(label_set(self.labels))
        X, y, groups = np.asarray(X, dtype=np.float64), np.asarray(y).astype(str), np.asarray(groups).astype(str)
        is_val = np.zeros(len(X), dtype=bool)
        if X_val is not None and y_val is not None and len(y_val):
            if groups_val is None:
                raise ValueError("validation clips need groups_val (their speakers)")
            is_val = np.r_[is_val, np.ones(len(y_val), dtype=bool)]
            X = np.concatenate([X, np.asarray(X_val, dtype=np.float64)])
            y = np.concatenate([y, np.asarray(y_val).astype(str)])
            groups = np.concatenate([groups, np.asarray(groups_val).astype(str)])
        branches = self._fit_branches(X, y, groups)
        self.heads_, self.embedders_ = branches["heads"], branches["embedders"]
        self.branch_info_ = branches["chosen"]
        oof = branches["oof"]
        both = ~np.isnan(np.stack(oof)).any(axis=2).any(axis=0)
        train, val = both & ~is_val, both & is_val
        if not val.any():
            val = train
        params = dict(self.fusion_params)
        self.weights_: tuple[float, ...] | None = None
        self.fuser_: Any = None
        if self.fusion == "weighted":
            self.weights_ = fit_weights([p[both] for p in oof], encode_labels(y[both], self.classes_), **params)
        elif self.fusion == "stacked":
            Z = self._log_proba(oof)
            self.fuser_ = LogisticHead(**params).fit(Z[train], y[train], Z[val], y[val])
        elif self.fusion in ("bel", "mobel"):
            Z = np.concatenate(oof, axis=1) if self.fusion == "bel" else self._embed(X)
            params.setdefault("n_experts", 1 if self.fusion == "bel" else 2)
            self.fuser_ = BEL(seed=self.seed, **params).fit(Z[train], y[train], Z[val], y[val])
        elif self.fusion in _NETWORKS:
            Z = np.concatenate(oof, axis=1) if self.fusion == "bel_gd" else self._embed(X)
            dims = [len(self.classes_)] * len(oof) if self.fusion == "bel_gd" else self._embed_dims()
            trainer = {**_DEFAULT_TRAINER, "seed": self.seed, **self.trainer}
            self.fuser_ = NeuralClassifier(_NETWORKS[self.fusion], list(self.classes_), {"dims": dims, **params}, trainer)
            self.fuser_.fit(Z[~is_val].astype(np.float32), y[~is_val], Z[is_val].astype(np.float32) if is_val.any() else None,
                            y[is_val] if is_val.any() else None)
        return self

    # --- transforms --------------------------------------------------------------------

    def _log_proba(self, probas: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.log(np.clip(p, 1e-6, 1.0)) for p in probas], axis=1)

    def _embed_dims(self) -> list[int]:
        return [pca.n_components_ if pca is not None else len(s.mean_) for s, pca in self.embedders_.values()]

    def _embed(self, X: np.ndarray) -> np.ndarray:
        """(N, sum of embedding dims): standardised (PCA-reduced) blocks, NaN where missing."""
        parts = []
        for (name, _), block in zip(self.modalities, self.blocks(X)):
            scaler, pca = self.embedders_[name]
            have = ~np.isnan(block).any(axis=1)
            width = pca.n_components_ if pca is not None else block.shape[1]
            out = np.full((len(block), width), np.nan)
            if have.any():
                z = scaler.transform(block[have])
                out[have] = pca.transform(z) if pca is not None else z
            parts.append(out)
        return np.concatenate(parts, axis=1)

    def branch_proba(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Each modality's own (N, C) probabilities (NaN rows where the modality is missing)."""
        out = {}
        for (name, _), block in zip(self.modalities, self.blocks(X)):
            have = ~np.isnan(block).any(axis=1)
            proba = np.full((len(block), len(self.classes_)), np.nan)
            if have.any():
                proba[have] = proba_in_label_order(self.heads_[name], block[have], self.classes_)
            out[name] = proba
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, C) fused probabilities, columns in ``classes_`` order. Every clip needs at least
        one modality."""
        probas = list(self.branch_proba(X).values())
        if self.fusion in ("mean", "product", "weighted"):
            rule = weighted_product if self.fusion == "product" else weighted_mean
            return rule(probas, self.weights_)
        present = self.presence(X)
        full = present.all(axis=1)
        if self.fusion in _FALLBACK:
            out = weighted_product(probas)
            if full.any():
                if self.fusion == "stacked":
                    Z = self._log_proba([p[full] for p in probas])
                elif self.fusion == "bel":
                    Z = np.concatenate([p[full] for p in probas], axis=1)
                else:
                    Z = self._embed(X[full])
                out[full] = proba_in_label_order(self.fuser_, Z, self.classes_)
            return out
        Z = np.concatenate(probas, axis=1) if self.fusion == "bel_gd" else self._embed(X)
        return proba_in_label_order(self.fuser_, Z.astype(np.float32), self.classes_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) the most probable label of each clip."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    # --- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model into folder ``path`` (plain arrays and JSON, no pickle)."""
        folder = Path(path)
        config = {
            "format": FORMAT,
            "modalities": self.modalities,
            "labels": list(self.classes_),
            "fusion": self.fusion,
            "fusion_params": self.fusion_params,
            "trainer": self.trainer,
            "Cs": {k: list(v) for k, v in self.Cs.items()},
            "inner_folds": self.inner_folds,
            "embed_dim": self.embed_dim,
            "seed": self.seed,
            "trees": self.trees,
            "weights": list(self.weights_) if self.weights_ is not None else None,
            "branches": self.branch_info_,
        }
        for name, head in self.heads_.items():
            head.save(folder / "branches" / name)
        for name, (scaler, pca) in self.embedders_.items() if self.fusion in FEATURE_LEVEL else ():
            arrays = {"mean": scaler.mean_, "scale": scaler.scale_}
            if pca is not None:
                arrays.update(components=pca.components_, pca_mean=pca.mean_)
            atomic_write_npz(folder / "branches" / name / "embed.npz", arrays)
        if isinstance(self.fuser_, BEL):
            atomic_write_npz(folder / "fuser" / "bel.npz", self.fuser_.arrays())
        elif self.fuser_ is not None:
            self.fuser_.save(folder / "fuser")
        atomic_write_bytes(folder / "multimodal.json", (json.dumps(config, indent=2) + "\n").encode())
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MultimodalClassifier:
        """A fitted model from a folder written by :meth:`save`."""
        folder = Path(path)
        config = json.loads((folder / "multimodal.json").read_text())
        if config.get("format") != FORMAT:
            raise ValueError(f"{folder / 'multimodal.json'}: not a saved MultimodalClassifier")
        model = cls(
            config["modalities"], config["labels"], config["fusion"], config["fusion_params"], config["trainer"],
            config["Cs"], config["inner_folds"], config["embed_dim"], config["seed"], trees=config.get("trees"),
        )
        model.classes_ = np.array(config["labels"])
        model.weights_ = tuple(config["weights"]) if config["weights"] is not None else None
        model.branch_info_ = config["branches"]
        model.heads_, model.embedders_ = {}, {}
        for name in model.names:
            model.heads_[name] = load_head(folder / "branches" / name)
            if not (folder / "branches" / name / "embed.npz").is_file():
                continue
            with np.load(folder / "branches" / name / "embed.npz", allow_pickle=False) as z:
                scaler = scaler_from_arrays(z["mean"], z["scale"])
                pca = None
                if "components" in z:
                    pca = PCA(len(z["components"]))
                    pca.components_, pca.mean_ = z["components"], z["pca_mean"]
                    pca.n_components_, pca.n_features_in_ = len(z["components"]), z["components"].shape[1]
                    pca.whiten = False
                model.embedders_[name] = (scaler, pca)
        model.fuser_ = None
        if (folder / "fuser" / "bel.npz").is_file():
            with np.load(folder / "fuser" / "bel.npz", allow_pickle=False) as z:
                model.fuser_ = BEL.from_arrays(dict(z))
        elif (folder / "fuser" / "head.npz").is_file():
            model.fuser_ = LogisticHead.load(folder / "fuser")
        elif (folder / "fuser" / "config.json").is_file():
            model.fuser_ = NeuralClassifier.load(folder / "fuser")
        return model

