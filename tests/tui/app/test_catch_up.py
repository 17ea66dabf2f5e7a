"""A console open while its agent reads a big file from the start: it shows the agent's
progress, then the newest events, never "dropped by a slow link"; the older ones are paged in
from the agent when the log is scrolled up past its top."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.ingest.catch_up import START_BYTES
from obsview.common.protocol import CatchUp
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.history import PAGE, HistoryScreen
from obsview.tui.widgets.log_view import LogView
from obsview.tui.widgets.status_bar import describe_catch_up

LINES = 30_000
WINDOW = 3000


def big_log(path: Path) -> None:
    padding = "x" * 200
    path.write_bytes(b"".join(
        orjson.dumps({"timestamp": "2026-12-03T10:00:00.000Z", "level": "info",
                      "message": f"line {n} {padding}"}) + b"\n"
        for n in range(LINES)
    ))
    assert path.stat().st_size > 2 * START_BYTES


async def test_a_backlog_shows_as_progress_then_the_newest_events_then_pages(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[],
                         tail=[str(log)], client_queue_events=WINDOW)
    async with Agent(config) as agent:
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(160, 40)) as pilot:
            dashboard = app.dashboard
            await wait_until(pilot, lambda: app.connection is not None
                             and app.connection.status == "connected")
            staged = tmp_path / "staged.log"
            big_log(staged)
            os.replace(staged, log)  # the whole file at once: read from its start

            await wait_until(pilot, lambda: dashboard.buffer.last_seq == LINES, timeout=60)
            buffer = dashboard.buffer
            assert buffer.total <= WINDOW + 1000, "the console was sent the backlog whole"
            assert buffer[0].seq > 1 and buffer.evicted == 0 and dashboard.state.catch_up is None
            older = buffer[0].seq - 1
            text = screen_text(app)
            assert f"{dashboard.state.skipped_events:,} older events at the agent" in text
            assert "dropped" not in text

            dashboard.query_one(LogView).focus()
            await pilot.press("home", "up")
            await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
            history = app.screen
            assert isinstance(history, HistoryScreen)
            # A page of these events (~1 kB each) comes in two frames, the older first.
            await wait_until(pilot, lambda: history.matched == PAGE and not history.waiting)
            assert f"line {older - 1} " in screen_text(app), "the log goes on below the window"


def test_the_progress_reads_as_bytes_rate_and_time_left() -> None:
    progress = CatchUp(read_bytes=169_000_000, total_bytes=338_000_000, lines=500_000,
                       lines_per_s=180_512.4, eta_s=4.2)
    assert describe_catch_up(progress) == (
        "agent catching up: 50 % of 338.0 MB · 180,512 lines/s · 4s left")


async def test_while_the_agent_catches_up_the_count_gives_way_to_the_progress() -> None:
    """The console's window of newest events is replaced as the agent reads on: the count
    flickered "1,000 of 1,000", "0 of 0 events", "250 of 250"."""
    from obsview.common.protocol import Skipped
    from obsview.tui.screenshots import sample_app

    app = sample_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        progress = CatchUp(read_bytes=45_000_000, total_bytes=100_000_000, lines=90_000, lines_per_s=150_000.0)
        dashboard.enqueue(progress)
        dashboard.enqueue(Skipped(count=5000, from_seq=186, to_seq=5185))  # the held window goes
        dashboard.flush()
        await pilot.pause()
        assert dashboard.buffer.total == 0
        line = screen_text(app).splitlines()[-2]
        assert "0 of 0" not in line and "0/0" not in line, line
        assert "catching up 45 %" in line or "agent catching up: 45 %" in line, line
        dashboard.enqueue(CatchUp(read_bytes=100_000_000, total_bytes=100_000_000, lines=200_000,
                                  lines_per_s=150_000.0, done=True))
        dashboard.flush()
        await pilot.pause()
        assert "0 of 0 events" in screen_text(app).splitlines()[-2]  # done: the count is back
