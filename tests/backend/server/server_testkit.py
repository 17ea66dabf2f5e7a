"""Shared helpers for the server tests (imported by name; conftest puts this folder on sys.path): a real StreamServer on 127.0.0.1 port 0 and protocol-level client helpers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection

from obsview.backend.serving.server import AlertCommand, HttpReply, StreamServer
from obsview.backend.store.history import History
from obsview.backend.store.query import EventQuery, Page
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import (
    Alerts,
    Error,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    Message,
    Metrics,
    MetricsPoint,
    MetricsSnapshot,
    MinutePoint,
    TimedFrame,
    UnknownMessage,
    decode,
)

RECV_TIMEOUT_S = 5.0
SNAPSHOT = MetricsSnapshot(
    ts=1.0, uptime_s=1.0, requests_total=0, errors_total=0,
    rate_1m=0.0, rate_5m=0.0, rate_15m=0.0,
    error_rate_1m=0.0, error_rate_5m=0.0, error_rate_15m=0.0,
    latency_avg_ms=None, latency_min_ms=None, latency_max_ms=None,
    p50_ms=None, p95_ms=None, p99_ms=None, cache_hit_rate=None,
    cpu_percent=0.0, memory_percent=0.0, disk_percent=0.0, load_1m=0.0,
)


class TableView:
    """A small, deterministic agent for server tests: a real EventStore and a fixed alert."""

    def __init__(self, capacity: int = 1000) -> None:
        self.store = EventStore(capacity)
        self.fingerprints = {"fp-1"}
        self.acked: list[str] = []

    def hello(self) -> Hello:
        return Hello(agent_version="test", host="h", service="s", seq=self.store.last_seq, started_at=0.0)

    def metrics_message(self, *, with_history: bool) -> Metrics:
        history = (MetricsPoint(ts=0.0, rate=1.0, error_rate=0.0, p50_ms=None, p95_ms=None, p99_ms=None),)
        return Metrics(snapshot=SNAPSHOT, history=history if with_history else ())

    def health_message(self) -> Health:
        return Health(report=HealthReport(status="healthy", ts=0.0, uptime_s=0.0, version="test"))

    def alerts_message(self) -> Alerts:
        return Alerts(alerts=())

    def last_seq(self) -> int:
        return self.store.last_seq

    async def events_since(self, seq: int, limit: int) -> tuple[list[LogEvent], int]:
        return await History(self.store).since(seq, limit)

    def held_seqs(self, *, history: bool) -> tuple[int, int]:
        return History(self.store).held_seqs(history=history)

    def held_between(self, low: int, high: int) -> int:
        return History(self.store).held_between(low, high)

    def retention_dropped(self) -> int:
        return 0

    async def query_page(self, query: EventQuery, *, history: bool, limit: int) -> Page:
        return await History(self.store).query_page(query, history=history, limit=limit)

    async def states(self, since_ts: float, until_ts: float) -> tuple[list[TimedFrame], list[MinutePoint]]:
        return [], []

    def command(self, message: AlertCommand) -> Error | None:
        fingerprint = getattr(message, "fingerprint", "")
        if fingerprint not in self.fingerprints:
            return Error(code="unknown_alert", message=f"no alert {fingerprint}")
        self.acked.append(fingerprint)
        return None

    def http_get(self, path: str) -> HttpReply | None:
        if path == "/api/health":
            return HttpReply(200, "application/json", b'{"status":"healthy"}')
        return None


def make_events(n: int, *, start: int = 0, level: str = "INFO", size: int = 0) -> list[LogEvent]:
    return [LogEvent(ts=1.0, level=level, message=f"line {start + i}" + "x" * size) for i in range(n)]


@contextlib.asynccontextmanager
async def running(server: StreamServer) -> AsyncIterator[StreamServer]:
    ws_server = await server.start()
    task = asyncio.create_task(ws_server.serve_forever())
    try:
        yield server
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def recv_message(ws: ClientConnection) -> Message | UnknownMessage:
    return decode(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))


async def recv_until(ws: ClientConnection, kind: type[Any]) -> tuple[Any, list[Any]]:
    """Read until a message of ``kind``; returns it and everything read before it."""
    before: list[Any] = []
    while True:
        message = await recv_message(ws)
        if isinstance(message, kind):
            return message, before
        before.append(message)
