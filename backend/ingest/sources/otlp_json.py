"""OTLP/JSON log export requests → plain records that :meth:`Normalizer.normalize_record` reads.

Pure data mapping, no I/O. The input is an ``ExportLogsServiceRequest`` in the OTLP JSON
encoding (what ``@opentelemetry/exporter-logs-otlp-http`` sends): lowerCamelCase keys, 64-bit
integers as decimal strings or numbers, trace/span ids as hex, enums as numbers.

Each log record becomes one flat dict whose keys are the normalizer's aliases (``timestamp``,
``level``, ``message``, ``service``, ``trace_id``, ``method``, ``status``…), then the body's
fields when the body is a key/value list, then the remaining attributes under their own
dotted names (they land in the event's ``extra``, redacted like any other field).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

MAX_DEPTH: Final = 32
"""AnyValue nesting kept; deeper is hostile input (the record is rejected)."""

_SEVERITY_FLOORS: Final = ((17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG"), (1, "TRACE"))
"""OTLP SeverityNumber ranges: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-24 ERROR/FATAL."""

# Semantic-convention attribute → normalizer key. Current names first, then the older ones
# (exporters in the wild send both generations); the first one present wins.
_ATTRIBUTE_SLOTS: Final = {
    "http.request.method": "method", "http.method": "method",
    "http.route": "route",
    "url.path": "path", "http.target": "path",
    "http.response.status_code": "status", "http.status_code": "status",
    "client.address": "ip", "http.client_ip": "ip",
    "user_agent.original": "user_agent", "http.user_agent": "user_agent",
    "enduser.id": "user_id",
}
_FULL_URL_KEYS: Final = ("url.full", "http.url")
"""Whole URLs: only their path is kept as ``path``, and only when no path attribute is set."""
_DURATION_SCALES: Final = {
    "duration_ms": 1.0, "http.server.duration": 1.0, "http.server.request.duration": 1000.0,
}
"""Duration attributes and their factor to milliseconds (the current semconv is seconds)."""
_EXCEPTION_FIELDS: Final = {
    "exception.type": "type", "exception.message": "message", "exception.stacktrace": "stack",
}
_RESOURCE_SLOTS: Final = {"service.name": "service", "host.name": "host"}
_INTEGER_TEXT: Final = re.compile(r"-?[0-9]{1,20}")
_HEX_IDS: Final = {16: re.compile(r"[0-9a-fA-F]{16}"), 32: re.compile(r"[0-9a-fA-F]{32}")}


class RecordError(ValueError):
    """A log record (or its resource/scope) whose shape is not OTLP JSON; it is rejected."""


class RequestError(ValueError):
    """The request as a whole is not an ``ExportLogsServiceRequest`` (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """One log record that could not be mapped, and why."""

    reason: str


def iter_records(request: Any) -> Iterator[dict[str, Any] | Rejected]:
    """Every log record of ``request`` as a normalizer record, or :class:`Rejected`, in order.

    Raises :class:`RequestError` when ``request`` is not an object with a ``resourceLogs`` list.
    """
    if not isinstance(request, dict):
        raise RequestError("the body must be a JSON object (an ExportLogsServiceRequest)")
    resource_logs = request.get("resourceLogs", [])
    if not isinstance(resource_logs, list):
        raise RequestError("resourceLogs must be a list")
    for resource_log in resource_logs:
        try:
            resource, scope_logs = map_resource(resource_log)
        except RecordError as exc:
            yield from reject_all(resource_log, str(exc))
            continue
        for scope_log in scope_logs:
            try:
                scope, log_records = map_scope(scope_log)
            except RecordError as exc:
                yield from reject_all({"scopeLogs": [scope_log]}, str(exc))
                continue
            for log_record in log_records:
                try:
                    yield map_log_record(log_record, resource, scope)
                except RecordError as exc:
                    yield Rejected(str(exc))


def map_log_record(
    log_record: Any, resource: Mapping[str, Any], scope: Mapping[str, Any]
) -> dict[str, Any]:
    """One OTLP ``LogRecord`` → one normalizer record (``resource``/``scope`` already mapped)."""
    if not isinstance(log_record, dict):
        raise RecordError("a log record must be an object")
    record: dict[str, Any] = {}
    nanos = as_nanos(log_record.get("timeUnixNano")) or as_nanos(log_record.get("observedTimeUnixNano"))
    if nanos:
        record["timestamp"] = (nanos // 1000) / 1e6  # via µs: no float noise at the 7th digit
    level = _level(log_record.get("severityNumber"), log_record.get("severityText"))
    if level:
        record["level"] = level
    body = decode_any_value(log_record.get("body"))
    if isinstance(body, dict):
        fields, message = body, None
    else:
        fields, message = {}, body
    if message is not None and message != "":
        record["message"] = message
    elif isinstance(event_name := log_record.get("eventName"), str) and event_name:
        record["message"] = event_name
    record.update(resource)
    trace_id = hex_id(log_record.get("traceId"), 32, "traceId")
    if trace_id:
        record["trace_id"] = trace_id
    span_id = hex_id(log_record.get("spanId"), 16, "spanId")
    if span_id:
        record["span_id"] = span_id
    flags = as_int(log_record.get("flags"), "flags")
    if flags:
        record["trace_flags"] = flags & 0xFF
    attributes = decode_attributes(log_record.get("attributes"))
    _map_semantic_attributes(attributes, record)
    if scope:
        record["scope"] = dict(scope)
    for key, value in fields.items():
        _put(record, key, value)
    for key, value in attributes.items():
        _put(record, key, value)
    dropped = as_int(log_record.get("droppedAttributesCount"), "droppedAttributesCount")
    if dropped:
        record["dropped_attributes"] = dropped
    return record


def decode_attributes(raw: Any, depth: int = 0) -> dict[str, Any]:
    """A ``KeyValue`` list → dict (a repeated key keeps its last value, as in the SDKs)."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise RecordError("attributes must be a list of {key, value}")
    decoded: dict[str, Any] = {}
    for pair in raw:
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise RecordError("each attribute must be an object with a string key")
        decoded[pair["key"]] = decode_any_value(pair.get("value"), depth + 1)
    return decoded


def decode_any_value(raw: Any, depth: int = 0) -> Any:
    """An ``AnyValue`` → the plain JSON value it holds (None when empty)."""
    if raw is None:
        return None
    if depth > MAX_DEPTH:
        raise RecordError(f"values nested deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, dict):
        raise RecordError("an AnyValue must be an object such as {\"stringValue\": …}")
    if not raw:
        return None
    if len(raw) != 1:
        raise RecordError(f"an AnyValue holds one value, got keys {sorted(raw)}")
    ((kind, value),) = raw.items()
    if kind == "stringValue" and isinstance(value, str):
        return value
    if kind == "boolValue" and isinstance(value, bool):
        return value
    if kind == "intValue":
        return as_int(value, "intValue")
    if kind == "doubleValue":
        return _double(value)
    if kind == "bytesValue" and isinstance(value, str):
        return value  # base64 text: shown as sent
    if kind == "arrayValue" and isinstance(value, dict):
        values = value.get("values", [])
        if not isinstance(values, list):
            raise RecordError("arrayValue.values must be a list")
        return [decode_any_value(item, depth + 1) for item in values]
    if kind == "kvlistValue" and isinstance(value, dict):
        return decode_attributes(value.get("values"), depth)
    raise RecordError(f"unsupported AnyValue {kind!r} or wrong value type")


# --------------------------------------------------------------------------- parts


def map_resource(resource_log: Any) -> tuple[dict[str, Any], list[Any]]:
    """A ``resourceLogs`` entry → (its resource as normalizer fields, its ``scopeLogs``)."""
    if not isinstance(resource_log, dict):
        raise RecordError("each resourceLogs entry must be an object")
    resource = resource_log.get("resource") or {}
    if not isinstance(resource, dict):
        raise RecordError("resource must be an object")
    attributes = decode_attributes(resource.get("attributes"))
    mapped: dict[str, Any] = {}
    for key, slot in _RESOURCE_SLOTS.items():
        value = attributes.pop(key, None)
        if isinstance(value, str) and value:
            mapped[slot] = value
    if attributes:
        mapped["resource"] = attributes
    scope_logs = resource_log.get("scopeLogs", [])
    if not isinstance(scope_logs, list):
        raise RecordError("scopeLogs must be a list")
    return mapped, scope_logs


def map_scope(scope_log: Any) -> tuple[dict[str, Any], list[Any]]:
    """A ``scopeLogs`` entry → (its scope's name and version, its ``logRecords``)."""
    if not isinstance(scope_log, dict):
        raise RecordError("each scopeLogs entry must be an object")
    raw = scope_log.get("scope") or {}
    if not isinstance(raw, dict):
        raise RecordError("scope must be an object")
    scope = {
        key: raw[key] for key in ("name", "version") if isinstance(raw.get(key), str) and raw[key]
    }
    log_records = scope_log.get("logRecords", [])
    if not isinstance(log_records, list):
        raise RecordError("logRecords must be a list")
    return scope, log_records


def reject_all(
    container: Any, reason: str, scopes: str = "scopeLogs", items: str = "logRecords"
) -> Iterator[Rejected]:
    """One rejection per item (log record, span) under a malformed resource or scope (at
    least one); ``scopes`` and ``items`` name the container's lists."""
    count = 0
    if isinstance(container, dict):
        for scope in container.get(scopes) or []:
            if isinstance(scope, dict) and isinstance(scope.get(items), list):
                count += len(scope[items])
    for _ in range(max(count, 1)):
        yield Rejected(reason)


def _map_semantic_attributes(attributes: dict[str, Any], record: dict[str, Any]) -> None:
    """Move the HTTP, user, duration and exception attributes into the normalizer's keys."""
    for key, slot in _ATTRIBUTE_SLOTS.items():
        if key in attributes and slot not in record:
            record[slot] = attributes.pop(key)
    for key in _FULL_URL_KEYS:
        value = attributes.get(key)
        if "path" not in record and isinstance(value, str):
            try:
                path = urlsplit(value).path
            except ValueError:  # e.g. "http://[::1": the URL stays an extra field only
                continue
            if path:
                record["path"] = path
    for key, scale in _DURATION_SCALES.items():
        value = attributes.get(key)
        if "duration" not in record and isinstance(value, (int, float)) and not isinstance(value, bool):
            record["duration"] = value * scale
            del attributes[key]
    error = {
        field: attributes.pop(key) for key, field in _EXCEPTION_FIELDS.items() if key in attributes
    }
    if error:
        record["error"] = error


def _put(record: dict[str, Any], key: str, value: Any) -> None:
    """Add a body field or attribute without overwriting what the record already says."""
    while key in record:
        key = f"attributes.{key}"
    record[key] = value


def _level(number: Any, text: Any) -> str:
    """The level from severityNumber (ranges), else severityText (the normalizer's words)."""
    if number is not None:
        value = as_int(number, "severityNumber")
        for floor, level in _SEVERITY_FLOORS:
            if value >= floor:
                return level
    if isinstance(text, str):
        return text.strip()
    if text is not None:
        raise RecordError("severityText must be a string")
    return ""


def as_nanos(value: Any) -> int:
    return as_int(value, "timeUnixNano") if value is not None else 0


def as_int(value: Any, name: str) -> int:
    """A 64-bit integer as JSON number or decimal string (the OTLP JSON encoding allows both)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise RecordError(f"{name} must be an integer, got {value!r}")


def _double(value: Any) -> float | str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if value in ("NaN", "Infinity", "-Infinity"):
        return str(value)  # kept as text: no JSON number can hold them
    raise RecordError(f"doubleValue must be a number, got {value!r}")


def hex_id(value: Any, digits: int, name: str) -> str:
    """A lower-case hex trace/span id; empty for absent or all-zero (the spec's 'no id')."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or _HEX_IDS[digits].fullmatch(value) is None:
        raise RecordError(f"{name} must be {digits} hex digits")
    return "" if value.count("0") == digits else value.lower()
