"""``obsview export``: an incident file from an agent's journal, between two times.

    obsview export [URL] --since WHEN [--until WHEN] [--filter EXPR] [--token-file F] FILE

Asks the agent for the events (``Query`` forward from ``--since``, with the filter, over all
history, page after page) and for what it recorded besides them (``StatesQuery``: metrics,
health and alert messages, per-minute rollups, the history read late over the span), then
writes them as one incident file.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Final

from websockets.asyncio.client import ClientConnection, connect

from obsview.common.protocol import (
    BacklogStats,
    Hello,
    LogEvent,
    Metrics,
    MetricsSnapshot,
    MinutePoint,
    Query,
    QueryPage,
    StatesPage,
    StatesQuery,
    decode,
    encode,
)
from obsview.tui.incident import FORMAT, Header, event_frames, write_incident
from obsview.tui.widgets.units import counted

MAX_EVENTS: Final = 2_000_000
"""An export holds at most this many events: narrow --since/--until or --filter beyond."""
PAGE_LIMIT: Final = 10_000
TIMEOUT_S: Final = 60.0
_ids = itertools.count(1)


class ExportError(Exception):
    """What went wrong, for one line on stderr."""


async def export(url: str, *, token: str | None, since: float, until: float, expression: str,
                 path: Path) -> str:
    """Write the incident file; returns the line that says what it holds."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(url, additional_headers=headers, max_size=8 << 20, proxy=None,
                       open_timeout=10) as ws:
        hello = await _hello(ws)
        events = await _events(ws, since, until, expression)
        frames, minutes, backlog = await _states(ws, since, until)
    records = [*frames, *event_frames(events)]
    if minutes or backlog is not None:
        # The per-minute rollups ride on a metrics frame at the start, as on subscribe; the
        # history read late, over the span, with them: the panels show it where the agent
        # sent no metrics then (it read that time's log later).
        decoded = (decode(frame) for _ts, frame in frames)
        first = next((message for message in decoded if isinstance(message, Metrics)), None)
        snapshot = first.snapshot if first is not None else quiet_snapshot(since)
        records.append((since, encode(Metrics(snapshot=snapshot, minutes=tuple(minutes), backlog=backlog))))
    header = Header(FORMAT, time.time(), f"{url} ({hello.service or 'agent'}@{hello.host})", since, until, expression)
    write_incident(path, header, records)
    history = len(backlog.minutes) if backlog is not None else 0
    return (f"wrote {path}: {counted(len(events), 'event')}, {len(frames):,} metrics/health/alert"
            f" messages, {counted(len(minutes) + history, 'minute')}")


def quiet_snapshot(ts: float) -> MetricsSnapshot:
    """The agent's figures where it sent none: no live request (so history is shown)."""
    return MetricsSnapshot(
        ts=ts, uptime_s=0.0, requests_total=0, errors_total=0, rate_1m=0.0, rate_5m=0.0, rate_15m=0.0,
        error_rate_1m=0.0, error_rate_5m=0.0, error_rate_15m=0.0, latency_avg_ms=None,
        latency_min_ms=None, latency_max_ms=None, p50_ms=None, p95_ms=None, p99_ms=None,
        cache_hit_rate=None, cpu_percent=0.0, memory_percent=0.0, disk_percent=0.0, load_1m=0.0,
    )


async def _recv(ws: ClientConnection) -> object:
    return decode(await asyncio.wait_for(ws.recv(), TIMEOUT_S))


async def _hello(ws: ClientConnection) -> Hello:
    while True:
        message = await _recv(ws)
        if isinstance(message, Hello):
            return message


async def _events(ws: ClientConnection, since: float, until: float, expression: str) -> list[LogEvent]:
    events: list[LogEvent] = []
    after = 0
    while True:
        query_id = next(_ids)
        await ws.send(encode(Query(query_id, expression, after_seq=after, since_ts=since, until_ts=until,
                                   limit=PAGE_LIMIT, history=True)), text=True)
        page = QueryPage(query_id)
        while not page.done:
            message = await _recv(ws)
            if isinstance(message, QueryPage) and message.id == query_id:
                page = message
                events.extend(page.events)
        if page.error:
            raise ExportError(f"the agent refused the query: {page.error}")
        if len(events) > MAX_EVENTS:
            raise ExportError(f"more than {MAX_EVENTS:,} events: narrow --since/--until or --filter")
        if page.matched < PAGE_LIMIT:
            return events
        after = page.next_seq


async def _states(ws: ClientConnection, since: float, until: float
                  ) -> tuple[list[tuple[float, bytes]], list[MinutePoint], BacklogStats | None]:
    query_id = next(_ids)
    await ws.send(encode(StatesQuery(query_id, since, until)), text=True)
    frames: list[tuple[float, bytes]] = []
    minutes: list[MinutePoint] = []
    while True:
        message = await _recv(ws)
        if isinstance(message, StatesPage) and message.id == query_id:
            frames.extend((frame.ts, frame.frame.encode()) for frame in message.frames)
            minutes.extend(message.minutes)
            if message.done:
                if message.error:
                    raise ExportError(f"the agent refused: {message.error}")
                return frames, minutes, message.backlog
