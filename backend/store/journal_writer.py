"""Feeding the journal without ever making ingest wait for the disk.

The event loop only appends events to a pending list (:meth:`JournalWriter.append`, a list
extend). A block is handed to the writer thread when it holds :data:`BLOCK_EVENTS` events or
when :meth:`JournalWriter.flush` runs (the agent calls it every second), so a ``kill -9``
loses at most what was pending (one second of events, or one block) plus the blocks queued
behind a slow disk. The thread packs and commits blocks and applies retention. The queue is
bounded: when the disk cannot keep up, the OLDEST queued block is dropped and counted.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from obsview.backend.store.journal import Journal, JournalError
from obsview.backend.store.journal_codec import pack
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent

log = logging.getLogger(__name__)

BLOCK_EVENTS: Final = 4096
MAX_QUEUED_BLOCKS: Final = 16
MAX_UNWRITTEN: Final = BLOCK_EVENTS * (MAX_QUEUED_BLOCKS + 1)
"""Events that may be handed out but not yet committed: what a crash can lose at most, and
how far the numbering jumps after one so that no sequence number is ever reused."""
RETENTION_INTERVAL_S: Final = 10.0

Job = Callable[[Journal], None]


@dataclass(frozen=True, slots=True)
class Retention:
    max_age_s: float | None = 7 * 86400.0
    max_bytes: int | None = 1024 * 1024 * 1024


class JournalWriter:
    def __init__(
        self,
        journal: Journal,
        retention: Retention,
        *,
        block_events: int = BLOCK_EVENTS,
        max_queued_blocks: int = MAX_QUEUED_BLOCKS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self._retention = retention
        self._block_events = block_events
        self._max_queued = max_queued_blocks
        self._clock = clock
        self._pending: list[LogEvent] = []
        self._queue: deque[list[LogEvent] | Job | None] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._retained_at = 0.0
        self.written = 0
        """Events committed to the journal by this writer."""
        self.dropped = 0
        """Events that never reached the journal: the disk was too slow, or writing failed."""
        self.write_errors = 0

    @classmethod
    def open(cls, path: Path, retention: Retention, ring: EventStore, *,
             clock: Callable[[], float] = time.time) -> JournalWriter:
        """Open the journal at ``path`` (JournalError if unusable), number ``ring``'s events on
        from it and start writing."""
        journal = Journal(path)
        if journal.unclean:
            # Numbers up to MAX_UNWRITTEN past the journal may have been handed out to events
            # that were lost with the process: they are skipped, never reused.
            floor = journal.seq_floor
            journal.skip(floor + 1, floor + MAX_UNWRITTEN)
            log.warning("history journal %s was not closed: the agent stopped abruptly, and events"
                        " not yet written (at most %d) were lost", path, MAX_UNWRITTEN)
        if ring.last_seq < journal.seq_floor:  # (an agent started again in-process goes on)
            ring.resume_after(journal.seq_floor)
        writer = cls(journal, retention, clock=clock)
        writer.start()
        return writer

    # ------------------------------------------------------------------ event loop side

    def append(self, events: Sequence[LogEvent]) -> None:
        self._pending.extend(events)
        if len(self._pending) >= self._block_events:
            self.flush()

    def flush(self) -> None:
        """Hand whatever is pending to the writer thread as one or more blocks."""
        pending, self._pending = self._pending, []
        step = self._block_events
        for start in range(0, len(pending), step):
            self._enqueue(pending[start : start + step])

    def submit(self, job: Job) -> None:
        """Run ``job(journal)`` on the writer thread, in order with the blocks (recorded
        states, minutes: a few a minute, so never dropped)."""
        self._enqueue(job)

    def _enqueue(self, item: list[LogEvent] | Job | None) -> None:
        with self._wake:
            if isinstance(item, list) and sum(isinstance(queued, list) for queued in self._queue) >= self._max_queued:
                oldest = next(queued for queued in self._queue if isinstance(queued, list))
                self._queue.remove(oldest)
                self.dropped += len(oldest)
            self._queue.append(item)
            self._wake.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="obsview-journal", daemon=True)
        self._thread.start()

    def stop(self, last_seq: int) -> None:
        """Write everything pending, record the numbers handed out, close the file (blocking:
        call it in a worker thread)."""
        self.flush()
        self._enqueue(None)
        if self._thread is not None:
            self._thread.join()
        self.journal.reserve(last_seq)
        self.journal.close()

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                item = self._queue.popleft()
            if item is None:
                return
            if isinstance(item, list):
                self._write(item)
            else:
                self._run_job(item)

    def _run_job(self, job: Job) -> None:
        try:
            job(self.journal)
        except (sqlite3.Error, OSError, JournalError) as exc:
            self.write_errors += 1
            log.error("history journal %s: recorded state not written (%s)", self.journal.path, exc)

    def _write(self, block: list[LogEvent]) -> None:
        try:
            now = self._clock()
            self.journal.write_block(pack(block), now)
            self.written += len(block)
            if now - self._retained_at >= RETENTION_INTERVAL_S:
                self._retained_at = now
                self.apply_retention(now)
        except (sqlite3.Error, OSError, JournalError) as exc:
            self.dropped += len(block)
            self.write_errors += 1
            if self.write_errors == 1 or self.write_errors % 100 == 0:
                log.error("history journal %s: a block of %d events was not written (%s)",
                          self.journal.path, len(block), exc)

    def apply_retention(self, now: float) -> int:
        retention = self._retention
        older_than = None if retention.max_age_s is None else now - retention.max_age_s
        return self.journal.drop_oldest(older_than=older_than, max_bytes=retention.max_bytes)
