"""``avemotion cache``: show the feature cache's size, or clear it."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="show the feature cache's location and size, or clear it")
    p.add_argument("action", nargs="?", choices=("info", "clear"), default="info")
    p.set_defaults(run=run)


def human_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    from avemotion.cache import FeatureCache

    cache = FeatureCache()
    if args.action == "clear":
        removed = cache.clear()
        print(f"cleared {removed.root}: {removed.entries} entries, {human_bytes(removed.bytes)}")
    else:
        stats = cache.stats()
        print(f"feature cache: {stats.root}")
        print(f"  {stats.entries} entries, {human_bytes(stats.bytes)}")
    return 0
