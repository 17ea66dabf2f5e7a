"""Answering a console's :class:`Query`: pages of past events, streamed, bounded, cancellable.

Each query runs as its own task of the console's connection. It asks the agent for one page
at a time (the agent reads the RAM ring on the event loop in slices and the on-disk
journal in a worker thread: :mod:`obsview.backend.store.history`), so a query never holds
the loop for long and a live stream goes on meanwhile. Pages are sent with an awaited
``send``: a console that reads slowly slows its own query down, never the agent. A page with
no event is sent at most every :data:`PROGRESS_INTERVAL_S` to report progress.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from websockets.exceptions import ConnectionClosed

from obsview.backend.serving.frames import FRAME_BYTES, FRAME_EVENTS, event_frames
from obsview.backend.signals.backlog import history_stats
from obsview.backend.store.query import EventQuery, Page
from obsview.backend.store.recorder import RecordedSpan
from obsview.common.filters import ALL_LEVELS, FilterError, parse_filter
from obsview.common.protocol import (
    CancelQuery,
    Query,
    QueryPage,
    StatesPage,
    StatesQuery,
    TimedFrame,
    encode,
)

log = logging.getLogger(__name__)

QUERY_LIMIT: Final = 10_000
"""Matches one query returns at most; a console asks again from ``next_seq`` for more."""
QUERIES_PER_CLIENT: Final = 2
"""Queries one console may have running at once (scroll-back and a search)."""
PROGRESS_INTERVAL_S: Final = 0.25
REGEX_TIMEOUT_S: Final = 0.1
"""How long a query's regex may search one event's text: past it the query stops with an
error (a backtracking regex would otherwise hold the agent's event loop for hours)."""

Send = Callable[[bytes], Awaitable[None]]
Reply = Callable[[bytes], None]


class QueryView(Protocol):
    """What a query reads: the agent's events, in RAM and (``history``) on disk."""

    def held_seqs(self, *, history: bool) -> tuple[int, int]:
        """The oldest and newest sequence numbers that can be read (first > last: none)."""
        ...

    def held_between(self, low: int, high: int) -> int:
        """Events held numbered ``low..high`` (numbers skipped after a crash were never events)."""
        ...

    def retention_dropped(self) -> int:
        """Events dropped by retention from the history, so far (0 without a journal)."""
        ...

    async def query_page(self, query: EventQuery, *, history: bool, limit: int) -> Page: ...

    async def states(self, since_ts: float, until_ts: float) -> RecordedSpan:
        """Recorded metrics/health/alert frames and minutes in the span (for incident files)."""
        ...


def to_event_query(message: Query) -> EventQuery:
    """The store's form of a wire query; raises FilterError for a filter that does not compile."""
    levels = {level.upper() for level in message.levels} or ALL_LEVELS
    return EventQuery(
        filter=parse_filter(message.filter, levels=levels, regex_timeout_s=REGEX_TIMEOUT_S),
        before_seq=message.before_seq,
        after_seq=message.after_seq,
        since_ts=message.since_ts,
        until_ts=message.until_ts,
    )


class QueryRunner:
    """One console's running queries (at most :data:`QUERIES_PER_CLIENT`)."""

    def __init__(self, view: QueryView, send: Send, reply: Reply, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``send`` streams pages (awaited: flow control); ``reply`` queues a one-off answer
        without waiting (a refusal, which must not wait behind a slow console)."""
        self._view = view
        self._send = send
        self._reply = reply
        self._clock = clock
        self._tasks: dict[int, asyncio.Task[None]] = {}

    @property
    def running(self) -> int:
        return len(self._tasks)

    def start(self, message: Query) -> None:
        """Run ``message``; a running query with the same id is replaced."""
        if not self._admit(message.id, lambda error: QueryPage(message.id, done=True, error=error)):
            return
        try:
            query = to_event_query(message)
        except FilterError as exc:
            self._reply(encode(QueryPage(message.id, done=True, error=str(exc))))
            return
        self._spawn(message.id, self._run(message, query),
                    lambda error: QueryPage(message.id, done=True, error=error))

    def start_states(self, message: StatesQuery) -> None:
        """Answer a :class:`StatesQuery` (counted among the running queries)."""
        if self._admit(message.id, lambda error: StatesPage(message.id, done=True, error=error)):
            self._spawn(message.id, self._run_states(message),
                        lambda error: StatesPage(message.id, done=True, error=error))

    def _admit(self, query_id: int, refusal: Callable[[str], QueryPage | StatesPage]) -> bool:
        """Replace a query with the same id; refuse (with ``refusal``) past the bound."""
        self.cancel(CancelQuery(query_id))
        if len(self._tasks) < QUERIES_PER_CLIENT:
            return True
        self._reply(encode(refusal(f"at most {QUERIES_PER_CLIENT} queries at once: cancel one first")))
        return False

    async def _run_states(self, message: StatesQuery) -> None:
        span = await self._view.states(message.since_ts, message.until_ts)
        # History read late, over the span: what a replay shows in the Requests and Latency
        # panels where the agent sent no metrics then (it read that time's log later).
        backlog = await asyncio.to_thread(history_stats, span.history) if span.history else None
        chunk: list[TimedFrame] = []
        size = 0
        for frame in span.frames:
            if chunk and size + len(frame.frame) > FRAME_BYTES:
                await self._send(encode(StatesPage(message.id, tuple(chunk))))
                chunk, size = [], 0
            chunk.append(frame)
            size += len(frame.frame) + 32
        await self._send(encode(StatesPage(message.id, tuple(chunk), tuple(span.minutes), done=True,
                                           backlog=backlog)))

    def cancel(self, message: CancelQuery) -> None:
        task = self._tasks.pop(message.id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, query_id: int, work: Awaitable[None],
               failure: Callable[[str], QueryPage | StatesPage]) -> None:
        """Run ``work`` as the query's task; if it fails, the console is told with
        ``failure(why)`` as the last page (it would wait for a ``done`` page forever)."""
        async def run() -> None:
            try:
                await work
            except ConnectionClosed:
                pass  # the console went away: its connection's end cancels the rest
            except FilterError as exc:  # a regex too slow on some event: the console's to fix
                self._reply(encode(failure(str(exc))))
            except Exception as exc:
                log.exception("query %d failed", query_id)
                self._reply(encode(failure(f"the query failed: {exc}")))
            finally:
                if self._tasks.get(query_id) is task:
                    del self._tasks[query_id]

        task = asyncio.create_task(run(), name=f"obsview-query-{query_id}")
        self._tasks[query_id] = task

    async def _run(self, message: Query, query: EventQuery) -> None:
        history = message.history
        limit = min(max(1, message.limit), QUERY_LIMIT)
        first, last = self._view.held_seqs(history=history)
        to_scan = self._view.held_between(*_range(query, first, last))
        scanned = matched = 0
        reported = self._clock()
        while True:
            page = await self._view.query_page(query, history=history, limit=min(FRAME_EVENTS, limit - matched))
            scanned += page.scanned
            query = query.resumed(page.next_seq)
            done = page.exhausted or matched + len(page.events) >= limit
            await asyncio.sleep(0)  # whatever the store did, the loop gets a turn per page
            if not page.events and not done and self._clock() - reported < PROGRESS_INTERVAL_S:
                continue
            progress = QueryPage(message.id, next_seq=page.next_seq, scanned=scanned, to_scan=to_scan,
                                 oldest_seq=first, retention_dropped=self._view.retention_dropped())
            matched = await self._send_page(progress, page, matched, done, backward=not query.forward)
            reported = self._clock()
            if done:
                return

    async def _send_page(self, progress: QueryPage, page: Page, matched: int, done: bool, *,
                         backward: bool) -> int:
        """Send ``page`` as one or more frames under the size cap; the new ``matched`` count.

        Frames go in scan order like pages (a backward query's newest part first), each
        oldest first inside: a console puts each frame above the last (older) or below it."""
        frames = event_frames(page.events, FRAME_EVENTS) or [(b"", [])]
        if backward:
            frames.reverse()
        for number, (_frame, chunk) in enumerate(frames, 1):
            matched += len(chunk)
            last = number == len(frames)
            frame = QueryPage(
                progress.id, tuple(chunk), next_seq=progress.next_seq, scanned=progress.scanned,
                matched=matched, to_scan=progress.to_scan, oldest_seq=progress.oldest_seq,
                retention_dropped=progress.retention_dropped, done=done and last,
            )
            await self._send(encode(frame))
        return matched


def _range(query: EventQuery, first: int, last: int) -> tuple[int, int]:
    """The seqs held in the query's range, first and last (its time bounds are not counted)."""
    if query.after_seq is not None:
        return max(first, query.after_seq + 1), last
    return first, last if query.before_seq is None else min(last, query.before_seq - 1)
