"""What "this event belongs to trace X" means: one definition for the agent's server-side
filter, the console's ``trace:`` filter and its trace timeline.

An event belongs to a trace when its trace ID or its request ID (the seed links a request's
records by ``request.id`` when there is no trace ID) *equals* the wanted ID, exactly: ``req-1``
is not ``req-10``. A prefix match is only ever asked for explicitly (``trace:req-1*`` in the
console).
"""

from __future__ import annotations

from obsview.common.protocol import LogEvent


def in_trace(event: LogEvent, trace_id: str) -> bool:
    """Exact match on the trace or request ID; an empty ``trace_id`` matches nothing."""
    return bool(trace_id) and (event.trace_id == trace_id or event.request_id == trace_id)


def in_trace_prefix(event: LogEvent, prefix: str) -> bool:
    """The trace or request ID starts with ``prefix`` (non-empty)."""
    return bool(prefix) and (
        event.trace_id.startswith(prefix) or event.request_id.startswith(prefix)
    )
