"""``avemotion serve``: the recognizer as an HTTP service and a web page (FastAPI + uvicorn).

    avemotion serve --port 8000 [--model default]
    open http://127.0.0.1:8000/                      # the web page: upload, drop or record a clip
    curl --data-binary @clip.mp4 "http://127.0.0.1:8000/predict?name=clip.mp4"
    curl -F file=@clip.mp4 "http://127.0.0.1:8000/predict?timeline=1&window=2&hop=1"
    curl http://127.0.0.1:8000/ready                 # 200 once the models are loaded

``POST /predict`` takes the media file as the raw request body (``name`` gives its file name,
whose extension tells the format) or as the multipart form field ``file``, and answers the JSON
of ``avemotion predict --json`` for that one file. Errors are JSON ``{"error": ...}`` with their
status: 400, 404, 405, 408 (a client too slow to send its body), 413 (over --max-mb), 415
(not a media format), 422 (a file that cannot be recognised, a bad parameter), 503 (models
loading, or every analysis slot and the queue taken: with Retry-After), 500. ``GET /health``
(liveness), ``GET /ready`` (readiness), ``GET /openapi.json`` and ``/docs`` (the API).

The port is checked before the models load; Ctrl-C or SIGTERM stops taking connections and
lets the analyses in progress finish (up to --shutdown-timeout seconds).
"""

from __future__ import annotations

import argparse
import sys

from avemotion.errors import AvemotionError


def _positive(kind: type) -> object:
    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
        return value

    return parse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve predictions over HTTP, with a web page", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="model name or bundle folder (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s; 0: any free port)")
    p.add_argument("--max-mb", type=_positive(float), default=512.0,
                   help="largest upload accepted, MB (default: %(default)s)")
    p.add_argument("--concurrency", type=_positive(int), default=1,
                   help="analyses at a time; each loads its own models, ~0.7 GB (default: %(default)s)")
    p.add_argument("--queue", type=int, default=8,
                   help="requests that may wait for a free analysis; beyond them 503 (default: %(default)s)")
    p.add_argument("--idle-timeout", type=_positive(float), default=30.0,
                   help="seconds a client may send nothing, mid-body or between requests (default: %(default)s)")
    p.add_argument("--body-timeout", type=_positive(float), default=600.0,
                   help="seconds a client may take to send its whole upload (default: %(default)s)")
    p.add_argument("--shutdown-timeout", type=_positive(float), default=60.0,
                   help="seconds to let analyses in progress finish on shutdown (default: %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from avemotion.service.ports import port_socket

    sock = port_socket(args.host, args.port)  # before anything heavy is imported or loaded
    try:
        import uvicorn

        from avemotion.bundles import read_config
        from avemotion.service.app import Settings, create_app

        read_config(args.model)  # a model that does not exist fails now, not in the background
    except AvemotionError:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    settings = Settings(model=args.model, max_bytes=int(args.max_mb * 1024 * 1024), concurrency=args.concurrency,
                        queue=max(0, args.queue), idle_timeout=args.idle_timeout, body_timeout=args.body_timeout)
    app = create_app(settings)
    config = uvicorn.Config(
        app, log_level="info", timeout_keep_alive=int(max(1, args.idle_timeout)),
        timeout_graceful_shutdown=int(args.shutdown_timeout), backlog=1024,
    )
    print(f"avemotion serving {args.model} on http://{host}:{port}/ (models loading; GET /ready says when)",
          file=sys.stderr, flush=True)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except OSError as error:
        raise AvemotionError(f"{host}:{port}: {error}") from None
    finally:
        sock.close()
    return 0
