"""Just enough HTTP/1.1 for an OTLP receiver: read one request, write one response.

Strict on purpose: the head has a size cap, the body needs ``Content-Length`` (or chunked
framing) and has a cap, and every read is under a deadline, so no client can make the agent
buffer without bound or hold a connection forever.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

import orjson

MAX_HEAD_BYTES: Final = 32 * 1024
"""Request line plus headers (exporters send a few hundred bytes)."""
MAX_HEADERS: Final = 100
MAX_GZIP_MEMBERS: Final = 1024
_INFLATE_SLICE: Final = 1 << 16
_REQUEST_LINE: Final = re.compile(rb"([A-Z]{1,16}) (\S{1,8192}) HTTP/1\.([01])")
_HEADER_NAME: Final = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CHUNK_SIZE: Final = re.compile(rb"([0-9A-Fa-f]{1,8})(?:;[^\r\n]*)?")
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
    keep_alive: bool


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, max_body_bytes: int,
    idle_timeout_s: float, head_timeout_s: float,
    body_timeout_s: float, check_headers: Callable[[dict[str, str]], None] | None = None,
) -> Request | None:
    """The next request on the connection; None when the client closed it between requests.

    The head must start within ``idle_timeout_s`` of the previous response (an idle
    keep-alive connection is closed quietly) and, once started, be complete within
    ``head_timeout_s``; the body must arrive within ``body_timeout_s``.
    ``check_headers`` runs before the body is read (authentication: no data from a stranger
    is buffered) and may raise :class:`HttpError`. ``writer`` answers ``Expect:
    100-continue`` (curl sends it for bodies over 1 KiB, then waits a second without it).
    """
    try:
        async with asyncio.timeout(idle_timeout_s):
            first = await reader.readexactly(1)
    except (asyncio.IncompleteReadError, TimeoutError):
        return None  # closed or idle between requests
    try:
        async with asyncio.timeout(head_timeout_s):
            head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if (first + exc.partial).strip():
            raise HttpError(400, "incomplete request head", close=True) from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(431, f"request head over {MAX_HEAD_BYTES} bytes", close=True) from None
    except TimeoutError:
        raise HttpError(408, f"request head not received within {head_timeout_s:g} s", close=True) from None
    method, path, version, headers = _parse_head(head)
    if check_headers is not None:
        check_headers(headers)
    expect = headers.get("expect")
    if expect is not None:
        if expect.lower() != "100-continue":
            raise HttpError(417, f"Expect {expect!r} is not supported", close=True)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    keep_alive = _keep_alive(version, headers.get("connection", ""))
    try:
        async with asyncio.timeout(body_timeout_s):
            body = await _read_body(reader, method, headers, max_body_bytes)
    except TimeoutError:
        raise HttpError(408, f"body not received within {body_timeout_s:g} s", close=True) from None
    except asyncio.IncompleteReadError:
        raise HttpError(400, "connection closed in the middle of the body", close=True) from None
    except asyncio.LimitOverrunError:
        raise HttpError(400, "malformed chunked body", close=True) from None
    return Request(method, path, headers, body, keep_alive)


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


def response_bytes(
    status: int, body: bytes, *, content_type: str = "application/json", close: bool = False,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in extra_headers),
    ]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_body(status: int, message: str) -> bytes:
    """The OTLP/HTTP error body: a google.rpc.Status in JSON."""
    return orjson.dumps({"code": _GRPC_CODES.get(status, 2), "message": message})


# --------------------------------------------------------------------------- parts


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    request_line, *header_lines = head[:-4].split(b"\r\n")
    match = _REQUEST_LINE.fullmatch(request_line)
    if match is None:
        raise HttpError(400, "malformed request line", close=True)
    if len(header_lines) > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} headers", close=True)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(b":")
        if not colon or _HEADER_NAME.fullmatch(name) is None:
            # Also refuses obsolete line folding (a line starting with a space).
            raise HttpError(400, "malformed header line", close=True)
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key in ("content-length", "transfer-encoding", "host"):
                raise HttpError(400, f"repeated {key} header", close=True)
            text = f"{headers[key]}, {text}"
        headers[key] = text
    method, target, minor = match.groups()
    path = target.decode("ascii", "replace").split("?", 1)[0]
    return method.decode("ascii"), path, minor.decode("ascii"), headers


def _keep_alive(minor_version: str, connection: str) -> bool:
    """HTTP/1.1 keeps the connection unless told otherwise; 1.0 clients get one request
    (every OTLP exporter speaks 1.1, and 1.0 keep-alive needs extra headers both ways)."""
    tokens = {token.strip().lower() for token in connection.split(",")}
    return minor_version == "1" and "close" not in tokens


async def _read_body(
    reader: asyncio.StreamReader, method: str, headers: dict[str, str], max_body_bytes: int
) -> bytes:
    transfer = headers.get("transfer-encoding")
    if transfer is not None:
        if "content-length" in headers:
            # Both framings at once is the classic request-smuggling shape.
            raise HttpError(400, "both Transfer-Encoding and Content-Length", close=True)
        if transfer.strip().lower() != "chunked":
            raise HttpError(411, f"Transfer-Encoding {transfer!r} not supported; send Content-Length", close=True)
        return await _read_chunked(reader, max_body_bytes)
    length_text = headers.get("content-length")
    if length_text is None:
        if method == "POST":
            raise HttpError(411, "Content-Length required", close=True)
        return b""
    if not length_text.isdigit() or len(length_text) > 12:
        raise HttpError(400, "malformed Content-Length", close=True)
    length = int(length_text)
    if length > max_body_bytes:
        raise HttpError(413, f"body of {length} bytes over the {max_body_bytes}-byte limit", close=True)
    return await reader.readexactly(length)


async def _read_chunked(reader: asyncio.StreamReader, max_body_bytes: int) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2]
        match = _CHUNK_SIZE.fullmatch(size_line)
        if match is None:
            raise HttpError(400, "malformed chunk size", close=True)
        size = int(match.group(1), 16)
        if size == 0:
            break
        total += size
        if total > max_body_bytes:
            raise HttpError(413, f"body over the {max_body_bytes}-byte limit", close=True)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpError(400, "malformed chunk", close=True)
    trailers = 0
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers: read and ignored
        trailers += 1
        if trailers > MAX_HEADERS:
            raise HttpError(431, f"more than {MAX_HEADERS} trailers", close=True)
    return b"".join(parts)
