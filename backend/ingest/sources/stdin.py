"""Standard input as a log source: ``some-app | obsview-agent -``."""

from __future__ import annotations

import asyncio
import os
import sys

from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.base import Emit
from obsview.backend.ingest.sources.lines import LineSplitter

_READ_BYTES = 1 << 16


class StdinSource:
    """Reads lines until end of input, which ends the source quietly.

    ``reader`` is for tests and embedding; by default stdin is attached to the event loop
    (pipes, terminals and sockets), or read in a worker thread when it is a regular file
    (``obsview-agent - < app.log``), which the loop cannot watch.
    """

    def __init__(self, normalizer: Normalizer, reader: asyncio.StreamReader | None = None) -> None:
        self.name = "stdin"
        self._normalizer = normalizer
        self._reader = reader
        self.lines_read = 0

    async def run(self, emit: Emit) -> None:
        splitter = LineSplitter(self._normalizer.max_line_bytes)
        reader = self._reader
        transport: asyncio.BaseTransport | None = None
        if reader is None:
            pipe_reader = reader = asyncio.StreamReader(limit=_READ_BYTES)
            loop = asyncio.get_running_loop()
            try:
                transport, _protocol = await loop.connect_read_pipe(
                    lambda: asyncio.StreamReaderProtocol(pipe_reader), sys.stdin.buffer
                )
            except ValueError:  # a regular file: the loop cannot poll it
                reader = None
        try:
            while True:
                if reader is not None:
                    data = await reader.read(_READ_BYTES)
                else:
                    data = await asyncio.to_thread(os.read, sys.stdin.fileno(), _READ_BYTES)
                if not data:
                    break
                await self._emit(splitter.feed(data), emit)
            await self._emit(splitter.flush(), emit)
        finally:
            if transport is not None:
                transport.close()

    async def _emit(self, lines: list[bytes], emit: Emit) -> None:
        if lines:
            self.lines_read += len(lines)
            events = self._normalizer.normalize_lines(lines, self.name)
            if events:
                await emit(events)
