"""A notification receiver that is down, hangs, or answers 500.

Through the real agent: ingest and the console stream keep flowing while the receiver
misbehaves; once it recovers, it gets exactly one "firing" and later exactly one "resolved".
The agent's clock is injected so the alert can be resolved without waiting a real minute.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from proof_kit import Receiver, agent_config, console, make_events, running_agent, wait_until

from obsview.backend.delivery.notify import parse_notifiers
from obsview.backend.signals.alerts import AlertRule
from obsview.common.protocol import LogEvent

RULE = AlertRule("traffic_seen", "request_rate", ">", 0.0, summary="requests are flowing")


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def requests(count: int) -> list[LogEvent]:
    return [
        LogEvent(ts=1.0, level="INFO", message="GET /api/posts 200", method="GET", path="/api/posts",
                 status=200, duration_ms=12.0)
        for _ in range(count)
    ]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("failure", ["down", "hang", "error500"])
async def test_misbehaving_receiver_gets_exactly_one_firing_and_one_resolved(
    tmp_path: Path, failure: str
) -> None:
    clock = Clock()
    async with Receiver() as receiver:
        channels = parse_notifiers({"webhook": [{"url": receiver.url, "timeout": 0.5}]})
        config = agent_config(tmp_path, rules=[RULE], notifiers=channels, metrics_interval_s=0.05)
        if failure == "down":
            await receiver.go_down()
        else:
            receiver.mode = "hang" if failure == "hang" else "error"
        async with running_agent(config, clock=clock) as agent:
            async with console(agent.url) as (_ws, recorded):
                feeding = asyncio.Event()
                feeding.set()

                async def keep_ingesting() -> None:
                    n = 0
                    while True:
                        await feeding.wait()
                        await agent.ingest(make_events(50, n))
                        n += 50
                        await asyncio.sleep(0.01)

                feeder = asyncio.create_task(keep_ingesting())
                try:
                    await agent.ingest(requests(20))
                    await wait_until(lambda: agent.counters()["notify_failed_attempts"] >= 1
                                     or (failure == "hang" and len(receiver.deliveries) >= 1),
                                     what="a failed delivery")
                    # While the receiver fails (or holds the request open), ingest and the
                    # console stream go on.
                    seen = len(recorded.events)
                    await wait_until(lambda: len(recorded.events) >= seen + 500, what="events to keep flowing")
                    if failure == "hang":
                        assert receiver.accepted() == [], "the hanging request was still open"

                    if failure == "down":
                        await receiver.come_back()
                    receiver.mode = "ok"
                    await wait_until(lambda: len(receiver.accepted()) == 1, what="the firing notification")

                    # The traffic stops and a minute passes: the alert resolves.
                    feeding.clear()
                    clock.offset += 120
                    await wait_until(lambda: len(receiver.accepted()) == 2, what="the resolved notification")
                    await wait_until(lambda: agent.counters()["notify_sent"] == 2, what="sent counter")
                    statuses = [(body["status"], body["alerts"][0]["labels"]["alertname"]) for body in receiver.accepted()]
                    assert statuses == [("firing", "traffic_seen"), ("resolved", "traffic_seen")]
                    fingerprints = {body["alerts"][0]["fingerprint"] for body in receiver.accepted()}
                    assert len(fingerprints) == 1
                    assert agent.counters()["notify_gave_up"] == 0
                    assert agent.counters()["notify_dropped"] == 0
                finally:
                    feeder.cancel()
                    await asyncio.gather(feeder, return_exceptions=True)
