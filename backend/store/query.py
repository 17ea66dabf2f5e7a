"""The store's query seam: what the server asks of any event store, the RAM ring or the journal.

A query is a filter in the console's language (:mod:`obsview.common.filters`), a direction
with an anchor (back from ``before_seq``, or forward from ``after_seq``) and optional time
bounds. A store answers one *page* at a time and never scans more than ``max_scan`` events for
it, so a caller can interleave pages with other work (the ring is read on the event loop) and
stop between them (a cancelled query). :class:`Page.next_seq` is where the next page starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import compress
from typing import Protocol

from obsview.common.filters import Filter
from obsview.common.protocol import LogEvent


@dataclass(frozen=True, slots=True)
class EventQuery:
    filter: Filter = field(default_factory=Filter)
    before_seq: int | None = None
    """Backward scan: events with ``seq < before_seq``, newest first (None: from the newest)."""
    after_seq: int | None = None
    """Forward scan: events with ``seq > after_seq``, oldest first. Wins over ``before_seq``."""
    since_ts: float | None = None
    until_ts: float | None = None

    @property
    def forward(self) -> bool:
        return self.after_seq is not None

    def resumed(self, next_seq: int) -> EventQuery:
        """The same query, continuing where a page stopped."""
        if self.forward:
            return replace(self, after_seq=next_seq)
        return replace(self, before_seq=next_seq)

    def in_time(self, ts: float) -> bool:
        return (self.since_ts is None or ts >= self.since_ts) and (
            self.until_ts is None or ts <= self.until_ts
        )

    def select(self, events: list[LogEvent]) -> list[LogEvent]:
        """The events (in scan-range order) that match the filter and the time bounds."""
        matched = events if self.filter.is_everything else list(compress(events, self.filter.select(events)))
        if self.since_ts is None and self.until_ts is None:
            return matched
        return [event for event in matched if self.in_time(event.ts)]


@dataclass(frozen=True, slots=True)
class Page:
    events: list[LogEvent]
    """Matching events, oldest first (at most the ``limit`` asked for)."""
    next_seq: int
    """Continue from here: the next ``before_seq`` (backward) or ``after_seq`` (forward)."""
    scanned: int
    """Events examined for this page."""
    exhausted: bool
    """Nothing is left in this store in the query's direction."""


class EventHistory(Protocol):
    """What the server reads events through (the ring implements it; so does the journal)."""

    @property
    def first_seq(self) -> int:
        """Oldest event held (``last_seq + 1`` while empty)."""
        ...

    @property
    def last_seq(self) -> int: ...

    def since(self, seq: int, limit: int | None = None) -> tuple[list[LogEvent], int]:
        """Events after ``seq``, oldest first, and how many after it are no longer held."""
        ...

    def query(self, query: EventQuery, *, limit: int, max_scan: int) -> Page:
        """One page: at most ``limit`` matches from at most ``max_scan`` scanned events."""
        ...


class ReadRange(Protocol):
    def __call__(self, start: int, end: int) -> list[LogEvent]:
        """Events ``start..end`` inclusive, all held."""
        ...


def scan_page(
    query: EventQuery, first: int, last: int, *, limit: int, max_scan: int,
    read: ReadRange,
) -> Page:
    """A page over a store holding ``first..last`` contiguously, read by ``read(start, end)``.

    Shared by stores that can cut any seq range cheaply (the ring): the range of at most
    ``max_scan`` events next to the anchor is read, matched, and cut at ``limit``.
    """
    limit = max(1, limit)
    max_scan = max(1, max_scan)
    if query.after_seq is not None:
        start = max(query.after_seq + 1, first)
        end = min(last, start + max_scan - 1)
        matched = query.select(read(start, end)) if start <= end else []
        if len(matched) > limit:
            matched = matched[:limit]
            end = matched[-1].seq
        return Page(matched, max(end, start - 1), max(0, end - start + 1), end >= last)
    end = last if query.before_seq is None else min(last, query.before_seq - 1)
    start = max(first, end - max_scan + 1)
    matched = query.select(read(start, end)) if start <= end else []
    if len(matched) > limit:
        matched = matched[-limit:]
        start = matched[0].seq
    return Page(matched, min(start, end + 1), max(0, end - start + 1), start <= first)
