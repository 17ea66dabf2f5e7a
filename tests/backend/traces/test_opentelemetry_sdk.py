"""The real OpenTelemetry SDK and its OTLP/HTTP exporters (protobuf, their default) sending
the spans and logs of an instrumented Starlette app to a real agent on loopback."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
from polling import wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.common.protocol import LogEvent
from obsview.tui.waterfall import layout

REQUESTS = 5
APP = Path(__file__).with_name("otel_app.py")


async def test_the_waterfall_matches_the_sdks_spans_with_the_logs_and_requests_count_once(
    tmp_path: Path,
) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path, otlp=[("127.0.0.1", 0)])
    async with Agent(config) as agent:
        (source,) = agent.sources
        assert isinstance(source, OtlpHttpSource)
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(APP), str(source.port), str(REQUESTS),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err.decode()[-2000:]
        produced = orjson.loads(out)["spans"]
        assert len(produced) == REQUESTS * 4  # server, cache, query, pool per request
        await wait_until(lambda: agent.traces.spans == len(produced), what="every span")
        await wait_until(lambda: source.records_accepted == REQUESTS * 3, what="every log record")
        # Accepted is not yet stored: the records reach the store through the ingest queue.
        await wait_until(lambda: len(_traced(agent)) == REQUESTS * 3, what="every log record stored")

        by_trace: dict[str, list[dict[str, str]]] = {}
        for span in produced:
            by_trace.setdefault(span["trace_id"], []).append(span)
        assert len(by_trace) == REQUESTS
        events = _traced(agent)
        for trace_id, spans in by_trace.items():
            lines = [event for event in events if event.trace_id == trace_id]
            waterfall = layout(trace_id, agent.traces.get(trace_id), lines)
            # The tree the console draws: each span under the parent the SDK gave it.
            depth_of = {row.key: row.depth for row in waterfall.rows}
            parents = {s["span_id"]: s["parent_id"] for s in spans}
            for span_id, parent in parents.items():
                expected = 0 if not parent else depth_of[parent] + 1
                assert depth_of[span_id] == expected
            names = [row.span.name if row.span else row.event.message  # type: ignore[union-attr]
                     for row in waterfall.rows]
            assert names == ["GET /api/posts/:post_id", "cache GET", "cache miss", "SELECT post",
                             "pool.acquire", "slow query", "Request completed"]
            warning = next(row for row in waterfall.rows if row.event and row.event.level == "WARN")
            assert warning.depth == 2  # logged inside the query's span, shown under it

        await wait_until(lambda: agent.metrics.snapshot().requests_total == REQUESTS,
                         what="request metrics")
        await asyncio.sleep(0.2)
        snapshot = agent.metrics.snapshot()
        # Each request arrived twice (its server span, its access log) and counts once.
        assert snapshot.requests_total == REQUESTS
        assert agent.counters()["requests_seen_twice"] == REQUESTS
        (route,) = snapshot.routes
        assert (route.route, route.method, route.requests) == ("/api/posts/:post_id", "GET", REQUESTS)


def _traced(agent: Agent) -> list[LogEvent]:
    """The stored events that carry a trace id (the app's records, not the agent's own)."""
    events, _ = agent.store.since(0, 1000)
    return [event for event in events if event.trace_id]
