"""The names of avemotion's unsupervised test-time adaptation methods (no labels used).

``balance``: class biases shifted so that every emotion is about equally common in the batch;
``standardise``: features standardised with the batch's own statistics; ``both``: standardise,
then balance. Estimators implement them (:meth:`avemotion.estimators.layerwise.LayerwiseHead.adapt`);
the command line offers them (``--adapt``).
"""

from __future__ import annotations

__all__ = ["ADAPT_METHODS", "DEFAULT_ADAPT"]

#: Every adaptation method, by name.
ADAPT_METHODS = ("balance", "standardise", "both")

#: What ``--adapt`` alone means: the method that raised every row of the cross-corpus benchmark
#: and RAVDESS-SI5 (benchmarks/results/cross_corpus.json, ``adapted_by``).
DEFAULT_ADAPT = "both"
