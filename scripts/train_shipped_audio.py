"""Train the audio bundle shipped in the package (``avemotion/pretrained/audio``).

    python scripts/train_shipped_audio.py [--data ../shared/data/ravdess] [--recipe audio_whisper]

Trains the recipe on all RAVDESS actors in --data (1-20 here; actors 21-24 are held aside by
the shared data on purpose), with validation actors from those for model selection, and writes
the bundle atomically. Its cross-validated figures are in benchmarks/results/ravdess_audio.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from avemotion.bundles import save_bundle
from avemotion.corpora import read_corpus
from avemotion.recipes import load_recipe
from avemotion.training.pipeline import fit_recipe

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "ravdess"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--recipe", default="audio_whisper")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "avemotion" / "pretrained" / "audio")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    table = read_corpus(args.data).table
    estimator, info = fit_recipe(recipe, table)
    save_bundle(
        args.out, estimator, name="audio", kind="audio", recipe=recipe,
        trained_on={**info, "recipe_name": args.recipe}, overwrite=True,
    )
    print(f"wrote {args.out} ({info['n_clips']} clips, {len(info['speakers'])} speakers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
