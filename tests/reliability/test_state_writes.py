"""The agent's state files are written off the event loop, and a burst of changes costs one
or two writes, not one each (issue 12.7). Through the real agent: real files, real fsync."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from proof_kit import agent_config, console, running_agent, seed_line, wait_until

from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import LogEvent

RULE = AlertRule("traffic_seen", "request_rate", ">", 0.0, keep_firing_for_s=3600.0)


class FsyncLog:
    """Every ``os.fsync`` (the real one runs): in which thread, and how many."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.on_loop_thread = 0
        self.elsewhere = 0
        self.recording = True
        real = os.fsync

        def fsync(fd: int) -> None:
            if self.recording:
                if threading.current_thread() is threading.main_thread():
                    self.on_loop_thread += 1
                else:
                    self.elsewhere += 1
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    @property
    def total(self) -> int:
        return self.on_loop_thread + self.elsewhere


def requests(count: int) -> list[LogEvent]:
    return [LogEvent(ts=1.0, level="INFO", message="GET / 200", method="GET", path="/",
                     status=200, duration_ms=1.0) for _ in range(count)]


async def test_state_files_are_written_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed on e629b84: every checkpoint and alert-state write ran its fsync on the event
    loop's thread (which the demo shares with the console's UI)."""
    log = tmp_path / "app.log"
    log.touch()
    fsyncs = FsyncLog(monkeypatch)
    config = agent_config(tmp_path, tail=[str(log)], rules=[RULE], metrics_interval_s=0.05)
    async with running_agent(config) as agent:
        async with console(agent.url) as (_ws, recorded):
            with log.open("ab") as file:
                file.write(b"".join(seed_line(n) for n in range(50)))
            await wait_until(lambda: len(recorded.numbers()) == 50, what="the lines")
            await agent.ingest(requests(20))
            await wait_until(lambda: bool(agent.alerts.alerts()) and
                             agent.alerts.alerts()[0].state == "firing", what="an alert")
            agent.alerts.ack(agent.alerts.alerts()[0].fingerprint, "ana")
            await wait_until(lambda: fsyncs.elsewhere >= 3, what="checkpoint and state writes")
            fsyncs.recording = False  # the last writes on stop are synchronous on purpose
    assert fsyncs.on_loop_thread == 0


async def test_a_burst_of_alert_changes_costs_one_or_two_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed on e629b84: 50 acks and unacks in a row made 50 fsync'd writes."""
    config = agent_config(tmp_path, rules=[RULE], metrics_interval_s=0.05)
    async with running_agent(config) as agent:
        await agent.ingest(requests(20))
        await wait_until(lambda: bool(agent.alerts.alerts()) and
                         agent.alerts.alerts()[0].state == "firing", what="an alert")
        await asyncio.sleep(0.2)  # its own writes are done
        fsyncs = FsyncLog(monkeypatch)
        fingerprint = agent.alerts.alerts()[0].fingerprint
        for n in range(25):  # as fast as consoles' commands can come in one loop iteration
            agent.alerts.ack(fingerprint, f"user{n}")
            agent.alerts.unack(fingerprint, f"user{n}")
        agent.alerts.ack(fingerprint, "last")
        await asyncio.sleep(0.3)
        writes = fsyncs.total
        state = (config.resolved_state_dir() / "alerts.json").read_text()
    assert 1 <= writes <= 2
    assert '"by":"last"' in state
