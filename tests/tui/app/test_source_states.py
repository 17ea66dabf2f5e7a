"""The console's status bar says what each of the agent's log sources is doing (issue 13.16),
against a real agent tailing a path that does not exist yet. Failed on e629b84 (the agent
sent no source state and the status bar had no place for one)."""

from __future__ import annotations

from pathlib import Path

from app_test_support import wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.tui.app import ObsviewApp


def sources_line(app: ObsviewApp) -> str:
    return str(app.dashboard.query_one("#sb-sources").content)  # type: ignore[attr-defined]


async def test_the_status_bar_shows_a_source_waiting_for_its_file_then_reading(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", tail=[str(log)],
                         rules=[], metrics_interval_s=0.05)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: "waiting" in sources_line(app))
            assert sources_line(app) == f"file:{log} waiting"
            assert app.dashboard.query_one("#sb-sources").has_class("-warn")  # type: ignore[attr-defined]
            log.write_text("[INFO] here now\n")
            await wait_until(pilot, lambda: sources_line(app) == "1 source reading")
