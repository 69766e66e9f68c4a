"""Emotion from a media file: the audio and face models, fused, per clip or as a timeline.

>>> rec = Recognizer.load("default")        # shipped audio + face models, product-rule fusion
>>> rec.analyse("talk.mp4").emotion         # 'happy'
>>> rec.predict_proba("talk.mp4")           # {"neutral": 0.01, "calm": 0.02, "happy": 0.81, ...}
>>> rec.timeline("talk.mp4", window=2.0, hop=1.0)

A video with audio uses both modalities; a video without an audio track, a video where no face
is found, an audio file or an image uses what is there, and :attr:`Prediction.used` /
:attr:`Prediction.skipped` say which modalities were used and why the others were not. The face
model's labels (the basic seven, no calm) are put on the recognizer's label set by
:func:`avemotion.fusion.map_proba` (calm <- neutral) before fusing.

A recognizer fuses its branches with a fixed rule (``product``, ``mean``, optionally weighted)
or with a learned fuser: a fitted :class:`~avemotion.fusion.multimodal.MultimodalClassifier`
whose modalities are the branches' outputs, their class probabilities (decision level:
``weighted``, ``bel``, ``bel_gd``, ``stacked``) or their penultimate embeddings (feature level:
``mobel``, ``mobel_gd``, ``fc``, ``gated``); :func:`~avemotion.training.systems.fit_system`
trains one on speakers the branches never saw.

A recognizer bundle (kind ``recognizer``) is a folder with ``bundle.json`` naming its parts:
``audio`` and ``face`` are sub-folders holding complete bundles (or, in the shipped ``default``,
the names of shipped bundles), plus the fusion rule and label set, and ``fuser/`` when the
fusion is learned.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from avemotion.audio.features import check_speech
from avemotion.bundles import (
    BUNDLE_FILE, FORMAT, Bundle, BundleError, load_bundle, resolve, save_bundle, versions, writing_folder,
)
from avemotion.corpora.labels import label_set
from avemotion.corpora.table import IMAGE_EXTENSIONS
from avemotion.errors import AvemotionError, MediaError, NoFaceError, SilentAudioError, TooLittleSpeechError
from avemotion.fusion.labels import map_proba
from avemotion.fusion.multimodal import FEATURE_LEVEL, FUSIONS, MultimodalClassifier
from avemotion.fusion.rules import RULES
from avemotion.media.decode import Frames, MediaInfo, load_audio, load_clip, probe, stream_frames
from avemotion.prediction.audio import AudioEmotionModel
from avemotion.prediction.video import VideoEmotionModel
from avemotion.training.pipeline import SAMPLE_RATE
from avemotion.visual.expression import FaceExpressionModel
from avemotion.visual.faces import FaceDetector, HaarDetector, crops_of_frames

#: Model class of each recognizer part.
PART_MODELS = {"audio": AudioEmotionModel, "face": FaceExpressionModel, "video": VideoEmotionModel}
#: Fusion methods a recognizer learns (a fitted fuser) rather than applies as a fixed rule.
LEARNED_FUSIONS = tuple(f for f in FUSIONS if f not in RULES)
#: Frames a timeline decodes at a time (it holds one window's frames plus one such chunk).
TIMELINE_CHUNK = 32
_TIME_EPS = 1e-6


@dataclass
class BranchOutput:
    """One branch's result for a clip: ``proba`` (n_labels,) over ``labels`` and, when a
    feature-level fuser needs it, the model's penultimate ``embedding`` (D,)."""

    proba: np.ndarray
    labels: Sequence[str]
    embedding: np.ndarray | None = None


def fuser_inputs(fusion: str) -> str:
    """What a learned fuser reads from each branch: ``"embedding"`` (feature level) or ``"proba"``."""
    return "embedding" if fusion in FEATURE_LEVEL else "proba"


@dataclass
class Prediction:
    """One clip's (or one timeline window's) result.

    ``probabilities``: fused, over the recognizer's labels; ``modalities``: each used modality's
    own probabilities over its model's labels; ``used``: the modalities fused; ``skipped``:
    modality -> why it was not used; ``start`` / ``end``: the window in seconds (timeline);
    ``timings``: seconds spent per stage (decode, face_detection, face_model, audio_features,
    audio_model, fusion) by :meth:`Recognizer.analyse`.
    """

    source: str
    emotion: str
    confidence: float
    probabilities: dict[str, float]
    modalities: dict[str, dict[str, float]]
    used: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_fused(
        cls,
        source: str,
        labels: Sequence[str],
        fused: np.ndarray,
        modalities: dict[str, dict[str, float]],
        skipped: dict[str, str],
        start: float | None = None,
        end: float | None = None,
    ) -> Prediction:
        """The prediction for fused probabilities ``fused`` (len(labels),) over ``labels``;
        ``modalities``: each used modality's own probabilities."""
        best = int(np.argmax(fused))
        return cls(
            source=source,
            emotion=labels[best],
            confidence=float(fused[best]),
            probabilities={label: float(p) for label, p in zip(labels, fused)},
            modalities=modalities,
            used=list(modalities),
            skipped=skipped,
            start=start,
            end=end,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the ``--json`` schema of ``avemotion predict``)."""
        return asdict(self)


class Recognizer:
    """Audio model + face model (+ video model) + a late-fusion rule (``"product"`` or ``"mean"``,
    optionally weighted: ``weights={"audio": 0.6, "face": 0.4}``) or a learned ``fuser`` (with
    ``fusion`` one of :data:`LEARNED_FUSIONS`; its modalities are named after the parts).

    Either model may be ``None`` (an audio-only or face-only recognizer). A clip's face is
    analysed on ``max(n_frames, duration * frames_per_second)`` evenly spaced frames, at most
    ``max_frames`` (256: 8 frames/s up to 32 s; a longer video gets 256 frames spread evenly
    over its whole length, so memory stays bounded: 180 MB of RGB frames at 640x360, 700 MB at
    1280x720, plus half that for the decoded frames until converted). A timeline analyses ``frames_per_second`` over the whole video without a cap,
    decoding it in chunks of :data:`TIMELINE_CHUNK` frames and holding only the frames of the
    windows in progress. The face detector (default: Haar on a 240-pixel copy) runs on every
    ``detect_every``-th frame and the track carries the box between (see
    :func:`~avemotion.visual.faces.track_faces`).
    """

    def __init__(
        self,
        audio: AudioEmotionModel | None = None,
        face: FaceExpressionModel | None = None,
        *,
        video: VideoEmotionModel | None = None,
        labels: Sequence[str] | str = "ravdess8",
        fusion: str = "product",
        weights: dict[str, float] | None = None,
        n_frames: int = 12,
        frames_per_second: float = 8.0,
        max_frames: int = 256,
        detector: FaceDetector | None = None,
        detect_every: int = 4,
        name: str = "custom",
        fuser: MultimodalClassifier | None = None,
    ) -> None:
        if audio is None and face is None and video is None:
            raise ValueError("a recognizer needs an audio, a face or a video model")
        if fusion in LEARNED_FUSIONS:
            if fuser is None or fuser.fusion != fusion:
                raise ValueError(f"fusion {fusion!r} is learned: it needs a fitted fuser of that method")
            present = {p for p, m in (("audio", audio), ("face", face), ("video", video)) if m is not None}
            if not set(fuser.names) <= present:
                raise ValueError(f"the fuser reads {', '.join(fuser.names)} but the recognizer has {', '.join(sorted(present))}")
        elif fusion not in RULES:
            raise ValueError(f"fusion must be one of {', '.join((*RULES, *LEARNED_FUSIONS))}, got {fusion!r}")
        elif fuser is not None:
            raise ValueError(f"a fuser needs a learned fusion ({', '.join(LEARNED_FUSIONS)}), not {fusion!r}")
        self.fuser = fuser
        self.audio, self.face, self.video = audio, face, video
        self.labels = label_set(labels)
        self.fusion = fusion
        self.weights = None if weights is None else {m: float(w) for m, w in weights.items()}
        if not 1 <= n_frames <= max_frames:
            raise ValueError(f"need 1 <= n_frames <= max_frames, got {n_frames} and {max_frames}")
        self.n_frames = n_frames
        self.frames_per_second = frames_per_second
        self.max_frames = max_frames
        self.detector = detector or HaarDetector(work_size=240, scale_factor=1.2)
        self.detect_every = detect_every
        self.name = name

    # --- loading and saving ------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "default") -> Recognizer:
        """A shipped recognizer (``"default"``) or a recognizer bundle folder; an audio or face
        bundle (by name or path) gives a single-modality recognizer."""
        folder = resolve(name_or_path)
        config = json.loads((folder / BUNDLE_FILE).read_text())
        kind = config.get("kind")
        if kind == "audio":
            return cls(AudioEmotionModel.load(folder), None, labels=config["labels"], name=config["name"])
        if kind == "face":
            return cls(None, FaceExpressionModel.load(folder), labels=config["labels"], name=config["name"])
        if kind == "video":
            return cls(video=VideoEmotionModel.load(folder), labels=config["labels"], name=config["name"])
        if kind != "recognizer":
            raise BundleError(folder, f"a {kind!r} bundle is not a recognizer (use avemotion.load for it)")
        parts = {}
        for part, model in PART_MODELS.items():
            ref = config["parts"].get(part)
            if ref is not None:
                local = folder / ref
                parts[part] = model.load(local if (local / BUNDLE_FILE).is_file() else ref)
        fuser = MultimodalClassifier.load(folder / "fuser") if config["fusion"] in LEARNED_FUSIONS else None
        return cls(
            parts.get("audio"), parts.get("face"), video=parts.get("video"), labels=config["labels"], fusion=config["fusion"],
            weights=config.get("weights"), n_frames=config.get("n_frames", 12), max_frames=config.get("max_frames", 256),
            name=config["name"], fuser=fuser,
        )

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write a self-contained recognizer bundle (its parts copied into ``audio/``, ``face/``,
        ``video/``)."""
        with writing_folder(path, overwrite=overwrite) as tmp:
            parts = {}
            for part, model in self.parts().items():
                if model is None:
                    continue
                if (model.bundle.path / BUNDLE_FILE).is_file():
                    shutil.copytree(model.bundle.path, tmp / part)
                else:  # fitted in memory by fit()
                    c = model.bundle.config
                    save_bundle(tmp / part, model.bundle.estimator, name=c["name"], kind=c["kind"],
                                recipe=c["recipe"], trained_on=c["trained_on"])
                parts[part] = part
            if self.fuser is not None:
                self.fuser.save(tmp / "fuser")
            config = {
                "format": FORMAT, "name": Path(path).name, "kind": "recognizer", "labels": list(self.labels),
                "parts": parts, "fusion": self.fusion, "weights": self.weights, "n_frames": self.n_frames,
                "max_frames": self.max_frames,
                "versions": versions(),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
            (tmp / BUNDLE_FILE).write_text(json.dumps(config, indent=2) + "\n")
        return Path(path)

    def fit(self, table: pd.DataFrame, *, recipe: str | dict[str, Any] = "audio_whisper") -> Recognizer:
        """Retrain the audio model on the clips of a corpus table (``read_corpus(...).table``)
        with an audio recipe (validation speakers taken from the table's speakers); the face
        model is kept (it trains on still images: ``scripts/train_face_model.py``). Returns self;
        :meth:`save` writes the result."""
        from avemotion.recipes import load_recipe
        from avemotion.training.pipeline import fit_recipe

        spec = load_recipe(recipe) if isinstance(recipe, str) else recipe
        estimator, info = fit_recipe(spec, table, progress=False)
        config = {"name": "audio", "kind": "audio", "labels": list(label_set(spec["labels"])), "recipe": spec,
                  "trained_on": info}
        self.audio = AudioEmotionModel(Bundle(Path("<fitted in memory>"), config, estimator))
        return self

    def adapted(self, paths: Sequence[str | os.PathLike[str]]) -> Recognizer:
        """A copy whose audio model is adapted, without labels, to the audio of ``paths``
        (:meth:`AudioEmotionModel.adapted`: unsupervised test-time adaptation over a batch of one
        corpus or recording set; every file is read once more for it). Other parts are shared."""
        if self.audio is None:
            raise AvemotionError("adaptation needs an audio model; this recognizer has none")
        adapted = copy.copy(self)
        adapted.audio = self.audio.adapted([os.fspath(p) for p in paths])
        return adapted

    def describe(self) -> dict[str, Any]:
        """The recognizer's parts, labels and fusion (with the learned fuser's inputs)."""
        fuser = None
        if self.fuser is not None:
            fuser = {"inputs": fuser_inputs(self.fusion), "modalities": dict(self.fuser.modalities),
                     "labels": [str(c) for c in self.fuser.classes_]}
        return {
            "name": self.name,
            "labels": list(self.labels),
            "fusion": self.fusion,
            "fuser": fuser,
            "audio": self.audio.describe() if self.audio else None,
            "face": dict(self.face.bundle.config["trained_on"]) | {"labels": list(self.face.labels)} if self.face else None,
            "video": dict(self.video.bundle.config["trained_on"]) | {"labels": list(self.video.labels)} if self.video else None,
        }

    # --- one clip ------------------------------------------------------------------------

    @property
    def _wants_embeddings(self) -> bool:
        return self.fuser is not None and fuser_inputs(self.fusion) == "embedding"

    def _audio_output(self, signal: np.ndarray, source: str, timings: dict[str, float], embed: bool) -> BranchOutput:
        """The audio model's output for ``signal``; stage seconds added to ``timings``.
        Raises SilentAudioError or TooLittleSpeechError."""
        assert self.audio is not None
        tic = time.perf_counter()
        check_speech(signal, SAMPLE_RATE, source)
        features = self.audio.features(signal)[None]
        mid = time.perf_counter()
        out = BranchOutput(self.audio.bundle.predict_proba(features)[0], self.audio.labels)
        if embed:
            out.embedding = np.asarray(self.audio.bundle.estimator.embed(features), dtype=np.float64)[0]
        timings.update(audio_features=mid - tic, audio_model=time.perf_counter() - mid)
        return out

    def _face_output(self, frames: Frames, source: str, timings: dict[str, float], embed: bool) -> BranchOutput:
        """The face model's output averaged over the tracked face's crops of ``frames``;
        stage seconds added to ``timings``. Raises NoFaceError."""
        assert self.face is not None
        tic = time.perf_counter()
        size = (self.face.size, self.face.size)
        crops = crops_of_frames(
            frames, source, detector=self.detector, size=size, gray=True, detect_every=self.detect_every
        ).crops[..., 0]
        mid = time.perf_counter()
        out = BranchOutput(self.face.proba_of_crops(crops).mean(axis=0), self.face.labels)
        if embed:
            out.embedding = self.face.embed_crops(crops).mean(axis=0).astype(np.float64)
        timings.update(face_detection=mid - tic, face_model=time.perf_counter() - mid)
        return out

    def _branches(
        self, source: str, frames: Frames | None, signal: np.ndarray | None, skipped: dict[str, str],
        timings: dict[str, float], embed: bool, errors: dict[str, MediaError] | None = None,
    ) -> dict[str, BranchOutput]:
        """The audio and face models' outputs where their input is there (with embeddings when
        ``embed``); a silent signal, too little speech or no face found goes into ``skipped``
        instead (and the error into ``errors``)."""
        parts: dict[str, BranchOutput] = {}
        errors = {} if errors is None else errors
        if signal is not None and self.audio is not None:
            try:
                parts["audio"] = self._audio_output(signal, source, timings, embed)
            except SilentAudioError as error:
                skipped["audio"], errors["audio"] = "silent audio", error
            except TooLittleSpeechError as error:
                skipped["audio"], errors["audio"] = error.problem, error
        if frames is not None and self.face is not None:
            try:
                parts["face"] = self._face_output(frames, source, timings, embed)
            except NoFaceError as error:
                skipped["face"], errors["face"] = "no face found", error
        return parts

    def _fused_proba(self, parts: dict[str, BranchOutput]) -> np.ndarray:
        """(n_labels,) fused probabilities over :attr:`labels` of the branches' outputs."""
        if self.fuser is None:
            names = list(parts)
            mapped = [map_proba(o.proba[None], o.labels, self.labels) for o in parts.values()]
            weights = None if self.weights is None else [self.weights[m] for m in names]
            return RULES[self.fusion](mapped, weights)[0]
        blocks = []
        for name, dim in self.fuser.modalities:
            out = parts.get(name)
            value = None if out is None else out.embedding if self._wants_embeddings else out.proba
            blocks.append(np.full(dim, np.nan) if value is None else np.asarray(value, dtype=np.float64))
        fused = self.fuser.predict_proba(np.concatenate(blocks)[None])
        return map_proba(fused, self.fuser.classes_, self.labels)[0]

    def _fuse(self, source: str, parts: dict[str, BranchOutput], skipped: dict[str, str],
              start: float | None = None, end: float | None = None,
              errors: dict[str, MediaError] | None = None) -> Prediction:
        """The fused prediction of ``parts``. Without any: the error of the one modality tried
        (``errors``: e.g. too little speech in an audio file), else every skip reason."""
        if not parts:
            if errors and len(errors) == 1:
                raise next(iter(errors.values()))
            reasons = "; ".join(f"{m}: {r}" for m, r in skipped.items())
            raise AvemotionError(f"{source}: nothing to recognise ({reasons})")
        own = {m: {label: float(v) for label, v in zip(o.labels, o.proba)} for m, o in parts.items()}
        return Prediction.from_fused(source, self.labels, self._fused_proba(parts), own, skipped, start, end)

    def branch_outputs(
        self, path: str | os.PathLike[str], *, embed: bool | None = None, timings: dict[str, float] | None = None
    ) -> tuple[dict[str, BranchOutput], dict[str, str]]:
        """Each usable branch's output for the clip at ``path`` (one decoding pass; with
        embeddings when ``embed``, default: when the fuser reads them) and modality -> why the
        others were skipped; stage seconds go into ``timings``. Raises the media errors naming
        the file."""
        embed = self._wants_embeddings if embed is None else embed
        parts, skipped, _ = self._outputs(os.fspath(path), embed, {} if timings is None else timings)
        return parts, skipped

    def _outputs(
        self, source: str, embed: bool, timings: dict[str, float]
    ) -> tuple[dict[str, BranchOutput], dict[str, str], dict[str, MediaError]]:
        """:meth:`branch_outputs`, plus the errors of the branches that were tried and failed."""
        tic = time.perf_counter()
        frames, signal, skipped = self._decode(source)
        timings["decode"] = time.perf_counter() - tic
        errors: dict[str, MediaError] = {}
        parts = self._branches(source, frames, signal, skipped, timings, embed, errors)
        if self.video is not None and "video" not in skipped:
            tic = time.perf_counter()
            try:
                parts["video"] = self._video_output(source, embed)
            except NoFaceError as error:
                skipped["video"], errors["video"] = "no face found", error
            timings["video_model"] = time.perf_counter() - tic
        return parts, skipped, errors

    def _video_output(self, source: str, embed: bool) -> BranchOutput:
        assert self.video is not None
        proba, embedding = self.video.outputs(source, embed=embed)
        return BranchOutput(proba, self.video.labels, embedding)

    def parts(self) -> dict[str, Any]:
        """The recognizer's models by modality (``audio``, ``face``, ``video``), None where absent."""
        return {"audio": self.audio, "face": self.face, "video": self.video}

    def frame_count(self, duration: float, *, timeline: bool = False) -> int:
        """Frames the face branch analyses in a video of ``duration`` s:
        ``max(n_frames, duration * frames_per_second)``, at most :attr:`max_frames` for a
        whole-clip prediction (not for a ``timeline``, which decodes in chunks)."""
        n = max(self.n_frames, int(np.ceil(duration * self.frames_per_second)))
        return n if timeline else min(n, self.max_frames)

    def _skipped(self, info: MediaInfo | None) -> dict[str, str]:
        """Modality -> why it cannot be used, for media ``info`` (None: an image) and the models there are."""
        skipped: dict[str, str] = {}
        if info is None:
            skipped["audio"] = "an image has no audio"
            if self.video is not None:
                skipped["video"] = "an image is not a video"
        else:
            if not info.has_video:
                skipped["face"] = skipped["video"] = "no video stream"
            if not info.has_audio:
                skipped["audio"] = "no audio track"
        if self.audio is None:
            skipped.setdefault("audio", "no audio model")
        if self.face is None:
            skipped.setdefault("face", "no face model")
        if self.video is None:
            skipped.pop("video", None)
        return skipped

    def _image_frames(self, path: str) -> Frames | None:
        """The image at ``path`` as one RGB frame at time 0 (None without a face model)."""
        if self.face is None:
            return None
        from avemotion.corpora.images import load_image

        image = load_image(path)
        rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        return Frames(rgb[None], np.zeros(1))

    def _decode(self, path: str) -> tuple[Frames | None, np.ndarray | None, dict[str, str]]:
        """The clip's keyframes (:meth:`frame_count`), 16 kHz audio and modality -> why it is
        skipped, as far as the models need them and the file has them (one decoding pass)."""
        if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
            return self._image_frames(path), None, self._skipped(None)
        info = probe(path)
        frames, signal = None, None
        if info.has_video and self.face is not None:
            frames, signal = load_clip(path, n_frames=self.frame_count(info.duration), sr=SAMPLE_RATE)
        elif info.has_audio and self.audio is not None:
            signal = load_audio(path, SAMPLE_RATE)
        return frames, signal, self._skipped(info)

    def _timeline_inputs(self, path: str) -> tuple[Iterable[Frames] | None, np.ndarray | None, dict[str, str], float]:
        """For :meth:`timeline`: the keyframes as a lazy stream of chunks (one decoding pass,
        started when first read), 16 kHz audio, modality -> why it is skipped, and duration (s)."""
        if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
            frames = self._image_frames(path)
            return None if frames is None else [frames], None, self._skipped(None), 0.0
        info = probe(path)
        signal = load_audio(path, SAMPLE_RATE) if info.has_audio and self.audio is not None else None
        chunks = None
        if info.has_video and self.face is not None:
            n = self.frame_count(info.duration, timeline=True)
            chunks = stream_frames(path, n=n, chunk=TIMELINE_CHUNK)
        return chunks, signal, self._skipped(info), info.duration

    def analyse(self, path: str | os.PathLike[str]) -> Prediction:
        """The clip's fused prediction. Raises an :class:`~avemotion.errors.AvemotionError`
        naming the file when it cannot be read or no modality is usable (the modality's own
        error when only one could be tried, e.g. too little speech in an audio file)."""
        source = os.fspath(path)
        timings: dict[str, float] = {}
        parts, skipped, errors = self._outputs(source, self._wants_embeddings, timings)
        tic = time.perf_counter()
        prediction = self._fuse(source, parts, skipped, errors=errors)
        timings["fusion"] = time.perf_counter() - tic
        prediction.timings = timings
        return prediction

    def predict_proba(self, path: str | os.PathLike[str]) -> dict[str, float]:
        """Emotion -> fused probability for the clip at ``path``."""
        return self.analyse(path).probabilities

    def predict(self, path: str | os.PathLike[str]) -> str:
        """The most probable emotion of the clip at ``path``."""
        return self.analyse(path).emotion

    # --- timeline ------------------------------------------------------------------------

    def timeline(self, path: str | os.PathLike[str], *, window: float = 2.0, hop: float = 1.0) -> list[Prediction]:
        """Predictions over sliding windows of ``window`` s every ``hop`` s (the last window
        ends at the end of the media; a clip shorter than ``window`` gives one window).

        Any length: the audio is held whole (16 kHz float32, about 4 MB a minute) and the video
        is decoded in chunks as the windows advance, holding only the frames of the window in
        progress (``window * frames_per_second``) plus one chunk. Windows where nothing can be
        recognised are left out; when none can, the error names the file (a single window's
        own error, e.g. too little speech)."""
        if window <= 0 or hop <= 0:
            raise ValueError("window and hop must be > 0 seconds")
        source = os.fspath(path)
        chunks, signal, skipped, duration = self._timeline_inputs(source)
        spans = _spans(duration, window, hop)
        out: list[Prediction] = []
        failure: AvemotionError | None = None
        for (start, end), inside in zip(spans, _frames_per_window(chunks or [], spans), strict=True):
            why = dict(skipped)
            piece = None if signal is None else signal[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
            if chunks is not None and inside is None:
                why["face"] = "no face found"
            errors: dict[str, MediaError] = {}
            parts = self._branches(source, inside, piece, why, {}, self._wants_embeddings, errors)
            try:
                out.append(self._fuse(source, parts, why, start, end, errors))
            except AvemotionError as error:
                failure = error
        if not out:
            if len(spans) == 1 and failure is not None:
                raise failure
            raise AvemotionError(f"{source}: no window could be recognised ({', '.join(skipped.values()) or 'silent, no face'})")
        return out


def _spans(duration: float, window: float, hop: float) -> list[tuple[float, float]]:
    """The timeline's (start, end) windows (s) over ``duration`` s: every ``hop`` s, the last one
    ending at the end; one window ``(0, min(duration, window))`` (``(0, window)`` for an image)
    when the media is no longer than ``window``. Starts and ends increase."""
    starts = list(np.arange(0.0, max(duration - window, 0.0) + 1e-9, hop))
    if duration > window and starts[-1] + window < duration - 1e-6:
        starts.append(duration - window)
    return [(float(s), float(min(s + window, duration) if duration > 0 else window)) for s in starts]


def _frames_per_window(chunks: Iterable[Frames], spans: Sequence[tuple[float, float]]) -> Iterator[Frames | None]:
    """For each (start, end) span (s, starts and ends increasing), the frames of ``chunks``
    (consecutive, in time order) with start <= time <= end, or None when there are none.

    Reads chunks only as far as the current span needs and drops the frames before its start,
    so it holds one span's frames plus one chunk."""
    stream = iter(chunks)
    held: Frames | None = None
    more = True
    for start, end in spans:
        while more and (held is None or len(held) == 0 or held.times[-1] < end + _TIME_EPS):
            chunk = next(stream, None)
            if chunk is None:
                more = False
            elif held is None or len(held) == 0:
                held = chunk
            else:
                held = Frames(np.concatenate([held.images, chunk.images]), np.concatenate([held.times, chunk.times]))
        if held is None:
            yield None
            continue
        first = int(np.searchsorted(held.times, start, side="left"))
        held = Frames(held.images[first:], held.times[first:])
        stop = int(np.searchsorted(held.times, end + _TIME_EPS, side="left"))
        yield Frames(held.images[:stop], held.times[:stop]) if stop else None


def load(name_or_path: str | os.PathLike[str] = "default") -> Any:
    """A ready-to-use model by name or path: ``"default"`` (audio + face, fused), any recognizer,
    audio or face bundle (a :class:`Recognizer`), or ``"ravdess-av-au"`` (an
    :class:`~avemotion.prediction.av_au.AudioAURecognizer`)."""
    folder = resolve(name_or_path)
    if json.loads((folder / BUNDLE_FILE).read_text()).get("kind") == "av-au":
        from avemotion.prediction.av_au import AudioAURecognizer

        return AudioAURecognizer(load_bundle(folder))
    return Recognizer.load(folder)


__all__ = ["Prediction", "Recognizer", "load"]
