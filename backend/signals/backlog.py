"""Requests stamped well before they arrived: a file read from its start, lines written while
the agent was down. They are history, not traffic.

Counted in the live windows by their arrival second, an hour of log read in two seconds made
"0.2 req/s … last 1 min, 50 % err" (and alerts on it). Here they are counted apart, by the
minute of their *own* timestamps, so a console can say "history, 10:00–10:42" with that
span's rate, failed share, percentiles and per-minute chart, while the live windows count
only live requests. All-time totals (``/api/metrics``, Prometheus counters) count both.
What each minute gets is journaled (:mod:`obsview.backend.store.history_minutes`), so an agent
started again over its journal shows the same history (:meth:`Backlog.restore`).

What is history: stamped more than :data:`LIVE_LAG_S` before it arrived (no producer buffers
a live line that long; a clock that far off is wrong), and not more than :data:`MAX_AGE_S`
(a timestamp from decades ago is a missing one: counted live by its arrival).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from obsview.backend.store.history_minutes import HistoryMinute, history_minute
from obsview.common.histogram import Histogram
from obsview.common.protocol import BacklogStats, MinutePoint, RouteStats

LIVE_LAG_S: Final = 120.0
MAX_AGE_S: Final = 30 * 86400.0
MAX_MINUTES: Final = 1440
"""Minutes of history kept for the chart (its newest day); older ones are counted, not drawn."""
_QUANTILES: Final = (0.5, 0.95, 0.99)

RouteKey = tuple[str, str]


class Counted(Protocol):
    """Requests counted together (the metrics' ``RouteBucket``)."""

    requests: int
    errors: int
    statuses: dict[int, int]
    latency: Histogram


@dataclass(slots=True)
class _Minute:
    requests: int = 0
    errors: int = 0
    server_errors: int = 0
    first_ts: float = float("inf")
    last_ts: float = float("-inf")
    latency: Histogram = field(default_factory=Histogram)

    def add(self, requests: int, errors: int, server_errors: int, first_ts: float, last_ts: float,
            latency: Histogram) -> None:
        self.requests += requests
        self.errors += errors
        self.server_errors += server_errors
        self.first_ts = min(self.first_ts, first_ts)
        self.last_ts = max(self.last_ts, last_ts)
        self.latency.merge(latency)


class Backlog:
    """History requests by their own minute and by route, with the span they cover."""

    def __init__(self, *, max_minutes: int = MAX_MINUTES, max_routes: int = 20) -> None:
        self._max_minutes = max_minutes
        self._max_routes = max_routes
        self._minutes: dict[int, _Minute] = {}
        self._points: dict[int, MinutePoint] = {}
        """Each kept minute as a chart point, made again only once the minute changed."""
        self._routes: dict[RouteKey, _Minute] = {}
        self._unsaved: dict[int, _Minute] = {}
        """What each minute got since the agent last journaled it (:meth:`take_unsaved`)."""
        self._restored = _Minute()
        """History an earlier run read (from the journal): not in this run's all-time totals."""
        self.latency = Histogram()
        self.requests = 0
        self.errors = 0
        self.server_errors = 0
        """Status >= 500, as the live windows count them apart from "failed"."""
        self.first_ts = float("inf")
        self.last_ts = float("-inf")
        self.minutes_dropped = 0
        """Minutes older than the kept day: in the totals, not in the chart."""
        self.version = 0
        """Moves when anything was added: the agent sends the summary only then."""

    def fold(self, minute: int, key: RouteKey, part: Counted, first_ts: float, last_ts: float) -> None:
        """Add one batch's requests of one minute and route (``first_ts``/``last_ts``: the
        earliest and latest of their timestamps)."""
        server_errors = sum(n for status, n in part.statuses.items() if status >= 500)
        counts = (part.requests, part.errors, server_errors, first_ts, last_ts, part.latency)
        self._add(minute, *counts)
        self._routes.setdefault(key, _Minute()).add(*counts)
        self._unsaved.setdefault(minute, _Minute()).add(*counts)

    def restore(self, minutes: Iterable[HistoryMinute]) -> None:
        """History journaled by an earlier run (oldest first), before this run reads any:
        shown as before, and left out of this run's all-time totals (:meth:`read_here`)."""
        for saved in minutes:
            latency = saved.histogram()
            counts = (saved.requests, saved.errors, saved.server_errors, saved.first_ts, saved.last_ts, latency)
            self._add(saved.minute, *counts)
            self._restored.add(*counts)

    def _add(self, minute: int, requests: int, errors: int, server_errors: int, first_ts: float,
             last_ts: float, latency: Histogram) -> None:
        kept = self._minutes.get(minute)
        if kept is None:
            kept = self._minutes[minute] = _Minute()
            if len(self._minutes) > self._max_minutes:
                oldest = min(self._minutes)
                del self._minutes[oldest]
                self._points.pop(oldest, None)
                self.minutes_dropped += 1
        self._points.pop(minute, None)
        kept.add(requests, errors, server_errors, first_ts, last_ts, latency)
        self.latency.merge(latency)
        self.requests += requests
        self.errors += errors
        self.server_errors += server_errors
        self.first_ts = min(self.first_ts, first_ts)
        self.last_ts = max(self.last_ts, last_ts)
        self.version += 1

    def take_unsaved(self) -> list[HistoryMinute]:
        """What each minute got since the last call, for the journal to add to its rows."""
        unsaved, self._unsaved = self._unsaved, {}
        return [history_minute(minute, part.requests, part.errors, part.server_errors, part.first_ts,
                               part.last_ts, part.latency) for minute, part in sorted(unsaved.items())]

    def read_here(self) -> tuple[int, int, Histogram]:
        """Requests, failed and latency of the history this run read (its all-time totals
        count them; the history restored from the journal they do not)."""
        restored = self._restored
        if not restored.requests:
            return self.requests, self.errors, self.latency
        latency = copy.deepcopy(self.latency)
        latency.subtract(restored.latency)
        return self.requests - restored.requests, self.errors - restored.errors, latency

    def summary(self) -> BacklogStats | None:
        if not self.requests:
            return None
        span = max(1.0, self.last_ts - self.first_ts)
        p50, p95, p99 = self.latency.quantiles(_QUANTILES)
        points = self._points
        for minute, bucket in self._minutes.items():
            if minute not in points:
                m50, m95, m99 = bucket.latency.quantiles(_QUANTILES)
                points[minute] = MinutePoint(ts=minute * 60.0, requests=bucket.requests,
                                             errors=bucket.errors, p50_ms=m50, p95_ms=m95, p99_ms=m99)
        minutes = [points[minute] for minute in sorted(points)]
        busiest = sorted(self._routes.items(), key=lambda item: item[1].requests, reverse=True)
        routes = []
        for (route, method), bucket in busiest[: self._max_routes]:
            r50, r95, r99 = bucket.latency.quantiles(_QUANTILES)
            routes.append(RouteStats(route=route, method=method, requests=bucket.requests,
                                     errors=bucket.errors, rate=bucket.requests / span,
                                     p50_ms=r50, p95_ms=r95, p99_ms=r99))
        return BacklogStats(first_ts=self.first_ts, last_ts=self.last_ts, requests=self.requests,
                            errors=self.errors, rate=self.requests / span, p50_ms=p50, p95_ms=p95,
                            p99_ms=p99, minutes=tuple(minutes), routes=tuple(routes),
                            minutes_dropped=self.minutes_dropped, server_errors=self.server_errors)


def history_stats(minutes: Iterable[HistoryMinute]) -> BacklogStats | None:
    """The figures of journaled minutes of history (an incident file's span)."""
    backlog = Backlog()
    backlog.restore(minutes)
    return backlog.summary()
