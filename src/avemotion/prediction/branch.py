"""The one interface every recognizer branch has.

A branch is one modality's model on one clip: it says what input it needs (:attr:`Branch.needs`:
``audio`` samples, decoded ``frames`` or a ``side`` input such as OpenFace AU features), and
:meth:`Branch.outputs` turns a clip's :class:`ClipInputs` into a :class:`BranchOutput`: its
probabilities over :attr:`Branch.labels` and, on request, its embedding. A branch that cannot
use the clip (silent audio, too little speech, no face) raises the
:class:`~avemotion.errors.MediaError` that says why; the recognizer reports it as skipped.

The :class:`~avemotion.prediction.recognizer.Recognizer` decodes each clip once and hands every
branch its part: :mod:`.audio` (speech), :mod:`.face` (a frame expression model over the
detected faces), :mod:`.video` (a face-sequence network) and :mod:`.au` (action units).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from avemotion.media.decode import Frames

Needs = Literal["audio", "frames", "side"]


@dataclass
class ClipInputs:
    """What one clip (or one timeline window) offers the branches.

    ``signal``: mono float32 audio at ``sr`` Hz (None without an audio track); ``frames``: the
    decoded RGB keyframes with their times (None without video, or for an image: one frame at
    time 0); ``side``: side inputs by name (e.g. ``"au"``: OpenFace AU means or a per-frame CSV
    path); ``start`` / ``duration``: where the clip (or window) starts in the media and how
long it is, in seconds (0 for an image).
    """

    source: str
    signal: np.ndarray | None = None
    frames: Frames | None = None
    side: Mapping[str, Any] = field(default_factory=dict)
    sr: int = 16000
    start: float = 0.0
    duration: float = 0.0
    is_image: bool = False


@dataclass
class BranchOutput:
    """One branch's result for a clip: ``proba`` (n_labels,) over ``labels``; when asked, the
    model's penultimate ``embedding`` (D,); ``features``: the input vector the branch's model
    read, for fusers that fuse features (the ``av-au`` bundle's); ``novelty``: how unlike the
    model's training corpora the clip is, 0 to 1, where the model can tell (a gated ``layerwise``
    head, :meth:`avemotion.estimators.layerwise.LayerwiseHead.novelty`)."""

    proba: np.ndarray
    labels: tuple[str, ...]
    embedding: np.ndarray | None = None
    features: np.ndarray | None = None
    novelty: float | None = None


class Branch(ABC):
    """One modality's model behind the recognizer's one interface (see the module docstring)."""

    #: The modality name (``audio``, ``face``, ``video``, ``au``): the key of its output.
    name: str
    #: The labels of :attr:`BranchOutput.proba`, in order.
    labels: tuple[str, ...]
    #: The input it reads from :class:`ClipInputs`.
    needs: Needs

    def frame_times(self, duration: float, *, timeline: bool = False) -> np.ndarray | None:
        """The times (s, from the clip's start) of the frames the branch reads from a ``duration``
        s video, or None when it reads no frames. ``timeline``: for a timeline over the whole
        video (frames at a steady rate, no cap)."""
        return None

    @abstractmethod
    def outputs(self, inputs: ClipInputs, *, embed: bool = False, timings: dict[str, float] | None = None) -> BranchOutput:
        """The branch's output for the clip; stage seconds go into ``timings``. Raises the
        :class:`~avemotion.errors.MediaError` saying why it cannot use the clip."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Name, labels, model and what it was trained on, for ``avemotion info`` and the service."""


def frames_at(frames: Frames, times: np.ndarray, *, unique: bool = False) -> Frames:
    """For each of ``times`` (s), the frame of ``frames`` nearest to it (or, ``unique``, each
    such frame once, in time order)."""
    if not len(frames):
        return frames
    index = np.abs(frames.times[None, :] - np.asarray(times, dtype=np.float64)[:, None]).argmin(axis=1)
    if unique:
        index = np.unique(index)
    return Frames(frames.images[index], frames.times[index])
