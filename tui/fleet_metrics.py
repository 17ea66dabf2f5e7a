"""The whole fleet's request figures from each agent's :class:`MetricsSnapshot`.

Counts and rates add up. Latency percentiles do not average (two hosts at p99 = 10 ms and
p99 = 1,000 ms do not make a fleet p99 of 505 ms): each snapshot carries its last minute's
latency histogram, the histograms' buckets are summed, and the fleet's percentiles are read
from the sum, with the same relative-error bound as one agent's.

What has no exact merge is said so where it is computed: host gauges (CPU, memory, disk,
load) are the busiest host's, and a route's percentiles the slowest host's for that route.

Pure Python, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from obsview.common.histogram import Histogram, add_counts
from obsview.common.protocol import MetricsSnapshot, RouteStats

_QUANTILES = (0.5, 0.95, 0.99)


def merged_latency(snapshots: Iterable[MetricsSnapshot]) -> Histogram:
    """The sum of the snapshots' last-minute latency histograms."""
    total = Histogram()
    for snapshot in snapshots:
        add_counts(total.buckets, snapshot.latency_buckets)
        total.zero += snapshot.latency_zero
        requests = snapshot.latency_zero + sum(snapshot.latency_buckets.values())
        if not requests:
            continue
        total.count += requests
        if snapshot.latency_avg_ms is not None:
            total.sum += snapshot.latency_avg_ms * requests
        if snapshot.latency_min_ms is not None:
            total.min = min(total.min, snapshot.latency_min_ms)
        if snapshot.latency_max_ms is not None:
            total.max = max(total.max, snapshot.latency_max_ms)
    if total.count and not math.isfinite(total.min):  # no bounds were sent: do not clamp
        total.min, total.max = 0.0, math.inf
    return total


def fleet_snapshot(snapshots: Mapping[str, MetricsSnapshot]) -> MetricsSnapshot | None:
    """One snapshot for every host's traffic (``None`` before any host has reported)."""
    shots = list(snapshots.values())
    if not shots:
        return None
    latency = merged_latency(shots)
    p50, p95, p99 = latency.quantiles(_QUANTILES)
    status_counts: dict[str, int] = {}
    agent: dict[str, int] = {}
    for shot in shots:
        add_counts(status_counts, shot.status_counts)
        add_counts(agent, shot.agent)
    return MetricsSnapshot(
        ts=max(shot.ts for shot in shots),
        uptime_s=max(shot.uptime_s for shot in shots),
        requests_total=sum(shot.requests_total for shot in shots),
        errors_total=sum(shot.errors_total for shot in shots),
        rate_1m=sum(shot.rate_1m for shot in shots),
        rate_5m=sum(shot.rate_5m for shot in shots),
        rate_15m=sum(shot.rate_15m for shot in shots),
        error_rate_1m=_weighted(shots, lambda s: s.error_rate_1m, lambda s: s.rate_1m) or 0.0,
        error_rate_5m=_weighted(shots, lambda s: s.error_rate_5m, lambda s: s.rate_5m) or 0.0,
        error_rate_15m=_weighted(shots, lambda s: s.error_rate_15m, lambda s: s.rate_15m) or 0.0,
        latency_avg_ms=latency.mean,
        latency_min_ms=latency.min if latency.count else None,
        latency_max_ms=latency.max if latency.count and math.isfinite(latency.max) else None,
        p50_ms=p50, p95_ms=p95, p99_ms=p99,
        cache_hit_rate=_weighted(shots, lambda s: s.cache_hit_rate, lambda s: s.rate_1m),
        cpu_percent=max(shot.cpu_percent for shot in shots),
        memory_percent=max(shot.memory_percent for shot in shots),
        disk_percent=max(shot.disk_percent for shot in shots),
        load_1m=max(shot.load_1m for shot in shots),
        routes=_merged_routes(shots),
        status_counts=status_counts,
        agent=agent,
        latency_buckets=latency.buckets,
        latency_zero=latency.zero,
    )


def _weighted(shots: Sequence[MetricsSnapshot], value: Callable[[MetricsSnapshot], float | None],
              weight: Callable[[MetricsSnapshot], float]) -> float | None:
    """The traffic-weighted mean of a fraction (error rate, cache hit rate)."""
    pairs = [(v, weight(shot)) for shot in shots if (v := value(shot)) is not None]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total else None


def _merged_routes(shots: Sequence[MetricsSnapshot]) -> tuple[RouteStats, ...]:
    """Per route: counts summed, percentiles the slowest host's (an upper bound: the
    snapshot carries no per-route histogram), busiest first."""
    routes: dict[tuple[str, str], RouteStats] = {}
    for shot in shots:
        for stats in shot.routes:
            key = (stats.route, stats.method)
            seen = routes.get(key)
            routes[key] = stats if seen is None else RouteStats(
                route=stats.route, method=stats.method,
                requests=seen.requests + stats.requests, errors=seen.errors + stats.errors,
                rate=seen.rate + stats.rate, p50_ms=_slowest(seen.p50_ms, stats.p50_ms),
                p95_ms=_slowest(seen.p95_ms, stats.p95_ms), p99_ms=_slowest(seen.p99_ms, stats.p99_ms),
            )
    return tuple(sorted(routes.values(), key=lambda stats: -stats.requests))


def _slowest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)
