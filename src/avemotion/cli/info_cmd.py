"""``avemotion info PATH...``: what a media file or a corpus folder holds.

A folder (or a FER2013 or manifest ``.csv``) is read as a corpus; folders of the same corpus given
together are merged into one table (e.g. RAVDESS audio and video roots), and each corpus given
(TESS and TurEV-DB folders, say) is described on its own. Any other file is probed as media.
A path that fails is reported by name and the others go on; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avemotion.errors import AvemotionError, MediaNotFoundError

if TYPE_CHECKING:
    from avemotion.media.decode import MediaInfo

SHOWN_UNRECOGNISED = 10

#: The corpus names ``--corpus`` takes: ``sorted(avemotion.corpora.READERS)``, written out so that
#: building the parser does not import the corpus readers (pandas; tests check the two agree).
CORPUS_NAMES = ("ck_plus", "crema_d", "emodb", "enterface", "fer2013", "manifest", "ravdess", "savee", "tess", "turev")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe media files and corpus folders",
        description="Describe media files (streams, duration, size) and corpus folders (clips, "
        "speakers, emotions, modalities, action-unit coverage, unrecognised files).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="media file, corpus folder, FER2013 csv or manifest csv")
    p.add_argument("--corpus", choices=CORPUS_NAMES, help="read folders as this corpus (default: detect)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--all-unrecognised", action="store_true", help="list every unrecognised file")
    p.set_defaults(run=run)


def _is_corpus_path(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() == ".csv"


def _group_corpus_paths(paths: list[Path], forced: str | None, failures: list[str]) -> dict[str, list[Path]]:
    from avemotion.corpora import detect_corpus

    groups: dict[str, list[Path]] = {}
    for path in paths:
        try:
            name = forced or detect_corpus(path)
        except AvemotionError as e:
            failures.append(str(e))
            continue
        groups.setdefault(name, []).append(path)
    return groups


def _media_summaries(paths: list[Path], failures: list[str]) -> list[dict[str, Any]]:
    """Probe each media file (PyAV is imported only when one exists); a failure goes to ``failures``."""
    summaries: list[dict[str, Any]] = []
    for path in paths:
        try:
            if not path.exists():
                raise MediaNotFoundError(path, "file not found")
            from avemotion.media.decode import probe

            summaries.append(media_summary(probe(path)))
        except AvemotionError as e:
            failures.append(str(e))
    return summaries


def _corpus_summaries(paths: list[Path], forced: str | None, failures: list[str]) -> list[dict[str, Any]]:
    """Read and summarise each corpus among ``paths`` (the readers are imported only here)."""
    if not paths:
        return []
    from avemotion.corpora import read_corpus
    from avemotion.corpora.summary import summarize

    summaries: list[dict[str, Any]] = []
    for name, roots in _group_corpus_paths(paths, forced, failures).items():
        try:
            corpus = read_corpus(*roots, corpus=name)
        except AvemotionError as e:
            failures.append(str(e))
            continue
        summary = summarize(corpus)
        summary["unrecognised_files"] = [str(u) for u in corpus.unrecognised]
        summaries.append(summary)
    return summaries


def run(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    failures: list[str] = []
    media = _media_summaries([p for p in paths if not _is_corpus_path(p)], failures)
    corpora = _corpus_summaries([p for p in paths if _is_corpus_path(p)], args.corpus, failures)
    if args.json:
        json.dump({"media": media, "corpora": corpora, "errors": failures}, sys.stdout, indent=2)
        print()
    else:
        for item in media:
            print(format_media(item))
        for item in corpora:
            print(format_corpus(item, None if args.all_unrecognised else SHOWN_UNRECOGNISED))
        if len(failures) == 1 and not media and not corpora:  # the one path given: one line
            raise AvemotionError(failures[0])
        if failures:
            print(f"{len(failures)} of the paths could not be read:", file=sys.stderr)
            for line in failures:
                print(f"  {line}", file=sys.stderr)
    return 1 if failures else 0


def media_summary(info: MediaInfo) -> dict[str, Any]:
    """A JSON-ready description of a probed media file."""
    out: dict[str, Any] = {"path": info.path, "format": info.format, "duration_s": round(info.duration, 3)}
    if info.video is not None:
        v = info.video
        out["video"] = {
            "codec": v.codec,
            "width": v.width,
            "height": v.height,
            "fps": round(v.fps, 3),
            "frames": v.n_frames,
            "rotation": v.rotation,
            "duration_s": round(v.duration, 3),
        }
    if info.audio is not None:
        a = info.audio
        out["audio"] = {
            "codec": a.codec,
            "sample_rate": a.sample_rate,
            "channels": a.channels,
            "duration_s": round(a.duration, 3),
        }
    return out


def format_media(item: dict[str, Any]) -> str:
    """Human-readable lines for :func:`media_summary`'s output."""
    lines = [f"{item['path']}: {item['format']}, {item['duration_s']:.2f} s"]
    if "video" in item:
        v = item["video"]
        rot = f", rotated {v['rotation']} deg" if v["rotation"] else ""
        lines.append(f"  video: {v['codec']} {v['width']}x{v['height']}, {v['fps']:g} fps, {v['frames']} frames{rot}")
    else:
        lines.append("  video: none")
    if "audio" in item:
        a = item["audio"]
        lines.append(f"  audio: {a['codec']} {a['sample_rate']} Hz, {a['channels']} channel(s)")
    else:
        lines.append("  audio: none")
    return "\n".join(lines)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"


def format_corpus(item: dict[str, Any], max_unrecognised: int | None) -> str:
    """Human-readable lines for a corpus summary (see :func:`avemotion.corpora.summary.summarize`)."""
    roots = ", ".join(item["roots"])
    lines = [f"{roots}: {item['corpus']}, {item['clips']:,} clips"]
    lines.append(f"  files: {_counts(item['files'])}")
    lines.append(f"  clips by modality: {_counts(item['modalities'])}")
    if item["speakers"]:
        genders = {k: v for k, v in item["genders"].items() if k != "unknown"}
        lines.append(f"  speakers: {item['speakers']}" + (f" (clips by gender: {_counts(genders)})" if genders else ""))
    else:
        lines.append("  speakers: unknown")
    lines.append(f"  emotions: {_counts(item['emotions'])}")
    partitions = {k: v for k, v in item["partitions"].items() if k != "none"}
    if partitions:
        lines.append(f"  partitions: {_counts(partitions)}")
    au = item["au"]
    if au["clips"] or au["openface_frames"]:
        lines.append(
            f"  action units: {au['clips']:,} of {item['clips']:,} clips ({au['columns']} AU columns); "
            f"per-frame OpenFace CSVs: {au['openface_frames']:,}"
        )
    files = item["unrecognised_files"]
    lines.append(f"  unrecognised files: {len(files)}")
    shown = files if max_unrecognised is None else files[:max_unrecognised]
    lines.extend(f"    {line}" for line in shown)
    if len(shown) < len(files):
        lines.append(f"    ... {len(files) - len(shown)} more (--all-unrecognised lists them)")
    return "\n".join(lines)
