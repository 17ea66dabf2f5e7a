"""A log written hours ago and read from its start is history: the agent counts its requests
by their own minutes, apart from the live windows, and the console shows "history, HH:MM–HH:MM"
with that span's rate, failed share and per-minute chart, not "0.2 req/s … last 1 min, 50 %
err" (nor alerts on it)."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import orjson
from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.routes import RoutesScreen
from obsview.tui.screenshots import utc_time
from obsview.tui.widgets.latency import LatencyPanel
from obsview.tui.widgets.rate_chart import RateChart
from obsview.tui.widgets.route_table import RouteTable

MINUTES = 42
PER_MINUTE = 30


def old_log(path: Path, start: float) -> None:
    """42 minutes of the seed's request records, 30 a minute, every tenth failing (500)."""
    lines = []
    for n in range(MINUTES * PER_MINUTE):
        ts = start + n * 60 / PER_MINUTE
        stamp = datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds")
        status = 500 if n % 10 == 0 else 200
        lines.append(orjson.dumps({
            "timestamp": stamp.replace("+00:00", "Z"), "level": "error" if status == 500 else "info",
            "message": "Request completed",
            "request": {"id": f"req-{n}", "method": "GET", "url": f"/api/posts/{n % 7 + 1}"},
            "response": {"statusCode": status, "responseTime": 40 + n % 50},
        }))
    path.write_bytes(b"\n".join(lines) + b"\n")


async def test_a_log_from_hours_ago_reads_as_history_by_its_own_time(tmp_path: Path) -> None:
    start = (time.time() // 3600 - 3) * 3600  # on the hour, three hours ago
    log = tmp_path / "app.log"
    old_log(log, start)
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", tail=[str(log)],
                         from_start=True)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url, time_format=utc_time)
        async with app.run_test(size=(120, 40)) as pilot:
            state = app.dashboard.state
            await wait_until(pilot, lambda: state.backlog is not None
                             and state.backlog.requests == MINUTES * PER_MINUTE)
            await pilot.pause(0.2)
            backlog = state.backlog
            assert backlog is not None and state.metrics is not None
            # The live windows hold no request: nothing was served while the agent ran.
            assert state.metrics.rate_1m == 0 and state.metrics.error_rate_1m == 0
            assert not [a for a in state.alerts if a.metric == "error_rate"], state.alerts
            # By the events' own minutes: 42 of them, 30 requests each, 3 failed.
            assert [(p.requests, p.errors) for p in backlog.minutes] == [(30, 3)] * MINUTES
            assert backlog.minutes[0].ts == start
            assert backlog.rate == MINUTES * PER_MINUTE / (backlog.last_ts - backlog.first_ts)

            label = f"history, {utc_time(start)[:5]}–{utc_time(start + MINUTES * 60 - 2)[:5]}"
            text = screen_text(app)
            assert app.dashboard.query_one(RateChart).border_subtitle == label
            assert app.dashboard.query_one(LatencyPanel).border_subtitle == label
            assert label in text and "0.5 req/s" in text and "failed ≥400 10.0 %" in text, text
            assert "last 1 min" not in text
            # The chart: the 42 minutes, flat (30 a minute), not the second the agent read them in.
            spark = app.dashboard.query_one("#rate-spark")
            assert list(spark.data) == [0.5] * MINUTES  # type: ignore[attr-defined]

            # The per-route table shows the same span's routes, said so.
            await pilot.press("R")
            await wait_until(pilot, lambda: isinstance(app.screen, RoutesScreen))
            table = app.screen.query_one(RouteTable)
            await wait_until(pilot, lambda: table.row_count == 1)  # /api/posts/:id
            assert sum(route.requests for route in table.routes) == MINUTES * PER_MINUTE
            assert f"of the {label} (events' own time)" in " ".join(screen_text(app).split())


async def test_history_shows_5xx_apart_and_d_says_it_switches_live_charts_only(tmp_path: Path) -> None:
    """History mode had "failed ≥400" but no 5xx figure (live mode shows both), and D put live
    minutes (empty here: nothing was served live) in place of the history without a word."""
    start = (time.time() // 3600 - 3) * 3600
    log = tmp_path / "app.log"
    lines = []
    for n in range(600):  # 20 minutes, 30 a minute; a tenth 500, a tenth 404
        ts = start + n * 2
        stamp = datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds")
        status = 500 if n % 10 == 0 else 404 if n % 10 == 5 else 200
        lines.append(orjson.dumps({
            "timestamp": stamp.replace("+00:00", "Z"), "level": "info", "message": "Request completed",
            "request": {"id": f"req-{n}", "method": "GET", "url": "/api/posts"},
            "response": {"statusCode": status, "responseTime": 40},
        }))
    log.write_bytes(b"\n".join(lines) + b"\n")
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", tail=[str(log)],
                         from_start=True)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url, time_format=utc_time)
        async with app.run_test(size=(120, 40)) as pilot:
            state = app.dashboard.state
            await wait_until(pilot, lambda: state.backlog is not None and state.backlog.requests == 600)
            await pilot.pause(0.2)
            assert state.backlog is not None and state.backlog.server_errors == 60
            chart = app.dashboard.query_one(RateChart)
            label = chart.border_subtitle
            assert label is not None and label.startswith("history, ")
            text = screen_text(app)
            assert "failed ≥400 20.0 %" in text and "5xx 10.0 %" in text, text
            spark = list(app.dashboard.query_one("#rate-spark").data)  # type: ignore[attr-defined]

            before = len(app._notifications)
            await pilot.press("D")
            await pilot.pause()
            assert app.dashboard.charts_span_day
            assert chart.border_subtitle == label  # still the history, still said so
            assert list(app.dashboard.query_one("#rate-spark").data) == spark  # type: ignore[attr-defined]
            assert "5xx 10.0 %" in screen_text(app)
            (note,) = list(app._notifications)[before:]
            assert note.message.startswith("Live charts: the last 24 h") and label in note.message
