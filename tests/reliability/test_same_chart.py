"""Two consoles on one agent draw the same chart for the same seconds: the series is the
agent's (one point per second it closed), not points each console made from the snapshots it
happened to receive after it connected."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import LogEvent, Message
from obsview.tui.client import AgentClient
from obsview.tui.screens.console_state import ConsoleState
from obsview.tui.widgets.chart_series import chart_series


class Console:
    """What a console keeps of the agent's messages (the dashboard's state), over a real
    websocket."""

    def __init__(self, url: str) -> None:
        self.state = ConsoleState()
        self.client = AgentClient(url, on_message=self.receive, on_state=lambda _: None,
                                  since_seq=lambda: None)
        self.task = asyncio.create_task(self.client.run())

    def receive(self, message: Message) -> None:
        self.state.apply([message])

    def by_second(self) -> dict[float, tuple[float, float]]:
        return {point.ts: (point.rate, point.error_rate) for point in self.state.history}

    async def close(self) -> None:
        await self.client.close()
        await self.task


def requests(count: int, failed: int) -> list[LogEvent]:
    now = time.time()
    return [LogEvent(ts=now, level="INFO", message="done", method="GET", route="/a", path="/a",
                     status=500 if n < failed else 200, duration_ms=5.0) for n in range(count)]


async def test_a_console_connected_later_draws_the_same_seconds_the_same(tmp_path: Path) -> None:
    config = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[])
    async with Agent(config) as agent:
        early = Console(agent.url)
        # Traffic that changes every second: 5, 40, 12, 30 requests, some failing.
        for count, failed in ((5, 0), (40, 10), (12, 1), (30, 3)):
            await agent.ingest(requests(count, failed))
            await asyncio.sleep(1.0)
        late = Console(agent.url)
        for count, failed in ((20, 0), (8, 4)):
            await agent.ingest(requests(count, failed))
            await asyncio.sleep(1.0)
        await asyncio.sleep(0.3)
        try:
            agents = {point.ts: (point.rate, point.error_rate) for point in agent.metrics.history()}
            first, second = early.by_second(), late.by_second()
            shared = sorted(set(first) & set(second))
            # The early console saw the first seconds live, the late one in the history it
            # was sent on connecting: the same seconds, the same numbers, the agent's own.
            assert len(shared) >= 5, (sorted(first), sorted(second))
            assert [first[ts] for ts in shared] == [second[ts] for ts in shared] == [agents[ts] for ts in shared]
            assert max(rate for rate, _ in (first[ts] for ts in shared)) >= 30  # per second, not smoothed
            rates = [first[ts][0] for ts in shared]
            assert chart_series(rates) == chart_series(second[ts][0] for ts in shared)
        finally:
            await early.close()
            await late.close()
