"""Hands the demo API's records to an in-process agent: access records from the middleware
and the app's own log records, normalized and ingested in batches.

Producers call synchronous ``emit``-style methods (the middleware and logging cannot await);
a task flushes every ``interval_s``. The buffer is bounded: when it is full a record is
dropped and counted, and the agent receives a WARN event saying how many were lost, so a
loss is visible in the console rather than silent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from obsview.backend.ingest.sources import otlp_spans
from obsview.backend.instrument import record_to_dict
from obsview.common.protocol import LogEvent
from obsview.common.spans import Span

if TYPE_CHECKING:
    from obsview.backend.ingest.normalize import Normalizer


class IngestingAgent(Protocol):
    normalizer: Normalizer

    async def ingest(self, events: list[LogEvent]) -> None: ...

    async def ingest_spans(self, spans: list[Span]) -> None: ...


class AgentFeed:
    def __init__(self, agent: IngestingAgent, *, limit: int = 20_000, interval_s: float = 0.05,
                 service: str = "") -> None:
        self.agent = agent
        self.service = service
        self.limit = limit
        self.interval_s = interval_s
        self.delivered = 0
        self.dropped = 0
        self._reported_dropped = 0
        self._pending: list[tuple[dict[str, Any], str]] = []
        self._spans: list[dict[str, Any]] = []
        """OTLP/JSON spans from the middleware (bounded by ``limit`` too)."""

    def access(self, record: dict[str, Any]) -> None:
        """The middleware's ``emit``."""
        self.add(record, "asgi:blog-api")

    def span(self, span: dict[str, Any]) -> None:
        """The middleware's span sink."""
        if len(self._spans) >= self.limit:
            self.dropped += 1
            return
        self._spans.append(span)

    def add(self, record: dict[str, Any], source: str) -> None:
        if len(self._pending) >= self.limit:
            self.dropped += 1
            return
        self._pending.append((record, source))

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        normalize = self.agent.normalizer.normalize_record
        events = [normalize(record, source) for record, source in batch]
        if self.dropped > self._reported_dropped:
            lost = self.dropped - self._reported_dropped
            self._reported_dropped = self.dropped
            events.append(LogEvent(
                ts=time.time(), level="WARN", source="obsview-demo", service="obsview-demo",
                message=f"demo feed buffer full: {lost} records dropped ({self.dropped} in total)",
            ))
        if events:
            await self.agent.ingest(events)
            self.delivered += len(batch)
        spans, self._spans = self._spans, []
        if spans:
            # The same mapping (and redaction) as spans received over OTLP.
            export = {"resourceSpans": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": self.service}}]},
                "scopeSpans": [{"scope": {"name": "obsview.instrument"}, "spans": spans}],
            }]}
            await self.agent.ingest_spans([s for s in otlp_spans.iter_json(export) if isinstance(s, Span)])

    async def run(self) -> None:
        """Flush every ``interval_s`` until cancelled; the owner calls :meth:`flush` once more
        after cancelling so the last records are not lost."""
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()


class FeedHandler(logging.Handler):
    """A logging handler that puts records into an :class:`AgentFeed` (the app's own logs).

    The record becomes a dict in the caller's context, so it carries the request's trace ID.
    """

    def __init__(self, feed: AgentFeed, *, service: str, source: str, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.feed = feed
        self.service = service
        self.source = source

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.feed.add(record_to_dict(record, service=self.service), self.source)
        except Exception:  # logging must never raise into the app; count it
            self.feed.dropped += 1
