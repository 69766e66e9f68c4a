"""The recognizer over HTTP: a FastAPI application, run by uvicorn in ``avemotion serve``.

Endpoints (OpenAPI schema at ``/openapi.json``, interactive docs at ``/docs``):

``GET /``               the web page (upload, drop or record a clip; bars, skips, timeline)
``GET /health``         200 ``{"status": "ok", ...}`` while the process serves
``GET /ready``          200 when the models are loaded, else 503 ``{"error": "models loading"}``
``POST /predict``       the media file as the raw request body (``?name=clip.mp4`` gives its
                        name and so its format) or as a multipart form field ``file``; query
                        ``timeline=1``, ``window``, ``hop`` (seconds) for a timeline. Answers
                        the JSON of ``avemotion predict --json`` for that one file.

Uploads are streamed to a temporary file (never held in memory) and refused past
``max_bytes`` (413); a client that sends nothing for ``idle_timeout`` seconds, or has not
sent its whole body after ``body_timeout`` seconds, gets a 408. At most ``concurrency``
analyses run at a time (each slot has its own loaded recognizer) and ``queue`` more wait; beyond
that the answer is 503 with ``Retry-After``. Every failure is JSON ``{"error": "..."}`` with its
status (400 bad request, 404, 405, 408, 413, 415 unsupported format, 422 a file that cannot be
recognised or a bad parameter, 503, 500). Temporary files are always removed; nothing is
written to the feature cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from avemotion.core.formats import MEDIA_EXTENSIONS
from avemotion.errors import AvemotionError

log = logging.getLogger("avemotion.service")

#: Largest request body accepted by default, bytes.
MAX_BYTES = 512 * 1024 * 1024
#: A refused upload is read and dropped up to this many bytes, so that the client gets its
#: 413 answer instead of a reset connection; a larger one is cut off.
DRAIN_BYTES = 16 * 1024 * 1024


class ServiceError(Exception):
    """A request that gets a JSON error answer with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Settings:
    """The service's limits (see the module docstring)."""

    model: str = "default"
    max_bytes: int = MAX_BYTES
    concurrency: int = 1
    queue: int = 8
    idle_timeout: float = 30.0
    body_timeout: float = 600.0
    retry_after: int = 5


@dataclass
class _State:
    """The loaded recognizers (one per analysis slot) and the counters of the queue."""

    slots: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    ready: bool = False
    waiting: int = 0
    error: str | None = None
    labels: list[str] = field(default_factory=list)


def _number(query: dict[str, str], key: str, default: float) -> float:
    raw = query.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ServiceError(422, f"{key} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ServiceError(422, f"{key} must be a finite number of seconds > 0, got {raw!r}")
    return value


def _file_name(raw: str | None) -> str:
    """A plain file name with a media extension, from a client's ``name``."""
    name = Path(raw or "upload.mp4").name
    if name in ("", ".", "..") or name != (raw or "upload.mp4").replace("\\", "/").split("/")[-1]:
        raise ServiceError(400, f"name must be a file name such as clip.mp4, got {raw!r}")
    if Path(name).suffix.lower() not in MEDIA_EXTENSIONS:
        raise ServiceError(415, f"{name}: unsupported format (use a video, audio or image file: "
                                f"{', '.join(sorted(e.lstrip('.') for e in MEDIA_EXTENSIONS))})")
    return name


async def _drain(stream: AsyncIterator[bytes], settings: Settings, read: int) -> None:
    """Read and drop the rest of a refused body, up to :data:`DRAIN_BYTES` in all."""
    with contextlib.suppress(Exception):
        while read < DRAIN_BYTES:
            read += len(await asyncio.wait_for(stream.__anext__(), timeout=settings.idle_timeout))


async def _chunks(request: Request, settings: Settings) -> AsyncIterator[bytes]:
    """The request body in chunks, with the idle and whole-body timeouts and the size limit."""
    deadline = time.monotonic() + settings.body_timeout
    total = 0
    stream = request.stream().__aiter__()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ServiceError(408, f"the request body took longer than {settings.body_timeout:g} s")
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=min(settings.idle_timeout, left))
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise ServiceError(408, f"no data for {settings.idle_timeout:g} s: the request body is incomplete") from None
        total += len(chunk)
        if total > settings.max_bytes:
            await _drain(stream, settings, total)
            raise ServiceError(413, f"the file is larger than the limit of {settings.max_bytes} bytes")
        if chunk:
            yield chunk


async def _receive_raw(request: Request, settings: Settings, folder: Path, name: str) -> Path:
    path = folder / name
    with path.open("wb") as out:
        async for chunk in _chunks(request, settings):
            out.write(chunk)
    if path.stat().st_size == 0:
        raise ServiceError(400, f"{name}: send the file as the request body (or as the form field 'file')")
    return path


async def _receive_form(request: Request, settings: Settings, folder: Path, query_name: str | None) -> Path:
    """The ``file`` field of a multipart body, streamed to ``folder`` as it arrives."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise ServiceError(400, "a multipart body needs a boundary")
    parts: list[dict[str, Any]] = []
    header: dict[str, bytes] = {}
    key = bytearray()
    value = bytearray()

    def on_part_begin() -> None:
        header.clear()
        parts.append({"headers": {}, "out": None, "name": None, "filename": None, "size": 0})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        key.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1]["headers"][bytes(key).lower()] = bytes(value)
        key.clear()
        value.clear()

    def on_headers_finished() -> None:
        part = parts[-1]
        _, disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))
        part["name"] = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if part["name"] == "file":
            part["filename"] = _file_name(query_name or (filename.decode("utf-8", "replace") if filename else None))
            part["out"] = (folder / part["filename"]).open("wb")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        if part["out"] is not None:
            part["out"].write(data[start:end])
            part["size"] += end - start

    def on_part_end() -> None:
        if parts and parts[-1]["out"] is not None:
            parts[-1]["out"].close()

    callbacks: Any = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        async for chunk in _chunks(request, settings):
            parser.write(chunk)
        parser.finalize()
    except ServiceError:
        raise
    except Exception as error:
        raise ServiceError(400, f"malformed multipart body ({error})") from None
    finally:
        for part in parts:
            if part["out"] is not None:
                part["out"].close()
    found = [p for p in parts if p["name"] == "file"]
    if not found or not found[0]["size"]:
        raise ServiceError(400, "the multipart body has no non-empty field 'file'")
    return folder / found[0]["filename"]


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(settings: Settings | None = None, *, load: Callable[[str], Any] | None = None) -> FastAPI:
    """The service's ASGI application. ``load(model)`` makes one recognizer (default:
    :meth:`avemotion.prediction.recognizer.Recognizer.load`); ``settings.concurrency`` of them
    are made, in a background thread, when the application starts."""
    settings = settings or Settings()
    state = _State()

    def make(model: str) -> Any:
        if load is not None:
            return load(model)
        from avemotion.prediction.recognizer import Recognizer

        return Recognizer.load(model)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def load_all() -> None:
            try:
                recognizers = [make(settings.model) for _ in range(settings.concurrency)]
            except AvemotionError as error:
                state.error = str(error)
                log.error("avemotion: %s", error)
                return
            state.labels = list(recognizers[0].labels)
            for recognizer in recognizers:
                loop.call_soon_threadsafe(state.slots.put_nowait, recognizer)
            loop.call_soon_threadsafe(setattr, state, "ready", True)

        threading.Thread(target=load_all, name="avemotion-load", daemon=True).start()
        yield

    app = FastAPI(
        title="avemotion", lifespan=lifespan,
        description="Emotion from a speaker's voice and face: POST a video, audio or image file to /predict.",
    )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        return _error(error.status, error.message, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = {404: f"no such endpoint {request.url.path}; see /docs",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(error.status_code, str(error.detail))
        return _error(error.status_code, message, dict(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        return _error(422, f"{'.'.join(str(p) for p in first.get('loc', []))}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.exception("avemotion: internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal error (the server log has the details)")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((resources.files("avemotion.service") / "page.html").read_text(encoding="utf-8"))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok", "model": settings.model, "ready": state.ready, "labels": state.labels}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 once the models are loaded."""
        if state.ready:
            return JSONResponse({"status": "ready", "model": settings.model, "labels": state.labels})
        return _error(503, state.error or "models loading", {"Retry-After": str(settings.retry_after)})

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        """Emotion of one media file (raw body with ``?name=``, or multipart field ``file``)."""
        query = dict(request.query_params)
        timeline = query.get("timeline", "0").lower() in ("1", "true", "yes")
        window, hop = _number(query, "window", 2.0), _number(query, "hop", 1.0)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit()):
            raise ServiceError(400, f"Content-Length must be a number of bytes, got {length!r}")
        if length is not None and int(length) > settings.max_bytes:
            await _drain(request.stream().__aiter__(), settings, 0)
            raise ServiceError(413, f"the file is larger than the limit of {settings.max_bytes} bytes")
        if not state.ready:
            raise ServiceError(503, state.error or "models loading", {"Retry-After": str(settings.retry_after)})
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        name = None if multipart else _file_name(query.get("name"))
        if state.slots.empty() and state.waiting >= settings.queue:
            raise ServiceError(503, "busy: every analysis slot and the queue are taken",
                               {"Retry-After": str(settings.retry_after)})
        with tempfile.TemporaryDirectory(prefix="avemotion-upload-") as tmp:
            if multipart:
                path = await _receive_form(request, settings, Path(tmp), query.get("name"))
            else:
                assert name is not None
                path = await _receive_raw(request, settings, Path(tmp), name)
            state.waiting += 1
            try:
                recognizer = await state.slots.get()
            finally:
                state.waiting -= 1
            try:
                run = (lambda: recognizer.timeline(path, window=window, hop=hop)) if timeline else (lambda: [recognizer.analyse(path)])
                found = await asyncio.to_thread(run)
            except AvemotionError as error:
                raise ServiceError(422, str(error).replace(str(path), path.name)) from None
            finally:
                state.slots.put_nowait(recognizer)
        predictions = [p.to_dict() | {"source": path.name} for p in found]
        return JSONResponse({"model": settings.model, "labels": list(recognizer.labels), "predictions": predictions})

    app.state.avemotion = state
    return app
