"""Print the README's benchmark tables (Markdown) from the JSON results in benchmarks/results/.

    python benchmarks/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def pct(mean: float, std: float | None = None) -> str:
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def _misses(r: dict) -> str:
    cache = r.get("feature_cache")
    if cache is None:
        return "cache not recorded"
    return f"{cache['misses']} / {cache['hits'] + cache['misses']}"


def ravdess_audio() -> str:
    path = RESULTS / "ravdess_audio.json"
    if not path.is_file():
        return f"(no {path.name} yet: run benchmarks/ravdess_audio.py)"
    doc = json.loads(path.read_text())
    lines = [
        f"RAVDESS-SI5 audio, 8 classes, {doc['cpu_count']} CPU cores, {doc['date'][:10]}; each row is "
        "`python benchmarks/ravdess_audio.py --recipes RECIPE`. Feature time counts only clips the "
        "feature cache did not already hold (cache misses / clips in brackets).",
        "",
        "| recipe | model | features | UAR | WAR | macro-F1 | per-fold UAR | feature s | training s (5 folds) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ranked = sorted(doc["recipes"].items(), key=lambda kv: -kv[1]["mean"]["uar"])
    for name, r in ranked:
        feats = r["features"] if isinstance(r["features"], str) else " + ".join(r["features"])
        folds = " / ".join(f"{100 * f['uar']:.0f}" for f in r["folds"])
        lines.append(
            f"| `{name}` | `{r['model']}` | {feats} | {pct(r['mean']['uar'], r['std']['uar'])} | "
            f"{pct(r['mean']['war'], r['std']['war'])} | {pct(r['mean']['macro_f1'], r['std']['macro_f1'])} | "
            f"{folds} | {r['feature_seconds'] + r['augment_seconds']:.0f} ({_misses(r)}) | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(ravdess_audio())
