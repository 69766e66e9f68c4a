"""Exceptions raised by avemotion.

Every error a user can cause (a bad file, a wrong folder, a leaking split) has its own class.
Its message is one line that names the file or folder and the problem, so the command line can
print ``str(error)`` and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path


class AvemotionError(Exception):
    """Base class of every error avemotion raises on purpose."""


class PathError(AvemotionError):
    """An error about one file or folder: ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --- media -------------------------------------------------------------------------------


class MediaError(PathError):
    """A media file cannot be used."""


class MediaNotFoundError(MediaError):
    """The file does not exist."""


class UnsupportedMediaError(MediaError):
    """The file is not an audio or video file avemotion can read."""


class CorruptMediaError(MediaError):
    """The file looks like media but is truncated or damaged."""


class NoAudioStreamError(MediaError):
    """Audio is needed but the file has no audio stream."""


class NoVideoStreamError(MediaError):
    """Video is needed but the file has no video stream."""


class EmptyMediaError(MediaError):
    """The file has streams but no samples or frames (zero length)."""


class SilentAudioError(MediaError):
    """The audio holds no signal (digital silence)."""


class TooLittleSpeechError(MediaError):
    """The audio holds too little speech to recognise an emotion (e.g. under 0.5 s)."""


class NoFaceError(MediaError):
    """No face was found in any analysed frame."""


class MissingInputError(MediaError):
    """A clip lacks an input a branch reads besides the media (e.g. AU features)."""


# --- corpora, splits, cache ------------------------------------------------------------


class CorpusLayoutError(PathError):
    """A folder does not have the layout of the corpus it was read as."""


class SplitError(AvemotionError, ValueError):
    """A split cannot be made from this clip table (too few speakers, wrong corpus...)."""


class SpeakerLeakageError(AvemotionError):
    """A split puts one speaker on both sides."""


class CacheError(PathError):
    """The feature cache cannot be used."""
