"""What the keys and values of a structured log record mean to obsview.

The alias tables map the keys of the formats the normalizer reads (the seed's record, winston,
pino/bunyan, Python logging, logfmt, OTLP attributes) onto :class:`~obsview.common.protocol.LogEvent`
slots; the functions coerce a value found there (levels, status codes, timestamps, durations,
cache flags, error objects). Pure and stateless: :class:`~obsview.backend.ingest.normalize.Normalizer`
owns the memos and the secret checks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from obsview.common.protocol import Level

_LEVEL_WORDS: Final[dict[str, Level]] = {
    "error": "ERROR", "err": "ERROR", "fatal": "ERROR", "critical": "ERROR", "crit": "ERROR",
    "alert": "ERROR", "emerg": "ERROR", "emergency": "ERROR", "panic": "ERROR", "severe": "ERROR",
    "warn": "WARN", "warning": "WARN",
    "info": "INFO", "information": "INFO", "notice": "INFO", "http": "INFO",
    "debug": "DEBUG", "verbose": "DEBUG", "fine": "DEBUG",
    "trace": "TRACE", "silly": "TRACE", "finest": "TRACE",
}
LEVELS_BY_NAME: Final[dict[Any, Level]] = {
    **_LEVEL_WORDS,
    **{word.upper(): level for word, level in _LEVEL_WORDS.items()},
    # pino / bunyan numeric levels.
    10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "ERROR",
}


# Record key → slot. One dict lookup per key; anything not listed goes to ``extra``.
TOP_ALIASES: Final = {
    "timestamp": "ts", "time": "ts", "ts": "ts", "@timestamp": "ts", "date": "ts",
    "datetime": "ts", "asctime": "ts", "created": "ts",
    "level": "level", "levelname": "level", "severity": "level", "lvl": "level",
    "loglevel": "level", "log.level": "level", "level_name": "level",
    "message": "message", "msg": "message", "event": "message",
    "trace_id": "trace_id", "traceId": "trace_id", "traceID": "trace_id",
    "x-trace-id": "trace_id", "trace.id": "trace_id",
    "traceparent": "traceparent",
    "span_id": "span_id", "spanId": "span_id", "spanID": "span_id", "span.id": "span_id",
    "correlationId": "correlation", "correlation_id": "correlation",
    "x-correlation-id": "correlation",
    "request_id": "request_id", "requestId": "request_id", "req_id": "request_id",
    "reqId": "request_id",
    "method": "method", "http_method": "method",
    "url": "path", "path": "path", "originalUrl": "path", "uri": "path",
    "request_uri": "path", "route": "route",
    "status": "status", "statusCode": "status", "status_code": "status",
    "http_status": "status",
    "duration_ms": "duration", "duration": "duration", "responseTime": "duration",
    "response_time": "duration", "elapsed_ms": "duration", "latency_ms": "duration",
    "ip": "ip", "remote_addr": "ip", "remoteAddress": "ip", "client_ip": "ip", "clientIp": "ip",
    "userAgent": "user_agent", "user_agent": "user_agent", "http_user_agent": "user_agent",
    "userId": "user_id", "user_id": "user_id",
    "service": "service", "service_name": "service", "serviceName": "service",
    "hostname": "host", "host": "host",
    "cache": "cache", "cacheHit": "cache", "cache_hit": "cache", "cache_status": "cache",
    "cacheStatus": "cache",
    "stack": "stack", "stack_trace": "stack", "exc_info": "stack", "exception": "error",
    "error": "error", "err": "error",
    "request": "request", "req": "request", "user": "user",
    "response": "response", "res": "response",
}
# Inside ``request`` / ``req``: the seed's fields, pino's, and headers that carry ids.
REQUEST_ALIASES: Final = {
    "id": "request_id", "method": "method", "url": "path", "originalUrl": "path",
    "path": "path", "ip": "ip", "remoteAddress": "ip", "userAgent": "user_agent",
    "userId": "user_id", "correlationId": "correlation", "traceId": "trace_id",
}
RESPONSE_ALIASES: Final = {
    "statusCode": "status", "status": "status", "responseTime": "duration",
    "duration": "duration",
}
USER_ALIASES: Final = {"id": "user_id"}
_HEADER_SLOTS: Final = {
    "x-trace-id": "trace_id", "traceparent": "traceparent", "x-correlation-id": "correlation",
    "x-request-id": "request_id", "user-agent": "user_agent",
}
_DURATION_TEXT: Final = re.compile(r"\s*([0-9.]+)\s*(ms|s|us|µs|ns)?\s*")
_DURATION_SCALE: Final = {None: 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001, "ns": 1e-6}
TRACEPARENT: Final = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
"""W3C ``traceparent``: version, trace id, parent (span) id, flags."""


def absorb(
    value: Any, aliases: Mapping[str, str], slots: dict[str, Any], extra: dict[str, Any],
    name: str,
) -> None:
    """Fill empty slots from a nested object (``request``, ``response``); the rest → extra."""
    if not isinstance(value, dict):
        extra[name] = value
        return
    rest: dict[str, Any] = {}
    for key, item in value.items():
        slot = aliases.get(key)
        if slot is not None and slots.get(slot) == item:
            continue  # the seed repeats response.responseTime as a top-level duration
        if slot is None or slot in slots or item is None:
            if key == "headers" and isinstance(item, dict):
                for header, header_value in item.items():
                    header_slot = _HEADER_SLOTS.get(str(header).lower())
                    if header_slot is not None and header_slot not in slots:
                        slots[header_slot] = header_value
            if item is not None:
                rest[key] = item
        else:
            slots[slot] = item
    if rest:
        extra[name] = rest


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def status_code(value: Any) -> int | None:
    """An HTTP status code, or None for anything that cannot be one."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int):
        try:
            value = int(float(value))
        except (TypeError, ValueError, OverflowError):
            return None
    return value if 100 <= value <= 999 else None


def level_of(value: Any, status: int | None) -> Level:
    """Level for values the table does not hold: odd case, numeric in between, or none."""
    if isinstance(value, str):
        found = LEVELS_BY_NAME.get(value.strip().lower())
        if found is not None:
            return found
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        # pino/bunyan levels between the named ones, e.g. a custom 35.
        floors: tuple[tuple[int, Level], ...] = ((50, "ERROR"), (40, "WARN"), (30, "INFO"), (20, "DEBUG"))
        for floor, level in floors:
            if value >= floor:
                return level
        return "TRACE"
    if status is not None:
        return "ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO"
    return "INFO"


def parse_timestamp(value: Any) -> float | None:
    """ISO 8601 (Z or offset; naive means local time), epoch s/ms/µs/ns as number or text."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            pass
        text = value.strip().replace(",", ".")
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    while seconds > 1e11:  # ms, µs or ns since the epoch (1e11 s is the year 5138)
        seconds /= 1000.0
    return seconds if seconds == seconds else None  # NaN


def duration_in_ms(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _DURATION_TEXT.fullmatch(value)
        if match is not None:
            try:
                return float(match.group(1)) * _DURATION_SCALE[match.group(2)]
            except ValueError:
                return None
    return None


def cache_status(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "hit" if value else "miss"
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("hit", "miss"):
            return lowered
    return ""


def error_fields(
    error: Any, stack: Any, extra: dict[str, Any]
) -> tuple[str, str, str]:
    """(type, message, stack) from ``error``/``err``/``exception`` and ``stack``/``exc_info``."""
    error_type = error_message = ""
    stack_text = as_text(stack) if stack is not None else ""
    if isinstance(error, dict):
        error_type = as_text(error.get("type") or error.get("name"))
        error_message = as_text(error.get("message"))
        stack_text = stack_text or as_text(error.get("stack"))
        rest = {k: v for k, v in error.items() if k not in ("type", "name", "message", "stack")}
        if rest:
            extra["error"] = rest
    elif isinstance(error, str):
        if "\n" in error and not stack_text:
            stack_text = error
        else:
            error_message = error
    elif error is not None:
        extra["error"] = error
    if stack_text and not error_message:
        error_type, error_message = exception_line(stack_text)
    return error_type, error_message, stack_text


def exception_line(stack: str) -> tuple[str, str]:
    """``TypeError: x is undefined`` from a JS (first line) or Python (last line) trace."""
    lines = [line for line in stack.strip().splitlines() if line.strip()]
    if not lines:
        return "", ""
    candidate = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    name, colon, text = candidate.strip().partition(": ")
    if colon and name and " " not in name:
        return name, text
    return "", candidate.strip()
