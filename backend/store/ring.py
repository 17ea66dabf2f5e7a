"""The agent's bounded event buffer: a ring of the newest events, each with a global ``seq``.

Sequence numbers start at 1 and never repeat within an agent run, so a console that
reconnects with ``since_seq`` gets exactly the events it missed while they are still
buffered, and an exact count of those already evicted. Event ``seq`` is stored at slot
``seq % capacity``: append is O(1) per event and ``since`` is index arithmetic plus one or two
list slices, never a scan.
"""

from __future__ import annotations

from collections.abc import Sequence

from obsview.backend.store.query import EventQuery, Page, scan_page
from obsview.common.protocol import LogEvent


class EventStore:
    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ring: list[LogEvent | None] = [None] * capacity
        self._last = 0
        self._start = 0

    @property
    def last_seq(self) -> int:
        """Newest sequence number (0 while empty)."""
        return self._last

    @property
    def first_seq(self) -> int:
        """Oldest buffered sequence number (``last_seq + 1`` while empty)."""
        return max(self._start + 1, self._last - self.capacity + 1)

    @property
    def evicted(self) -> int:
        """Events pushed out of the buffer so far."""
        return max(0, self._last - self._start - self.capacity)

    def __len__(self) -> int:
        return min(self._last - self._start, self.capacity)

    def resume_after(self, seq: int) -> None:
        """Number the first event ``seq + 1``: a journal's numbering goes on across restarts."""
        if self._last != self._start:
            raise RuntimeError("resume_after on a store that holds events")
        self._last = self._start = max(0, seq)

    def append(self, events: Sequence[LogEvent]) -> None:
        """Assign the next sequence numbers to ``events`` and buffer them, evicting the oldest."""
        first = self._last + 1
        for seq, event in enumerate(events, first):
            event.seq = seq
        count = len(events)
        self._last += count
        capacity = self.capacity
        if count > capacity:  # only the newest fit
            events = events[count - capacity :]
            first += count - capacity
            count = capacity
        # Slice assignments (C loops) of at most two runs: up to the ring's end, then from 0.
        ring = self._ring
        start = first % capacity
        head = min(count, capacity - start)
        ring[start : start + head] = events[:head]
        if head < count:
            ring[: count - head] = events[head:]

    def since(self, seq: int, limit: int | None = None) -> tuple[list[LogEvent], int]:
        """Buffered events with ``seq`` greater than ``seq``, oldest first (at most ``limit``),
        and how many events after ``seq`` were already evicted (the gap to report)."""
        seq = max(seq, 0)
        first = self.first_seq
        start = max(seq + 1, first)
        missed = max(0, first - (seq + 1))
        end = self._last  # inclusive
        if limit is not None:
            end = min(end, start + max(0, limit) - 1)
        return self._slice(start, end), missed

    def query(self, query: EventQuery, *, limit: int, max_scan: int) -> Page:
        """One page of ``query`` over the buffered events (see :mod:`.query`)."""
        return scan_page(query, self.first_seq, self._last, limit=limit, max_scan=max_scan, read=self._slice)

    def tail(self, n: int) -> list[LogEvent]:
        """The newest ``n`` events, oldest first."""
        if n <= 0:
            return []
        return self._slice(max(self.first_seq, self._last - n + 1), self._last)

    def _slice(self, start: int, end: int) -> list[LogEvent]:
        """Events ``start..end`` inclusive; both must be buffered (or the range empty)."""
        if end < start:
            return []
        capacity = self.capacity
        lo = start % capacity
        hi = end % capacity
        ring = self._ring
        if lo <= hi:
            events = ring[lo : hi + 1]
        else:
            events = ring[lo:] + ring[: hi + 1]
        return events  # type: ignore[return-value]  # every slot in range is filled
