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
            assert "Health · no probes" in text and "no probes" in text and "not configured" in text
            assert [row.split() for row in health_rows(app)] == [["no", "probes", "not", "configured"]]
            assert "healthy" not in text


def health_rows(app: ObsviewApp) -> list[str]:
    table = app.dashboard.query_one(HealthTable)  # type: ignore[attr-defined]
    return [" ".join(str(cell) for cell in table.get_row_at(row)) for row in range(table.row_count)]


async def test_the_health_panel_shows_each_log_source_waiting_then_reading(tmp_path: Path) -> None:
    """Issue 13.16: ``--tail`` of a path that does not exist yet. The panel lists every log
    source with its state (not only a count while they read), and what a waiting one waits
    for; a second source that reads is listed too. Failed on 0047b42 (no source rows)."""
    missing = tmp_path / "app.log"
    present = tmp_path / "other.log"
    present.write_text("")
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         tail=[str(missing), str(present)], metrics_interval_s=0.05)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: any("waiting" in row for row in health_rows(app)))
            rows = health_rows(app)
            waiting = next(row for row in rows if row.startswith("file:app.log ▲ waiting  "))
            # What it waits for, over the panel's spare rows and cut there (the path is long).
            shown = "".join(waiting.split(" ago ", 1)[1].rstrip("…").split())
            assert shown.startswith("waitingfor/"), rows
            assert "".join(f"waiting for {missing}".split()).startswith(shown), rows
            assert any(row.startswith("file:other.log ● reading  ") for row in rows), rows
            assert "file:app.log" in screen_text(app)
            missing.write_text("[INFO] here now\n")
            await wait_until(pilot, lambda: any(row.startswith("file:app.log ● reading")
                                                for row in health_rows(app)))
