"""Requests stamped long before they arrived are history: counted by their own minute, never
in the live windows or the minute rollups; the all-time totals count them."""

from __future__ import annotations

from typing import Any

from obsview.backend.signals.backlog import LIVE_LAG_S
from obsview.backend.signals.rollups import MinuteRollup
from obsview.common.protocol import LogEvent


def request(ts: float, status: int = 200, duration: float = 10.0) -> LogEvent:
    return LogEvent(ts=ts, level="INFO", message="done", method="GET", path="/api/posts",
                    status=status, duration_ms=duration)


def test_old_requests_go_to_the_backlog_by_their_minute(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    rollup = MinuteRollup()
    rollup.step(metrics, clock.now)
    hours_ago = (clock.now // 3600 - 3) * 3600
    old = [request(hours_ago + n * 2, status=500 if n % 2 else 200, duration=300.0) for n in range(60)]
    live = [request(clock.now - 1.0), request(clock.now - LIVE_LAG_S + 5)]
    metrics.observe(old + live)
    clock.advance(1.0)
    snapshot = metrics.snapshot()
    # Live: the two requests that arrived as they happened, none of the old ones.
    assert snapshot.rate_1m == 2 / 2 and snapshot.error_rate_1m == 0.0
    assert snapshot.p95_ms is not None and snapshot.p95_ms < 20
    assert sum(route.requests for route in snapshot.routes) == 2
    # History: 60 requests over two minutes of their own time, half failed.
    backlog = metrics.backlog.summary()
    assert backlog is not None
    assert [(p.ts, p.requests, p.errors) for p in backlog.minutes] == [
        (hours_ago, 30, 15), (hours_ago + 60, 30, 15)]
    assert backlog.first_ts == hours_ago and backlog.last_ts == hours_ago + 118
    assert backlog.server_errors == 30  # the failed ones are 500s: 5xx, counted apart too
    assert backlog.rate == 60 / 118 and backlog.p95_ms is not None and backlog.p95_ms > 250
    assert backlog.routes[0].route == "/api/posts" and backlog.routes[0].requests == 60
    # All-time counts both (the seed's /api/metrics, Prometheus counters)...
    assert snapshot.requests_total == 62 and snapshot.errors_total == 30
    assert metrics.seed_json()["requests"]["total"] == 62  # type: ignore[index]
    # ...but the minute the agent lived through counted only what it served then.
    clock.advance(60.0)
    closed = rollup.step(metrics, clock.now)
    assert closed is not None and closed.requests == 2 and closed.errors == 0


def test_a_missing_timestamp_is_not_history(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    metrics.observe([request(0.0), request(1.0)])  # no usable time: counted as they arrive
    assert metrics.snapshot().rate_1m == 2 and metrics.backlog.summary() is None
