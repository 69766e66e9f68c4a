"""The video branch: emotion from the face sequence of a clip with a video bundle (the seeds'
3D-CNN, 2D CNN, CNN-LSTM, trained with ``avemotion train --recipe video_...``).

The bundle's recipe reads ``face_sequence`` features (:mod:`avemotion.visual.extract`): crops of
one tracked face on ``n`` evenly spaced frames. The branch makes them from the frames the
recognizer decoded (the frames nearest to its ``n`` times), as training made them from the file,
and writes nothing into the feature cache.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from avemotion.bundles import Bundle, load_bundle
from avemotion.errors import AvemotionError, NoVideoStreamError
from avemotion.media.decode import evenly_spaced_times
from avemotion.prediction.branch import Branch, BranchOutput, ClipInputs, frames_at
from avemotion.visual.extract import video_extractor_params
from avemotion.visual.faces import crops_of_frames, make_detector


class VideoBranch(Branch):
    """A loaded video bundle: face-sequence crops of the clip's frames, then its network.

    A timeline window gets its ``n`` frames from frames decoded at ``frames_per_second`` over
    the whole video.
    """

    name = "video"
    needs = "frames"

    def __init__(self, bundle: Bundle, *, frames_per_second: float = 8.0) -> None:
        if bundle.config.get("kind") != "video":
            raise AvemotionError(f"{bundle.path}: not a video bundle (kind {bundle.config.get('kind')!r})")
        features = bundle.recipe["features"]
        if features["extractor"] != "face_sequence":
            raise AvemotionError(f"{bundle.path}: a video branch reads face_sequence features, not {features['extractor']!r}")
        self.bundle = bundle
        self.labels = bundle.labels
        self.params = video_extractor_params("face_sequence", **features["params"])
        self.detector = make_detector(self.params["detector"])
        self.frames_per_second = frames_per_second

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str]) -> VideoBranch:
        return cls(load_bundle(name_or_path))

    def frame_times(self, duration: float, *, timeline: bool = False) -> np.ndarray:
        if timeline:
            return evenly_spaced_times(duration, max(self.params["n"], int(np.ceil(duration * self.frames_per_second))))
        return evenly_spaced_times(duration, self.params["n"])

    def outputs(self, inputs: ClipInputs, *, embed: bool = False, timings: dict[str, float] | None = None) -> BranchOutput:
        if inputs.frames is None or inputs.is_image:
            raise NoVideoStreamError(inputs.source, "an image is not a video" if inputs.is_image else "no video stream")
        tic = time.perf_counter()
        frames = frames_at(inputs.frames, inputs.start + evenly_spaced_times(inputs.duration, self.params["n"]))
        size = self.params["size"] if isinstance(self.params["size"], str) else tuple(self.params["size"])
        crops = crops_of_frames(
            frames, inputs.source, detector=self.detector, size=size, gray=self.params["gray"], margin=self.params["margin"]
        ).crops
        x = crops[None]
        out = BranchOutput(self.bundle.predict_proba(x)[0], self.labels)
        if embed:
            out.embedding = np.asarray(self.bundle.estimator.embed(x), dtype=np.float64)[0]
        if timings is not None:
            timings["video_model"] = time.perf_counter() - tic
        return out

    def describe(self) -> dict[str, Any]:
        c = self.bundle.config
        return {"branch": self.name, "needs": self.needs, "labels": list(self.labels), "name": c["name"],
                "path": str(self.bundle.path), "features": self.params, "trained_on": c["trained_on"]}
