"""The HTTP service on loopback: uploads (raw and multipart), every error as JSON, limits,
timeouts, the queue, temporary files, graceful shutdown, and a bounded load and fault run."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from avemotion.cli.main import main
from avemotion.prediction.recognizer import Recognizer
from avemotion.service.app import Settings, create_app
from avemotion.service.ports import port_socket

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample.mp4"


class Served:
    """A uvicorn server running ``create_app(settings, load=...)`` in a thread on a free port."""

    def __init__(self, settings: Settings, load: Any) -> None:
        self.sock = port_socket("127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(settings, load=load), log_level="warning",
                                timeout_keep_alive=int(settings.idle_timeout), timeout_graceful_shutdown=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _get(f"{self.base}/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("the service did not become ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _post(url: str, data: bytes | None, headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


@pytest.fixture(scope="module")
def default() -> Recognizer:
    return Recognizer.load("default")


@pytest.fixture(scope="module")
def served(default: Recognizer) -> Iterator[Served]:
    s = Served(Settings(max_bytes=4 * 1024 * 1024, idle_timeout=1.0, body_timeout=5.0), lambda model: default)
    yield s
    s.stop()


def test_raw_and_multipart_uploads_answer_like_predict(served: Served, default: Recognizer) -> None:
    status, health = _get(f"{served.base}/health")
    assert status == 200 and health["ready"] and health["labels"] == list(default.labels)
    expected = default.analyse(SAMPLE).probabilities
    status, raw, _ = _post(f"{served.base}/predict?name=sample.mp4", SAMPLE.read_bytes())
    assert status == 200 and raw["predictions"][0]["source"] == "sample.mp4"
    assert raw["predictions"][0]["probabilities"] == pytest.approx(expected)
    boundary = "avemotionboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode() + SAMPLE.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    status, form, _ = _post(f"{served.base}/predict?timeline=1&window=2&hop=1", body,
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and len(form["predictions"]) >= 3 and form["predictions"][0]["start"] == 0.0
    status, schema = _get(f"{served.base}/openapi.json")
    assert status == 200 and "/predict" in schema["paths"]


@pytest.mark.parametrize(("query", "data", "code", "message"), [
    ("name=.", b"x", 400, "must be a file name"),
    ("name=..", b"x", 400, "must be a file name"),
    ("name=notes.txt", b"x", 415, "unsupported format"),
    ("name=broken.mp4", b"not a video", 422, "broken.mp4: "),
    ("name=a.mp4&timeline=1&window=abc", b"x", 422, "window must be a number"),
    ("name=a.mp4&timeline=1&hop=0", b"x", 422, "hop must be a finite number"),
    ("name=a.mp4&timeline=1&window=nan", b"x", 422, "window must be a finite number"),
    ("name=a.mp4", b"", 400, "send the file"),
    ("name=big.mp4", b"\0" * (5 * 1024 * 1024), 413, "larger than the limit"),
])
def test_bad_requests_get_json_errors(served: Served, query: str, data: bytes, code: int, message: str) -> None:
    status, document, _ = _post(f"{served.base}/predict?{query}", data)
    assert status == code and message in document["error"], document


def test_unknown_paths_and_methods_get_json_errors(served: Served) -> None:
    for method in ("PUT", "DELETE"):
        status, document, _ = _post(f"{served.base}/predict", b"x", method=method)
        assert status == 405 and document["error"] == f"{method} is not allowed on /predict"
    status, document = _get(f"{served.base}/nowhere")
    assert status == 404 and "no such endpoint /nowhere" in document["error"]


def _raw_request(base: str, head: bytes, body: bytes, wait: float) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head + body)
        time.sleep(wait)
        s.settimeout(30)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_client_that_stalls_mid_body_gets_408_and_others_are_served(served: Served) -> None:
    head = b"POST /predict?name=slow.mp4 HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        stalled = pool.submit(_raw_request, served.base, head, b"\0" * 10, 0.0)
        time.sleep(0.2)
        assert _get(f"{served.base}/health")[0] == 200  # a stalled client blocks nobody
        answer = stalled.result(timeout=30)
    assert answer.startswith(b"HTTP/1.1 408") and b'"error"' in answer and b"no data for 1 s" in answer


def test_temporary_uploads_are_removed(served: Served) -> None:
    before = set(Path(tempfile.gettempdir()).glob("avemotion-upload-*"))
    _post(f"{served.base}/predict?name=sample.mp4", SAMPLE.read_bytes())
    _post(f"{served.base}/predict?name=broken.mp4", b"junk")
    assert set(Path(tempfile.gettempdir()).glob("avemotion-upload-*")) == before


class _Slow:
    """A stand-in recognizer that takes ``seconds`` per clip (queue and load tests)."""

    labels = ("happy", "sad")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def analyse(self, path: Path) -> Any:
        from avemotion.errors import CorruptMediaError
        from avemotion.prediction.recognizer import Prediction

        time.sleep(self.seconds)
        if path.read_bytes()[:4] != b"RIFF":
            raise CorruptMediaError(path, "damaged")
        return Prediction.from_fused(str(path), self.labels, __import__("numpy").array([0.7, 0.3]), {}, {})


def test_a_full_queue_answers_503_with_retry_after() -> None:
    served = Served(Settings(concurrency=1, queue=0, retry_after=7), lambda model: _Slow(1.5))
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(_post, f"{served.base}/predict?name=a.wav", b"RIFF....")
            time.sleep(0.5)
            status, document, headers = _post(f"{served.base}/predict?name=b.wav", b"RIFF....")
            assert status == 503 and "busy" in document["error"] and headers["Retry-After"] == "7"
            assert first.result()[0] == 200
    finally:
        served.stop()


def test_graceful_shutdown_finishes_the_analysis_in_progress() -> None:
    served = Served(Settings(), lambda model: _Slow(1.0))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(_post, f"{served.base}/predict?name=a.wav", b"RIFF....")
        time.sleep(0.3)
        served.server.should_exit = True
        assert running.result(timeout=30)[0] == 200
    served.thread.join(30)
    assert not served.thread.is_alive()
    served.sock.close()


def test_load_and_faults_every_request_gets_an_answer() -> None:
    """40 clients for 8 s mixing good, corrupt and oversized uploads and a byte-a-second
    client: every request gets an HTTP answer and the server stays up."""
    served = Served(Settings(concurrency=1, queue=8, max_bytes=64 * 1024, idle_timeout=1.0, body_timeout=3.0),
                    lambda model: _Slow(0.02))
    stop = time.monotonic() + 8
    kinds = [("good.wav", b"RIFF" + b"\0" * 1000), ("bad.wav", b"junk" * 10), ("big.wav", b"\0" * (80 * 1024))]

    def client(i: int) -> list[int]:
        codes = []
        while time.monotonic() < stop:
            if i % 10 == 9:
                head = b"POST /predict?name=slow.wav HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n"
                answer = _raw_request(served.base, head, b"R", 0.0)
                codes.append(int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1") else -1)
                continue
            name, data = kinds[i % 3]
            codes.append(_post(f"{served.base}/predict?name={name}", data)[0])
        return codes

    try:
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            results = [c for codes in pool.map(client, range(40)) for c in codes]
        assert results and -1 not in results
        assert set(results) <= {200, 408, 413, 422, 503}, set(results)
        assert {200, 408, 413, 422} <= set(results)
        assert _get(f"{served.base}/health")[0] == 200
    finally:
        served.stop()


def test_cli_refuses_a_port_in_use_before_loading_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    busy = port_socket("127.0.0.1", 0)
    try:
        assert main(["serve", "--port", str(busy.getsockname()[1])]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("avemotion: 127.0.0.1:") and "cannot listen there" in err and "\n" not in err
    finally:
        busy.close()
