from __future__ import annotations

from typing import Any

from obsview.backend.signals.metrics import HISTORY_POINTS
from obsview.backend.signals.routes import OTHER_ROUTE, RouteTemplater
from obsview.common.protocol import LogEvent


def access(path: str, status: int, duration: float, *, method: str = "GET", level: str = "INFO",
           **extra: object) -> LogEvent:
    return LogEvent(ts=0.0, level=level, message="Request completed", method=method, path=path,
                    status=status, duration_ms=duration, **extra)  # type: ignore[arg-type]


def test_seed_case_three_requests_one_failing(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    metrics.observe([
        access("/api/posts", 200, 10.0),
        access("/api/posts/42", 200, 30.0),
        access("/api/posts/99", 404, 20.0, level="WARN"),
    ])
    metrics.tick()
    body = metrics.seed_json()
    requests = body["requests"]
    assert requests == {
        "total": 3, "successful": 2, "failed": 1, "successRate": 66.67,
        "byEndpoint": {"/api/posts": {"total": 1, "errors": 0}, "/api/posts/:id": {"total": 2, "errors": 1}},
        "byStatusCode": {"200": 2, "404": 1},
    }
    assert body["responseTime"]["average"] == 20.0
    assert body["responseTime"]["min"] == 10.0 and body["responseTime"]["max"] == 30.0
    assert set(body["responseTime"]["percentiles"]) == {"p50", "p95", "p99"}
    assert body["errors"] == {"total": 0, "byType": {}, "byEndpoint": {}}
    assert body["cache"] == {"hits": 0, "misses": 0, "hitRate": 0}
    assert body["memory"]["rss"] == 50_000_000 and body["memory"]["heapTotal"] == 400_000_000
    assert body["timestamp"].endswith("Z") and body["uptime"] == 0.0
    assert set(body) == {"requests", "responseTime", "errors", "cache", "uptime", "memory", "timestamp"}


def test_errors_by_type_and_endpoint_and_cache(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    metrics.observe([
        access("/api/posts/1", 500, 5.0, level="ERROR", error_type="DatabaseError"),
        LogEvent(ts=0.0, level="ERROR", message="Unhandled error occurred"),
        LogEvent(ts=0.0, level="INFO", message="cache", cache="hit"),
        access("/api/posts/2", 200, 1.0, cache="hit"),
        access("/api/posts/3", 200, 1.0, cache="miss"),
        LogEvent(ts=0.0, level="DEBUG", message="noise"),
    ])
    body = metrics.seed_json()
    assert body["errors"] == {"total": 2, "byType": {"DatabaseError": 1, "Error": 1},
                              "byEndpoint": {"/api/posts/:id": 1}}
    assert body["cache"] == {"hits": 2, "misses": 1, "hitRate": 66.67}
    assert metrics.snapshot().cache_hit_rate == 2 / 3


def test_sliding_windows_and_latency_over_the_last_minute(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    # 10 requests a second for 2 minutes: the first minute slow, the second fast and failing.
    for second in range(120):
        slow = second < 60
        metrics.observe([access("/a", 200 if slow else 503, 500.0 if slow else 10.0) for _ in range(10)])
        clock.advance(1)
    snap = metrics.snapshot()
    assert snap.requests_total == 1200 and snap.errors_total == 600
    # The current (empty) second is in the window: 59 s of the fast minute.
    assert snap.rate_1m == 590 / 60
    assert snap.error_rate_1m == 1.0
    # The 5 m window is not full yet: its rate is over the 121 s the agent has seen.
    assert snap.rate_5m == 1200 / 121 and snap.error_rate_5m == 0.5
    assert snap.p99_ms is not None and abs(snap.p99_ms - 10.0) < 0.1
    assert snap.latency_max_ms == 10.0 and snap.latency_min_ms == 10.0
    assert snap.routes[0].route == "/a" and snap.routes[0].errors == 590
    clock.advance(3600)
    quiet = metrics.snapshot()
    assert quiet.rate_15m == 0 and quiet.p95_ms is None and quiet.latency_avg_ms is None
    assert quiet.requests_total == 1200


def test_tick_records_bounded_history_and_host_gauges(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    for _ in range(HISTORY_POINTS + 50):
        metrics.observe([access("/a", 200, 5.0), access("/a", 500, 7.0)])
        clock.advance(1)
        point = metrics.tick()
    assert point.rate == 2.0 and point.error_rate == 0.5
    assert point.p50_ms is not None and abs(point.p50_ms - 5.0) < 0.05
    assert len(metrics.history()) == HISTORY_POINTS
    snap = metrics.snapshot(agent={"events_ingested": 7})
    assert snap.memory_percent == 40.0 and snap.disk_percent == 50.0 and snap.load_1m == 0.5
    assert snap.agent == {"events_ingested": 7, "routes_overflowed": 0}


def test_route_ids_in_the_route_field_win_over_the_path(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics()
    metrics.observe([access("/api/posts/abc-slug", 200, 1.0, route="/api/posts/:slug")])
    assert metrics.seed_json()["requests"]["byEndpoint"] == {"/api/posts/:slug": {"total": 1, "errors": 0}}


def test_ten_thousand_distinct_paths_stay_bounded(clock: Any, make_metrics: Any) -> None:
    metrics = make_metrics(templater=RouteTemplater(max_routes=50))
    for i in range(10_000):
        metrics.observe([access(f"/page-{i}x", 200, 1.0, method="GET" if i % 2 else "BREW")])
        if i % 100 == 0:
            clock.advance(1)
    totals = metrics.totals()
    assert len(totals.routes) <= 50 * 2
    assert totals.routes_overflowed == 10_000 - 50
    assert (OTHER_ROUTE, "GET") in totals.routes and (OTHER_ROUTE, "OTHER") in totals.routes
    snap = metrics.snapshot()
    assert snap.agent["routes_overflowed"] == 9_950
    # The named routes were seen in the first second and left the one-minute window.
    assert {(r.route, r.method) for r in snap.routes} == {(OTHER_ROUTE, "GET"), (OTHER_ROUTE, "OTHER")}


def test_error_types_and_odd_statuses_stay_bounded(make_metrics: Any) -> None:
    metrics = make_metrics()
    metrics.observe([LogEvent(ts=0.0, level="ERROR", message="", error_type=f"E{i}") for i in range(150)])
    metrics.observe([access("/a", 1234, 1.0), access("/a", -5, 1.0)])
    body = metrics.seed_json()
    assert len(body["errors"]["byType"]) == 101 and body["errors"]["byType"]["other"] == 50
    assert body["requests"]["byStatusCode"] == {"0": 2}


def test_snapshot_carries_the_minute_histogram_for_merging_across_agents(clock: Any, make_metrics: Any) -> None:
    from obsview.common.histogram import Histogram

    metrics = make_metrics()
    metrics.observe([access("/api/posts", 200, ms) for ms in (0.0, 3.0, 3.0, 250.0)])
    metrics.tick()
    snapshot = metrics.snapshot()
    again = Histogram(buckets=dict(snapshot.latency_buckets), zero=snapshot.latency_zero, count=4,
                      min=0.0, max=250.0)
    assert snapshot.latency_zero == 1 and sum(snapshot.latency_buckets.values()) == 3
    assert again.quantiles((0.5, 0.95, 0.99)) == [snapshot.p50_ms, snapshot.p95_ms, snapshot.p99_ms]


def test_a_routes_rate_is_over_the_time_counted_like_the_global_rate(clock: Any, make_metrics: Any) -> None:
    # 30 requests in the agent's first 10 seconds are 3/s, not 0.5/s over a minute that has
    # not happened yet (the per-route table shows this figure beside the global one).
    metrics = make_metrics()
    for _ in range(10):
        metrics.observe([access("/api/posts", 200, 10.0)] * 3)
        clock.advance(1.0)
    snapshot = metrics.snapshot()
    assert snapshot.routes[0].rate == snapshot.rate_1m == 30 / 11
