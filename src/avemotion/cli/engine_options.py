"""The engine options shared by ``predict --out``, ``train`` and ``evaluate``."""

from __future__ import annotations

import argparse
from typing import Any


def count(text: str) -> int:
    """An argparse ``type=``: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number >= 1")
    return value


def add_engine_options(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_argument_group("engines")
    group.add_argument("--workers", type=count, default=1,
                       help=f"{what} in this many worker processes on this machine, each loading its models once "
                            "(~0.8 GB each; default 1: this process)")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this machine (--workers); ray: a Ray cluster, one worker per CPU "
                            "(pip install -e '.[ray]')")
    group.add_argument("--address", help="with --engine ray: an existing cluster's address (default: start a local one)")


def uses_engine(args: argparse.Namespace) -> bool:
    return bool(args.workers > 1 or args.engine != "local" or args.address)


def make_engine(args: argparse.Namespace) -> tuple[Any, int | None]:
    """The engine the options ask for and the torch threads each of its workers should use."""
    from avemotion.batch.engines import LocalEngine, RayEngine

    if args.engine == "ray" or args.address:
        return RayEngine(address=args.address, workers=args.workers if args.workers > 1 else None), 1
    threads = LocalEngine.threads_per_worker(args.workers) if args.workers > 1 else None
    return LocalEngine(args.workers), threads
