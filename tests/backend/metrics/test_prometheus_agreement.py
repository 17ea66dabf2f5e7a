"""Prometheus agrees with obsview: ``histogram_quantile`` over a real scrape of ``/metrics``
gives the latency panel's p95 to within the width of the bucket it lands in.

``histogram_quantile`` is computed here as Prometheus computes it (promql/quantile.go,
``bucketQuantile``: the rank's bucket, then linear interpolation inside it; the +Inf bucket
answers with the highest finite bound), over ``sum by (le)`` of the increase between two
scrapes — what ``sum by (le) (rate(…_bucket[1m]))`` sees, up to the constant ``1m``, which
cancels out in a quantile. Each ``le`` count is also checked against the durations sent: the
requests at most that slow, give or take the one log bucket (1 %) that straddles the bound.
docs/prometheus.md documents the scrape config and the recording
rules that rely on this.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.histogram import GAMMA
from obsview.common.protocol import LogEvent

BUCKET = "obsview_http_request_duration_seconds_bucket"


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """Prometheus's bucketQuantile over (upper bound → cumulative count)."""
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return math.nan
    counts = [buckets[b] for b in bounds]
    for i in range(1, len(counts)):  # ensureMonotonic
        counts[i] = max(counts[i], counts[i - 1])
    if len(bounds) < 2 or counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    b = bisect.bisect_left(counts, rank, hi=len(counts) - 1)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


def bucket_width(value: float, bounds: list[float]) -> float:
    """Width of the ``le`` bucket holding ``value`` (``(lower, upper]``)."""
    index = bisect.bisect_left(bounds, value)
    return bounds[index] - (bounds[index - 1] if index else 0.0)


async def scrape(client: httpx.AsyncClient, agent: Agent) -> dict[float, float]:
    """``sum by (le) (obsview_http_request_duration_seconds_bucket)`` from one real scrape."""
    response = await client.get(agent.url.replace("ws://", "http://") + "/metrics")
    response.raise_for_status()
    summed: dict[float, float] = defaultdict(float)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == BUCKET:
                summed[float(sample.labels["le"])] += sample.value
    return summed


SHAPES: dict[str, Callable[[random.Random], float]] = {
    "lognormal around 40 ms": lambda r: r.lognormvariate(math.log(40), 0.6),
    "fast with a slow tail": lambda r: r.uniform(2, 9) if r.random() < 0.9 else r.uniform(600, 2400),
    "uniform up to 3 s": lambda r: r.uniform(0, 3000),
    "all on a boundary": lambda r: 1000.0,
}


@pytest.mark.parametrize("shape", SHAPES)
async def test_histogram_quantile_over_the_scrape_gives_the_panels_p95(shape: str, tmp_path: Path) -> None:
    rng = random.Random(shape)
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path, metrics_interval_s=3600)
    async with Agent(config) as agent, httpx.AsyncClient() as client:
        before = await scrape(client, agent)
        now = agent.started_at
        events = [
            LogEvent(ts=now, level="INFO", message="Request completed", status=200,
                     method="GET", route=("/api/posts", "/api/users/:id")[i % 2],
                     duration_ms=SHAPES[shape](rng))
            for i in range(5000)
        ]
        await agent.ingest(events)
        after = await scrape(client, agent)
        panel_p95_ms = agent.snapshot().p95_ms
    increase = {le: after[le] - before.get(le, 0.0) for le in after}
    durations_s = [event.duration_ms / 1000 for event in events if event.duration_ms is not None]
    for le, count in increase.items():  # each `le` counts the requests at most that slow
        assert sum(d <= le for d in durations_s) <= count <= sum(d <= le * GAMMA for d in durations_s), le
    prometheus_p95_s = histogram_quantile(0.95, increase)
    assert panel_p95_ms is not None and not math.isnan(prometheus_p95_s)
    bounds = sorted(le for le in increase if not math.isinf(le))
    width = bucket_width(prometheus_p95_s, bounds)
    assert abs(prometheus_p95_s - panel_p95_ms / 1000) <= width, (
        f"{shape}: Prometheus {prometheus_p95_s:.4f} s, panel {panel_p95_ms / 1000:.4f} s, bucket width {width} s")


def test_the_port_of_bucket_quantile_matches_prometheus_on_its_own_examples() -> None:
    # Worked by hand with bucketQuantile's rules: 10 observations in each of three buckets.
    buckets = {0.1: 10.0, 0.2: 20.0, math.inf: 30.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.95, buckets) == 0.2  # the +Inf bucket: highest finite bound
    assert histogram_quantile(0.1, buckets) == pytest.approx(0.03)
    assert math.isnan(histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}))
