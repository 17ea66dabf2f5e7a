"""The demo's blog API is traced: each request a server span with its database and Redis
calls under it, its logs stamped with their span, and each request counted once."""

from __future__ import annotations

from polling import wait_until

from obsview.backend.demo import run_demo
from obsview.common.spans import KIND_CLIENT, KIND_SERVER
from obsview.common.traces import summarize


async def test_the_demo_api_sends_spans_for_the_handler_and_its_calls() -> None:
    async with run_demo(duration_s=30, rate=20, seed=3) as demo:
        agent = demo.agent
        await wait_until(lambda: agent.traces.spans >= 40, timeout=15, what="demo spans")
        await demo.feed.flush()
        traced = [agent.traces.get(t) for t in agent.traces.trace_ids()]
        with_calls = [spans for spans in traced
                      if any(s.kind == KIND_CLIENT and s.name.startswith(("db", "redis")) for s in spans)]
        assert with_calls, "no request had a database or Redis span"
        spans = with_calls[0]
        (server,) = [s for s in spans if s.kind == KIND_SERVER]
        assert all(s.parent_id for s in spans if s is not server)
        summary = summarize(server.trace_id, spans)
        assert summary is not None and summary.route.startswith("/api/")
        events, _ = agent.store.since(0, 100_000)
        logs = [e for e in events if e.trace_id == server.trace_id and not e.is_access]
        span_ids = {s.span_id for s in spans}
        assert all(e.span_id in span_ids for e in logs)  # every log line hangs under a span
        access = [e for e in events if e.is_access and e.source.startswith("asgi")]
        assert all(e.span_id for e in access)
        # Each request is seen twice (its span, its access record) and counted once.
        totals = agent.metrics.snapshot().requests_total
        servers = sum(1 for t in traced for s in t if s.kind == KIND_SERVER)
        assert totals <= max(len(access), servers) + 1
        assert agent.counters()["requests_seen_twice"] > 0
