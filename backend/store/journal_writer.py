"""Feeding the journal without ever making ingest wait for the disk.

The event loop only appends events to a pending list (:meth:`JournalWriter.append`, a list
extend). A block is handed to the writer thread when it holds :data:`BLOCK_EVENTS` events or
when :meth:`JournalWriter.flush` runs (the agent calls it every second), so a ``kill -9``
loses at most what was pending (one second of events, or one block) plus the blocks queued
behind a slow disk. The thread packs and commits blocks and applies retention.

The RAM ring seals each 1,024 events into the very bytes a journal block is made of
(:mod:`.journal_codec`): it hands them over (:meth:`JournalWriter.sealed`) and a block takes
them as they are; the thread packs only the runs the ring had not sealed when the block was
handed (the newest events, each second). A block filled by size ends where the ring's last
sealed run in it ends, so the next starts where the ring's next one does. The queue is
bounded: when the disk cannot keep up, the OLDEST queued block is dropped and counted.

The journal never fills its disk: before each block it leaves ``keep_free_bytes`` free on the
file system, dropping its own oldest blocks when the disk runs short (counted as retention),
the way journald keeps ``SystemKeepFree``. Waiting for SQLite's "disk is full" does not work:
measured on a 3 MB file system, once the disk is full even the DELETE that would make room
fails (its WAL must grow), so the journal kept its oldest events and lost every new one, and
the agent's alert state and file offsets could no longer be saved either.

A file tail's batch comes with its :class:`Position`: each block carries the checkpoint of
the newest such batch it reaches (made for the part of it the block holds when the block ends
inside it), committed with the block, so that after a crash the tail reads on from exactly
after the last line the journal holds. Made per block, not per event.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import msgspec

from obsview.backend.store.journal import Journal, JournalError
from obsview.backend.store.journal_codec import Piece, pack
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent

log = logging.getLogger(__name__)

BLOCK_EVENTS: Final = 4096
MAX_QUEUED_BLOCKS: Final = 16
MAX_UNWRITTEN: Final = BLOCK_EVENTS * (MAX_QUEUED_BLOCKS + 1)
"""Events that may be handed out but not yet committed: what a crash can lose at most, and
how far the numbering jumps after one so that no sequence number is ever reused."""
RETENTION_INTERVAL_S: Final = 10.0
HELD_FRAMES: Final = 64
"""The ring's sealed runs kept for blocks not handed yet (more than a full queue's worth)."""

Job = Callable[[Journal], None]
Block = tuple[list[LogEvent], list[Piece], bytes | None]
"""A block's events, the same events as runs (sealed by the ring already, or not), and the
tailed files' checkpoint reached by its last event (None: it did not move)."""


class Position(Protocol):
    """Where a file tail stands after a batch (:class:`~obsview.backend.ingest.sources.
    checkpoint.Position`), to resume from when the journal holds its first ``stored`` events."""

    @property
    def events(self) -> int: ...

    def encode(self, stored: int) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Retention:
    max_age_s: float | None = 7 * 86400.0
    max_bytes: int | None = 1024 * 1024 * 1024
    keep_free_bytes: int | None = None
    """Space left free on the journal's file system (``None``: no such limit)."""


def default_keep_free(directory: Path) -> int:
    """5 % of the file system holding ``directory``, at most 1 GiB (journald's
    ``SystemKeepFree`` is 15 % and 4 GiB: the journal is the agent's only history, so it
    yields less of the disk by default)."""
    return min(shutil.disk_usage(directory).total // 20, 1 << 30)


def _free_bytes(directory: Path) -> int:
    return shutil.disk_usage(directory).free


class JournalWriter:
    def __init__(
        self,
        journal: Journal,
        retention: Retention,
        *,
        block_events: int = BLOCK_EVENTS,
        max_queued_blocks: int = MAX_QUEUED_BLOCKS,
        clock: Callable[[], float] = time.time,
        free_bytes: Callable[[Path], int] = _free_bytes,
    ) -> None:
        self.journal = journal
        self._retention = retention
        self._block_events = block_events
        self._max_queued = max_queued_blocks
        self._clock = clock
        self._free_bytes = free_bytes
        self._short_of_space = False
        """The last block found the disk short of ``keep_free_bytes`` (said once a spell)."""
        self._pending: list[LogEvent] = []
        self._positions: deque[tuple[int, int, Position]] = deque()
        """(first seq, last seq, position) of the file batches not wholly handed yet."""
        self._frames: dict[int, tuple[int, bytes]] = {}
        """The ring's sealed runs by first seq: (last seq, bytes)."""
        self._ring: EventStore | None = None
        self._queue: deque[Block | Job | None] = deque()
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
             clock: Callable[[], float] = time.time, tailed: bool = False,
             others: Sequence[str] = ()) -> JournalWriter:
        """Open the journal at ``path`` (JournalError if unusable), number ``ring``'s events on
        from it and start writing. ``tailed``, ``others``: whether files are tailed, and the
        other sources' kinds, for what a crash cost (:func:`crash_note`)."""
        journal = Journal(path)
        if journal.unclean:
            # Numbers up to MAX_UNWRITTEN past the journal may have been handed out to events
            # that were lost with the process: they are skipped, never reused.
            floor = journal.seq_floor
            journal.skip(floor + 1, floor + MAX_UNWRITTEN)
            log.warning("%s", crash_note(path, tailed=tailed, checkpointed=journal.tail_checkpoint is not None,
                                         others=others))
        if ring.last_seq < journal.seq_floor:  # (an agent started again in-process goes on)
            ring.resume_after(journal.seq_floor)
        writer = cls(journal, retention, clock=clock)
        writer._ring = ring
        ring.on_seal = writer.sealed
        writer.start()
        return writer

    # ------------------------------------------------------------------ event loop side

    def append(self, events: Sequence[LogEvent], position: Position | None = None) -> None:
        """Queue ``events`` (numbered by the ring) for the journal; ``position``: where the
        file tail that read them stands after them."""
        if position is not None:
            if events:
                self._positions.append((events[0].seq, events[-1].seq, position))
            elif self._pending:  # moved with no event: goes with the events before it
                last = self._pending[-1].seq
                self._positions.append((last + 1, last, position))
            elif (body := position.encode(0)) is not None:  # nothing pending: at once
                self.submit(lambda journal: journal.save_tail_checkpoint(body))
        self._pending.extend(events)
        if len(self._pending) >= self._block_events:
            self._hand(everything=False)

    def flush(self) -> None:
        """Hand whatever is pending to the writer thread as one or more blocks."""
        self._hand(everything=True)

    def sealed(self, first_seq: int, last_seq: int, frame: bytes) -> None:
        """The ring sealed events ``first_seq..last_seq`` into ``frame`` (its ``on_seal``)."""
        frames = self._frames
        frames[first_seq] = (last_seq, frame)
        if len(frames) > HELD_FRAMES:
            del frames[next(iter(frames))]

    def _hand(self, *, everything: bool) -> None:
        """Hand full blocks (or, with ``everything``, all that is pending) to the thread."""
        pending = self._pending
        step = self._block_events
        start = 0
        while len(pending) - start >= (1 if everything else step):
            events = pending[start : start + step]
            pieces = self._pieces(events)
            if not everything and len(pieces) > 1 and not isinstance(pieces[-1], bytes):
                events = events[: len(events) - len(pieces.pop())]  # the next block takes the rest
            self._enqueue((events, pieces, self._checkpoint(events[-1].seq)))
            start += len(events)
        if start:
            self._pending = pending[start:]
            frames = self._frames
            handed = pending[start - 1].seq
            while frames and next(iter(frames)) <= handed:
                del frames[next(iter(frames))]

    def _checkpoint(self, last: int) -> bytes | None:
        """The checkpoint for a block ending at ``last``: of the newest file batch it reaches,
        for the part of that batch it holds; None when no file batch is in it."""
        positions = self._positions
        newest = None
        while positions and positions[0][1] <= last:
            newest = positions.popleft()[2]
        if positions and positions[0][0] <= last:  # ends inside a batch: the rest comes next
            first, _end, position = positions[0]
            partly = position.encode(last - first + 1)
            if partly is not None:
                return partly
        return None if newest is None else newest.encode(newest.events)

    def _pieces(self, events: list[LogEvent]) -> list[Piece]:
        """``events`` cut into the runs the ring sealed (their bytes) and the runs between."""
        frames = self._frames
        if not frames:
            return [events]
        pieces: list[Piece] = []
        count = len(events)
        run = at = 0
        while at < count:
            held = frames.get(events[at].seq)
            if held is not None:
                last, frame = held
                end = at + last - events[at].seq + 1
                if end <= count and events[end - 1].seq == last:
                    if run < at:
                        pieces.append(events[run:at])
                    pieces.append(frame)
                    at = run = end
                    continue
            at += 1
        if run < count:
            pieces.append(events[run:])
        return pieces

    def submit(self, job: Job) -> None:
        """Run ``job(journal)`` on the writer thread, in order with the blocks (recorded
        states, minutes: a few a minute, so never dropped)."""
        self._enqueue(job)

    def _enqueue(self, item: Block | Job | None) -> None:
        with self._wake:
            if isinstance(item, tuple) and sum(isinstance(queued, tuple) for queued in self._queue) >= self._max_queued:
                oldest = next(queued for queued in self._queue if isinstance(queued, tuple))
                self._queue.remove(oldest)
                self.dropped += len(oldest[0])
            self._queue.append(item)
            self._wake.notify()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="obsview-journal", daemon=True)
        self._thread.start()

    def stop(self, last_seq: int) -> None:
        """Write everything pending, record the numbers handed out, close the file (blocking:
        call it in a worker thread)."""
        self.flush()
        if self._ring is not None:
            self._ring.on_seal = None
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
            if isinstance(item, tuple):
                self._write(*item)
            else:
                self._run_job(item)

    def _run_job(self, job: Job) -> None:
        try:
            job(self.journal)
        except (sqlite3.Error, OSError, JournalError) as exc:
            self.write_errors += 1
            log.error("history journal %s: recorded state not written (%s)", self.journal.path, exc)

    def _write(self, block: list[LogEvent], pieces: list[Piece], tail_checkpoint: bytes | None) -> None:
        try:
            now = self._clock()
            self._keep_free()
            self.journal.write_block(pack(block, pieces), now, tail_checkpoint)
            self.written += len(block)
            if now - self._retained_at >= RETENTION_INTERVAL_S:
                self._retained_at = now
                self.apply_retention(now)
        except (sqlite3.Error, OSError, JournalError, msgspec.EncodeError, OverflowError, TypeError, ValueError) as exc:
            # (a value msgpack cannot hold: the ring kept such events unsealed; never expected)
            self.dropped += len(block)
            self.write_errors += 1
            if self.write_errors == 1 or self.write_errors % 100 == 0:
                log.error("history journal %s: a block of %d events was not written (%s)",
                          self.journal.path, len(block), exc)

    def _keep_free(self) -> None:
        """Drop the oldest blocks while the disk has less than ``keep_free_bytes`` free."""
        keep = self._retention.keep_free_bytes
        if keep is None:
            return
        try:
            short = keep - self._free_bytes(self.journal.path.parent)
        except OSError:
            return
        if short <= 0:
            self._short_of_space = False
            return
        dropped = self.journal.drop_oldest(older_than=None, max_bytes=max(0, self.journal.used_bytes() - short))
        self.journal.shrink_wal()
        if not self._short_of_space:
            self._short_of_space = True
            log.warning("history journal %s: the disk has %d MB free, under the %d MB the journal"
                        " leaves free; its oldest %d events were dropped to make room (and more will"
                        " be while the disk stays short)", self.journal.path, max(0, keep - short) >> 20,
                        keep >> 20, dropped)

    def apply_retention(self, now: float) -> int:
        retention = self._retention
        older_than = None if retention.max_age_s is None else now - retention.max_age_s
        return self.journal.drop_oldest(older_than=older_than, max_bytes=retention.max_bytes)


def crash_note(path: Path, *, tailed: bool, checkpointed: bool, others: Sequence[str]) -> str:
    """What an agent stopped abruptly cost its history, said at the next start: tailed files
    are read again from the journal's checkpoint (``checkpointed``), so their lines are not
    lost; events that came any other way and were not written yet are."""
    note = f"history journal {path} was not closed: the agent stopped abruptly"
    if tailed and checkpointed:
        note += ("; tailed files are read on from just after the last line it holds (their lines"
                 " not yet written are read again: none is lost, none stored twice)")
    elif tailed:  # a journal of an obsview that kept the offsets apart only
        note += ("; tailed files are read on from their offsets saved a second apart (lines read in"
                 " the second before the stop may be stored twice, or be missing from history)")
    if others:
        note += f"; events from {', '.join(others)} not yet written (at most {MAX_UNWRITTEN}) were lost"
    elif not tailed:
        note += f"; events not yet written (at most {MAX_UNWRITTEN}) were lost"
    return note
