"""ObsviewHandler shipping to a real TCP listener, and JsonFormatter's line shape."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from obsview.backend.instrument import _TRACE_ID, TRACE, JsonFormatter, ObsviewHandler


class LineServer:
    """A JSON-lines TCP listener on 127.0.0.1, like the agent's TCP source."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:  # Python 3.11 has no Server.close_clients()
            writer.close()
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while line := await reader.readline():
                self.lines.append(orjson.loads(line))
        finally:
            self.writers.discard(writer)
            writer.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def listener() -> AsyncIterator[LineServer]:
    server = LineServer()
    await server.start()
    yield server
    await server.stop()


def make_logger(handler: logging.Handler, name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(TRACE)
    return logger


async def test_ships_message_extra_exc_info_and_trace_id(listener: LineServer) -> None:
    handler = ObsviewHandler(port=listener.port, service="blog-api")
    logger = make_logger(handler, "tests.demo.ship")
    token = _TRACE_ID.set("trace-abc")
    try:
        logger.warning("User login failed", extra={"email": "a@example.com", "reason": "bad password", "ip": "10.0.0.1"})
        try:
            {}["missing"]
        except KeyError:
            logger.exception("Unhandled error occurred", extra={"errorId": "err-1"})
    finally:
        _TRACE_ID.reset(token)
    logger.log(TRACE, "entering %s", "handler")
    await until(lambda: len(listener.lines) == 3)
    handler.close()
    warn, error, trace = listener.lines
    assert warn["level"] == "WARN"
    assert warn["message"] == "User login failed"
    assert (warn["email"], warn["reason"], warn["ip"]) == ("a@example.com", "bad password", "10.0.0.1")
    assert warn["traceId"] == "trace-abc"
    assert warn["service"] == "blog-api"
    assert warn["logger"] == "tests.demo.ship"
    assert error["level"] == "ERROR"
    assert error["errorId"] == "err-1"
    assert error["error"]["type"] == "KeyError"
    assert "{}[\"missing\"]" in error["error"]["stack"]
    assert (trace["level"], trace["message"], trace["traceId"]) == ("TRACE", "entering handler", "")
    assert (handler.sent, handler.dropped) == (3, 0)


async def test_never_blocks_when_agent_is_gone_and_counts_every_drop() -> None:
    gone = LineServer()
    await gone.start()
    port = gone.port
    await gone.stop()  # nothing listens on this port now
    handler = ObsviewHandler(port=port, queue_size=10, flush_timeout=0.2, connect_timeout=0.2)
    logger = make_logger(handler, "tests.demo.gone")
    for i in range(200):
        logger.info("line %d", i)  # put_nowait: returns at once even though nothing is sent
    # The queue holds 10; the shipper holds at most a batch or two it failed to send.
    assert handler.dropped >= 150
    await asyncio.to_thread(handler.close)
    assert handler.sent == 0
    assert handler.dropped == 200  # after close every line is accounted for
    logger.info("after close")
    assert handler.dropped == 201


async def test_reconnects_when_the_agent_comes_back() -> None:
    server = LineServer()
    await server.start()
    port = server.port
    await server.stop()
    handler = ObsviewHandler(port=port, max_backoff=0.1, connect_timeout=0.5)
    logger = make_logger(handler, "tests.demo.back")
    logger.error("while down")
    await until(lambda: handler.errors > 0)  # it tried and failed at least once
    await server.start(port)
    try:
        await until(lambda: len(server.lines) == 1)
        logger.info("after reconnect")
        await until(lambda: len(server.lines) == 2)
    finally:
        handler.close()
        await server.stop()
    assert [line["message"] for line in server.lines] == ["while down", "after reconnect"]
    assert handler.dropped == 0


def test_json_formatter_writes_one_parseable_line_with_extras() -> None:
    formatter = JsonFormatter(service="svc")
    record = logging.LogRecord("app", logging.CRITICAL, __file__, 1, "Cache %s", ("miss",), None)
    record.cache = "miss"
    record.payload = {"when": object()}  # not JSON-serializable: still a line, as text
    line = formatter.format(record)
    assert "\n" not in line
    data = orjson.loads(line)
    assert (data["level"], data["message"], data["cache"], data["service"]) == ("ERROR", "Cache miss", "miss", "svc")
    assert data["payload"]["when"].startswith("<object object")
    assert data["timestamp"].endswith("Z")  # as every other time obsview writes (common/iso_time.py)


class SlowReader:
    """A TCP listener that lets each connection's bytes wait unread for a while, then reads
    them all: a busy agent. Keeps every connection's bytes apart."""

    def __init__(self, stall_s: float) -> None:
        self.stall_s = stall_s
        self.received: list[bytearray] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        listening = socket.socket()
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # inherited by each connection
        listening.bind(("127.0.0.1", 0))
        self.server = await asyncio.start_server(self._client, sock=listening)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    def lines(self) -> list[bytes]:
        return [line for data in self.received for line in bytes(data).split(b"\n") if line]

    def whole_lines(self) -> int:
        """Lines received up to their newline (a line still arriving is not one yet)."""
        return sum(data.count(b"\n") for data in self.received)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = bytearray()
        self.received.append(data)
        await asyncio.sleep(self.stall_s if len(self.received) == 1 else 0)
        try:
            while chunk := await reader.read(1 << 16):
                data += chunk
        except ConnectionError:
            pass
        finally:
            writer.close()


async def test_a_slow_agent_gets_every_line_once_and_whole() -> None:
    """A send that times out part-way (the agent reads slowly) must go on from where it
    stopped: resending the whole batch on a new connection gave the agent duplicates, and the
    cut line as a truncated one."""
    slow = SlowReader(stall_s=1.0)
    await slow.start()
    # A send makes no progress for 0.2 s while the agent stalls: the old shipper gave up there.
    handler = ObsviewHandler(port=slow.port, connect_timeout=0.2, flush_timeout=5.0, queue_size=2_000)
    logger = make_logger(handler, "tests.demo.slow")
    padding = "x" * 16_000  # a batch of 512 such lines is more than the socket buffers hold
    try:
        for i in range(1_500):
            logger.info("line %d %s", i, padding)
        # Whole lines: counting the last one while it still arrives read it as truncated (CI).
        await until(lambda: slow.whole_lines() >= 1_500 or handler.dropped > 0, timeout=20)
        await asyncio.to_thread(handler.close)
    finally:
        await slow.stop()
    numbers: list[int] = []
    truncated = 0
    for line in slow.lines():
        try:
            numbers.append(int(orjson.loads(line)["message"].split()[1]))
        except orjson.JSONDecodeError:
            truncated += 1
    duplicated = len(numbers) - len(set(numbers))
    assert (truncated, duplicated) == (0, 0)
    assert sorted(numbers) == list(range(1_500))  # each exactly once
    assert (handler.sent, handler.dropped) == (1_500, 0)
