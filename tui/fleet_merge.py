"""Several agents' log streams merged into one, in event-time order, without waiting forever.

Each agent sends its events in about the order it read them; the hosts' streams interleave
by time only once someone waits for the slower ones. :class:`EventMerger` holds arriving
events in one heap ordered by event time and releases, on each :meth:`release`:

* every event at or before the *watermark*: the oldest "newest time" among the hosts that
  are connected, so an event is shown once every connected host has reported past it;
* every event at or before the newest time of any batch that arrived ``hold_s`` ago or more,
  so a quiet or slow host delays the view by at most ``hold_s`` and never stalls it;
* the oldest events beyond ``capacity`` held, so the heap is bounded whatever a host does
  (counted in :attr:`forced`; they are shown early, never dropped).

A disconnected host does not count for the watermark. An event that arrives older than what
was already released is shown at once (counted in :attr:`late`): the view never waits for
a time it has passed. Events are tagged with their host's name (``LogEvent.host``), which
the log view's host column and the ``host:`` filter read.

Pure Python, no I/O: the clock is the ``now`` given to :meth:`push` and :meth:`release`.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Final

from obsview.common.protocol import LogEvent

DEFAULT_HOLD_S: Final = 0.5
DEFAULT_CAPACITY: Final = 50_000


@dataclass(slots=True)
class _HostClock:
    newest: float = float("-inf")
    """The newest event time this host has sent."""
    live: bool = False
    arrivals: deque[tuple[float, float]] = field(default_factory=deque)
    """(arrived at, newest event time in the batch) of batches not yet past ``hold_s``."""


class EventMerger:
    """Merges per-host batches of events into one stream ordered by event time."""

    def __init__(self, *, hold_s: float = DEFAULT_HOLD_S, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.hold_s = hold_s
        self.capacity = capacity
        self._hosts: dict[str, _HostClock] = {}
        self._heap: list[tuple[float, int, LogEvent]] = []
        self._order = count()
        self._released_ts = float("-inf")
        self.forced = 0
        """Events released before their time because more than ``capacity`` were held."""
        self.late = 0
        """Events that arrived older than what had already been released."""

    @property
    def held(self) -> int:
        """Events waiting for the slower hosts."""
        return len(self._heap)

    def set_live(self, host: str, live: bool) -> None:
        """Whether ``host`` is connected: only connected hosts hold the watermark back."""
        self._hosts.setdefault(host, _HostClock()).live = live

    def push(self, host: str, events: Sequence[LogEvent], now: float) -> None:
        """Take one batch from ``host`` (tagged with its name), arrived at ``now``."""
        if not events:
            return
        clock = self._hosts.setdefault(host, _HostClock(live=True))
        newest = clock.newest
        heap = self._heap
        order = self._order
        for event in events:
            event.host = host
            ts = event.ts
            if ts > newest:
                newest = ts
            heapq.heappush(heap, (ts, next(order), event))
        clock.newest = newest
        clock.arrivals.append((now, newest))

    def release(self, now: float) -> list[LogEvent]:
        """The events whose time has come, oldest first."""
        bound = self._watermark()
        expired = now - self.hold_s
        for clock in self._hosts.values():
            arrivals = clock.arrivals
            while arrivals and arrivals[0][0] <= expired:
                bound = max(bound, arrivals.popleft()[1])
        heap = self._heap
        out: list[LogEvent] = []
        while heap and (heap[0][0] <= bound or heap[0][0] <= self._released_ts):
            ts, _, event = heapq.heappop(heap)
            if ts < self._released_ts:
                self.late += 1
            out.append(event)
        while len(heap) > self.capacity:
            out.append(heapq.heappop(heap)[2])
            self.forced += 1
        if out:
            self._released_ts = max(self._released_ts, out[-1].ts)
        return out

    def _watermark(self) -> float:
        live = [clock.newest for clock in self._hosts.values() if clock.live]
        return min(live) if live else float("inf")
