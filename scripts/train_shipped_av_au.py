"""Train the ``ravdess-av-au`` bundle shipped in the package (``avemotion/pretrained/ravdess-av-au``).

    python scripts/train_shipped_av_au.py [--data ../shared/data/ravdess] [--fusion product]

Audio: frozen Whisper base + tiny.en features, by default the statistics of the hidden states
chosen without RAVDESS (``--features layers``, see benchmarks/ravdess_av.py); face: the 35
OpenFace AU means per clip. Fits a :class:`avemotion.fusion.MultimodalClassifier` on every
RAVDESS actor in --data (1-20 here) -- branch C chosen by inner cross-validation grouped by
actor -- with the fusion method that did best in benchmarks/results/ravdess_av.json, and
writes the bundle atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from avemotion.bundles import save_bundle
from avemotion.cache import FeatureCache
from avemotion.corpora import read_corpus
from avemotion.corpora.openface import au_columns
from avemotion.features import recipe_features, stack
from avemotion.fusion import FUSIONS, MultimodalClassifier
from avemotion.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data" / "ravdess"
sys.path.insert(0, str(REPO / "benchmarks"))
from ravdess_av import AUDIO_FEATURES, CS, TREES  # noqa: E402  (the benchmark's features, C grid and AU forest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fusion", default="product", choices=FUSIONS)
    parser.add_argument("--features", default="layers", choices=sorted(AUDIO_FEATURES))
    parser.add_argument("--out", type=Path, default=REPO / "src" / "avemotion" / "pretrained" / "ravdess-av-au")
    args = parser.parse_args()
    table = read_corpus(args.data).table
    columns = au_columns(table)
    table = table[table["audio"].notna() & table[columns].notna().all(axis=1)].reset_index(drop=True)
    audio_recipe = load_recipe("audio_whisper")
    audio_recipe["features"] = AUDIO_FEATURES[args.features]
    feats, failures = recipe_features(list(table["audio"]), audio_recipe, cache=FeatureCache())
    if failures:
        raise SystemExit(f"{len(failures)} clips failed: {failures[:3]}")
    audio = stack(feats)
    X = np.concatenate([audio, table[columns].to_numpy(dtype=np.float64)], axis=1)
    model = MultimodalClassifier(
        [("audio", audio.shape[1]), ("au", len(columns))], labels="ravdess8", fusion=args.fusion, Cs=CS, trees=TREES
    )
    with threadpool_limits(1):
        model.fit(X, table["emotion"].to_numpy(), groups=table["speaker"].to_numpy())
    recipe = {
        "labels": "ravdess8",
        "modalities": {"audio": {"features": audio_recipe["features"]}, "au": {"columns": columns}},
        "fusion": args.fusion,
    }
    trained_on = {
        "corpus": sorted(table["corpus"].unique()),
        "n_clips": len(table),
        "speakers": sorted(table["speaker"].unique()),
        "branches": model.branch_info_,
    }
    save_bundle(args.out, model, name="ravdess-av-au", kind="av-au", recipe=recipe, trained_on=trained_on, overwrite=True)
    print(f"wrote {args.out} ({len(table)} clips, {len(trained_on['speakers'])} speakers, fusion {args.fusion})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
