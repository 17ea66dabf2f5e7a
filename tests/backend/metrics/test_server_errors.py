"""Server errors (5xx) counted apart from the seed's "failed" (>= 400) (issue 13.2): a 404 or
a refused login is the client's, a 500 the service's. ``error_rate`` and ``/api/metrics``
keep the seed's meaning; ``error_rate_5xx`` is new, in the snapshot and for alert rules.
Failed on 0047b42 (no such figure, and a rule on it was refused)."""

from __future__ import annotations

from typing import Any

import msgspec

from obsview.backend.signals.alerts import AlertEngine, parse_rules
from obsview.common.protocol import LogEvent


def access(status: int) -> LogEvent:
    return LogEvent(ts=0.0, level="INFO", message="Request completed", method="GET",
                    path="/api/posts", status=status, duration_ms=10.0)


def test_the_snapshot_has_both_error_rates_and_the_seed_keeps_failed(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    metrics.observe([access(200)] * 5 + [access(404)] * 2 + [access(401)] + [access(500)] * 2)
    clock.advance(1)
    metrics.tick()
    snapshot = metrics.snapshot()
    assert (snapshot.requests_total, snapshot.errors_total, snapshot.server_errors_total) == (10, 5, 2)
    for window in ("1m", "5m", "15m"):
        assert getattr(snapshot, f"error_rate_{window}") == 0.5
        assert getattr(snapshot, f"error_rate_5xx_{window}") == 0.2
    assert metrics.seed_json()["requests"]["failed"] == 5  # the seed's "failed": >= 400


def test_a_rule_on_error_rate_5xx_fires_on_server_errors_only(clock: Any, make_metrics: Any) -> None:
    (rule,) = parse_rules([{"name": "server_errors", "metric": "error_rate_5xx", "op": ">",
                            "threshold": 0.1, "window": "5m", "min_requests": 5}])
    metrics = make_metrics()
    engine = AlertEngine([rule], clock=clock)
    metrics.observe([access(200)] * 5 + [access(404)] * 5)  # half failed, none the server's
    clock.advance(1)
    assert engine.evaluate(metrics.snapshot(), None) == []
    metrics.observe([access(503)] * 10)
    clock.advance(1)
    moves = engine.evaluate(metrics.snapshot(), None)
    assert [(move.previous, move.current) for move in moves] == [("inactive", "pending"), ("pending", "firing")]
    assert moves[-1].alert.value == 0.5  # 10 of 20 requests: the 404s count, not as 5xx
    assert moves[-1].alert.summary == "error_rate_5xx > 10.0%: 50.0%"


def test_an_older_snapshot_without_the_figure_still_decodes() -> None:
    from obsview.common.protocol import MetricsSnapshot

    old = {"ts": 0.0, "uptime_s": 1.0, "requests_total": 1, "errors_total": 0, "rate_1m": 0.0,
           "rate_5m": 0.0, "rate_15m": 0.0, "error_rate_1m": 0.0, "error_rate_5m": 0.0,
           "error_rate_15m": 0.0, "latency_avg_ms": None, "latency_min_ms": None,
           "latency_max_ms": None, "p50_ms": None, "p95_ms": None, "p99_ms": None,
           "cache_hit_rate": None, "cpu_percent": 0.0, "memory_percent": 0.0,
           "disk_percent": 0.0, "load_1m": 0.0}
    snapshot = msgspec.convert(old, MetricsSnapshot)
    assert snapshot.error_rate_5xx_1m is None and snapshot.server_errors_total is None

