"""History read from a backlog is kept by its own minutes in the journal: a restarted agent
shows it again (the panels said "0.0 req/s", "p50 —" after a restart: only live minutes were
journaled), a minute that gets more requests later adds them up, and the live minutes after
a restart do not count the history restored."""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import msgspec
from proof_kit import agent_config, console, running_agent, seed_line, wait_until

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import BacklogStats, Metrics

MINUTES = 30
PER_MINUTE = 20


def stamp(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def backlog_lines(start: float, minutes: int, per_minute: int, *, first_n: int = 0) -> bytes:
    """Seed request records, ``per_minute`` a minute from ``start``; every tenth a 500, the
    latency climbing within each minute (so each minute has its own percentiles)."""
    lines = []
    for i in range(minutes * per_minute):
        minute, k = divmod(i, per_minute)
        ms = 10.0 + 5 * k + minute
        status = 500 if i % 10 == 0 else 200
        lines.append(seed_line(first_n + i, status=status, stamp=stamp(start + minute * 60 + k * 60 / per_minute),
                               extra={"response": {"statusCode": status, "responseTime": ms}, "duration": ms}))
    return b"".join(lines)


def without_routes(stats: BacklogStats | None) -> BacklogStats:
    """The figures a restart keeps (per-route figures are this run's)."""
    assert stats is not None
    return msgspec.structs.replace(stats, routes=())


async def backlog_read(agent: Agent, requests: int) -> BacklogStats:
    await wait_until(lambda: agent.metrics.backlog.requests == requests, timeout=20, what="the backlog read")
    return without_routes(agent.metrics.backlog.summary())


def journal_minutes(config: AgentConfig) -> int:
    assert config.state_dir is not None
    with closing(sqlite3.connect(config.state_dir / "journal.sqlite3")) as db:
        return int(db.execute("SELECT count(*) FROM history_minutes").fetchone()[0])


async def test_history_from_a_backlog_is_shown_again_after_a_restart(tmp_path: Path) -> None:
    start = (time.time() // 3600 - 20) * 3600  # yesterday, on the hour
    log = tmp_path / "app.log"
    log.write_bytes(backlog_lines(start, MINUTES, PER_MINUTE))
    config = agent_config(tmp_path, tail=[str(log)], from_start=True, metrics_interval_s=0.1)
    async with running_agent(config) as agent:
        before = await backlog_read(agent, MINUTES * PER_MINUTE)
    assert [(p.ts, p.requests, p.errors) for p in before.minutes] == [
        (start + 60 * m, PER_MINUTE, 2) for m in range(MINUTES)]

    now = [time.time()]
    async with running_agent(config, clock=lambda: now[0]) as again:
        # The same history, by the same minutes, with the same figures, before any line is read.
        assert without_routes(again.metrics.backlog.summary()) == before
        async with console(again.url) as (_ws, seen):
            await wait_until(lambda: any(isinstance(m, Metrics) for m in seen.other), what="metrics")
        (subscribed, *_) = [m for m in seen.other if isinstance(m, Metrics)]
        assert without_routes(subscribed.backlog) == before  # what the panels show as history
        # The live minutes count what this run served: none (not minus the history restored).
        again.tick()
        now[0] += 60
        again.tick()
        assert [(m.requests, m.errors) for m in again.recent_minutes()][-1] == (0, 0)
    assert journal_minutes(config) == MINUTES  # a row a minute of the history, not a row a write


async def test_a_history_minute_that_gets_more_requests_later_adds_them_up(tmp_path: Path) -> None:
    start = (time.time() // 3600 - 20) * 3600
    log = tmp_path / "app.log"
    log.write_bytes(backlog_lines(start, MINUTES, PER_MINUTE))
    config = agent_config(tmp_path, tail=[str(log)], from_start=True, metrics_interval_s=0.1)
    async with running_agent(config) as agent:
        await backlog_read(agent, MINUTES * PER_MINUTE)
    async with running_agent(config) as again:
        # Lines of the same minutes written while the agent was down (another replica's log
        # appended late): read once, after the restart.
        with log.open("ab") as file:
            file.write(backlog_lines(start, 5, 10, first_n=10_000))
        await backlog_read(again, MINUTES * PER_MINUTE + 50)
        await asyncio.sleep(0.3)  # a tick or two journals the minutes (a clean stop does too)
    async with running_agent(config) as third:
        restored = without_routes(third.metrics.backlog.summary())
    assert [p.requests for p in restored.minutes] == [PER_MINUTE + 10] * 5 + [PER_MINUTE] * (MINUTES - 5)
    assert restored.requests == MINUTES * PER_MINUTE + 50
    assert restored.errors == MINUTES * PER_MINUTE // 10 + 5
    assert journal_minutes(config) == MINUTES
