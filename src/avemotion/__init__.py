"""avemotion: recognise emotion from a speaker's voice and face, fused."""

from __future__ import annotations

__version__ = "0.1.0"
