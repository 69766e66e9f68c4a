"""Evaluation report of a cross-validation folder: ``report.html``, ``metrics.json`` and PNG plots.

Reads ``predictions.csv``, ``metrics.json`` and ``history_<fold>.json`` written by
``avemotion.training.crossval.cross_validate`` and writes the report to ``--out`` (default
``RUN_DIR/report``). Usage::

    python scripts/report_crossval.py benchmarks/results/ravdess_audio/audio_whisper --out /tmp/report
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avemotion.errors import AvemotionError
from avemotion.evaluation.report import report_from_crossval


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="cross-validation output folder")
    parser.add_argument("--out", type=Path, help="report folder (default: RUN_DIR/report)")
    args = parser.parse_args(argv)
    try:
        page = report_from_crossval(args.run_dir, args.out)
    except AvemotionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
