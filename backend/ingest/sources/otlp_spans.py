"""OTLP trace exports (``ExportTraceServiceRequest``) → redacted :class:`Span` objects.

Pure data mapping, no I/O. Both OTLP/HTTP encodings: JSON (``@opentelemetry/exporter-trace-
otlp-http``, any SDK set to ``http/json``) and protobuf (the default of the Collector and of
most SDKs). A protobuf span is rewritten into the JSON encoding's dict shape, as for logs
(:mod:`otlp_protobuf`), so both encodings share one mapping; ids, base64 in protobuf's own
JSON mapping, become hex as in OTLP JSON.

Secrets are redacted before a span exists (attribute values and names as for log records,
the span name, the status message and the events' attributes). Caps, as the OpenTelemetry
SDKs' defaults: 128 attributes and 128 events per span, attribute strings of at most
:data:`MAX_VALUE_CHARS`; what goes over is counted in the span's ``dropped``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, Final

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from obsview.backend.ingest.redact import redact_mapping, redact_text
from obsview.backend.ingest.sources.otlp_json import (
    RecordError,
    Rejected,
    RequestError,
    as_int,
    as_nanos,
    decode_attributes,
    hex_id,
    reject_all,
)
from obsview.common.spans import KIND_CONSUMER, STATUS_ERROR, Span, SpanEvent

MAX_ATTRIBUTES: Final = 128
MAX_EVENTS: Final = 128
MAX_VALUE_CHARS: Final = 4096
"""An attribute string longer than this is cut (an SQL statement, a stack trace stays
readable; a megabyte blob does not fill the store)."""
MAX_NAME_CHARS: Final = 512


def iter_json(request: Any) -> Iterator[Span | Rejected]:
    """Every span of an OTLP/JSON request, or :class:`Rejected`, in order. Raises
    :class:`RequestError` when ``request`` is not an object with a ``resourceSpans`` list."""
    if not isinstance(request, dict):
        raise RequestError("the body must be a JSON object (an ExportTraceServiceRequest)")
    resource_spans = request.get("resourceSpans", [])
    if not isinstance(resource_spans, list):
        raise RequestError("resourceSpans must be a list")
    for entry in resource_spans:
        try:
            service, scope_spans = _resource(entry)
        except RecordError as exc:
            yield from reject_all(entry, str(exc), "scopeSpans", "spans")
            continue
        for scope_entry in scope_spans:
            try:
                scope, spans = _scope(scope_entry)
            except RecordError as exc:
                yield from reject_all({"scopeSpans": [scope_entry]}, str(exc), "scopeSpans", "spans")
                continue
            for raw in spans:
                yield _span_or_rejected(raw, service, scope)


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    """``body`` as an ``ExportTraceServiceRequest``; :class:`RequestError` when it is not one."""
    try:
        return ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise RequestError(f"body is not a protobuf ExportTraceServiceRequest: {exc}") from None


def iter_protobuf(export: ExportTraceServiceRequest) -> Iterator[Span | Rejected]:
    """What :func:`iter_json` yields for the same request in JSON, one span at a time."""
    for resource_spans in export.resource_spans:
        try:
            service, _ = _resource({"resource": _as_json(resource_spans.resource)})
        except RecordError as exc:
            count = sum(len(scope.spans) for scope in resource_spans.scope_spans)
            yield from [Rejected(str(exc))] * max(count, 1)
            continue
        for scope_spans in resource_spans.scope_spans:
            scope = redact_text(scope_spans.scope.name[:MAX_NAME_CHARS])
            for span in scope_spans.spans:
                yield _span_or_rejected(_span_as_json(span), service, scope)


def response_protobuf(rejected: int, reason: str) -> bytes:
    """The 200 answer to a protobuf request: an ``ExportTraceServiceResponse``."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected, error_message=reason)
        )
    return response.SerializeToString()


def response_json(rejected: int, reason: str) -> dict[str, Any]:
    """The 200 answer to a JSON request (int64 travels as a decimal string in OTLP JSON)."""
    if not rejected:
        return {"partialSuccess": {}}
    return {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": reason}}


# --------------------------------------------------------------------------- one span


def map_span(raw: Any, service: str, scope: str) -> Span:
    """One OTLP ``Span`` (JSON encoding) → a redacted :class:`Span`; RecordError if malformed."""
    if not isinstance(raw, dict):
        raise RecordError("a span must be an object")
    trace_id = hex_id(raw.get("traceId"), 32, "traceId")
    span_id = hex_id(raw.get("spanId"), 16, "spanId")
    if not trace_id or not span_id:
        raise RecordError("a span needs a non-zero traceId and spanId")
    start = as_nanos(raw.get("startTimeUnixNano"))
    end = as_nanos(raw.get("endTimeUnixNano"))
    kind = as_int(raw.get("kind"), "kind")
    if not 0 <= kind <= KIND_CONSUMER:
        raise RecordError(f"kind must be a SpanKind (0-5), got {kind}")
    status = raw.get("status") or {}
    if not isinstance(status, dict):
        raise RecordError("status must be an object")
    code = as_int(status.get("code"), "status.code")
    if not 0 <= code <= STATUS_ERROR:
        raise RecordError(f"status.code must be 0-2, got {code}")
    message = status.get("message") or ""
    name = raw.get("name") or ""
    if not isinstance(message, str) or not isinstance(name, str):
        raise RecordError("name and status.message must be strings")
    attributes, dropped = _capped(decode_attributes(raw.get("attributes")), MAX_ATTRIBUTES)
    events, dropped_events = _events(raw.get("events"))
    dropped += dropped_events
    for key in ("droppedAttributesCount", "droppedEventsCount", "droppedLinksCount"):
        dropped += as_int(raw.get(key), key)
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_id=hex_id(raw.get("parentSpanId"), 16, "parentSpanId"),
        name=redact_text(name[:MAX_NAME_CHARS]),
        start=_seconds(start),
        end=_seconds(max(end, start)),
        kind=kind,
        service=service,
        status=code,
        status_message=redact_text(message[:MAX_VALUE_CHARS]),
        attributes=attributes,
        events=events,
        scope=scope,
        dropped=dropped,
    )


def _span_or_rejected(raw: Any, service: str, scope: str) -> Span | Rejected:
    try:
        return map_span(raw, service, scope)
    except RecordError as exc:
        return Rejected(str(exc))


def _events(raw: Any) -> tuple[tuple[SpanEvent, ...], int]:
    if raw is None:
        return (), 0
    if not isinstance(raw, list):
        raise RecordError("events must be a list")
    events = []
    for item in raw[:MAX_EVENTS]:
        if not isinstance(item, dict):
            raise RecordError("each span event must be an object")
        name = item.get("name") or ""
        if not isinstance(name, str):
            raise RecordError("a span event's name must be a string")
        attributes, _ = _capped(decode_attributes(item.get("attributes")), MAX_ATTRIBUTES)
        events.append(SpanEvent(
            ts=_seconds(as_nanos(item.get("timeUnixNano"))),
            name=redact_text(name[:MAX_NAME_CHARS]),
            attributes=attributes,
        ))
    return tuple(events), max(0, len(raw) - MAX_EVENTS)


def _capped(attributes: dict[str, Any], limit: int) -> tuple[dict[str, Any], int]:
    """At most ``limit`` attributes, long strings cut, secrets redacted; and how many went."""
    dropped = max(0, len(attributes) - limit)
    if dropped:
        attributes = dict(list(attributes.items())[:limit])
    for key, value in attributes.items():
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            attributes[key] = value[:MAX_VALUE_CHARS] + "…"
    clean: dict[str, Any] = redact_mapping(attributes)
    return clean, dropped


def _seconds(nanos: int) -> float:
    return (nanos // 1000) / 1e6  # via µs: no float noise at the 7th digit


# --------------------------------------------------------------------------- containers


def _resource(entry: Any) -> tuple[str, list[Any]]:
    """A ``resourceSpans`` entry → (its ``service.name``, its ``scopeSpans``)."""
    if not isinstance(entry, dict):
        raise RecordError("each resourceSpans entry must be an object")
    resource = entry.get("resource") or {}
    if not isinstance(resource, dict):
        raise RecordError("resource must be an object")
    service = decode_attributes(resource.get("attributes")).get("service.name")
    scope_spans = entry.get("scopeSpans", [])
    if not isinstance(scope_spans, list):
        raise RecordError("scopeSpans must be a list")
    return (redact_text(service[:MAX_NAME_CHARS]) if isinstance(service, str) else ""), scope_spans


def _scope(entry: Any) -> tuple[str, list[Any]]:
    if not isinstance(entry, dict):
        raise RecordError("each scopeSpans entry must be an object")
    scope = entry.get("scope") or {}
    if not isinstance(scope, dict):
        raise RecordError("scope must be an object")
    spans = entry.get("spans", [])
    if not isinstance(spans, list):
        raise RecordError("spans must be a list")
    name = scope.get("name")
    # Shown in the span's detail and streamed like its other producer text: redacted alike.
    return (redact_text(name[:MAX_NAME_CHARS]) if isinstance(name, str) else ""), spans


def _as_json(message: Message) -> dict[str, Any]:
    return MessageToDict(message, use_integers_for_enums=True)


def _span_as_json(span: Message) -> dict[str, Any]:
    data = _as_json(span)
    for key in ("traceId", "spanId", "parentSpanId"):
        if key in data:
            data[key] = base64.b64decode(data[key]).hex()
    return data
