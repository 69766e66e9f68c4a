"""avemotion: recognise emotion from a speaker's voice and face, fused."""

from __future__ import annotations

__version__ = "0.1.0"


def load(name_or_path: str = "default") -> object:
    """A ready-to-use model: ``"default"`` (audio + face, fused), ``"ravdess-av-au"``, or a
    bundle folder; see :func:`avemotion.prediction.recognizer.load`."""
    from avemotion.prediction.recognizer import load as _load

    return _load(name_or_path)
