"""Evaluation: classification metrics on integer labels and probability matrices."""

from __future__ import annotations

from .metrics import confusion, log_loss, macro_f1, mean_std, per_class, summarize_metrics, uar, war

__all__ = ["confusion", "log_loss", "macro_f1", "mean_std", "per_class", "summarize_metrics", "uar", "war"]
