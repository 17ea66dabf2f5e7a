"""Which traces a pivot lists: spans and log-only traces, the window, the route, the order."""

from __future__ import annotations

from obsview.common.protocol import LogEvent
from obsview.common.spans import Span
from obsview.common.traces import TraceIndex
from obsview.tui.exemplars import candidates, failed_then_slowest


def server(trace: str, start: float, took_ms: float, status: int, route: str = "/a") -> Span:
    return Span(trace_id=trace, span_id="1" * 16, name=f"GET {route}", start=start,
                end=start + took_ms / 1000, kind=2,
                attributes={"http.route": route, "http.response.status_code": status})


def access(trace: str, ts: float, took_ms: float, status: int, route: str = "/a") -> LogEvent:
    return LogEvent(ts=ts, level="ERROR" if status >= 500 else "INFO", message="done",
                    trace_id=trace, route=route, method="GET", status=status, duration_ms=took_ms)


def test_spans_and_log_only_traces_in_the_window_failed_first_then_slowest() -> None:
    traces = TraceIndex()
    traces.add([server("t-fast", 100.0, 5, 200), server("t-slow", 101.0, 900, 200),
                server("t-old", 10.0, 5000, 500), server("t-other", 100.0, 800, 200, "/b")])
    events = [access("t-slow", 101.9, 900, 200),  # has spans: listed once, from its spans
              access("l-failed", 102.0, 30, 503), access("l-mid", 103.0, 200, 200),
              LogEvent(ts=102.0, level="INFO", message="not a request", trace_id="l-x")]
    found = failed_then_slowest(candidates(traces, events, since=50.0, until=200.0, route="/a"))
    assert [s.trace_id for s in found] == ["l-failed", "t-slow", "l-mid", "t-fast"]
    assert found[1].spans == 1 and found[0].spans == 0 and found[0].error


def test_the_list_is_capped() -> None:
    events = [access(f"l{n}", 100.0 + n, n, 200) for n in range(100)]
    assert len(failed_then_slowest(candidates(TraceIndex(), events, since=0, until=1e9), 10)) == 10
