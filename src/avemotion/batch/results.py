"""A batch's streamed, resumable output.

``.jsonl``: one JSON object a line, one line per clip, written and flushed to disk as soon as
the clip is done: the clip's prediction as in ``avemotion predict --json`` (``source``,
``emotion``, ``probabilities``...; with ``--timeline``: ``{"source", "timeline": [windows]}``)
or ``{"source", "error"}`` for a clip that failed, plus ``sha256``, the file's content hash.
``.csv``: one row per clip (or window) with the same fields flattened, plus ``sha256``,
``error`` and ``audio_novelty`` (empty where the model has none); a resumed CSV keeps the columns
its header already has. A line is written with one ``write`` and ``fsync``; a run killed mid-line leaves an
incomplete last line, which :class:`ResultLog` drops when it opens the file again, so a run
loses at most the clips in flight. With ``resume``, the clips already in the file (same path,
same content hash) are skipped.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from avemotion.errors import PathError


class ResultLog:
    """The output file of a batch run (``.jsonl`` or ``.csv``), opened for appending.

    ``resume=False`` refuses an existing non-empty file (nothing a user made is overwritten);
    ``labels`` fixes the CSV's probability columns."""

    def __init__(self, path: str | os.PathLike[str], *, resume: bool, labels: list[str]) -> None:
        self.path = Path(path)
        self.kind = self.path.suffix.lower()
        if self.kind not in (".jsonl", ".csv"):
            raise PathError(self.path, "the output must be a .jsonl or a .csv file")
        self.labels = list(labels)
        self.done: set[tuple[str, str]] = set()
        if self.path.exists() and self.path.stat().st_size and not resume:
            raise PathError(self.path, "already exists (use --resume to add to it, or another --out)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._header = self._csv_header()
        if self.path.exists():
            self._recover()
        self._file = self.path.open("a", encoding="utf-8", newline="")
        if self.kind == ".csv" and self.path.stat().st_size == 0:
            self._write([self._csv_line(self._header)])

    def _csv_header(self) -> list[str]:
        return ["source", "sha256", "start", "end", "emotion", "confidence", "used", "skipped", "error", "audio_novelty",
                *self.labels]

    def _recover(self) -> None:
        """Drop an incomplete last line and read which (source, sha256) are done."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
            with self.path.open("r+b") as f:
                f.truncate(len(data))
        text = data.decode("utf-8", "replace")
        if self.kind == ".jsonl":
            for line in text.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and "source" in record and "sha256" in record:
                    self.done.add((str(record["source"]), str(record["sha256"])))
        else:
            reader = csv.DictReader(io.StringIO(text))
            for row in reader:
                if row.get("source") and row.get("sha256"):
                    self.done.add((row["source"], row["sha256"]))
            if reader.fieldnames:
                self._header = list(reader.fieldnames)

    def _csv_line(self, values: list[Any]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(values)
        return buffer.getvalue()

    def _write(self, lines: list[str]) -> None:
        self._file.write("".join(lines))
        self._file.flush()
        os.fsync(self._file.fileno())

    def _csv_rows(self, record: dict[str, Any]) -> list[str]:
        windows = record.get("timeline") or ([record] if "emotion" in record else [])
        base = {"source": record["source"], "sha256": record["sha256"], "error": record.get("error", "")}
        if not windows:
            return [self._csv_line([base.get(column, "") for column in self._header])]
        rows = []
        for w in windows:
            values = {**base, "start": w.get("start"), "end": w.get("end"), "emotion": w["emotion"],
                      "confidence": round(w["confidence"], 4), "used": "+".join(w["used"]),
                      "skipped": "; ".join(f"{m}: {r}" for m, r in w.get("skipped", {}).items()),
                      "audio_novelty": round(w["novelty"]["audio"], 4) if "audio" in w.get("novelty", {}) else "",
                      **{label: round(w["probabilities"].get(label, 0.0), 4) for label in self.labels}}
            rows.append(self._csv_line([values.get(column, "") for column in self._header]))
        return rows

    def write(self, record: dict[str, Any]) -> None:
        """Append one clip's record (``source`` and ``sha256`` included) and flush it to disk.
        A CSV record of several windows is written with one ``write`` too."""
        if self.kind == ".jsonl":
            self._write([json.dumps(record, ensure_ascii=False) + "\n"])
        else:
            self._write(["".join(self._csv_rows(record))])
        self.done.add((str(record["source"]), str(record["sha256"])))

    def close(self) -> None:
        self._file.close()
