"""What the network sources share: a loopback-friendly listener with a connection cap.

A subclass serves one connection in :meth:`StreamListener._handle_connection`; this class
binds, admits connections through :class:`ConnectionSlots` (at most ``max_connections``; an
unproven connection, one that has not yet shown it is a real sender, may be closed to make room
for a newer one), and on cancellation closes the server and cancels and awaits every handler,
so nothing outlives the source. A subclass calls ``slot.prove()`` once the peer has shown it is
a real sender.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import ClassVar

from obsview.backend.connection_slots import ConnectionSlots, Slot
from obsview.backend.ingest.sources.base import Emit


class StreamListener:
    described: ClassVar[str]
    """What it is, in an error message: "TCP log source"."""
    counter_prefix: ClassVar[str]
    counter_names: ClassVar[tuple[str, ...]]
    """Its own counters (attributes), summed over the listeners of its kind in /metrics."""

    def __init__(
        self, scheme: str, host: str, port: int, *, max_connections: int,
        max_unproven: int | None = None, read_limit: int = 1 << 16,
    ) -> None:
        self.name = f"{scheme}:{host}:{port}"
        self._scheme = scheme
        self._host = host
        self._requested_port = port
        unproven = max_unproven if max_unproven is not None else max(1, max_connections // 2)
        self.slots = ConnectionSlots(
            max_connections, unproven_limit=unproven, unproven_per_peer=max(1, unproven // 2)
        )
        self._read_limit = read_limit
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0
        """The bound port (useful with port 0); set once ``listening`` is set."""
        self.listening = asyncio.Event()
        self.connections_total = 0

    @property
    def connections(self) -> int:
        return len(self._handlers)

    @property
    def connections_refused(self) -> int:
        """Connections closed at once because ``max_connections`` proven ones were open."""
        return self.slots.refused

    @property
    def connections_evicted(self) -> int:
        """Unproven connections (idle, slow, unauthenticated) closed to make room."""
        return self.slots.evicted

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
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        slot = self.slots.admit(str(peer[0]) if isinstance(peer, tuple) else "", task.cancel)
        if slot is None:
            await close_writer(writer)
            return
        self._handlers.add(task)
        self.connections_total += 1
        source = f"{self._scheme}:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else self._scheme
        try:
            await self._handle_connection(reader, writer, emit, source, slot)
        finally:
            slot.release()
            self._handlers.discard(task)
            await close_writer(writer)

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit, source: str,
        slot: Slot,
    ) -> None:
        """Serve one connection until it ends; ``source`` names the peer for its events.
        Cancelled when the connection is evicted (``slot`` was still unproven)."""
        raise NotImplementedError


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


def listener_counters(sources: Iterable[object]) -> dict[str, int]:
    """Each kind of listener's counters (and connection counters) summed over the listeners
    of that kind, for the agent's own counters (/metrics); none for a kind the agent does not
    run, so agents without such a listener show no always-zero figures."""
    kinds: dict[type[StreamListener], list[StreamListener]] = {}
    for source in sources:
        if isinstance(source, StreamListener):
            kinds.setdefault(type(source), []).append(source)
    counters: dict[str, int] = {}
    for kind, listeners in kinds.items():
        every = (*kind.counter_names, "connections_total", "connections_refused", "connections_evicted")
        counters |= {f"{kind.counter_prefix}_{name}": sum(getattr(item, name) for item in listeners)
                     for name in every}
    return counters
