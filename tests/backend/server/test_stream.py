"""The websocket stream against a real StreamServer and real websockets clients."""

from __future__ import annotations

import orjson
import pytest
from server_testkit import TableView, make_events, recv_message, recv_until, running
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from obsview.backend.serving.server import StreamServer
from obsview.common.protocol import (
    Ack,
    Alerts,
    Dropped,
    Error,
    Events,
    Gap,
    Health,
    Hello,
    Metrics,
    Ping,
    Pong,
    Subscribe,
    encode,
)


async def test_connect_gets_hello_then_state_with_history() -> None:
    view = TableView()
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            first = await recv_message(ws)
            assert isinstance(first, Hello)
            rest = [await recv_message(ws) for _ in range(3)]
    assert {type(m) for m in rest} == {Metrics, Health, Alerts}
    metrics = next(m for m in rest if isinstance(m, Metrics))
    assert len(metrics.history) == 1


async def test_live_events_reach_a_subscribed_client_only() -> None:
    view = TableView()
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as subscribed, connect(server.url) as idle:
            await subscribed.send(encode(Subscribe()))
            await subscribed.send(encode(Ping(nonce=1)))
            await recv_until(subscribed, Pong)  # the subscribe has been handled
            batch = make_events(3)
            view.store.append(batch)
            server.broadcast_events(batch)
            events, _ = await recv_until(subscribed, Events)
            await idle.send(encode(Ping(nonce=2)))
            _pong, before = await recv_until(idle, Pong)
    assert [e.message for e in events.events] == ["line 0", "line 1", "line 2"]
    assert [e.seq for e in events.events] == [1, 2, 3]
    assert not any(isinstance(m, Events) for m in before)


async def test_resume_sends_exactly_what_was_missed() -> None:
    view = TableView()
    view.store.append(make_events(10))
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(Subscribe(since_seq=6)))
            events, before = await recv_until(ws, Events)
    assert [e.seq for e in events.events] == [7, 8, 9, 10]
    assert not any(isinstance(m, Gap) for m in before)


async def test_resume_beyond_the_buffer_reports_a_gap_then_the_rest() -> None:
    view = TableView(capacity=5)
    view.store.append(make_events(10))  # seq 1..5 evicted
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(Subscribe(since_seq=2)))
            gap, _ = await recv_until(ws, Gap)
            events, _ = await recv_until(ws, Events)
    assert (gap.missed, gap.from_seq) == (3, 3)
    assert [e.seq for e in events.events] == [6, 7, 8, 9, 10]


async def test_replay_then_live_keeps_order_without_duplicates() -> None:
    view = TableView(capacity=10_000)
    view.store.append(make_events(2500))
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(Subscribe(since_seq=0)))
            await ws.send(encode(Ping(nonce=1)))
            await recv_until(ws, Pong)
            live = make_events(5, start=2500)
            view.store.append(live)
            server.broadcast_events(live)
            seqs: list[int] = []
            while len(seqs) < 2505:
                events, _ = await recv_until(ws, Events)
                seqs.extend(e.seq for e in events.events)
    assert seqs == list(range(1, 2506))


async def test_unknown_type_is_ignored_and_the_connection_stays() -> None:
    view = TableView()
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(orjson.dumps({"v": 1, "type": "from-the-future", "x": 1}).decode())
            await ws.send(encode(Ping(nonce=7)))
            pong, before = await recv_until(ws, Pong)
    assert pong.nonce == 7
    assert not any(isinstance(m, Error) for m in before)


async def test_malformed_json_closes_with_1007() -> None:
    view = TableView()
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send("{not json")
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv_message(ws)
    assert ws.close_code == 1007


async def test_two_mib_message_closes_with_1009() -> None:
    view = TableView()
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url, max_size=None) as ws:
            await ws.send("x" * (2 << 20))
            with pytest.raises(ConnectionClosed):
                while True:
                    await recv_message(ws)
    assert ws.close_code == 1009


async def test_ack_is_broadcast_and_unknown_fingerprint_errors_only_the_sender() -> None:
    view = TableView()
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as a, connect(server.url) as b:
            for ws in (a, b):
                await recv_until(ws, Alerts)  # the initial state
            await a.send(encode(Ack(fingerprint="nope", by="alice")))
            error, _ = await recv_until(a, Error)
            await a.send(encode(Ack(fingerprint="fp-1", by="alice")))
            alerts_b, before_b = await recv_until(b, Alerts)
            alerts_a, before_a = await recv_until(a, Alerts)
    assert error.code == "unknown_alert"
    assert view.acked == ["fp-1"]
    assert not any(isinstance(m, Error) for m in before_b)
    assert isinstance(alerts_a, Alerts) and isinstance(alerts_b, Alerts)


async def test_stalled_client_is_bounded_others_unaffected_and_told_of_drops() -> None:
    view = TableView(capacity=100_000)
    bound = 50
    server = StreamServer(view, ("127.0.0.1", 0), token=None, client_queue_events=bound)
    async with running(server):
        async with connect(server.url, max_queue=1, close_timeout=0.5) as stalled, connect(server.url) as healthy:
            for ws in (stalled, healthy):
                await ws.send(encode(Subscribe()))
                await ws.send(encode(Ping(nonce=1)))
                await recv_until(ws, Pong)
            # ~20 MB in total: far beyond what the socket buffers of the stalled client absorb.
            total = 0
            peak = 0
            received = 0
            for _round in range(100):
                batch = make_events(20, start=total, size=10_000)
                view.store.append(batch)
                server.broadcast_events(batch)
                total += len(batch)
                peak = max(peak, *server.queued_events())
                while received < total:  # the healthy client keeps up
                    events, _ = await recv_until(healthy, Events)
                    received += len(events.events)
            assert received == total
            assert peak <= bound
            assert server.dropped_total > 0
            # The stalled client resumes: it learns how many it lost.
            dropped, _ = await recv_until(stalled, Dropped)
            assert dropped.count > 0
            assert dropped.total <= server.dropped_total
