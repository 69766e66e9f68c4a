"""The action-unit branch: emotion from OpenFace 2 AU features given beside the media.

The AU features are OpenFace FeatureExtraction outputs (AU01_r ... AU45_c), averaged over the
clip's frames where OpenFace succeeded; they come as a side input ``au`` of the clip: a mapping
of the 35 means, or the path of OpenFace's per-frame CSV. Without them the branch is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from avemotion.errors import AvemotionError, MissingInputError
from avemotion.estimators.neural import proba_in_label_order
from avemotion.prediction.branch import Branch, BranchOutput, ClipInputs

AUInput = Mapping[str, float] | str | os.PathLike[str] | None


class AUBranch(Branch):
    """The AU means in ``columns`` order, then ``head`` (an estimator with ``predict_proba`` and
    ``classes_``); ``labels``: the output order."""

    name = "au"
    needs = "side"

    def __init__(self, columns: Sequence[str], head: Any, labels: Sequence[str], *, info: dict[str, Any] | None = None) -> None:
        self.columns = list(columns)
        self.head = head
        self.labels = tuple(labels)
        self.info = dict(info or {})

    def vector(self, au: AUInput, source: str = "") -> np.ndarray:
        """The AU columns as a (35,) vector from a mapping or an OpenFace per-frame CSV
        (averaged over its successful frames). Raises MissingInputError when ``au`` is None or
        OpenFace found no face in any frame."""
        if au is None:
            raise MissingInputError(source, "no AU features given")
        if isinstance(au, Mapping):
            means: Mapping[str, float] = au
        else:
            from avemotion.corpora.openface import clip_au_means, read_openface_frames

            means = clip_au_means(read_openface_frames(au)).to_dict()
        missing = [c for c in self.columns if c not in means]
        if missing:
            raise AvemotionError(f"AU features lack {', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}")
        row = np.array([float(means[c]) for c in self.columns])
        if np.isnan(row).any():
            raise MissingInputError(source, "no frame where OpenFace found a face")
        return row

    def outputs(self, inputs: ClipInputs, *, embed: bool = False, timings: dict[str, float] | None = None) -> BranchOutput:
        x = self.vector(inputs.side.get("au"), inputs.source)
        return BranchOutput(proba_in_label_order(self.head, x[None], self.labels)[0], self.labels, features=x)

    def describe(self) -> dict[str, Any]:
        return {"branch": self.name, "needs": self.needs, "labels": list(self.labels), "columns": len(self.columns), **self.info}
