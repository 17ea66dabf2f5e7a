"""A big file read from its start is history, not a live stream: a console connected while
the agent reads it gets the agent's progress (bytes, lines/s, time left) and windows of the
newest events, is told exactly which events it was not sent (they stay at the agent, for
scrolling back), and never hears of events "dropped by a slow link"."""

from __future__ import annotations

import os
from pathlib import Path

from proof_kit import agent_config, console, running_agent, seed_line, wait_until

from obsview.backend.ingest.catch_up import END_BYTES, START_BYTES
from obsview.common.protocol import CatchUp, Skipped

LINES = 40_000
QUEUE = 2000


async def test_a_backlog_comes_as_progress_and_the_newest_events(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    config = agent_config(tmp_path, tail=[str(path)], client_queue_events=QUEUE)
    async with running_agent(config) as agent, console(agent.url) as (_ws, seen):
        # The whole file appears at once (a rename), after the console subscribed: the agent
        # reads it from its start, as it does a file given with --from-start.
        staged = tmp_path / "staged.log"
        staged.write_bytes(b"".join(seed_line(n) for n in range(LINES)))
        size = staged.stat().st_size
        assert size > 2 * START_BYTES
        os.replace(staged, path)

        def progress() -> list[CatchUp]:
            return [m for m in seen.other if isinstance(m, CatchUp)]

        await wait_until(lambda: any(m.done for m in progress())
                         and bool(seen.events) and seen.events[-1].seq == LINES,
                         timeout=60, what="the catch-up to end with the newest event")

        first, *_, last = progress()
        assert not first.done and first.total_bytes == size and first.read_bytes < size
        # Done when what is left unread is as little as a live log writes: the rest is live.
        assert last.done and size - END_BYTES <= last.read_bytes <= last.total_bytes == size
        assert 0 < last.lines <= LINES and last.lines_per_s > 0
        assert all(not m.done for m in progress()[:-1])

        # What came: windows of the newest events, the last one whole; what did not come
        # was said, event for event. Nothing was dropped for a slow link.
        skipped = [m for m in seen.other if isinstance(m, Skipped)]
        seqs = [event.seq for event in seen.events]
        assert seqs == sorted(set(seqs)), "windows must not repeat or reorder events"
        assert len(seqs) + sum(m.count for m in skipped) == LINES
        assert seqs[-QUEUE:] == list(range(LINES - QUEUE + 1, LINES + 1))
        assert len(seqs) < LINES // 4, "the console was sent the backlog whole"
        assert seen.dropped == []
        counters = agent.counters()
        assert counters["dropped_to_clients"] == 0
        assert counters["skipped_to_clients"] == sum(m.count for m in skipped)

        # The agent holds what was skipped, and the live stream goes on after it.
        assert agent.store.last_seq == LINES
        with path.open("ab") as file:
            file.write(seed_line(LINES))
        await wait_until(lambda: seen.events[-1].seq == LINES + 1, what="the live line")
