"""Shared helpers for the OTLP tests (imported by name; conftest puts this folder on
sys.path): a real source on 127.0.0.1 port 0, an emit that collects, and export payloads
shaped like what OpenTelemetry SDKs send."""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.otlp import OtlpHttpSource
from obsview.common.protocol import LogEvent

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


class Collector:
    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self.batches: list[int] = []

    async def __call__(self, events: list[LogEvent]) -> None:
        self.batches.append(len(events))
        self.events.extend(events)


def string(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def integer(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": value}}


def js_exporter_payload() -> dict[str, Any]:
    """Shaped like @opentelemetry/exporter-logs-otlp-http's JSON (winston instrumentation):
    SDK resource attributes, timestamps as strings, ids in hex, intValue as numbers."""
    resource = {
        "attributes": [
            string("service.name", "blog-api"),
            string("host.name", "web-1"),
            string("telemetry.sdk.language", "nodejs"),
            string("telemetry.sdk.name", "opentelemetry"),
            string("telemetry.sdk.version", "1.28.0"),
            integer("process.pid", 4242),
        ],
        "droppedAttributesCount": 0,
    }
    completed = {
        "timeUnixNano": "1764079200123000000",
        "observedTimeUnixNano": "1764079200124000000",
        "severityNumber": 9,
        "severityText": "info",
        "body": {"stringValue": "Request completed"},
        "attributes": [
            string("http.request.method", "GET"),
            string("url.path", "/api/posts/42"),
            string("http.route", "/api/posts/:id"),
            integer("http.response.status_code", 200),
            {"key": "http.server.request.duration", "value": {"doubleValue": 0.0125}},
            string("client.address", "203.0.113.7"),
            string("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
            string("enduser.id", "user-17"),
            string("authorization", "Bearer abcdef0123456789"),
        ],
        "droppedAttributesCount": 0,
        "flags": 1,
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
    }
    failed = {
        "timeUnixNano": "1764079200456000000",
        "observedTimeUnixNano": "1764079200457000000",
        "severityNumber": 17,
        "severityText": "error",
        "body": {"stringValue": "Database query failed"},
        "attributes": [
            string("exception.type", "TimeoutError"),
            string("exception.message", "query timed out after 5000 ms"),
            string("exception.stacktrace", "TimeoutError: query timed out after 5000 ms\n    at Pool.query (db.js:42:11)"),
        ],
        "droppedAttributesCount": 0,
        "flags": 1,
        "traceId": TRACE_ID,
        "spanId": "0102030405060708",
    }
    warned = {
        "timeUnixNano": "0",
        "observedTimeUnixNano": "1764079200789000000",
        "severityNumber": 13,
        "body": {"kvlistValue": {"values": [
            string("message", "Slow request"),
            {"key": "threshold_ms", "value": {"intValue": "1000"}},
        ]}},
        "attributes": [],
        "droppedAttributesCount": 0,
        "flags": 0,
        "traceId": "",
        "spanId": "",
    }
    return {"resourceLogs": [{
        "resource": resource,
        "scopeLogs": [{
            "scope": {"name": "@opentelemetry/instrumentation-winston", "version": "0.44.0"},
            "logRecords": [completed, failed, warned],
        }],
    }]}


def export_of(*log_records: dict[str, Any], service: str = "svc") -> dict[str, Any]:
    return {"resourceLogs": [{
        "resource": {"attributes": [string("service.name", service)]},
        "scopeLogs": [{"scope": {"name": "test"}, "logRecords": list(log_records)}],
    }]}


def protobuf_of(export: dict[str, Any]) -> bytes:
    """``export`` (OTLP JSON) in the protobuf encoding, as the Collector and most SDKs send it:
    the same message, whose ids protobuf's own JSON mapping spells in base64, not hex."""
    spelled = copy.deepcopy(export)
    for resource_logs in spelled["resourceLogs"]:
        for scope_logs in resource_logs["scopeLogs"]:
            for record in scope_logs["logRecords"]:
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()
    message = json_format.ParseDict(spelled, ExportLogsServiceRequest())
    return message.SerializeToString()  # type: ignore[no-any-return]


@asynccontextmanager
async def running_source(emit: Any, **kwargs: Any) -> AsyncIterator[OtlpHttpSource]:
    """A running OtlpHttpSource on 127.0.0.1, any free port; cancelled and awaited after."""
    source = OtlpHttpSource("127.0.0.1", 0, kwargs.pop("normalizer", Normalizer()), **kwargs)
    task = asyncio.create_task(source.run(emit))
    await asyncio.wait_for(source.listening.wait(), 5)
    try:
        yield source
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
