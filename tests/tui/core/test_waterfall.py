"""Waterfall layout: the span tree, log lines at their times, collapse, loops, bars."""

from __future__ import annotations

from obsview.common.protocol import LogEvent
from obsview.common.spans import STATUS_ERROR, Span
from obsview.tui.waterfall import bar_cells, find, layout

TRACE = "ab" * 16


def span(span_id: str, start: float, end: float, parent: str = "", **fields: object) -> Span:
    return Span(trace_id=TRACE, span_id=span_id, parent_id=parent, name=f"op-{span_id}",
                start=100.0 + start, end=100.0 + end, **fields)  # type: ignore[arg-type]


def line(seq: int, at: float, span_id: str = "", level: str = "INFO") -> LogEvent:
    return LogEvent(ts=100.0 + at, level=level, message=f"line {seq}", seq=seq,  # type: ignore[arg-type]
                    trace_id=TRACE, span_id=span_id)


def shape(rows: object) -> list[tuple[str, int]]:
    return [(row.key, row.depth) for row in rows]  # type: ignore[attr-defined]


def test_spans_nest_by_parent_and_logs_interleave_at_their_times() -> None:
    spans = [
        span("c2", 0.050, 0.080, "root"),
        span("root", 0.0, 0.100),
        span("c1", 0.010, 0.040, "root"),
        span("g1", 0.015, 0.020, "c1"),
    ]
    events = [line(1, 0.045, "root"), line(2, 0.017, "c1"), line(3, 0.200)]
    waterfall = layout(TRACE, spans, events)
    assert shape(waterfall.rows) == [
        ("root", 0), ("c1", 1), ("g1", 2), ("log:2", 2), ("log:1", 1), ("c2", 1), ("log:3", 0)]
    assert waterfall.duration_ms == 200.0 or abs(waterfall.duration_ms - 200.0) < 1e-6
    assert (waterfall.spans, waterfall.logs) == (4, 3)
    root = waterfall.rows[0]
    assert root.children == 3 and abs(root.duration_ms - 100.0) < 1e-6
    assert abs(waterfall.rows[2].offset_ms - 15.0) < 1e-6


def test_a_trace_known_from_logs_only_is_its_lines_in_time_order() -> None:
    waterfall = layout(TRACE, [], [line(2, 0.5), line(1, 0.1), line(3, 0.3, level="ERROR")])
    assert shape(waterfall.rows) == [("log:1", 0), ("log:3", 0), ("log:2", 0)]
    assert waterfall.rows[1].error and waterfall.spans == 0
    assert abs(waterfall.duration_ms - 400.0) < 1e-6


def test_a_missing_parent_makes_a_root_and_a_loop_is_broken() -> None:
    spans = [span("a", 0.0, 0.1, "lost"), span("x", 0.2, 0.3, "y"), span("y", 0.25, 0.3, "x"),
             span("self", 0.4, 0.5, "self")]
    rows = layout(TRACE, spans).rows
    assert sorted(shape(rows)) == sorted([("a", 0), ("x", 0), ("y", 1), ("self", 0)])


def test_collapse_hides_everything_below_and_keeps_the_row() -> None:
    spans = [span("root", 0, 1), span("c", 0.1, 0.5, "root"), span("g", 0.2, 0.3, "c")]
    rows = layout(TRACE, spans, [line(1, 0.25, "g")], collapsed={"c"}).rows
    assert shape(rows) == [("root", 0), ("c", 1)]
    assert rows[1].collapsed and rows[1].children == 1


def test_deep_nesting_does_not_recurse() -> None:
    spans = [span(f"{i:04x}", i * 1e-4, 1.0, f"{i - 1:04x}" if i else "") for i in range(5000)]
    rows = layout(TRACE, spans).rows
    assert len(rows) == 5000 and rows[-1].depth == 4999


def test_errors_are_counted_and_marked() -> None:
    spans = [span("root", 0, 1, kind=2, attributes={"http.response.status_code": 503}),
             span("db", 0.1, 0.2, "root", status=STATUS_ERROR), span("ok", 0.3, 0.4, "root")]
    waterfall = layout(TRACE, spans)
    assert waterfall.errors == 2
    assert [row.error for row in waterfall.rows] == [True, True, False]


def test_find_wraps_around_and_ignores_case() -> None:
    rows = layout(TRACE, [span("root", 0, 1), span("db", 0.1, 0.2, "root")],
                  [line(1, 0.5, "root")]).rows
    assert find(rows, "OP-DB", 0) == 1
    assert find(rows, "op-root", 1) == 0
    assert find(rows, "line 1", 2) == 2
    assert find(rows, "nothing", 0) is None


def test_bars_scale_to_the_trace_and_never_vanish() -> None:
    rows = layout(TRACE, [span("root", 0, 1.0), span("tiny", 0.5, 0.5000001, "root")]).rows
    assert bar_cells(rows[0], 1000.0, 40) == (0, 40)
    assert bar_cells(rows[1], 1000.0, 40) == (20, 21)
