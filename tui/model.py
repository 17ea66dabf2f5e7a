"""The console's event buffer: bounded, with a filtered index kept up to date incrementally.

Events live in a plain list with a moving base: the event appended as the N-th event ever has
the *absolute position* N for as long as it stays, and ``self._events[N - evicted]`` is it.
The filtered index is a sorted list of absolute positions, so

* appending tests only the new events against the filter (`Filter.select`),
* a new filter costs one pass over the buffer,
* eviction removes the evicted prefix of the index with one bisect and one slice delete,
* an absolute position is a stable key for caches and selections across filter changes.

Pure Python, no Textual: unit-tested directly and shared by the log view and the screens.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import compress

from obsview.common.filters import Filter
from obsview.common.protocol import LEVELS, LogEvent
from obsview.common.trace_match import in_trace

DEFAULT_CAPACITY = 100_000


def _timestamp(event: LogEvent) -> float:
    return event.ts


class EventBuffer:
    """Bounded buffer of the newest ``capacity`` events plus the events matching :attr:`filter`.

    When full, the oldest events are evicted (counted in :attr:`evicted`, never silent).
    Indexing (``buffer[i]``, ``len(buffer)``) is over the *matching* events, oldest first.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, filter: Filter | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._events: list[LogEvent] = []
        self._evicted = 0
        self._filter = filter if filter is not None else Filter()
        self._matched: list[int] = []
        self._matched_evicted = 0
        self._level_counts: dict[str, int] = dict.fromkeys(LEVELS, 0)
        self._last_seq = 0
        self._generation = 0

    # ------------------------------------------------------------------ counters

    @property
    def total(self) -> int:
        """Events held now (the M of "N of M events")."""
        return len(self._events)

    @property
    def evicted(self) -> int:
        """Events dropped so far because the buffer was full."""
        return self._evicted

    @property
    def appended(self) -> int:
        """Events ever appended (held + evicted); also the next absolute position."""
        return self._evicted + len(self._events)

    @property
    def matched_count(self) -> int:
        """Held events that match the filter (the N of "N of M events")."""
        return len(self._matched)

    @property
    def matched_evicted(self) -> int:
        """Matching events evicted since the last :meth:`set_filter` (views shift rows by it)."""
        return self._matched_evicted

    @property
    def last_seq(self) -> int:
        """``seq`` of the newest appended event (0 before any): what to resume from."""
        return self._last_seq

    @property
    def generation(self) -> int:
        """Bumped by every :meth:`set_filter` and :meth:`clear`: views re-anchor when it moves."""
        return self._generation

    @property
    def level_counts(self) -> Mapping[str, int]:
        """Held events per level, whatever the filter (for the level toggles' labels)."""
        return self._level_counts

    # ------------------------------------------------------------------ filter

    @property
    def filter(self) -> Filter:
        return self._filter

    def set_filter(self, new_filter: Filter) -> None:
        """Apply ``new_filter`` to every held event (one pass)."""
        self._filter = new_filter
        self._matched_evicted = 0
        self._generation += 1
        base = self._evicted
        positions = range(base, base + len(self._events))
        if new_filter.is_everything:
            self._matched = list(positions)
        else:
            self._matched = list(compress(positions, new_filter.select(self._events)))

    def set_levels(self, levels: Iterable[str]) -> None:
        """Keep the query, change the toggled levels."""
        self.set_filter(self._filter.with_levels(levels))

    # ------------------------------------------------------------------ appending

    def append(self, events: Sequence[LogEvent]) -> int:
        """Add a batch (oldest first); return how many of them match the filter."""
        if not events:
            return 0
        self._last_seq = events[-1].seq
        if len(events) > self.capacity:
            # Only the newest `capacity` can stay; the rest are evicted without being held.
            skipped = len(events) - self.capacity
            self._evict(len(self._events))
            self._evicted += skipped
            events = events[skipped:]
        start = self.appended
        self._events.extend(events)
        counts = self._level_counts
        for event in events:
            counts[event.level] = counts.get(event.level, 0) + 1
        positions = range(start, start + len(events))
        if self._filter.is_everything:
            added = len(events)
            self._matched.extend(positions)
        else:
            new = list(compress(positions, self._filter.select(events)))
            added = len(new)
            self._matched.extend(new)
        overflow = len(self._events) - self.capacity
        if overflow > 0:
            self._evict(overflow)
        return added

    def _evict(self, count: int) -> None:
        counts = self._level_counts
        for event in self._events[:count]:
            counts[event.level] -= 1
        del self._events[:count]
        self._evicted += count
        cut = bisect_left(self._matched, self._evicted)
        if cut:
            del self._matched[:cut]
            self._matched_evicted += cut

    def clear(self) -> None:
        """Forget every held event (counted as evicted); the filter stays."""
        self._evict(len(self._events))
        self._matched_evicted = 0
        self._generation += 1

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._matched)

    def __getitem__(self, index: int) -> LogEvent:
        """The ``index``-th matching event (negative indexes count from the newest)."""
        return self._events[self._matched[index] - self._evicted]

    def position(self, index: int) -> int:
        """Absolute position of the ``index``-th matching event: stable while it is held."""
        return self._matched[index]

    def index_of_position(self, position: int) -> int | None:
        """Index among matching events of the event at ``position``, or None if gone/filtered."""
        index = bisect_left(self._matched, position)
        if index < len(self._matched) and self._matched[index] == position:
            return index
        return None

    def nearest_index(self, position: int) -> int:
        """Index of the first matching event at or after ``position`` (clamped to the last)."""
        return min(bisect_left(self._matched, position), max(len(self._matched) - 1, 0))

    def index_at_time(self, ts: float) -> int:
        """Index of the first matching event stamped at or after ``ts`` (``len(self)`` if none).

        A binary search: the buffer holds events in arrival order, which is time order give
        or take the clock skew between sources (then it lands among the skewed events).
        """
        return bisect_left(self, ts, key=_timestamp)

    def trace_events(self) -> list[LogEvent]:
        """Held access events that carry a trace ID (requests a trace list can show)."""
        return [e for e in self._events if e.trace_id and e.is_access]

    def trace(self, trace_id: str) -> list[LogEvent]:
        """Every held event of one trace (by trace or request ID), in time order."""
        if not trace_id:
            return []
        found = [e for e in self._events if in_trace(e, trace_id)]
        # sort() is stable: events with equal timestamps keep their arrival order.
        found.sort(key=lambda event: event.ts)
        return found
