"""``avemotion serve``: the recognizer as a small HTTP service (standard library only).

    avemotion serve --port 8000 [--model default]
    curl --data-binary @clip.mp4 -H "Content-Type: video/mp4" "http://127.0.0.1:8000/predict?name=clip.mp4"
    curl --data-binary @clip.mp4 "http://127.0.0.1:8000/predict?name=clip.mp4&timeline=1&window=2&hop=1"

``POST /predict`` takes the media file as the request body (``name`` gives its file name, whose
extension tells the format) and answers the JSON of ``avemotion predict --json`` for that one
file; ``GET /health`` answers ``{"status": "ok", "model": ..., "labels": [...]}``. A bad file is
a 422 with ``{"error": "<file>: <problem>"}``. Requests are handled one at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from avemotion.errors import AvemotionError

#: Largest request body accepted, bytes.
MAX_BYTES = 512 * 1024 * 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve predictions over HTTP", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="model name or bundle folder (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(run=run)


def make_server(model: Any, model_name: str, host: str = "127.0.0.1", port: int = 8000) -> HTTPServer:
    """An HTTP server answering ``/predict`` and ``/health`` with ``model`` (port 0: any free port)."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, document: dict[str, Any]) -> None:
            body = (json.dumps(document, indent=2) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # http.server's naming
            if urlparse(self.path).path == "/health":
                self._answer(200, {"status": "ok", "model": model_name, "labels": list(model.labels)})
            else:
                self._answer(404, {"error": f"no such endpoint {self.path}; use POST /predict or GET /health"})

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path != "/predict":
                self._answer(404, {"error": f"no such endpoint {url.path}; use POST /predict"})
                return
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            name = Path(query.get("name", "upload.mp4")).name
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BYTES:
                self._answer(400, {"error": f"{name}: send the file as the request body (1 byte to {MAX_BYTES} bytes)"})
                return
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / name
                path.write_bytes(self.rfile.read(length))
                try:
                    if query.get("timeline") in ("1", "true", "yes"):
                        found = model.timeline(path, window=float(query.get("window", 2.0)), hop=float(query.get("hop", 1.0)))
                    else:
                        found = [model.analyse(path)]
                except AvemotionError as error:
                    self._answer(422, {"error": str(error).replace(str(path), name)})
                    return
            predictions = [p.to_dict() | {"source": name} for p in found]
            self._answer(200, {"model": model_name, "labels": list(model.labels), "predictions": predictions})

        def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
            print(f"{self.address_string()} {format % args}", file=sys.stderr)

    return HTTPServer((host, port), Handler)


def run(args: argparse.Namespace) -> int:
    from avemotion.prediction.recognizer import load

    model = load(args.model)
    server = make_server(model, args.model, args.host, args.port)
    print(f"avemotion serving {args.model} on http://{args.host}:{server.server_port} (POST /predict, GET /health)",
          file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
