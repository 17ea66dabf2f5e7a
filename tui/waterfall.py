"""A trace as waterfall rows: its spans as a tree, its log lines placed at their times.

Pure Python, no Textual: :func:`layout` turns the spans and log events of one trace into the
rows the waterfall view draws, top to bottom, each with its depth in the tree and its place on
the trace's time axis (milliseconds from the trace's first moment).

* A span hangs under its parent; a span whose parent is not in the trace (not received, or
  evicted) is a root. A parent loop (hostile input) is broken at the earliest span.
* A log line hangs under the span whose ID it carries, else at the top level; among the rows
  of one parent, spans and lines are in time order, so a request's logs appear between the
  calls it made before and after them.
* A trace known from logs only is the degenerate case: every line at the top level, in time
  order.
* A collapsed span keeps its row and hides everything under it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from obsview.common.protocol import LogEvent
from obsview.common.spans import Span

MAX_INDENT_DEPTH: Final = 24
"""Deeper rows are drawn at this indentation (the depth itself stays exact)."""


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    """The span ID, or ``log:<seq>`` for a log line: stable across re-layouts."""
    depth: int
    offset_ms: float
    """From the trace's first moment to the span's start (or the line's time)."""
    duration_ms: float
    """The span's duration; 0 for a log line."""
    span: Span | None
    event: LogEvent | None
    children: int
    """Rows directly under this one (0 for a log line)."""
    collapsed: bool
    error: bool

    @property
    def is_span(self) -> bool:
        return self.span is not None


@dataclass(frozen=True, slots=True)
class Waterfall:
    trace_id: str
    start: float
    """Unix time of the trace's first moment (0 when empty)."""
    duration_ms: float
    rows: tuple[Row, ...]
    spans: int
    logs: int
    errors: int
    services: tuple[str, ...]


_Node = Span | LogEvent


def _time(node: _Node) -> float:
    return node.start if isinstance(node, Span) else node.ts


def _order(node: _Node) -> tuple[float, int, int]:
    # At equal times a span comes before a line, so a line logged at the very moment its
    # span started shows under it, not above it.
    return (_time(node), 1, node.seq) if isinstance(node, LogEvent) else (node.start, 0, node.seq)


def layout(
    trace_id: str,
    spans: Iterable[Span],
    events: Iterable[LogEvent] = (),
    collapsed: Collection[str] = (),
) -> Waterfall:
    by_id: dict[str, Span] = {}
    for span in spans:
        by_id.setdefault(span.span_id, span)  # a duplicate ID keeps its first span
    lines = sorted(events, key=_order)
    children: dict[str, list[_Node]] = {}
    roots: list[_Node] = []
    for span in by_id.values():
        parent = span.parent_id
        if parent and parent in by_id and parent != span.span_id:
            children.setdefault(parent, []).append(span)
        else:
            roots.append(span)
    for line in lines:
        if line.span_id in by_id:
            children.setdefault(line.span_id, []).append(line)
        else:
            roots.append(line)
    times = [t for span in by_id.values() for t in (span.start, span.end)]
    times += [line.ts for line in lines]
    start = min(times, default=0.0)
    end = max(times, default=0.0)
    rows: list[Row] = []
    visited: set[str] = set()
    _walk(sorted(roots, key=_order), children, start, frozenset(collapsed), visited, rows)
    # Spans never reached sit on a parent loop: the earliest of each loop becomes a root.
    while len(visited) < len(by_id):
        orphan = min((s for s in by_id.values() if s.span_id not in visited), key=_order)
        _walk([orphan], children, start, frozenset(collapsed), visited, rows)
    services = sorted({span.service for span in by_id.values() if span.service}
                      | {line.service for line in lines if line.service})
    return Waterfall(
        trace_id=trace_id,
        start=start,
        duration_ms=max(0.0, (end - start) * 1000.0),
        rows=tuple(rows),
        spans=len(by_id),
        logs=len(lines),
        errors=sum(1 for span in by_id.values() if span.is_error),
        services=tuple(services),
    )


def _walk(
    roots: Sequence[_Node], children: dict[str, list[_Node]], start: float,
    collapsed: frozenset[str], visited: set[str], rows: list[Row],
) -> None:
    """Depth-first, iteratively (a hostile trace may nest thousands deep)."""
    stack: list[tuple[_Node, int]] = [(node, 0) for node in reversed(roots)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, LogEvent):
            rows.append(Row(f"log:{node.seq}", depth, (node.ts - start) * 1000.0, 0.0, None,
                            node, 0, False, node.level == "ERROR"))
            continue
        if node.span_id in visited:
            continue
        visited.add(node.span_id)
        below = sorted(children.get(node.span_id, ()), key=_order)
        folded = node.span_id in collapsed and bool(below)
        rows.append(Row(node.span_id, depth, (node.start - start) * 1000.0, node.duration_ms,
                        node, None, len(below), folded, node.is_error))
        if folded:
            _mark_visited(below, children, visited)
        else:
            stack.extend((child, depth + 1) for child in reversed(below))


def _mark_visited(nodes: Iterable[_Node], children: dict[str, list[_Node]], visited: set[str]) -> None:
    """Spans under a collapsed one are hidden, not lost on a loop: count them as seen."""
    pending = [node for node in nodes if isinstance(node, Span)]
    while pending:
        span = pending.pop()
        if span.span_id in visited:
            continue
        visited.add(span.span_id)
        pending.extend(node for node in children.get(span.span_id, ()) if isinstance(node, Span))


def row_text(row: Row) -> str:
    """What ``/`` searches in a row: the span's name, service and attributes' values, or
    the line's level, message and service."""
    if row.span is not None:
        span = row.span
        values = " ".join(str(value) for value in span.attributes.values())
        return f"{span.name} {span.service} {span.status_message} {values}".lower()
    assert row.event is not None
    event = row.event
    return f"{event.level} {event.message} {event.service} {event.method} {event.path}".lower()


def find(rows: Sequence[Row], text: str, after: int) -> int | None:
    """Index of the first row after ``after`` (wrapping around) whose text holds ``text``."""
    needle = text.lower().strip()
    if not needle or not rows:
        return None
    count = len(rows)
    for step in range(1, count + 1):
        index = (after + step) % count
        if needle in row_text(rows[index]):
            return index
    return None


def bar_cells(row: Row, total_ms: float, width: int) -> tuple[int, int]:
    """The cells ``[first, last)`` a row's bar covers in a time axis ``width`` cells wide;
    at least one cell, so the shortest span and a log line's instant stay visible."""
    if width <= 0:
        return 0, 0
    if total_ms <= 0:
        return 0, 1
    first = min(width - 1, int(row.offset_ms / total_ms * width))
    last = int((row.offset_ms + row.duration_ms) / total_ms * width + 0.5)
    return first, max(first + 1, min(width, last))
