"""What the network sources share: a loopback-friendly listener with a connection cap.

A subclass serves one connection in :meth:`StreamListener._handle_connection`; this class
binds, counts, refuses connections beyond ``max_connections``, and on cancellation closes the
server and cancels and awaits every handler, so nothing outlives the source.
"""

from __future__ import annotations

import asyncio
import contextlib

from obsview.backend.ingest.sources.base import Emit


class StreamListener:
    def __init__(
        self, scheme: str, host: str, port: int, *, max_connections: int, read_limit: int = 1 << 16
    ) -> None:
        self.name = f"{scheme}:{host}:{port}"
        self._scheme = scheme
        self._host = host
        self._requested_port = port
        self._max_connections = max_connections
        self._read_limit = read_limit
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        """The bound port (useful with port 0); set once ``listening`` is set."""
        self.listening = asyncio.Event()
        self.connections_total = 0
        self.connections_refused = 0
        """Connections closed at once because ``max_connections`` were open."""

    @property
    def connections(self) -> int:
        return len(self._handlers)

    async def run(self, emit: Emit) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Python 3.11's start_server callback calls exception() on a cancelled handler
            # and logs a traceback; the handler ends quietly instead (run() awaits it).
            with contextlib.suppress(asyncio.CancelledError):
                await self._serve(reader, writer, emit)

        # A bind failure raises OSError: the agent turns it into one clear StartupError.
        server = await asyncio.start_server(
            on_connect, self._host, self._requested_port, limit=self._read_limit
        )
        try:
            self.port = server.sockets[0].getsockname()[1]
            self.name = f"{self._scheme}:{self._host}:{self.port}"
            self.listening.set()
            await asyncio.Future()  # serve until cancelled
        finally:
            server.close()
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await server.wait_closed()
            self.listening.clear()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit
    ) -> None:
        if len(self._handlers) >= self._max_connections:
            self.connections_refused += 1
            await close_writer(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections_total += 1
        peer = writer.get_extra_info("peername")
        source = f"{self._scheme}:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else self._scheme
        try:
            await self._handle_connection(reader, writer, emit, source)
        finally:
            self._handlers.discard(task)
            await close_writer(writer)

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit, source: str
    ) -> None:
        """Serve one connection until it ends; ``source`` names the peer for its events."""
        raise NotImplementedError


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
