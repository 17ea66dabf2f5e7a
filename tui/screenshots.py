"""Write SVG screenshots of the console to ``screenshots/`` from a fixed, recorded session.

    uv run python -m obsview.tui.screenshots [--out DIR]

The same session (:func:`sample_messages` at :data:`SAMPLE_NOW`) feeds the snapshot tests, so
what the README shows is what the tests check.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from obsview.common.protocol import (
    AckInfo,
    AlertInfo,
    Alerts,
    Events,
    Health,
    HealthReport,
    Hello,
    Level,
    LogEvent,
    Metrics,
    MetricsPoint,
    MetricsSnapshot,
    ProbeStatus,
    RouteStats,
    Spans,
)
from obsview.common.spans import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    Span,
    SpanEvent,
)

if TYPE_CHECKING:
    from textual.pilot import Pilot

    from obsview.tui.app import ObsviewApp

#: One way of reaching a screen from a fresh console.
Step = Callable[["Pilot[None]"], Awaitable[None]]

#: 2026-11-25 15:00:00 UTC: the fixed "now" of the recorded session.
SAMPLE_NOW: Final = 1_795_618_800.0
SIZE: Final = (120, 40)
TRACE_ID: Final = "4bf92f3577b34da6a3ce929d0e0e4736"

_ROUTES: Final = (
    ("GET", "/api/posts", "/api/posts", 200),
    ("GET", "/api/posts/:id", "/api/posts/42", 200),
    ("POST", "/api/posts", "/api/posts", 201),
    ("GET", "/api/users/:id", "/api/users/7", 200),
    ("POST", "/api/auth/login", "/api/auth/login", 200),
)


def sample_clock() -> float:
    return SAMPLE_NOW


def utc_time(ts: float) -> str:
    """Row times in UTC, so screenshots do not depend on the machine's time zone."""
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%H:%M:%S.%f")[:-3]


def sample_app(theme: str | None = None) -> ObsviewApp:
    """The console on the recorded session, with a fixed clock: the same pixels everywhere."""
    from obsview.tui.app import ObsviewApp

    return ObsviewApp(messages=sample_messages(), clock=sample_clock, theme=theme,
                      time_format=utc_time)


#: The hosts of the recorded fleet session, and the share of the traffic each one serves.
FLEET_HOSTS: Final = (("web-1", 0.5), ("web-2", 0.35), ("web-3", 0.15))


def sample_fleet_app(theme: str | None = None) -> ObsviewApp:
    """The console over three agents, on recorded data (web-3 just lost)."""
    from obsview.tui.app import ObsviewApp
    from obsview.tui.fleet import FleetHost

    hosts = [FleetHost(name, f"ws://10.0.0.{11 + n}:8765") for n, (name, _) in enumerate(FLEET_HOSTS)]
    return ObsviewApp(hosts=hosts, host_messages=fleet_messages(), clock=sample_clock,
                      theme=theme, time_format=utc_time)


def fleet_messages() -> dict[str, list[object]]:
    """A recorded fleet session: the sample session's events dealt out to three hosts, each
    with its own latency (web-2 slow), alerts on web-2, web-3 reconnecting."""
    from obsview.common.histogram import Histogram
    from obsview.tui.client import ConnectionState

    events = _events()
    sent: dict[str, list[object]] = {}
    for number, (name, share) in enumerate(FLEET_HOSTS):
        rng = random.Random(number)
        latency = Histogram()
        for _ in range(round(2000 * share)):
            latency.add(rng.lognormvariate(3.6, 0.5) * (6.0 if name == "web-2" else 1.0))
        p50, p95, p99 = latency.quantiles((0.5, 0.95, 0.99))
        base = _snapshot()
        snapshot = MetricsSnapshot(
            ts=SAMPLE_NOW, uptime_s=base.uptime_s, requests_total=round(base.requests_total * share),
            errors_total=round(base.errors_total * share), rate_1m=round(base.rate_1m * share, 1),
            rate_5m=base.rate_5m * share, rate_15m=base.rate_15m * share,
            error_rate_1m=0.12 if name == "web-2" else 0.004, error_rate_5m=0.03, error_rate_15m=0.01,
            latency_avg_ms=latency.mean, latency_min_ms=latency.min, latency_max_ms=latency.max,
            p50_ms=p50, p95_ms=p95, p99_ms=p99, cache_hit_rate=0.8, cpu_percent=20.0,
            memory_percent=60.0, disk_percent=40.0, load_1m=0.5,
            latency_buckets=dict(latency.buckets), latency_zero=latency.zero,
        )
        url = f"ws://10.0.0.{11 + number}:8765"
        hello = Hello(agent_version="0.1.0", host=name, service="blog-api", seq=185,
                      started_at=SAMPLE_NOW - 5400)
        mine = tuple(event for index, event in enumerate(events) if index % 3 == number)
        sent[name] = [
            ConnectionState(status="connected", url=url, hello=hello),
            hello,
            Metrics(snapshot, history=_history() if number == 0 else ()),
            Health(_health() if name == "web-2" else HealthReport(
                status="healthy", ts=SAMPLE_NOW, uptime_s=5400.0, version="1.4.2",
                probes=(_health().probes[0],))),
            Alerts(_alerts() if name == "web-2" else ()),
            Events(mine),
        ]
    sent["web-3"].append(ConnectionState(status="reconnecting", url="ws://10.0.0.13:8765",
                                         retry_in=4.0, attempt=2, last_error="connection lost",
                                         hello=sent["web-3"][1]))  # type: ignore[arg-type]
    return sent


def _history() -> tuple[MetricsPoint, ...]:
    points = []
    for i in range(300):
        ts = SAMPLE_NOW - 300 + i
        wave = 1 + 0.35 * math.sin(i / 17)
        burst = 0.18 if 230 <= i < 260 else 0.01
        slow = 1300.0 if 240 <= i < 262 else 0.0
        points.append(
            MetricsPoint(ts=ts, rate=round(42 * wave, 2), error_rate=burst,
                         p50_ms=38 + 6 * wave, p95_ms=210 * wave + slow, p99_ms=480 * wave + slow)
        )
    return tuple(points)


def _snapshot() -> MetricsSnapshot:
    return MetricsSnapshot(
        ts=SAMPLE_NOW, uptime_s=5400.0, requests_total=183_442, errors_total=3_322,
        rate_1m=44.6, rate_5m=41.2, rate_15m=39.8,
        error_rate_1m=0.071, error_rate_5m=0.032, error_rate_15m=0.014,
        latency_avg_ms=96.0, latency_min_ms=2.1, latency_max_ms=2_430.0,
        p50_ms=41.0, p95_ms=720.0, p99_ms=1_240.0, cache_hit_rate=0.83,
        cpu_percent=23.0, memory_percent=61.0, disk_percent=47.0, load_1m=0.8,
        routes=(
            RouteStats("/api/posts/:id", "GET", 1600, 190, 26.7, 40.0, 900.0, 1500.0),
            RouteStats("/api/posts", "GET", 620, 2, 10.3, 31.0, 180.0, 240.0),
            RouteStats("/api/auth/login", "POST", 240, 21, 4.0, 95.0, 610.0, 1_240.0),
            RouteStats("/api/users/:id", "GET", 180, 0, 3.0, 22.0, 64.0, 88.0),
            RouteStats("/api/posts", "POST", 36, 1, 0.6, 140.0, 410.0, 2_100.0),
        ),
        status_counts={"2xx": 180_120, "4xx": 405, "5xx": 2_917},
        server_errors_total=2_917, error_rate_5xx_1m=0.052, error_rate_5xx_5m=0.024,
        error_rate_5xx_15m=0.011,
    )


def _health() -> HealthReport:
    def probe(name: str, kind: str, target: str, status: str, latency: float | None,
              error: str, changed_ago: float) -> ProbeStatus:
        return ProbeStatus(name, kind, target, status, latency, error,
                           checked_at=SAMPLE_NOW - 2, changed_at=SAMPLE_NOW - changed_ago)

    return HealthReport(
        status="unhealthy", ts=SAMPLE_NOW, uptime_s=5400.0, version="1.4.2",
        probes=(
            probe("api", "http", "http://127.0.0.1:3000/api/health", "healthy", 4.2, "", 5400),
            probe("postgres", "tcp", "127.0.0.1:5432", "degraded", 812.0, "slow connect", 95),
            probe("redis", "tcp", "127.0.0.1:6379", "unhealthy", None,
                  "connect: connection refused", 42),
            probe("disk", "disk", "/", "healthy", None, "", 5400),
        ),
    )


def _alerts() -> tuple[AlertInfo, ...]:
    return (
        AlertInfo("f1", "HighErrorRate", "critical", "firing", "error_rate_1m", ">", 0.05, 0.071,
                  "Error rate 5.8 % on GET /api/posts/:id (threshold 5 %)",
                  labels={"route": "/api/posts/:id"}, started_at=SAMPLE_NOW - 150,
                  fired_at=SAMPLE_NOW - 90, peak=0.094, fired_value=0.058),
        AlertInfo("f2", "SlowResponses", "warning", "pending", "p95_ms", ">", 1000.0, 1240.0,
                  "p95 latency above 1 s", started_at=SAMPLE_NOW - 20, peak=1310.0),
        # As the agent's probe rule sends it (a metric of 1 while the probe is unhealthy).
        AlertInfo("f3", "DependencyDown", "critical", "firing", "probe_unhealthy", ">=", 1.0, 1.0,
                  "redis is unhealthy", labels={"probe": "redis"},
                  started_at=SAMPLE_NOW - 42, fired_at=SAMPLE_NOW - 40,
                  ack=AckInfo("alice", SAMPLE_NOW - 30, "restarting redis"),
                  peak=1.0, fired_value=1.0),
        AlertInfo("f4", "HighMemory", "warning", "resolved", "memory_percent", ">", 90.0, 61.0,
                  "Memory use 91.2% is above 90.0%", started_at=SAMPLE_NOW - 3600,
                  fired_at=SAMPLE_NOW - 3500, resolved_at=SAMPLE_NOW - 1800,
                  peak=94.0, fired_value=91.2, resolved_value=61.0),
    )


def _events() -> tuple[LogEvent, ...]:
    rng = random.Random(42)
    events = []
    for seq in range(1, 181):
        ts = SAMPLE_NOW - 180 + seq
        status: int | None
        method, route, path, status = rng.choice(_ROUTES)
        duration = round(rng.lognormvariate(3.6, 0.6), 1)
        level: Level = "INFO"
        message = "request completed"
        if seq % 23 == 0:
            status, level, message = 500, "ERROR", "database query failed: timeout after 1000 ms"
        elif seq % 17 == 0:
            method, route, path, status = "POST", "/api/auth/login", "/api/auth/login", 401
            level, message = "WARN", "failed login attempt"
        elif seq % 11 == 0:
            level, message, status = "DEBUG", "cache miss for post list", None
        trace = f"{rng.getrandbits(128):032x}"
        events.append(
            LogEvent(ts=ts, level=level, message=message, seq=seq, service="blog-api",
                     host="web-1", trace_id=trace, method=method, route=route, path=path,
                     status=status, duration_ms=duration if status else None,
                     ip="203.0.113.7", user_agent="Mozilla/5.0", source="/var/log/blog/app.log",
                     raw=f'{{"level":"{level.lower()}","message":"{message}","path":"{path}"}}')
        )
    steps: tuple[tuple[Level, str, int | None, float | None], ...] = (
        ("INFO", "request started", None, None),
        ("DEBUG", "cache miss for post 42", None, None),
        ("DEBUG", "SELECT * FROM posts WHERE id = $1", None, None),
        ("WARN", "slow query: 1180 ms", None, None),
        ("ERROR", "database query failed: timeout after 1000 ms", 500, 1212.5),
    )
    offsets = (0.0, 0.004, 0.006, 1.19, 1.2125)
    # The span each line was logged in (the sample trace's spans: _spans()).
    span_ids = (_SERVER_SPAN, _CACHE_SPAN, _QUERY_SPAN, _QUERY_SPAN, _SERVER_SPAN)
    step_duration: float | None
    for i, ((level, message, status, step_duration), offset) in enumerate(zip(steps, offsets)):
        events.append(
            LogEvent(ts=SAMPLE_NOW - 5 + offset, level=level, message=message, seq=181 + i,
                     span_id=span_ids[i],
                     service="blog-api", host="web-1", trace_id=TRACE_ID, method="GET",
                     route="/api/posts/:id", path="/api/posts/42", status=status,
                     duration_ms=step_duration, source="/var/log/blog/app.log",
                     raw=f'{{"level":"{level.lower()}","message":"{message}"}}')
        )
    return tuple(events)


_SERVER_SPAN: Final = "00f067aa0ba902b7"
_CACHE_SPAN: Final = "1a2b3c4d5e6f7081"
_QUERY_SPAN: Final = "53995c3f42cd8ad8"


def _spans() -> tuple[Span, ...]:
    """The sample trace as spans: the request, its cache lookup, its slow query and retry."""
    start = SAMPLE_NOW - 5

    def span(span_id: str, name: str, begin_ms: float, end_ms: float, **fields: Any) -> Span:
        return Span(trace_id=TRACE_ID, span_id=span_id, name=name, start=start + begin_ms / 1000,
                    end=start + end_ms / 1000, service=fields.pop("service", "blog-api"),
                    seq=fields.pop("seq"), **fields)

    server = {"http.request.method": "GET", "http.route": "/api/posts/:id",
              "url.path": "/api/posts/42", "http.response.status_code": 500}
    return (
        span(_SERVER_SPAN, "GET /api/posts/:id", 0, 1212.5, seq=1, kind=KIND_SERVER,
             status=STATUS_ERROR, attributes=server),
        span("6e0c63257de34c92", "auth.verify_token", 0.4, 1.1, seq=2, kind=KIND_INTERNAL,
             parent_id=_SERVER_SPAN),
        span(_CACHE_SPAN, "redis GET post:42", 1.5, 4.2, seq=3, kind=KIND_CLIENT,
             parent_id=_SERVER_SPAN, service="redis",
             attributes={"db.system": "redis", "db.operation": "GET"}),
        span(_QUERY_SPAN, "SELECT posts", 5.0, 1190.0, seq=4, kind=KIND_CLIENT,
             parent_id=_SERVER_SPAN, service="postgres", status=STATUS_ERROR,
             status_message="canceling statement due to statement timeout",
             attributes={"db.system": "postgresql",
                         "db.statement": "SELECT * FROM posts WHERE id = $1"},
             events=(SpanEvent(start + 1.19, "exception",
                               {"exception.type": "QueryCanceled"}),)),
        span("b7ad6b7169203331", "pool.acquire", 5.2, 9.8, seq=5, kind=KIND_INTERNAL,
             parent_id=_QUERY_SPAN, service="postgres"),
        span("e4c1d2a3b4f50617", "render error page", 1195.0, 1211.0, seq=6,
             kind=KIND_INTERNAL, parent_id=_SERVER_SPAN),
    )


def sample_messages() -> list[object]:
    """A recorded session: what an agent sends right after a console subscribes."""
    return [
        Hello(agent_version="0.1.0", host="web-1", service="blog-api", seq=185,
              started_at=SAMPLE_NOW - 5400),
        Metrics(_snapshot(), history=_history()),
        Health(_health()),
        Alerts(_alerts()),
        Events(_events()),
        Spans(_spans()),
    ]


# --------------------------------------------------------------------------- shots

async def _take(out: Path, name: str, theme: str | None, steps: Step) -> Path:
    app = sample_app(theme)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await steps(pilot)
        await pilot.pause()
        path = out / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(out))
    return path


async def _nothing(pilot: Pilot[None]) -> None:
    return None


def shot_steps() -> dict[str, Step]:
    """How to reach each screen from a fresh console (shared with the snapshot tests)."""

    async def filter_active(pilot: Pilot[None]) -> None:
        await pilot.press("slash", *"level:warn+", "enter")

    async def select_trace_event(pilot: Pilot[None]) -> None:
        await pilot.press("end")

    async def detail(pilot: Pilot[None]) -> None:
        await select_trace_event(pilot)
        await pilot.press("enter")

    async def trace(pilot: Pilot[None]) -> None:
        await select_trace_event(pilot)
        await pilot.press("T")

    async def span(pilot: Pilot[None]) -> None:
        await trace(pilot)
        await pilot.press(*["down"] * 5, "enter")  # the slow query's span

    async def help_screen(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")

    async def routes(pilot: Pilot[None]) -> None:
        await pilot.press("R")

    async def volume(pilot: Pilot[None]) -> None:
        await pilot.press("i", "left", "left", "left")

    steps = {
        "dashboard": _nothing,
        "filter": filter_active,
        "detail": detail,
        "trace": trace,
        "span": span,
        "help": help_screen,
        "routes": routes,
        "volume": volume,
    }
    return {name: _without_toasts(step) for name, step in steps.items()}


def _without_toasts(step: Step) -> Step:
    """``step``, then the "alert firing" toasts dismissed: in a still picture they only
    cover the log (they are tested on their own)."""

    async def run(pilot: Pilot[None]) -> None:
        await step(pilot)
        await pilot.pause()
        pilot.app.clear_notifications()

    return run


async def write_all(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [await _take(out, name, None, steps) for name, steps in shot_steps().items()]
    from obsview.themes import load_themes

    dashboard = shot_steps()["dashboard"]
    app = sample_fleet_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await dashboard(pilot)
        await pilot.pause()
        app.save_screenshot(filename="fleet.svg", path=str(out))
    written.append(out / "fleet.svg")
    for theme in load_themes():
        written.append(await _take(out, f"theme-{theme.name}", theme.name, dashboard))
    return written


def pin_time_zone() -> None:
    """Local times in UTC too (the detail view's local time, dates of other days): the same
    pixels on every machine, as the snapshot tests see them."""
    os.environ["TZ"] = "UTC"
    time.tzset()


def main() -> None:
    parser = argparse.ArgumentParser(description="Write SVG screenshots of the console.")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    pin_time_zone()
    for path in asyncio.run(write_all(args.out)):
        print(path)


if __name__ == "__main__":
    main()
