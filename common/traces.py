"""A bounded set of traces, keyed by trace ID: the agent's span store and the console's alike.

Bounds: the spans held (count), their encoded size (bytes) and the spans of one trace. When a
new span does not fit, whole traces go, oldest first (by when the trace was first seen), so
what stays is complete traces, not the tails of many. A span that still does not fit (its
own trace is all that is left, or that trace is at its cap) is dropped. Every eviction and
drop is counted. A span ID already held in its trace is a retried export: dropped as a
duplicate, counted apart.

Pure Python, no I/O. :class:`TraceSummary` and :func:`summarize` describe a trace in one row
(the pivots' lists of slowest and failed traces).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import msgspec

from obsview.common.spans import Span, http_method, http_route, http_status

DEFAULT_MAX_SPANS: Final = 50_000
DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_SPANS_PER_TRACE: Final = 10_000

_size: Final = msgspec.json.Encoder().encode


def span_bytes(span: Span) -> int:
    """What a span costs against the byte bound: its encoded size (what a console receives),
    a close stand-in for its memory that is the same on every Python build."""
    return len(_size(span))


@dataclass(slots=True, eq=False)
class _Trace:
    spans: list[Span] = field(default_factory=list)
    span_ids: set[str] = field(default_factory=set)
    bytes: int = 0


class TraceIndex:
    def __init__(
        self,
        *,
        max_spans: int = DEFAULT_MAX_SPANS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_spans_per_trace: int = DEFAULT_MAX_SPANS_PER_TRACE,
    ) -> None:
        if min(max_spans, max_bytes, max_spans_per_trace) < 1:
            raise ValueError("every bound must be at least 1")
        self.max_spans = max_spans
        self.max_bytes = max_bytes
        self.max_spans_per_trace = max_spans_per_trace
        self._traces: dict[str, _Trace] = {}
        """Insertion order is first-seen order: the first key is the oldest trace."""
        self.spans = 0
        self.bytes = 0
        self.traces_evicted = 0
        self.spans_evicted = 0
        """Spans that went with their evicted trace."""
        self.spans_dropped = 0
        """New spans that did not fit at all."""
        self.spans_duplicate = 0

    def __len__(self) -> int:
        """Traces held."""
        return len(self._traces)

    def __contains__(self, trace_id: object) -> bool:
        return trace_id in self._traces

    def add(self, spans: Iterable[Span]) -> list[Span]:
        """Hold ``spans``, evicting the oldest traces to make room; the spans kept, in order."""
        kept: list[Span] = []
        traces = self._traces
        for span in spans:
            trace = traces.get(span.trace_id)
            if trace is not None and span.span_id in trace.span_ids:
                self.spans_duplicate += 1
                continue
            size = span_bytes(span)
            if not self._make_room(span.trace_id, size) or (
                trace is not None and len(trace.spans) >= self.max_spans_per_trace
            ):
                self.spans_dropped += 1
                continue
            if trace is None:
                traces[span.trace_id] = trace = _Trace()
            trace.spans.append(span)
            trace.span_ids.add(span.span_id)
            trace.bytes += size
            self.spans += 1
            self.bytes += size
            self._kept(span)
            kept.append(span)
        return kept

    def _kept(self, span: Span) -> None:
        """Called for each span as it is added (subclasses number or index it)."""

    def _make_room(self, trace_id: str, size: int) -> bool:
        """Evict the oldest other traces until one more span of ``size`` fits."""
        traces = self._traces
        while self.spans + 1 > self.max_spans or self.bytes + size > self.max_bytes:
            oldest = next(iter(traces), None)
            if oldest is None or oldest == trace_id:
                return False  # nothing else to evict: the new span is the one that goes
            gone = traces.pop(oldest)
            self.spans -= len(gone.spans)
            self.bytes -= gone.bytes
            self.traces_evicted += 1
            self.spans_evicted += len(gone.spans)
            self._evicted(gone.spans)
        return True

    def _evicted(self, spans: list[Span]) -> None:
        """Called with the spans of each evicted trace (subclasses keep other indexes)."""

    def get(self, trace_id: str) -> list[Span]:
        """The spans held for ``trace_id`` in arrival order (a copy; empty when unknown)."""
        trace = self._traces.get(trace_id)
        return list(trace.spans) if trace is not None else []

    def trace_ids(self) -> Iterator[str]:
        """Held trace IDs, oldest first."""
        return iter(self._traces)

    def levels(self) -> dict[str, int]:
        """What is held now (goes down as well as up)."""
        return {"traces": len(self._traces), "spans": self.spans, "span_bytes": self.bytes}

    def counters(self) -> dict[str, int]:
        """What was lost so far (only goes up)."""
        return {
            "traces_evicted": self.traces_evicted,
            "spans_evicted": self.spans_evicted,
            "spans_dropped": self.spans_dropped,
            "spans_duplicate": self.spans_duplicate,
        }


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One trace in one row: what the lists of slowest and failed traces show."""

    trace_id: str
    start: float
    duration_ms: float
    name: str
    """The root span's name (or the request line when the trace is known from logs only)."""
    service: str
    route: str
    method: str
    status: int | None
    error: bool
    spans: int


def summarize(trace_id: str, spans: Sequence[Span]) -> TraceSummary | None:
    """The trace's figures, taken from its root (the first span without a parent in the
    trace) and from its first server span for the request's route and status."""
    if not spans:
        return None
    ids = {span.span_id for span in spans}
    ordered = sorted(spans, key=lambda span: span.start)
    root = next((span for span in ordered if span.parent_id not in ids), ordered[0])
    server = next((span for span in ordered if span.is_server), root)
    start = ordered[0].start
    end = max(span.end for span in spans)
    return TraceSummary(
        trace_id=trace_id,
        start=start,
        duration_ms=max(0.0, (end - start) * 1000.0),
        name=root.name,
        service=root.service,
        route=http_route(server),
        method=http_method(server),
        status=http_status(server),
        error=any(span.is_error for span in spans),
        spans=len(spans),
    )
