"""Shared helpers for the trace tests (conftest puts this folder on sys.path): OTLP trace
exports shaped like what OpenTelemetry SDKs send, in JSON and in protobuf."""

from __future__ import annotations

import base64
import copy
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from obsview.common.spans import Span

TRACE_ID = "5b8efff798038103d269b633813fc60c"
ROOT_ID = "eee19b7ec3c1b174"
CHILD_ID = "0102030405060708"
T0_NS = 1764079200_000_000_000


def string(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def integer(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": str(value)}}


def otlp_span(
    span_id: str, name: str, start_ms: float, end_ms: float, *, parent: str = "",
    trace_id: str = TRACE_ID, kind: int = 1, attributes: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None, events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
        "startTimeUnixNano": str(T0_NS + int(start_ms * 1e6)),
        "endTimeUnixNano": str(T0_NS + int(end_ms * 1e6)),
        "attributes": attributes or [],
    }
    if parent:
        span["parentSpanId"] = parent
    if status is not None:
        span["status"] = status
    if events is not None:
        span["events"] = events
    return span


def server_span(**overrides: Any) -> dict[str, Any]:
    """A SERVER span for GET /api/posts/:id answered 200 in 12.5 ms."""
    attributes = [
        string("http.request.method", "GET"), string("http.route", "/api/posts/:id"),
        integer("http.response.status_code", 200), string("url.path", "/api/posts/42"),
        string("http.request.header.authorization", "Bearer abcdef0123456789"),
    ]
    values: dict[str, Any] = {"kind": 2, "attributes": attributes}
    values.update(overrides)
    return otlp_span(ROOT_ID, "GET /api/posts/:id", 0, 12.5, **values)


def export_of(*spans: dict[str, Any], service: str = "blog-api") -> dict[str, Any]:
    return {"resourceSpans": [{
        "resource": {"attributes": [string("service.name", service)]},
        "scopeSpans": [{"scope": {"name": "test", "version": "1"}, "spans": list(spans)}],
    }]}


def protobuf_of(export: dict[str, Any]) -> bytes:
    """``export`` in the protobuf encoding (protobuf's JSON mapping spells ids in base64)."""
    spelled = copy.deepcopy(export)
    for resource_spans in spelled["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(spelled, ExportTraceServiceRequest()).SerializeToString()  # type: ignore[no-any-return]


def make_span(trace_id: str, span_id: str, *, parent: str = "", start: float = 0.0,
              end: float = 0.001, name: str = "op", **fields: Any) -> Span:
    return Span(trace_id=trace_id, span_id=span_id, parent_id=parent, name=name,
                start=start, end=end, **fields)
