"""The console's event buffer: bounded, with a filtered index kept up to date incrementally.

Events live in a plain list with a moving base: the event appended as the N-th event ever has
the *absolute position* N for as long as it stays, and ``self._events[N - evicted]`` is it.
The filtered index is a sorted list of absolute positions, so

* appending tests only the new events against the filter (`Filter.select`),
* a new filter costs one pass over the buffer, which :meth:`EventBuffer.refilter` makes in
  steps (a generator) so that the console keeps drawing while a 100k-event buffer is matched,
* eviction removes the evicted prefix of the index with one bisect and one slice delete,
* an absolute position is a stable key for caches and selections across filter changes.

A second index, the *found* events (a subset of the matching ones: the find query, ``f`` in the
console), is kept the same way for "match k of n" and ``n``/``N``; so are bookmarks.

Pure Python, no Textual: unit-tested directly and shared by the log view and the screens.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from itertools import compress
from typing import Final

from obsview.common.filters import Filter
from obsview.common.protocol import LEVELS, LogEvent
from obsview.common.trace_match import in_trace
from obsview.tui.volume import VolumeCounts

DEFAULT_CAPACITY = 100_000
#: Events matched per step of :meth:`EventBuffer.refilter`: ~3-6 ms of a text query, so the
#: console's flush and key handling get a turn at least every few milliseconds.
STEP_EVENTS: Final = 4096
#: ``source`` of the lines the console inserts itself (a gap, drops): never from an agent.
MARKER_SOURCE: Final = "obsview:marker"
#: A marker line's ``extra`` key: how many events it stands for (an incident file says so).
MARKER_LOST: Final = "lost"

#: Yields between steps; returns when done.
Steps = Generator[None, None, None]


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
        self._forgotten = 0
        self._filter = filter if filter is not None else Filter()
        self._matched: list[int] = []
        self._matched_evicted = 0
        self._find: Filter | None = None
        self._found: list[int] = []
        self._bookmarks: list[int] = []
        self._markers: list[int] = []
        self._markers_evicted = 0
        self._level_counts: dict[str, int] = dict.fromkeys(LEVELS, 0)
        self.volume = VolumeCounts(skip_source=MARKER_SOURCE)
        """Held events per second and minute of their time (the log-volume histogram)."""
        self._last_seq = 0
        self._generation = 0

    # ------------------------------------------------------------------ counters

    @property
    def total(self) -> int:
        """Events held now (the M of "N of M events"); the console's own marker lines are
        not events and are not counted."""
        return len(self._events) - len(self._markers)

    @property
    def evicted(self) -> int:
        """Events dropped so far because the buffer was full (marker lines not counted)."""
        return self._evicted - self._forgotten - self._markers_evicted

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
        """Bumped by every new filter and :meth:`clear`: views re-anchor when it moves."""
        return self._generation

    @property
    def newest_ts(self) -> float | None:
        """Time of the newest held event, whatever the filter (None when empty)."""
        return self._events[-1].ts if self._events else None

    @property
    def level_counts(self) -> Mapping[str, int]:
        """Held events per level, whatever the filter (for the level toggles' labels); marker
        lines are not counted."""
        return self._level_counts

    # ------------------------------------------------------------------ filter

    @property
    def filter(self) -> Filter:
        return self._filter

    @property
    def find(self) -> Filter | None:
        """The find query (``None``: nothing is being looked for)."""
        return self._find

    def set_filter(self, new_filter: Filter) -> None:
        """Apply ``new_filter`` to every held event, in one go."""
        _exhaust(self.refilter(new_filter))

    def set_find(self, find: Filter | None) -> None:
        """Look for ``find`` among the matching events, in one go."""
        _exhaust(self.refind(find))

    def set_levels(self, levels: Iterable[str]) -> None:
        """Keep the query, change the toggled levels."""
        self.set_filter(self._filter.with_levels(levels))

    def refilter(self, new_filter: Filter, *, step: int = STEP_EVENTS) -> Steps:
        """Apply ``new_filter`` (and the find query) to every held event, ``step`` events
        between two yields. The buffer keeps its current filter, and takes appends and
        evictions, until the last step swaps the new index in; a caller that stops iterating
        leaves it untouched."""
        matched, found = yield from self._scan(self._held_from, new_filter, self._find, step)
        self._filter = new_filter
        self._matched = matched
        self._found = found
        self._matched_evicted = 0
        self._generation += 1

    def refind(self, find: Filter | None, *, step: int = STEP_EVENTS) -> Steps:
        """Look for ``find`` among the matching events, ``step`` events between yields."""
        found: list[int] = []
        if find is not None:
            _, found = yield from self._scan(self._matched_from, Filter(), find, step)
        self._find = find
        self._found = found

    def _held_from(self, start: int, count: int) -> Sequence[int]:
        start = max(start, self._evicted)
        return range(start, min(start + count, self.appended))

    def _matched_from(self, start: int, count: int) -> Sequence[int]:
        at = bisect_left(self._matched, start)
        return self._matched[at:at + count]

    def _scan(
        self,
        candidates: Callable[[int, int], Sequence[int]],
        keep: Filter,
        find: Filter | None,
        step: int,
    ) -> Generator[None, None, tuple[list[int], list[int]]]:
        """Positions of the held events among ``candidates`` that ``keep`` matches, and of
        those the ones ``find`` matches, ``step`` candidates between two yields. Candidates
        are asked for afresh at each step, so events appended meanwhile are covered."""
        kept: list[int] = []
        found: list[int] = []
        start = 0
        while todo := candidates(start, step):
            base = self._evicted
            events = self._events
            if isinstance(todo, range):
                chosen = events[todo.start - base:todo.stop - base]
            else:
                chosen = [events[position - base] for position in todo]
            if find is None:  # the common case: the kept positions alone, no list between
                kept.extend(todo if keep.is_everything else compress(todo, keep.select(chosen)))
            else:
                if keep.is_everything:
                    positions: Sequence[int] = todo
                else:
                    flags = list(keep.select(chosen))
                    positions = list(compress(todo, flags))
                    chosen = list(compress(chosen, flags))
                kept.extend(positions)
                found.extend(compress(positions, find.select(chosen)))
            start = todo[-1] + 1
            if len(todo) < step:
                break  # caught up: no need to give the loop a turn before finishing
            yield
        # Evictions between two steps may have overtaken the oldest positions kept.
        del kept[:bisect_left(kept, self._evicted)]
        del found[:bisect_left(found, self._evicted)]
        return kept, found

    # ------------------------------------------------------------------ appending

    def mark(self, message: str, ts: float, *, lost: int = 0) -> None:
        """Insert a line of the console's own (a gap, events dropped) where it happened; it
        is matched and evicted like any event, but it is not the agent's (no seq). ``lost``:
        the events it stands for, kept on the line (:meth:`markers` sums them for a span)."""
        marker = LogEvent(ts=ts, level="WARN", message=message, seq=self._last_seq,
                          source=MARKER_SOURCE, extra={MARKER_LOST: lost} if lost else {})
        position = self.appended
        self.append([marker])
        if position >= self._evicted:
            self._markers.append(position)
        else:  # a buffer of capacity 1 holds the next event, not the marker
            self._markers_evicted += 1

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
            if event.source != MARKER_SOURCE:
                counts[event.level] = counts.get(event.level, 0) + 1
        self.volume.add(events)
        positions = range(start, start + len(events))
        if self._filter.is_everything:
            new: Sequence[int] = positions
            matching: Sequence[LogEvent] = events
        else:
            flags = list(self._filter.select(events))
            new = list(compress(positions, flags))
            matching = list(compress(events, flags))
        added = len(new)
        self._matched.extend(new)
        if self._find is not None:
            self._found.extend(compress(new, self._find.select(matching)))
        overflow = len(self._events) - self.capacity
        if overflow > 0:
            self._evict(overflow)
        return added

    def _evict(self, count: int) -> None:
        counts = self._level_counts
        for event in self._events[:count]:
            if event.source != MARKER_SOURCE:
                counts[event.level] -= 1
        self.volume.remove(self._events[:count])
        del self._events[:count]
        self._evicted += count
        cut = bisect_left(self._matched, self._evicted)
        if cut:
            del self._matched[:cut]
            self._matched_evicted += cut
        del self._found[:bisect_left(self._found, self._evicted)]
        del self._bookmarks[:bisect_left(self._bookmarks, self._evicted)]
        markers_cut = bisect_left(self._markers, self._evicted)
        if markers_cut:
            del self._markers[:markers_cut]
            self._markers_evicted += markers_cut

    def clear(self) -> None:
        """Forget every held event (counted as evicted); the filter stays."""
        self._evict(len(self._events))
        self._matched_evicted = 0
        self._generation += 1

    def start_over(self) -> None:
        """Forget every held event, and every eviction so far: the counts read as a new
        buffer's (a replay seeking back feeds the events again from the start, and the
        ones it fed before were not evicted, they are being redone). Positions keep rising
        (views re-anchor on the new generation); the filter and the find stay."""
        self.clear()
        self._forgotten += self.evicted
        self._last_seq = 0

    def forget(self) -> None:
        """Forget every held event, not counted as evicted: the agent still holds them (a
        window of its newest events follows; scrolling back pages them in)."""
        held = self.total
        self.clear()
        self._forgotten += held

    # ------------------------------------------------------------------ reading

    def __len__(self) -> int:
        return len(self._matched)

    def markers(self) -> list[LogEvent]:
        """The marker lines held, whatever the filter, oldest first."""
        return [self._events[position - self._evicted] for position in self._markers]

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

    # ------------------------------------------------------------------ find and bookmarks

    @property
    def found_count(self) -> int:
        """Matching events the find query matches (the n of "match k of n")."""
        return len(self._found)

    def found_rank(self, index: int) -> int | None:
        """1-based rank of the ``index``-th matching event among the found ones (the k of
        "match k of n"), or None if the find query does not match it."""
        return _rank(self._found, self._matched[index])

    def next_found(self, index: int, step: int) -> int | None:
        """Index of the next (``step`` 1) or previous (-1) found event after ``index``,
        wrapping around like ``n`` in less; None when nothing is found."""
        return self._next_in(self._found, index, step)

    @property
    def bookmark_count(self) -> int:
        return len(self._bookmarks)

    def is_bookmarked(self, position: int) -> bool:
        return _rank(self._bookmarks, position) is not None

    def toggle_bookmark(self, index: int) -> bool:
        """Bookmark the ``index``-th matching event, or remove its bookmark; True if it is
        bookmarked now. Bookmarks last as long as their events are held."""
        position = self._matched[index]
        at = bisect_left(self._bookmarks, position)
        if at < len(self._bookmarks) and self._bookmarks[at] == position:
            del self._bookmarks[at]
            return False
        self._bookmarks.insert(at, position)
        return True

    def next_bookmark(self, index: int, step: int) -> int | None:
        """Index of the next/previous bookmarked event the filter shows (wrapping)."""
        shown = [position for position in self._bookmarks if self.index_of_position(position) is not None]
        return self._next_in(shown, index, step)

    def _next_in(self, positions: list[int], index: int, step: int) -> int | None:
        if not positions:
            return None
        here = self._matched[index]
        if step > 0:
            at = bisect_right(positions, here)
            position = positions[at] if at < len(positions) else positions[0]
        else:
            at = bisect_left(positions, here)
            position = positions[at - 1]  # [-1] wraps to the newest
        return self.index_of_position(position)

    def trace(self, trace_id: str) -> list[LogEvent]:
        """Every held event of one trace (by trace or request ID), in time order."""
        if not trace_id:
            return []
        found = [e for e in self._events if in_trace(e, trace_id)]
        # sort() is stable: events with equal timestamps keep their arrival order.
        found.sort(key=lambda event: event.ts)
        return found


def _rank(positions: list[int], position: int) -> int | None:
    at = bisect_left(positions, position)
    return at + 1 if at < len(positions) and positions[at] == position else None


def _exhaust(steps: Steps) -> None:
    for _ in steps:
        pass
