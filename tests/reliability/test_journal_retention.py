"""Retention through the real agent tailing a real file: by age (a run two days ago) and by
size (a small ``history_max_mb``). The oldest events go first, the count is kept, and a
console is told: the history screen says how many older events retention dropped."""

from __future__ import annotations

import random
import string
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from app_test_support import screen_text
from proof_kit import agent_config, running_agent, seed_line, wait_until
from websockets.asyncio.client import connect

from obsview.backend.agent import JOURNAL_FILE, Agent
from obsview.common.protocol import Query, QueryPage, decode, encode
from obsview.tui.app import ObsviewApp
from obsview.tui.screens.history import HistoryScreen

DAY = 86400.0


def append(log_file: Path, lines: list[bytes]) -> None:
    with open(log_file, "ab") as file:
        file.write(b"".join(lines))


def written(agent: Agent) -> int:
    return agent.counters()["journal_written"]


@pytest.mark.timeout(40)
async def test_retention_by_age_drops_the_oldest_counts_them_and_the_console_says_so(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    append(log_file, [seed_line(n) for n in range(300)])
    config = agent_config(tmp_path, tail=[str(log_file)], from_start=True, metrics_interval_s=0.1,
                          history_days=1.0)
    async with running_agent(config, clock=lambda: time.time() - 2 * DAY) as agent:  # two days ago
        await wait_until(lambda: written(agent) == 300, what="the first run's lines journaled")

    async with running_agent(replace(config, from_start=False)) as agent:
        append(log_file, [seed_line(n) for n in range(300, 600)])
        await wait_until(lambda: written(agent) == 300, what="today's lines journaled")
        await wait_until(lambda: agent.counters()["journal_retention_dropped"] == 300,
                         what="the two-day-old events dropped")
        journal = agent.history.journal
        assert journal is not None and journal.first_seq == 301, "the oldest went, today's stayed"
        async with httpx.AsyncClient() as http:
            exposed = (await http.get(agent.url.replace("ws://", "http://") + "/metrics", timeout=5)).text
        assert "obsview_agent_journal_retention_dropped_total 300.0" in exposed

        app = ObsviewApp(url=agent.url)
        async with app.run_test(size=(140, 30)) as pilot:
            await wait_until(lambda: app.dashboard.buffer.total == 300, what="the console to hold today's")
            await pilot.press("H")
            await wait_until(lambda: isinstance(app.screen, HistoryScreen) and not app.screen.waiting
                             and app.screen.matched == 300, what="all history searched")
            await pilot.pause()
            assert "the start of the agent's history (300 older events dropped by retention)" in screen_text(app)


def noise_line(n: int, rng: random.Random) -> bytes:
    """A seed line with a message that does not compress (random letters: no secret shape)."""
    words = " ".join("".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(30))
    return seed_line(n, message=words)


@pytest.mark.timeout(60)
async def test_retention_by_size_keeps_the_journal_under_its_cap_dropping_the_oldest(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.touch()
    later = [0.0]  # the agent's clock runs 11 s ahead per round: retention runs every 10 s
    config = agent_config(tmp_path, tail=[str(log_file)], metrics_interval_s=0.1, history_max_mb=1,
                          store_capacity=100)  # RAM holds the newest: the rest is the journal's
    rng = random.Random(16)
    rounds, per_round = 20, 150  # ~0.08 MB of raw lines a round, ~0.1 MB journaled (data + text)
    async with running_agent(config, clock=lambda: time.time() + later[0]) as agent:
        for round_number in range(rounds):
            start = round_number * per_round
            append(log_file, [noise_line(n, rng) for n in range(start, start + per_round)])
            await wait_until(lambda end=start + per_round: written(agent) == end, timeout=10,
                             what=f"round {round_number} journaled")
            later[0] += 11.0
        # The last round's block was written after its clock step: retention ran on it.
        journal = agent.history.journal
        assert journal is not None
        # The counter and the journal's first number are read apart: a retention pass that
        # ends between the two readings made them disagree under load. Read them once agreed.
        await wait_until(
            lambda: 0 < agent.counters()["journal_retention_dropped"] == journal.first_seq - 1,
            timeout=10, what="the oldest events went first",
        )
        dropped = agent.counters()["journal_retention_dropped"]
        assert journal.last_seq == rounds * per_round, "the newest are kept"
        assert journal.used_bytes() <= 1 << 20
        async with connect(agent.url) as ws:
            await ws.send(encode(Query(1, "", limit=10_000, history=True)))
            pages: list[QueryPage] = []
            while not pages or not pages[-1].done:
                message = decode(await ws.recv())
                if isinstance(message, QueryPage):
                    pages.append(message)
        kept = [int(event.extra["n"]) for page in pages for event in page.events]
        # Retention may run once more after the counter's reading (the last clock step made
        # it due), even between two pages: every event it had not dropped by the last page is
        # there, once, and none it had dropped before the counter was read.
        last = pages[-1]
        assert last.retention_dropped >= dropped and last.oldest_seq == last.retention_dropped + 1
        assert len(kept) == len(set(kept))
        assert set(range(last.retention_dropped, rounds * per_round)) <= set(kept), \
            "every event not dropped is there"
        assert min(kept) >= dropped
    assert (tmp_path / "state" / JOURNAL_FILE).stat().st_size <= 1.5 * (1 << 20), "space given back"
