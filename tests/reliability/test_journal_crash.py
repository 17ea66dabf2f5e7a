"""The journal through the real agent: killed with SIGKILL mid-write, restarted, read back;
and a console that connects after a restart and scrolls back into yesterday's events."""

from __future__ import annotations

import asyncio
import datetime
import signal
import time
from dataclasses import replace
from pathlib import Path

import pytest
from app_test_support import screen_text
from proof_kit import agent_config, console, running_agent, seed_line, wait_until
from test_agent_restart import agent_process, free_port

from obsview.backend.agent import JOURNAL_FILE
from obsview.backend.store import journal_query
from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_writer import BLOCK_EVENTS
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.history import HistoryScreen
from obsview.tui.widgets.log_view import LogView

RATE_PER_TICK = 200
"""Lines appended every 50 ms: 4,000 lines/s, under one block per second."""


async def write_steadily(log_file: Path, stop: asyncio.Event, start: int = 0) -> None:
    n = start
    while not stop.is_set():
        with open(log_file, "ab") as file:
            file.write(b"".join(seed_line(i) for i in range(n, n + RATE_PER_TICK)))
        n += RATE_PER_TICK
        await asyncio.sleep(0.05)


@pytest.mark.timeout(60)
async def test_sigkill_mid_write_loses_at_most_one_batch_and_numbers_never_repeat(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.touch()
    port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(
        f'listen = "127.0.0.1:{port}"\ntail = ["{log_file}"]\nstate_dir = "{tmp_path / "state"}"\n'
        "metrics_interval_s = 0.2\n",
        encoding="utf-8",
    )
    url = f"ws://127.0.0.1:{port}"
    stop = asyncio.Event()
    async with agent_process(config) as agent:
        async with console(url) as (_ws, live):
            writer = asyncio.create_task(write_steadily(log_file, stop))
            await wait_until(lambda: len(live.events) >= 6000, timeout=20, what="6,000 events live")
            agent.send_signal(signal.SIGKILL)  # mid-write: lines keep coming, batches pending
            await agent.wait()
            stop.set()
            await writer
    seen = {event.seq: event for event in live.events}
    newest_seen = max(seen)

    journal = Journal(tmp_path / "state" / JOURNAL_FILE)  # readable after the kill
    assert journal.unclean
    journaled, missed = journal_query.since(journal, 0, 1_000_000)
    assert missed == 0 and journaled, "the journal starts at the first event"
    assert [event.seq for event in journaled] == list(range(1, len(journaled) + 1))
    assert newest_seen - journaled[-1].seq <= BLOCK_EVENTS, "at most one batch lost"
    # What was journaled is exactly what consoles were sent.
    assert all(seen[event.seq] == event for event in journaled if event.seq in seen)
    journal.close()

    async with agent_process(config), console(url, since_seq=0) as (_ws, after):
        with open(log_file, "ab") as file:
            file.write(seed_line(10**6))
        await wait_until(lambda: 10**6 in after.numbers(), what="a line after the restart")
    seqs = [event.seq for event in after.events]
    assert len(seqs) == len(set(seqs))
    fresh = [event for event in after.events if event.extra.get("n") == 10**6]
    assert fresh[0].seq > newest_seen, "no number handed out before the kill is used again"
    assert not after.gaps, "numbers skipped after the crash are not reported as lost events"


DAY = 86400.0


def stamped(n: int, ts: float) -> bytes:
    """A seed line written at ``ts`` (its ISO timestamp, as the service's logger writes it)."""
    iso = datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return seed_line(n).replace(b"2026-11-25T10:00:00.000Z", iso.encode())


@pytest.mark.timeout(40)
async def test_a_console_after_a_restart_sees_yesterday_and_scrolls_back_into_it(tmp_path: Path) -> None:
    """A restart empties RAM: a fresh console still gets the newest ``store_capacity`` events,
    from the journal (before: "Waiting for log events…" over 300 journaled ones, and no
    oldest event to scroll up from), and scrolls back from them into the rest."""
    yesterday = time.time() - DAY
    log_file = tmp_path / "app.log"
    log_file.write_bytes(b"".join(stamped(n, yesterday + n) for n in range(300)))
    config = agent_config(tmp_path, tail=[str(log_file)], from_start=True, store_capacity=100)
    async with running_agent(config) as agent:
        await wait_until(lambda: agent.store.last_seq >= 300, what="yesterday's lines")
    async with running_agent(replace(config, from_start=False)) as agent:
        assert agent.store.last_seq == 300 and len(agent.store) == 0, "RAM starts empty"
        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(lambda: app.dashboard.buffer.total == 100, what="yesterday's newest 100")
            assert [app.dashboard.buffer[i].seq for i in (0, 99)] == [201, 300], "the newest, in order"
            with open(log_file, "ab") as file:
                file.write(stamped(300, time.time()))
            await wait_until(lambda: app.dashboard.buffer.total == 101, what="today's line")
            app.dashboard.query_one(LogView).focus()
            await pilot.press("g", "up")  # past the oldest event the console holds: the journal
            await wait_until(lambda: isinstance(app.screen, HistoryScreen) and not app.screen.waiting
                             and app.screen.matched == 200, what="yesterday's older events")
            await pilot.pause()
            shown = screen_text(app)
            history = app.screen
    day = datetime.date.fromtimestamp(yesterday + 199).isoformat()
    assert f"{day} " in shown and "Request completed 199" in shown, "yesterday's events, dated"
    assert "the start of the agent's history" in shown
    assert isinstance(history, HistoryScreen)
    held = [history.buffer[i] for i in range(len(history.buffer))]
    assert [event.seq for event in held] == list(range(1, 201)), "numbered on from yesterday's run"
    assert all(yesterday - 1 <= event.ts <= yesterday + 300 for event in held), "a day old"
