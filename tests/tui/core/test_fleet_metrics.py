"""Fleet figures from per-host snapshots: counts add, percentiles come from summed buckets."""

from __future__ import annotations

from obsview.common.histogram import Histogram
from obsview.common.protocol import MetricsSnapshot, RouteStats
from obsview.tui.fleet_metrics import fleet_snapshot, merged_latency


def snapshot(latencies: list[float], *, rate: float, error_rate: float = 0.0,
             routes: tuple[RouteStats, ...] = (), cpu: float = 10.0) -> MetricsSnapshot:
    """What an agent sends for a minute of these request latencies."""
    histogram = Histogram()
    for value in latencies:
        histogram.add(value)
    p50, p95, p99 = histogram.quantiles((0.5, 0.95, 0.99))
    return MetricsSnapshot(
        ts=100.0, uptime_s=50.0, requests_total=len(latencies), errors_total=int(len(latencies) * error_rate),
        rate_1m=rate, rate_5m=rate, rate_15m=rate,
        error_rate_1m=error_rate, error_rate_5m=error_rate, error_rate_15m=error_rate,
        latency_avg_ms=histogram.mean, latency_min_ms=histogram.min if latencies else None,
        latency_max_ms=histogram.max if latencies else None, p50_ms=p50, p95_ms=p95, p99_ms=p99,
        cache_hit_rate=None, cpu_percent=cpu, memory_percent=20.0, disk_percent=30.0, load_1m=0.5,
        routes=routes, status_counts={"200": len(latencies)}, agent={"events": len(latencies)},
        latency_buckets=dict(histogram.buckets), latency_zero=histogram.zero,
    )


def test_fleet_percentiles_are_those_of_all_requests_not_an_average() -> None:
    fast = [1.0 + i % 10 for i in range(900)]          # one busy, fast host
    slow = [800.0 + i for i in range(100)] + [0.0] * 5  # one quiet, slow host (and 0 ms requests)
    everything = Histogram()
    for value in fast + slow:
        everything.add(value)
    fleet = fleet_snapshot({"web-1": snapshot(fast, rate=15.0), "web-2": snapshot(slow, rate=1.75)})
    assert fleet is not None
    assert (fleet.p50_ms, fleet.p95_ms, fleet.p99_ms) == tuple(everything.quantiles((0.5, 0.95, 0.99)))
    one, two = snapshot(fast, rate=15.0), snapshot(slow, rate=1.75)
    assert one.p99_ms is not None and two.p99_ms is not None
    assert fleet.p99_ms != (one.p99_ms + two.p99_ms) / 2  # what averaging would have said
    assert fleet.latency_min_ms == 0.0 and fleet.latency_max_ms == 899.0
    assert fleet.latency_avg_ms is not None
    assert abs(fleet.latency_avg_ms - sum(fast + slow) / len(fast + slow)) < 1e-6


def test_counts_add_and_fractions_weigh_by_traffic() -> None:
    routes_a = (RouteStats("/api/posts", "GET", 10, 1, 1.0, 5.0, 9.0, 12.0),)
    routes_b = (RouteStats("/api/posts", "GET", 30, 0, 3.0, 7.0, 8.0, 30.0),
                RouteStats("/health", "GET", 2, 0, 0.1, 1.0, 1.0, 1.0))
    fleet = fleet_snapshot({
        "a": snapshot([5.0] * 10, rate=1.0, error_rate=0.5, routes=routes_a, cpu=80.0),
        "b": snapshot([7.0] * 30, rate=3.0, error_rate=0.0, routes=routes_b, cpu=5.0),
    })
    assert fleet is not None
    assert fleet.requests_total == 40 and fleet.rate_1m == 4.0
    assert fleet.error_rate_1m == 0.125  # 0.5 of 1 req/s + 0 of 3 req/s
    assert fleet.status_counts == {"200": 40} and fleet.agent == {"events": 40}
    assert fleet.cpu_percent == 80.0  # the busiest host's
    posts, health = fleet.routes
    assert (posts.requests, posts.errors, posts.rate) == (40, 1, 4.0)
    assert (posts.p50_ms, posts.p99_ms) == (7.0, 30.0)  # the slowest host's: an upper bound
    assert health.route == "/health"


def test_no_traffic_and_no_hosts() -> None:
    assert fleet_snapshot({}) is None
    quiet = fleet_snapshot({"a": snapshot([], rate=0.0), "b": snapshot([], rate=0.0)})
    assert quiet is not None
    assert quiet.p99_ms is None and quiet.latency_min_ms is None and quiet.error_rate_1m == 0.0
    assert merged_latency([]).count == 0
