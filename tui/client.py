"""The console's websocket client: connect, subscribe, resume after drops, reconnect with backoff.

:class:`AgentClient` owns one connection at a time. On every (re)connect it reads the agent's
``hello``, then subscribes with ``since_seq`` = the last sequence number the console holds (or
the newest it delivered, if later), so a drop costs nothing the agent still buffers (anything
it no longer has comes back as a ``gap`` message); a restarted agent is read from its start. Every change of the connection is reported as an immutable
:class:`ConnectionState` through ``on_state``; every decoded message goes to ``on_message``.

A malformed frame is logged and skipped; a rejected token stops the retries (a wrong token
does not become right by retrying); everything else is retried with capped, jittered backoff,
by websockets' own reconnecting iterator (``async for ws in connect(...)``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Final, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.frames import CloseCode

from obsview.common.backoff import backoff_delay
from obsview.common.protocol import (
    MAX_FRAME_BYTES,
    Dropped,
    Events,
    Gap,
    Hello,
    Message,
    Ping,
    Pong,
    ProtocolError,
    Skipped,
    Spans,
    Subscribe,
    UnknownMessage,
    decode,
    encode,
)

log = logging.getLogger(__name__)

Status = Literal["connecting", "connected", "reconnecting", "auth_failed", "closed"]

AUTH_FAILED_MESSAGE: Final = "wrong or missing token — use --token-file"
HEARTBEAT_S: Final = 5.0
"""How often the console asks the agent to answer (a :class:`Ping`): an agent left unanswering
for two beats is said to be so. websockets' own keepalive closes such a link only after 40 s
(20 s pings, 20 s timeout), and until then the screen looks live while nothing moves."""


class NotConnected(RuntimeError):
    """:meth:`AgentClient.send` while there is no connection; the message says what is going on."""


class _GiveUp(Exception):
    """Ends :meth:`AgentClient.run` without retrying, in ``status``."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status: Status = status


@dataclass(frozen=True, slots=True)
class ConnectionState:
    status: Status
    url: str
    retry_in: float | None = None
    """Seconds until the next attempt, while ``status == "reconnecting"``."""
    attempt: int = 0
    """Failed attempts in a row (0 once a connection has been stable)."""
    last_error: str = ""
    hello: Hello | None = None
    """The agent's last ``hello`` (kept while reconnecting, to show what we were talking to)."""
    gap_total: int = 0
    """Events the agent no longer had when the console resumed, over the client's life."""
    dropped_total: int = 0
    """Events the agent dropped because this console read too slowly, over the client's life."""
    bad_frames: int = 0
    """Frames that did not decode and were skipped."""
    unanswered_s: float | None = None
    """Whole seconds the agent has left this console's ping unanswered, once past two
    heartbeats (its loop blocked, its machine swapping or stopped); None while it answers."""
    replaying_to: int | None = None
    """While the agent still sends what it held when this connection opened (its ``hello``'s
    ``seq``, the console's missed events replayed before live ones): that newest event's
    ``seq``. None once the stream reached it (events, or a gap or skip past it). Kept when
    the connection drops before then: those events never came."""

    def describe(self) -> str:
        """One line for a status bar."""
        if self.status == "connected":
            if self.hello is None:
                return f"connected to {self.url}"
            return f"connected to {self.hello.service or 'agent'}@{self.hello.host} (agent {self.hello.agent_version})"
        if self.status == "connecting":
            return f"connecting to {self.url}…"
        if self.status == "reconnecting":
            when = f"retrying in {self.retry_in:.1f}s" if self.retry_in is not None else "retrying now"
            reason = f" ({self.last_error})" if self.last_error else ""
            what = "lost the agent at" if self.hello is not None else "cannot reach agent at"
            return f"{what} {self.url}{reason}, {when}"
        if self.status == "auth_failed":
            return f"{self.url}: {self.last_error}"
        return f"disconnected from {self.url}"


class AgentClient:
    """Keeps a subscription to one agent alive until :meth:`close` or cancellation of :meth:`run`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        on_message: Callable[[Message], None],
        on_state: Callable[[ConnectionState], None],
        since_seq: Callable[[], int | None],
        client_name: str = "obsview",
        open_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 10.0,
        stable_after: float = 10.0,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self._token = token
        self._on_message = on_message
        self._on_state = on_state
        self._since_seq = since_seq
        self._client_name = client_name
        self._open_timeout = open_timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._stable_after = stable_after
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._jitter = jitter
        self._state = ConnectionState(status="connecting", url=url)
        self._ws: ClientConnection | None = None
        self._delivered_seq = 0
        self._skip_replay = False
        self._delivered_span_seq = 0
        """Spans resume from here: 0 replays every span the agent holds (first connection)."""
        self._closing = asyncio.Event()
        self._attempt = 0
        """Failed attempts in a row (reset once a connection has held ``stable_after``)."""
        self._last_failure = ""
        self._retry_timer: asyncio.TimerHandle | None = None
        self._answered = 0
        """The nonce of the agent's last :class:`Pong` on this connection."""

    @property
    def state(self) -> ConnectionState:
        return self._state

    # ------------------------------------------------------------------ public

    async def run(self) -> None:
        """Connect and stay connected; returns after :meth:`close` or a rejected token.

        websockets' own reconnecting iterator (``async for ws in connect(...)``) opens the
        connections: :meth:`_retry_or_stop` tells it which failures are worth retrying and
        :meth:`_delays` is its backoff (reported as ``reconnecting`` states). A connection
        that was open and dropped waits the same backoff before the next one (immediately
        reconnecting to an agent that accepts and closes would spin)."""
        self._on_state(self._state)
        runner = asyncio.create_task(self._reconnecting(), name=f"obsview-client {self.url}")
        closing = asyncio.create_task(self._closing.wait())
        try:
            await asyncio.wait({runner, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (runner, closing):
                task.cancel()
            results = await asyncio.gather(runner, closing, return_exceptions=True)
            self._cancel_retry_timer()
        stop = results[0]
        if isinstance(stop, _GiveUp):
            self._set_state(status=stop.status, last_error=str(stop), retry_in=None)
            return
        if isinstance(stop, BaseException) and not isinstance(stop, asyncio.CancelledError):
            raise stop
        self._set_state(status="closed", retry_in=None)

    async def _reconnecting(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else None
        try:
            connector = connect(
                self.url,
                additional_headers=headers,
                max_size=MAX_FRAME_BYTES,
                compression=None,
                open_timeout=self._open_timeout,
                close_timeout=2.0,
                proxy=None,  # a loopback agent must never be reached through an HTTP proxy
                process_exception=self._retry_or_stop,
                reconnect_delays=self._delays,
            )
            async for ws in connector:
                self._cancel_retry_timer()
                started = self._clock()
                error = await self._connection(ws)
                if error is None or self._closing.is_set():
                    return
                if self._clock() - started >= self._stable_after:
                    self._attempt = 0  # the connection held for a while: start the backoff afresh
                delay = self._next_delay(error)
                await asyncio.sleep(delay)
                self._set_state(status="reconnecting", retry_in=None)
        except InvalidURI as exc:
            raise _GiveUp("closed", f"bad agent URL: {exc}") from None

    def _retry_or_stop(self, exc: Exception) -> Exception | None:
        """websockets' ``process_exception``: None retries (after :meth:`_delays`), an
        exception ends the loop. A rejected token is final: retrying cannot fix it."""
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status in (401, 403):
                return _GiveUp("auth_failed", AUTH_FAILED_MESSAGE)
            self._last_failure = f"agent answered HTTP {status}"
            return None
        if isinstance(exc, InvalidURI):
            return _GiveUp("closed", f"bad agent URL: {exc}")
        if isinstance(exc, (OSError, TimeoutError, InvalidHandshake)):
            self._last_failure = _describe_error(exc)
            return None
        return exc  # a bug, not the network: let it show

    def _delays(self) -> Generator[float]:
        """websockets' ``reconnect_delays``: this client's backoff, each wait reported."""
        while True:
            yield self._next_delay(self._last_failure)

    def _next_delay(self, error: str) -> float:
        self._attempt += 1
        delay = self._backoff(self._attempt)
        self._set_state(status="reconnecting", retry_in=delay, attempt=self._attempt, last_error=error)
        self._cancel_retry_timer()
        self._count_down(delay)
        return delay

    def _count_down(self, remaining: float) -> None:
        """The state counts the wait down ("retrying in 3s", "2s", "1s"), one change per whole
        second reached, then says "retrying now"."""
        whole = math.ceil(remaining) - 1  # the next whole number of seconds left
        loop = asyncio.get_running_loop()
        if whole >= 1:
            self._retry_timer = loop.call_later(remaining - whole, self._tick, whole)
        else:
            self._retry_timer = loop.call_later(
                remaining, lambda: self._set_state(status="reconnecting", retry_in=None))

    def _tick(self, left: int) -> None:
        self._set_state(status="reconnecting", retry_in=float(left))
        self._count_down(float(left))

    def _cancel_retry_timer(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None

    async def send(self, message: Message) -> None:
        """Send one message to the agent; raise :class:`NotConnected` when there is no link."""
        ws = self._ws
        if ws is None or self._state.status != "connected":
            raise NotConnected(f"not connected to the agent ({self._state.describe()})")
        try:
            await ws.send(encode(message), text=True)
        except ConnectionClosed as exc:
            raise NotConnected(f"the connection to {self.url} closed while sending: {exc}") from None

    async def close(self) -> None:
        """Stop reconnecting and close the current connection; :meth:`run` then returns."""
        self._closing.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    # ------------------------------------------------------------------ one connection

    async def _connection(self, ws: ClientConnection) -> str | None:
        """One open connection's life. Returns why it ended (an error line), None when closed."""
        self._ws = ws
        try:
            await self._session(ws)
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                # Resuming would fetch the same frame again, and again: skip to the agent's
                # newest event on the next connection and report what was skipped as a gap.
                self._skip_replay = True
            return f"connection lost ({exc})"
        except (OSError, TimeoutError) as exc:
            return _describe_error(exc)
        finally:
            self._ws = None
        return None if self._closing.is_set() else "the agent closed the connection"

    async def _session(self, ws: ClientConnection) -> None:
        # The agent speaks first (hello); subscribing after reading it lets a restarted agent
        # (new seq numbering) be resumed from its start instead of from our stale seq.
        try:
            first = self._decode(await asyncio.wait_for(ws.recv(), timeout=self._open_timeout))
        except TimeoutError:
            first = None
        previous_hello = self._state.hello
        if isinstance(first, Hello):
            self._deliver(first)
        since = self._resume_point(first, previous_hello)
        if isinstance(first, Hello) and (
            first.span_seq < self._delivered_span_seq
            or (previous_hello is not None and previous_hello.started_at != first.started_at)
        ):
            self._delivered_span_seq = 0  # a new agent process numbers spans from 1 again
        subscribe = Subscribe(since_seq=since, client=self._client_name, spans=True,
                              spans_since_seq=self._delivered_span_seq)
        await ws.send(encode(subscribe), text=True)
        # "connected" only once subscribed, so anything sent through send() follows the subscribe.
        hello = first if isinstance(first, Hello) else previous_hello
        # The agent replays what it held after ``since`` up to at least its hello's seq.
        replaying_to = (first.seq if isinstance(first, Hello) and since is not None and first.seq > since
                        else None)
        self._set_state(status="connected", retry_in=None, last_error="", hello=hello,
                        replaying_to=replaying_to)
        if first is not None and not isinstance(first, Hello):
            self._deliver(first)
        heartbeat = asyncio.create_task(self._heartbeat(ws), name=f"obsview-heartbeat {self.url}")
        try:
            async for frame in ws:
                message = self._decode(frame)
                if message is not None:
                    self._deliver(message)
        finally:
            heartbeat.cancel()  # (not awaited: closing must not wait a loop turn for it)
            self._set_state(unanswered_s=None)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        """One :class:`Ping` at a time, the next a beat after its pong. The agent answers a
        ping in order with this console's other messages, from its event loop: a pong late by
        two beats means the agent itself is stuck, which is said second by second."""
        self._answered = nonce = 0
        sent_at = self._clock()
        while True:
            await asyncio.sleep(self._heartbeat_s if self._state.unanswered_s is None else 1.0)
            if self._answered == nonce:
                nonce += 1
                sent_at = self._clock()
                await ws.send(encode(Ping(nonce=nonce)), text=True)
            elif (waited := self._clock() - sent_at) >= 2 * self._heartbeat_s:
                self._set_state(unanswered_s=float(math.floor(waited)))

    def _resume_point(self, first: Message | None, previous_hello: Hello | None) -> int | None:
        """The ``since_seq`` to subscribe with on this connection."""
        since = self._since_seq()
        if self._delivered_seq:
            # Events handed to on_message but not yet in the console's buffer (it flushes on a
            # timer) must not come twice: resume after the newest one delivered.
            since = max(since or 0, self._delivered_seq)
        if isinstance(first, Hello) and since is not None and _agent_restarted(previous_hello, first, since):
            self._delivered_seq = 0
            return 0  # a new agent process: everything it holds is new to us
        if self._skip_replay and isinstance(first, Hello) and since is not None:
            self._skip_replay = False
            if first.seq > since:
                self._deliver(Gap(missed=first.seq - since, from_seq=since + 1))
            return first.seq
        return since

    def _decode(self, frame: str | bytes) -> Message | None:
        try:
            message = decode(frame)
        except ProtocolError as exc:
            log.warning("skipping a malformed frame from %s: %s", self.url, exc)
            self._set_state(bad_frames=self._state.bad_frames + 1)
            return None
        if isinstance(message, UnknownMessage):
            log.debug("ignoring a %r message from a newer agent", message.type)
            return None
        return message

    def _deliver(self, message: Message) -> None:
        if isinstance(message, Pong):  # the heartbeat's: the connection's business alone
            self._answered = message.nonce
            self._set_state(unanswered_s=None)
            return
        if isinstance(message, Gap):
            self._set_state(gap_total=self._state.gap_total + message.missed)
        elif isinstance(message, Dropped):
            self._set_state(dropped_total=self._state.dropped_total + message.count)
        elif isinstance(message, Events) and message.events:
            self._delivered_seq = message.events[-1].seq
        elif isinstance(message, Spans) and message.spans:
            self._delivered_span_seq = message.spans[-1].seq
        try:
            self._on_message(message)
        except Exception:
            # A bug in a handler must not take the connection (and every later message) down.
            log.exception("on_message failed for a %r message", message.type)
        until = self._state.replaying_to
        if until is not None and _stream_seq(message) >= until:
            # After on_message: whoever hears of it already holds the last of them.
            self._set_state(replaying_to=None)

    # ------------------------------------------------------------------ helpers

    def _backoff(self, attempt: int) -> float:
        """obsview's one backoff from ``backoff_initial``, capped, with ±25 % jitter so consoles spread out."""
        base = backoff_delay(attempt, self._backoff_initial, self._backoff_max)
        return min(self._backoff_max, base * (0.75 + 0.5 * self._jitter()))

    def _set_state(self, **changes: object) -> None:
        state = replace(self._state, **changes)  # type: ignore[arg-type]
        if state == self._state:
            return
        self._state = state
        try:
            self._on_state(state)
        except Exception:
            log.exception("on_state failed")


def _agent_restarted(previous: Hello | None, hello: Hello, since: int) -> bool:
    """A new numbering of events (a new agent process without a journal numbers from 1
    again): our seq means nothing to it. An agent whose journal kept the numbering going
    (same ``seq_epoch``) is resumed from our seq, restarted or not."""
    if hello.seq < since:
        return True
    if previous is None:
        return False
    if previous.seq_epoch and previous.seq_epoch == hello.seq_epoch:
        return False
    return previous.started_at != hello.started_at


def _stream_seq(message: Message) -> int:
    """The newest event ``seq`` the stream has accounted for with ``message``: received, or
    said to be gone (a gap) or held back by the agent (skipped); 0 when it says nothing."""
    if isinstance(message, Events) and message.events:
        return message.events[-1].seq
    if isinstance(message, Gap):
        return message.from_seq + message.missed - 1
    if isinstance(message, Skipped):
        return message.to_seq
    return 0


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused — is obsview-agent, or the SSH tunnel to it, running?"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
