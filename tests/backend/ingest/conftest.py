"""Fixtures for source tests: an emit that collects, and polling with a deadline.

(Fixtures, not imports: pytest runs with --import-mode=importlib.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import polling
import pytest

from obsview.common.protocol import LogEvent


class Collector:
    def __init__(self) -> None:
        self.events: list[LogEvent] = []
        self.batches = 0

    async def __call__(self, events: list[LogEvent]) -> None:
        self.batches += 1
        self.events.extend(events)

    def numbers(self) -> list[int]:
        return [int(e.extra["n"]) for e in self.events]


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    """``await wait_until(condition, timeout=10.0)``: poll every 10 ms, fail at the deadline."""
    return polling.wait_until
