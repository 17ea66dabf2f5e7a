"""Spans: one timed operation of a trace, as both sides hold it (OpenTelemetry's model, slimmed).

The agent builds spans from OTLP exports (``POST /v1/traces``) and from the Python middleware;
the console shows them as a waterfall. Like :class:`~obsview.common.protocol.LogEvent`, a span
is a msgspec struct the cyclic GC does not track (``gc=False``): it holds decoded JSON values
only, so it never takes part in a cycle, and the stores of both sides hold tens of thousands.

Times are Unix seconds as floats (0.24 µs resolution today: finer than any bar on screen).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

#: OTLP ``SpanKind`` numbers.
KIND_UNSPECIFIED: Final = 0
KIND_INTERNAL: Final = 1
KIND_SERVER: Final = 2
KIND_CLIENT: Final = 3
KIND_PRODUCER: Final = 4
KIND_CONSUMER: Final = 5
KIND_NAMES: Final = ("", "internal", "server", "client", "producer", "consumer")

#: OTLP ``Status.code`` numbers.
STATUS_UNSET: Final = 0
STATUS_OK: Final = 1
STATUS_ERROR: Final = 2

#: Attributes a server span's request figures come from: current semantic conventions first,
#: then the older names (exporters in the wild send both generations).
ROUTE_KEYS: Final = ("http.route",)
METHOD_KEYS: Final = ("http.request.method", "http.method")
STATUS_CODE_KEYS: Final = ("http.response.status_code", "http.status_code")


class SpanEvent(msgspec.Struct, gc=False, frozen=True, omit_defaults=True):
    """Something that happened at one instant of a span (an exception, a retry…)."""

    ts: float
    name: str
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)


class Span(msgspec.Struct, gc=False, omit_defaults=True):
    """One span. Not frozen: ``seq`` is assigned once, by the agent's trace store."""

    trace_id: str
    """32 lower-case hex digits."""
    span_id: str
    """16 lower-case hex digits."""
    name: str
    start: float
    end: float
    seq: int = 0
    parent_id: str = ""
    """The parent's span ID; empty for a root span."""
    kind: int = KIND_UNSPECIFIED
    service: str = ""
    status: int = STATUS_UNSET
    status_message: str = ""
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    """Redacted by the agent before it stores or sends them."""
    events: tuple[SpanEvent, ...] = ()
    scope: str = ""
    """The instrumentation library that made the span."""
    dropped: int = 0
    """Attributes, events and links the producer (or the agent's caps) dropped."""

    @property
    def duration_ms(self) -> float:
        return max(0.0, (self.end - self.start) * 1000.0)

    @property
    def is_error(self) -> bool:
        """The span failed: error status, or a 5xx answer from a server span."""
        if self.status == STATUS_ERROR:
            return True
        code = http_status(self)
        return self.kind == KIND_SERVER and code is not None and code >= 500

    @property
    def is_server(self) -> bool:
        return self.kind == KIND_SERVER


def first_attribute(span: Span, keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` the span carries (None when none)."""
    attributes = span.attributes
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


def http_status(span: Span) -> int | None:
    """The HTTP status code the span records, when it is a plausible one."""
    value = first_attribute(span, STATUS_CODE_KEYS)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    return None


def http_route(span: Span) -> str:
    value = first_attribute(span, ROUTE_KEYS)
    return value if isinstance(value, str) else ""


def http_method(span: Span) -> str:
    value = first_attribute(span, METHOD_KEYS)
    return value.upper() if isinstance(value, str) else ""
