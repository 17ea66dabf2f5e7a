"""A firing alert's row shows the value now, as the Requests panel does, and its peak; the
same in /api/alerts (issue 13.1) — a real agent, a real console. Failed on 0047b42: the row
kept "10.0 % > 5.0 %", the value it fired with, while the error rate went to 70 %."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.signals.alerts import AlertRule
from obsview.tui.app import ObsviewApp
from obsview.tui.widgets.alert_feed import AlertFeed

RULE = AlertRule("high_error_rate", "error_rate", ">", 0.05, "1m", severity="critical")


def access_lines(count: int, status: int) -> list[bytes]:
    return [json.dumps({
        "level": "ERROR" if status >= 500 else "INFO", "message": "Request completed",
        "request": {"method": "GET", "url": "/api/posts"},
        "response": {"statusCode": status, "responseTime": 12.0},
    }).encode() for _ in range(count)]


def alert_row(app: ObsviewApp) -> list[str]:
    feed = app.dashboard.query_one(AlertFeed)  # type: ignore[attr-defined]
    if not feed.row_count:
        return []
    keys = [str(column.key.value) for column in feed.columns.values()]
    return [f"{key}={cell.plain}" for key, cell in zip(keys, feed.get_row_at(0))]


async def test_a_firing_alert_shows_the_value_now_and_its_peak(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[RULE],
                         metrics_interval_s=0.05)
    async with Agent(config) as agent:
        await agent.ingest(agent.normalizer.normalize_lines(
            access_lines(9, 200) + access_lines(1, 500), "test"))
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(200, 50)) as pilot:
            await wait_until(pilot, lambda: "value=10.0 % > 5.0 %" in alert_row(app))
            assert "state=firing 0s" in alert_row(app)
            await agent.ingest(agent.normalizer.normalize_lines(access_lines(20, 500), "test"))
            # 21 failed of 30: the row follows, and its peak with it.
            await wait_until(pilot, lambda: "value=70.0 % > 5.0 %" in alert_row(app))
            assert "peak=70.0 %" in alert_row(app)
            assert "70.0 % > 5.0 %" in screen_text(app)
            await agent.ingest(agent.normalizer.normalize_lines(access_lines(70, 200), "test"))
            # 21 of 100: lower now, the peak stays.
            await wait_until(pilot, lambda: "value=21.0 % > 5.0 %" in alert_row(app))
            assert "peak=70.0 %" in alert_row(app)
            base = agent.url.replace("ws://", "http://")
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                (alert,) = (await http.get("/api/alerts")).json()["alerts"]
    assert (alert["value"], alert["peak"], alert["fired_value"]) == (0.21, 0.7, 0.1)
