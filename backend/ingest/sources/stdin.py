"""Standard input as a log source: ``some-app | obsview-agent -``."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

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

    def __init__(self, normalizer: Normalizer, reader: asyncio.StreamReader | None = None,
                 *, fd: int | None = None) -> None:
        """``fd``: the file descriptor to read instead of standard input's (the console's
        ``cmd | obsview -`` moves the pipe off fd 0, which the terminal's keys need)."""
        self.name = "stdin"
        self._normalizer = normalizer
        self._reader = reader
        self._fd = fd
        self.lines_read = 0

    async def run(self, emit: Emit) -> None:
        if self._reader is not None:
            await self._read(self._reader.read, emit)
            return
        fd = sys.stdin.fileno() if self._fd is None else self._fd
        pipe = open(fd, "rb", buffering=0, closefd=False)  # the fd stays open: it is not ours
        pipe_reader = asyncio.StreamReader(limit=_READ_BYTES)
        try:
            transport, _protocol = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(pipe_reader), pipe
            )
        except ValueError:  # a regular file: the loop cannot poll it
            try:
                await self._read(lambda size: asyncio.to_thread(os.read, fd, size), emit)
            finally:
                pipe.close()
            return
        try:
            await self._read(pipe_reader.read, emit)
        finally:
            transport.close()

    async def _read(self, read: Callable[[int], Awaitable[bytes]], emit: Emit) -> None:
        splitter = LineSplitter(self._normalizer.max_line_bytes)
        while data := await read(_READ_BYTES):
            await self._emit(splitter.feed(data), emit)
        await self._emit(splitter.flush(), emit)

    async def _emit(self, lines: list[bytes], emit: Emit) -> None:
        if lines:
            self.lines_read += len(lines)
            events = self._normalizer.normalize_lines(lines, self.name)
            if events:
                await emit(events)
