"""OTLP/HTTP receiver: OpenTelemetry SDKs export their logs and spans straight to the agent.

``POST /v1/logs`` and ``POST /v1/traces`` (when the agent takes spans) in either OTLP/HTTP
encoding: protobuf (``application/x-protobuf``, the
default of the Collector and of most SDKs) or JSON (``application/json``, as sent by
``@opentelemetry/exporter-logs-otlp-http`` and by any SDK set to
``OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json``). A success is answered in the request's
encoding; errors carry a JSON ``google.rpc.Status`` (exporters act on the status code).

The response is written only after every batch of the request was emitted: a busy agent
slows the exporter down (its own retry/timeout logic applies) and nothing is lost in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Final, TypeVar

import orjson

from obsview.backend.addresses import HOST_REFUSED, host_header_allowed, is_loopback
from obsview.backend.auth import bearer_matches
from obsview.backend.connection_slots import Slot
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources import otlp_json, otlp_protobuf, otlp_spans
from obsview.backend.ingest.sources.base import Emit
from obsview.backend.ingest.sources.listener import StreamListener
from obsview.backend.ingest.sources.otlp_http import (
    MAX_HEAD_BYTES,
    HttpConnection,
    HttpError,
    Request,
    decode_content,
    error_body,
)
from obsview.backend.ingest.sources.otlp_json import Rejected, RequestError
from obsview.common.spans import Span

log = logging.getLogger(__name__)

LOGS_PATH: Final = "/v1/logs"
TRACES_PATH: Final = "/v1/traces"
SpanSink = Callable[[list[Span]], Awaitable[None]]
"""Takes a batch of spans (the agent's ``ingest_spans``); awaiting it is the backpressure."""
_In = TypeVar("_In")
_Out = TypeVar("_Out")
BATCH_RECORDS: Final = 1000
"""Records normalized and emitted together; a big request is emitted in several batches,
with the event loop free between two (~25 ms of work each)."""
JSON: Final = "application/json"
PROTOBUF: Final = otlp_protobuf.CONTENT_TYPE
_WRITE_TIMEOUT_S: Final = 10.0
_ERROR_HEADERS: Final[dict[int, tuple[tuple[str, str], ...]]] = {
    405: (("Allow", "POST"),),
    # OTLP exporters retry a 429 after Retry-After seconds.
    429: (("Retry-After", "1"),),
}


class OtlpHttpSource(StreamListener):
    """Serves OTLP/HTTP log exports to at most ``max_connections`` clients at once."""

    described = "OTLP/HTTP log source"
    counter_prefix = "otlp"
    counter_names = ("requests", "requests_failed", "records_accepted", "records_rejected",
                     "spans_accepted", "spans_rejected", "requests_throttled")

    def __init__(
        self,
        host: str,
        port: int,
        normalizer: Normalizer,
        *,
        max_body_bytes: int = 4 * 1024 * 1024,
        max_connections: int = 64,
        idle_timeout_s: float = 30.0,
        head_timeout_s: float = 10.0,
        body_timeout_s: float = 30.0,
        token: str | None = None,
        allowed_hosts: Sequence[str] = (),
        spans: SpanSink | None = None,
        max_in_flight_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        super().__init__("otlp", host, port, max_connections=max_connections,
                         read_limit=MAX_HEAD_BYTES)
        self._normalizer = normalizer
        self._spans = spans
        """Where ``/v1/traces`` delivers; without it that path is a 404 like any other."""
        self._max_body_bytes = max_body_bytes
        self._idle_timeout_s = idle_timeout_s
        self._head_timeout_s = head_timeout_s
        self._body_timeout_s = body_timeout_s
        self._token = token
        """When set, every request needs ``Authorization: Bearer <token>`` (401 otherwise)."""
        self._allowed_hosts = frozenset(name.lower() for name in allowed_hosts)
        self._check_host = is_loopback(host)
        """As on the agent's port: a loopback receiver refuses a foreign Host (DNS rebinding:
        a page could post forged logs); others have a token."""
        self.requests = 0
        self.requests_failed = 0
        """Requests answered with an HTTP error (4xx)."""
        self.records_accepted = 0
        self.records_rejected = 0
        """Log records reported back to the exporter as rejected (malformed)."""
        self.spans_accepted = 0
        self.spans_rejected = 0
        self._max_in_flight_bytes = max_in_flight_bytes
        """Bodies being read or ingested at once, summed: beyond it, exporters get 429 and
        retry later, so 64 connections cannot make the agent hold 64 maximal bodies."""
        self._in_flight = 0
        self.requests_throttled = 0

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, emit: Emit, source: str,
        slot: Slot,
    ) -> None:
        """Serve requests until the connection ends. It holds an unproven slot (evicted first
        when the receiver is full: slowloris sockets cannot starve real exporters) while it
        idles or sends a request, a proven one from the end of a request to its answer."""
        connection = HttpConnection(
            reader, writer, max_body_bytes=self._max_body_bytes,
            idle_timeout_s=self._idle_timeout_s, head_timeout_s=self._head_timeout_s,
            body_timeout_s=self._body_timeout_s,
        )
        try:
            while await self._one_exchange(connection, reader, writer, emit, source, slot):
                slot.unprove()
        except (ConnectionError, OSError, TimeoutError) as exc:
            log.debug("OTLP client %s dropped: %s", source, exc)
        except Exception:  # e.g. emit failed: drop this client, keep serving
            # No answer: the exporter sees a dropped connection and retries the export.
            log.exception("OTLP client %s: request failed", source)

    async def _one_exchange(
        self, connection: HttpConnection, reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter, emit: Emit, source: str, slot: Slot,
    ) -> bool:
        """Answer one request; False when the connection is to be closed."""
        reserved = [0]

        def admit(headers: dict[str, str]) -> None:
            self._check_headers(headers)
            reserved[0] = self._reserve(headers.get("content-length", ""))

        try:
            request = await connection.read_request(check_headers=admit)
            if request is None:
                return False
            slot.prove()
            self.requests += 1
            content_type, body = await self._handle(request, emit, source)
            status = 200
            headers: tuple[tuple[str, str], ...] = ()
            unread_input = False
        except HttpError as exc:
            self.requests_failed += 1
            content_type, status, body = JSON, exc.status, error_body(exc.status, exc.message)
            headers = _ERROR_HEADERS.get(exc.status, ())
            unread_input = exc.close
        finally:
            self._in_flight -= reserved[0]
        keep = connection.respond(status, body, content_type=content_type, close=unread_input,
                                  extra_headers=headers)
        async with asyncio.timeout(_WRITE_TIMEOUT_S):  # a client that stopped reading
            await writer.drain()
            if unread_input:
                await _linger(reader, writer, self._max_body_bytes)
        return keep

    def _reserve(self, content_length: str) -> int:
        """Count a request's body against ``max_in_flight_bytes`` before it is read (a body
        of unknown length counts as the largest allowed); 429 when the budget is spent."""
        size = int(content_length) if content_length.isdigit() else self._max_body_bytes
        size = min(size, self._max_body_bytes)
        if self._in_flight and self._in_flight + size > self._max_in_flight_bytes:
            self.requests_throttled += 1
            raise HttpError(429, "the agent is busy with other exports; retry later", close=True)
        self._in_flight += size
        return size

    def _check_headers(self, headers: dict[str, str]) -> None:
        if self._check_host and not host_header_allowed(headers.get("host"), self._allowed_hosts):
            raise HttpError(403, HOST_REFUSED, close=True)
        if self._token is not None and not bearer_matches(headers.get("authorization"), self._token):
            # Closed at once: the body of a stranger is never read.
            raise HttpError(401, "missing or wrong bearer token (Authorization: Bearer …)", close=True)

    async def _handle(self, request: Request, emit: Emit, source: str) -> tuple[str, bytes]:
        """The 200 answer (content type, body) once every record is emitted; HttpError for
        the rest."""
        traces = self._spans is not None and request.path == TRACES_PATH
        if request.path != LOGS_PATH and not traces:
            where = f"POST {LOGS_PATH}" + (f" and POST {TRACES_PATH}" if self._spans else "")
            raise HttpError(404, f"no such path; OTLP goes to {where}")
        if request.method != "POST":
            raise HttpError(405, f"{request.path} accepts POST only")
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in (PROTOBUF, JSON):
            raise HttpError(
                415, f"Content-Type must be {PROTOBUF} or {JSON}, got {content_type!r}"
            )
        body = decode_content(request, self._max_body_bytes)
        try:
            if traces:
                return await self._handle_spans(body, content_type == PROTOBUF)
            if content_type == PROTOBUF:
                records = otlp_protobuf.iter_records(otlp_protobuf.parse_export(body))
            else:
                records = otlp_json.iter_records(orjson.loads(body))
            normalize = self._normalizer.normalize_record
            accepted, rejected, reason = await _deliver(
                records, lambda record: normalize(record, source), emit, "log record(s)"
            )
        except orjson.JSONDecodeError as exc:
            raise HttpError(400, f"body is not valid JSON: {exc}") from None
        except RequestError as exc:
            raise HttpError(400, str(exc)) from None
        self.records_accepted += accepted
        self.records_rejected += rejected
        if content_type == PROTOBUF:
            return PROTOBUF, otlp_protobuf.response_body(rejected, reason)
        partial: dict[str, Any] = {}
        if rejected:
            # int64 travels as a decimal string in OTLP JSON.
            partial = {"rejectedLogRecords": str(rejected), "errorMessage": reason}
        return JSON, orjson.dumps({"partialSuccess": partial})

    async def _handle_spans(self, body: bytes, protobuf: bool) -> tuple[str, bytes]:
        assert self._spans is not None
        if protobuf:
            spans = otlp_spans.iter_protobuf(otlp_spans.parse_protobuf(body))
        else:
            spans = otlp_spans.iter_json(orjson.loads(body))
        accepted, rejected, reason = await _deliver(spans, _same, self._spans, "span(s)")
        self.spans_accepted += accepted
        self.spans_rejected += rejected
        if protobuf:
            return PROTOBUF, otlp_spans.response_protobuf(rejected, reason)
        return JSON, orjson.dumps(otlp_spans.response_json(rejected, reason))


def _same(span: Span) -> Span:
    return span


async def _deliver(
    items: Iterator[_In | Rejected], convert: Callable[[_In], _Out],
    deliver: Callable[[list[_Out]], Awaitable[None]], noun: str,
) -> tuple[int, int, str]:
    """Convert and deliver every item in batches; (accepted, rejected, first reason)."""
    accepted = rejected = 0
    reason = ""
    batch: list[_Out] = []
    for count, item in enumerate(items, 1):
        if isinstance(item, Rejected):
            rejected += 1
            reason = reason or item.reason
        else:
            batch.append(convert(item))
            if len(batch) >= BATCH_RECORDS:
                accepted += len(batch)
                await deliver(batch)
                batch = []
        if count % BATCH_RECORDS == 0:
            # Yield every BATCH_RECORDS items, rejected ones too, even when deliver did not:
            # 4 MiB of tiny records is ~600k of them (~840k malformed protobuf ones, each
            # rewritten to JSON before it is refused), seconds of work that must not stall
            # the consoles, probes and other sources.
            await asyncio.sleep(0)
    if batch:
        accepted += len(batch)
        await deliver(batch)
    if rejected:
        reason = f"{rejected} {noun} rejected, first: {reason}"
    return accepted, rejected, reason


async def _linger(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_bytes: int
) -> None:
    """Half-close, then discard what the client still sends (bounded, under the caller's
    timeout): closing with unread input makes the kernel reset the connection, and the
    client would lose the error response it has not read yet (a 413 for a body in flight)."""
    if not writer.can_write_eof():
        return
    writer.write_eof()
    discarded = 0
    while discarded <= max_bytes and (data := await reader.read(1 << 16)):
        discarded += len(data)
