"""Queries over a real server and a real websockets client: pages, counts, caps, cancel."""

from __future__ import annotations

import asyncio

from server_testkit import TableView, recv_until, running
from websockets.asyncio.client import ClientConnection, connect

from obsview.backend.serving.frames import FRAME_BYTES
from obsview.backend.serving.queries import QUERIES_PER_CLIENT
from obsview.backend.serving.server import StreamServer
from obsview.common.protocol import CancelQuery, LogEvent, Ping, Pong, Query, QueryPage, decode, encode


def view_with(count: int, *, capacity: int = 10_000, size: int = 0) -> TableView:
    view = TableView(capacity)
    view.store.append([
        LogEvent(ts=float(i), level="ERROR" if i % 100 == 0 else "INFO", message=f"line {i} " + "x" * size)
        for i in range(1, count + 1)
    ])
    return view


async def pages_of(ws: ClientConnection, query_id: int) -> list[QueryPage]:
    pages: list[QueryPage] = []
    while not pages or not pages[-1].done:
        page, _ = await recv_until(ws, QueryPage)
        assert page.id == query_id
        pages.append(page)
    return pages


async def run_query(view: TableView, query: Query) -> list[QueryPage]:
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(query))
            return await pages_of(ws, query.id)


async def test_a_query_streams_matching_pages_newest_first_with_counts() -> None:
    pages = await run_query(view_with(5000), Query(1, "level:error", limit=30))
    seqs = [event.seq for page in pages for event in page.events]
    assert seqs == list(range(2100, 5001, 100))
    assert pages[-1].matched == 30 and pages[-1].to_scan == 5000 and pages[-1].oldest_seq == 1
    assert pages[-1].next_seq == 2100  # continue below the oldest match


async def test_pages_go_back_in_time_with_events_oldest_first_within() -> None:
    pages = await run_query(view_with(5000), Query(1, limit=1200))
    spans = [(page.events[0].seq, page.events[-1].seq) for page in pages if page.events]
    assert spans == [(4501, 5000), (4001, 4500), (3801, 4000)]
    assert [page.matched for page in pages] == [500, 1000, 1200]


async def test_a_follow_up_query_continues_from_next_seq_until_exhausted() -> None:
    view = view_with(1000)
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(Query(1, "level:error", limit=6)))
            first = await pages_of(ws, 1)
            await ws.send(encode(Query(2, "level:error", before_seq=first[-1].next_seq, limit=6)))
            second = await pages_of(ws, 2)
    assert [e.seq for p in second for e in p.events] == [100, 200, 300, 400]
    assert second[-1].done and second[-1].matched == 4


async def test_a_bad_filter_is_an_error_page() -> None:
    async with running(StreamServer(view_with(10), ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(Query(7, 'status:teapot')))
            page, _ = await recv_until(ws, QueryPage)
    assert page.done and "status:teapot" in page.error and page.events == ()


async def test_big_events_are_cut_into_frames_under_the_cap() -> None:
    view = view_with(400, size=4000)
    sizes: list[int] = []
    pages: list[QueryPage] = []
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            await ws.send(encode(Query(1, limit=400)))
            while not pages or not pages[-1].done:
                frame = await asyncio.wait_for(ws.recv(), 5)
                message = decode(frame)
                if isinstance(message, QueryPage):
                    sizes.append(len(frame))
                    pages.append(message)
    assert sum(len(page.events) for page in pages) == 400
    assert len(pages) > 1 and max(sizes) < FRAME_BYTES + 4096


async def test_queries_per_console_are_bounded_and_cancellable() -> None:
    view = view_with(200_000, capacity=200_000)
    async with running(StreamServer(view, ("127.0.0.1", 0), token=None)) as server:
        async with connect(server.url) as ws:
            # A filter that matches nothing scans the whole store: these run for a while.
            for query_id in range(1, QUERIES_PER_CLIENT + 2):
                await ws.send(encode(Query(query_id, "nothing-matches-this", limit=1)))
            refused, _ = await recv_until(ws, QueryPage)
            while refused.id != QUERIES_PER_CLIENT + 1:
                refused, _ = await recv_until(ws, QueryPage)
            for query_id in range(1, QUERIES_PER_CLIENT + 1):
                await ws.send(encode(CancelQuery(query_id)))
            await ws.send(encode(Ping(1)))
            _pong, _ = await recv_until(ws, Pong)
            await ws.send(encode(Query(9, "level:error", limit=1)))
            while True:
                page, _ = await recv_until(ws, QueryPage)
                if page.id == 9 and page.done:
                    break
    assert refused.done and "at most" in refused.error
    assert page.matched == 1 and page.events[0].seq == 200_000
