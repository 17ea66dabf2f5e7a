"""``observe`` groups a batch before counting it: the figures must not depend on how the
events were batched (a file read in 1,000-line chunks, a socket one line at a time)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.backend.signals.backlog import LIVE_LAG_S, MAX_AGE_S
from obsview.backend.signals.metrics import RequestMetrics
from obsview.backend.signals.routes import RouteTemplater
from obsview.common.protocol import LogEvent
from tests.backend.metrics.conftest import FakeClock, fixed_host

NOW = 1_700_000_000.0

_stamps = st.sampled_from([
    NOW, NOW - 1.5, NOW - LIVE_LAG_S - 30, NOW - LIVE_LAG_S - 200.25, NOW - MAX_AGE_S - 10,
    NOW - 3600 * 5,
])
_events = st.builds(
    LogEvent,
    ts=_stamps,
    level=st.sampled_from(["INFO", "WARN", "ERROR", "DEBUG"]),
    message=st.just("Request completed"),
    method=st.sampled_from(["GET", "POST", "get", "PURGE", ""]),
    path=st.sampled_from(["/api/posts", "/api/posts/42", "/api/posts/99", "/a/b", "/x/1", "/y/2", "/z/3", ""]),
    route=st.sampled_from(["", "", "", "/api/users/:id"]),
    status=st.one_of(st.none(), st.sampled_from([200, 201, 304, 400, 404, 500, 503, 42, 1000])),
    # Quarters of a millisecond: their sums are exact in any order, so the figures of any
    # grouping agree to the bit (a batch adds a minute's latencies in another order).
    duration_ms=st.one_of(st.none(), st.sampled_from([0.0, 2**-11, 1.0, 12.0, 12, 250.5]),
                          st.integers(1, 400_000).map(lambda quarters: quarters / 4)),
    error_type=st.sampled_from(["", "", "DatabaseError"]),
    cache=st.sampled_from(["", "", "hit", "miss"]),
)


def _figures(metrics: RequestMetrics) -> tuple[Any, ...]:
    metrics.tick()
    totals = metrics.totals()
    routes = {key: (bucket.requests, bucket.errors, bucket.statuses, bucket.latency)
              for key, bucket in totals.routes.items()}
    return (metrics.snapshot(), metrics.seed_json(), routes, totals.errors_by_type,
            totals.routes_overflowed, metrics.backlog.take_unsaved())


@settings(max_examples=150, deadline=None)
@given(st.lists(_events, max_size=60))
def test_one_batch_counts_what_single_events_count(events: list[LogEvent]) -> None:
    # A tight route cap: the overflow bucket and its count must agree too.
    batched, single = (
        RequestMetrics(clock=FakeClock(NOW), host_sampler=fixed_host, max_route_stats=3,
                       templater=RouteTemplater(max_routes=4))
        for _ in range(2)
    )
    batched.observe(events)
    for event in events:
        single.observe([event])
    assert _figures(batched) == _figures(single)
