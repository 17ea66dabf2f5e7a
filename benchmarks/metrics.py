"""Events/s through RequestMetrics.observe beside the parse step (Normalizer), same run.

Seed-shaped access-log lines are normalized in batches of 1,000, then the resulting events go
through the metrics update in the same batches. Issue 4 target: the metrics step costs less
than the parse step (ratio of rates > 1). Also reports the cost of one snapshot.

    uv run python benchmarks/metrics.py [--quick]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import orjson

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Figure, figure, run_alone
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.signals.hostinfo import EMPTY_SAMPLE
from obsview.backend.signals.metrics import RequestMetrics
from obsview.common.protocol import LogEvent

BATCH = 1000
ROUNDS = 3
_ROUTES = ("/api/posts", "/api/posts/{}", "/api/users/{}", "/api/auth/login", "/api/posts/{}/comments")


def seed_lines(n: int) -> list[bytes]:
    """The seed's structured request record (``logEvent``), with realistic variety."""
    rng = random.Random(7)
    lines = []
    for i in range(n):
        status = rng.choices((200, 201, 304, 404, 500), (80, 5, 5, 7, 3))[0]
        took = round(rng.lognormvariate(3, 1), 1)
        lines.append(orjson.dumps({
            "timestamp": "2026-11-25T15:00:00.000Z",
            "level": "INFO" if status < 400 else "WARN",
            "message": "Request completed",
            "request": {
                "id": f"req-{i}", "method": rng.choice(("GET", "GET", "GET", "POST")),
                "url": rng.choice(_ROUTES).format(rng.randint(1, 5000)), "ip": "203.0.113.7",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64)", "correlationId": f"c-{i}",
            },
            "response": {"statusCode": status, "responseTime": took},
            "duration": took,  # the seed logs the same elapsed time twice
        }))
    return lines


def _best_rate(step: object, batches: list, n: int) -> float:
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for batch in batches:
            step(batch)  # type: ignore[operator]
        best = max(best, n / (time.perf_counter() - started))
    return best


def run(quick: bool) -> list[Figure]:
    n = 50_000 if quick else 300_000
    lines = seed_lines(n)
    line_batches = [lines[i:i + BATCH] for i in range(0, n, BATCH)]
    normalizer = Normalizer(service="bench")
    event_batches: list[list[LogEvent]] = [normalizer.normalize_lines(b, "bench") for b in line_batches]
    assert all(e.is_access for batch in event_batches for e in batch), "the normalizer must see access events"
    parse_rate = _best_rate(lambda b: normalizer.normalize_lines(b, "bench"), line_batches, n)
    metrics = RequestMetrics(host_sampler=lambda: EMPTY_SAMPLE)
    observe_rate = _best_rate(metrics.observe, event_batches, n)
    started = time.perf_counter()
    for _ in range(20):
        metrics.snapshot()
    snapshot_ms = (time.perf_counter() - started) / 20 * 1000
    batch_ms = BATCH / observe_rate * 1000
    return [
        figure("RequestMetrics.observe, events/s", observe_rate, "events/s",
               "Normalizer.normalize_lines, events/s", parse_rate),
        figure("RequestMetrics.snapshot", snapshot_ms, "ms", f"observe of one {BATCH}-event batch, ms", batch_ms),
    ]



if __name__ == "__main__":
    run_alone(run, __doc__, "fewer events (a few seconds)")
