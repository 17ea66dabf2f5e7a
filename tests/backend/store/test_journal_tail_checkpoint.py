"""The tailed files' checkpoint committed with the journal's blocks: each block carries the
position of the newest file batch it reaches, for the part of it the block holds, so the
journal file says where to read on from whatever moment the agent is killed at."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_writer import MAX_UNWRITTEN, JournalWriter, Retention, crash_note
from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent

NO_RETENTION = Retention(max_age_s=None, max_bytes=None)


@dataclass(frozen=True, slots=True)
class Batch:
    """A file batch's position, saying which batch and how much of it is stored."""

    name: str
    events: int

    def encode(self, stored: int) -> bytes | None:
        return f"{self.name}:{stored}/{self.events}".encode()


def numbered(ring: EventStore, count: int) -> list[LogEvent]:
    ring.append([LogEvent(ts=1.0, level="INFO", message=f"line {n}") for n in range(count)])
    return ring.tail(count)


def committed(path: Path) -> bytes | None:
    """The checkpoint a restart would read, read beside the running writer (as after a kill)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'tail_checkpoint'").fetchone()
    return None if row is None else bytes(row[0])


def wait_written(writer: JournalWriter, count: int) -> None:
    deadline = time.monotonic() + 5
    while writer.written < count:
        assert time.monotonic() < deadline, "the writer thread did not write"
        time.sleep(0.01)


def test_a_block_ending_inside_a_batch_commits_the_part_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    ring = EventStore(1000, block_events=1000)  # no sealed runs: blocks cut by count alone
    writer = JournalWriter(Journal(path), NO_RETENTION, block_events=10)
    writer.start()
    writer.append(numbered(ring, 6), Batch("a", 6))
    writer.append(numbered(ring, 8), Batch("b", 8))  # 14 pending: a block of 10 goes
    wait_written(writer, 10)
    writer.append(numbered(ring, 3))  # another source's events: no position
    writer.flush()
    wait_written(writer, 17)
    writer.stop(ring.last_seq)
    journal = Journal(path)
    assert journal.tail_checkpoint == b"b:8/8", "the rest of b went with the last block"
    journal.close()


def test_the_checkpoint_is_committed_with_its_block_and_not_before(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    ring = EventStore(1000, block_events=1000)
    writer = JournalWriter(Journal(path), NO_RETENTION, block_events=10)
    writer.start()
    writer.append(numbered(ring, 6), Batch("a", 6))
    writer.append(numbered(ring, 8), Batch("b", 8))
    wait_written(writer, 10)
    assert committed(path) == b"b:4/8", "a, and 4 events of b: b is read again without them"
    writer.append(numbered(ring, 2), Batch("c", 2))  # pending, not written: not committed
    assert committed(path) == b"b:4/8"
    writer.flush()
    wait_written(writer, 16)
    assert committed(path) == b"c:2/2"


def test_a_position_with_no_event_is_committed_after_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    ring = EventStore(1000, block_events=1000)
    writer = JournalWriter(Journal(path), NO_RETENTION, block_events=10)
    writer.start()
    writer.append([], Batch("start", 0))  # nothing pending: at once
    writer.flush()
    deadline = time.monotonic() + 5
    while committed(path) != b"start:0/0":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    writer.append(numbered(ring, 3), Batch("a", 3))
    writer.append([], Batch("moved", 0))  # after a's events: goes with their block
    assert committed(path) == b"start:0/0"
    writer.flush()
    wait_written(writer, 3)
    writer.stop(ring.last_seq)
    assert committed(path) == b"moved:0/0"


@pytest.mark.parametrize(("tailed", "checkpointed", "others", "says", "never"), [
    (True, True, [], "none is lost, none stored twice", "were lost"),
    (True, True, ["TCP"], f"events from TCP not yet written (at most {MAX_UNWRITTEN}) were lost", "stored twice,"),
    (True, False, [], "may be stored twice, or be missing from history", "were lost"),
    (False, False, [], f"events not yet written (at most {MAX_UNWRITTEN}) were lost", "tailed"),
])
def test_the_restart_says_what_the_crash_cost(
    tmp_path: Path, tailed: bool, checkpointed: bool, others: list[str], says: str, never: str
) -> None:
    note = crash_note(tmp_path / "j.sqlite3", tailed=tailed, checkpointed=checkpointed, others=others)
    assert note.startswith(f"history journal {tmp_path / 'j.sqlite3'} was not closed")
    assert says in note and never not in note

