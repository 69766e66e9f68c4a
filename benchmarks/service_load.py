"""Load and faults on ``avemotion serve`` over loopback: many concurrent clients for a while,
mixing good clips, corrupt files, oversized bodies and slow clients that send a byte a second.

    python benchmarks/service_load.py [--clients 50] [--seconds 120] [--model default]

The server runs as its own process (``avemotion serve --max-mb 8 --queue 8 --idle-timeout 5``)
with the real model. Of the clients, 70 % upload good clips (the project's sample and the real
CREMA-D sample videos when present), 10 % corrupt files, 10 % bodies over the size limit and
10 % send a byte a second; a client answered 503 waits the Retry-After it was given, and a
second after any other refusal. Writes benchmarks/results/service_load.json: answers per status,
requests without an HTTP answer (must be 0), p50/p95 latency and throughput of the good clips
that were analysed (200) against one client on the idle server, the server's peak RSS and whether it was still up at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from avemotion.core.atomic import atomic_write_bytes

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVEMOTION_SHARED", REPO.parent / "shared")) / "data"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(base: str, name: str, data: bytes) -> tuple[int, float, float]:
    """(status, seconds, the Retry-After it asked for: 0 if none)."""
    tic = time.perf_counter()
    request = urllib.request.Request(f"{base}/predict?name={name}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=300) as r:
            r.read()
            return r.status, time.perf_counter() - tic, 0.0
    except urllib.error.HTTPError as error:
        error.read()
        return error.code, time.perf_counter() - tic, float(error.headers.get("Retry-After") or 0)
    except OSError:
        return -1, time.perf_counter() - tic, 0.0


def _slow(base: str, seconds: float) -> tuple[int, float, float]:
    """A client that announces 1000 bytes and sends one a second."""
    host, port = base.removeprefix("http://").split(":")
    tic = time.perf_counter()
    try:
        with socket.create_connection((host, int(port)), timeout=60) as s:
            s.sendall(b"POST /predict?name=slow.mp4 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            s.settimeout(1.0)
            answer = b""
            while time.perf_counter() - tic < seconds and not answer:
                try:
                    s.sendall(b"\0")
                    answer = s.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
            s.settimeout(30)
            while True:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                answer += chunk
        code = int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/1.1 ") else -1
        retry = 5.0 if code == 503 else 0.0
        return code, time.perf_counter() - tic, retry
    except OSError:
        return -1, time.perf_counter() - tic, 0.0


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "service_load.json")
    args = parser.parse_args()

    good = [REPO / "examples" / "sample.mp4", *sorted((SHARED / "crema_d_samples" / "VideoFlash").glob("*.flv"))]
    files = [(p.name, p.read_bytes()) for p in good if p.is_file()]
    corrupt = ("corrupt.mp4", files[0][1][: len(files[0][1]) // 3])
    oversized = ("big.mp4", b"\0" * (9 * 1024 * 1024))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "avemotion.cli.main", "serve", "--model", args.model, "--port", str(port),
         "--max-mb", "8", "--queue", "8", "--idle-timeout", "5", "--body-timeout", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/ready", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.HTTPError, OSError):
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not become ready")
        alone = [_post(base, files[0][0], files[0][1])[1] for _ in range(6)][1:]  # one client, idle server
        stop = time.monotonic() + args.seconds

        def client(i: int) -> list[tuple[str, int, float]]:
            out = []
            kind = ("slow" if i % 10 == 9 else "oversized" if i % 10 == 8 else "corrupt" if i % 10 == 7 else "good")
            n = 0
            while time.monotonic() < stop:
                if kind == "slow":
                    code, seconds, retry = _slow(base, 30.0)
                else:
                    name, data = {"oversized": oversized, "corrupt": corrupt}.get(kind, files[(i + n) % len(files)])
                    code, seconds, retry = _post(base, name, data)
                    n += 1
                out.append((kind, code, seconds))
                pause = retry or (1.0 if code >= 400 else 0.0)  # Retry-After, or a second after a refusal
                time.sleep(min(pause, max(0.0, stop - time.monotonic())))
            return out

        tic = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            results = [r for rows in pool.map(client, range(args.clients)) for r in rows]
        wall = time.perf_counter() - tic
        alive = server.poll() is None
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
                healthy = r.status == 200
        except OSError:
            healthy = False
        peak = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    by_kind: dict[str, dict[str, int]] = {}
    for kind, code, _ in results:
        counts = by_kind.setdefault(kind, {})
        counts[str(code)] = counts.get(str(code), 0) + 1
    analysed = sorted(t for kind, code, t in results if kind == "good" and code == 200)
    document = {
        "benchmark": "avemotion serve under load and faults, loopback",
        "command": "python benchmarks/service_load.py",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "clients": args.clients,
        "seconds": round(wall, 1),
        "requests": len(results),
        "without_http_answer": sum(code == -1 for _, code, _ in results),
        "answers_by_client_kind": by_kind,
        "analysed": len(analysed),
        "analysed_per_minute": round(60 * len(analysed) / wall, 1),
        "latency_s_one_client_idle_server": round(statistics.median(alone), 3),
        "latency_s_of_analysed": {
            "p50": round(statistics.median(analysed), 3) if analysed else None,
            "p95": round(analysed[int(0.95 * (len(analysed) - 1))], 3) if analysed else None,
        },
        "server_alive_at_end": alive and healthy,
        "server_peak_rss_mb": peak,
    }
    atomic_write_bytes(args.out, (json.dumps(document, indent=2) + "\n").encode())
    print(json.dumps(document, indent=2))
    return 0 if document["without_http_answer"] == 0 and document["server_alive_at_end"] else 1


if __name__ == "__main__":
    sys.exit(main())
