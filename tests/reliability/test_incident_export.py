"""An incident exported from a real agent's journal replays the same alerts at the same
offsets, with no agent running."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from proof_kit import agent_config, console, running_agent, wait_until

from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import Ack, Alerts, Events, LogEvent, encode
from obsview.tui.export import export
from obsview.tui.incident import read_incident
from obsview.tui.replay import Replayer

Summary = tuple[tuple[str, str, bool], ...]


def summary(message: Alerts) -> Summary:
    return tuple((alert.rule, alert.state, alert.ack is not None) for alert in message.alerts)


def requests(count: int) -> list[LogEvent]:
    now = time.time()
    return [LogEvent(ts=now, level="INFO", message="Request completed", method="GET", route="/api/posts",
                     path="/api/posts", status=200, duration_ms=12.0, request_id=f"r{n}") for n in range(count)]


@pytest.mark.timeout(40)
async def test_an_exported_incident_replays_the_same_alerts_at_the_same_offsets(tmp_path: Path) -> None:
    config = agent_config(tmp_path, metrics_interval_s=0.1,
                          rules=[AlertRule("busy", "request_rate", ">", 0.0, summary="traffic")])
    live: list[Summary] = []
    async with running_agent(config) as agent, console(agent.url) as (ws, recorded):
        started = time.time() - 0.5
        await agent.ingest(requests(50))
        await wait_until(lambda: any(isinstance(m, Alerts) and m.alerts for m in recorded.other),
                         what="the alert to fire")
        await asyncio.sleep(0.6)
        fingerprint = next(m for m in recorded.other if isinstance(m, Alerts) and m.alerts).alerts[0].fingerprint
        await ws.send(encode(Ack(fingerprint, by="alice", note="looking")).decode())
        await wait_until(lambda: any(isinstance(m, Alerts) and m.alerts and m.alerts[0].ack for m in recorded.other),
                         what="the ack")
        await asyncio.sleep(0.5)  # the urgent alert frames reach the journal's writer
        ended = time.time()
        path = tmp_path / "incident.jsonl.gz"
        line = await export(agent.url, token=None, since=started, until=ended, expression="", path=path)
        assert "50 events" in line
        for message in recorded.other:
            if isinstance(message, Alerts) and (not live or live[-1] != summary(message)):
                live.append(summary(message))

    incident = read_incident(path)
    clock = [0.0]
    replayer = Replayer(incident, clock=lambda: clock[0])
    replayed: list[tuple[float, Summary]] = []
    events = 0
    while clock[0] <= replayer.length + 0.05:
        for message in replayer.due():
            if isinstance(message, Alerts) and (not replayed or replayed[-1][1] != summary(message)):
                replayed.append((incident.start + replayer.offset, summary(message)))
            elif isinstance(message, Events):
                events += len(message.events)
        clock[0] += 0.02
    assert events == 50
    states = [state for _t, state in replayed]
    assert states == live == [(), (("busy", "firing", False),), (("busy", "firing", True),)]
    fired_live = next(m.alerts[0].fired_at for m in recorded.other if isinstance(m, Alerts) and m.alerts)
    fired_replayed = next(t for t, state in replayed if state == (("busy", "firing", False),))
    assert fired_live is not None and abs(fired_replayed - fired_live) < 0.15, "the same offset"
    acked_live = next(m.alerts[0].ack.at for m in recorded.other
                      if isinstance(m, Alerts) and m.alerts and m.alerts[0].ack)
    acked_replayed = next(t for t, state in replayed if state == (("busy", "firing", True),))
    assert abs(acked_replayed - acked_live) < 0.15
