"""What the agent records besides events: minutes kept across a restart, and the messages it
sent, with the alert list in force at the start of any span."""

from __future__ import annotations

import asyncio
from pathlib import Path

from websockets.asyncio.client import connect

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import Alerts, LogEvent, Metrics, decode

MINUTE = 1_796_300_040.0  # a multiple of 60


def requests(count: int, status: int = 200) -> list[LogEvent]:
    return [LogEvent(ts=MINUTE, level="INFO", message="Request completed", method="GET", path="/api/posts",
                     status=status, duration_ms=15.0) for _ in range(count)]


async def test_minutes_and_sent_messages_are_kept_across_a_restart(tmp_path: Path) -> None:
    now = [MINUTE + 10]
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path, metrics_interval_s=3600.0,
                         rules=[AlertRule("busy", "request_rate", ">", 0.0)])
    async with Agent(config, clock=lambda: now[0]) as agent:
        agent.tick()  # the baseline minute
        await agent.ingest(requests(30) + requests(6, status=503))
        now[0] += 5
        agent.tick()  # the alert fires: shown (and recorded) once its state is on disk
        while not any(alert.state == "firing" for alert in agent.alerts_shown.alerts):
            await asyncio.sleep(0.01)
        now[0] += 60
        agent.tick()  # the minute closes
        (closed,) = agent.recent_minutes()
        assert (closed.ts, closed.requests, closed.errors) == (MINUTE, 36, 6)
    async with Agent(config, clock=lambda: now[0]) as again:
        assert again.recent_minutes() == (closed,)
        async with connect(again.url) as ws:  # a console gets the day's minutes on connect
            while not isinstance(message := decode(await asyncio.wait_for(ws.recv(), 5)), Metrics):
                pass
        assert message.minutes == (closed,)
        span = await again.states(MINUTE + 30, now[0])
    assert span.minutes == [closed] and span.history == []
    frames = span.frames
    kinds = [type(decode(frame.frame)).__name__ for frame in frames]
    # In force at the span's start though sent before it: the alert list and health report.
    assert kinds[:2] == ["Alerts", "Health"] and frames[0].ts == MINUTE + 30
    in_force = decode(frames[0].frame)
    assert isinstance(in_force, Alerts) and [a.state for a in in_force.alerts] == ["firing"]
    assert any(isinstance(decode(f.frame), Metrics) for f in frames)
