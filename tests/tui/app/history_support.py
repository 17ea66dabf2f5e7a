"""A console whose agent holds more history than it sends: the way to the history screen,
shared by the history tests and the contrast walk."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from app_test_support import screen_text, wait_until
from textual.pilot import Pilot

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import LogEvent
from obsview.tui.app import ObsviewApp

YESTERDAY = 1_795_532_400.0  # 2026-11-24 10:00 UTC


def earlier(count: int, *, raw: str = "") -> list[LogEvent]:
    return [
        LogEvent(ts=YESTERDAY + n, level="ERROR" if n % 50 == 0 else "INFO", message=f"yesterday {n}", raw=raw)
        for n in range(count)
    ]


async def agent_after_a_restart(tmp_path: Path, *, raw: str = "") -> Agent:
    """An agent whose journal holds 1,200 events of a run before this one, and whose RAM (one
    event) is full with today's: a fresh console gets that one, the rest is history."""
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path, rules=[], store_capacity=1)
    async with Agent(config) as first:
        await first.ingest(earlier(1200, raw=raw))
    agent = Agent(config)
    await agent.start()
    await agent.ingest([LogEvent(ts=YESTERDAY + 86400, level="INFO", message="today 0")])
    return agent


@contextlib.asynccontextmanager
async def console_after_a_restart(tmp_path: Path, *, raw: str = "", theme: str | None = None
                                  ) -> AsyncIterator[tuple[ObsviewApp, Pilot[None]]]:
    """A console on :func:`agent_after_a_restart`, showing today's one event."""
    agent = await agent_after_a_restart(tmp_path, raw=raw)
    app = ObsviewApp(url=agent.url, theme=theme)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "today 0" in screen_text(app))
            yield app, pilot
    finally:
        await agent.stop()
