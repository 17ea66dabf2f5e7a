"""Server spans as requests, counted once when the same request also has an access log.

A service instrumented with OpenTelemetry alone sends spans and no access log: each SERVER
span with an HTTP status becomes an access event for the request metrics (and so for the
alert rules), never stored or streamed as a log line. A service that sends both would be
counted twice; :class:`RequestDedup` applies the rule below.

**The rule.** An access log and a server span are the same request when they carry the same
trace ID and either the same span ID, or no span ID on the log side (most access logs carry
the trace ID only). Whichever arrives first is counted; the other is matched against it and
not counted. Within one trace, matches are one to one: a trace that crosses two services
watched by the same agent has two server spans and two access logs, and counts two requests.
Access logs without a trace ID are always counted. Pending (unmatched) requests are kept for
the newest :data:`PENDING_TRACES` traces only; a late twin of an older one is counted again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from obsview.common.protocol import LogEvent
from obsview.common.spans import Span, http_method, http_route, http_status

PENDING_TRACES: Final = 50_000
_PATH_KEYS: Final = ("url.path", "http.target")


def span_request(span: Span) -> LogEvent | None:
    """The access event a server span stands for; None for other spans or without a status."""
    if not span.is_server:
        return None
    status = http_status(span)
    if status is None:
        return None
    path = next((v for k in _PATH_KEYS if isinstance(v := span.attributes.get(k), str)), "")
    return LogEvent(
        ts=span.end,
        level="ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO",
        message=span.name,
        service=span.service,
        trace_id=span.trace_id,
        span_id=span.span_id,
        method=http_method(span),
        route=http_route(span),
        path=path.split("?", 1)[0],
        status=status,
        duration_ms=span.duration_ms,
        source="otlp:span",
    )


@dataclass(slots=True)
class _Pending:
    from_span: bool
    span_id: str


class RequestDedup:
    def __init__(self, max_traces: int = PENDING_TRACES) -> None:
        self._pending: OrderedDict[str, list[_Pending]] = OrderedDict()
        self._max_traces = max_traces
        self.matched = 0
        """Requests seen twice (span and access log) and counted once."""

    def logs(self, events: Sequence[LogEvent]) -> Sequence[LogEvent]:
        """The events to count: every one but the access logs of requests a span counted."""
        if not any(event.trace_id and event.is_access for event in events):
            return events
        return [e for e in events if not (e.trace_id and e.is_access) or self._first(e, False)]

    def spans(self, requests: Iterable[LogEvent]) -> list[LogEvent]:
        """The span requests to count: those no access log counted yet."""
        return [request for request in requests if self._first(request, True)]

    def _first(self, request: LogEvent, from_span: bool) -> bool:
        """True when ``request`` is the first of its twins (count it), False for the second."""
        trace_id, span_id = request.trace_id, request.span_id
        pending = self._pending.get(trace_id)
        if pending is not None:
            for index, other in enumerate(pending):
                if other.from_span != from_span and (
                    not span_id or not other.span_id or other.span_id == span_id
                ):
                    del pending[index]
                    if not pending:
                        del self._pending[trace_id]
                    self.matched += 1
                    return False
        else:
            self._pending[trace_id] = pending = []
            if len(self._pending) > self._max_traces:
                self._pending.popitem(last=False)
        pending.append(_Pending(from_span, span_id))
        return True
