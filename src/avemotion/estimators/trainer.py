"""One training loop for every avemotion network (:class:`~avemotion.models.base.EmotionNet`).

:class:`Trainer` is configured once (optimiser, schedule, class balancing, regularisation,
early stopping, seed) and fits any model on NumPy arrays. Model selection looks at the
validation data only: the epoch with the best validation UAR (ties: the lower validation loss)
is kept, and training stops ``patience`` epochs after the last improvement. Without validation
data the model trains for ``epochs`` epochs and the last epoch is kept.

A fit is deterministic for a seed: torch's global RNG (dropout, initialisation inside the fit),
a NumPy generator (shuffling, mixup) and two torch generators (sampler, batch transforms) are
seeded from it, and deterministic algorithms are switched on for the duration of the fit only
(:func:`seeded`).
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import WeightedRandomSampler
from tqdm.auto import tqdm

from avemotion.core.atomic import atomic_write_bytes
from avemotion.core.metrics import uar, war
from avemotion.models.base import EmotionNet

#: ``f(batch, generator) -> batch``, applied to training batches only (e.g. SpecAugment).
BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "plateau")
CLASS_BALANCE = ("loss", "sampler", "none")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainResult:
    """What a fit did: the kept epoch, one dict per epoch run, and the kept validation UAR.

    Each history entry has ``epoch``, ``train_loss``, ``val_loss``, ``val_uar``, ``val_war``
    (``None`` without validation data), ``lr`` and ``seconds``.
    """

    best_epoch: int
    history: list[dict[str, Any]]
    best_val_uar: float | None
    seconds: float
    stopped_early: bool


@contextlib.contextmanager
def seeded(seed: int, num_threads: int | None = None) -> Iterator[None]:
    """Within the block: torch's global RNG seeded with ``seed``, deterministic algorithms on
    (warn only) and, if given, ``num_threads`` intra-op threads. All three are restored on exit.
    """
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
            torch.set_num_threads(threads)


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _batched(
    model: nn.Module, X: np.ndarray, batch_size: int, fn: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``fn`` applied batch by batch in eval mode without gradients, concatenated on the CPU."""
    X = np.asarray(X, dtype=np.float32)
    device = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = [
                fn(torch.from_numpy(X[i : i + batch_size]).to(device)).float().cpu()
                for i in range(0, len(X), batch_size)
            ]
    finally:
        model.train(was_training)
    if not out:
        raise ValueError("no samples to predict")
    return torch.cat(out)


def predict_proba(model: EmotionNet, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities ``(N, n_classes)`` of ``model`` on ``X`` (eval mode)."""
    return torch.softmax(_batched(model, X, batch_size, model), dim=-1).numpy()


def embed(model: EmotionNet, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Penultimate embeddings ``(N, embedding_dim)`` of ``model`` on ``X`` (eval mode)."""
    return _batched(model, X, batch_size, model.embed).numpy()


def _labels(y: Any, n: int, n_classes: int, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(f"{what}: expected {n} labels, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what}: labels must be integer class indices, got dtype {arr.dtype}")
    if n and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{what}: labels must be in [0, {n_classes}), got {arr.min()}..{arr.max()}")
    return arr.astype(np.int64)


def _training_data(
    n_classes: int, X: np.ndarray, y: np.ndarray, extra: Sequence[tuple[np.ndarray, np.ndarray]] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The training clips followed by every extra (augmented) set, as one float32 / int64 pair."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for k, (xk, yk) in enumerate([(X, y), *(extra or [])]):
        what = "training data" if k == 0 else f"extra training set {k}"
        xk = np.asarray(xk, dtype=np.float32)
        if xs and xk.shape[1:] != xs[0].shape[1:]:
            raise ValueError(f"{what}: samples of shape {xk.shape[1:]}, expected {xs[0].shape[1:]}")
        xs.append(xk)
        ys.append(_labels(yk, len(xk), n_classes, what))
    if not len(xs[0]):
        raise ValueError("no training samples")
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys)


class Trainer:
    """Fits any :class:`EmotionNet` with cross-entropy and keeps its best validation epoch.

    ``optimizer``: ``adam`` | ``adamw`` | ``sgd`` (with ``momentum``, Nesterov). ``scheduler``:
    ``none`` | ``cosine`` (annealed to 0 over ``epochs``) | ``plateau`` (learning rate halved
    after ``scheduler_patience`` epochs without a better validation UAR, or training loss
    without validation data). ``patience``: epochs without improvement before stopping
    (``None``: never stop early). ``class_balance``: ``loss`` (cross-entropy weighted by inverse
    class frequency), ``sampler`` (a :class:`WeightedRandomSampler` drawing every class equally
    often) or ``none``. ``mixup_alpha``: mixup with ``Beta(alpha, alpha)`` weights (``None`` or
    0: off). ``precision``: ``fp32``, or ``bf16`` (training forward passes under bfloat16
    autocast, weights and optimiser kept in float32: about twice as fast on CPUs with AVX-512
    BF16 or AMX; validation and prediction stay float32). ``batch_transform`` is applied to
    training batches only, on the training device, with a seeded ``torch.Generator`` on that
    device. ``device``: ``None`` picks CUDA when available. ``checkpoint_path``: the kept state
    dict is written there (atomically, :func:`torch.save`) every time it changes. A trailing
    training batch of a single sample is skipped (batch norm cannot train on it).
    ``resume_path``: after every epoch the whole training state (weights, optimiser, schedule,
    random generators, history, kept state) is written there atomically; a fit finding that file
    continues after its last epoch (same data and parameters assumed), so a run that was cut off
    loses at most one epoch.
    """

    def __init__(
        self,
        *,
        epochs: int = 30,
        batch_size: int = 32,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        scheduler: str = "none",
        scheduler_patience: int = 3,
        patience: int | None = 10,
        class_balance: str = "loss",
        label_smoothing: float = 0.0,
        grad_clip: float | None = None,
        mixup_alpha: float | None = None,
        precision: str = "fp32",
        batch_transform: BatchTransform | None = None,
        seed: int = 0,
        num_threads: int | None = None,
        device: str | None = None,
        eval_batch_size: int = 256,
        checkpoint_path: str | os.PathLike[str] | None = None,
        resume_path: str | os.PathLike[str] | None = None,
        progress: bool = False,
    ) -> None:
        for name, value, allowed in (
            ("optimizer", optimizer, OPTIMIZERS),
            ("scheduler", scheduler, SCHEDULERS),
            ("class_balance", class_balance, CLASS_BALANCE),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if epochs < 1 or batch_size < 1 or eval_batch_size < 1:
            raise ValueError("epochs, batch_size and eval_batch_size must be >= 1")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {patience}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if mixup_alpha is not None and mixup_alpha < 0:
            raise ValueError(f"mixup_alpha must be >= 0, got {mixup_alpha}")
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.scheduler = scheduler
        self.scheduler_patience = scheduler_patience
        self.patience = patience
        self.class_balance = class_balance
        self.label_smoothing = label_smoothing
        self.grad_clip = grad_clip
        self.mixup_alpha = mixup_alpha
        self.precision = precision
        self.batch_transform = batch_transform
        self.seed = seed
        self.num_threads = num_threads
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.eval_batch_size = eval_batch_size
        self.checkpoint_path = checkpoint_path
        self.resume_path = resume_path
        self.progress = progress

    # --- parts of a fit ------------------------------------------------------------------

    def _make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(
            params,
            lr=self.lr,
            momentum=self.momentum,
            nesterov=self.momentum > 0,
            weight_decay=self.weight_decay,
        )

    def _make_scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        if self.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.epochs)
        if self.scheduler == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max", factor=0.5, patience=self.scheduler_patience
            )
        return None

    def _criterion(self, y: np.ndarray, n_classes: int) -> nn.CrossEntropyLoss:
        weight = None
        if self.class_balance == "loss":
            counts = np.bincount(y, minlength=n_classes).astype(float)
            present = counts > 0
            w = np.zeros(n_classes)
            w[present] = len(y) / (present.sum() * counts[present])
            weight = torch.tensor(w, dtype=torch.float32, device=self.device)
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=self.label_smoothing)

    def _sampler(self, y: np.ndarray) -> WeightedRandomSampler | None:
        if self.class_balance != "sampler":
            return None
        counts = np.bincount(y)
        weights = torch.tensor(1.0 / counts[y], dtype=torch.double)
        generator = torch.Generator().manual_seed(self.seed)
        # torch annotates weights as Sequence[float]; it takes a tensor (torch.as_tensor) as documented
        return WeightedRandomSampler(weights, num_samples=len(y), replacement=True, generator=generator)  # type: ignore[arg-type]

    def _batches(
        self, n: int, rng: np.random.Generator, sampler: WeightedRandomSampler | None
    ) -> list[np.ndarray]:
        if sampler is None:
            order = rng.permutation(n)
        else:
            order = np.fromiter(iter(sampler), dtype=np.int64, count=n)
        batches = [order[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        return batches[:-1] if len(batches) > 1 and len(batches[-1]) == 1 else batches

    def _train_epoch(
        self,
        model: EmotionNet,
        X: np.ndarray,
        y: np.ndarray,
        batches: list[np.ndarray],
        criterion: nn.Module,
        optimizer: torch.optim.Optimizer,
        rng: np.random.Generator,
        generator: torch.Generator,
    ) -> float:
        model.train()
        total, count = 0.0, 0
        for idx in batches:
            xb = torch.from_numpy(X[idx]).to(self.device)
            yb = torch.from_numpy(y[idx]).to(self.device)
            if self.batch_transform is not None:
                xb = self.batch_transform(xb, generator)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                if self.mixup_alpha:
                    lam = float(rng.beta(self.mixup_alpha, self.mixup_alpha))
                    perm = torch.randperm(len(xb), generator=generator, device=self.device)
                    logits = model(lam * xb + (1 - lam) * xb[perm]).float()
                    loss = lam * criterion(logits, yb) + (1 - lam) * criterion(logits, yb[perm])
                else:
                    loss = criterion(model(xb).float(), yb)
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        return total / count

    def _validate(self, model: EmotionNet, X: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
        """Unweighted cross-entropy, UAR and WAR on validation data."""
        logits = _batched(model, X, self.eval_batch_size, model)
        loss = float(F.cross_entropy(logits, torch.from_numpy(y)))
        pred = logits.argmax(dim=1).numpy()
        return loss, uar(y, pred), war(y, pred)

    def _checkpoint(self, state: dict[str, torch.Tensor]) -> None:
        if self.checkpoint_path is not None:
            buffer = io.BytesIO()
            torch.save(state, buffer)
            atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    # --- the fit -------------------------------------------------------------------------

    def fit(
        self,
        model: EmotionNet,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        *,
        extra_train: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> TrainResult:
        """Train ``model`` in place and leave it holding the kept epoch's weights, in eval mode.

        ``y`` are class indices ``0..n_classes-1``. ``extra_train``: more ``(X, y)`` training
        sets appended to the training data (offline-augmented copies of training clips only).
        """
        n_classes = int(model.n_classes)
        X, y = _training_data(n_classes, X_train, y_train, extra_train)
        if (X_val is None) != (y_val is None):
            raise ValueError("give both X_val and y_val, or neither")
        has_val = X_val is not None and len(X_val) > 0
        if has_val:
            X_val = np.asarray(X_val, dtype=np.float32)
            y_val = _labels(y_val, len(X_val), n_classes, "validation data")
        start = time.perf_counter()
        history: list[dict[str, Any]] = []
        best: tuple[float, float] | None = None
        best_epoch, best_state, since_best = 0, None, 0
        with seeded(self.seed, self.num_threads):
            model.to(self.device)
            rng = np.random.default_rng(self.seed)
            generator = torch.Generator(device=self.device).manual_seed(self.seed)
            criterion = self._criterion(y, n_classes)
            optimizer = self._make_optimizer(model)
            scheduler = self._make_scheduler(optimizer)
            sampler = self._sampler(y)
            parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
            if self.resume_path is not None and os.path.isfile(self.resume_path):
                saved = torch.load(self.resume_path, map_location=self.device, weights_only=False)
                for key, part in parts.items():
                    if part is not None:
                        part.load_state_dict(saved[key])
                rng.bit_generator.state = saved["numpy_rng"]
                generator.set_state(saved["generator"])
                torch.set_rng_state(saved["torch_rng"])
                if sampler is not None:
                    sampler.generator.set_state(saved["sampler_rng"])
                history, best, best_state = saved["history"], saved["best"], saved["best_state"]
                best_epoch, since_best = saved["best_epoch"], saved["since_best"]
                start -= sum(h["seconds"] for h in history)
            stopped = has_val and self.patience is not None and since_best >= self.patience
            bar = tqdm(
                range(self.epochs + 1 if stopped else len(history) + 1, self.epochs + 1),
                desc="train",
                unit="epoch",
                leave=False,
                disable=not self.progress,
            )
            for epoch in bar:
                t0 = time.perf_counter()
                lr = optimizer.param_groups[0]["lr"]
                batches = self._batches(len(y), rng, sampler)
                train_loss = self._train_epoch(model, X, y, batches, criterion, optimizer, rng, generator)
                val_loss = val_uar = val_war = None
                if has_val:
                    assert X_val is not None and y_val is not None  # has_val: both were given
                    val_loss, val_uar, val_war = self._validate(model, X_val, y_val)
                    if best is None or val_uar > best[0] or (val_uar == best[0] and val_loss < best[1]):
                        best, best_epoch, since_best = (val_uar, val_loss), epoch, 0
                        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                        self._checkpoint(best_state)
                    else:
                        since_best += 1
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(val_uar if val_uar is not None else -train_loss)
                elif scheduler is not None:
                    scheduler.step()
                history.append(
                    {
                        "epoch": epoch,
                        "train_loss": train_loss,
                        "val_loss": val_loss,
                        "val_uar": val_uar,
                        "val_war": val_war,
                        "lr": lr,
                        "seconds": time.perf_counter() - t0,
                    }
                )
                bar.set_postfix(loss=f"{train_loss:.4f}", val_uar="-" if val_uar is None else f"{val_uar:.3f}")
                if self.resume_path is not None:
                    state = {key: None if part is None else part.state_dict() for key, part in parts.items()}
                    state |= {
                        "numpy_rng": rng.bit_generator.state,
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "sampler_rng": None if sampler is None else sampler.generator.get_state(),
                        "history": history,
                        "best": best,
                        "best_epoch": best_epoch,
                        "since_best": since_best,
                        "best_state": best_state,
                    }
                    buffer = io.BytesIO()
                    torch.save(state, buffer)
                    atomic_write_bytes(self.resume_path, buffer.getvalue())
                if has_val and self.patience is not None and since_best >= self.patience:
                    break
            bar.close()
        if best_state is None:
            best_epoch = len(history)
            self._checkpoint(model.state_dict())
        else:
            model.load_state_dict(best_state)
        model.eval()
        return TrainResult(
            best_epoch=best_epoch,
            history=history,
            best_val_uar=None if best is None else best[0],
            seconds=time.perf_counter() - start,
            stopped_early=len(history) < self.epochs,
        )
