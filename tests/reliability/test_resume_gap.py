"""A console that was away while the agent's buffer wrapped is told exactly what it missed."""

from __future__ import annotations

from pathlib import Path

from proof_kit import agent_config, console, make_events, running_agent, wait_until

CAPACITY = 500


async def test_resume_after_eviction_reports_the_exact_gap(tmp_path: Path) -> None:
    # Without a journal: RAM is all there is (with one, the writer's flush decided the result).
    async with running_agent(agent_config(tmp_path, store_capacity=CAPACITY, history=False)) as agent:
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


async def test_resume_after_eviction_reads_the_journal_and_misses_nothing(tmp_path: Path) -> None:
    config = agent_config(tmp_path, store_capacity=CAPACITY, metrics_interval_s=0.1)
    async with running_agent(config) as agent:
        async with console(agent.url) as (_ws, first):
            await agent.ingest(make_events(100))
            await wait_until(lambda: len(first.events) == 100, what="the first 100 events")
        last_seen = first.events[-1].seq
        for start in range(100, 2100, 250):
            await agent.ingest(make_events(250, start))
        await wait_until(lambda: agent.counters()["journal_written"] == 2100, what="all journaled")
        async with console(agent.url, since_seq=last_seen) as (_ws, resumed):
            await wait_until(lambda: len(resumed.events) == 2000, what="everything missed, from the journal")
            assert not resumed.gaps
            assert first.numbers() + resumed.numbers() == list(range(2100)), "in order, nothing twice"
