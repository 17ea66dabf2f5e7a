"""Per-request cost of ObsviewMiddleware against the bare ASGI app, in the same run.

Both are called directly in-process (no network, no server): what remains is exactly what
the middleware adds to every request. Issue 6 target: under 20 µs per request.
Also what ``logger.info`` costs the app's thread with ObsviewHandler shipping to a local
socket, beside formatting the same record as JSON and throwing it away.

    uv run python benchmarks/middleware.py [--quick]
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from benchmarks.figures import Figure, figure, run_alone
from obsview.backend.instrument import JsonFormatter, ObsviewHandler, ObsviewMiddleware

Scope = dict[str, Any]


async def bare_app(scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _post(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_app() -> Starlette:
    """A realistic small app, to show the overhead beside what a framework itself costs."""
    return Starlette(routes=[Route("/api/posts/{post_id:int}", _post)])


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


def _scope(extra_headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/posts/42", "raw_path": b"/api/posts/42", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"127.0.0.1:8000"), (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64) bench"),
            (b"accept", b"application/json"), (b"accept-encoding", b"gzip, deflate"),
            (b"connection", b"keep-alive"), *extra_headers,
        ],
        "state": {},
    }


async def _run_us(app: Any, scope: Scope, n: int) -> float:
    """``n`` requests through ``app``, in µs per request."""
    started = time.perf_counter()
    for _ in range(n):
        await app(scope.copy(), _receive, _send)  # a fresh scope per request, as a server gives
    return (time.perf_counter() - started) / n * 1e6


async def _best_interleaved(cases: dict[str, tuple[Any, Scope]], n: int, rounds: int) -> dict[str, float]:
    """Best of many short rounds for each case, the cases taking turns within each round: on
    a shared machine the best round is the one nobody else interrupted, for every case."""
    best = {name: float("inf") for name in cases}
    for _ in range(rounds):
        for name, (app, scope) in cases.items():
            best[name] = min(best[name], await _run_us(app, scope, n))
    return best


async def _measure(quick: bool) -> list[Figure]:
    n, rounds = (500, 20) if quick else (1_000, 100)
    records: list[dict[str, Any]] = []

    def emit(record: dict[str, Any]) -> None:
        records.append(record)
        if len(records) > 1000:
            records.clear()

    json_logger = logging.getLogger("benchmarks.middleware.access")
    json_logger.propagate = False
    json_logger.addHandler(logging.NullHandler())
    json_logger.setLevel(logging.INFO)

    plain = _scope([])
    traced = _scope([(b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
    with_emit = ObsviewMiddleware(bare_app, emit=emit, service="bench")
    with_logger = ObsviewMiddleware(bare_app, logger=json_logger, service="bench")
    framework = starlette_app()
    framework_with_emit = ObsviewMiddleware(starlette_app(), emit=emit, service="bench")

    await _run_us(with_emit, plain, n // 10)  # warm caches and the allocator
    best = await _best_interleaved({
        "bare": (bare_app, plain),
        "emit": (with_emit, plain),
        "emit_traced": (with_emit, traced),
        "logger": (with_logger, plain),
        "starlette": (framework, plain),
        "starlette_emit": (framework_with_emit, plain),
    }, n, rounds)
    bare, emitted, emitted_traced, logged = best["bare"], best["emit"], best["emit_traced"], best["logger"]
    assert with_emit.failures == 0 and with_logger.failures == 0
    baseline = "bare ASGI app, µs/request"
    return [
        figure("middleware overhead, emit(), new trace id", emitted - bare, "µs/request", baseline, bare),
        figure("middleware overhead, emit(), W3C traceparent", emitted_traced - bare, "µs/request", baseline, bare),
        figure("middleware overhead, JSON to a logger", logged - bare, "µs/request", baseline, bare),
        figure("middleware total per request, emit()", emitted, "µs/request", baseline, bare),
        figure("Starlette app + middleware, emit()", best["starlette_emit"], "µs/request",
               "Starlette app alone, µs/request", best["starlette"]),
    ]


class _FormatOnly(logging.Handler):
    """The baseline: the same JSON line built in the app's thread, then thrown away."""

    def __init__(self) -> None:
        super().__init__()
        self.json = JsonFormatter(service="bench")

    def emit(self, record: logging.LogRecord) -> None:
        self.json.format(record).encode()


def _sink() -> tuple[int, Callable[[], None]]:
    """A loopback TCP listener that reads and discards everything (an agent that keeps up)."""
    listening = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listening.accept()
        with conn:
            while conn.recv(1 << 20):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listening.getsockname()[1], listening.close


def _logger_us(logger: logging.Logger, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        logger.info("User login failed for %s", "a@example.com", extra={"reason": "bad password", "attempt": i})
    return (time.perf_counter() - started) / n * 1e6


def handler_figures(quick: bool) -> list[Figure]:
    n, rounds = (500, 20) if quick else (1_000, 100)
    port, close_sink = _sink()
    shipping = ObsviewHandler(port=port, service="bench", queue_size=n * rounds * 2)
    loggers = {}
    for name, handler in (("ship", shipping), ("format", _FormatOnly())):
        logger = loggers[name] = logging.getLogger(f"benchmarks.middleware.{name}")
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO)
    _logger_us(loggers["ship"], n // 10)
    best = {name: float("inf") for name in loggers}
    for _ in range(rounds):
        for name, logger in loggers.items():
            best[name] = min(best[name], _logger_us(logger, n))
    shipping.close()
    close_sink()
    assert shipping.dropped == 0, f"the queue dropped {shipping.dropped} lines"
    return [figure("logger.info to ObsviewHandler (app thread)", best["ship"], "µs/record",
                   "JSON formatting alone, µs/record", best["format"])]


def run(quick: bool) -> list[Figure]:
    return [*asyncio.run(_measure(quick)), *handler_figures(quick)]



if __name__ == "__main__":
    run_alone(run, __doc__, "fewer iterations (a few seconds)")
