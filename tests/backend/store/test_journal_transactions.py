"""A journal write is one SQLite transaction: a block's rows (its events, text, errors, trace
index batch) commit together or not at all. The connection autocommits, and there ``with
db:`` began no transaction: each statement committed alone, so a failure or a kill between
them left a block without its text row."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_codec import pack
from obsview.backend.store.journal_writer import JournalWriter, Retention
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent

NO_RETENTION = Retention(max_age_s=None, max_bytes=None)


def numbered(ring: EventStore, count: int) -> list[LogEvent]:
    ring.append([LogEvent(ts=1.0, level="INFO", message=f"line {n}") for n in range(count)])
    return ring.tail(count)


def test_a_block_whose_text_cannot_be_written_leaves_no_row(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    ring = EventStore(1000, block_events=1000)
    writer = JournalWriter(Journal(path), NO_RETENTION)
    writer.start()
    writer.append(numbered(ring, 5))
    writer.flush()
    deadline = time.monotonic() + 5
    while writer.written < 5:
        assert time.monotonic() < deadline, "the writer thread did not write"
        time.sleep(0.01)
    with sqlite3.connect(path) as db:  # the next block's text row cannot be written
        db.execute("INSERT INTO texts VALUES (6, x'00')")
    writer.append(numbered(ring, 5))
    writer.flush()
    writer.stop(ring.last_seq)
    assert writer.write_errors == 1
    journal = Journal(path)
    assert journal.last_seq == 5, "no block row without its text"
    assert [row[0] for row in journal.read("SELECT first_seq FROM blocks")] == [1]
    journal.close()


def test_a_failed_write_leaves_the_journal_writable(tmp_path: Path) -> None:
    """The transaction a failed statement was in is rolled back, not left open."""
    journal = Journal(tmp_path / "j.sqlite3")
    ring = EventStore(1000, block_events=1000)
    block = pack(numbered(ring, 3))
    journal.write_block(block, 0.0)
    try:
        journal.write_block(block, 0.0)  # the same first seq again
    except sqlite3.IntegrityError:
        pass
    journal.write_block(pack(numbered(ring, 3)), 0.0)
    journal.close()
    assert Journal(tmp_path / "j.sqlite3").last_seq == 6
