"""Emotion from a media file: every branch's model on the clip, fused, per clip or as a timeline.

>>> rec = Recognizer.load("default")        # shipped audio + face branches, product-rule fusion
>>> rec.analyse("talk.mp4").emotion         # 'happy'
>>> rec.predict_proba("talk.mp4")           # {"neutral": 0.01, "calm": 0.02, "happy": 0.81, ...}
>>> rec.timeline("talk.mp4", window=2.0, hop=1.0)

A recognizer is a set of :class:`~avemotion.prediction.branch.Branch` objects (audio, face,
video, AU) and a fusion. It decodes each clip once (:func:`~avemotion.media.decode.load_media`:
the audio and the union of the frames its branches ask for), hands every branch its part, fuses
what it gets, and says in :attr:`Prediction.used` / :attr:`Prediction.skipped` which branches
were used and why the others were not (no audio track, silent audio, no face found, no AU
features given...). Branch labels are put on the recognizer's label set by
:func:`avemotion.fusion.map_proba` (the face model's neutral stands in for calm) before fusing.

Fusion: a fixed rule (``product``, ``mean``, optionally weighted) or a fitted
:class:`~avemotion.fusion.multimodal.MultimodalClassifier` (``fuser``) whose modalities are the
branches' probabilities (decision level), their embeddings (feature level) or, for the
``av-au`` bundle, the very features the branches read (``fuser_reads="features"``).

Bundles of every kind load as a recognizer (:meth:`Recognizer.load`): ``audio``, ``face`` and
``video`` bundles as one branch; ``av-au`` as audio + AU branches fused by its classifier;
``recognizer`` bundles name their parts (sub-folders, or ``shipped:NAME``) and the fusion.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from avemotion.bundles import (
    BUNDLE_FILE,
    Bundle,
    BundleError,
    load_bundle,
    load_estimator,
    part_folder,
    read_config,
    save_bundle,
    write_config,
    writing_folder,
)
from avemotion.core.adaptation import DEFAULT_ADAPT
from avemotion.core.formats import IMAGE_EXTENSIONS
from avemotion.core.labels import label_set
from avemotion.errors import AvemotionError, MediaError
from avemotion.features import SAMPLE_RATE
from avemotion.fusion.labels import map_proba
from avemotion.fusion.multimodal import FEATURE_LEVEL, FUSIONS, MultimodalClassifier
from avemotion.fusion.rules import RULES
from avemotion.media.decode import Frames, load_audio, load_media, probe, stream_frames
from avemotion.prediction.au import AUBranch
from avemotion.prediction.audio import AudioBranch
from avemotion.prediction.branch import Branch, BranchOutput, ClipInputs
from avemotion.prediction.face import FaceBranch
from avemotion.prediction.video import VideoBranch

#: Fusion methods a recognizer learns (a fitted fuser) rather than applies as a fixed rule.
LEARNED_FUSIONS = tuple(f for f in FUSIONS if f not in RULES)
#: Frames a timeline decodes at a time (it holds one window's frames plus one such chunk).
TIMELINE_CHUNK = 32
FuserReads = Literal["proba", "embedding", "features"]
_TIME_EPS = 1e-6


def fuser_inputs(fusion: str) -> FuserReads:
    """What a learned fuser of ``fusion`` reads from each branch: ``"embedding"`` (feature level) or ``"proba"``."""
    return "embedding" if fusion in FEATURE_LEVEL else "proba"


@dataclass
class Prediction:
    """One clip's (or one timeline window's) result.

    ``probabilities``: fused, over the recognizer's labels; ``modalities``: each used branch's
    own probabilities over its model's labels; ``used``: the branches fused; ``skipped``:
    branch -> why it was not used; ``start`` / ``end``: the window in seconds (timeline);
    ``timings``: seconds spent per stage (decode, face_detection, face_model, audio_features,
    audio_model, video_model, fusion) by :meth:`Recognizer.analyse`; ``novelty``: branch -> how
    unlike its model's training corpora the clip is (0 to 1), for the branches that can tell
    (the shipped audio model: near 1 means its probabilities are calibrated as for a new corpus).
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
    novelty: dict[str, float] = field(default_factory=dict)

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
        novelty: dict[str, float] | None = None,
    ) -> Prediction:
        """The prediction for fused probabilities ``fused`` (len(labels),) over ``labels``;
        ``modalities``: each used branch's own probabilities; ``novelty``: per branch, where known."""
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
            novelty=dict(novelty or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the ``--json`` schema of ``avemotion predict``)."""
        return asdict(self)


class Recognizer:
    """Branches + a late-fusion rule (``"product"`` or ``"mean"``, optionally weighted:
    ``weights={"audio": 0.6, "face": 0.4}``) or a fitted ``fuser`` (``fusion`` must then be
    the fuser's method; its modalities are named after the branches; ``fuser_reads`` says what
    it reads of each, by default what its method reads). ``parallel``: run the branches of a
    clip at the same time (threads; the audio and face models release the GIL), each on an
    equal share of torch's threads; off by default: on 2 cores it was slower than one branch
    after the other on all of their threads (0.61 s against 0.58 s for a 4 s 720p clip).

    ``fast_decode``: decode only a video's reference frames when no branch needs the exact
    frames (a video branch reads the frames its network was trained on, so it turns this off):
    on 9 real and sample clips the face branch's top emotion stayed the same and its
    probabilities moved by 0.036 at most on average, against every frame decoded at 8 frames/s
    (``benchmarks/face_frames.py``).

    NumPy's OpenBLAS runs on one thread while a clip is analysed: its idle threads spin and
    took the cores from PyTorch's (the Whisper encoder ran 2x slower after a NumPy product)."""

    def __init__(
        self,
        branches: Sequence[Branch],
        *,
        labels: Sequence[str] | str = "ravdess8",
        fusion: str = "product",
        weights: dict[str, float] | None = None,
        fuser: MultimodalClassifier | None = None,
        fuser_reads: FuserReads | None = None,
        name: str = "custom",
        parallel: bool = False,
        fast_decode: bool = True,
    ) -> None:
        self.branches: dict[str, Branch] = {}
        for branch in branches:
            if branch.name in self.branches:
                raise ValueError(f"two branches named {branch.name!r}")
            self.branches[branch.name] = branch
        if not self.branches:
            raise ValueError("a recognizer needs at least one branch")
        if fuser is not None:
            if fuser.fusion != fusion:
                raise ValueError(f"the fuser fuses by {fuser.fusion!r}, not {fusion!r}")
            if not set(fuser.names) <= set(self.branches):
                raise ValueError(f"the fuser reads {', '.join(fuser.names)} but the recognizer has {', '.join(self.branches)}")
        elif fusion in LEARNED_FUSIONS:
            raise ValueError(f"fusion {fusion!r} is learned: it needs a fitted fuser of that method")
        elif fusion not in RULES:
            raise ValueError(f"fusion must be one of {', '.join((*RULES, *LEARNED_FUSIONS))}, got {fusion!r}")
        if weights is not None and set(weights) != set(self.branches):
            raise ValueError(f"weights name {', '.join(sorted(weights))} but the branches are {', '.join(self.branches)}")
        self.fuser = fuser
        self.fuser_reads: FuserReads | None = None if fuser is None else fuser_reads or fuser_inputs(fusion)
        self.labels = label_set(labels)
        self.fusion = fusion
        self.weights = None if weights is None else {m: float(w) for m, w in weights.items()}
        self.name = name
        self.parallel = parallel
        self.fast_decode = fast_decode

    # --- loading and saving ------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str | os.PathLike[str] = "default") -> Recognizer:
        """A shipped recognizer (``"default"``, ``"ravdess-av-au"``, ``"audio"``, ``"face"``) or
        a bundle folder of any kind. A missing or damaged part is a one-line BundleError naming
        the file."""
        folder, config = read_config(name_or_path)
        kind = config["kind"]
        name = config.get("name", folder.name)
        if kind in ("audio", "face", "video"):
            return cls([branch_of_bundle(Bundle(folder, config, load_estimator(folder, config)))], labels=config["labels"], name=name)
        if kind == "av-au":
            return cls._av_au(Bundle(folder, config, load_estimator(folder, config)))
        if kind != "recognizer":
            raise BundleError(folder / BUNDLE_FILE, f"unknown bundle kind {kind!r}")
        parts = config.get("parts")
        if not isinstance(parts, dict) or not parts:
            raise BundleError(folder / BUNDLE_FILE, "a recognizer bundle needs 'parts'")
        frames = {k: config[k] for k in ("n_frames", "max_frames", "frames_per_second") if k in config}
        branches = [branch_of_bundle(load_bundle(part_folder(folder, str(ref))), **frames) for ref in parts.values()]
        fuser = None
        if config.get("fusion") in LEARNED_FUSIONS:
            if not (folder / "fuser").is_dir():
                raise BundleError(folder / "fuser", "missing: the learned fuser's folder is not there")
            fuser = _load_fuser(folder / "fuser")
        return cls(branches, labels=config["labels"], fusion=config.get("fusion", "product"),
                   weights=config.get("weights"), fuser=fuser, name=name)

    @classmethod
    def _av_au(cls, bundle: Bundle) -> Recognizer:
        """An ``av-au`` bundle: audio features + OpenFace AU means, each branch the bundle's own
        head, fused by its classifier from the features."""
        model = bundle.estimator
        if not isinstance(model, MultimodalClassifier):
            raise BundleError(bundle.path / BUNDLE_FILE, "an av-au bundle holds a multimodal estimator")
        classes = [str(c) for c in model.classes_]
        modalities = bundle.recipe["modalities"]
        info = {"name": bundle.config["name"], "path": str(bundle.path), "trained_on": bundle.config.get("trained_on")}
        audio = AudioBranch(modalities["audio"]["features"], model.heads_["audio"], classes, info=info)
        au = AUBranch(modalities["au"]["columns"], model.heads_["au"], classes, info=info)
        return cls([audio, au], labels=bundle.labels, fusion=model.fusion, fuser=model, fuser_reads="features",
                   name=bundle.config["name"])

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write a self-contained recognizer bundle: each branch's bundle copied into a
        sub-folder named after it, the fuser into ``fuser/``."""
        if self.fuser_reads == "features":
            raise AvemotionError("a recognizer fused from features (an av-au bundle) is saved as that bundle")
        with writing_folder(path, overwrite=overwrite) as tmp:
            parts: dict[str, str] = {}
            for name, branch in self.branches.items():
                bundle: Bundle | None = getattr(branch, "bundle", None)
                if bundle is None:
                    raise AvemotionError(f"branch {name!r} has no bundle to save")
                if (bundle.path / BUNDLE_FILE).is_file():
                    shutil.copytree(bundle.path, tmp / name)
                else:  # fitted in memory
                    c = bundle.config
                    save_bundle(tmp / name, bundle.estimator, name=c["name"], kind=c["kind"], recipe=c["recipe"],
                                trained_on=c["trained_on"])
                parts[name] = name
            if self.fuser is not None:
                self.fuser.save(tmp / "fuser")
            config: dict[str, Any] = {"name": Path(path).name, "kind": "recognizer", "labels": list(self.labels),
                                      "parts": parts, "fusion": self.fusion, "weights": self.weights}
            face = self.branches.get("face")
            if isinstance(face, FaceBranch):
                config.update(n_frames=face.n_frames, max_frames=face.max_frames, frames_per_second=face.frames_per_second)
            write_config(tmp, config)
        return Path(path)

    def with_branch(self, branch: Branch) -> Recognizer:
        """A copy with ``branch`` in place of the branch of its name (or added); the fusion is
        kept when it is a rule, else it falls back to the product rule (a fuser learned on the
        old branch does not fit the new one)."""
        out = copy.copy(self)
        out.branches = {**self.branches, branch.name: branch}
        if self.fuser is not None:
            out.fuser, out.fuser_reads, out.fusion = None, None, "product"
        if out.weights is not None and set(out.weights) != set(out.branches):
            out.weights = None
        return out

    def adapted(self, paths: Sequence[str | os.PathLike[str]], method: str = DEFAULT_ADAPT) -> Recognizer:
        """A copy whose audio branch is adapted, without labels, to the audio of ``paths``
        (:meth:`AudioBranch.adapted` with ``method``: unsupervised test-time adaptation over a
        batch of one corpus or recording set; every file is read once more for it). Other
        branches are shared."""
        audio = self.branches.get("audio")
        if not isinstance(audio, AudioBranch):
            raise AvemotionError("adaptation needs an audio branch; this recognizer has none")
        out = copy.copy(self)
        out.branches = {**self.branches, "audio": audio.adapted([os.fspath(p) for p in paths], method)}
        return out

    def describe(self) -> dict[str, Any]:
        """The recognizer's branches, labels and fusion (with the learned fuser's inputs)."""
        fuser = None
        if self.fuser is not None:
            fuser = {"inputs": self.fuser_reads, "modalities": dict(self.fuser.modalities),
                     "labels": [str(c) for c in self.fuser.classes_]}
        return {"name": self.name, "labels": list(self.labels), "fusion": self.fusion, "weights": self.weights,
                "fuser": fuser, "branches": {n: b.describe() for n, b in self.branches.items()}}

    # --- one clip ------------------------------------------------------------------------

    @property
    def _embed(self) -> bool:
        return self.fuser_reads == "embedding"

    def _frame_branches(self) -> list[Branch]:
        return [b for b in self.branches.values() if b.needs == "frames"]

    def _frame_times(self, duration: float, *, timeline: bool = False) -> np.ndarray | None:
        """The union of the times (s) the frame branches want from a ``duration`` s video."""
        wanted = [t for b in self._frame_branches() if (t := b.frame_times(duration, timeline=timeline)) is not None]
        return np.unique(np.concatenate(wanted)) if wanted else None

    def _unusable(self, has_audio: bool, has_video: bool, is_image: bool) -> dict[str, str]:
        """Branch -> why the media cannot feed it (before any model runs)."""
        skipped: dict[str, str] = {}
        for name, branch in self.branches.items():
            if branch.needs == "audio" and not has_audio:
                skipped[name] = "an image has no audio" if is_image else "no audio track"
            elif branch.needs == "frames" and is_image and isinstance(branch, VideoBranch):
                skipped[name] = "an image is not a video"
            elif branch.needs == "frames" and not has_video:
                skipped[name] = "no video stream"
        return skipped

    def _decode(self, source: str, side: Mapping[str, Any]) -> tuple[ClipInputs, dict[str, str]]:
        """The clip's inputs (one decoding pass) and branch -> why it cannot be used."""
        if Path(source).suffix.lower() in IMAGE_EXTENSIONS:
            frames = None
            if self._frame_branches():
                from avemotion.corpora.images import load_image

                image = load_image(source)
                rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
                frames = Frames(rgb[None], np.zeros(1))
            return ClipInputs(source, None, frames, side, is_image=True), self._unusable(False, True, True)
        wants_audio = any(b.needs == "audio" for b in self.branches.values())
        exact = any(isinstance(b, VideoBranch) for b in self.branches.values())
        media = load_media(source, frame_times=self._frame_times if self._frame_branches() else None,
                           audio=wants_audio, sr=SAMPLE_RATE, reference_frames_only=self.fast_decode and not exact)
        duration = media.video_duration if media.frames is not None else media.duration
        inputs = ClipInputs(source, media.signal, media.frames, side, SAMPLE_RATE, 0.0, duration)
        return inputs, self._unusable(media.has_audio, media.has_video, False)

    def _outputs(
        self, inputs: ClipInputs, skipped: dict[str, str], timings: dict[str, float], *, per_clip_side: bool = True,
        embed: bool | None = None,
    ) -> tuple[dict[str, BranchOutput], dict[str, MediaError]]:
        """Every usable branch's output, in branch order; a branch that cannot use the clip goes
        into ``skipped`` (its error into the second result). With :attr:`parallel`, the branches
        run at the same time in threads (each on an equal share of torch's threads). ``embed``:
        ask every branch for its embedding (default: when the fuser reads embeddings)."""
        runnable = []
        for name, branch in self.branches.items():
            if name in skipped:
                continue
            if branch.needs == "side" and not per_clip_side:
                skipped[name] = f"{name} features are given per clip, not per window"
                continue
            runnable.append(branch)

        def run(branch: Branch) -> tuple[BranchOutput | MediaError, dict[str, float]]:
            own: dict[str, float] = {}
            try:
                return branch.outputs(inputs, embed=self._embed if embed is None else embed, timings=own), own
            except MediaError as error:
                return error, own

        heavy = [b for b in runnable if b.needs != "side"]
        with _openblas().limit(limits=1):
            if self.parallel and len(heavy) > 1:
                threads = torch.get_num_threads()
                torch.set_num_threads(max(1, threads // len(heavy)))
                try:
                    with ThreadPoolExecutor(max_workers=len(runnable)) as pool:
                        results = list(pool.map(run, runnable))
                finally:
                    torch.set_num_threads(threads)
            else:
                results = [run(b) for b in runnable]
        parts: dict[str, BranchOutput] = {}
        errors: dict[str, MediaError] = {}
        for branch, (result, own) in zip(runnable, results, strict=True):
            timings.update(own)
            if isinstance(result, MediaError):
                skipped[branch.name], errors[branch.name] = result.problem, result
            else:
                parts[branch.name] = result
        return parts, errors

    def _fused_proba(self, parts: Mapping[str, BranchOutput]) -> np.ndarray:
        """(n_labels,) fused probabilities over :attr:`labels` of the branches' outputs."""
        if self.fuser is None and len(parts) == 1:
            # one branch alone: its own probabilities, a label it lacks (the face's calm) at 0
            # rather than a copy of its equivalent (which halved the face's neutral)
            (only,) = parts.values()
            return map_proba(only.proba[None], only.labels, self.labels, {}, uncovered="zero")[0]
        if self.fuser is None:
            mapped = [map_proba(o.proba[None], o.labels, self.labels) for o in parts.values()]
            weights = None if self.weights is None else [self.weights[m] for m in parts]
            return RULES[self.fusion](mapped, weights)[0]
        blocks = []
        for name, dim in self.fuser.modalities:
            out = parts.get(name)
            value = None if out is None else getattr(out, self.fuser_reads or "proba")
            blocks.append(np.full(dim, np.nan) if value is None else np.asarray(value, dtype=np.float64))
        fused = self.fuser.predict_proba(np.concatenate(blocks)[None])
        return map_proba(fused, self.fuser.classes_, self.labels)[0]

    def _fuse(self, source: str, parts: Mapping[str, BranchOutput], skipped: dict[str, str],
              errors: Mapping[str, MediaError], start: float | None = None, end: float | None = None) -> Prediction:
        """The fused prediction of ``parts``. Without any: the error of the one branch tried
        (e.g. too little speech in an audio file), else every skip reason."""
        if not parts:
            if len(errors) == 1:
                raise next(iter(errors.values()))
            reasons = "; ".join(f"{m}: {r}" for m, r in skipped.items())
            raise AvemotionError(f"{source}: nothing to recognise ({reasons})")
        own = {m: {label: float(v) for label, v in zip(o.labels, o.proba)} for m, o in parts.items()}
        novelty = {m: o.novelty for m, o in parts.items() if o.novelty is not None}
        return Prediction.from_fused(source, self.labels, self._fused_proba(parts), own, skipped, start, end, novelty)

    def branch_outputs(
        self, path: str | os.PathLike[str], *, side: Mapping[str, Any] | None = None,
        timings: dict[str, float] | None = None, embed: bool | None = None,
    ) -> tuple[dict[str, BranchOutput], dict[str, str]]:
        """Each usable branch's output for the clip at ``path`` (one decoding pass; embeddings
        when ``embed``, default: when the fuser reads them) and branch -> why the others were
        skipped. Raises the media errors naming the file."""
        inputs, skipped = self._decode(os.fspath(path), side or {})
        parts, _ = self._outputs(inputs, skipped, {} if timings is None else timings, embed=embed)
        return parts, skipped

    def embeddings(self, path: str | os.PathLike[str]) -> tuple[dict[str, BranchOutput], dict[str, str]]:
        """:meth:`branch_outputs` with every branch's embedding (for learning a feature-level fuser)."""
        return self.branch_outputs(path, embed=True)

    def analyse(self, path: str | os.PathLike[str], *, side: Mapping[str, Any] | None = None) -> Prediction:
        """The clip's fused prediction; ``side``: side inputs by branch (e.g. ``{"au": csv}``).
        Raises an :class:`~avemotion.errors.AvemotionError` naming the file when it cannot be
        read or no branch is usable (the branch's own error when only one could be tried)."""
        source = os.fspath(path)
        timings: dict[str, float] = {}
        tic = time.perf_counter()
        inputs, skipped = self._decode(source, side or {})
        timings["decode"] = time.perf_counter() - tic
        parts, errors = self._outputs(inputs, skipped, timings)
        tic = time.perf_counter()
        prediction = self._fuse(source, parts, skipped, errors)
        timings["fusion"] = time.perf_counter() - tic
        prediction.timings = timings
        return prediction

    def predict_proba(self, path: str | os.PathLike[str], *, side: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Emotion -> fused probability for the clip at ``path``."""
        return self.analyse(path, side=side).probabilities

    def predict(self, path: str | os.PathLike[str], *, side: Mapping[str, Any] | None = None) -> str:
        """The most probable emotion of the clip at ``path``."""
        return self.analyse(path, side=side).emotion

    # --- timeline ------------------------------------------------------------------------

    def timeline(self, path: str | os.PathLike[str], *, window: float = 2.0, hop: float = 1.0) -> list[Prediction]:
        """Predictions over sliding windows of ``window`` s every ``hop`` s (the last window
        ends at the end of the media; a clip shorter than ``window`` gives one window), every
        branch on every window (side inputs, given per clip, are left out).

        Any length: the audio is held whole (16 kHz float32, about 4 MB a minute) and the video
        is decoded in chunks as the windows advance, holding only the frames of the window in
        progress plus one chunk. Windows where nothing can be recognised are left out; when none
        can, the error names the file (a single window's own error, e.g. too little speech)."""
        if not (np.isfinite(window) and np.isfinite(hop) and window > 0 and hop > 0):
            raise ValueError(f"window and hop must be finite numbers of seconds > 0, got {window} and {hop}")
        source = os.fspath(path)
        chunks, signal, skipped, duration = self._timeline_inputs(source)
        spans = _spans(duration, window, hop)
        out: list[Prediction] = []
        failure: AvemotionError | None = None
        for (start, end), inside in zip(spans, _frames_per_window(chunks or [], spans), strict=True):
            why = dict(skipped)
            piece = None if signal is None else signal[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
            inputs = ClipInputs(source, piece, inside, {}, SAMPLE_RATE, start, end - start, is_image=duration == 0)
            if chunks is not None and inside is None:
                why.update({b.name: "no frames in this window" for b in self._frame_branches() if b.name not in why})
            parts, errors = self._outputs(inputs, why, {}, per_clip_side=False)
            try:
                out.append(self._fuse(source, parts, why, errors, start, end))
            except AvemotionError as error:
                failure = error
        if not out:
            if len(spans) == 1 and failure is not None:
                raise failure
            raise AvemotionError(f"{source}: no window could be recognised ({', '.join(skipped.values()) or 'silent, no face'})")
        return out

    def _timeline_inputs(self, path: str) -> tuple[Iterable[Frames] | None, np.ndarray | None, dict[str, str], float]:
        """For :meth:`timeline`: the keyframes as a lazy stream of chunks (started when first
        read), 16 kHz audio, branch -> why it is skipped, and the duration (s; 0 for an image)."""
        if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
            inputs, skipped = self._decode(path, {})
            return None if inputs.frames is None else [inputs.frames], None, skipped, 0.0
        info = probe(path)
        skipped = self._unusable(info.has_audio, info.has_video, False)
        wants_audio = any(b.needs == "audio" and b.name not in skipped for b in self.branches.values())
        signal = load_audio(path, SAMPLE_RATE) if wants_audio else None
        chunks = None
        times = self._frame_times(info.duration, timeline=True) if info.has_video else None
        if times is not None:
            chunks = stream_frames(path, times, chunk=TIMELINE_CHUNK)
        return chunks, signal, skipped, info.duration


@functools.cache
def _openblas() -> Any:
    """NumPy's and SciPy's OpenBLAS libraries loaded in this process (looked up once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(internal_api="openblas")


def branch_of_bundle(bundle: Bundle, **face: Any) -> Branch:
    """The branch of an audio, face or video bundle (``face``: FaceBranch frame settings)."""
    kind = bundle.config.get("kind")
    if kind == "audio":
        return AudioBranch.from_bundle(bundle)
    if kind == "face":
        return FaceBranch(bundle, **face)
    if kind == "video":
        return VideoBranch(bundle)
    raise BundleError(bundle.path / BUNDLE_FILE, f"a {kind!r} bundle cannot be a recognizer part (audio, face or video)")


def _load_fuser(folder: Path) -> MultimodalClassifier:
    try:
        return MultimodalClassifier.load(folder)
    except Exception as error:
        raise BundleError(folder, f"damaged or incomplete fuser ({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None


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


def load(name_or_path: str | os.PathLike[str] = "default") -> Recognizer:
    """A ready-to-use recognizer by name or path: ``"default"`` (audio + face, fused),
    ``"ravdess-av-au"`` (audio + OpenFace AUs), or any bundle folder."""
    return Recognizer.load(name_or_path)


__all__ = ["LEARNED_FUSIONS", "Prediction", "Recognizer", "fuser_inputs", "load"]
