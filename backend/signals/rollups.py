"""Per-minute rollups of the request metrics: requests, failed, and the latency histogram.

Taken from the all-time totals at each minute boundary (the difference from the previous
boundary), so the hot path pays nothing; a minute holds the live requests the agent counted
during it (history read late is in :attr:`RequestMetrics.backlog`, by its own minutes).
The agent journals each closed minute beside the events and keeps the last day in memory
for consoles' 24-hour charts; a minute's histogram lets a reader merge minutes into
percentiles over any span.
"""

from __future__ import annotations

import copy
from typing import Final

from obsview.backend.signals.metrics import RequestMetrics, RouteBucket
from obsview.common.protocol import MinutePoint

DAY_MINUTES: Final = 1440
_QUANTILES: Final = (0.5, 0.95, 0.99)


def _all_routes(metrics: RequestMetrics) -> RouteBucket:
    total = RouteBucket()
    for bucket in metrics.totals().routes.values():
        total.merge(bucket)
    # History read late (by its own time) is not what the agent counted during the minute.
    requests, errors, latency = metrics.backlog.read_here()
    total.subtract(RouteBucket(requests, errors, {}, latency))
    return total


class MinuteRollup:
    def __init__(self) -> None:
        self._minute: int | None = None
        self._at_boundary = RouteBucket()

    def step(self, metrics: RequestMetrics, now: float) -> MinutePoint | None:
        """The minute that ended, once ``now`` is past it (None otherwise)."""
        minute = int(now // 60)
        if self._minute == minute:
            return None
        total = _all_routes(metrics)
        closed, self._minute = self._minute, minute
        previous, self._at_boundary = self._at_boundary, copy.deepcopy(total)
        if closed is None:
            return None  # started mid-minute: the first boundary only sets the baseline
        total.subtract(previous)
        p50, p95, p99 = total.latency.quantiles(_QUANTILES)
        return MinutePoint(
            ts=closed * 60.0, requests=total.requests, errors=total.errors,
            p50_ms=p50, p95_ms=p95, p99_ms=p99,
            latency={index: count for index, count in total.latency.buckets.items() if count},
        )

