"""The OTLP/HTTP source over real loopback HTTP: httpx posting OTLP JSON, raw sockets for
what httpx will not send (bad framing, slow clients)."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
import msgspec
import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from otlp_testkit import (
    SPAN_ID,
    TRACE_ID,
    Collector,
    export_of,
    js_exporter_payload,
    protobuf_of,
    running_source,
)
from polling import wait_until

from obsview.backend.connection_slots import GRACE_S
from obsview.backend.ingest.sources.otlp import BATCH_RECORDS

JSON = {"Content-Type": "application/json"}
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def url(port: int, path: str = "/v1/logs") -> str:
    return f"http://127.0.0.1:{port}{path}"


async def test_js_exporter_payload_is_normalized() -> None:
    collector = Collector()
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), json=js_exporter_payload())
    assert response.status_code == 200
    assert response.json() == {"partialSuccess": {}}
    completed, failed, warned = collector.events
    assert (completed.level, completed.message, completed.service, completed.host) == (
        "INFO", "Request completed", "blog-api", "web-1")
    assert completed.ts == pytest.approx(1764079200.123)
    assert (completed.trace_id, completed.span_id) == (TRACE_ID, SPAN_ID)
    assert (completed.method, completed.path, completed.route, completed.status) == (
        "GET", "/api/posts/42", "/api/posts/:id", 200)
    assert completed.duration_ms == pytest.approx(12.5) and completed.is_access
    assert (completed.ip, completed.user_agent, completed.user_id) == (
        "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64)", "user-17")
    assert completed.extra["authorization"] == "«redacted»" and completed.redacted
    assert "abcdef0123456789" not in completed.raw
    assert completed.extra["resource"]["telemetry.sdk.language"] == "nodejs"
    assert completed.source.startswith("otlp:127.0.0.1:")
    assert (failed.level, failed.error_type, failed.error_message) == (
        "ERROR", "TimeoutError", "query timed out after 5000 ms")
    assert "db.js:42" in failed.stack and failed.trace_id == TRACE_ID
    # timeUnixNano 0: the observed time; a kvlist body is fields, its "message" the message.
    assert (warned.level, warned.message, warned.trace_id) == ("WARN", "Slow request", "")
    assert warned.ts == pytest.approx(1764079200.789) and warned.extra["threshold_ms"] == 1000
    assert source.records_accepted == 3


async def test_severity_text_is_used_without_a_severity_number() -> None:
    collector = Collector()
    records = [{"severityText": text, "body": {"stringValue": text}} for text in ("WARNING", "debug", "Fatal")]
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), json=export_of(*records))
    assert response.status_code == 200
    assert [e.level for e in collector.events] == ["WARN", "DEBUG", "ERROR"]


async def test_bad_records_are_rejected_and_the_rest_kept() -> None:
    collector = Collector()
    records = [
        {"body": {"stringValue": "fine"}},
        {"body": {"stringValue": "bad"}, "traceId": "not-hex"},
        {"body": {"madeUpValue": 1}},
    ]
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), json=export_of(*records))
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "2"
    assert "traceId must be 32 hex digits" in partial["errorMessage"]
    assert [e.message for e in collector.events] == ["fine"]
    assert (source.records_accepted, source.records_rejected) == (1, 2)


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b'{"resourceLogs": {}}', 400)],
)
async def test_malformed_requests_are_400(body: bytes, status: int) -> None:
    collector = Collector()
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), content=body, headers=JSON)
    assert response.status_code == status
    assert response.json()["message"]
    assert collector.events == []


async def test_protobuf_export_gives_the_events_json_gives() -> None:
    # The default encoding of the Collector and of most SDKs (http/protobuf).
    from_json, from_protobuf = Collector(), Collector()
    async with running_source(from_json) as source, httpx.AsyncClient(timeout=5) as client:
        await client.post(url(source.port), json=js_exporter_payload())
    async with running_source(from_protobuf) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(
            url(source.port), content=protobuf_of(js_exporter_payload()), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()

    def fields(event: Any) -> dict[str, Any]:
        return {k: v for k, v in msgspec.structs.asdict(event).items() if k != "source"}

    assert len(from_protobuf.events) == 3
    assert [fields(e) for e in from_protobuf.events] == [fields(e) for e in from_json.events]
    assert from_protobuf.events[0].trace_id == TRACE_ID and from_protobuf.events[0].redacted


async def test_protobuf_rejections_are_answered_in_protobuf() -> None:
    collector = Collector()
    records = [{"body": {"stringValue": "fine"}},
               {"body": {"stringValue": "bad"}, "traceId": "0102030405"}]
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(
            url(source.port), content=protobuf_of(export_of(*records)), headers=PROTOBUF)
    assert response.status_code == 200
    partial = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_log_records == 1
    assert "traceId must be 32 hex digits" in partial.error_message
    assert [e.message for e in collector.events] == ["fine"]


def _nested_body(depth: int) -> bytes:
    """An export whose one log record's body nests ``depth`` arrays deep, written field by
    field (the protobuf runtime refuses to build a message that deep itself)."""

    def field(message: Any, name: str, payload: bytes) -> bytes:
        tag = message.DESCRIPTOR.fields_by_name[name].number << 3 | 2  # length-delimited
        return _varint(tag) + _varint(len(payload)) + payload

    value = AnyValue(string_value="x").SerializeToString()
    for _ in range(depth):
        value = field(AnyValue, "array_value", field(ArrayValue, "values", value))
    record = field(LogRecord, "body", value)
    scope = field(ScopeLogs, "log_records", record)
    return field(ExportLogsServiceRequest, "resource_logs", field(ResourceLogs, "scope_logs", scope))


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


async def test_protobuf_body_nested_past_the_mapping_limit_is_one_rejected_record() -> None:
    collector = Collector()
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), content=_nested_body(40), headers=PROTOBUF)
    assert response.status_code == 200
    assert ExportLogsServiceResponse.FromString(response.content).partial_success.rejected_log_records == 1
    assert collector.events == []


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff", b"\x0a\x05\x0a\x03\x0a\x01", _nested_body(500)],
    ids=["garbage", "truncated", "nested-500-deep"],
)
async def test_malformed_protobuf_is_400_with_a_reason(body: bytes) -> None:
    collector = Collector()
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), content=body, headers=PROTOBUF)
    assert response.status_code == 400
    assert "not a protobuf ExportLogsServiceRequest" in response.json()["message"]
    assert collector.events == []


async def test_other_content_types_are_415_naming_both_encodings() -> None:
    async with running_source(Collector()) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), content=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    message = response.json()["message"]
    assert "application/x-protobuf" in message and "application/json" in message


async def test_other_paths_are_404_and_other_methods_405() -> None:
    async with running_source(Collector()) as source, httpx.AsyncClient(timeout=5) as client:
        missing = await client.post(url(source.port, "/v1/traces"), json={}, headers=JSON)
        wrong_method = await client.get(url(source.port))
    assert missing.status_code == 404
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


async def test_oversized_body_is_413_and_nothing_is_emitted() -> None:
    collector = Collector()
    big = export_of(*[{"body": {"stringValue": "x" * 100}}] * 50)
    async with running_source(collector, max_body_bytes=2000) as source, httpx.AsyncClient(timeout=5) as client:
        response = await client.post(url(source.port), content=orjson.dumps(big), headers=JSON)
    assert response.status_code == 413
    assert collector.events == []


async def test_gzip_body_is_accepted_and_a_gzip_bomb_is_413() -> None:
    collector = Collector()
    payload = orjson.dumps(js_exporter_payload())
    bomb = gzip.compress(b" " * 100_000)
    headers = {**JSON, "Content-Encoding": "gzip"}
    async with running_source(collector, max_body_bytes=50_000) as source, httpx.AsyncClient(timeout=5) as client:
        ok = await client.post(url(source.port), content=gzip.compress(payload), headers=headers)
        too_big = await client.post(url(source.port), content=bomb, headers=headers)
    assert ok.status_code == 200 and len(collector.events) == 3
    assert too_big.status_code == 413


async def test_a_slow_emit_delays_the_response() -> None:
    release = asyncio.Event()
    received: list[int] = []

    async def slow_emit(events: list[Any]) -> None:
        received.append(len(events))
        await release.wait()

    async with running_source(slow_emit) as source, httpx.AsyncClient(timeout=5) as client:
        post = asyncio.create_task(client.post(url(source.port), json=js_exporter_payload()))
        await wait_until(lambda: received == [3])
        await asyncio.sleep(0.05)  # the response must still be held back
        assert not post.done()
        release.set()
        response = await post
    assert response.status_code == 200


class TickCollector(Collector):
    """Notes, at each batch, how often a busy ticker task has run so far; its emit never
    yields, like the agent's."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0
        self.ticks_seen: list[int] = []

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.ticks += 1

    async def __call__(self, events: list[Any]) -> None:
        self.ticks_seen.append(self.ticks)
        await super().__call__(events)


async def post_while_ticking(collector: TickCollector, encoding: str, records: list[dict[str, Any]]
                             ) -> httpx.Response:
    export = export_of(*records)
    body, headers = (
        (protobuf_of(export), PROTOBUF) if encoding == "protobuf" else (orjson.dumps(export), JSON)
    )
    ticker = asyncio.create_task(collector.tick())
    try:
        async with running_source(collector, max_body_bytes=8 << 20) as source, httpx.AsyncClient(timeout=10) as client:
            return await client.post(url(source.port), content=body, headers=headers)
    finally:
        ticker.cancel()


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
async def test_a_big_request_is_emitted_in_bounded_batches_with_the_loop_free_between(
    encoding: str,
) -> None:
    collector = TickCollector()
    records = [{"body": {"stringValue": f"line {n}"}} for n in range(BATCH_RECORDS * 2 + 10)]
    response = await post_while_ticking(collector, encoding, records)
    assert response.status_code == 200
    assert collector.batches == [BATCH_RECORDS, BATCH_RECORDS, 10]
    assert collector.events[-1].message == f"line {BATCH_RECORDS * 2 + 9}"
    # Other tasks ran between every two batches: a big request never stalls the agent.
    seen = collector.ticks_seen
    assert all(later > earlier for earlier, later in zip(seen, seen[1:]))


@pytest.mark.parametrize("encoding", ["json", "protobuf"])
async def test_malformed_records_are_refused_with_the_loop_free_between_batches(encoding: str) -> None:
    """4 MiB of malformed protobuf records (~840k, each rewritten before it is refused) held
    the event loop for 3 s (/api/health answered in 3.2 s): the loop was only let go after a
    batch was delivered, and refused records were never delivered."""
    collector = TickCollector()
    good = [{"body": {"stringValue": f"line {n}"}} for n in range(BATCH_RECORDS)]
    bad = [{"traceId": "ab", "body": {"stringValue": "short trace id"}} for _ in range(BATCH_RECORDS * 5)]
    response = await post_while_ticking(collector, encoding, [*good, *bad, *good])
    assert response.status_code == 200
    refused = response.json() if encoding == "json" else {"partialSuccess": {"rejectedLogRecords": str(
        ExportLogsServiceResponse.FromString(response.content).partial_success.rejected_log_records)}}
    assert refused["partialSuccess"]["rejectedLogRecords"] == str(BATCH_RECORDS * 5)
    assert collector.batches == [BATCH_RECORDS, BATCH_RECORDS]
    first, second = collector.ticks_seen
    assert second - first >= 5  # the ticker ran once per BATCH_RECORDS refused records at least


async def test_many_requests_share_one_keep_alive_connection() -> None:
    collector = Collector()
    async with running_source(collector) as source, httpx.AsyncClient(timeout=5) as client:
        for n in range(20):
            response = await client.post(url(source.port), json=export_of({"body": {"stringValue": f"m{n}"}}))
            assert response.status_code == 200
        bad = await client.get(url(source.port, "/nope"))  # an error keeps the connection too
        last = await client.post(url(source.port), json=export_of({"body": {"stringValue": "last"}}))
    assert bad.status_code == 404 and last.status_code == 200
    assert [e.message for e in collector.events] == [*(f"m{n}" for n in range(20)), "last"]
    assert source.connections_total == 1 and source.requests == 22


async def raw_exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5)  # until the server closes
    finally:
        writer.close()


async def test_post_without_content_length_is_411_and_closed() -> None:
    async with running_source(Collector()) as source:
        answer = await raw_exchange(source.port, b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411 ") and b"Connection: close" in answer


async def test_chunked_body_is_accepted() -> None:
    collector = Collector()
    body = orjson.dumps(export_of({"body": {"stringValue": "chunked"}}))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    request = (
        b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    async with running_source(collector) as source:
        answer = await raw_exchange(source.port, request)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert [e.message for e in collector.events] == ["chunked"]


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"BREW /v1/logs HTCPCP/1.0\r\n\r\n", b"400"),
        (b"POST /v1/logs HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", b"400"),
        (b"POST /v1/logs HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
        (b"POST /v1/logs HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"411"),
        (b"POST /v1/logs HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 40_000 + b"\r\n\r\n", b"431"),
    ],
)
async def test_bad_framing_is_refused_and_closed(request_bytes: bytes, status: bytes) -> None:
    async with running_source(Collector()) as source:
        answer = await raw_exchange(source.port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status + b" ")


async def test_a_client_too_slow_with_its_body_gets_408() -> None:
    async with running_source(Collector(), body_timeout_s=0.2) as source:
        answer = await raw_exchange(
            source.port, b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_an_http_1_1_request_without_host_is_refused() -> None:
    # RFC 9112 §3.2 (h11 enforces it): every exporter sends Host; a head without it is not one.
    async with running_source(Collector()) as source:
        answer = await raw_exchange(
            source.port, b"POST /v1/logs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
    assert answer.startswith(b"HTTP/1.1 400 ")


async def test_an_idle_connection_is_closed() -> None:
    async with running_source(Collector(), idle_timeout_s=0.2) as source:
        assert await raw_exchange(source.port, b"") == b""
        await wait_until(lambda: source.connections == 0)


async def test_an_idle_connection_makes_room_for_a_new_one_at_the_limit() -> None:
    collector = Collector()
    async with running_source(collector, max_connections=1) as source:
        idle_reader, idle = await asyncio.open_connection("127.0.0.1", source.port)
        await wait_until(lambda: source.connections == 1)
        await asyncio.sleep(GRACE_S)  # a connection in its grace period is not evicted
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.post(url(source.port), json=export_of({"body": {"stringValue": "after"}}))
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # the idle one was closed
        idle.close()
    assert response.status_code == 200
    assert (source.connections_evicted, source.connections_refused) == (1, 0)


async def test_a_head_sent_too_slowly_gets_408() -> None:
    async with running_source(Collector(), head_timeout_s=0.2) as source:
        answer = await raw_exchange(source.port, b"POST /v1/logs HTTP/1.1\r\nContent-Ty")
    assert answer.startswith(b"HTTP/1.1 408 ")


async def test_stopping_closes_open_connections() -> None:
    async with running_source(Collector()) as source:
        reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
        await wait_until(lambda: source.connections == 1)
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_an_http_1_0_client_gets_one_answer_then_the_close() -> None:
    collector = Collector()
    body = orjson.dumps(export_of({"body": {"stringValue": "old client"}}))
    request = b"POST /v1/logs HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    async with running_source(collector) as source:
        answer = await raw_exchange(source.port, request)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in answer
    assert [e.message for e in collector.events] == ["old client"]


async def test_a_token_is_required_when_set() -> None:
    collector = Collector()
    export = export_of({"body": {"stringValue": "authorized"}})
    async with running_source(collector, token="s3cret-token") as source, httpx.AsyncClient(timeout=5) as client:
        missing = await client.post(url(source.port), json=export)
        wrong = await client.post(url(source.port), json=export, headers={"Authorization": "Bearer nope"})
        right = await client.post(url(source.port), json=export, headers={"Authorization": "Bearer s3cret-token"})
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert "bearer token" in missing.json()["message"]
    assert [e.message for e in collector.events] == ["authorized"]


async def test_expect_100_continue_is_answered_before_the_body() -> None:
    collector = Collector()
    body = orjson.dumps(export_of({"body": {"stringValue": "after continue"}}))
    head = b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    async with running_source(collector) as source:
        reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
        writer.write(head)
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
    assert final.startswith(b"HTTP/1.1 200 ")
    assert [e.message for e in collector.events] == ["after continue"]


async def test_a_failing_emit_drops_that_connection_and_the_source_keeps_serving() -> None:
    collector = Collector()
    calls = 0

    async def flaky_emit(events: list[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store broke")
        await collector(events)

    export = export_of({"body": {"stringValue": "retried"}})
    async with running_source(flaky_emit) as source, httpx.AsyncClient(timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post(url(source.port), json=export)
        retried = await client.post(url(source.port), json=export)
    assert retried.status_code == 200
    assert [e.message for e in collector.events] == ["retried"]
