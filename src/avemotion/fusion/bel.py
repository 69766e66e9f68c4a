"""Brain Emotional Learning (BEL) and its mixture (MoBEL), trained by the seeds' learning rules.

Seed 003 (and seed 000) describe a BEL unit, modelled on the amygdala (AMG) and the
orbitofrontal cortex (OFC), for an input vector ``p`` (n,) and a target ``t``::

    e_a = sum_j v_j p_j + v_{n+1} p_th          (AMG; p_th, the thalamic input, = max_j p_j)
    e_o = sum_j w_j p_j                         (OFC)
    E   = f_e(f_amg(e_a) - f_ofc(e_o))          (f = tansig = tanh)
    dv_j = -gamma v_j + alpha p_j max(0, t - f_amg(e_a))
    dw_j = beta p_j (E - t)

and MoBEL: K BEL experts ``E_k`` and a BEL gating network ``g`` (same units, K outputs),
posterior ``h_k = g_k exp(-|t - E_k|^2 / 2) / sum_j g_j exp(-|t - E_j|^2 / 2)``, output
``y = sum_k g_k E_k``; the gate learns ``dv_g = -gamma v_g + alpha_g p max(0, h - f(e_a))``,
``dw_g = beta_g p (g - h)``.

Where the text is ambiguous or inconsistent, we chose (and :class:`BEL` / :class:`MoBEL`
document it again):

* Multi-class: one BEL output per class (``V``: (C, n+1), ``W``: (C, n)), the seed's index
  ``i`` running over outputs; targets ``t`` are one-hot in {0, 1}.
* "Trained using a Gradient descent algorithm" vs. the Hebbian ``dv``/``dw`` rules given: these
  estimators apply the rules as written, online (one sample at a time, shuffled each epoch); a
  gradient-trained variant is the ``bel`` / ``mobel`` network in :mod:`avemotion.models.fusion`.
* "The optimal weights are decided based on the error function e": we keep the epoch whose
  validation error ``sum |t - y|^2`` is lowest (training error when there is no validation set).
* The gate's ``f_g`` is not given; ``g`` must be a probability, so ``g = softmax(f_amg(e_a_g) -
  f_ofc(e_o_g))``. The seed's "``i=1,2``" in the expert rules reads as the expert index of a
  two-expert mixture; the number of experts is a parameter (default 2).
* The experts' rules use the target ``t`` as written; as in any mixture of experts, each
  expert's step is scaled by its posterior ``h_k`` (otherwise all experts learn the same thing).
* Initial weights are not given (seed 003's own remark): zeros for a single BEL, N(0, 0.01)
  for the mixture's experts and gate (to break their symmetry).
* The seed's decision-level output "multiplied as per product rule" is not defined further;
  our decision-level BEL predicts ``argmax E`` on the concatenated branch probabilities.
* Probabilities: ``max(y, 0) + 1e-6``, renormalised (``E`` approximates the one-hot target).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FLOOR = 1e-6


def bel_forward(V: np.ndarray, W: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One BEL unit: ``V`` (C, n+1), ``W`` (C, n), input ``p`` (n,) -> ``(e_a, e_o, E)``, each (C,)."""
    e_a = V @ np.append(p, p.max())
    e_o = W @ p
    return e_a, e_o, np.tanh(np.tanh(e_a) - np.tanh(e_o))


def bel_step(
    V: np.ndarray,
    W: np.ndarray,
    p: np.ndarray,
    t: np.ndarray,
    alpha: float,
    beta: float,
    gamma: float,
    h: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's update for one sample: returns ``(V + dV, W + dW)`` with
    ``dV = -gamma V + h alpha max(0, t - tanh(e_a)) [p, p_th]^T`` and
    ``dW = h beta (E - t) p^T`` (``h``: an expert's posterior, 1 for a single BEL)."""
    e_a, _, E = bel_forward(V, W, p)
    dV = -gamma * V + h * alpha * np.outer(np.maximum(0.0, t - np.tanh(e_a)), np.append(p, p.max()))
    dW = h * beta * np.outer(E - t, p)
    return V + dV, W + dW


def gate_forward(Vg: np.ndarray, Wg: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gating BEL: ``(e_a, g)`` with ``g = softmax(tanh(e_a) - tanh(e_o))`` over the K experts."""
    e_a = Vg @ np.append(p, p.max())
    z = np.tanh(e_a) - np.tanh(Wg @ p)
    g = np.exp(z - z.max())
    return e_a, g / g.sum()


def posterior(g: np.ndarray, E: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``h_k = g_k exp(-|t - E_k|^2 / 2) / sum_j (...)``; ``g`` (K,), ``E`` (K, C), ``t`` (C,)."""
    log = np.log(np.maximum(g, 1e-300)) - 0.5 * ((t - E) ** 2).sum(axis=1)
    h = np.exp(log - log.max())
    return h / h.sum()


def mobel_step(
    experts: list[tuple[np.ndarray, np.ndarray]],
    gate: tuple[np.ndarray, np.ndarray],
    p: np.ndarray,
    t: np.ndarray,
    alpha: float,
    beta: float,
    alpha_g: float,
    beta_g: float,
    gamma: float,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
    """One MoBEL update: each expert by :func:`bel_step` scaled by its posterior ``h_k``; the
    gate by ``dVg = -gamma Vg + alpha_g max(0, h - tanh(e_a_g)) [p, p_th]^T``,
    ``dWg = beta_g (g - h) p^T``."""
    E = np.stack([bel_forward(V, W, p)[2] for V, W in experts])
    e_a_g, g = gate_forward(*gate, p)
    h = posterior(g, E, t)
    new_experts = [bel_step(V, W, p, t, alpha, beta, gamma, h=float(h[k])) for k, (V, W) in enumerate(experts)]
    Vg, Wg = gate
    Vg = Vg - gamma * Vg + alpha_g * np.outer(np.maximum(0.0, h - np.tanh(e_a_g)), np.append(p, p.max()))
    Wg = Wg + beta_g * np.outer(g - h, p)
    return new_experts, (Vg, Wg)


def _one_hot(y: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n)[y]


def _proba(y: np.ndarray) -> np.ndarray:
    y = np.maximum(y, 0.0) + _FLOOR
    return y / y.sum(axis=1, keepdims=True)


@dataclass
class _State:
    experts: list[tuple[np.ndarray, np.ndarray]]
    gate: tuple[np.ndarray, np.ndarray] | None


class BEL:
    """Decision- or feature-level BEL (``n_experts=1``) or MoBEL (``n_experts >= 2``), trained
    online with the seed's rules. Input: (N, n) features (e.g. the concatenated class
    probabilities of the branches); labels: class indices ``0..C-1`` or any labels.
    ``alpha``/``beta``: AMG/OFC learning rates of the experts, ``alpha_g``/``beta_g``: of the
    gate, ``gamma``: the decay. See the module docstring for the choices made."""

    def __init__(
        self,
        n_experts: int = 1,
        alpha: float = 0.01,
        beta: float = 0.01,
        alpha_g: float = 0.01,
        beta_g: float = 0.01,
        gamma: float = 1e-4,
        epochs: int = 30,
        seed: int = 0,
    ) -> None:
        self.n_experts = n_experts
        self.alpha, self.beta, self.alpha_g, self.beta_g, self.gamma = alpha, beta, alpha_g, beta_g, gamma
        self.epochs = epochs
        self.seed = seed

    def _output(self, state: _State, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), len(self.classes_)))
        for i, p in enumerate(X):
            E = np.stack([bel_forward(V, W, p)[2] for V, W in state.experts])
            out[i] = E[0] if state.gate is None else gate_forward(*state.gate, p)[1] @ E
        return out

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> BEL:
        """Train ``epochs`` passes; keep the epoch with the lowest validation (else training) error."""
        X = np.asarray(X, dtype=np.float64)
        self.classes_, yi = np.unique(np.asarray(y), return_inverse=True)
        C, n, K = len(self.classes_), X.shape[1], self.n_experts
        rng = np.random.default_rng(self.seed)
        T = _one_hot(yi, C)
        if X_val is not None and y_val is not None and len(y_val):
            Xe, Te = np.asarray(X_val, dtype=np.float64), _one_hot(np.searchsorted(self.classes_, y_val), C)
        else:
            Xe, Te = X, T
        if K == 1:
            state = _State([(np.zeros((C, n + 1)), np.zeros((C, n)))], None)
        else:
            state = _State(
                [(rng.normal(0, 0.01, (C, n + 1)), rng.normal(0, 0.01, (C, n))) for _ in range(K)],
                (rng.normal(0, 0.01, (K, n + 1)), rng.normal(0, 0.01, (K, n))),
            )
        self.history_: list[float] = []
        best = (np.inf, state)
        for _ in range(self.epochs):
            for i in rng.permutation(len(X)):
                if state.gate is None:
                    V, W = bel_step(*state.experts[0], X[i], T[i], self.alpha, self.beta, self.gamma)
                    state = _State([(V, W)], None)
                else:
                    experts, gate = mobel_step(
                        state.experts, state.gate, X[i], T[i],
                        self.alpha, self.beta, self.alpha_g, self.beta_g, self.gamma,
                    )
                    state = _State(experts, gate)
            error = float(((Te - self._output(state, Xe)) ** 2).sum())
            self.history_.append(error)
            if error < best[0]:
                best = (error, state)
        self.state_ = best[1]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The model output ``y`` (N, C) (``E`` for one BEL, ``sum_k g_k E_k`` for MoBEL)."""
        return self._output(self.state_, np.asarray(X, dtype=np.float64))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, C) probabilities: the output floored at 0 and renormalised."""
        return _proba(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]

    def arrays(self) -> dict[str, np.ndarray]:
        """The fitted weights as named arrays (for saving)."""
        out = {"classes": np.asarray(self.classes_).astype(str)}
        for k, (V, W) in enumerate(self.state_.experts):
            out[f"V{k}"], out[f"W{k}"] = V, W
        if self.state_.gate is not None:
            out["Vg"], out["Wg"] = self.state_.gate
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], **params: float) -> BEL:
        """A fitted model from :meth:`arrays`' output."""
        k = sum(1 for key in arrays if key.startswith("V") and key[1:].isdigit())
        model = cls(n_experts=k, **params)  # type: ignore[arg-type]
        model.classes_ = arrays["classes"]
        experts = [(arrays[f"V{i}"], arrays[f"W{i}"]) for i in range(k)]
        model.state_ = _State(experts, (arrays["Vg"], arrays["Wg"]) if "Vg" in arrays else None)
        return model
