"""Per-minute rollups: each closed minute holds what was counted during it."""

from __future__ import annotations

from typing import Any

from obsview.backend.signals.rollups import MinuteRollup
from obsview.common.protocol import LogEvent


def access(status: int, duration: float) -> LogEvent:
    return LogEvent(ts=0.0, level="INFO", message="Request completed", method="GET", path="/api/posts",
                    status=status, duration_ms=duration)


def test_each_minute_counts_its_own_requests(clock: Any, make_metrics: Any) -> None:
    minute = 1_700_000_040.0  # a minute's start (a multiple of 60)
    clock.now = minute + 30
    metrics = make_metrics()
    rollup = MinuteRollup()
    assert rollup.step(metrics, clock()) is None  # the baseline
    metrics.observe([access(200, 10.0)] * 9 + [access(500, 900.0)])
    clock.advance(10)
    assert rollup.step(metrics, clock()) is None  # same minute
    clock.advance(25)  # into the next minute
    first = rollup.step(metrics, clock())
    assert first is not None and first.ts == minute and (first.requests, first.errors) == (10, 1)
    assert first.p50_ms is not None and 9 < first.p50_ms < 11 and first.p99_ms is not None and first.p99_ms > 800
    assert sum(first.latency.values()) == 10
    metrics.observe([access(200, 20.0)] * 3)
    clock.advance(60)
    second = rollup.step(metrics, clock())
    assert second is not None and (second.requests, second.errors) == (3, 0) and second.ts == first.ts + 60
