"""``avemotion`` entry point: argument parsing and sub-command dispatch.

Every sub-command lives in its own module under :mod:`avemotion.cli` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``. Errors avemotion raises on purpose are
printed as one line (``avemotion: <path>: <problem>``), never as a traceback.

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
from avemotion.core.version import __version__
from avemotion.errors import AvemotionError

COMMANDS = (info_cmd, predict_cmd, evaluate_cmd, train_cmd, serve_cmd, cache_cmd)


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
    if args.cache_dir:
        os.environ[CACHE_DIR_VAR] = args.cache_dir
    try:
        return int(args.run(args))
    except AvemotionError as e:
        print(f"avemotion: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("avemotion: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
