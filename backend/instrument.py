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
- Spans: given a ``spans`` sink, the middleware starts a server span per request (W3C
  ``traceparent`` in and out) and :func:`span` times the app's own calls (database, cache…)
  as its children; spans leave as OTLP/JSON span objects, which :class:`OtlpSpanExporter`
  ships to an agent's ``/v1/traces``. When an OpenTelemetry SDK is configured, the SDK's
  tracer makes these spans instead (exported by the SDK's own pipeline) and the access
  records carry its trace and span IDs, so obsview cooperates with it rather than competing.

Nothing here imports the agent: a service only needs this one module.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import logging
import logging.handlers
import os
import queue
import random
import re
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from obsview.common.backoff import Backoff
from obsview.common.iso_time import iso_utc

Scope = MutableMapping[str, Any]
ASGIMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIMessage]]
Send = Callable[[ASGIMessage], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_TRACE_ID: Final[contextvars.ContextVar[str]] = contextvars.ContextVar("obsview_trace_id", default="")

#: A foreign ID is echoed in a response header and stored: keep it short and plain.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
_W3C_TRACE_ID = re.compile(r"[0-9a-f]{32}")
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


SpanSink = Callable[[dict[str, Any]], None]
"""Receives each finished span as an OTLP/JSON ``Span`` object (never raises into the app)."""


@dataclass(frozen=True, slots=True)
class _SpanContext:
    trace_id: str
    span_id: str
    sink: SpanSink


_SPAN: Final[contextvars.ContextVar[_SpanContext | None]] = contextvars.ContextVar(
    "obsview_span", default=None
)
_KINDS: Final = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}


def current_trace_id() -> str:
    """The trace ID of the request being handled in this context, or ``""`` outside one."""
    return _TRACE_ID.get()


def current_span_id() -> str:
    """The span being timed in this context (obsview's or the OpenTelemetry SDK's), or ``""``."""
    own = _SPAN.get()
    if own is not None:
        return own.span_id
    if _otel_tracer() is None:
        return ""
    from opentelemetry import trace

    span_context = trace.get_current_span().get_span_context()
    return f"{span_context.span_id:016x}" if span_context.is_valid else ""


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


def _new_id() -> str:
    # Identifiers, not secrets: the Mersenne Twister is several times cheaper than a syscall.
    return f"{random.getrandbits(128):032x}"


def _new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


_OTEL_PROVIDER_ENV: Final = "OTEL_PYTHON_TRACER_PROVIDER"
"""Names a tracer provider the OpenTelemetry API loads on its first ``get_tracer_provider``."""
_OTEL_FROM_ENV: Final = _OTEL_PROVIDER_ENV in os.environ
_otel_sdk_tracer: Any = None
"""The SDK's tracer, once a provider is found: the API sets one once per process and refuses
to replace it, so it is looked up once, not per request."""


def _otel_tracer() -> Any:
    """The OpenTelemetry SDK's tracer when one is configured, else None (API absent, or only
    the API's no-op default provider).

    Called for every request, span and log record, so it costs little when there is nothing
    to find: a provider is set through ``opentelemetry.trace`` (the SDK imports it), so a
    service that has not imported it has none, unless the environment names one for the API
    to load. Importing the API here each time and asking it for its provider cost ~1.1 µs a
    request without an SDK (its environment lookup misses), and ~7.8 µs with one (the SDK
    makes a new tracer on every ``get_tracer``)."""
    global _otel_sdk_tracer
    if _otel_sdk_tracer is not None:
        return _otel_sdk_tracer
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        if not _OTEL_FROM_ENV:
            return None
        try:
            trace = importlib.import_module("opentelemetry.trace")
        except ImportError:
            return None
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    _otel_sdk_tracer = trace.get_tracer("obsview.instrument")
    return _otel_sdk_tracer


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": str(value)}}


def otlp_span(
    trace_id: str, span_id: str, parent_id: str, name: str, kind: str, start_ns: int,
    end_ns: int, attributes: Mapping[str, Any], error: BaseException | None = None,
) -> dict[str, Any]:
    """One span in the OTLP/JSON encoding (``kind``: internal, server, client…)."""
    span: dict[str, Any] = {
        "traceId": trace_id, "spanId": span_id, "name": name, "kind": _KINDS.get(kind, 1),
        "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns),
        "attributes": [_attribute(k, v) for k, v in attributes.items() if v is not None],
    }
    if parent_id:
        span["parentSpanId"] = parent_id
    if error is not None:
        fields = error_fields(error)
        span["status"] = {"code": 2, "message": fields["message"][:500]}
        span["events"] = [{"timeUnixNano": str(end_ns), "name": "exception", "attributes": [
            _attribute("exception.type", fields["type"]),
            _attribute("exception.message", fields["message"]),
            _attribute("exception.stacktrace", fields["stack"]),
        ]}]
    return span


@contextlib.contextmanager
def span(name: str, *, kind: str = "internal", **attributes: Any) -> Iterator[None]:
    """Time a block as a child of the current request's span: ``with span("SELECT posts",
    kind="client", **{"db.system": "postgresql"}):``. An exception marks the span failed and
    goes on. With an OpenTelemetry SDK the SDK's tracer makes the span; outside a traced
    request (no server span) it does nothing."""
    tracer = _otel_tracer()
    if tracer is not None:
        from opentelemetry.trace import SpanKind

        otel_kind = getattr(SpanKind, kind.upper(), SpanKind.INTERNAL)
        with tracer.start_as_current_span(name, kind=otel_kind, attributes=attributes):
            yield
        return
    parent = _SPAN.get()
    if parent is None:
        yield
        return
    context = _SpanContext(parent.trace_id, _new_span_id(), parent.sink)
    token = _SPAN.set(context)
    started = time.time_ns()
    error: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        error = exc
        raise
    finally:
        _SPAN.reset(token)
        _send_span(parent.sink, otlp_span(context.trace_id, context.span_id, parent.span_id, name,
                                          kind, started, time.time_ns(), attributes, error))


def _send_span(sink: SpanSink, data: dict[str, Any]) -> None:
    try:
        sink(data)
    except Exception:  # tracing must never break the app
        pass


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

    Spans: with an OpenTelemetry SDK configured, each request gets an SDK server span (or
    joins the one an outer OpenTelemetry middleware started); else, given ``spans``, the
    middleware makes its own server span and hands it to ``spans`` when the request ends.
    Either way the access record carries the span's trace and span IDs and the response a
    W3C ``traceparent``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        emit: Callable[[dict[str, Any]], None] | None = None,
        logger: logging.Logger | None = None,
        service: str = "",
        trust_forwarded: bool = False,
        spans: SpanSink | None = None,
    ) -> None:
        self.app = app
        self.spans = spans
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
        except Exception:  # odd headers must not fail the request
            self.failures += 1
            ids = _RequestIds(_new_id(), "", "", "")
        server = _ServerSpan.start(scope, ids, self.spans)
        trace_headers = [(b"x-trace-id", ids.trace_id.encode())]
        if server is not None:
            trace_headers.append((b"traceparent", f"00-{ids.trace_id}-{ids.span_id}-01".encode()))
        status = 0

        async def send_with_trace(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *trace_headers]
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
                record = self._record(scope, ids, status, time.perf_counter() - started, error)
                try:
                    # Inside the span still: an OpenTelemetry log handler stamps the record.
                    self._emit(record)
                    self.records += 1
                finally:
                    if server is not None:
                        server.finish(record, error)
            except Exception:  # never raise into the app
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
            "timestamp": iso_utc(time.time()),
            "level": level,
            "message": "Request completed",
            "traceId": ids.trace_id,
            "spanId": ids.span_id or None,
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
    parent_span_id: str = ""
    """The caller's span, from ``traceparent``."""
    span_id: str = ""
    """This request's server span, once one is started."""


class _ServerSpan:
    """The server span of one request: the OpenTelemetry SDK's, or obsview's own."""

    def __init__(self, ids: _RequestIds, started_ns: int, sink: SpanSink | None,
                 otel: Any, detach: Callable[[], None] | None, token: Any) -> None:
        self._ids = ids
        self._started_ns = started_ns
        self._sink = sink
        self._otel = otel
        """The SDK span this middleware started (None when joining an outer one)."""
        self._detach = detach
        self._token = token

    @classmethod
    def start(cls, scope: Scope, ids: _RequestIds, sink: SpanSink | None) -> _ServerSpan | None:
        tracer = _otel_tracer()
        if tracer is not None:
            return cls._start_otel(tracer, scope, ids)
        if sink is None:
            return None
        if not _W3C_TRACE_ID.fullmatch(ids.trace_id):
            # A span needs a W3C trace ID; an X-Request-Id stays the request ID.
            ids.trace_id = _new_id()
            ids.parent_span_id = ""
        ids.span_id = _new_span_id()
        token = _SPAN.set(_SpanContext(ids.trace_id, ids.span_id, sink))
        return cls(ids, time.time_ns(), sink, None, None, token)

    @classmethod
    def _start_otel(cls, tracer: Any, scope: Scope, ids: _RequestIds) -> _ServerSpan:
        from opentelemetry import context, propagate, trace

        current = trace.get_current_span()
        otel = None
        detach = None
        if not current.is_recording():  # no outer OpenTelemetry middleware: start our own
            carrier = {name.decode("latin-1"): value.decode("latin-1")
                       for name, value in scope["headers"]}
            otel = tracer.start_span(f"{scope['method']} {scope['path']}",
                                     context=propagate.extract(carrier),
                                     kind=trace.SpanKind.SERVER)
            token = context.attach(trace.set_span_in_context(otel))
            detach = functools.partial(context.detach, token)
            current = otel
        span_context = current.get_span_context()
        ids.trace_id = f"{span_context.trace_id:032x}"
        ids.span_id = f"{span_context.span_id:016x}"
        return cls(ids, 0, None, otel, detach, None)

    def finish(self, record: dict[str, Any], error: BaseException | None) -> None:
        """End the span with the request's figures (``record``: the access record)."""
        status = record["response"]["statusCode"]
        attributes = {
            "http.request.method": record["request"]["method"],
            "http.route": record.get("route"),
            "url.path": record["request"]["url"].split("?", 1)[0],
            "http.response.status_code": status,
        }
        name = f"{attributes['http.request.method']} {attributes['http.route'] or attributes['url.path']}"
        if self._otel is not None:
            self._finish_otel(name, attributes, status, error)
            return
        if self._token is not None:
            _SPAN.reset(self._token)
        if self._sink is not None:
            data = otlp_span(self._ids.trace_id, self._ids.span_id, self._ids.parent_span_id, name,
                             "server", self._started_ns, time.time_ns(), attributes, error)
            if error is None and status >= 500:
                data["status"] = {"code": 2, "message": f"HTTP {status}"}
            _send_span(self._sink, data)

    def _finish_otel(self, name: str, attributes: dict[str, Any], status: int,
                     error: BaseException | None) -> None:
        from opentelemetry.trace import Status, StatusCode

        otel = self._otel
        otel.update_name(name)
        otel.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error is not None:
            otel.record_exception(error)
        if error is not None or status >= 500:
            otel.set_status(Status(StatusCode.ERROR))
        otel.end()
        if self._detach is not None:
            self._detach()


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
    trace_id = parent_span_id = ""
    parent = found.get(b"traceparent")
    if parent:
        match = _TRACEPARENT.fullmatch(parent.strip())
        if match and match.group(1) != _ZERO_TRACE:
            trace_id, parent_span_id = match.group(1), match.group(2)
    request_id = _safe_id(found.get(b"x-request-id"))
    correlation_id = _safe_id(found.get(b"x-correlation-id"))
    if not trace_id:
        trace_id = _safe_id(found.get(b"x-trace-id")) or request_id or correlation_id or _new_id()
    ids = _RequestIds(trace_id, request_id or trace_id[:16], correlation_id, found.get(b"user-agent", ""),
                      parent_span_id=parent_span_id)
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
        "timestamp": iso_utc(record.created),
        "level": level_name(record.levelno),
        "logger": record.name,
        "message": record.getMessage(),
        "traceId": getattr(record, "traceId", "") or _TRACE_ID.get(),
    }
    span_id = current_span_id()
    if span_id:
        data["spanId"] = span_id
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


class ObsviewHandler(logging.handlers.QueueHandler):
    """Ships log records as JSON lines to an agent's TCP source, never blocking the app.

    The standard library's queue pair: this :class:`~logging.handlers.QueueHandler` formats
    the record in the caller's thread (so the trace ID and the message arguments are those
    of the moment of the call) and puts the line in a bounded queue; a
    :class:`~logging.handlers.QueueListener` thread writes the lines to the socket in
    batches, reconnecting with capped backoff. When the queue is full the line is dropped and
    counted in :attr:`dropped`. A slow agent is TCP backpressure, not a failure: a send goes
    on from the byte where it stopped, so every line arrives once and whole; after a broken
    connection the line that was cut is sent again whole on the next one. ``close()`` flushes
    for at most ``flush_timeout`` seconds; what is left then is counted as dropped.
    ``token``: the agent's token, sent as the first line (``AUTH <token>``) of each
    connection, for an agent that enforces one (a non-loopback ``--tcp`` bind).
    """

    queue: queue.Queue[bytes]

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
        super().__init__(queue.Queue(maxsize=queue_size))
        self.setLevel(level)
        self.service = service
        self.dropped = 0
        self._format_errors = 0
        self._counter_lock = threading.Lock()
        self._shipper = _LineShipper(
            self.queue, (host, port), f"AUTH {token}\n".encode() if token else b"",
            connect_timeout=connect_timeout, flush_timeout=flush_timeout, max_backoff=max_backoff,
            count_dropped=self._count_dropped,
        )
        self._shipper.start()

    @property
    def address(self) -> tuple[str, int]:
        return self._shipper.address

    @property
    def connected(self) -> bool:
        return self._shipper.connected

    @property
    def sent(self) -> int:
        """Lines written to the agent's socket."""
        return self._shipper.sent

    @property
    def reconnects(self) -> int:
        return self._shipper.reconnects

    @property
    def errors(self) -> int:
        """Records that could not be formatted, and failed connects and sends."""
        return self._format_errors + self._shipper.errors

    def prepare(self, record: logging.LogRecord) -> bytes:
        """The record as one JSON line: what the queue carries (never the record itself, which
        other handlers of the logger still see unchanged)."""
        if self.formatter is not None:
            return self.formatter.format(record).encode() + b"\n"
        return _dumps(record_to_dict(record, service=self.service)) + b"\n"

    def enqueue(self, record: Any) -> None:
        if self._shipper.closing:
            self._count_dropped(1)  # nobody ships any more
            return
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self._count_dropped(1)

    def handleError(self, record: logging.LogRecord) -> None:
        self._format_errors += 1  # logging must never raise into (or print over) the app

    def _count_dropped(self, lines: int) -> None:
        # App threads and the shipper both drop: a lock keeps the count exact.
        with self._counter_lock:
            self.dropped += lines

    def close(self) -> None:
        if not self._shipper.closing:
            self._shipper.stop()
            # Lines put after the shipper's last look (a race with close) are lost: counted.
            while True:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
                self._count_dropped(1)
        super().close()


_BATCH_LINES: Final = 512


class _LineShipper(logging.handlers.QueueListener):
    """The listener thread of :class:`ObsviewHandler`: lines in, batches to one socket.

    Lines gather while more are queued (at most ``_BATCH_LINES``), then go in one write.
    ``sent`` counts lines handed whole to the socket. Once :meth:`stop` is called the thread
    has ``flush_timeout`` seconds (and one connect attempt) left; after that it counts what
    it is handed as dropped instead of sending it, so ``stop`` returns in bounded time.
    """

    def __init__(
        self, lines: queue.Queue[bytes], address: tuple[str, int], greeting: bytes, *,
        connect_timeout: float, flush_timeout: float, max_backoff: float,
        count_dropped: Callable[[int], None],
    ) -> None:
        super().__init__(lines)
        self.lines = lines
        self.address = address
        self.connect_timeout = connect_timeout
        self.flush_timeout = flush_timeout
        self.sent = 0
        self.errors = 0
        self.reconnects = 0
        self._greeting = greeting
        self._count_dropped = count_dropped
        self._retry = Backoff(0.1, max_backoff)
        self._batch: list[bytes] = []
        self._sock: socket.socket | None = None
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._given_up = False

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def handle(self, record: Any) -> None:
        if self._gave_up():
            self._count_dropped(1)
            return
        self._batch.append(record)
        if len(self._batch) >= _BATCH_LINES or self.lines.empty():
            self._flush()

    def enqueue_sentinel(self) -> None:
        # The stdlib puts it with put_nowait, which fails on a full queue; the thread frees
        # room at once after the deadline (it only counts then), so this wait is bounded.
        while True:
            try:
                super().enqueue_sentinel()
                return
            except queue.Full:
                time.sleep(0.01)

    def stop(self) -> None:
        self._deadline = time.monotonic() + self.flush_timeout
        self._closing.set()
        super().stop()  # the thread has handled every line queued before the sentinel
        self._flush()  # the batch it was still gathering
        self._disconnect(mid_line=False)

    def _gave_up(self) -> bool:
        return self._given_up or (self._closing.is_set() and time.monotonic() >= self._deadline)

    def _flush(self) -> None:
        data = b"".join(self._batch)
        self._batch.clear()
        if data:
            try:
                self._write(data)
            except Exception:  # a bug here must not end the thread: lines would pile up
                self.errors += 1
                self._count_dropped(data.count(b"\n"))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            if self._gave_up():
                self._count_dropped(data.count(b"\n", offset))
                self._disconnect(mid_line=offset > 0 and data[offset - 1] != 0x0A)
                return
            if self._sock is None and not self._connect():
                if self._closing.is_set():
                    self._given_up = True  # one attempt while closing: close() must not wait on backoff
                else:
                    self._closing.wait(self._retry.next())
                continue
            assert self._sock is not None
            try:
                offset += self._sock.send(view[offset:])
            except TimeoutError:
                continue  # the agent reads slowly: wait on, and go on from this very byte
            except OSError:
                self.errors += 1
                self._disconnect(mid_line=False)  # the peer is gone: it reads nothing more
                offset = data.rfind(b"\n", 0, offset) + 1  # the cut line again, whole
        self.sent += data.count(b"\n")
        self._retry.reset()

    def _connect(self) -> bool:
        try:
            self._sock = socket.create_connection(self.address, timeout=self.connect_timeout)
            if self._greeting:
                self._sock.sendall(self._greeting)
        except OSError:
            self.errors += 1
            self._disconnect(mid_line=False)
            return False
        self.reconnects += 1
        return True

    def _disconnect(self, *, mid_line: bool) -> None:
        """Close the socket; ``mid_line``: part of a line was written, so reset the connection
        rather than end it, and the agent drops that part instead of reading it as a line."""
        if self._sock is not None:
            try:
                if mid_line:
                    self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self._sock.close()
            except OSError:
                pass
            finally:
                self._sock = None


class OtlpSpanExporter:
    """A span sink for :class:`ObsviewMiddleware` that ships spans to an agent's OTLP
    receiver (``POST /v1/traces``, OTLP/JSON) from a background thread.

    Calling it never blocks the app: spans wait in a bounded queue (a full queue drops the
    span, counted in :attr:`dropped`); the thread posts batches every ``interval`` seconds.
    A batch the agent does not take (down, or an error answer) is dropped and counted too.
    """

    def __init__(
        self, url: str = "http://127.0.0.1:4318/v1/traces", *, service: str = "",
        queue_size: int = 10_000, timeout: float = 2.0, interval: float = 0.5,
    ) -> None:
        self.url = url
        self.service = service
        self.timeout = timeout
        self.interval = interval
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._ship, name="obsview-spans", daemon=True)
        self._thread.start()

    def __call__(self, span: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(span)
        except queue.Full:
            self._count_dropped(1)

    def close(self) -> None:
        """Ship what is queued (within ``timeout``), then stop."""
        self._closing.set()
        self._thread.join(self.timeout + self.interval + 1)

    def _count_dropped(self, spans: int) -> None:
        with self._lock:  # app threads and the shipper both drop
            self.dropped += spans

    def _ship(self) -> None:
        while True:
            closing = self._closing.wait(self.interval)
            batch: list[dict[str, Any]] = []
            while len(batch) < 1000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch:
                self._post(batch)
            if closing and self._queue.empty():
                return

    def _post(self, spans: list[dict[str, Any]]) -> None:
        resource = {"attributes": [_attribute("service.name", self.service)] if self.service else []}
        body = orjson.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [
            {"scope": {"name": "obsview.instrument"}, "spans": spans}]}]})
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (OSError, ValueError):
            self.errors += 1
            self._count_dropped(len(spans))
            return
        self.sent += len(spans)
