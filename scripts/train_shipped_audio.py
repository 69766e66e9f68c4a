"""Train the audio bundle shipped in the package (``avemotion/pretrained/audio``).

    python scripts/train_shipped_audio.py [--data DIR ...] [--recipe audio_whisper_layers]

Trains the recipe on every corpus in --data (default: RAVDESS actors 1-20, TESS, TurEV-DB and
the CREMA-D samples of ../shared/data; RAVDESS actors 21-24 are held aside by the shared data on
purpose); the recipe's head chooses its layers, C and temperature by speaker-grouped inner
cross-validation on those speakers. Writes the bundle atomically. Its cross-validated figures
are in benchmarks/results/ravdess_audio.json and benchmarks/results/cross_corpus.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from avemotion.bundles import save_bundle
from avemotion.corpora import read_corpora
from avemotion.recipes import load_recipe
from avemotion.training.pipeline import fit_recipe

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"
DEFAULT_DATA = [SHARED_DATA / name for name in ("ravdess", "tess", "turev", "crema_d_samples")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    parser.add_argument("--recipe", default="audio_whisper_layers")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "avemotion" / "pretrained" / "audio")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    table = read_corpora(*args.data).table
    estimator, info = fit_recipe(recipe, table)
    save_bundle(
        args.out, estimator, name="audio", kind="audio", recipe=recipe,
        trained_on={**info, "recipe_name": args.recipe}, overwrite=True,
    )
    print(f"wrote {args.out} ({info['n_clips']} clips, {len(info['speakers'])} speakers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
