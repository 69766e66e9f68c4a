"""``--adapt`` and ``--adapt-method``: unsupervised test-time adaptation, for ``predict`` and ``evaluate``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from avemotion.core.adaptation import ADAPT_METHODS, DEFAULT_ADAPT

__all__ = ["add_adapt_options"]


class _Method(argparse.Action):
    """Stores the method and turns ``--adapt`` on: a method alone means adapt with it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.adapt = True


def add_adapt_options(parser: argparse.ArgumentParser, over: str, per_speaker: bool = False) -> None:
    """Add ``--adapt`` (a flag) and ``--adapt-method`` (default :data:`DEFAULT_ADAPT`) to ``parser``
    (and, with ``per_speaker``, ``--adapt-per {set,speaker}``); ``over`` says what the model
    adapts to, for the help."""
    parser.add_argument("--adapt", action="store_true",
                        help=f"adapt the audio model to {over} first, without labels (unsupervised test-time "
                             "adaptation, for recordings from one place or corpus; reads every file once more)")
    parser.add_argument("--adapt-method", choices=ADAPT_METHODS, default=DEFAULT_ADAPT, action=_Method,
                        help="how to adapt (implies --adapt): balance (class biases that make every emotion about "
                             "equally common over them), standardise (their feature statistics) or both "
                             "(default: %(default)s)")
    if per_speaker:
        parser.add_argument("--adapt-per", choices=("set", "speaker"), default="set", action=_Method,
                            help="adapt once over all the clips (set, the default) or once per speaker, over each "
                                 "speaker's clips (speaker; a speaker with one clip gets the set's adaptation); "
                                 "implies --adapt")
