"""TCP JSON-lines listener, Logstash style: apps ship one JSON record per line.

A connection is a real sender once its first line has arrived; until then (idle, or still
on a partial line) it may be closed to make room for a newer one when the source is full.

When the agent enforces a token (any non-loopback bind, or an explicit token file), a sender
proves it knows the token with its first line, within ``auth_timeout_s``:

- the plain line ``AUTH <token>`` (not ingested), for code that owns its socket
  (:class:`obsview.backend.instrument.ObsviewHandler` sends it), or
- a JSON record with a top-level ``"obsview_token": "<token>"`` field (ingested), for shippers
  that can add a field to every record but cannot write a line of their own: winston's
  ``defaultMeta``, Logstash's ``add_field``, Fluent Bit's ``record_modifier``, Vector's
  ``remap``. The token is cut out of every line of the connection before it is normalized.

Anything else, or nothing in time, closes the connection; no line of it is ingested.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Final

import orjson

from obsview.backend.connection_slots import Slot
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.base import Emit
from obsview.backend.ingest.sources.lines import LineSplitter
from obsview.backend.ingest.sources.listener import StreamListener

log = logging.getLogger(__name__)

_READ_BYTES = 1 << 16
AUTH_PREFIX: Final = b"AUTH "
TOKEN_FIELD: Final = "obsview_token"
AUTH_TIMEOUT_S: Final = 10.0


class TcpSource(StreamListener):
    """Accepts up to ``max_connections`` senders; each connection's lines are normalized per
    read and emitted (awaiting ``emit`` stops reading that socket: TCP backpressure)."""

    described = "TCP log source"
    counter_prefix = "tcp"
    counter_names = ("lines_read", "auth_refused")

    def __init__(
        self,
        host: str,
        port: int,
        normalizer: Normalizer,
        *,
        max_connections: int = 64,
        token: str | None = None,
        auth_timeout_s: float | None = None,
    ) -> None:
        super().__init__("tcp", host, port, max_connections=max_connections)
        self._normalizer = normalizer
        self._token = token.encode() if token is not None else None
        self._auth_timeout_s = AUTH_TIMEOUT_S if auth_timeout_s is None else auth_timeout_s
        self.lines_read = 0
        self.auth_refused = 0
        """Connections closed because the first line did not carry the token in time."""

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit, source: str,
        slot: Slot,
    ) -> None:
        splitter = LineSplitter(self._normalizer.max_line_bytes)
        # Unproven (evictable) until its first line arrives, on an open listener too: idle
        # sockets must not hold the slots real senders need.
        try:
            lines = await self._authenticate(reader, splitter)
            if lines is None:
                self.auth_refused += 1
                log.debug("log sender %s closed: no valid token on its first line", source)
                return
            slot.prove()
            await self._emit(lines, source, emit)
            while data := await reader.read(_READ_BYTES):
                await self._emit(splitter.feed(data), source, emit)
            await self._emit(splitter.flush(), source, emit)
        except (ConnectionError, OSError) as exc:
            log.debug("log sender %s dropped: %s", source, exc)

    async def _authenticate(
        self, reader: asyncio.StreamReader, splitter: LineSplitter
    ) -> list[bytes] | None:
        """The lines to ingest once the first one is read and accepted; None to close.

        An ``AUTH`` line is dropped even where no token is enforced: a sender configured for
        a guarded agent must not have its token stored when pointed at an open one.
        """
        if self._token is None:
            lines = await _first_lines(reader, splitter)
        else:
            try:
                async with asyncio.timeout(self._auth_timeout_s):
                    lines = await _first_lines(reader, splitter)
            except TimeoutError:
                return None
            if not lines or not self._first_line_has_token(lines[0]):
                return None
        if lines and lines[0].startswith(AUTH_PREFIX):
            del lines[0]
        return lines

    def _first_line_has_token(self, line: bytes) -> bool:
        assert self._token is not None
        line = line.rstrip(b"\r")
        if line.startswith(AUTH_PREFIX):
            return hmac.compare_digest(line[len(AUTH_PREFIX) :].strip(), self._token)
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        presented = record.get(TOKEN_FIELD) if isinstance(record, dict) else None
        return isinstance(presented, str) and hmac.compare_digest(presented.encode(), self._token)

    async def _emit(self, lines: list[bytes], source: str, emit: Emit) -> None:
        if not lines:
            return
        self.lines_read += len(lines)
        if self._token is not None:
            lines = _without(self._token, lines)
        events = self._normalizer.normalize_lines(lines, source)
        if events:
            await emit(events)


async def _first_lines(reader: asyncio.StreamReader, splitter: LineSplitter) -> list[bytes]:
    """The first complete line(s) of the connection, or what it sent before it ended."""
    while data := await reader.read(_READ_BYTES):
        if lines := splitter.feed(data):
            return lines
    return splitter.flush()


def _without(token: bytes, lines: list[bytes]) -> list[bytes]:
    """``lines`` with every copy of ``token`` cut out (a shipper adding ``obsview_token`` to
    each record); one search over the batch, the split only when it is there."""
    joined = b"\n".join(lines)
    if token not in joined:
        return lines
    return joined.replace(token, b"").split(b"\n")

