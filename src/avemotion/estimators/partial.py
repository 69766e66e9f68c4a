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

:class:`PartialLabelMLP` learns the same loss with a small network instead (one hidden layer,
dropout, an ensemble of a few seeds), for heads that a linear boundary serves less well on
corpora they have not heard.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import minimize, minimize_scalar
from scipy.special import erf, logsumexp

__all__ = [
    "PartialLabelLogistic",
    "PartialLabelMLP",
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


class PartialLabelMLP:
    """An ensemble of ``members`` one-hidden-layer networks on (N, D) float features, trained
    with the loss of :class:`PartialLabelLogistic` (masked softmax over each clip's own labels,
    plus ``absent_weight`` times the full softmax's mass on them, clips weighted).

    Each member: dropout ``input_dropout`` on the input, ``D -> hidden`` linear, GELU, dropout
    ``dropout``, ``hidden -> K`` linear; AdamW (learning rate ``lr``, ``weight_decay``) for
    ``epochs`` passes in batches of ``batch_size``, seeded with ``seed + member``. Trained in
    PyTorch (float32); :meth:`decision_function` is plain NumPy, the mean of the members' logits.
    """

    def __init__(self, hidden: int = 128, dropout: float = 0.7, input_dropout: float = 0.2, epochs: int = 60,
                 members: int = 3, lr: float = 1e-3, weight_decay: float = 1e-3, batch_size: int = 128,
                 absent_weight: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= absent_weight <= 1.0:
            raise ValueError(f"absent_weight must lie in [0, 1], got {absent_weight!r}")
        if hidden < 1 or members < 1 or epochs < 1:
            raise ValueError(f"hidden, members and epochs must be >= 1, got {hidden}, {members}, {epochs}")
        self.hidden = hidden
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.epochs = epochs
        self.members = members
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.absent_weight = absent_weight
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, mask: np.ndarray, sample_weight: np.ndarray) -> PartialLabelMLP:
        """``y``: (N,) column indices; ``mask``: (N, K) allowed columns (``y`` among them);
        ``sample_weight``: (N,) clip weights."""
        X_t = torch.from_numpy(np.asarray(X, dtype=np.float32))
        y_t = torch.from_numpy(np.asarray(y, dtype=np.int64))
        mask_t = torch.from_numpy(np.asarray(mask, dtype=bool))
        w_t = torch.from_numpy(np.asarray(sample_weight, dtype=np.float32))
        n_classes, lam = mask_t.shape[1], self.absent_weight
        layers = []
        for member in range(self.members):
            torch.manual_seed(self.seed + member)
            first, last = torch.nn.Linear(X_t.shape[1], self.hidden), torch.nn.Linear(self.hidden, n_classes)
            net = torch.nn.Sequential(torch.nn.Dropout(self.input_dropout), first, torch.nn.GELU(),
                                      torch.nn.Dropout(self.dropout), last)
            optimiser = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for _ in range(self.epochs):
                order = torch.randperm(len(y_t))
                for start in range(0, len(y_t), self.batch_size):
                    rows = order[start:start + self.batch_size]
                    logits = net(X_t[rows])
                    own = torch.logsumexp(logits.masked_fill(~mask_t[rows], float("-inf")), dim=1)
                    log_p = logits.gather(1, y_t[rows, None])[:, 0] - own
                    loss = -(w_t[rows] * (log_p + lam * (own - torch.logsumexp(logits, dim=1)))).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
            layers.append([t.detach().numpy().astype(np.float32).copy() for t in
                           (first.weight.T, first.bias, last.weight.T, last.bias)])
        self.set_arrays(*(np.stack(part) for part in zip(*layers)))
        return self

    def set_arrays(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> PartialLabelMLP:
        """Set the fitted members' weights: w1 (M, D, H), b1 (M, H), w2 (M, H, K), b2 (M, K)."""
        self.w1_, self.b1_, self.w2_, self.b2_ = (np.asarray(a, dtype=np.float32) for a in (w1, b1, w2, b2))
        return self

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted weights by name (``w1``, ``b1``, ``w2``, ``b2``), as :meth:`set_arrays` takes them."""
        return {"w1": self.w1_, "b1": self.b1_, "w2": self.w2_, "b2": self.b2_}

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(N, K) logits: the mean of the members' (float64)."""
        X = np.asarray(X, dtype=np.float32)
        out = np.zeros((len(X), self.b2_.shape[1]))
        for w1, b1, w2, b2 in zip(self.w1_, self.b1_, self.w2_, self.b2_):
            h = (X @ w1 + b1).astype(np.float64)
            out += (0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))) @ w2 + b2
        return out / len(self.w1_)


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
