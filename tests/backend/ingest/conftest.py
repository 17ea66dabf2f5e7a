"""Fixtures for source tests: an emit that collects, and polling with a deadline.

(Fixtures, not imports: pytest runs with --import-mode=importlib.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from obsview.backend.protocol import LogEvent


class Collector:
    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self.batches = 0

    async def __call__(self, events: list[LogEvent]) -> None:
        self.batches += 1
        self.events.extend(events)

    def numbers(self) -> list[int]:
        return [int(e.extra["n"]) for e in self.events]


async def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """``await wait_until(condition, timeout=10.0)``: poll every 10 ms, fail at the deadline."""
    return _wait_until
