"""Evaluation: reports of cross-validation runs (predictions, metrics, confusion matrices, ROC
curves) as files and plots, in :mod:`.report`; the metrics themselves are shared by every layer
and live in :mod:`avemotion.core.metrics`."""
