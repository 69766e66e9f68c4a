"""Multinomial logistic regression that learns from clips of corpora with different label sets.

A TurEV-DB clip labelled ``sad`` says the speaker is sad rather than angry, calm or happy (the
four labels TurEV-DB has); it says nothing about ``surprised``, which TurEV-DB never offers. The
loss of :class:`PartialLabelLogistic` follows that reading: each clip's softmax is taken over
its own corpus's labels only (the other logits are masked out), so a clip never teaches "not
surprised" where surprise was not a choice. That leaves the logits of a corpus's absent labels
unconstrained wherever only that corpus's clips lie, and clips of a new corpus that resemble it
can fall there (measured: TESS scored by a model of RAVDESS + TurEV-DB, 25 UAR against 44 without
TurEV-DB). ``absent_weight`` (lambda, 0-1) adds lambda times the negative log of the full
softmax's mass on the clip's own labels: 0 is the pure partial-label loss, 1 the ordinary
cross-entropy over every label, and in between absent labels are discouraged only weakly.
Clips are weighted so that every corpus weighs the same (or in proportion to the square root of
its size) and, within a corpus, every class.

:func:`fit_temperature` fits the temperature ``T`` of ``softmax(logits / T)`` on held-out
clips (same masking) by minimising the negative log-likelihood; :func:`fit_temperature_offsets`
fits class offsets with it (the bias term of vector scaling).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import minimize, minimize_scalar
from scipy.special import logsumexp

__all__ = [
    "PartialLabelLogistic",
    "balanced_weights",
    "balancing_offsets",
    "fit_temperature",
    "fit_temperature_offsets",
    "masked_log_softmax",
    "row_space_basis",
]

CORPUS_BALANCE = ("equal", "sqrt", "none")


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log-softmax over each row's allowed columns (``mask`` True); masked columns get -inf."""
    return torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=1)


def balanced_weights(y: np.ndarray, corpora: np.ndarray, corpus_balance: str = "equal") -> np.ndarray:
    """(N,) sample weights, mean 1: classes equal within each corpus; corpora ``equal``, in
    proportion to ``sqrt`` of their clip counts, or to their counts (``none``)."""
    if corpus_balance not in CORPUS_BALANCE:
        raise ValueError(f"corpus_balance must be one of {CORPUS_BALANCE}, got {corpus_balance!r}")
    weights = np.zeros(len(y))
    names, sizes = np.unique(corpora, return_counts=True)
    share = {"equal": np.ones(len(sizes)), "sqrt": np.sqrt(sizes), "none": sizes.astype(float)}[corpus_balance]
    share = share / share.sum()
    for name, corpus_share in zip(names, share):
        rows = corpora == name
        classes, counts = np.unique(y[rows], return_counts=True)
        for label, count in zip(classes, counts):
            weights[rows & (y == label)] = corpus_share / (len(classes) * count)
    return weights * len(y) / weights.sum()


def row_space_basis(X: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """(D, r) orthonormal basis of the row space of an (N, D) matrix with N < D, from the
    eigenvectors of the N x N Gram matrix (far cheaper than an SVD of X when D >> N)."""
    values, vectors = np.linalg.eigh(X @ X.T)
    keep = values > rtol * values.max()
    return (X.T @ vectors[:, keep]) / np.sqrt(values[keep])


class PartialLabelLogistic:
    """Softmax regression on (N, D) float features with per-clip allowed labels.

    ``C`` is the inverse L2 strength in scikit-learn's convention (loss = C * sum of weighted
    losses + ||W||^2 / 2); fitted by full-batch L-BFGS (SciPy), the products with ``X`` in
    float32 and everything else in float64, deterministic. With fewer
    clips than features (N < D) it is fitted in the N-dimensional row space of ``X`` (``X V``
    from a thin SVD, then ``W = V A``): the L2-penalised optimum lies in that space, so the
    solution is the same, found at a fraction of the cost.
    """

    def __init__(self, C: float = 0.01, max_iter: int = 200, absent_weight: float = 0.0) -> None:
        if not 0.0 <= absent_weight <= 1.0:
            raise ValueError(f"absent_weight must lie in [0, 1], got {absent_weight!r}")
        self.C = C
        self.max_iter = max_iter
        self.absent_weight = absent_weight

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        mask: np.ndarray,
        sample_weight: np.ndarray,
        init: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> PartialLabelLogistic:
        """``y``: (N,) column indices; ``mask``: (N, K) allowed columns (``y`` among them);
        ``init``: starting ``(coef_, intercept_)`` (e.g. the fit at a neighbouring C)."""
        X = np.asarray(X, dtype=np.float64)
        basis = None
        if X.shape[0] < X.shape[1]:
            basis = row_space_basis(X)
            X = X @ basis
            if init is not None:
                init = (basis.T @ init[0], init[1])
        X32 = X.astype(np.float32)
        y = np.asarray(y, dtype=np.int64)
        allowed = np.asarray(mask, dtype=bool)
        w = np.asarray(sample_weight, dtype=np.float64) / len(y)
        n_features, n_classes = X.shape[1], allowed.shape[1]
        onehot = np.zeros((len(y), n_classes))
        onehot[np.arange(len(y)), y] = 1.0
        scale = 1.0 / (self.C * len(y))

        lam = self.absent_weight

        def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W, b = theta[:-n_classes].reshape(n_features, n_classes), theta[-n_classes:]
            logits = (X32 @ W.astype(np.float32)).astype(np.float64) + b
            z = np.where(allowed, logits, -np.inf)
            z -= z.max(axis=1, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            p = np.exp(log_p)
            residual = w[:, None] * (p - onehot)
            loss = -(w * log_p[np.arange(len(y)), y]).sum() + 0.5 * scale * (W * W).sum()
            if lam:
                # + lam * -log(the full softmax's mass on the clip's own labels): its gradient
                # moves (1 - lam) of the masked softmax's weight to the full softmax.
                log_full = logits - logsumexp(logits, axis=1, keepdims=True)
                in_set = logsumexp(np.where(allowed, log_full, -np.inf), axis=1)
                loss -= lam * (w * in_set).sum()
                residual = w[:, None] * ((1 - lam) * p + lam * np.exp(log_full) - onehot)
            grad = np.concatenate([((X32.T @ residual.astype(np.float32)) + scale * W).ravel(), residual.sum(axis=0)])
            return float(loss), grad

        start = np.zeros(n_features * n_classes + n_classes) if init is None else np.concatenate([init[0].ravel(), init[1]])
        result = minimize(loss_and_grad, start, jac=True, method="L-BFGS-B",
                          options={"maxiter": self.max_iter, "gtol": 1e-5, "ftol": 1e-8})
        W = result.x[:-n_classes].reshape(n_features, n_classes)
        self.coef_ = W if basis is None else basis @ W
        self.intercept_ = result.x[-n_classes:].copy()
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(N, K) logits."""
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_


def fit_temperature(logits: np.ndarray, y: np.ndarray, mask: np.ndarray, bounds: Sequence[float] = (0.05, 20.0)) -> float:
    """The temperature minimising the masked NLL of ``softmax(logits / T)`` over held-out clips."""
    z = torch.from_numpy(np.asarray(logits, dtype=np.float64))
    m = torch.from_numpy(np.asarray(mask, dtype=bool))
    idx = torch.from_numpy(np.asarray(y, dtype=np.int64))[:, None]

    def nll(log_t: float) -> float:
        return float(-masked_log_softmax(z / np.exp(log_t), m).gather(1, idx).mean())

    result = minimize_scalar(nll, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded")
    return float(np.exp(result.x))


def fit_temperature_offsets(logits: np.ndarray, y: np.ndarray, mask: np.ndarray, l2: float = 0.01,
                            bounds: Sequence[float] = (0.05, 20.0)) -> tuple[float, np.ndarray]:
    """The temperature T and (K,) class offsets b minimising the masked NLL of
    ``softmax(logits / T + b)`` over held-out clips (as :func:`fit_temperature`), plus
    ``l2 * |b|^2`` (an offset no held-out clip informs stays 0). ``logits``: (N, K); ``y``: (N,)
    column indices; ``mask``: (N, K) the columns each clip is scored on. Offsets are in units of
    the calibrated logits (after / T)."""
    z = torch.from_numpy(np.asarray(logits, dtype=np.float64))
    m = torch.from_numpy(np.asarray(mask, dtype=bool))
    idx = torch.from_numpy(np.asarray(y, dtype=np.int64))[:, None]

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        p = torch.from_numpy(params).requires_grad_(True)
        b = p[1:]
        loss = -masked_log_softmax(z / p[0].exp() + b, m).gather(1, idx).mean() + l2 * (b @ b)
        loss.backward()
        assert p.grad is not None
        return loss.item(), p.grad.numpy().copy()

    limits = [(np.log(bounds[0]), np.log(bounds[1]))] + [(None, None)] * z.shape[1]
    result = minimize(objective, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=limits,
                      options={"maxiter": 1000})
    return float(np.exp(result.x[0])), result.x[1:].copy()


def balancing_offsets(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """(K,) offsets b such that the batch's mean of ``softmax((logits + b) / temperature)`` is
    uniform over the K columns: the class biases of a batch in which every class is about equally
    common (unsupervised test-time adaptation of a classifier's priors; no labels). Offsets are
    in logit units, mean 0. ``logits``: (N, K), N >= 1.

    b minimises the convex mean_i logsumexp((z_i + b) / T) - sum(b) / (K T), whose gradient is
    (mean softmax - 1 / K) / T.
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    k = z.shape[1]

    def objective(b: np.ndarray) -> tuple[float, np.ndarray]:
        w = z + b
        lse = logsumexp(w, axis=1, keepdims=True)
        mean = np.exp(w - lse).mean(axis=0)
        return float(lse.mean() - b.sum() / k), mean - 1.0 / k

    b = minimize(objective, np.zeros(k), jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "maxiter": 1000}).x
    return (b - b.mean()) * temperature
