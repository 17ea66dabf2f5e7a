from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from obsview.backend.signals.hostinfo import HostSample


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def fixed_host() -> HostSample:
    return HostSample(cpu_percent=12.0, memory_percent=40.0, disk_percent=50.0, load_1m=0.5,
                      process_rss=50_000_000, process_vms=400_000_000)


@pytest.fixture
def make_metrics(clock: FakeClock):  # type: ignore[no-untyped-def]
    """RequestMetrics on the fake clock with fixed host gauges (pytest cannot import conftest)."""
    from obsview.backend.signals.metrics import RequestMetrics

    def make(**kwargs: object) -> RequestMetrics:
        return RequestMetrics(clock=clock, host_sampler=fixed_host, **kwargs)  # type: ignore[arg-type]

    return make


class Receiver:
    """A real HTTP server on loopback that records the JSON bodies POSTed to it.

    ``failures`` first requests are answered ``failure_status`` (500); ``stop()``/``start()`` keep the port, so a
    receiver can go down (connection refused) and come back.
    """

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.bodies: list[Any] = []
        self.paths: list[str] = []
        self.failures = 0
        self.failure_status = b"500 Internal Server Error"
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/s3cr3t-token-path"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            self.requests += 1
            if self.failures > 0:
                self.failures -= 1
                status = self.failure_status
            else:
                status = b"200 OK"
                self.paths.append(head.split(b" ")[1].decode())
                self.bodies.append(orjson.loads(body))
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.bodies) < count:
                await asyncio.sleep(0.01)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    if receiver.server is not None and receiver.server.is_serving():
        await receiver.stop()
