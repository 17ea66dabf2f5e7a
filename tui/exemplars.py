"""Which traces to show for an alert or a route: the failed ones and the slowest ones.

Pure Python, no Textual. Candidates are every trace the console holds spans for, plus the
traces known from access logs only (a request record with a trace ID), each summarized in
one :class:`~obsview.common.traces.TraceSummary`, so a service without OpenTelemetry still
gets its slowest requests listed and opened (as their log lines).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from obsview.common.protocol import LogEvent
from obsview.common.traces import TraceIndex, TraceSummary, summarize

DEFAULT_LIMIT: Final = 50


def from_access_log(event: LogEvent) -> TraceSummary:
    """A trace known from its access record alone: one request, no span."""
    duration = event.duration_ms or 0.0
    status = event.status
    return TraceSummary(
        trace_id=event.trace_id,
        start=event.ts - duration / 1000.0,
        duration_ms=duration,
        name=f"{event.method} {event.route or event.path}".strip(),
        service=event.service,
        route=event.route or event.path,
        method=event.method,
        status=status,
        error=event.level == "ERROR" or (status is not None and status >= 500),
        spans=0,
    )


def candidates(
    traces: TraceIndex, events: Iterable[LogEvent], *, since: float, until: float, route: str = ""
) -> list[TraceSummary]:
    """Traces that started between ``since`` and ``until`` (and served ``route``, when
    given): from spans first, then from access logs for traces without spans."""
    found: dict[str, TraceSummary] = {}
    for trace_id in traces.trace_ids():
        summary = summarize(trace_id, traces.get(trace_id))
        if summary is not None and _wanted(summary, since, until, route):
            found[trace_id] = summary
    for event in events:
        if event.trace_id and event.is_access and event.trace_id not in traces:
            summary = from_access_log(event)
            if _wanted(summary, since, until, route) and event.trace_id not in found:
                found[event.trace_id] = summary
    return list(found.values())


def failed_then_slowest(summaries: Iterable[TraceSummary], limit: int = DEFAULT_LIMIT) -> list[TraceSummary]:
    """The failed traces first, then the others; the slowest first within each."""
    ordered = sorted(summaries, key=lambda s: (not s.error, -s.duration_ms))
    return ordered[:limit]


def _wanted(summary: TraceSummary, since: float, until: float, route: str) -> bool:
    return since <= summary.start <= until and (not route or summary.route == route)
