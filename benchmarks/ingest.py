"""Ingest throughput: a log file → FileTailSource → Normalizer → EventStore, in lines/s,
beside a bare ``orjson.loads`` loop over the same lines in the same run (issue 11 target:
≥ 0.40 for every shape), one figure per byte shape of :mod:`benchmarks.shapes`, worst first.

The seed shape is the chapter's own mix: mostly "Request completed" (``logEvent``; anonymous
requests have no ``userId`` and most have no ``correlationId``, as ``JSON.stringify`` drops
undefined fields), some logins (the seed's success record says ``method: "password"`` and a
failure's ``reason`` may read "wrong password", as the demo app's does: those lines hit the
secret gate) and some "Unhandled error occurred" with a stack. The other shapes are the
request record as winston, ``json.dumps``, pino, ``logging`` and structlog write it, and a
10 % logfmt/text mix. The store holds the agent's default 100,000 events, so the long run
measures a full ring that evicts.

    uv run python benchmarks/ingest.py [--quick]
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, run_alone
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.file_tail import FileTailSource
from obsview.backend.store.ring import EventStore
from obsview.common.gc_schedule import ScheduledCollection
from obsview.common.protocol import LogEvent

ROUNDS = 3
STORE_CAPACITY = 100_000
"""The agent's default: the full run (300k lines) measures a full ring that evicts."""
ROUTES = ("/api/posts", "/api/posts/{}", "/api/users/{}", "/api/posts/{}/comments")
_STACK = (
    "TypeError: Cannot read properties of undefined (reading 'id')\n"
    "    at getPost (/app/routes/posts.js:42:17)\n"
    "    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)"
)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "curl/8.4.0",
)


def seed_lines(n: int) -> list[bytes]:
    """90 % request records, 3 % login successes, 4 % failures, 3 % errors with a stack."""
    rng = random.Random(3)
    lines = []
    for i in range(n):
        stamp = f"2026-11-25T15:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z"
        kind = rng.random()
        if kind < 0.90:
            status = rng.choices((200, 201, 304, 404, 500), (80, 5, 5, 7, 3))[0]
            took = rng.randint(2, 400)
            request: dict[str, object] = {
                "id": f"req_{i:x}", "method": rng.choice(("GET", "GET", "GET", "POST")),
                "url": rng.choice(ROUTES).format(rng.randint(1, 5000)),
                "ip": f"203.0.113.{i % 250}",
                "userAgent": rng.choice(AGENTS),
            }
            if rng.random() < 0.6:
                request["userId"] = i % 977
            if rng.random() < 0.3:
                request["correlationId"] = f"c-{i:x}"
            record: dict[str, object] = {
                "timestamp": stamp, "level": "INFO" if status < 400 else "WARN",
                "message": "Request completed", "request": request,
                "response": {"statusCode": status, "responseTime": took},
                "duration": took,
            }
        elif kind < 0.93:
            record = {
                "timestamp": stamp, "level": "INFO", "message": "User login successful",
                "userId": i % 977, "email": f"user{i % 300}@example.com", "method": "password",
                "ip": f"198.51.100.{i % 250}", "duration": rng.randint(20, 90),
            }
        elif kind < 0.97:
            record = {
                "timestamp": stamp, "level": "WARN", "message": "User login failed",
                "email": f"user{i % 300}@example.com",
                "reason": rng.choice(("wrong password", "unknown email")),
                "ip": f"198.51.100.{i % 250}", "userAgent": "curl/8.4.0",
                "duration": rng.randint(20, 90),
            }
        else:
            record = {
                "timestamp": stamp, "level": "ERROR", "message": "Unhandled error occurred",
                "errorId": f"err_{i:x}", "stack": _STACK,
                "request": {"id": f"req_{i:x}", "method": "POST", "url": "/api/posts"},
            }
        lines.append(orjson.dumps(record))
    return lines


def raw_parse_rate(lines: list[bytes]) -> float:
    """Baseline: one ``orjson.loads`` per line, nothing kept (a text line costs its failure)."""
    loads = orjson.loads
    error = orjson.JSONDecodeError
    started = time.perf_counter()
    for line in lines:
        try:
            loads(line)
        except error:
            pass
    return len(lines) / (time.perf_counter() - started)


async def _tail_once(path: Path, count: int) -> float:
    normalizer = Normalizer(service="blog-api", host="bench")
    store = EventStore(capacity=STORE_CAPACITY)
    done = asyncio.Event()

    async def emit(events: list[LogEvent]) -> None:
        store.append(events)
        if store.last_seq >= count:
            done.set()

    source = FileTailSource([str(path)], normalizer, from_start=True, poll_interval=0.001)
    started = time.perf_counter()
    task = asyncio.create_task(source.run(emit))
    try:
        await asyncio.wait_for(done.wait(), 600)
        elapsed = time.perf_counter() - started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if store.last_seq != count:
        raise RuntimeError(f"expected {count} events, the store got {store.last_seq}")
    return count / elapsed


def _rates(lines: list[bytes], path: Path) -> tuple[float, float]:
    """(orjson baseline, file→store), best of :data:`ROUNDS` each."""
    path.write_bytes(b"\n".join(lines) + b"\n")
    raw = end_to_end = 0.0
    # Rounds interleave baseline and pipeline, best of each: on a shared machine a slow
    # spell then lowers both sides of a ratio, not one.
    for _ in range(ROUNDS):
        raw = max(raw, raw_parse_rate(lines))
        end_to_end = max(end_to_end, asyncio.run(_tail_once(path, len(lines))))
    return raw, end_to_end


def run(quick: bool) -> list[Figure]:
    from benchmarks.shapes import SHAPES

    count = 50_000 if quick else 300_000
    figures = []
    # The pipeline runs under the agent's garbage-collection regime (see gc_schedule).
    collection = ScheduledCollection()
    collection.start()
    try:
        with tempfile.TemporaryDirectory(prefix="obsview-bench-") as folder:
            path = Path(folder) / "app.log"
            for name, write in SHAPES.items():
                raw, end_to_end = _rates(write(count), path)
                figures.append(figure(f"ingest file→normalize→store, {name}", end_to_end,
                                      "lines/s", "orjson.loads per line", raw))
    finally:
        collection.stop()
    return sorted(figures, key=lambda result: result["ratio"])


if __name__ == "__main__":
    run_alone(run, __doc__, "100k lines instead of 300k")
