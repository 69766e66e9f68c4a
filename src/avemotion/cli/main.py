"""``avemotion`` entry point: argument parsing and sub-command dispatch.

Every sub-command lives in its own module under :mod:`avemotion.cli` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Errors avemotion raises on purpose are
printed as one line (``avemotion: <path>: <problem>``), never as a traceback. A ``--cache-dir``
given to a command that writes the cache (:data:`WRITE_CACHE`) is checked first: made if
missing, and refused (a :class:`~avemotion.errors.CacheError` naming it) when no file can be
written in it.

Start-up stays fast (``--help``, ``--version``, ``train --list`` and ``info FILE`` import no
model code): the sub-command modules import only the standard library, :mod:`avemotion.core`
and :mod:`avemotion.errors` at their top level, and the rest inside ``run``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from avemotion.cli import (
    cache_cmd,
    evaluate_cmd,
    info_cmd,
    predict_cmd,
    serve_cmd,
    train_cmd,
)
from avemotion.core.env import CACHE_DIR_VAR
from avemotion.core.folders import unwritable_reason
from avemotion.core.version import __version__
from avemotion.errors import AvemotionError, CacheError

COMMANDS = (info_cmd, predict_cmd, evaluate_cmd, train_cmd, serve_cmd, cache_cmd)
#: The commands that write features (and the joined Whisper base model) into the cache folder.
WRITE_CACHE = ("predict", "evaluate", "train", "serve")


def check_cache_dir(folder: str) -> None:
    """Raise :class:`~avemotion.errors.CacheError` unless files can be written in ``folder``
    (the ``--cache-dir`` given; made if missing)."""
    reason = unwritable_reason(folder)
    if reason is not None:
        raise CacheError(folder, f"cannot write the cache folder given by --cache-dir: {reason}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="avemotion",
        description="Recognise emotion from a speaker's voice and face.",
    )
    parser.add_argument("--version", action="version", version=f"avemotion {__version__}")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help=f"feature cache folder (default: ${CACHE_DIR_VAR} or the user cache folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.cache_dir:
            if args.command in WRITE_CACHE and not getattr(args, "list", False):
                check_cache_dir(args.cache_dir)
            os.environ[CACHE_DIR_VAR] = args.cache_dir
        return int(args.run(args))
    except AvemotionError as e:
        print(f"avemotion: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avemotion: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of stdout went away (e.g. `avemotion train --list | head -1`)
        try:  # so that flushing stdout at exit does not fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141


if __name__ == "__main__":
    sys.exit(main())
