"""TCP JSON-lines listener, Logstash style: apps ship one JSON record per line."""

from __future__ import annotations

import asyncio
import logging

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.base import Emit
from obsview.backend.ingest.sources.lines import LineSplitter
from obsview.backend.ingest.sources.listener import StreamListener

log = logging.getLogger(__name__)

_READ_BYTES = 1 << 16


class TcpSource(StreamListener):
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
        super().__init__("tcp", host, port, max_connections=max_connections)
        self._normalizer = normalizer
        self.lines_read = 0

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit, source: str
    ) -> None:
        splitter = LineSplitter(self._normalizer.max_line_bytes)
        try:
            while data := await reader.read(_READ_BYTES):
                await self._emit(splitter.feed(data), source, emit)
            await self._emit(splitter.flush(), source, emit)
        except (ConnectionError, OSError) as exc:
            log.debug("log sender %s dropped: %s", source, exc)

    async def _emit(self, lines: list[bytes], source: str, emit: Emit) -> None:
        if lines:
            self.lines_read += len(lines)
            events = self._normalizer.normalize_lines(lines, source)
            if events:
                await emit(events)
