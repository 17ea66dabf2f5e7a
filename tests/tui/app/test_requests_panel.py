"""The Requests panel says what "error" means (issue 13.2): the seed's "failed ≥400" by name,
server errors (5xx) apart, and the window its figures cover — a real agent, a real console.
Failed on 0047b42 (one unlabelled "50.0 % err", no 5xx, a subtitle naming only the chart's
span)."""

from __future__ import annotations

import json
from pathlib import Path

from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.tui.app import ObsviewApp
from obsview.tui.widgets.rate_chart import RateChart


def access_lines(count: int, status: int) -> list[bytes]:
    return [json.dumps({
        "level": "INFO", "message": "Request completed",
        "request": {"method": "GET", "url": "/api/posts"},
        "response": {"statusCode": status, "responseTime": 12.0},
    }).encode() for _ in range(count)]


async def test_failed_and_server_errors_are_shown_apart_and_labelled(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         metrics_interval_s=0.05)
    async with Agent(config) as agent:
        # 10 requests: 5 fine, 3 refused (401, 404: the client's), 2 server errors.
        lines = access_lines(5, 200) + access_lines(2, 404) + access_lines(1, 401) + access_lines(2, 500)
        await agent.ingest(agent.normalizer.normalize_lines(lines, "test"))
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(120, 40)) as pilot:
            panel = app.dashboard.query_one(RateChart)  # type: ignore[attr-defined]
            await wait_until(pilot, lambda: "5xx" in screen_text(app))
            text = screen_text(app)
            assert "failed ≥400 50.0 %" in text
            assert "5xx 20.0 %" in text
            assert "err" not in text.split("╭─ Health")[0]  # no unlabelled "err" left
            assert panel.border_subtitle is not None and panel.border_subtitle.startswith("figures 1 min")
