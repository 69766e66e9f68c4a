"""Print the README's benchmark tables (Markdown) from the JSON results in benchmarks/results/.

    python benchmarks/report.py            # print them
    python benchmarks/report.py --write    # replace them in README.md, between their markers
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
README = RESULTS.parents[1] / "README.md"


def _results(benchmark: str) -> dict | None:
    """benchmarks/results/<benchmark>.json, or None before the benchmark has run."""
    path = RESULTS / f"{benchmark}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _missing(benchmark: str) -> str:
    return f"(no {benchmark}.json yet: run benchmarks/{benchmark}.py)"


def pct(mean: float, std: float | None = None) -> str:
    return f"{100 * mean:.1f}" if std is None else f"{100 * mean:.1f} ± {100 * std:.1f}"


def _misses(r: dict) -> str:
    cache = r.get("feature_cache")
    if cache is None:
        return "cache not recorded"
    return f"{cache['misses']} / {cache['hits'] + cache['misses']}"


def _run(r: dict) -> str:
    """When a row was measured and on how many torch threads ("-": not recorded, rows of 2026-11-23)."""
    date = r.get("date", "-")[:10]
    return f"{date}, {r['threads']} thread(s)" if r.get("threads") else date


def ravdess_audio() -> str:
    doc = _results("ravdess_audio")
    if doc is None:
        return _missing("ravdess_audio")
    lines = [
        f"RAVDESS-SI5 audio, 8 classes, {doc['cpu_count']} CPU cores; each row is "
        "`python benchmarks/ravdess_audio.py --recipes RECIPE`. Feature time counts only clips the "
        "feature cache did not already hold (cache misses / clips in brackets); training time is the "
        "sum over the folds as each was trained (\"run\": the date of the row and the torch threads; "
        "rows of 2026-12-01 ran two or three benchmarks side by side on the 2 cores).",
        "",
        "| recipe | model | features | UAR | WAR | macro-F1 | per-fold UAR | feature s | training s (5 folds) | run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ranked = sorted(doc["recipes"].items(), key=lambda kv: -kv[1]["mean"]["uar"])
    for name, r in ranked:
        feats = r["features"] if isinstance(r["features"], str) else " + ".join(r["features"])
        folds = " / ".join(f"{100 * f['uar']:.0f}" for f in r["folds"])
        lines.append(
            f"| `{name}` | `{r['model']}` | {feats} | {pct(r['mean']['uar'], r['std']['uar'])} | "
            f"{pct(r['mean']['war'], r['std']['war'])} | {pct(r['mean']['macro_f1'], r['std']['macro_f1'])} | "
            f"{folds} | {r['feature_seconds'] + r['augment_seconds']:.0f} ({_misses(r)}) | {r['train_seconds']:.0f} | "
            f"{_run(r)} |"
        )
    return "\n".join(lines)


FUSION_NAMES = {
    "audio": "audio branch alone (Whisper features, logistic)",
    "au": "AU branch alone (35 AU means, logistic + 200 extremely randomised trees)",
    "mean": "late fusion, mean (seed 002)",
    "weighted": "late fusion, weighted mean, weights fitted (seed 004)",
    "product": "late fusion, product rule (seed 003)",
    "bel": "decision-level BEL, seed learning rules (seed 003)",
    "bel_gd": "decision-level BEL, gradient-trained",
    "mobel": "feature-level MoBEL, seed learning rules (seeds 000/003)",
    "mobel_gd": "feature-level MoBEL, gradient-trained",
    "fc": "feature-level FC fusion network (seed 004)",
    "gated": "gated attention fusion, modality dropout (ours)",
    "stacked": "stacked logistic on branch log-probabilities (ours)",
}


def ravdess_av() -> str:
    doc = _results("ravdess_av")
    if doc is None:
        return _missing("ravdess_av")
    sets = [s for s in ("ravdess8", "seed6") if s in doc["label_sets"]]
    lines = [
        f"RAVDESS-SI5 `av`, {doc['n_clips']} clips, {doc['cpu_count']} CPU cores, {doc['date'][:10]}; "
        "`python benchmarks/ravdess_av.py`. UAR mean ± std over the five folds.",
        "",
        "| method | " + " | ".join(f"UAR {s}" for s in sets) + " | WAR ravdess8 | macro-F1 ravdess8 | per-fold UAR ravdess8 |",
        "|---|" + "---|" * len(sets) + "---|---|---|",
    ]
    rows = doc["label_sets"][sets[0]]
    for method in sorted(rows, key=lambda m: (m in ("audio", "au"), -rows[m]["mean"]["uar"])):
        r = rows[method]
        cells = [pct(doc["label_sets"][s][method]["mean"]["uar"], doc["label_sets"][s][method]["std"]["uar"])
                 if method in doc["label_sets"][s] else "" for s in sets]
        folds = " / ".join(f"{100 * f['uar']:.0f}" for f in r["folds"])
        lines.append(f"| {FUSION_NAMES.get(method, method)} (`{method}`) | " + " | ".join(cells)
                     + f" | {pct(r['mean']['war'])} | {pct(r['mean']['macro_f1'])} | {folds} |")
    for s in sets:
        best = doc.get("best", {}).get(s)
        if best:
            lines.append("")
            lines.append(f"Best on {s}: `{best['method']}`, UAR {pct(best['uar'])}, "
                         f"{100 * best['gain_over_best_single']:+.1f} points over the better single modality.")
    return "\n".join(lines)


def speed() -> str:
    lines = []
    path = RESULTS / "predict_speed.json"
    if path.is_file():
        top = json.loads(path.read_text())
        cpu = top["cpu"]
        lines += [
            f"`avemotion predict` with the default model on {cpu['model']} ({', '.join(cpu['extensions'])}), "
            f"{top['date'][:10]}; `python benchmarks/predict_speed.py`: each clip analysed once to warm up, then "
            "the median of the warm runs; the AVX2 case caps every runtime to AVX2 in a child process.",
        ]
        for isa, doc in top["cases"].items():
            name = "native" if isa == "native" else "capped to AVX2 (" + ", ".join(f"`{k}={v}`" for k, v in doc["caps"].items()) + ")"
            lines += [
                "",
                f"**{name}**: PyTorch reports `{doc['torch_cpu_capability']}`, oneDNN dispatches to `{doc['onednn_isa']}`; "
                f"{doc['cpu_count']} cores, torch threads {doc['torch_threads']}, face model in {doc['face_model_precision']}, "
                f"{doc['repeats']} runs per clip.",
                "",
                "| clip | size | media s | analysis s (median) | fastest run s | real-time factor | frames analysed / s of video | decode | face detection | face model | audio features | audio model |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|",
            ]
            for r in doc["clips"]:
                st = r["stages_s"]
                cells = [f"{st.get(k, 0.0):.3f}" for k in ("decode", "face_detection", "face_model", "audio_features", "audio_model")]
                lines.append(f"| {r['clip']} | {r['size']} | {r['duration_s']:.2f} | {r['seconds']:.3f} | {r['fastest_s']:.3f} | "
                             f"{r['real_time_factor']:.3f} | {r['frames_analysed_per_video_second']:.1f} | " + " | ".join(cells) + " |")
            lines += ["", f"Batch of {doc['batch']['clips']} clips with a warm model: {doc['batch']['clips_per_minute']} "
                      f"clips per minute; peak RSS {doc['peak_rss_mb']:.0f} MB; CPU time stolen by the host during the "
                      f"case: {100 * doc['steal_share']:.0f} %."]
    path = RESULTS / "face_speed.json"
    if path.is_file():
        doc = json.loads(path.read_text())
        lines += [
            "",
            f"Face detection + face model per detector, {len(doc['videos'])} sample videos x "
            f"{doc['frames_per_clip']} keyframes, `python benchmarks/face_speed.py`:",
            "",
            "| detector | detection on every | frames with a detected face | detection fps | face model fps | both fps |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in doc["detectors"].items():
            lines.append(f"| `{name}` | {r['detect_every']} frame(s) | {r['detected_frames']} / {r['frames']} | "
                         f"{r['detect_fps']:.0f} | {r['model_fps']:.0f} | {r['detect_plus_model_fps']:.0f} |")
    return "\n".join(lines) if lines else "(no speed results yet: run benchmarks/predict_speed.py)"


def service() -> str:
    doc = _results("service_load")
    if doc is None:
        return _missing("service_load")
    lat = doc["latency_s_of_analysed"]
    kinds = "; ".join(f"{k}: " + ", ".join(f"{n} x {c}" for c, n in sorted(v.items())) for k, v in doc["answers_by_client_kind"].items())
    return "\n".join([
        "| clients | seconds | requests | without an HTTP answer | clips analysed | one client alone s | analysed / min | p50 s | p95 s | server peak RSS | server up at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {doc['clients']} | {doc['seconds']:.0f} | {doc['requests']} | {doc['without_http_answer']} | {doc['analysed']} | "
        f"{doc['latency_s_one_client_idle_server']} | "
        f"{doc['analysed_per_minute']} | {lat['p50']} | {lat['p95']} | {doc['server_peak_rss_mb']:.0f} MB | "
        f"{'yes' if doc['server_alive_at_end'] else 'NO'} |",
        "",
        f"Answers per kind of client (status x count): {kinds}. {doc['cpu_count']} CPU cores, {doc['date'][:10]}.",
    ])


def batch() -> str:
    doc = _results("batch_throughput")
    if doc is None:
        return _missing("batch_throughput")
    lines = ["| run | seconds | clips | failed | clips per minute | peak memory (process tree) |", "|---|---|---|---|---|---|"]
    for name, r in doc["runs"].items():
        lines.append(f"| {name} | {r['seconds']} | {r['clips']} | {r['failed']} | {r['clips_per_minute']} | "
                     f"{r['peak_rss_mb_process_tree']} MB |")
    lines += ["", f"{doc['cpu_count']} CPU cores, {doc['date'][:10]}."]
    return "\n".join(lines)


CORPUS_NAMES = {"tess": "TESS", "turev": "TurEV-DB", "ravdess": "RAVDESS 1-20", "crema_d": "CREMA-D samples"}
VARIANT_NAMES = {
    "recipe": "the recipe (layers chosen by inner CV, corpora weighted by sqrt of size, absent labels discouraged with weight 0.1, "
              "calibration gated by novelty against the nearest corpus, experts per corpus for familiar clips)",
    "no_experts": "no experts: familiar clips read by the shared head alone (the recipe before the experts: `experts: false`)",
    "ungated": "one temperature for every clip, fitted on the held-out corpora, no offsets (the recipe before the gate: `gate: false`)",
    "gate_q75": "the gate's threshold at the 75th percentile of held-out speakers' distances, not the 95th (`gate_quantile: 0.75`)",
    "pooled_gate": "one novelty threshold for every training corpus, from all their held-out speakers together (the recipe before "
                   "per-corpus thresholds: `gate_per_corpus: false`)",
    "pure_partial": "pure partial-label loss (absent_weight 0: a clip says nothing of the labels its corpus lacks)",
    "last_layer": "last layers only (as `audio_whisper`)",
    "corpus_equal": "corpora weighted equally",
    "utterance_norm": "utterance-level normalisation",
    "mixed_selection": "layers, C and temperature chosen on held-out corpora and held-out speakers together (`selection: mixed`)",
    "held_out_offsets": "class offsets fitted with the temperature on the held-out corpora for every clip, no gate (vector scaling's bias, "
                        "`gate: false, offset_l2: 0.01`)",
    "channel_aug": "+ channel augmentation (a copy of each training clip: gain, noise, speed, reverberation, telephone band, mu-law)",
    "level_norm": "every clip's active speech level brought to -20 dBFS before the encoders",
    "speech_pool": "statistics over the speech frames only",
    "mean_only": "each layer's mean over the clip alone, without its standard deviation (`statistics: mean`)",
    "clip3": "standardised features of the clips being scored clipped to +-3 training standard deviations (`clip: 3`)",
    "mlp_blend": "log-probabilities blended half and half with a small network's on the same features (`mlp: {hidden: 128, "
                 "dropout: 0.7, epochs: 60, members: 3}, mlp_weight: 0.5`)",
}


def _adapted(r: dict[str, Any]) -> str:
    """A cross-corpus row's (or SI5 summary's) adapted UARs: balance / standardise / both over the
    whole target, then both per speaker."""
    by = {m: v["uar"] for m, v in r["adapted_by"].items()} if "adapted_by" in r else r.get("adapted_uar_by_mean")
    if by is None:
        return pct(r["adapted"]["uar"] if "adapted" in r else r["adapted_uar_mean"]) + " (standardise) | -"
    cells = " / ".join(pct(by[m]) for m in ("balance", "standardise", "both"))
    speaker = r["adapted_per_speaker"]["both"]["uar"] if "adapted_per_speaker" in r else \
        r.get("adapted_uar_per_speaker_mean", {}).get("both")
    return cells + (f" | {pct(speaker)}" if speaker is not None else " | -")


def _temperatures(r: dict[str, Any]) -> str:
    """A cross-corpus row's temperature, or a gated head's two (new corpus / familiar) and the
    target's mean novelty."""
    if r.get("temperature_familiar") is None:
        return f"{r['temperature']:.2f}"
    return f"{r['temperature']:.2f} / {r['temperature_familiar']:.2f} (novelty {r['novelty_mean']:.2f})"


def _measured(doc: dict[str, Any]) -> str:
    """When the recipe's rows were measured (per part, where the results record it), else when the file was written."""
    measured = doc["variants"].get("recipe", {}).get("measured")
    if not measured:
        return f"results file written {doc['date']}"
    return "the recipe's rows measured " + ", ".join(f"{part} {date}" for part, date in sorted(measured.items()))


def cross_corpus() -> str:
    doc = _results("cross_corpus")
    if doc is None:
        return _missing("cross_corpus")
    variants = doc["variants"]
    machine = doc["machine"]
    lines = [
        f"Leave one corpus out, audio, recipe `{doc['recipe']}`, {machine['cores']} CPU cores, {_measured(doc)}; "
        "`python benchmarks/cross_corpus.py`. Scored on the labels the target shares with the model (argmax "
        "restricted to them); chance = 1 / labels. `adapted` (unsupervised test-time adaptation over the whole "
        "target, labels never used; `--adapt-method`): `balance` shifts the class biases so that every emotion is "
        "equally common over the target, `standardise` standardises the features with the target's own "
        "statistics, `both` does both; per speaker: `both` over each target speaker's clips (`avemotion evaluate "
        "--adapt-per speaker`). ECE: expected calibration error without -> with the calibration. T: the "
        "temperature for clips of a new corpus / for clips like the training corpora (with the mean novelty of "
        "the target's clips, 0 familiar to 1 new; one temperature where the head has one corpus).",
        "",
        "| target | trained on | labels | UAR | WAR | macro-F1 | UAR adapted: balance / standardise / both | adapted per speaker: both | ECE | layers (base / tiny) | T |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    recipe = variants.get("recipe", {})
    for target, rows in recipe.get("loco", {}).items():
        for r in rows.values():
            trained = " + ".join(CORPUS_NAMES[c] for c in r["trained_on"])
            layers = " / ".join(",".join(str(i) for i in block) for block in r["layer_set"])
            lines.append(
                f"| {CORPUS_NAMES[target]} | {trained} | {len(r['labels'])} (chance {100 / len(r['labels']):.1f}) | "
                f"{pct(r['uar'])} | {pct(r['war'])} | {pct(r['macro_f1'])} | {_adapted(r)} | "
                f"{r['ece_uncalibrated']:.3f} -> {r['ece']:.3f} | {layers} | {_temperatures(r)} |"
            )
    for key, title in (("si5", "RAVDESS-SI5, trained on the 16 other actors"),
                       ("si5_multi", "RAVDESS-SI5, trained on the 16 other actors + TESS + TurEV-DB + CREMA-D")):
        r = recipe.get(key)
        if r:
            lines.append(
                f"| RAVDESS-SI5 | {title.split(', ', 1)[1]} | 8 (chance 12.5) | {pct(r['uar_mean'], r['uar_std'])} | "
                f"{pct(r['war_mean'])} | {pct(r['macro_f1_mean'])} | {_adapted(r)} | "
                f"{r['ece_uncalibrated_mean']:.3f} -> {r['ece_mean']:.3f} | per fold | |"
            )
    r = recipe.get("turev_loso")
    if r:
        lines.append(
            f"| TurEV-DB, in-corpus reference | the 5 other TurEV-DB speakers, each speaker in turn | 4 (chance 25.0) | "
            f"{pct(r['uar_mean'], r['uar_std'])} | {pct(r['war_mean'])} | {pct(r['macro_f1_mean'])} | - | - | "
            f"{r['ece_mean']:.3f} | per fold | |"
        )
    lines += ["", "Ablations (UAR; every row trained without its target; `standardise`-adapted in brackets; a date in square "
              "brackets: measured then, as a change to the recipe of that day):", "",
              "| variant | TESS <- others | TurEV-DB <- others | RAVDESS <- others | RAVDESS-SI5 | RAVDESS-SI5 + other corpora |",
              "|---|---|---|---|---|---|"]
    for name, v in sorted(variants.items(), key=lambda kv: kv[0] != "recipe"):
        cells = []
        for target in ("tess", "turev", "ravdess"):
            r = v.get("loco", {}).get(target, {}).get("others")
            cells.append(f"{pct(r['uar'])} ({pct(r['adapted']['uar'])})" if r else "-")
        for key in ("si5", "si5_multi"):
            r = v.get(key)
            cells.append(f"{pct(r['uar_mean'], r['uar_std'])} ({pct(r['adapted_uar_mean'])})" if r else "-")
        when = f" [{v['measured']}]" if v.get("measured") else ""
        lines.append(f"| {VARIANT_NAMES.get(name, name)}{when} | " + " | ".join(cells) + " |")
    lines += ["", "Confusion matrices of the recipe (rows: true, columns: predicted):", ""]
    for target, rows in recipe.get("loco", {}).items():
        r = rows.get("others")
        if r:
            lines.append(f"- {CORPUS_NAMES[target]} <- others: `" + "` / `".join(
                f"{t}: " + " ".join(str(v) for v in row) for t, row in zip(r["labels"], r["confusion"])) + "`")
    speakers = [(target, training, r["per_speaker_uar"]) for target, rows in recipe.get("loco", {}).items()
                for training, r in rows.items() if r.get("per_speaker_uar")]
    if speakers:
        lines += ["", "UAR of each target speaker, the recipe without adaptation (lowest first):", ""]
        for target, training, per in speakers:
            ranked = sorted(per.items(), key=lambda kv: (kv[1], kv[0]))
            lines.append(f"- {CORPUS_NAMES[target]} <- {'others' if training == 'others' else CORPUS_NAMES[training]}: "
                         + ", ".join(f"{name.split(':', 1)[-1]} {pct(v)}" for name, v in ranked))
    return "\n".join(lines)


TABLES = {"ravdess-audio-table": ravdess_audio, "cross-corpus-table": cross_corpus, "ravdess-av-table": ravdess_av,
          "speed-table": speed, "service-table": service, "batch-table": batch}


def write_readme(path: Path = README) -> None:
    """Replace each table between ``<!-- name -->`` and ``<!-- /name -->`` in ``path``."""
    text = path.read_text()
    for name, table in TABLES.items():
        start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
        if start not in text or end not in text:
            raise SystemExit(f"{path}: no {start} ... {end} markers")
        head, rest = text.split(start, 1)
        text = head + start + "\n" + table() + "\n" + end + rest.split(end, 1)[1]
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write_readme()
    else:
        print("\n\n".join(table() for table in TABLES.values()))
