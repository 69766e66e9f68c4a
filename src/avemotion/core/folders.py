"""Whether a folder can be written: made if missing, then a file created and removed in it.

Standard library only, so the command line can check ``--cache-dir`` before it imports anything
heavy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def unwritable_reason(path: str | os.PathLike[str]) -> str | None:
    """Why files cannot be written in the folder ``path`` (made, with its parents, if missing),
    in a few words; ``None`` when they can."""
    folder = Path(path).expanduser()
    try:
        for place in (folder, *folder.parents):
            if place.exists():
                if not place.is_dir():
                    return "it is a file, not a folder" if place == folder else f"{place} is a file, not a folder"
                break
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"it cannot be created ({_reason(error)})"
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".avemotion-write-check-")
    except OSError as error:
        return f"no file can be created in it ({_reason(error)})"
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)
    return None
