"""The issue's "done when": error rate 2 % → 20 % → 2 % makes exactly one alert go pending →
firing → resolved, and a real webhook receiver gets exactly one firing and one resolved."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from obsview.backend.delivery.channels import WebhookChannel
from obsview.backend.delivery.notify import Notifier
from obsview.backend.signals.alerts import DEFAULT_RULES, AlertEngine
from obsview.common.protocol import LogEvent

PER_SECOND = 50


def traffic(failing: int) -> list[LogEvent]:
    """One second of requests, ``failing`` of them answered 500."""
    return [
        LogEvent(ts=0.0, level="ERROR" if i < failing else "INFO", message="Request completed", method="GET",
                 path=f"/api/posts/{i}", status=500 if i < failing else 200, duration_ms=20.0 + i)
        for i in range(PER_SECOND)
    ]


@pytest.mark.parametrize("receiver_down_at_first", [False, True])
async def test_error_rate_spike_fires_and_resolves_once(
    clock: Any, make_metrics: Any, receiver: Any, receiver_down_at_first: bool
) -> None:
    metrics = make_metrics()
    engine = AlertEngine(DEFAULT_RULES, clock=clock)
    notifier = Notifier([WebhookChannel("ops", receiver.url)], clock=clock, current_alerts=engine.alerts,
                        backoff_base_s=0.02, backoff_cap_s=0.1)
    if receiver_down_at_first:
        await receiver.stop()
    task = asyncio.create_task(notifier.run())
    moves = []
    try:
        for seconds, failing in ((120, 1), (180, 10), (300, 1)):  # 2 %, 20 %, 2 %
            for _ in range(seconds):
                metrics.observe(traffic(failing))
                clock.advance(1)
                metrics.tick()
                transitions = engine.evaluate(metrics.snapshot(), None)
                moves += [(t.alert.rule, t.previous, t.current) for t in transitions]
                notifier.submit(transitions)
        if receiver_down_at_first:
            async with asyncio.timeout(5):
                while notifier.counters["failed_attempts"] < 2:
                    await asyncio.sleep(0.01)
            await receiver.start()
        await receiver.wait_for(2)
        await asyncio.sleep(0.2)  # and nothing more arrives
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert moves == [
        ("high_error_rate", "inactive", "pending"),
        ("high_error_rate", "pending", "firing"),
        ("high_error_rate", "firing", "resolved"),
    ]
    assert [(b["status"], b["groupLabels"]["alertname"]) for b in receiver.bodies] == [
        ("firing", "high_error_rate"), ("resolved", "high_error_rate"),
    ]
    (alert,) = engine.alerts()
    # The value is live: at the resolve it is the value then; what fired is kept apart.
    assert alert.state == "resolved" and alert.value == alert.resolved_value == 0.02
    assert alert.fired_value is not None and alert.peak is not None
    assert alert.peak >= alert.fired_value > 0.05
    assert metrics.seed_json()["requests"]["total"] == 600 * PER_SECOND
