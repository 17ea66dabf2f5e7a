"""Instrumentation for Python services: an ASGI access-log middleware and logging helpers.

- :class:`ObsviewMiddleware` wraps any ASGI app (Starlette, FastAPI, …) and produces one
  structured access record per HTTP request, in the seed's shape (``request{…}``,
  ``response{statusCode, responseTime}``, ``duration``) plus ``traceId`` and ``route``.
  It reads or creates a trace ID, returns it in ``X-Trace-Id`` and exposes it to the app's
  own log calls through :func:`current_trace_id`.
- :class:`JsonFormatter` writes one JSON object per line that obsview's normalizer reads.
- :class:`ObsviewHandler` ships log records to a running agent's TCP source from a
  background thread; ``emit`` never blocks the app (bounded queue, drops counted).
- :class:`TraceIdFilter` stamps the current trace ID on every record it sees.

Nothing here imports the agent: a service only needs this one module.
"""

from __future__ import annotations

import contextvars
import datetime
import functools
import logging
import queue
import random
import re
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRACE_ID: Final[contextvars.ContextVar[str]] = contextvars.ContextVar("obsview_trace_id", default="")

#: A foreign ID is echoed in a response header and stored: keep it short and plain.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_TRACE: Final = "0" * 32
_TEMPLATE_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

#: Standard LogRecord attributes; anything else on a record came from ``extra=``.
_RECORD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName", "traceId"}

ACCESS_RECORD_ATTR: Final = "obsview_access"
"""LogRecord attribute holding the middleware's access record as a dict."""

TRACE: Final = 5
"""Level number used for the seed's TRACE level (below DEBUG); ``logger.log(TRACE, …)``."""


def current_trace_id() -> str:
    """The trace ID of the request being handled in this context, or ``""`` outside one."""
    return _TRACE_ID.get()


def level_name(levelno: int) -> str:
    """Map a Python level number onto the seed's ERROR/WARN/INFO/DEBUG/TRACE."""
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    if levelno >= logging.DEBUG:
        return "DEBUG"
    return "TRACE"


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat(timespec="milliseconds")


def _new_id() -> str:
    # Identifiers, not secrets: the Mersenne Twister is several times cheaper than a syscall.
    return f"{random.getrandbits(128):032x}"


@functools.lru_cache(maxsize=1024)
def _express_template(path: str) -> str:
    """Starlette's ``/api/posts/{id:int}`` → ``/api/posts/:id``, the form obsview shows."""
    return _TEMPLATE_PARAM.sub(r":\1", path)


def error_fields(exc: BaseException) -> dict[str, str]:
    """The ``error`` object obsview reads: type, message and the formatted stack."""
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(exc)),
    }


# --------------------------------------------------------------------------- middleware


class ObsviewMiddleware:
    """Pure ASGI middleware: one access record per HTTP request, trace IDs in and out.

    Records go to ``emit(record)`` when given (in-process agents), else to ``logger``
    (default ``obsview.access``) as one JSON string per request. Set
    ``request.state.user_id`` in the app to have the user recorded. ``trust_forwarded``
    takes the client IP from ``X-Forwarded-For`` — only behind a proxy you control.

    Logging never breaks a request: a failure while building or emitting a record is
    counted in :attr:`failures` and the record dropped.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        emit: Callable[[dict[str, Any]], None] | None = None,
        logger: logging.Logger | None = None,
        service: str = "",
        trust_forwarded: bool = False,
    ) -> None:
        self.app = app
        self.service = service
        self.trust_forwarded = trust_forwarded
        self.failures = 0
        self.records = 0
        self._logger = logger or logging.getLogger("obsview.access")
        self._emit = emit or self._log_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            ids = _read_ids(scope["headers"], self.trust_forwarded)
        except Exception:  # noqa: BLE001 — odd headers must not fail the request
            self.failures += 1
            ids = _RequestIds(_new_id(), "", "", "")
        trace_header = (b"x-trace-id", ids.trace_id.encode())
        status = 0

        async def send_with_trace(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), trace_header]
            await send(message)

        token = _TRACE_ID.set(ids.trace_id)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, send_with_trace)
        except BaseException as exc:
            error = exc
            raise
        finally:
            _TRACE_ID.reset(token)
            try:
                self._emit(self._record(scope, ids, status, time.perf_counter() - started, error))
                self.records += 1
            except Exception:  # noqa: BLE001 — never raise into the app
                self.failures += 1

    def _record(
        self, scope: Scope, ids: _RequestIds, status: int, elapsed_s: float, error: BaseException | None
    ) -> dict[str, Any]:
        cancelled = error is not None and not isinstance(error, Exception)
        if status == 0 and error is not None:
            # A failed app is a 500; a cancelled one (client gone, server shutting down) never
            # answered: 499, nginx's "client closed request".
            status = 499 if cancelled else 500
        duration_ms = round(elapsed_s * 1000.0, 3)
        level = "INFO" if status < 400 else "WARN" if status < 500 else "ERROR"
        query = scope.get("query_string")
        url = scope.get("raw_path") or scope["path"].encode()
        if isinstance(url, bytes):
            url = url.decode("latin-1")
        if query:
            url = f"{url}?{query.decode('latin-1')}"
        client = scope.get("client")
        state = scope.get("state")
        user_id = state.get("user_id") if isinstance(state, dict) else None
        record: dict[str, Any] = {
            "timestamp": _iso(time.time()),
            "level": level,
            "message": "Request completed",
            "traceId": ids.trace_id,
            "request": {
                "id": ids.request_id,
                "method": scope["method"],
                "url": url,
                "ip": ids.forwarded_ip or (client[0] if client else ""),
                "userAgent": ids.user_agent,
                "userId": user_id,
                "correlationId": ids.correlation_id or None,
            },
            "response": {"statusCode": status, "responseTime": duration_ms},
            "duration": duration_ms,
        }
        if self.service:
            record["service"] = self.service
        route = scope.get("route")
        route_path = getattr(route, "path", None)
        if isinstance(route_path, str):
            record["route"] = _express_template(route_path)
        if error is not None and not cancelled:
            record["error"] = error_fields(error)
        return record

    def _log_json(self, record: dict[str, Any]) -> None:
        levelno = _LOG_LEVELS[record["level"]]
        if self._logger.isEnabledFor(levelno):
            # The JSON text serves plain handlers; the dict rides along so JsonFormatter and
            # ObsviewHandler write the record itself instead of a JSON string inside JSON.
            text = orjson.dumps(record, default=str).decode()
            self._logger.log(levelno, text, extra={ACCESS_RECORD_ATTR: record})


@dataclass(slots=True)
class _RequestIds:
    trace_id: str
    request_id: str
    correlation_id: str
    user_agent: str
    forwarded_ip: str = ""


_LOG_LEVELS: Final = {"INFO": logging.INFO, "WARN": logging.WARNING, "ERROR": logging.ERROR}
_ID_HEADERS: Final = frozenset(
    (b"traceparent", b"x-trace-id", b"x-request-id", b"x-correlation-id", b"user-agent", b"x-forwarded-for")
)


def _read_ids(headers: list[tuple[bytes, bytes]], trust_forwarded: bool) -> _RequestIds:
    """One pass over the headers. Trace ID precedence: traceparent, X-Trace-Id,
    X-Request-Id, X-Correlation-Id, else a new random one."""
    found: dict[bytes, str] = {}
    for name, value in headers:  # ASGI header names are lower-case
        if name in _ID_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    trace_id = ""
    parent = found.get(b"traceparent")
    if parent:
        match = _TRACEPARENT.fullmatch(parent.strip())
        if match and match.group(1) != _ZERO_TRACE:
            trace_id = match.group(1)
    request_id = _safe_id(found.get(b"x-request-id"))
    correlation_id = _safe_id(found.get(b"x-correlation-id"))
    if not trace_id:
        trace_id = _safe_id(found.get(b"x-trace-id")) or request_id or correlation_id or _new_id()
    ids = _RequestIds(trace_id, request_id or trace_id[:16], correlation_id, found.get(b"user-agent", ""))
    if trust_forwarded and b"x-forwarded-for" in found:
        ids.forwarded_ip = found[b"x-forwarded-for"].split(",")[0].strip()[:64]
    return ids


def _safe_id(value: str | None) -> str:
    if value is None:
        return ""
    value = value.strip()
    return value if _SAFE_ID.fullmatch(value) else ""


# --------------------------------------------------------------------------- logging


class TraceIdFilter(logging.Filter):
    """Adds ``record.traceId`` (the current request's trace ID) to every record it sees.

    Attach it to a handler (``handler.addFilter(TraceIdFilter())``) so plain formatters can
    use ``%(traceId)s``. :class:`JsonFormatter` and :class:`ObsviewHandler` read the trace
    ID themselves and do not need it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "traceId", ""):
            record.traceId = _TRACE_ID.get()
        return True


def record_to_dict(record: logging.LogRecord, *, service: str = "") -> dict[str, Any]:
    """A LogRecord as the JSON object obsview reads; ``extra=`` fields go at the top level
    (as winston does with its metadata), without overriding the fixed keys. A record logged
    by :class:`ObsviewMiddleware` is its access record as is."""
    access = record.__dict__.get(ACCESS_RECORD_ATTR)
    if isinstance(access, dict):
        return {**access, "logger": record.name}
    data: dict[str, Any] = {
        "timestamp": _iso(record.created),
        "level": level_name(record.levelno),
        "logger": record.name,
        "message": record.getMessage(),
        "traceId": getattr(record, "traceId", "") or _TRACE_ID.get(),
    }
    if service:
        data["service"] = service
    if record.exc_info and record.exc_info[1] is not None:
        data["error"] = error_fields(record.exc_info[1])
    elif record.exc_text:
        data["error"] = {"type": "", "message": "", "stack": record.exc_text}
    if record.stack_info:
        data["stack"] = record.stack_info
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS and key not in data:
            data[key] = value
    return data


def _dumps(data: Mapping[str, Any]) -> bytes:
    # default=str: an extra field holding any object still produces a line, never an error.
    return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (timestamp, level, logger, message, traceId, error, extras)."""

    def __init__(self, *, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        return _dumps(record_to_dict(record, service=self.service)).decode()


class ObsviewHandler(logging.Handler):
    """Ships log records as JSON lines to an agent's TCP source, never blocking the app.

    ``emit`` formats the record in the caller's thread (so the trace ID and the message
    arguments are those of the moment of the call) and puts the line in a bounded queue; a
    background thread writes batches to the socket, reconnecting with capped backoff. When
    the queue is full the line is dropped and counted in :attr:`dropped`. ``close()``
    flushes for at most ``flush_timeout`` seconds; what is left then is counted as dropped.
    ``token``: the agent's token, sent as the first line (``AUTH <token>``) of each
    connection, for an agent that enforces one (a non-loopback ``--tcp`` bind).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5170,
        *,
        queue_size: int = 10_000,
        service: str = "",
        connect_timeout: float = 2.0,
        flush_timeout: float = 2.0,
        max_backoff: float = 5.0,
        level: int = logging.NOTSET,
        token: str | None = None,
    ) -> None:
        super().__init__(level)
        self.address = (host, port)
        self._greeting = f"AUTH {token}\n".encode() if token else b""
        self.service = service
        self.connect_timeout = connect_timeout
        self.flush_timeout = flush_timeout
        self.max_backoff = max_backoff
        self.dropped = 0
        self.sent = 0
        self.errors = 0
        self.reconnects = 0
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=queue_size)
        self._closing = threading.Event()
        self._counter_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._ship, name="obsview-handler", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def emit(self, record: logging.LogRecord) -> None:
        if self._closing.is_set():
            self._count_dropped(1)  # nobody ships any more
            return
        try:
            if self.formatter is not None:
                line = self.formatter.format(record).encode()
            else:
                line = _dumps(record_to_dict(record, service=self.service))
            self._queue.put_nowait(line + b"\n")
        except queue.Full:
            self._count_dropped(1)
        except Exception:  # noqa: BLE001 — logging must never raise into the app
            self.errors += 1

    def _count_dropped(self, lines: int) -> None:
        # App threads and the shipper both drop: a lock keeps the count exact.
        with self._counter_lock:
            self.dropped += lines

    def close(self) -> None:
        if not self._closing.is_set():
            self._closing.set()
            self._thread.join(self.flush_timeout + self.connect_timeout)
            # Lines the shipper could not deliver in time are lost: say so in the counter.
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                self._count_dropped(1)
        super().close()

    # The rest runs on the shipper thread only.

    def _ship(self) -> None:
        backoff = 0.1
        deadline = float("inf")
        pending = b""
        while True:
            closing = self._closing.is_set()
            if closing and deadline == float("inf"):
                deadline = time.monotonic() + self.flush_timeout
            if closing and time.monotonic() >= deadline:
                break
            if not pending:
                pending = self._take_batch()
                if not pending:
                    if closing:
                        break
                    continue
            if self._sock is None and not self._connect():
                if closing:
                    break  # one attempt while closing: close() must not wait on backoff
                self._closing.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            assert self._sock is not None
            try:
                self._sock.sendall(pending)
            except OSError:
                self.errors += 1
                self._disconnect()
                continue  # the batch is retried on the next connection
            self.sent += pending.count(b"\n")
            pending = b""
            backoff = 0.1
        if pending:
            self._count_dropped(pending.count(b"\n"))
        self._disconnect()

    def _take_batch(self, limit: int = 512) -> bytes:
        try:
            lines = [self._queue.get(timeout=0.05)]
        except queue.Empty:
            return b""
        while len(lines) < limit:
            try:
                lines.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return b"".join(lines)

    def _connect(self) -> bool:
        try:
            self._sock = socket.create_connection(self.address, timeout=self.connect_timeout)
            if self._greeting:
                self._sock.sendall(self._greeting)
        except OSError:
            self.errors += 1
            self._disconnect()
            return False
        self.reconnects += 1
        return True

    def _disconnect(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
