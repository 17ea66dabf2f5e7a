"""The agent's one port: the console websocket stream and plain HTTP endpoints.

Security checks run in ``process_request``, before the handshake completes, so a foreign Host
on a loopback bind or a bad Origin (403) or a missing/wrong token (401) never sees a byte of
data, on the websocket and on the
HTTP endpoints alike. Each console gets an :class:`Outbox` and one sender task; the ingest
path only fills outboxes and never awaits a console's socket.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, cast
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from obsview.backend.addresses import (
    HOST_REFUSED,
    format_host_port,
    host_header_allowed,
    is_loopback,
)
from obsview.backend.auth import bearer_matches
from obsview.backend.connection_slots import ConnectionSlots, Slot, fit_to_descriptors
from obsview.backend.serving.frames import MAX_MESSAGE_BYTES, event_frames, span_frames
from obsview.backend.serving.outbox import Outbox, Replay
from obsview.backend.serving.queries import QueryRunner, QueryView
from obsview.common.protocol import (
    MAX_FRAME_BYTES,
    Ack,
    Alerts,
    CancelQuery,
    CatchUp,
    Error,
    ExpireSilence,
    Gap,
    Health,
    Hello,
    LogEvent,
    Message,
    Metrics,
    Ping,
    Pong,
    ProtocolError,
    Query,
    Silence,
    Skipped,
    SpanGap,
    StatesQuery,
    Subscribe,
    Unack,
    UnknownMessage,
    decode,
    encode,
)
from obsview.common.spans import Span

log = logging.getLogger(__name__)

REPLAY_PAGE: Final = 1000
CLOSE_TIMEOUT_S: Final = 1.0
"""A stalled console must not hold the agent's shutdown for the library's default 10 s."""
SHUTDOWN_GRACE_S: Final = 0.5
"""How long consoles get to finish the closing handshake before their sockets are aborted."""
MAX_CONNECTIONS: Final = 256
"""Consoles and HTTP requests at once (fewer under a low ``ulimit -n``: half of what is left)."""
HTTP_RESERVE_SHARE: Final = 8
"""One slot in this many is kept from consoles for HTTP requests (``/api/health``…), which
hold theirs for a moment: consoles that never leave cannot lock the endpoints out."""
MAX_UNPROVEN: Final = 64
"""Connections that have not yet passed the Host/Origin/token checks (handshaking, idle)."""
MAX_UNPROVEN_PER_PEER: Final = 16

AlertCommand = Ack | Unack | Silence | ExpireSilence


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    content_type: str
    body: bytes


class AgentView(QueryView, Protocol):
    """What the server needs from the agent (the agent implements it; tests may too)."""

    def hello(self) -> Hello: ...

    def metrics_message(self, *, with_history: bool) -> Metrics: ...

    def health_message(self) -> Health: ...

    def alerts_message(self) -> Alerts: ...

    def last_seq(self) -> int: ...

    async def events_since(self, seq: int, limit: int) -> tuple[list[LogEvent], int]: ...

    def last_span_seq(self) -> int: ...

    def spans_since(self, seq: int, limit: int) -> tuple[list[Span], int]: ...

    def command(self, message: AlertCommand) -> Error | None:
        """Apply an alert command; an :class:`Error` for that console alone if it failed."""
        ...

    def http_get(self, path: str) -> HttpReply | None: ...


class _AdmittedConnection(ServerConnection):
    """A connection that takes a slot on connect, before any byte is read, and is aborted at
    once when refused: a flood of idle sockets never holds more descriptors than the caps."""

    admission: ConnectionSlots
    slot: Slot | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        self.slot = self.admission.admit(
            str(peer[0]) if isinstance(peer, tuple) else "", cast(asyncio.Transport, transport).abort
        )
        if self.slot is None:
            cast(asyncio.Transport, transport).abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.slot is not None:
            self.slot.release()
        super().connection_lost(exc)


@dataclass(slots=True, eq=False)
class _Client:
    ws: ServerConnection
    outbox: Outbox
    queries: QueryRunner
    subscribed: bool = False
    spans: bool = False
    """The console asked for spans too."""


class StreamServer:
    def __init__(
        self,
        view: AgentView,
        listen: tuple[str, int],
        *,
        token: str | None,
        allowed_origins: Sequence[str] = (),
        allowed_hosts: Sequence[str] = (),
        client_queue_events: int = 10_000,
    ) -> None:
        self._view = view
        self._listen = listen
        self._token = token
        self._allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self._allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._check_host = is_loopback(listen[0])
        """A loopback bind answers only requests addressed to this machine (DNS rebinding);
        any other bind has a token, which a rebinding page does not know."""
        self._client_queue_events = client_queue_events
        self._clients: set[_Client] = set()
        self.admission = ConnectionSlots(
            fit_to_descriptors(MAX_CONNECTIONS, share=0.5),
            unproven_limit=MAX_UNPROVEN, unproven_per_peer=MAX_UNPROVEN_PER_PEER,
        )
        self.max_consoles = self.admission.limit - max(2, self.admission.limit // HTTP_RESERVE_SHARE)
        """Consoles at once; a console past it is answered 503 (and retries), not dropped."""
        self.consoles_refused = 0
        self._server: Server | None = None
        self.port = 0
        self.connections_total = 0
        self.dropped_total = 0
        """Events dropped for slow consoles, summed over every connection ever."""
        self.oversized_total = 0
        """State messages not sent because they would exceed MAX_FRAME_BYTES."""
        self.spans_dropped_total = 0
        self.holding = False
        """Events are not streamed live (the agent is catching up on a backlog): consoles
        get windows of the newest ones (:meth:`send_newest`)."""
        self.window = 0
        """The window a console subscribing meanwhile gets."""
        self.skipped_total = 0
        """Events not streamed to consoles while catching up (summed over consoles)."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Server:
        """Bind the port (raises OSError, e.g. port in use); serving starts at once."""
        ws_logger = logging.getLogger(f"{__name__}.websockets")
        ws_logger.setLevel(logging.WARNING)  # it would log every handshake at INFO
        host, port = self._listen
        admission = self.admission

        class Connection(_AdmittedConnection):
            pass

        Connection.admission = admission
        self._server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            max_size=MAX_MESSAGE_BYTES,
            compression=None,
            close_timeout=CLOSE_TIMEOUT_S,
            logger=ws_logger,
            create_connection=Connection,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self._server

    async def close(self) -> None:
        """Close every connection and the listening socket within about SHUTDOWN_GRACE_S.

        websockets' own close waits for the write buffer to drain before sending the close
        frame, so a console that stopped reading would hold it until the keepalive ping
        times out (tens of seconds): such connections are aborted instead.
        """
        if self._server is None:
            return
        self._server.close()
        try:
            await asyncio.wait_for(self._server.wait_closed(), SHUTDOWN_GRACE_S)
        except TimeoutError:
            for client in list(self._clients):
                client.ws.transport.abort()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://{format_host_port(self._listen[0], self.port)}"

    @property
    def clients(self) -> int:
        return len(self._clients)

    def queued_events(self) -> list[int]:
        """Events waiting in each console's outbox (for tests and self-metrics)."""
        return [client.outbox.queued_events for client in self._clients]

    # ------------------------------------------------------------------ broadcasting

    def broadcast_events(self, events: Sequence[LogEvent]) -> None:
        """Hand a batch to every subscribed console. Never awaits: called from ingest."""
        if not events or not self._clients or self.holding:
            return
        frames: list[tuple[bytes, list[LogEvent]]] | None = None
        for client in self._clients:
            if not client.subscribed:
                continue
            if frames is None:  # encoded once, for every console
                frames = event_frames(events, self._client_queue_events)
            for frame, chunk in frames:
                self.dropped_total += client.outbox.put_events(frame, len(chunk), chunk[-1].seq)

    def hold(self, window: int) -> None:
        """Stop streaming events live (a backlog is being read); a console subscribing
        meanwhile gets the newest ``window`` of them."""
        self.holding = True
        self.window = window
        self.send_newest(window)  # what is queued (the batch that began it) included

    def send_newest(self, window: int) -> None:
        """Every subscribed console gets the newest ``window`` events from where its stream
        stands, told what it skips; what was queued for it and not sent is replaced."""
        until = self._view.last_seq()
        for client in self._clients:
            if client.subscribed:
                self.dropped_total -= client.outbox.forget_events()
                client.outbox.put_replay(Replay(client.outbox.sent_seq, until, newest=window))

    def release(self, window: int) -> None:
        """Stream live again, after the newest ``window`` events."""
        self.holding = False
        self.send_newest(window)

    def broadcast_catch_up(self, message: CatchUp) -> None:
        """How far the catch-up is, to every console (an unsent older one is replaced)."""
        if self._clients:
            frame = encode(message)
            for client in self._clients:
                client.outbox.put_state(message.type, frame)

    def broadcast_spans(self, spans: Sequence[Span]) -> None:
        """Hand a batch of spans to every console that asked for spans. Never awaits."""
        if not spans or not self._clients:
            return
        frames: list[tuple[bytes, list[Span]]] | None = None
        for client in self._clients:
            if not (client.subscribed and client.spans):
                continue
            if frames is None:  # encoded once, for every console
                frames = span_frames(spans, self._client_queue_events)
            for frame, chunk in frames:
                self.spans_dropped_total += client.outbox.put_spans(frame, len(chunk))

    def broadcast(self, message: Metrics | Health | Alerts) -> None:
        """Latest state to every console; an unsent older one of the same type is replaced."""
        if self._clients:
            self._offer_state(self._clients, message)

    def _offer_state(self, clients: Iterable[_Client], message: Metrics | Health | Alerts) -> None:
        """Queue ``message`` for ``clients``, or, if it would exceed the frame cap (which the
        bounds on operator input and metric series should make impossible), an error instead:
        a console would close on it and meet it again on every reconnect."""
        frame = encode(message)
        if len(frame) > MAX_FRAME_BYTES:
            self.oversized_total += 1
            log.error("a %s message of %d bytes is over the %d-byte frame cap: not sent",
                      message.type, len(frame), MAX_FRAME_BYTES)
            error = encode(Error(code="frame_too_big",
                                 message=f"the agent's {message.type} ({len(frame)} bytes) is too big to send"))
            for client in clients:
                client.outbox.put_control(error)
            return
        for client in clients:
            client.outbox.put_state(message.type, frame)

    # ------------------------------------------------------------------ HTTP + security

    def _origin_allowed(self, origin: str | None) -> bool:
        if origin is None:
            return True  # not a browser: CLI clients and the console send none
        normalized = origin.rstrip("/").lower()
        if normalized in self._allowed_origins:
            return True
        parts = urlsplit(normalized)
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        return (
            parts.scheme in ("http", "https")
            and is_loopback(parts.hostname or "")
            and is_loopback(self._listen[0])
            and port == self.port
        )

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self._check_host and not _host_allowed(request.headers.get_all("Host"), self._allowed_hosts):
            return _reply(403, "text/plain; charset=utf-8", f"{HOST_REFUSED}\n".encode())
        if not self._origin_allowed(request.headers.get("Origin")):
            return _reply(403, "text/plain; charset=utf-8", b"Origin not allowed\n")
        if self._token is not None and not bearer_matches(
            request.headers.get("Authorization"), self._token
        ):
            response = _reply(401, "text/plain; charset=utf-8", b"missing or wrong bearer token\n")
            response.headers["WWW-Authenticate"] = 'Bearer realm="obsview"'
            return response
        if request.method != "GET":
            response = _reply(405, "text/plain; charset=utf-8", b"only GET is supported\n")
            response.headers["Allow"] = "GET"
            return response
        if "websocket" in request.headers.get("Upgrade", "").lower():
            # Proven slots are consoles (an HTTP request never proves its slot).
            if self.admission.open - self.admission.unproven >= self.max_consoles:
                self.consoles_refused += 1
                response = _reply(503, "text/plain; charset=utf-8",
                                  f"{self.max_consoles} consoles are connected already; "
                                  "close one or retry later\n".encode())
                response.headers["Retry-After"] = "5"
                return response
            slot = cast(_AdmittedConnection, connection).slot
            if slot is not None:
                slot.prove()  # a console now: it holds its slot until it leaves
            return None  # the websocket handshake proceeds
        reply = self._view.http_get(urlsplit(request.path).path)
        if reply is None:
            return _reply(404, "text/plain; charset=utf-8", b"not found\n")
        return _reply(reply.status, reply.content_type, reply.body)

    # ------------------------------------------------------------------ one console

    async def _handle(self, ws: ServerConnection) -> None:
        outbox = Outbox(self._client_queue_events)

        async def send(frame: bytes) -> None:
            await ws.send(frame, text=True)

        client = _Client(ws, outbox, QueryRunner(self._view, send, outbox.put_control))
        self._clients.add(client)
        self.connections_total += 1
        view = self._view
        client.outbox.put_control(encode(view.hello()))
        self._offer_state((client,), view.metrics_message(with_history=True))
        self._offer_state((client,), view.health_message())
        self._offer_state((client,), view.alerts_message())
        sender = asyncio.create_task(self._send_loop(client), name="obsview-client-sender")
        try:
            await self._receive_loop(client)
        finally:
            self._clients.discard(client)
            sender.cancel()
            await asyncio.gather(sender, client.queries.close(), return_exceptions=True)

    async def _send_loop(self, client: _Client) -> None:
        try:
            while True:
                item = await client.outbox.next()
                if isinstance(item, Replay):
                    await self._replay(client, item)
                else:
                    await client.ws.send(item, text=True)
        except ConnectionClosed:
            return

    async def _replay(self, client: _Client, replay: Replay) -> None:
        """Send what the console missed, page by page, owning the socket meanwhile."""
        await self._replay_events(client, replay)
        await self._replay_spans(client, replay)

    async def _replay_events(self, client: _Client, replay: Replay) -> None:
        outbox = client.outbox
        cursor = replay.since_seq
        if replay.newest:
            cursor = outbox.sent_seq  # the window starts where this console's stream stands
            start = replay.until_seq - replay.newest
            if start > cursor:
                self.skipped_total += start - cursor
                await client.ws.send(encode(Skipped(count=start - cursor, from_seq=cursor + 1,
                                                    to_seq=start)), text=True)
                cursor = outbox.sent_seq = start
        while cursor < replay.until_seq:
            events, missed = await self._view.events_since(cursor, REPLAY_PAGE)
            if missed:
                await client.ws.send(encode(Gap(missed=missed, from_seq=cursor + 1)), text=True)
            events = [event for event in events if event.seq <= replay.until_seq]
            if not events:
                return
            cursor = events[-1].seq
            for frame, _chunk in event_frames(events, self._client_queue_events):
                await client.ws.send(frame, text=True)
            outbox.sent_seq = cursor

    async def _replay_spans(self, client: _Client, replay: Replay) -> None:
        cursor = replay.spans_since
        while cursor < replay.spans_until:
            spans, missed = self._view.spans_since(cursor, REPLAY_PAGE)
            spans = [span for span in spans if span.seq <= replay.spans_until]
            if missed:
                await client.ws.send(encode(SpanGap(missed=missed, from_seq=cursor + 1)), text=True)
            if not spans:
                return
            cursor = spans[-1].seq
            for frame, _chunk in span_frames(spans, self._client_queue_events):
                await client.ws.send(frame, text=True)

    async def _receive_loop(self, client: _Client) -> None:
        try:
            async for raw in client.ws:
                try:
                    message = decode(raw)
                except ProtocolError as exc:
                    await client.ws.close(CloseCode.INVALID_DATA, _reason(str(exc)))
                    return
                self._on_message(client, message)
        except ConnectionClosed:
            return  # includes 1009 for an oversized message, closed by websockets itself

    def _on_message(self, client: _Client, message: Message | UnknownMessage) -> None:
        if isinstance(message, Subscribe):
            self._subscribe(client, message)
        elif isinstance(message, Query):
            client.queries.start(message)
        elif isinstance(message, StatesQuery):
            client.queries.start_states(message)
        elif isinstance(message, CancelQuery):
            client.queries.cancel(message)
        elif isinstance(message, Ping):
            client.outbox.put_control(encode(Pong(nonce=message.nonce)))
        elif isinstance(message, (Ack, Unack, Silence, ExpireSilence)):
            error = self._view.command(message)
            if error is not None:
                client.outbox.put_control(encode(error))
                return
            self.broadcast(self._view.alerts_message())
        else:
            log.debug("ignoring a %r message from a console", message.type)

    def _subscribe(self, client: _Client, message: Subscribe) -> None:
        client.outbox.clear_events()
        # Subscribing and reading the boundaries happen with no await in between, so every
        # event (span) after ``until`` arrives live and every one up to it comes by replay.
        client.subscribed = True
        client.spans = message.spans
        until = self._view.last_seq()
        since = until if message.since_seq is None else min(max(0, message.since_seq), until)
        spans_until = self._view.last_span_seq() if message.spans else 0
        spans_since = spans_until
        if message.spans and message.spans_since_seq is not None:
            spans_since = min(max(0, message.spans_since_seq), spans_until)
        client.outbox.sent_seq = since
        if since < until or spans_since < spans_until:
            window = self.window if self.holding else 0
            client.outbox.put_replay(Replay(since, until, spans_since, spans_until, window))


def _host_allowed(values: list[str], allowed: frozenset[str]) -> bool:
    """One Host header naming this machine, or none (two are refused, not guessed at)."""
    return len(values) <= 1 and host_header_allowed(values[0] if values else None, allowed)


def _reply(status: int, content_type: str, body: bytes) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def _reason(text: str) -> str:
    """A close reason must fit in 123 bytes of UTF-8."""
    return text.encode()[:120].decode(errors="ignore")
