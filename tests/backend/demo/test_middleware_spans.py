"""The middleware's own spans (no OpenTelemetry SDK configured): a server span per request,
W3C traceparent in and out, the app's calls as child spans, logs stamped with the span."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from obsview.backend.demo.http_server import serve_app
from obsview.backend.ingest.sources import otlp_spans
from obsview.backend.instrument import ObsviewMiddleware, record_to_dict, span
from obsview.common.spans import KIND_CLIENT, KIND_SERVER, STATUS_ERROR, Span

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def build(records: list[dict[str, Any]], spans: list[dict[str, Any]],
          logs: list[dict[str, Any]]) -> ObsviewMiddleware:
    async def post(request: Request) -> PlainTextResponse:
        with span("db SELECT", kind="client", **{"db.system": "postgresql"}):
            logs.append(record_to_dict(logging.LogRecord("app", 20, "", 0, "querying", None, None)))
        with span("render"):
            pass
        return PlainTextResponse("ok")

    async def fail(request: Request) -> PlainTextResponse:
        with span("db UPDATE", kind="client"):
            raise RuntimeError("deadlock detected")

    app = Starlette(routes=[Route("/posts/{post_id}", post), Route("/fail", fail)])
    return ObsviewMiddleware(app, emit=records.append, spans=spans.append, service="api")


def mapped(raw: list[dict[str, Any]]) -> list[Span]:
    export = {"resourceSpans": [{"scopeSpans": [{"spans": raw}]}]}
    result = [s for s in otlp_spans.iter_json(export) if isinstance(s, Span)]
    assert len(result) == len(raw)  # every span the middleware made is valid OTLP
    return result


async def test_a_request_is_a_server_span_with_its_calls_as_children() -> None:
    records: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    async with serve_app(build(records, raw, logs)) as url, httpx.AsyncClient() as client:
        response = await client.get(f"{url}/posts/42", headers={
            "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    db, render, server = mapped(raw)
    assert server.kind == KIND_SERVER and server.parent_id == CALLER_SPAN
    assert server.name == "GET /posts/:post_id"
    assert server.attributes["http.route"] == "/posts/:post_id"
    assert server.attributes["http.response.status_code"] == 200
    assert {db.parent_id, render.parent_id} == {server.span_id}
    assert db.kind == KIND_CLIENT and db.trace_id == render.trace_id == server.trace_id == CALLER_TRACE
    assert re.fullmatch(rf"00-{CALLER_TRACE}-{server.span_id}-01", response.headers["traceparent"])
    (record,) = records
    assert (record["traceId"], record["spanId"]) == (CALLER_TRACE, server.span_id)
    assert logs[0]["spanId"] == db.span_id and logs[0]["traceId"] == CALLER_TRACE


async def test_a_failure_marks_the_call_and_the_request_failed() -> None:
    records: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    async with serve_app(build(records, raw, [])) as url, httpx.AsyncClient() as client:
        response = await client.get(f"{url}/fail", headers={"x-request-id": "req-7"})
    db, server = mapped(raw)
    assert response.status_code == 500
    assert db.status == STATUS_ERROR and db.events[0].attributes["exception.type"] == "RuntimeError"
    assert server.is_error and server.attributes["http.response.status_code"] == 500
    # A request ID that is no W3C trace ID stays the request ID; the trace gets a W3C one.
    assert re.fullmatch(r"[0-9a-f]{32}", server.trace_id)
    assert records[0]["request"]["id"] == "req-7" and records[0]["traceId"] == server.trace_id


def test_outside_a_request_span_does_nothing() -> None:
    with span("startup"):
        pass


async def test_without_a_sink_no_span_and_no_traceparent() -> None:
    records: list[dict[str, Any]] = []
    app = build(records, [], [])
    app.spans = None
    async with serve_app(app) as url, httpx.AsyncClient() as client:
        response = await client.get(f"{url}/posts/1")
    assert "traceparent" not in response.headers and records[0]["spanId"] is None


#: An app served before and after an OpenTelemetry SDK is configured, in a fresh interpreter
#: (the SDK's global provider can be set once per process).
SDK_LATER = """
import asyncio, json
from obsview.backend.instrument import ObsviewMiddleware

async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

records, spans = [], []
middleware = ObsviewMiddleware(app, emit=records.append, spans=spans.append)

def request():
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"",
             "headers": [], "client": ("127.0.0.1", 1)}
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        pass
    asyncio.run(middleware(scope, receive, send))

request()
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
request()
memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
request()
request()
print(json.dumps({"own": len(spans), "records": [r["traceId"] for r in records],
                  "sdk": [f"{s.context.trace_id:032x}" for s in memory.get_finished_spans()]}))
"""


def test_an_sdk_configured_while_serving_makes_the_spans_from_then_on() -> None:
    """The SDK's tracer is looked up once it exists, not per request; before, the middleware's
    own spans, also once the OpenTelemetry API is imported but has no provider yet."""
    result = subprocess.run([sys.executable, "-c", SDK_LATER], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["own"] == 2
    assert seen["sdk"] == seen["records"][2:]
