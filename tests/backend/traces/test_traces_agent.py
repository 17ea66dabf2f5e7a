"""POST /v1/traces on a real agent: both encodings, the documented errors, spans streamed to
the consoles that ask (with resume and gaps), server spans counted as requests once."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from span_testkit import CHILD_ID, ROOT_ID, TRACE_ID, export_of, otlp_span, protobuf_of, server_span
from websockets.asyncio.client import ClientConnection, connect

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.backend.signals.span_requests import RequestDedup, span_request
from obsview.common.protocol import (
    Hello,
    LogEvent,
    Message,
    Ping,
    Pong,
    SpanGap,
    Spans,
    Subscribe,
    decode,
    encode,
)
from obsview.common.spans import Span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture
def config(tmp_path: Path) -> AgentConfig:
    return AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state",
                       otlp=[("127.0.0.1", 0)])


def traces_url(agent: Agent) -> str:
    (source,) = agent.sources
    assert isinstance(source, OtlpHttpSource)
    return f"http://127.0.0.1:{source.port}/v1/traces"


async def read_until(ws: ClientConnection, kind: type[Message]) -> tuple[Any, list[Any]]:
    before: list[Any] = []
    while True:
        message = decode(await asyncio.wait_for(ws.recv(), 5))
        if isinstance(message, kind):
            return message, before
        before.append(message)


async def test_spans_in_both_encodings_are_stored_streamed_and_counted(config: AgentConfig) -> None:
    child = otlp_span(CHILD_ID, "SELECT posts", 2, 9, parent=ROOT_ID, kind=3)
    async with Agent(config) as agent, httpx.AsyncClient(timeout=5) as http:
        async with connect(agent.url) as tracing, connect(agent.url) as plain:
            await tracing.send(encode(Subscribe(spans=True)))
            await plain.send(encode(Subscribe()))
            for ws in (tracing, plain):  # both subscriptions are in place
                await ws.send(encode(Ping(nonce=1)))
                await read_until(ws, Pong)
            as_json = await http.post(traces_url(agent), json=export_of(server_span()))
            as_protobuf = await http.post(traces_url(agent), content=protobuf_of(export_of(child)),
                                          headers=PROTOBUF)
            first, _ = await read_until(tracing, Spans)
            second, _ = await read_until(tracing, Spans)
            await plain.send(encode(Ping(nonce=2)))
            _, before_pong = await read_until(plain, Pong)
    assert as_json.status_code == as_protobuf.status_code == 200
    assert as_json.json() == {"partialSuccess": {}}
    assert as_protobuf.headers["content-type"] == "application/x-protobuf"
    assert [s.span_id for s in first.spans + second.spans] == [ROOT_ID, CHILD_ID]
    assert first.spans[0].attributes["http.request.header.authorization"] == "«redacted»"
    assert not [m for m in before_pong if isinstance(m, Spans)]  # not asked for: not sent
    assert [s.span_id for s in agent.traces.get(TRACE_ID)] == [ROOT_ID, CHILD_ID]
    assert agent.metrics.snapshot().requests_total == 1  # the server span; not the client span
    counters = agent.counters()
    assert counters["otlp_spans_accepted"] == 2 and agent.gauges()["trace_spans"] == 2


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
async def test_a_secret_in_the_scope_name_is_redacted(config: AgentConfig, encoding: str) -> None:
    """The instrumentation scope's name reached the consoles' span stream and the span
    detail as sent, token and all; every other producer text of a span was redacted."""
    export = export_of(server_span())
    export["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = "client token=SEKRITscope"
    body, headers = ((protobuf_of(export), PROTOBUF) if encoding == "protobuf"
                     else (orjson.dumps(export), {"Content-Type": "application/json"}))
    async with Agent(config) as agent, httpx.AsyncClient(timeout=5) as http:
        async with connect(agent.url) as ws:
            await ws.send(encode(Subscribe(spans=True)))
            await ws.send(encode(Ping(nonce=1)))
            await read_until(ws, Pong)
            assert (await http.post(traces_url(agent), content=body, headers=headers)).status_code == 200
            raw = await asyncio.wait_for(ws.recv(), 5)
    spans = decode(raw)
    assert isinstance(spans, Spans)
    assert spans.spans[0].scope == "client token=«redacted»"
    assert "SEKRIT" not in str(raw) and "SEKRIT" not in repr(agent.traces.get(TRACE_ID))


async def test_a_console_resumes_spans_and_is_told_what_was_evicted(config: AgentConfig) -> None:
    async with Agent(config) as agent:
        agent._traces.max_spans = 3  # a small store: evicts the oldest traces
        for n in range(5):
            await agent.ingest_spans([Span(trace_id=f"{n:032x}", span_id=f"{n + 1:016x}",
                                           name=f"op {n}", start=1.0, end=2.0)])
        async with connect(agent.url) as ws:
            hello, _ = await read_until(ws, Hello)
            await ws.send(encode(Subscribe(since_seq=0, spans=True, spans_since_seq=0)))
            gap, _ = await read_until(ws, SpanGap)
            spans, _ = await read_until(ws, Spans)
    assert hello.span_seq == 5
    assert (gap.missed, gap.from_seq) == (2, 1)
    assert [s.seq for s in spans.spans] == [3, 4, 5]


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"{not json", {"Content-Type": "application/json"}, 400),
    (b"[]", {"Content-Type": "application/json"}, 400),
    (b"\xff\xff\xff", PROTOBUF, 400),
    (b"{}", {"Content-Type": "text/plain"}, 415),
    (b"{}", {"Content-Type": "application/json", "Content-Encoding": "br"}, 415),
    (gzip.compress(b" " * (8 * 1024 * 1024)), {"Content-Type": "application/json",
                                                "Content-Encoding": "gzip"}, 413),
])
async def test_bad_exports_get_the_documented_errors(
    config: AgentConfig, body: bytes, headers: dict[str, str], status: int
) -> None:
    async with Agent(config) as agent, httpx.AsyncClient(timeout=5) as http:
        response = await http.post(traces_url(agent), content=body, headers=headers)
    assert response.status_code == status
    assert isinstance(response.json()["message"], str)


async def test_a_huge_body_is_413_and_a_deeply_nested_span_is_rejected_alone(config: AgentConfig) -> None:
    value: dict[str, Any] = {"stringValue": "deep"}
    for _ in range(36):  # deeper than the 32 levels kept, within protobuf's 100 messages
        value = {"arrayValue": {"values": [value]}}
    deep = otlp_span(CHILD_ID, "deep", 0, 1, attributes=[{"key": "k", "value": value}])
    async with Agent(config) as agent, httpx.AsyncClient(timeout=5) as http:
        huge = await http.post(traces_url(agent), content=b"x" * (5 * 1024 * 1024),
                               headers={"Content-Type": "application/json"})
        nested = await http.post(traces_url(agent), content=orjson.dumps(export_of(deep, server_span())),
                                 headers={"Content-Type": "application/json"})
        nested_pb = await http.post(traces_url(agent), content=protobuf_of(export_of(deep)),
                                    headers=PROTOBUF)
    assert huge.status_code == 413
    assert nested.status_code == 200
    assert nested.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "nested" in nested.json()["partialSuccess"]["errorMessage"]
    assert nested_pb.status_code == 200 and agent.traces.spans == 1


async def test_exports_beyond_the_in_flight_budget_get_429_with_retry_after(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def slow_sink(spans: list[Span]) -> None:
        await gate.wait()

    async def no_events(events: list[LogEvent]) -> None:
        raise AssertionError("no log records were sent")

    body = orjson.dumps(export_of(server_span()))
    source = OtlpHttpSource("127.0.0.1", 0, Normalizer(), spans=slow_sink,
                            max_in_flight_bytes=len(body))
    task = asyncio.create_task(source.run(no_events))
    await asyncio.wait_for(source.listening.wait(), 5)
    try:
        url = f"http://127.0.0.1:{source.port}"
        async with httpx.AsyncClient(timeout=5) as first, httpx.AsyncClient(timeout=5) as second:
            held = asyncio.create_task(first.post(f"{url}/v1/traces", content=body,
                                                  headers={"Content-Type": "application/json"}))
            while not source.requests:
                await asyncio.sleep(0.01)
            refused = await second.post(f"{url}/v1/logs", content=b"{}",
                                        headers={"Content-Type": "application/json"})
            gate.set()
            accepted = await held
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert accepted.status_code == 200 and source.requests_throttled == 1


def access(trace: str, span: str = "", status: int = 200) -> LogEvent:
    return LogEvent(ts=1.0, level="INFO", message="Request completed", trace_id=trace,
                    span_id=span, status=status, duration_ms=5.0, method="GET", route="/a")


def server(trace: str, span: str) -> LogEvent:
    request = span_request(Span(trace_id=trace, span_id=span, name="GET /a", start=0.0, end=0.005,
                                kind=2, attributes={"http.response.status_code": 200}))
    assert request is not None
    return request


def test_a_request_seen_as_span_and_access_log_is_counted_once_in_either_order() -> None:
    dedup = RequestDedup()
    assert len(dedup.logs([access("t1"), access("t2", "s2")])) == 2
    assert dedup.spans([server("t1", "s1"), server("t2", "s2")]) == []
    assert len(dedup.spans([server("t3", "s3")])) == 1
    assert dedup.logs([access("t3")]) == []
    assert dedup.matched == 3


def test_two_services_in_one_trace_count_two_requests() -> None:
    dedup = RequestDedup()
    assert len(dedup.logs([access("t"), access("t")])) == 2  # logs never match each other
    assert dedup.spans([server("t", "a"), server("t", "b")]) == []
    assert len(dedup.spans([server("t", "c")])) == 1


def test_a_log_with_another_span_id_is_another_request() -> None:
    dedup = RequestDedup()
    dedup.spans([server("t", "a")])
    assert len(dedup.logs([access("t", "b")])) == 1


def test_pending_requests_are_bounded() -> None:
    dedup = RequestDedup(max_traces=10)
    dedup.logs([access(f"t{n}") for n in range(1000)])
    assert len(dedup._pending) == 10


def test_a_span_too_big_for_a_frame_is_sent_without_its_attributes() -> None:
    from obsview.backend.serving.frames import span_frames
    from obsview.common.protocol import MAX_FRAME_BYTES

    huge = Span(trace_id="ab" * 16, span_id="cd" * 8, name="big", start=1.0, end=2.0, seq=9,
                attributes={f"k{i}": "x" * (1 << 20) for i in range(10)})
    small = Span(trace_id="ab" * 16, span_id="ef" * 8, name="small", start=1.0, end=2.0, seq=10)
    frames = span_frames([huge, small], 500)
    assert all(len(frame) <= MAX_FRAME_BYTES for frame, _ in frames)
    sent = [span for _, chunk in frames for span in chunk]
    assert [s.seq for s in sent] == [9, 10]
    assert sent[0].events == () and sent[0].dropped == 10 and "obsview.frame_bytes" in sent[0].attributes


async def test_a_flood_of_distinct_trace_ids_stays_inside_the_stores_bound(config: AgentConfig) -> None:
    async with Agent(config) as agent, httpx.AsyncClient(timeout=10) as http:
        agent.traces.max_spans = 300
        for request in range(8):
            spans = [otlp_span(CHILD_ID, "op", 0, 1, trace_id=f"{request + 1:016x}{n:016x}")
                     for n in range(250)]
            response = await http.post(traces_url(agent), content=protobuf_of(export_of(*spans)),
                                       headers=PROTOBUF)
            assert response.status_code == 200
            assert agent.traces.spans <= 300
    counters = agent.counters()
    assert counters["otlp_spans_accepted"] == 2000
    assert counters["trace_traces_evicted"] == 2000 - 300 and agent.gauges()["trace_traces"] == 300
