"""TCP JSON-lines listener, Logstash style: apps ship one JSON record per line."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from obsview.backend.normalize import Normalizer
from obsview.backend.sources.base import Emit
from obsview.backend.sources.lines import LineSplitter

log = logging.getLogger(__name__)

_READ_BYTES = 1 << 16


class TcpSource:
    """Accepts up to ``max_connections`` senders; each connection's lines are normalized per
    read and emitted (awaiting ``emit`` stops reading that socket: TCP backpressure)."""

    def __init__(
        self,
        host: str,
        port: int,
        normalizer: Normalizer,
        *,
        max_connections: int = 64,
    ) -> None:
        self.name = f"tcp:{host}:{port}"
        self._host = host
        self._requested_port = port
        self._normalizer = normalizer
        self._max_connections = max_connections
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        """The bound port (useful with port 0); set once ``listening`` is set."""
        self.listening = asyncio.Event()
        self.connections_total = 0
        self.connections_refused = 0
        """Connections closed at once because ``max_connections`` were open."""
        self.lines_read = 0

    @property
    def connections(self) -> int:
        return len(self._handlers)

    async def run(self, emit: Emit) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(reader, writer, emit)

        # A bind failure raises OSError: the agent turns it into one clear StartupError.
        server = await asyncio.start_server(on_connect, self._host, self._requested_port)
        try:
            self.port = server.sockets[0].getsockname()[1]
            self.name = f"tcp:{self._host}:{self.port}"
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
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections_total += 1
        peer = writer.get_extra_info("peername")
        source = f"tcp:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "tcp"
        splitter = LineSplitter(self._normalizer.max_line_bytes)
        try:
            while data := await reader.read(_READ_BYTES):
                await self._emit(splitter.feed(data), source, emit)
            await self._emit(splitter.flush(), source, emit)
        except (ConnectionError, OSError) as exc:
            log.debug("log sender %s dropped: %s", source, exc)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _emit(self, lines: list[bytes], source: str, emit: Emit) -> None:
        if lines:
            self.lines_read += len(lines)
            events = self._normalizer.normalize_lines(lines, source)
            if events:
                await emit(events)
