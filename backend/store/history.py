"""The agent's events as one history: the RAM ring for the newest, the journal for the rest.

The server reads through :class:`History` for resume (``since``) and queries. The ring is read
on the event loop in slices (index arithmetic, never long); the journal in a worker thread,
so a scan of days of history never holds the loop. A backward query walks the ring first
and then, with ``history``, continues into the journal below the ring's oldest event; a
forward one does the reverse. Without a journal the ring is all there is.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Final

from obsview.backend.store import journal_query
from obsview.backend.store.journal import Journal
from obsview.backend.store.query import EventQuery, Page
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent

RING_SCAN_SLICE: Final = 20_000
"""Events scanned per page on the event loop (a few milliseconds of filtering)."""
JOURNAL_SCAN_SLICE: Final = 200_000
"""Events decoded per journal page, in a worker thread."""


class History:
    def __init__(self, ring: EventStore, journal: Journal | None = None) -> None:
        self.ring = ring
        self.journal = journal

    def _journal_below(self, seq: int) -> Journal | None:
        """The journal, when it holds events older than ``seq``."""
        journal = self.journal
        if journal is None or not journal.first_seq or journal.first_seq >= seq:
            return None
        return journal

    def held_seqs(self, *, history: bool) -> tuple[int, int]:
        first = self.ring.first_seq
        journal = self._journal_below(first) if history else None
        return (journal.first_seq if journal else first), self.ring.last_seq

    def held_between(self, low: int, high: int) -> int:
        """Events held numbered ``low..high``: after a crash the journal skips numbers that
        may have been handed out (none is reused), and those were never events."""
        skipped = self.journal.skipped(low, high + 1) if self.journal is not None else 0
        return max(0, high - low + 1 - skipped)

    def retention_dropped(self) -> int:
        """Events older than the oldest held that retention dropped (none without a journal;
        what it dropped that RAM still holds is not counted: a scan still reaches it)."""
        journal = self.journal
        if journal is None:
            return 0
        oldest = self.held_seqs(history=True)[0]
        return min(journal.dropped_total, max(0, oldest - 1 - journal.skipped(1, oldest)))

    async def since(self, seq: int, limit: int) -> tuple[list[LogEvent], int]:
        """Events after ``seq`` and how many after it are gone (numbers the journal skipped
        after a crash were never events: they are not counted).

        ``seq`` 0 is a console that holds nothing yet: it gets what RAM would hold, the newest
        ``capacity`` events, from the journal where a restart emptied RAM; not days of journal
        (it scrolls back into those with a query); nothing is missing for it."""
        journal = self._journal_below(self.ring.first_seq)
        if seq == 0 and journal is not None:
            wanted = self.ring.capacity - len(self.ring)
            if wanted <= 0:
                return self.ring.since(self.ring.first_seq - 1, limit)[0], 0
            start = await asyncio.to_thread(journal_query.newest_start, journal, self.ring.first_seq, wanted)
            return (await asyncio.to_thread(journal_query.since, journal, start, limit))[0], 0
        if journal is not None and seq + 1 < self.ring.first_seq:
            events, missed = await asyncio.to_thread(journal_query.since, journal, seq, limit)
            if events:
                return events, missed
        events, missed = self.ring.since(seq, limit)
        if missed and self.journal is not None:
            missed -= self.journal.skipped(seq + 1, seq + 1 + missed)
        return events, missed

    async def query_page(self, query: EventQuery, *, history: bool, limit: int) -> Page:
        ring_first = self.ring.first_seq
        journal = self._journal_below(ring_first) if history else None
        if query.after_seq is not None:
            if journal is not None and query.after_seq + 1 < ring_first and journal.last_seq > query.after_seq:
                page = await asyncio.to_thread(
                    journal_query.query, journal, query, limit=limit, max_scan=JOURNAL_SCAN_SLICE
                )
                return replace(page, exhausted=page.exhausted and self.ring.last_seq <= page.next_seq)
            return self.ring.query(query, limit=limit, max_scan=RING_SCAN_SLICE)
        if query.before_seq is None or query.before_seq > ring_first:
            page = self.ring.query(query, limit=limit, max_scan=RING_SCAN_SLICE)
            if page.exhausted and journal is not None:
                return replace(page, exhausted=False, next_seq=min(page.next_seq, ring_first))
            return page
        if journal is None:
            return Page([], query.before_seq, 0, True)
        return await asyncio.to_thread(
            journal_query.query, journal, query, limit=limit, max_scan=JOURNAL_SCAN_SLICE
        )
