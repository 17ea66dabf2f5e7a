from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from obsview.common.protocol import (
    MAX_FRAME_BYTES,
    Ack,
    Dropped,
    Events,
    Gap,
    Hello,
    LogEvent,
    Message,
    Spans,
    Subscribe,
    decode,
    encode,
    encode_events,
)
from obsview.common.spans import Span
from obsview.tui.client import AUTH_FAILED_MESSAGE, AgentClient, ConnectionState, NotConnected

Handler = Callable[[ServerConnection], Awaitable[None]]


def hello(seq: int = 0, started_at: float = 1000.0) -> bytes:
    return encode(Hello(agent_version="0.1.0", host="box", service="blog", seq=seq, started_at=started_at))


def events(*seqs: int) -> bytes:
    return encode_events([LogEvent(ts=float(s), level="INFO", message=f"e{s}", seq=s) for s in seqs])


@asynccontextmanager
async def agent(
    handler: Handler, process_request: Callable[[ServerConnection, Request], Response | None] | None = None,
    max_size: int | None = 1 << 20,
) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, process_request=process_request, max_size=max_size) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


class Recorder:
    """Collects what the client reports and lets a test wait for it with a deadline."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.states: list[ConnectionState] = []
        self.last_seq: int | None = None
        self._changed = asyncio.Event()

    def on_message(self, message: Message) -> None:
        self.messages.append(message)
        if isinstance(message, Events) and message.events:
            self.last_seq = message.events[-1].seq
        self._changed.set()

    def on_state(self, state: ConnectionState) -> None:
        self.states.append(state)
        self._changed.set()

    def since_seq(self) -> int | None:
        return self.last_seq

    def client(self, url: str, **options: object) -> AgentClient:
        options = {"backoff_initial": 0.01, "backoff_max": 0.05, "open_timeout": 2.0, **options}
        return AgentClient(url, on_message=self.on_message, on_state=self.on_state,
                           since_seq=self.since_seq, **options)  # type: ignore[arg-type]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                # Woken by the client's callbacks; the short poll covers server-side conditions.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.02)

    def seqs(self) -> list[int]:
        return [e.seq for m in self.messages if isinstance(m, Events) for e in m.events]


@asynccontextmanager
async def running(client: AgentClient) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(client.run())
    try:
        yield task
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_subscribes_after_hello_and_delivers_messages() -> None:
    subscribes: list[Subscribe] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello(seq=0))
        message = decode(await ws.recv())
        assert isinstance(message, Subscribe)
        subscribes.append(message)
        await ws.send(events(1, 2, 3))
        await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        client = recorder.client(url)
        async with running(client):
            await recorder.wait_for(lambda: recorder.seqs() == [1, 2, 3])
            assert client.state.status == "connected"
            assert client.state.hello is not None and client.state.hello.service == "blog"
            assert "blog@box" in client.state.describe()
    # Spans too, all the agent holds on a first connection.
    assert subscribes == [Subscribe(since_seq=None, client="obsview", spans=True, spans_since_seq=0)]
    assert isinstance(recorder.messages[0], Hello)
    assert [s.status for s in recorder.states][:2] == ["connecting", "connected"]
    assert recorder.states[-1].status == "closed"


async def test_spans_resume_after_the_last_span_and_restart_with_a_new_agent() -> None:
    asked: list[int | None] = []

    def spans(*seqs: int) -> bytes:
        return encode(Spans(tuple(Span(trace_id="ab" * 16, span_id=f"{s:016x}", name="op",
                                       start=1.0, end=2.0, seq=s) for s in seqs)))

    async def handler(ws: ServerConnection) -> None:
        # Third connection: a new agent process (another start time, fewer spans).
        await ws.send(encode(Hello(agent_version="0.1.0", host="box", service="blog", seq=0,
                                   started_at=1000.0 if len(asked) < 2 else 2000.0,
                                   span_seq=7 if len(asked) < 2 else 1)))
        subscribe = decode(await ws.recv())
        assert isinstance(subscribe, Subscribe) and subscribe.spans
        asked.append(subscribe.spans_since_seq)
        if len(asked) < 3:
            await ws.send(spans(len(asked) * 2 + 4, len(asked) * 2 + 5))
            await ws.close()
        else:
            await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        client = recorder.client(url)
        async with running(client):
            await recorder.wait_for(lambda: len(asked) == 3)
    assert asked == [0, 7, 0]


async def test_resumes_from_the_last_seq_after_the_agent_drops_the_connection() -> None:
    since: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello(seq=3))
        subscribe = decode(await ws.recv())
        assert isinstance(subscribe, Subscribe)
        since.append(subscribe.since_seq)
        if len(since) == 1:
            await ws.send(events(1, 2, 3))
            await ws.close()  # the agent goes away mid-stream
        else:
            await ws.send(events(4, 5))
            await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        client = recorder.client(url)
        async with running(client):
            await recorder.wait_for(lambda: recorder.seqs() == [1, 2, 3, 4, 5])
    assert since == [None, 3]
    statuses = [s.status for s in recorder.states]
    assert statuses.index("reconnecting") < len(statuses) - statuses[::-1].index("connected")


async def test_a_restarted_agent_is_read_from_its_start() -> None:
    since: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        restarted = bool(since)
        await ws.send(hello(seq=2 if restarted else 500, started_at=2000.0 if restarted else 1000.0))
        subscribe = decode(await ws.recv())
        assert isinstance(subscribe, Subscribe)
        since.append(subscribe.since_seq)
        if not restarted:
            await ws.send(events(499, 500))
            await ws.close()
        else:
            await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        async with running(recorder.client(url)):
            await recorder.wait_for(lambda: len(since) == 2)
    assert since == [None, 0]


async def test_backoff_grows_with_jitter_and_is_capped() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    client = recorder.client(f"ws://127.0.0.1:{port}", backoff_initial=0.01, backoff_max=0.04, jitter=lambda: 1.0)
    async with running(client):
        await recorder.wait_for(lambda: sum(s.retry_in is not None for s in recorder.states) >= 5)
    waits = [s for s in recorder.states if s.retry_in is not None]
    assert [s.attempt for s in waits[:5]] == [1, 2, 3, 4, 5]
    # jitter()=1.0 is the +25 % end: 0.0125, 0.025, 0.05→cap 0.04, then capped.
    assert [s.retry_in for s in waits[:5]] == pytest.approx([0.0125, 0.025, 0.04, 0.04, 0.04])
    assert all(s.status == "reconnecting" for s in waits)
    assert "connection refused" in waits[0].last_error
    assert "cannot reach agent at" in waits[0].describe()


async def test_the_wait_before_a_retry_counts_down() -> None:
    """Issue 13.11: "retrying in 3s" stayed "3s" until the attempt; it counts 3, 2, 1."""
    from obsview.tui.widgets.status_bar import describe_connection

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    client = recorder.client(f"ws://127.0.0.1:{port}", backoff_initial=2.0, backoff_max=3.0,
                             jitter=lambda: 1.0)  # +25 %: a 2.5 s wait
    async with running(client):
        await recorder.wait_for(lambda: any(s.attempt == 2 for s in recorder.states), timeout=10)
    # (Then "retrying now", unless the attempt, due at the same moment, fails first.)
    first = [s for s in recorder.states if s.attempt == 1 and s.retry_in is not None]
    assert [s.retry_in for s in first] == [2.5, 2.0, 1.0]
    assert [describe_connection(s)[1].rsplit(", ", 1)[-1] for s in first] == [
        "retrying in 3s", "retrying in 2s", "retrying in 1s"]


async def test_backoff_restarts_after_a_stable_connection() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello())
        await ws.recv()
        await ws.close()

    now = [0.0]

    def clock() -> float:
        now[0] += 100.0  # every connection looks long-lived
        return now[0]

    recorder = Recorder()
    async with agent(handler) as url:
        async with running(recorder.client(url, clock=clock)):
            await recorder.wait_for(lambda: sum(s.retry_in is not None for s in recorder.states) >= 3)
    assert {s.attempt for s in recorder.states if s.retry_in is not None} == {1}


async def test_rejected_token_stops_without_retrying() -> None:
    attempts = 0

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        nonlocal attempts
        attempts += 1
        if request.headers.get("Authorization") != "Bearer right":
            return connection.respond(401, "missing or wrong bearer token\n")
        return None

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello())
        await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler, process_request) as url:
        client = recorder.client(url, token="wrong")
        await asyncio.wait_for(client.run(), timeout=5)  # returns by itself: no retry storm
        assert client.state.status == "auth_failed"
        assert client.state.last_error == AUTH_FAILED_MESSAGE
        assert "--token-file" in client.state.describe()
        assert attempts == 1
        good = recorder.client(url, token="right")
        async with running(good):
            await recorder.wait_for(lambda: good.state.status == "connected")


async def test_malformed_frames_are_skipped_and_counted() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello())
        await ws.recv()
        await ws.send("not json at all")
        await ws.send('{"v":1,"type":"events","events":[{"bad":1}]}')
        await ws.send('{"v":99,"type":"events","events":[]}')
        await ws.send('{"v":1,"type":"from_the_future","x":1}')
        await ws.send(events(7))
        await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        client = recorder.client(url)
        async with running(client):
            await recorder.wait_for(lambda: recorder.seqs() == [7])
            assert client.state.bad_frames == 3
            assert client.state.status == "connected"


async def test_gap_and_dropped_are_totalled() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello())
        await ws.recv()
        await ws.send(encode(Gap(missed=40, from_seq=1)))
        await ws.send(encode(Dropped(count=5, total=5)))
        await ws.send(encode(Dropped(count=2, total=7)))
        await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        client = recorder.client(url)
        async with running(client):
            await recorder.wait_for(lambda: client.state.dropped_total == 7)
            assert client.state.gap_total == 40


async def test_send_reaches_the_agent_and_fails_clearly_when_disconnected() -> None:
    received: list[Message] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello())
        async for frame in ws:
            message = decode(frame)
            assert isinstance(message, Message)
            received.append(message)

    recorder = Recorder()
    async with agent(handler) as url:
        client = recorder.client(url)
        with pytest.raises(NotConnected, match="not connected"):
            await client.send(Ack(fingerprint="f1", by="me"))
        async with running(client):
            await recorder.wait_for(lambda: client.state.status == "connected")
            await client.send(Ack(fingerprint="f1", by="me", note="on it"))
            async with asyncio.timeout(5):
                while len(received) < 2:
                    await asyncio.sleep(0.01)
    assert received[1] == Ack(fingerprint="f1", by="me", note="on it")


async def test_a_failing_callback_does_not_break_the_connection() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello())
        await ws.recv()
        await ws.send(events(1))
        await ws.send(events(2))
        await ws.wait_closed()

    recorder = Recorder()
    seen: list[int] = []

    def explode_once(message: Message) -> None:
        recorder.on_message(message)
        if isinstance(message, Events):
            seen.append(message.events[0].seq)
            if len(seen) == 1:
                raise RuntimeError("handler bug")

    async with agent(handler) as url:
        client = AgentClient(url, on_message=explode_once, on_state=recorder.on_state, since_seq=lambda: None)
        async with running(client):
            await recorder.wait_for(lambda: seen == [1, 2])


async def test_a_bad_url_gives_up_with_a_clear_error() -> None:
    recorder = Recorder()
    client = recorder.client("http://not-a-websocket-url")
    await asyncio.wait_for(client.run(), timeout=5)
    assert client.state.status == "closed" and "bad agent URL" in client.state.last_error


async def test_events_delivered_but_not_yet_buffered_are_not_asked_for_twice() -> None:
    since: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello(seq=5))
        subscribe = decode(await ws.recv())
        assert isinstance(subscribe, Subscribe)
        since.append(subscribe.since_seq)
        if len(since) == 1:
            await ws.send(events(4, 5))
            await ws.close()
        else:
            await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler) as url:
        # The console's buffer still says 3 (its flush timer has not run yet).
        client = AgentClient(url, on_message=recorder.on_message, on_state=recorder.on_state,
                             since_seq=lambda: 3, backoff_initial=0.01)
        async with running(client):
            await recorder.wait_for(lambda: len(since) == 2)
    assert since == [3, 5]


async def test_an_oversized_frame_is_skipped_not_fetched_again_on_every_reconnect() -> None:
    # e629b84: the console closed with 1009, resumed from the same seq and met the same frame.
    since: list[int | None] = []
    huge = encode_events([LogEvent(ts=2.0, level="INFO", message="x" * (MAX_FRAME_BYTES + 1), seq=2)])

    async def handler(ws: ServerConnection) -> None:
        await ws.send(hello(seq=3 if not since else 10))
        subscribe = decode(await ws.recv())
        assert isinstance(subscribe, Subscribe)
        since.append(subscribe.since_seq)
        if len(since) == 1:
            await ws.send(events(1))
            await ws.send(huge)
        elif subscribe.since_seq == 1:
            await ws.send(huge)  # resumed from the same place: the same frame, as an old agent would
        else:
            await ws.send(events(11))
        await ws.wait_closed()

    recorder = Recorder()
    async with agent(handler, max_size=None) as url:
        client = recorder.client(url)
        async with running(client):
            await recorder.wait_for(lambda: recorder.seqs() == [1, 11])
    assert since == [None, 10]
    gaps = [m for m in recorder.messages if isinstance(m, Gap)]
    assert gaps == [Gap(missed=9, from_seq=2)]
