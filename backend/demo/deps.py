"""A fake Redis/database the demo API depends on: a loopback TCP server that answers
``PING`` with ``+PONG`` and that the scenario can take down and bring back on the same port."""

from __future__ import annotations

import asyncio
import contextlib

PING_TIMEOUT_S = 0.5


class FakeDependency:
    """``start()`` binds a free loopback port (kept across ``down()``/``up()`` so probes and
    the API always dial the same address); ``stop()`` releases it for good."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.up()

    async def up(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse connections and cut the open ones, as a crashed service would."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def stop(self) -> None:
        await self.down()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                if len(line) > 1024:
                    break
                writer.write(b"+PONG\r\n" if line.strip().upper() == b"PING" else b"-ERR unknown command\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()


async def ping(port: int, *, timeout: float = PING_TIMEOUT_S) -> float:
    """Round trip to a dependency in milliseconds; raises ``OSError``/``TimeoutError``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            reply = await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    if reply.strip() != b"+PONG":
        raise ConnectionError(f"unexpected reply {reply[:40]!r}")
    return (loop.time() - started) * 1000.0

