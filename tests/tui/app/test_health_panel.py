"""The Health panel says what the agent knows (issue 13.4): with no probe configured it says
"no probes", not "healthy" — against a real agent. Failed on 0047b42 (the title read
"Health · ● healthy" over an empty table)."""

from __future__ import annotations

from pathlib import Path

from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.tui.app import ObsviewApp
from obsview.tui.widgets.health_table import HealthTable


async def test_an_agent_with_no_probes_shows_no_probes_not_healthy(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         metrics_interval_s=0.05)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(120, 40)) as pilot:
            table = app.dashboard.query_one(HealthTable)  # type: ignore[attr-defined]
            await wait_until(pilot, lambda: table.report is not None)
            await pilot.pause()
            assert table.border_title == "Health · no probes"
            text = screen_text(app)
            assert "Health · no probes" in text and "│ none   not configured " in text
            assert "healthy" not in text
