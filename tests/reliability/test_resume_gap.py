"""A console that was away while the agent's buffer wrapped is told exactly what it missed."""

from __future__ import annotations

from pathlib import Path

from proof_kit import agent_config, console, make_events, running_agent, wait_until

CAPACITY = 500


async def test_resume_after_eviction_reports_the_exact_gap(tmp_path: Path) -> None:
    async with running_agent(agent_config(tmp_path, store_capacity=CAPACITY)) as agent:
        async with console(agent.url) as (_ws, first):
            await agent.ingest(make_events(100))
            await wait_until(lambda: len(first.events) == 100, what="the first 100 events")
        last_seen = first.events[-1].seq
        # While the console is away, far more than the buffer holds is ingested.
        for start in range(100, 2100, 250):
            await agent.ingest(make_events(250, start))
        async with console(agent.url, since_seq=last_seen) as (_ws, resumed):
            await wait_until(lambda: len(resumed.events) == CAPACITY, what="the buffered events")
            (gap,) = resumed.gaps
            assert gap.from_seq == last_seen + 1
            assert gap.missed == 2000 - CAPACITY
            # What was missed plus what was replayed is everything, nothing twice.
            assert resumed.numbers() == list(range(2100 - CAPACITY, 2100))
            assert first.numbers() + list(range(100, 100 + gap.missed)) + resumed.numbers() == list(range(2100))
