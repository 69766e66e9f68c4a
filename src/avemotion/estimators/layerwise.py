"""A head on every layer of frozen speech encoders: picks the layers, learns from several corpora,
calibrates its probabilities.

Input: (N, D) rows that concatenate, per encoder ("block"), the mean and standard deviation of
each of its hidden states (:func:`avemotion.audio.whisper.whisper_layers`), ``blocks`` giving
each block's ``(n_states, values per state)`` (base: 7 states of 1,024 values). :class:`LayerwiseHead`:

1. scores every candidate layer set of ``layer_sets`` (one list of hidden-state indices per
   block, negative from the end) and every ``C`` by a speaker-grouped ``inner_folds``-fold
   cross-validation over the training speakers only or, with ``selection="corpora"``, by
   holding out one training corpus at a time (the score: mean over the held-out corpora of
   each corpus's UAR, the argmax restricted to that corpus's labels);
2. fits the best on all training clips with :class:`~.partial.PartialLabelLogistic`: a clip
   teaches mainly the labels its corpus has (``absent_weight`` says how weakly it discourages
   the others), corpora and classes balanced;
3. fits a temperature on the inner folds' held-out logits of the chosen set (``calibrate``), so
   a confidence of 0.8 means about 80 % right on speakers (or, with ``selection="corpora"``,
   corpora) the head did not train on; with ``offset_l2`` set, class offsets too (vector
   scaling's bias term: the classes a held-out corpus is pushed towards are pulled back);
4. with ``gate`` and several training corpora, calibrates each clip by how familiar it is: a
   clip like the inner folds' held-out speakers of the training corpora gets the temperature
   fitted on those speakers, a clip unlike every training corpus gets the held-out corpora's
   temperature (and offsets), and a clip in between a mixture (:meth:`LayerwiseHead.novelty`);
5. with ``experts`` as well, fits one head per training corpus on that corpus alone, kept where
   it beats the shared head on that corpus's held-out speakers; a familiar clip's probabilities
   among its nearest corpus's labels come from that corpus's expert, so that training on more
   corpora does not cost a heard corpus's new speakers accuracy;
6. with ``mlp`` as well, fits a small network (:class:`~.partial.PartialLabelMLP`) on the same
   standardised features and loss, calibrated as in steps 3-4 on its own held-out logits, and
   blends: the head's log-probabilities are ``1 - mlp_weight`` times those of steps 2-5 plus
   ``mlp_weight`` times the network's.

:meth:`LayerwiseHead.adapt` gives a copy adapted without labels to a batch of a new corpus or
recording set: standardised with the batch's own statistics, or with class biases that make every
emotion about equally common in the batch, or both.

A clip's corpus is the part of its speaker id before ``:`` (``tess:OAF`` -> ``tess``), as every
corpus reader in avemotion writes it; ``fit`` takes speakers as ``groups``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupKFold

from avemotion.core.adaptation import ADAPT_METHODS, DEFAULT_ADAPT
from avemotion.core.atomic import atomic_write_npz
from avemotion.estimators.partial import (
    PartialLabelLogistic,
    PartialLabelMLP,
    balanced_weights,
    balancing_offsets,
    fit_temperature,
    fit_temperature_offsets,
    row_space_basis,
)

__all__ = ["NOVEL_ABOVE", "SELECTIONS", "STATISTICS", "LayerwiseHead", "corpus_of"]

#: How the inner cross-validation holds clips out: by speaker groups, one training corpus at a
#: time, or both (each scored apart, the two scores averaged).
SELECTIONS = ("speakers", "corpora", "mixed")


#: Which of each hidden state's statistics the head reads: its mean and standard deviation over
#: the clip's frames, or its mean alone.
STATISTICS = ("mean_std", "mean")

#: A clip whose :meth:`LayerwiseHead.novelty` exceeds this counts as unlike the training corpora
#: (its probabilities calibrated mostly as for a new corpus).
NOVEL_ABOVE = 0.5


def corpus_of(speakers: np.ndarray) -> np.ndarray:
    """(N,) corpus names: the part of each speaker id before ``:`` (the whole id without one)."""
    return np.asarray([str(s).split(":", 1)[0] for s in speakers])


def _moments(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(D,) mean and standard deviation (never 0) of the columns of X."""
    return X.mean(axis=0), X.std(axis=0) + 1e-8


def _distances(X: np.ndarray, means: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """(N, G) mean squared standardised distance of each row of X (N, D) to each of G groups
    given by their (G, D) means and standard deviations."""
    return np.stack([np.mean(((X - m) / s) ** 2, axis=1) for m, s in zip(means, scales)], axis=1)


def _uar(y: np.ndarray, logits: np.ndarray, allowed: np.ndarray) -> float:
    """UAR of the (N, K) logits' argmax over each row's allowed columns against (N,) column indices y."""
    return float(balanced_accuracy_score(y, np.where(allowed, logits, -np.inf).argmax(axis=1)))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of (N, K) logits."""
    return z - logsumexp(z, axis=1, keepdims=True)


class LayerwiseHead(ClassifierMixin, BaseEstimator):
    """Layer-set selection + partial-label logistic regression + temperature (module docstring).

    ``normalise``: ``"none"`` or ``"utterance"`` (each hidden state's mean and std vectors of a
    clip scaled to unit RMS before standardisation, which removes the clip's overall level).
    ``statistics``: ``"mean_std"`` (each chosen hidden state's mean and standard deviation over
    the clip) or ``"mean"`` (its mean alone; see :data:`STATISTICS`).
    ``clip``: a clip being scored (held out in the inner cross-validations, or predicted) has
    its standardised features clipped to +-``clip`` training standard deviations, so that a
    few values far outside the training corpora cannot dominate its logits (None: not clipped;
    the training clips are never clipped).
    ``absent_weight``: how much a clip discourages the labels its corpus lacks (0: not at all,
    the pure partial-label loss; 1: ordinary cross-entropy; see :class:`PartialLabelLogistic`).
    ``selection``: ``"speakers"`` (speaker-grouped ``inner_folds``-fold CV) or ``"corpora"``:
    hold out each training corpus of at least ``min_corpus_clips`` clips in turn, train on the
    others and score it on the labels both sides have, which chooses the layers and C that carry
    over to a corpus the head has not heard (falls back to speakers with fewer than two such
    corpora, e.g. RAVDESS alone); ``"mixed"``: both cross-validations, the layers and C chosen
    by the mean of their two scores and the temperature fitted on both sets of held-out clips
    (a choice and a confidence for new speakers of the training corpora as much as for new
    corpora). ``offset_l2``: ``None`` fits the temperature alone; a number fits class offsets
    with it (:func:`~.partial.fit_temperature_offsets`, that L2 penalty), added to the intercepts
    (``offsets_``, in logit units), so they change predictions as well as probabilities. Held-out
    corpora's offsets help a new corpus but hurt new speakers of the training corpora (RAVDESS-SI5
    trained on four corpora: 61.1 against 75.5, benchmarks/results/cross_corpus.json).
    ``gate`` (with several training corpora held out in turn): calibrate per clip by its
    :meth:`novelty` g = logistic((log d - q) / w), d the clip's distance to the nearest training
    corpus, q the ``gate_quantile`` quantile of the log distances of the inner folds' held-out
    speakers to theirs and w half their standard deviation (with ``gate_per_corpus``: of the
    held-out speakers of the clip's nearest training corpus only, so that clips near a corpus
    whose speakers lie close together are not judged by the wider spread of another's); the
    calibrated logits are ``z * ((1 - g) / T_speakers + g / T_corpora) + g * b``, T_speakers
    fitted on held-out speakers, T_corpora and the ``offset_l2`` offsets b on held-out corpora,
    so that the offsets for an unheard corpus do not hurt new speakers of a heard one.
    ``predict`` uses the gated logits.
    With one corpus a gated head fits the temperature alone (no offsets: no clip is novel).
    ``experts`` (with ``gate``): one head per training corpus of at least ``min_corpus_clips``
    clips, fitted on that corpus alone (the chosen layer set, its own C by a speaker-grouped
    inner cross-validation within the corpus, its own temperature on those held-out speakers),
    used (``expert_used_``) only where its held-out speakers' UAR beats the shared head's on the
    same corpus. A clip's familiar probabilities then keep the shared head's mass on the labels of its
    nearest corpus but split it among them as that corpus's expert does; the gate mixes them
    with the novel calibration as before, so clips of an unheard corpus are unchanged.
    ``mlp``: None (a linear head) or the parameters of a :class:`~.partial.PartialLabelMLP`
    (``hidden``, ``dropout``, ``epochs``, ``members``...; its ``absent_weight`` is the head's)
    fitted on all training clips' standardised chosen features after everything above; the
    head's log-probabilities become ``(1 - mlp_weight) * log p_linear + mlp_weight * log
    p_network``, the network's at its own temperatures, fitted on the same inner folds' held-out
    clips as the linear part's (held-out corpora for novel clips, held-out speakers for familiar
    ones, mixed per clip by novelty; one temperature for an ungated head).
    """

    def __init__(
        self,
        blocks: Sequence[Sequence[int]] = ((7, 1024), (5, 768)),
        layer_sets: Sequence[Sequence[Sequence[int]]] = (((-1,), (-1,)),),
        Cs: Sequence[float] = (0.001, 0.003, 0.01),
        inner_folds: int = 4,
        corpus_balance: str = "sqrt",
        normalise: str = "none",
        calibrate: bool = True,
        max_iter: int = 200,
        absent_weight: float = 0.0,
        selection: str = "speakers",
        min_corpus_clips: int = 100,
        offset_l2: float | None = None,
        gate: bool = False,
        gate_quantile: float = 0.95,
        gate_per_corpus: bool = False,
        experts: bool = False,
        statistics: str = "mean_std",
        clip: float | None = None,
        mlp: Mapping[str, Any] | None = None,
        mlp_weight: float = 0.5,
    ) -> None:
        self.blocks = blocks
        self.layer_sets = layer_sets
        self.Cs = Cs
        self.inner_folds = inner_folds
        self.corpus_balance = corpus_balance
        self.normalise = normalise
        self.calibrate = calibrate
        self.max_iter = max_iter
        self.absent_weight = absent_weight
        self.selection = selection
        self.min_corpus_clips = min_corpus_clips
        self.offset_l2 = offset_l2
        self.gate = gate
        self.gate_quantile = gate_quantile
        self.gate_per_corpus = gate_per_corpus
        self.experts = experts
        self.statistics = statistics
        self.clip = clip
        self.mlp = mlp
        self.mlp_weight = mlp_weight

    # -- features -------------------------------------------------------------------------
    def _columns(self, layer_set: Sequence[Sequence[int]]) -> np.ndarray:
        columns, offset = [], 0
        if len(layer_set) != len(self.blocks):
            raise ValueError(f"a layer set needs one list per block ({len(self.blocks)}), got {layer_set!r}")
        if self.statistics not in STATISTICS:
            raise ValueError(f"statistics must be one of {STATISTICS}, got {self.statistics!r}")
        for (n_states, width), layers in zip(self.blocks, layer_set):
            used = width if self.statistics == "mean_std" else width // 2
            for layer in layers:
                index = layer % n_states
                columns.append(np.arange(offset + index * width, offset + index * width + used))
            offset += n_states * width
        return np.concatenate(columns)

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        expected = sum(n * w for n, w in self.blocks)
        if X.shape[1] != expected:
            raise ValueError(f"features have {X.shape[1]} values per clip; blocks {list(self.blocks)} need {expected}")
        if self.normalise == "utterance":
            width = [w // 2 for n, w in self.blocks for _ in range(2 * n)]
            pieces = np.split(X, np.cumsum(width)[:-1], axis=1)
            X = np.concatenate([p / np.sqrt(np.mean(p**2, axis=1, keepdims=True) + 1e-12) for p in pieces], axis=1)
        elif self.normalise != "none":
            raise ValueError(f"normalise must be 'none' or 'utterance', got {self.normalise!r}")
        return X

    # -- fitting --------------------------------------------------------------------------
    def _c_path(self, X: np.ndarray, y: np.ndarray, mask: np.ndarray, corpora: np.ndarray,
                X_test: np.ndarray, Cs: Sequence[float] | None = None) -> dict[float, np.ndarray]:
        """Held-out logits of ``X_test`` for every C of ``Cs`` (default ``self.Cs``), fitted on (X, y) from the smallest C up, each
        fit starting from the previous one; in the row space of X when it has fewer rows than
        columns (the same optimum, see :class:`PartialLabelLogistic`)."""
        X, X_test = self._fold_standardised(X, X_test)
        if X.shape[0] < X.shape[1]:
            basis = row_space_basis(X)
            X, X_test = X @ basis, X_test @ basis
        weights = balanced_weights(y, corpora, self.corpus_balance)
        out, init = {}, None
        for C in sorted(self.Cs if Cs is None else Cs):
            model = PartialLabelLogistic(C=C, max_iter=self.max_iter, absent_weight=self.absent_weight).fit(
                X, y, mask, weights, init)
            init = (model.coef_, model.intercept_)
            out[C] = model.decision_function(X_test)
        return out

    def _fold_standardised(self, X: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A fold's training rows X and held-out rows X_test standardised with the training rows'
        moments (the held-out rows clipped, with ``clip``)."""
        mean, scale = _moments(X)
        return (X - mean) / scale, self._clipped((X_test - mean) / scale)

    def _out_of_fold(self, X: np.ndarray, y: np.ndarray, mask: np.ndarray, corpora: np.ndarray,
                     folds: Sequence[tuple[np.ndarray, np.ndarray]], Cs: Sequence[float] | None = None) -> dict[float, np.ndarray]:
        """(N, K) held-out logits of every row of X for every C of ``Cs`` (default ``self.Cs``):
        each fold's test rows from :meth:`_c_path` fitted on its training rows."""
        out = {C: np.zeros((len(X), len(self.classes_))) for C in (self.Cs if Cs is None else Cs)}
        for train, test in folds:
            for C, logits in self._c_path(X[train], y[train], mask[train], corpora[train], X[test], Cs).items():
                out[C][test] = logits
        return out

    def _large_corpora(self, corpora: np.ndarray) -> list[str]:
        """The names, sorted, of the corpora with at least ``min_corpus_clips`` of the (N,) rows:
        those held out in turn, given a gate group and an expert."""
        names, counts = np.unique(corpora, return_counts=True)
        return [str(n) for n, c in zip(names, counts) if c >= self.min_corpus_clips]

    def _held_out_corpora(self, corpora: np.ndarray) -> list[str]:
        """The training corpora that ``selection="corpora"`` holds out in turn: those of
        :meth:`_large_corpora`, when there are two or more of them (else none)."""
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.selection == "speakers":
            return []
        held = self._large_corpora(corpora)
        return held if len(held) >= 2 else []

    def _inner_folds(self, index: np.ndarray, mask: np.ndarray, speakers: np.ndarray, corpora: np.ndarray,
                     held: Sequence[str]) -> list[tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]]:
        """The inner cross-validations, each as its ``(train, test)`` row indices and the (N, K)
        labels each held-out clip may be scored on: its corpus's labels that its fold's training
        clips have (a clip whose own label is not among them is not scored). One fold per corpus
        of ``held``, speaker groups when it is empty, and both with ``selection="mixed"``."""
        families = []
        if held:
            families.append([(np.flatnonzero(corpora != c), np.flatnonzero(corpora == c)) for c in held])
        if not held or self.selection == "mixed":
            n_folds = min(self.inner_folds, len(np.unique(speakers)))
            families.append(list(GroupKFold(n_splits=n_folds).split(index, index, speakers)))
        out = []
        for folds in families:
            allowed = np.zeros_like(mask)
            for train, test in folds:
                seen = np.zeros(mask.shape[1], dtype=bool)
                seen[np.unique(index[train])] = True
                allowed[test] = mask[test] & seen
            out.append((folds, allowed))
        return out

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        groups: np.ndarray | None = None,
        groups_val: np.ndarray | None = None,
    ) -> LayerwiseHead:
        """Fit on (N, D) rows, N labels and N speaker ids (``groups``); validation clips, when
        given, join the training clips (the head selects by its own inner cross-validation)."""
        X, y = self._prepare(X), np.asarray(y).astype(str)
        speakers = np.asarray(groups).astype(str) if groups is not None else np.arange(len(y)).astype(str)
        if X_val is not None and y_val is not None and len(y_val):
            X = np.concatenate([X, self._prepare(X_val)])
            y = np.concatenate([y, np.asarray(y_val).astype(str)])
            extra = np.asarray(groups_val).astype(str) if groups_val is not None else np.char.add("val", np.arange(len(y_val)).astype(str))
            speakers = np.concatenate([speakers, extra])
        corpora = corpus_of(speakers)
        self.classes_ = np.unique(y)
        index = np.searchsorted(self.classes_, y)
        self.corpus_labels_ = {c: sorted(set(y[corpora == c])) for c in np.unique(corpora)}
        mask = np.stack([np.isin(self.classes_, self.corpus_labels_[c]) for c in corpora])
        held = self._held_out_corpora(corpora)
        families = self._inner_folds(index, mask, speakers, corpora, held)
        self.selection_ = ("mixed" if len(families) == 2 else "corpora") if held else "speakers"
        rows = np.arange(len(y))
        scored = [allowed[rows, index] for _, allowed in families]
        scored_by_corpus = [[s & (corpora == c) for c in np.unique(corpora[s])] for s in scored]
        self.scores_: dict[str, float] = {}
        best: tuple[float, int, float] | None = None
        best_logits: list[np.ndarray] | None = None
        for s, layer_set in enumerate(self.layer_sets):
            columns = self._columns(layer_set)
            by_family = [self._out_of_fold(X[:, columns], index, mask, corpora, folds) for folds, _ in families]
            for C in self.Cs:
                per_family = [logits[C] for logits in by_family]
                score = float(np.mean([
                    np.mean([_uar(index[r], logits[r], allowed[r]) for r in by_corpus])
                    for logits, (_, allowed), by_corpus in zip(per_family, families, scored_by_corpus)]))
                self.scores_[f"{s}:{C:g}"] = score
                key = (score, -s, -C)
                if best is None or key > (best[0], -best[1], -best[2]):
                    best, best_logits = (score, s, C), per_family
        assert best is not None and best_logits is not None
        self.inner_score_, self.layer_set_, self.C_ = best[0], [list(b) for b in self.layer_sets[best[1]]], best[2]
        self.temperature_, self.offsets_ = 1.0, np.zeros(len(self.classes_))
        self.gate_threshold_: np.ndarray | None = None
        if self.calibrate:
            held_out = [(logits[kept], index[kept], allowed[kept])
                        for logits, (_, allowed), kept in zip(best_logits, families, scored)]
            if self.gate and held:
                self._fit_gate(X[:, self._columns(self.layer_set_)], index, mask, speakers, corpora, held_out[0],
                               (best_logits[1], families[1][1]) if len(families) == 2 else None)
            else:
                logits, labels, allowed = (np.concatenate([h[i] for h in held_out]) for i in range(3))
                if self.offset_l2 is None or self.gate:
                    self.temperature_ = fit_temperature(logits, labels, allowed)
                else:
                    self.temperature_, offsets = fit_temperature_offsets(logits, labels, allowed, l2=self.offset_l2)
                    self.offsets_ = self.temperature_ * offsets
        selected = X[:, self._columns(self.layer_set_)]
        self.mean_, self.scale_ = _moments(selected)
        Z, weights = (selected - self.mean_) / self.scale_, balanced_weights(index, corpora, self.corpus_balance)
        model = PartialLabelLogistic(C=self.C_, max_iter=self.max_iter, absent_weight=self.absent_weight).fit(
            Z, index, mask, weights)
        self.coef_, self.intercept_ = model.coef_, model.intercept_ + self.offsets_
        self.mlp_: PartialLabelMLP | None = None
        self.blend_offsets_ = np.zeros(len(self.classes_))
        if self.mlp is not None:
            if not 0.0 <= self.mlp_weight <= 1.0:
                raise ValueError(f"mlp_weight must lie in [0, 1], got {self.mlp_weight!r}")
            self.mlp_ = self._network().fit(Z, index, mask, weights)
            self.mlp_temperature_ = self.mlp_temperature_familiar_ = 1.0
            if self.calibrate:
                self._fit_network_temperatures(selected, index, mask, speakers, corpora, families)
        return self

    def _network(self) -> PartialLabelMLP:
        """An unfitted network of the ``mlp`` parameters (the head's ``absent_weight`` unless they name one)."""
        return PartialLabelMLP(**{"absent_weight": self.absent_weight, **dict(self.mlp or {})})

    def _network_out_of_fold(self, X: np.ndarray, index: np.ndarray, mask: np.ndarray, corpora: np.ndarray,
                             folds: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(N, K) held-out logits of the network on the chosen columns X (N, D'): each fold's
        test rows scored by a network fitted on its training rows (standardised with theirs)."""
        out = np.zeros((len(X), len(self.classes_)))
        for train, test in folds:
            Z, Z_test = self._fold_standardised(X[train], X[test])
            net = self._network().fit(Z, index[train], mask[train], balanced_weights(index[train], corpora[train], self.corpus_balance))
            out[test] = net.decision_function(Z_test)
        return out

    def _fit_network_temperatures(self, X: np.ndarray, index: np.ndarray, mask: np.ndarray, speakers: np.ndarray,
                                  corpora: np.ndarray,
                                  families: Sequence[tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]]) -> None:
        """The network's temperatures, on held-out logits of the chosen columns X (N, D') from
        the same inner folds as the linear part's: a gated head one on the held-out corpora (for
        novel clips) and one on held-out speakers (for familiar clips), mixed per clip by its
        novelty as the linear part's are; otherwise one on all the inner folds' held-out clips."""
        rows = np.arange(len(X))

        def temperature(groups: Sequence[tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]]) -> float:
            parts = []
            for folds, allowed in groups:
                logits, kept = self._network_out_of_fold(X, index, mask, corpora, folds), allowed[rows, index]
                parts.append((logits[kept], index[kept], allowed[kept]))
            logits, labels, allowed = (np.concatenate([part[i] for part in parts]) for i in range(3))
            return fit_temperature(logits, labels, allowed)

        if self.gated:
            self.mlp_temperature_ = temperature(families[:1])
            self.mlp_temperature_familiar_ = temperature(self._inner_folds(index, mask, speakers, corpora, held=[]))
        else:
            self.mlp_temperature_ = self.mlp_temperature_familiar_ = temperature(families)

    def _fit_gate(self, X: np.ndarray, index: np.ndarray, mask: np.ndarray, speakers: np.ndarray, corpora: np.ndarray,
                  corpora_held_out: tuple[np.ndarray, np.ndarray, np.ndarray],
                  speakers_held_out: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Fit the per-clip calibration of ``gate`` on the chosen columns X (N, D'): the held-out
        corpora's temperature and offsets (``corpora_held_out``: logits, labels, allowed), the
        held-out speakers' temperature (from ``speakers_held_out``: (N, K) held-out logits of
        every clip and the (N, K) labels each is scored on, computed here unless
        ``selection="mixed"`` gave them), the novelty threshold from the held-out speakers'
        distances to their training corpora and, with ``experts``, the experts."""
        [(folds, allowed)] = self._inner_folds(index, mask, speakers, corpora, held=[])
        distances = np.zeros(len(X))
        for train, test in folds:
            distances[test] = _distances(X[test], *self._corpus_moments(X[train], corpora[train])).min(axis=1)
        if speakers_held_out is None:
            logits = self._out_of_fold(X, index, mask, corpora, folds, [self.C_])[self.C_]
        else:
            logits, allowed = speakers_held_out
        kept = allowed[np.arange(len(X)), index]
        self.temperature_familiar_ = fit_temperature(logits[kept], index[kept], allowed[kept])
        if self.offset_l2 is None:
            self.temperature_, self.offsets_novel_ = fit_temperature(*corpora_held_out), np.zeros(len(self.classes_))
        else:
            self.temperature_, self.offsets_novel_ = fit_temperature_offsets(*corpora_held_out, l2=self.offset_l2)
        self.gate_means_, self.gate_scales_ = self._corpus_moments(X, corpora)
        self.gate_threshold_, self.gate_width_ = self._gate_thresholds(np.log(distances), corpora)
        self.expert_corpora_: list[str] | None = None
        if self.experts:
            scored = {c: kept & (corpora == c) for c in np.unique(corpora[kept])}
            self._fit_experts(X, index, mask, speakers, corpora,
                              {c: _uar(index[r], logits[r], allowed[r]) for c, r in scored.items()})

    def _fit_experts(self, X: np.ndarray, index: np.ndarray, mask: np.ndarray, speakers: np.ndarray,
                     corpora: np.ndarray, shared_scores: dict[str, float]) -> None:
        """One head per corpus of :meth:`_large_corpora` (the gate's groups, same order), on the
        chosen columns X (N, D') of that corpus's clips alone, standardised with the corpus's
        moments; its C chosen among ``Cs`` and its temperature fitted by a speaker-grouped inner
        cross-validation within the corpus. An expert is used (``expert_used_``) only where its held-out speakers'
        UAR beats the shared head's on the same corpus (``shared_scores``, from the shared head's
        speaker-grouped inner folds); an expert not used is not fitted (zero coefficients), and a
        one-speaker corpus gets none."""
        names = self._large_corpora(corpora)
        n_classes = len(self.classes_)
        self.expert_coef_ = np.zeros((len(names), X.shape[1], n_classes))
        self.expert_intercept_ = np.zeros((len(names), n_classes))
        self.expert_labels_ = np.zeros((len(names), n_classes), dtype=bool)
        self.expert_temperature_, self.expert_C_ = np.ones(len(names)), np.zeros(len(names))
        self.expert_score_, self.expert_used_ = np.zeros(len(names)), np.zeros(len(names), dtype=bool)
        for g, name in enumerate(names):
            rows = np.flatnonzero(corpora == name)
            Xc, yc, mc, own = X[rows], index[rows], mask[rows], corpora[rows]
            self.expert_labels_[g] = mc[0]
            if len(np.unique(speakers[rows])) < 2:
                continue
            [(folds, allowed)] = self._inner_folds(yc, mc, speakers[rows], own, held=[])
            logits = self._out_of_fold(Xc, yc, mc, own, folds)
            kept = allowed[np.arange(len(rows)), yc]
            scores = {c: _uar(yc[kept], z[kept], allowed[kept]) for c, z in logits.items()}
            C = max(sorted(self.Cs), key=scores.__getitem__)
            self.expert_score_[g], self.expert_C_[g] = scores[C], C
            self.expert_used_[g] = scores[C] > shared_scores.get(name, 1.0)
            if not self.expert_used_[g]:
                continue
            temperature = fit_temperature(logits[C][kept], yc[kept], allowed[kept])
            model = PartialLabelLogistic(C=C, max_iter=self.max_iter, absent_weight=self.absent_weight).fit(
                (Xc - self.gate_means_[g]) / self.gate_scales_[g], yc, mc, balanced_weights(yc, own, self.corpus_balance))
            self.expert_coef_[g], self.expert_intercept_[g] = model.coef_, model.intercept_
            self.expert_temperature_[g] = temperature
        self.expert_corpora_ = names

    def _corpus_groups(self, corpora: np.ndarray) -> list[np.ndarray]:
        """(N,) row masks of the gate's groups: each corpus of :meth:`_large_corpora` (all rows
        as one group when there is none)."""
        return [corpora == n for n in self._large_corpora(corpora)] or [np.ones(len(corpora), bool)]

    def _corpus_moments(self, X: np.ndarray, corpora: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(G, D) mean and standard deviation of X's rows in each group of :meth:`_corpus_groups`."""
        moments = [_moments(X[g]) for g in self._corpus_groups(corpora)]
        return np.stack([m for m, _ in moments]), np.stack([s for _, s in moments])

    def _gate_thresholds(self, log_distance: np.ndarray, corpora: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(G,) novelty thresholds and (G,) widths, one per group of :meth:`_corpus_groups`, from
        the (N,) log distances of the held-out speakers' clips to their nearest training corpus:
        the ``gate_quantile`` quantile and half the standard deviation of the clips of that group
        with ``gate_per_corpus``, of all clips (the same for every group) without."""
        groups = self._corpus_groups(corpora)
        if not self.gate_per_corpus:
            groups = [np.ones(len(corpora), bool)] * len(groups)
        threshold = np.array([np.quantile(log_distance[g], self.gate_quantile) for g in groups])
        width = np.array([max(float(log_distance[g].std()) / 2, 1e-3) for g in groups])
        return threshold, width

    def novelty(self, X: np.ndarray) -> np.ndarray:
        """(N,) how unlike the training corpora each clip is, from 0 (as near to one of them as
        its own new speakers are) to 1 (farther from every one than nearly all of those speakers'
        clips): a logistic function of the log of the mean squared standardised distance of the
        clip's chosen features to the nearest training corpus. Needs a head fitted with ``gate``."""
        if not self.gated:
            raise ValueError("novelty needs a head fitted with gate=True on two or more corpora")
        return self._novelty_of(self._selected(X))

    @property
    def gated(self) -> bool:
        """Whether the head calibrates each clip by its novelty (fitted with ``gate`` on two or
        more corpora, and not adapted)."""
        return getattr(self, "gate_threshold_", None) is not None

    @property
    def has_experts(self) -> bool:
        """Whether a gated head holds one expert per training corpus (fitted with ``experts``)."""
        return self.gated and getattr(self, "expert_corpora_", None) is not None

    def _novelty_of(self, selected: np.ndarray) -> np.ndarray:
        """(N,) novelty of the chosen features (N, D') of :meth:`_selected`."""
        return self._novelty_and_nearest(selected)[0]

    def _novelty_and_nearest(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) novelty and (N,) index of the nearest training corpus of the chosen features."""
        distances = _distances(selected, self.gate_means_, self.gate_scales_)
        nearest = distances.argmin(axis=1)
        distance = distances[np.arange(len(distances)), nearest]
        assert self.gate_threshold_ is not None
        novelty = 1.0 / (1.0 + np.exp(-(np.log(distance) - self.gate_threshold_[nearest]) / self.gate_width_[nearest]))
        return novelty, nearest

    def _familiar_logits(self, selected: np.ndarray, logits: np.ndarray, nearest: np.ndarray) -> np.ndarray:
        """(N, K) calibrated logits of clips read as familiar: the shared head's at the familiar
        temperature or, with experts, the log-probabilities that keep its mass on the nearest
        corpus's labels but split it among them as that corpus's expert does."""
        if not self.has_experts:
            return logits / self.temperature_familiar_
        log_p = _log_softmax(logits / self.temperature_familiar_)
        for g in np.unique(nearest):
            if not self.expert_used_[g]:
                continue
            rows, labels = np.flatnonzero(nearest == g), self.expert_labels_[g]
            z = self._clipped((selected[rows] - self.gate_means_[g]) / self.gate_scales_[g]) @ self.expert_coef_[g] \
                + self.expert_intercept_[g]
            mass = logsumexp(log_p[rows][:, labels], axis=1, keepdims=True)
            log_p[np.ix_(rows, np.flatnonzero(labels))] = mass + _log_softmax(z[:, labels] / self.expert_temperature_[g])
        return log_p

    def adapt(self, X: np.ndarray, method: str = DEFAULT_ADAPT) -> LayerwiseHead:
        """A copy adapted, without labels, to ``X`` (N >= 2 clips of one target corpus or
        recording set): unsupervised test-time adaptation over a batch.

        ``standardise``: standardise with the batch's feature statistics instead of the training
        clips'. ``balance``: shift the class biases so that the batch's mean calibrated
        probability is the same for every class (:func:`~.partial.balancing_offsets`; right when
        the batch holds every emotion about equally often, wrong for a batch of one emotion).
        ``both``: standardise, then balance. An adapted head calibrates every clip as one of a new
        corpus (the held-out corpora's temperature; a ``gate``'s offsets and novelty unused)."""
        if method not in ADAPT_METHODS:
            raise ValueError(f"method must be one of {ADAPT_METHODS}, got {method!r}")
        if len(X) < 2:
            raise ValueError("test-time adaptation needs at least two clips")
        adapted = copy.copy(self)
        adapted.gate_threshold_ = None
        if method in ("standardise", "both"):
            adapted.mean_, adapted.scale_ = _moments(self._selected(X))
        if method in ("balance", "both"):
            if self.blended:
                adapted.blend_offsets_ = adapted.blend_offsets_ + balancing_offsets(adapted.calibrated_logits(X))
            else:
                adapted.intercept_ = adapted.intercept_ + balancing_offsets(adapted.decision_function(X), self.temperature_)
        return adapted

    @property
    def blended(self) -> bool:
        """Whether the head blends in a network's log-probabilities (fitted with ``mlp``)."""
        return getattr(self, "mlp_", None) is not None

    def _blend(self, Z: np.ndarray, logits: np.ndarray, novelty: np.ndarray | None = None,
               calibrated: bool = True) -> np.ndarray:
        """(N, K) the blended log-probabilities of a head fitted with ``mlp``, from its linear
        part's (N, K) ``logits`` (calibrated or not) and the standardised chosen features Z (N, D'); the
        network's logits divided by its temperature (``calibrated``; with the clips' (N,)
        ``novelty``, each clip's mixture of its two temperatures)."""
        assert self.mlp_ is not None
        network = self.mlp_.decision_function(Z)
        if calibrated:
            g = np.ones(len(network)) if novelty is None else novelty
            network = network * ((1 - g[:, None]) / self.mlp_temperature_familiar_ + g[:, None] / self.mlp_temperature_)
        w = self.mlp_weight
        return (1 - w) * _log_softmax(logits) + w * _log_softmax(network) + self.blend_offsets_

    def _selected(self, X: np.ndarray) -> np.ndarray:
        """The chosen layer set's columns of X, after ``normalise``: (N, D')."""
        return self._prepare(X)[:, self._columns(self.layer_set_)]

    def _standardised(self, selected: np.ndarray) -> np.ndarray:
        """The chosen features (N, D') of :meth:`_selected`, standardised as fitted (and clipped,
        with ``clip``): (N, D')."""
        return self._clipped((selected - self.mean_) / self.scale_)

    def _clipped(self, Z: np.ndarray) -> np.ndarray:
        """Standardised features Z of clips being scored, clipped to +-``clip`` (unchanged without)."""
        return Z if self.clip is None else np.clip(Z, -self.clip, self.clip)

    def states_needed(self) -> list[int]:
        """Per block, how many of its first hidden states the fitted layer set reads (1 + the
        highest index): a feature extractor may skip the rest."""
        return [1 + max(layer % n for layer in layers) for (n, _), layers in zip(self.blocks, self.layer_set_)]

    # -- prediction -----------------------------------------------------------------------
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(N, K) logits before the temperature, columns in ``classes_`` order (with ``mlp``:
        the blend of the linear part's log-probabilities and the network's)."""
        Z = self._standardised(self._selected(X))
        logits = self._logits_of(Z)
        return self._blend(Z, logits, calibrated=False) if self.blended else logits

    def _logits_of(self, Z: np.ndarray) -> np.ndarray:
        """(N, K) linear logits of the standardised chosen features Z (N, D') of :meth:`_standardised`."""
        return Z @ self.coef_ + self.intercept_

    def calibrated_logits(self, X: np.ndarray) -> np.ndarray:
        """(N, K) logits after the temperature (with ``gate``: each clip's mixture of the two
        temperatures and the offsets, weighted by its :meth:`novelty`); their softmax is
        :meth:`predict_proba`."""
        selected = self._selected(X)
        Z = self._standardised(selected)
        z = self._logits_of(Z)
        novelty = None
        if not self.gated:
            calibrated = z / self.temperature_
        else:
            novelty, nearest = self._novelty_and_nearest(selected)
            g = novelty[:, None]
            calibrated = (1 - g) * self._familiar_logits(selected, z, nearest) + g * (z / self.temperature_ + self.offsets_novel_)
        return self._blend(Z, calibrated, novelty) if self.blended else calibrated

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, K) calibrated probabilities, columns in ``classes_`` order."""
        z = self.calibrated_logits(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(N,) predicted labels."""
        return self.classes_[np.argmax(self.calibrated_logits(X), axis=1)]

    def embed(self, X: np.ndarray) -> np.ndarray:
        """The standardised selected features (N, D'): this head's penultimate representation."""
        return self._standardised(self._selected(X)).astype(np.float32)

    # -- saving ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted head to ``path/head.npz`` (plain arrays, no pickle); returns the folder."""
        folder = Path(path)
        atomic_write_npz(folder / "head.npz", {
            "blocks": np.asarray(self.blocks, dtype=np.int64),
            "layer_set": np.asarray([",".join(str(i) for i in b) for b in self.layer_set_]),
            "normalise": np.asarray(self.normalise), "statistics": np.asarray(self.statistics),
            "clip": np.float64(np.nan if self.clip is None else self.clip),
            "mean": self.mean_, "scale": self.scale_, "coef": self.coef_, "intercept": self.intercept_,
            "classes": np.asarray(self.classes_).astype(str), "temperature": np.float64(self.temperature_),
            "C": np.float64(self.C_), "inner_score": np.float64(self.inner_score_),
            **({} if not self.gated else {
                "gate_means": self.gate_means_, "gate_scales": self.gate_scales_,
                "gate_threshold": self.gate_threshold_, "gate_width": self.gate_width_,
                "temperature_familiar": np.float64(self.temperature_familiar_), "offsets_novel": self.offsets_novel_}),
            **({} if not self.has_experts else {
                "expert_corpora": np.asarray(self.expert_corpora_), "expert_coef": self.expert_coef_,
                "expert_intercept": self.expert_intercept_, "expert_labels": self.expert_labels_,
                "expert_temperature": self.expert_temperature_, "expert_C": self.expert_C_,
                "expert_score": self.expert_score_, "expert_used": self.expert_used_}),
            **({} if not self.blended else {
                "mlp_weight": np.float64(self.mlp_weight), "blend_offsets": self.blend_offsets_,
                "mlp_temperature": np.float64(self.mlp_temperature_),
                "mlp_temperature_familiar": np.float64(self.mlp_temperature_familiar_),
                **{f"mlp_{k}": v for k, v in self.mlp_.arrays().items()}}),  # type: ignore[union-attr]
        })
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LayerwiseHead:
        """A fitted head from a folder written by :meth:`save`."""
        with np.load(Path(path) / "head.npz", allow_pickle=False) as z:
            head = cls(blocks=[tuple(int(v) for v in b) for b in z["blocks"]], normalise=str(z["normalise"]),
                       statistics=str(z["statistics"]) if "statistics" in z.files else "mean_std",
                       clip=float(z["clip"]) if "clip" in z.files and not np.isnan(z["clip"]) else None)
            head.layer_set_ = [[int(i) for i in s.split(",")] for s in z["layer_set"]]
            head.mean_, head.scale_, head.coef_, head.intercept_ = z["mean"], z["scale"], z["coef"], z["intercept"]
            head.classes_ = z["classes"]
            head.temperature_, head.C_, head.inner_score_ = float(z["temperature"]), float(z["C"]), float(z["inner_score"])
            head.gate_threshold_ = None
            if "gate_threshold" in z.files:
                head.gate = True
                head.gate_means_, head.gate_scales_ = z["gate_means"], z["gate_scales"]
                groups = len(head.gate_means_)  # a head saved before per-group thresholds holds one of each
                head.gate_threshold_ = np.broadcast_to(z["gate_threshold"], (groups,)).astype(np.float64)
                head.gate_width_ = np.broadcast_to(z["gate_width"], (groups,)).astype(np.float64)
                head.temperature_familiar_, head.offsets_novel_ = float(z["temperature_familiar"]), z["offsets_novel"]
            head.expert_corpora_ = None
            if "expert_coef" in z.files:
                head.experts = True
                head.expert_corpora_ = [str(n) for n in z["expert_corpora"]]
                head.expert_coef_, head.expert_intercept_ = z["expert_coef"], z["expert_intercept"]
                head.expert_labels_, head.expert_temperature_ = z["expert_labels"], z["expert_temperature"]
                head.expert_C_, head.expert_score_, head.expert_used_ = z["expert_C"], z["expert_score"], z["expert_used"]
            head.mlp_, head.blend_offsets_ = None, np.zeros(len(head.classes_))
            if "mlp_w1" in z.files:
                head.mlp_weight, head.blend_offsets_ = float(z["mlp_weight"]), z["blend_offsets"]
                head.mlp_temperature_ = float(z["mlp_temperature"])
                head.mlp_temperature_familiar_ = float(z["mlp_temperature_familiar"])
                head.mlp_ = PartialLabelMLP().set_arrays(*(z[f"mlp_{k}"] for k in ("w1", "b1", "w2", "b2")))
                head.mlp = {"hidden": int(head.mlp_.w1_.shape[2]), "members": int(head.mlp_.w1_.shape[0])}
        return head
