"""One console's pending frames: bounded, ordered, never blocking whoever fills it.

The ingest path puts event batches in and returns at once; the console's own sender task
takes frames out and awaits the socket. When the console reads too slowly, the OLDEST event
batches are dropped and counted, and a ``dropped`` message tells the console before the
next batch it does receive, at the place in the stream where the hole is.

While the agent catches up on a backlog it sends a console the newest window of events
instead of every event (:meth:`Outbox.put_replay` with ``newest``): the outbox knows the last
event it handed to the socket (``sent_seq``), so the sender can tell the console exactly which
events it skips (they stay in the agent's store, not lost).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Final

from obsview.common.protocol import Dropped, encode

CONTROL_LIMIT: Final = 64
"""One-off replies (hello, pong, error) waiting for a console: a client that sends
pings without ever reading loses the oldest ones rather than growing the agent."""


@dataclass(frozen=True, slots=True)
class Replay:
    """Instruction for the sender: replay the store after ``since_seq`` up to ``until_seq``
    (and the spans after ``spans_since`` up to ``spans_until``) before any live batch (the
    sender does it so ordering needs no lock)."""

    since_seq: int
    until_seq: int
    spans_since: int = 0
    spans_until: int = 0
    newest: int = 0
    """When set, only the newest this many events up to ``until_seq`` are sent, from where the
    console's stream stands (``Outbox.sent_seq``); the ones before are reported skipped."""


class Outbox:
    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self._control: deque[bytes] = deque()
        self._replay: Replay | None = None
        self._state: dict[str, bytes] = {}
        """Latest metrics/health/alerts frame by type: a newer one replaces an unsent one."""
        self._events: deque[tuple[bytes, int, int]] = deque()
        """(frame, items, the last event's seq or -1 for a span batch): events and spans
        share one bounded queue, so the stream keeps its order; ``max_events`` bounds the
        items of both."""
        self.sent_seq = 0
        """The newest event handed to the socket (or replayed): where this console's stream
        stands."""
        self.queued_events = 0
        self.dropped_pending = 0
        self.dropped_total = 0
        self.dropped_spans_pending = 0
        self.dropped_spans_total = 0
        self.control_dropped = 0
        self._ready = asyncio.Event()

    def put_control(self, item: bytes) -> None:
        if len(self._control) >= CONTROL_LIMIT:
            self._control.popleft()
            self.control_dropped += 1
        self._control.append(item)
        self._ready.set()

    def put_replay(self, replay: Replay) -> None:
        pending = self._replay
        if pending is not None and not replay.spans_until:
            # A window after a replay not yet sent: one replay covering both (the pending
            # one's spans included), so nothing either would send is lost unsaid.
            replay = Replay(min(pending.since_seq, replay.since_seq),
                            max(pending.until_seq, replay.until_seq),
                            pending.spans_since, pending.spans_until, replay.newest)
        self._replay = replay
        self._ready.set()

    def put_state(self, kind: str, frame: bytes) -> None:
        self._state.pop(kind, None)
        self._state[kind] = frame
        self._ready.set()

    def put_events(self, frame: bytes, count: int, last_seq: int) -> int:
        """Queue one event batch (``last_seq``: its newest event's); returns how many events
        were dropped to stay in bound."""
        return self._put(frame, count, last_seq)[0]

    def put_spans(self, frame: bytes, count: int) -> int:
        """Queue one span batch; returns how many spans were dropped to stay in bound."""
        return self._put(frame, count, -1)[1]

    def _put(self, frame: bytes, count: int, last_seq: int) -> tuple[int, int]:
        """Queue a batch, dropping the oldest ones beyond the bound: (events, spans) dropped."""
        self._events.append((frame, count, last_seq))
        self.queued_events += count
        dropped = [0, 0]
        while self.queued_events > self.max_events and len(self._events) > 1:
            _frame, lost, seq = self._events.popleft()
            self.queued_events -= lost
            dropped[seq < 0] += lost
        self.dropped_pending += dropped[0]
        self.dropped_total += dropped[0]
        self.dropped_spans_pending += dropped[1]
        self.dropped_spans_total += dropped[1]
        self._ready.set()
        return dropped[0], dropped[1]

    def forget_events(self) -> int:
        """Forget the queued event batches (spans stay): a window of the newest events
        replaces them (:class:`Replay` with ``newest``), whose skip covers every event after
        ``sent_seq``, those dropped and not yet reported too. Returns how many of those
        drops it takes back."""
        spans = [entry for entry in self._events if entry[2] < 0]
        self._events = deque(spans)
        self.queued_events = sum(entry[1] for entry in spans)
        taken_back, self.dropped_pending = self.dropped_pending, 0
        self.dropped_total -= taken_back
        return taken_back

    def clear_events(self) -> None:
        """Forget queued live batches and replay (a new ``subscribe`` replaces the stream)."""
        self._replay = None
        self._events.clear()
        self.queued_events = 0

    async def next(self) -> bytes | Replay:
        """The next frame to send, in order: replies, latest state, then event batches."""
        while True:
            if self._control:
                return self._control.popleft()
            if self._replay is not None:
                replay, self._replay = self._replay, None
                return replay
            if self._state:
                return self._state.pop(next(iter(self._state)))
            if self._events:
                if self.dropped_pending or self.dropped_spans_pending:
                    count, self.dropped_pending = self.dropped_pending, 0
                    spans, self.dropped_spans_pending = self.dropped_spans_pending, 0
                    return encode(Dropped(count=count, total=self.dropped_total, spans=spans))
                frame, count, seq = self._events.popleft()
                self.queued_events -= count
                if seq >= 0:
                    self.sent_seq = seq
                return frame
            self._ready.clear()
            await self._ready.wait()
