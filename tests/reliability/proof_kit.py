"""What the reliability and security suites share: a real agent on a loopback port, seed-shaped
log lines that carry a sequence number, a websocket console that records what it receives,
and polling with a deadline (never a blind sleep).

Imported by name: ``tests/reliability/conftest.py`` (and the security conftest) put this
folder on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import polling
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from obsview.backend.agent import Agent
from obsview.backend.config import AgentConfig
from obsview.common.protocol import (
    Dropped,
    Events,
    Gap,
    Hello,
    LogEvent,
    Ping,
    Pong,
    Subscribe,
    decode,
    encode,
)

DEADLINE_S = 5.0


def agent_config(tmp_path: Path, **overrides: Any) -> AgentConfig:
    """An agent on any free loopback port whose state lives in ``tmp_path``."""
    base = AgentConfig(listen=("127.0.0.1", 0), state_dir=tmp_path / "state", rules=[])
    return dataclasses.replace(base, **overrides)


@contextlib.asynccontextmanager
async def running_agent(config: AgentConfig, *, clock: Callable[[], float] = time.time
                        ) -> AsyncIterator[Agent]:
    agent = Agent(config, clock=clock)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


@contextlib.asynccontextmanager
async def agent_process(config: Path, *, start_timeout_s: float = 10.0
                        ) -> AsyncIterator[asyncio.subprocess.Process]:
    """A real agent process on ``config``, started and waited for ("listening on"); killed if
    the test leaves it running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "obsview.backend.cli", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), start_timeout_s)
        if b"listening on" not in line:
            assert process.stderr is not None
            problem = await asyncio.wait_for(process.stderr.read(), start_timeout_s)
            raise AssertionError(f"agent did not start: {line!r} {problem!r}")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), start_timeout_s)


def wait_until(
    condition: Callable[[], bool], *, timeout: float = DEADLINE_S, what: str = "condition"
) -> Awaitable[None]:
    """:func:`polling.wait_until` with this kit's shorter default deadline."""
    return polling.wait_until(condition, timeout=timeout, what=what)


def seed_line(n: int, *, level: str = "info", status: int = 200, message: str = "",
              url: str = "/api/posts/42", extra: dict[str, Any] | None = None,
              stamp: str = "2026-11-25T10:00:00.000Z") -> bytes:
    """One line shaped like the seed chapter's structured request log, numbered ``n``.

    Stamped on a fixed day by default: read now, such requests are history to the agent's
    metrics (counted by their own time, not in the live rates); ``stamp=now_stamp()`` makes
    live traffic (what a rule on the request rate sees)."""
    record: dict[str, Any] = {
        "timestamp": stamp,
        "level": level,
        "message": message or f"Request completed {n}",
        "n": n,
        "request": {
            "id": f"req-{n}", "method": "GET", "url": url, "ip": "127.0.0.1",
            "userAgent": "curl/8.5", "userId": "u1", "correlationId": f"trace-{n}",
        },
        "response": {"statusCode": status, "responseTime": 12.5},
        "duration": 12.5,
        **(extra or {}),
    }
    return orjson.dumps(record) + b"\n"


def now_stamp() -> str:
    """The current time as a log's ISO timestamp (UTC, milliseconds)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_events(count: int, start: int = 0) -> list[LogEvent]:
    """In-process events (what ``agent.ingest`` takes), numbered in ``extra["n"]``."""
    return [
        LogEvent(ts=1.0, level="INFO", message=f"event {start + i}", extra={"n": start + i})
        for i in range(count)
    ]


@dataclasses.dataclass(slots=True)
class Recorded:
    """Everything one console received, in order."""

    events: list[LogEvent] = dataclasses.field(default_factory=list)
    dropped: list[Dropped] = dataclasses.field(default_factory=list)
    gaps: list[Gap] = dataclasses.field(default_factory=list)
    hello: Hello | None = None
    other: list[object] = dataclasses.field(default_factory=list)
    closed: bool = False

    def numbers(self) -> list[int]:
        return [int(event.extra["n"]) for event in self.events if "n" in event.extra]


async def record_into(ws: ClientConnection, recorded: Recorded) -> None:
    """Decode every frame from ``ws`` into ``recorded`` until the connection closes."""
    try:
        async for frame in ws:
            message = decode(frame)
            if isinstance(message, Events):
                recorded.events.extend(message.events)
            elif isinstance(message, Dropped):
                recorded.dropped.append(message)
            elif isinstance(message, Gap):
                recorded.gaps.append(message)
            elif isinstance(message, Hello):
                recorded.hello = message
            else:
                recorded.other.append(message)
    except ConnectionClosed:
        pass
    finally:
        recorded.closed = True


@contextlib.asynccontextmanager
async def console(url: str, *, since_seq: int | None = None,
                  **connect_args: Any) -> AsyncIterator[tuple[ClientConnection, Recorded]]:
    """A subscribed websocket console recording in the background; closed on exit."""
    recorded = Recorded()
    async with connect(url, open_timeout=DEADLINE_S, close_timeout=1, **connect_args) as ws:
        await ws.send(encode(Subscribe(since_seq=since_seq)).decode())
        # The server handles a console's messages in order: the pong proves the subscribe
        # was applied, so every event ingested from now on reaches this console.
        await ws.send(encode(Ping(nonce=1)).decode())
        task = asyncio.create_task(record_into(ws, recorded))
        try:
            await wait_until(lambda: any(isinstance(m, Pong) for m in recorded.other), what="pong")
            yield ws, recorded
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# --------------------------------------------------------------------------- HTTP receiver


@dataclasses.dataclass(slots=True)
class Delivery:
    status: int
    """What the receiver answered."""
    body: Any
    """The request body, parsed as JSON (``None`` when it did not parse)."""
    raw: bytes


class Receiver:
    """A real HTTP server on 127.0.0.1 that notification channels post to.

    ``mode`` decides each answer: ``"ok"`` (200), ``"error"`` (500) or ``"hang"`` (never
    answers until the receiver stops). ``deliveries`` records every request it read.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.deliveries: list[Delivery] = []
        self._server: asyncio.Server | None = None
        self._stop = asyncio.Event()
        self._handlers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def accepted(self) -> list[Any]:
        """Bodies the receiver answered with success, in order."""
        return [d.body for d in self.deliveries if 200 <= d.status < 300]

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def go_down(self) -> None:
        """Stop listening (connections are refused) but keep the URL."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def come_back(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self._port)

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # idle keep-alive connections end their handler
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                raw = await reader.readexactly(length)
                mode = self.mode
                if mode == "hang":
                    self.deliveries.append(Delivery(0, _json_or_none(raw), raw))
                    await self._stop.wait()
                    return
                status = 200 if mode == "ok" else 500
                self.deliveries.append(Delivery(status, _json_or_none(raw), raw))
                body = b"ok" if status == 200 else b"boom"
                writer.write(
                    b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s"
                    % (status, len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()


def _json_or_none(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
