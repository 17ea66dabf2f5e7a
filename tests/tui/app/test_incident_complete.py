"""``w`` writes a file that holds what the view shows, or says exactly what it lacks.

Pressed while a real agent still replays what it held when the console connected, ``w``
wrote the part that had arrived and said nothing ("Wrote 96,000 events", the newest 4,000
missing). The agent's replay is held back after its first pages here (the agent's history
answers late), so that ``w`` lands in the middle of it every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from app_test_support import screen_text, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import Dropped, Events, LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.incident import Incident, read_incident
from obsview.tui.model import MARKER_SOURCE

HELD = 5000
"""Events the agent holds when the console connects."""
ARRIVED = 2000
"""Events the agent replays (two pages) before its history is held back."""
PATTERN = "obsview-incident-*.jsonl.gz"


def notices(app: ObsviewApp) -> list[str]:
    return [str(note.message) for note in app._notifications]


def written(folder: Path) -> Incident:
    (path,) = folder.glob(PATTERN)
    return read_incident(path)


def file_events(incident: Incident) -> list[LogEvent]:
    return [event for _t, message in incident.frames if isinstance(message, Events)
            for event in message.events]


@pytest.fixture
async def held_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Agent, asyncio.Event]]:
    """A real agent on a loopback port holding HELD events, whose replay to a console stops
    after ARRIVED of them until the event is set."""
    monkeypatch.chdir(tmp_path)
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[])
    async with Agent(config) as agent:
        await agent.ingest([LogEvent(ts=1_796_300_000.0 + n, level="ERROR" if n % 2 else "INFO",
                                     message=f"line {n}") for n in range(HELD)])
        release = asyncio.Event()
        since = agent.history.since

        async def late(seq: int, limit: int) -> tuple[list[LogEvent], int]:
            if seq >= ARRIVED:
                await release.wait()
            return await since(seq, limit)

        monkeypatch.setattr(agent.history, "since", late)
        yield agent, release


async def test_w_while_the_agents_buffer_arrives_waits_for_it_then_writes_it_whole(
        tmp_path: Path, held_back: tuple[Agent, asyncio.Event]) -> None:
    agent, release = held_back
    app = ObsviewApp(url=agent.url)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.dashboard.buffer.last_seq == ARRIVED)
        await pilot.press("w")
        await pilot.pause(0.5)
        assert not list(tmp_path.glob(PATTERN)), "written before the agent's buffer was in"
        assert "receiving the agent's buffer: 3,000 events to come" in screen_text(app)
        assert any(note.startswith("Waiting for the agent's buffer (3,000 events to come)")
                   for note in notices(app))
        assert "w writes once it is in" in screen_text(app)

        release.set()
        await wait_until(pilot, lambda: any(note.startswith("Wrote") for note in notices(app)))
        assert "receiving the agent's buffer" not in screen_text(app)
        assert any(note.startswith("Writing 5,000 events to ") for note in notices(app))
    incident = written(tmp_path)
    assert [event.seq for event in file_events(incident)] == list(range(1, HELD + 1))
    assert incident.header.missing == ""
    assert [note for note in notices(app) if note.startswith("Wrote")] == [
        f"Wrote 5,000 events to {next(tmp_path.glob(PATTERN))}"]


async def test_w_pressed_again_writes_what_is_here_and_says_what_is_not(
        tmp_path: Path, held_back: tuple[Agent, asyncio.Event]) -> None:
    agent, _release = held_back
    app = ObsviewApp(url=agent.url)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.dashboard.buffer.last_seq == ARRIVED)
        await pilot.press("slash", *"level:error", "enter")
        await pilot.press("w", "w")
        await wait_until(pilot, lambda: any(note.startswith("Wrote") for note in notices(app)))
    incident = written(tmp_path)
    assert [event.seq for event in file_events(incident)] == list(range(2, ARRIVED + 1, 2))
    missing = "3,000 events (before the filter) the agent was still sending"
    assert incident.header.missing == missing
    (note,) = (note for note in notices(app) if note.startswith("Wrote"))
    assert note.startswith("Wrote 1,000 events to ") and note.endswith(f"; not in it: {missing}")


async def test_a_filtered_file_keeps_the_marks_where_a_slow_link_lost_events(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The marker lines are WARN: a level:error view hid them, and its file said nothing."""
    monkeypatch.chdir(tmp_path)
    before = tuple(LogEvent(ts=100.0 + n, level="ERROR", message=f"before {n}", seq=n + 1) for n in range(3))
    after = tuple(LogEvent(ts=200.0 + n, level="ERROR", message=f"after {n}", seq=n + 1004) for n in range(3))
    app = ObsviewApp(messages=[Events(before)], clock=lambda: 300.0)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: app.dashboard.buffer.total == 3)
        for message in (Dropped(count=1000, total=1000), Events(after)):  # one flush each, in order
            app.dashboard.enqueue(message)
            app.dashboard.flush()
        await pilot.press("slash", *"level:error", "enter", "w")
        await wait_until(pilot, lambda: any(note.startswith("Wrote") for note in notices(app)))
    incident = written(tmp_path)
    events = file_events(incident)
    assert [event.source == MARKER_SOURCE for event in events] == [False] * 3 + [True] + [False] * 3
    assert incident.header.missing == "1,000 events lost on the way (marked where)"
    (note,) = (note for note in notices(app) if note.startswith("Wrote"))
    assert note.startswith("Wrote 6 events to ")
