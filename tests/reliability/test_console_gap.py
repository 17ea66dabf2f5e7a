"""The whole console (headless ``ObsviewApp``) loses its agent, reconnects, and shows the gap.

While the console is cut off, the agent keeps ingesting — more than its buffer holds — then
comes back on the same port with the same store. The console resumes from the last event it
has, receives what is still buffered, and its status bar says how many events it missed.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from app_test_support import screen_text
from proof_kit import agent_config, make_events, wait_until

from obsview.backend.agent import Agent
from obsview.tui.app import ObsviewApp
from obsview.tui.model import MARKER_SOURCE

CAPACITY = 200
SIZE = (140, 40)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def held_numbers(app: ObsviewApp) -> list[int | str]:
    """The agent's events by number; the console's own marker lines (a gap) by their text."""
    buffer = app.dashboard.buffer
    return [buffer[i].message if buffer[i].source == MARKER_SOURCE else int(buffer[i].extra["n"])
            for i in range(len(buffer))]


@pytest.mark.timeout(30)
async def test_console_reconnects_and_shows_the_exact_gap(tmp_path: Path) -> None:
    agent = Agent(agent_config(tmp_path, listen=("127.0.0.1", free_port()), store_capacity=CAPACITY))
    await agent.start()
    try:
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(lambda: app.connection is not None and app.connection.status == "connected",
                             what="the console to connect")
            await agent.ingest(make_events(50))
            await wait_until(lambda: app.dashboard.buffer.total == 50, what="the first 50 events")

            await agent.stop()  # the agent's port goes away; its store stays
            await wait_until(lambda: app.connection is not None and app.connection.status == "reconnecting",
                             what="the console to notice")
            for start in range(50, 550, 100):
                await agent.ingest(make_events(100, start))  # 500 more: only the newest 200 stay
            await agent.start()

            await wait_until(lambda: 549 in held_numbers(app), timeout=10, what="the console to resume")
            await pilot.pause()
            gap = "gap: 300 events lost here (the agent no longer had them)"
            # Nothing twice, nothing invented, and the gap marked where it happened.
            assert held_numbers(app) == [*range(50), gap, *range(350, 550)]
            assert app.dashboard.state.gap_events == 300
            assert "gap of 300 events" in screen_text(app)
    finally:
        await agent.stop()
