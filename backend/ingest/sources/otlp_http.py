"""HTTP/1.1 for an OTLP receiver, framed by h11: read one request, write one response.

h11 parses the request line, headers and body framing (Content-Length or chunked), keeps the
keep-alive state and writes the responses. This module adds what h11 leaves to its caller: a
head size cap (431), a header count cap (431), a body cap (413), a deadline on every read
(408), ``Content-Length`` required for a POST (411), both framings at once refused (request
smuggling), gzip bodies inflated under member and size caps, and the error body OTLP asks for.
No client can make the agent buffer without bound or hold a connection forever.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

import h11
import orjson

MAX_HEAD_BYTES: Final = 32 * 1024
"""Request line plus headers (exporters send a few hundred bytes)."""
MAX_HEADERS: Final = 100
MAX_GZIP_MEMBERS: Final = 1024
_INFLATE_SLICE: Final = 1 << 16
_READ_BYTES: Final = 1 << 16
_GRPC_CODES: Final = {
    400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 408: 4, 411: 3, 413: 8, 415: 3, 417: 3, 429: 8,
    431: 8,
}
"""google.rpc.Status codes for the error bodies OTLP/HTTP asks for."""


class HttpError(Exception):
    """A request the server answers with ``status`` and ``message`` (and maybe closes on)."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close
        """True when the connection cannot be reused (the body was not read)."""


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names; a repeated header's values joined with ``,``."""
    body: bytes


class HttpConnection:
    """One client connection: requests read through h11 under deadlines, answers written."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, max_body_bytes: int,
        idle_timeout_s: float, head_timeout_s: float, body_timeout_s: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._max_body_bytes = max_body_bytes
        self._idle_timeout_s = idle_timeout_s
        self._head_timeout_s = head_timeout_s
        self._body_timeout_s = body_timeout_s
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    async def read_request(
        self, check_headers: Callable[[dict[str, str]], None] | None = None
    ) -> Request | None:
        """The next request on the connection; None when the client closed it between requests.

        The head must start within ``idle_timeout_s`` of the previous response (an idle
        keep-alive connection is closed quietly) and, once started, be complete within
        ``head_timeout_s``; the body must arrive within ``body_timeout_s``.
        ``check_headers`` runs before the body is read (authentication: no data from a stranger
        is buffered) and may raise :class:`HttpError`. ``Expect: 100-continue`` is answered
        then (curl sends it for bodies over 1 KiB, then waits a second without it).
        """
        if not self._h11.trailing_data[0]:  # nothing pipelined: wait for the next request
            try:
                async with asyncio.timeout(self._idle_timeout_s):
                    await self._receive()
            except TimeoutError:
                return None  # idle between requests
        try:
            async with asyncio.timeout(self._head_timeout_s):
                event = await self._next_event()
        except TimeoutError:
            raise HttpError(408, f"request head not received within {self._head_timeout_s:g} s", close=True) from None
        if isinstance(event, h11.ConnectionClosed):
            return None
        assert isinstance(event, h11.Request)
        if len(event.headers) > MAX_HEADERS:
            raise HttpError(431, f"more than {MAX_HEADERS} headers", close=True)
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key, text = name.decode("ascii"), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        method = event.method.decode("ascii")
        _check_framing(method, headers, self._max_body_bytes)
        if check_headers is not None:
            check_headers(headers)
        expect = headers.get("expect")
        if expect is not None and expect.lower() != "100-continue":
            raise HttpError(417, f"Expect {expect!r} is not supported", close=True)
        if self._h11.they_are_waiting_for_100_continue:
            self._send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
        try:
            async with asyncio.timeout(self._body_timeout_s):
                body = await self._read_body()
        except TimeoutError:
            raise HttpError(408, f"body not received within {self._body_timeout_s:g} s", close=True) from None
        path = event.target.decode("ascii", "replace").split("?", 1)[0]
        return Request(method, path, headers, body)

    def respond(
        self, status: int, body: bytes, *, content_type: str = "application/json",
        close: bool = False, extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        """Write the response; True when the connection can carry the next request (h11 knows:
        HTTP/1.0, ``Connection: close`` either way, a body left unread)."""
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
                   *extra_headers]
        if close:
            headers.append(("Connection", "close"))
        reason = HTTPStatus(status).phrase.encode("ascii")
        self._send(h11.Response(status_code=status, headers=headers, reason=reason))
        self._send(h11.Data(data=body))
        self._send(h11.EndOfMessage())
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return True
        return False

    def _send(self, event: h11.Event) -> None:
        data = self._h11.send(event)
        if data:
            self._writer.write(data)

    async def _receive(self) -> None:
        size = _READ_BYTES
        if self._h11.their_state is h11.IDLE:
            # h11 measures an incomplete head only between reads: reading no more than one
            # byte past the cap makes it exact (a longer head is never complete in the buffer).
            size = MAX_HEAD_BYTES + 1 - len(self._h11.trailing_data[0])
        self._h11.receive_data(await self._reader.read(size))  # b"": the client closed

    async def _next_event(self) -> h11.Event:
        """The next h11 event, reading as it needs; its protocol errors as :class:`HttpError`."""
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise _refusal(exc) from None
            if event is h11.NEED_DATA:
                await self._receive()
                continue
            assert not isinstance(event, type)  # PAUSED: only after a request, never asked then
            return event

    async def _read_body(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            assert isinstance(event, h11.Data)
            total += len(event.data)
            if total > self._max_body_bytes:  # chunked: the length was not known up front
                raise HttpError(413, f"body over the {self._max_body_bytes}-byte limit", close=True)
            parts.append(bytes(event.data))


def decode_content(request: Request, max_body_bytes: int) -> bytes:
    """The body without its Content-Encoding (gzip/deflate), capped at ``max_body_bytes``."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return request.body
    if encoding not in ("gzip", "deflate"):
        raise HttpError(415, f"Content-Encoding {encoding!r} is not supported (use gzip or none)")
    # A gzip body may hold several members one after another (RFC 1952 2.2; `cat a.gz b.gz`,
    # pigz, streaming writers): every member is inflated, all under one output cap (which is
    # what stops a decompression bomb). Input goes in 64 KiB slices of a memoryview, so the
    # tail left after a member is never copied whole: many tiny members stay linear.
    view = memoryview(request.body)
    parts: list[bytes] = []
    size = offset = members = 0
    while offset < len(view):
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise HttpError(400, f"more than {MAX_GZIP_MEMBERS} {encoding} members in one body")
        inflater = zlib.decompressobj(47)  # wbits 47: gzip or zlib header, detected
        while not inflater.eof:
            if offset >= len(view):
                raise HttpError(400, f"body is not valid {encoding} data (truncated)")
            chunk = view[offset : offset + _INFLATE_SLICE]
            offset += len(chunk)
            try:
                part = inflater.decompress(chunk, max_body_bytes + 1 - size)
            except zlib.error:
                raise HttpError(400, f"body is not valid {encoding} data") from None
            size += len(part)
            if size > max_body_bytes:
                raise HttpError(413, f"decompressed body over {max_body_bytes} bytes")
            parts.append(part)
        offset -= len(inflater.unused_data)
    return b"".join(parts)


def error_body(status: int, message: str) -> bytes:
    """The OTLP/HTTP error body: a google.rpc.Status in JSON."""
    return orjson.dumps({"code": _GRPC_CODES.get(status, 2), "message": message})


# --------------------------------------------------------------------------- parts


def _check_framing(method: str, headers: dict[str, str], max_body_bytes: int) -> None:
    """Refuse, before any of the body is read, the framings h11 accepts and this receiver
    does not, and a declared length over the cap."""
    if "transfer-encoding" in headers:  # h11 has checked it is "chunked"
        if "content-length" in headers:
            # Both framings at once is the classic request-smuggling shape (h11 lets
            # Transfer-Encoding win, as RFC 9112 allows; refusing is safer).
            raise HttpError(400, "both Transfer-Encoding and Content-Length", close=True)
        return
    length_text = headers.get("content-length")
    if length_text is None:
        if method == "POST":  # h11 reads no Content-Length as an empty body
            raise HttpError(411, "Content-Length required", close=True)
        return
    length = int(length_text)  # h11 checked the digits
    if length > max_body_bytes:
        raise HttpError(413, f"body of {length} bytes over the {max_body_bytes}-byte limit", close=True)


def _refusal(exc: h11.RemoteProtocolError) -> HttpError:
    if exc.error_status_hint == 501:
        # A transfer coding other than chunked (h11's 501): the exporter can send a length.
        return HttpError(411, f"{exc}; send Content-Length", close=True)
    return HttpError(exc.error_status_hint, str(exc), close=True)
