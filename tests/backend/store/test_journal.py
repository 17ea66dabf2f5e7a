"""The journal on real files: round trip, queries against a plain-Python oracle, retention,
refusing files it did not write, and numbering that goes on across restarts."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_files import as_format_3, drain

from obsview.backend.store import journal_query
from obsview.backend.store.history import History
from obsview.backend.store.journal import _TRACE_INDEX, SCHEMA_VERSION, Journal, JournalError
from obsview.backend.store.journal_codec import block_hashes, frames, index_rows, pack, seal, unpack
from obsview.backend.store.journal_writer import MAX_UNWRITTEN, JournalWriter, Retention
from obsview.backend.store.query import EventQuery
from obsview.backend.store.ring import EventStore
from obsview.common.filters import parse_filter
from obsview.common.protocol import LEVELS, LogEvent

NO_RETENTION = Retention(max_age_s=None, max_bytes=None)


def events(count: int, *, start: int = 1, ts: float = 1_000_000.0) -> list[LogEvent]:
    made = []
    for seq in range(start, start + count):
        made.append(LogEvent(
            ts=ts + seq, level=LEVELS[seq % 5], message=f"Request completed {seq}" + (" timeout" if seq % 97 == 0 else ""),
            seq=seq, trace_id=f"trace-{seq // 3}", request_id=f"req-{seq}", status=200 + seq % 4 * 100,
            duration_ms=float(seq % 50), raw=f'{{"n":{seq},"msg":"Request completed"}}', extra={"n": seq},
        ))
    return made


def written(path: Path, batches: list[list[LogEvent]], retention: Retention = NO_RETENTION) -> Journal:
    """A journal holding ``batches`` (one block each), written by the real writer thread."""
    writer = JournalWriter(Journal(path), retention)
    writer.start()
    last = 0
    for batch in batches:
        writer.append(batch)
        writer.flush()
        last = batch[-1].seq
    writer.stop(last)
    return Journal(path)


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
any_event = st.builds(
    LogEvent, ts=st.floats(0, 4e9), level=st.sampled_from(LEVELS), message=text, service=text,
    trace_id=text, request_id=text, method=text, route=text, path=text,
    status=st.none() | st.integers(100, 599), duration_ms=st.none() | st.floats(0, 1e6),
    raw=text, user_agent=text, stack=text,
    extra=st.dictionaries(text, st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | text, max_size=3),
    truncated=st.booleans(), redacted=st.booleans(), parse_error=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(any_event, min_size=1, max_size=20))
def test_a_block_gives_back_equal_events(batch: list[LogEvent]) -> None:
    for seq, event in enumerate(batch, 1):
        event.seq = seq
    assert unpack(pack(batch).data) == batch


def test_the_writer_thread_journals_every_event(tmp_path: Path) -> None:
    batches = [events(100, start=1), events(50, start=101)]
    journal = written(tmp_path / "j.sqlite3", batches)
    got, missed = journal_query.since(journal, 0, 1000)
    assert got == batches[0] + batches[1] and missed == 0
    assert (journal.first_seq, journal.last_seq) == (1, 150)


def oracle(all_events: list[LogEvent], query: EventQuery) -> list[int]:
    return [event.seq for event in query.select(all_events)]


@pytest.mark.parametrize("expression", [
    "", "timeout", "TIMEOUT", "level:error", "trace:trace-40", "trace:trace-4*", "status:5xx -timeout",
    "/completed 1[0-9]{2}$/", "req-77",
])
@pytest.mark.parametrize("forward", [False, True])
def test_queries_match_the_filter_exactly(tmp_path: Path, expression: str, forward: bool) -> None:
    all_events = events(1000)
    journal = written(tmp_path / "j.sqlite3", [all_events[i : i + 64] for i in range(0, 1000, 64)])
    query = EventQuery(parse_filter(expression), after_seq=0 if forward else None)
    assert drain(journal, query, limit=7, max_scan=100) == oracle(all_events, query)


def test_time_bounds_and_anchors(tmp_path: Path) -> None:
    all_events = events(500)
    journal = written(tmp_path / "j.sqlite3", [all_events[i : i + 50] for i in range(0, 500, 50)])
    query = EventQuery(before_seq=400, since_ts=1_000_100.0, until_ts=1_000_350.0)
    assert drain(journal, query, limit=1000, max_scan=1000) == list(range(100, 351))


def test_a_text_needle_hidden_by_lower_casing_still_matches(tmp_path: Path) -> None:
    """U+212A (KELVIN SIGN) lower-cases to "k": the text section is lower-cased as the filter does."""
    kelvin = LogEvent(ts=1.0, level="INFO", message="300 \u212a", seq=1)
    journal = written(tmp_path / "j.sqlite3", [[kelvin]])
    page = journal_query.query(journal, EventQuery(parse_filter("300 k")), limit=10, max_scan=10)
    assert page.events == [kelvin]


@pytest.mark.parametrize("forward", [False, True])
def test_pages_that_stop_inside_a_block_count_each_event_scanned_once(tmp_path: Path, forward: bool) -> None:
    journal = written(tmp_path / "j.sqlite3", [events(1000, start=1), events(1000, start=1001)])
    query = EventQuery(parse_filter(""), after_seq=0 if forward else None)
    scanned, seen = 0, []
    while True:
        page = journal_query.query(journal, query, limit=300, max_scan=10_000)
        scanned += page.scanned
        seen += [event.seq for event in page.events]
        if page.exhausted:
            break
        query = query.resumed(page.next_seq)
    assert sorted(seen) == list(range(1, 2001)) and scanned == 2000


def test_a_trace_is_found_through_the_index_and_the_pages_count_every_event(tmp_path: Path) -> None:
    journal = written(tmp_path / "j.sqlite3", [events(1000, start=start) for start in range(1, 10_001, 1000)])
    for forward in (False, True):
        query = EventQuery(parse_filter("trace:trace-1700"), after_seq=0 if forward else None)
        page = journal_query.query(journal, query, limit=500, max_scan=200_000)
        assert [event.seq for event in page.events] == [5100, 5101, 5102]
        assert page.exhausted and page.scanned == 10_000
    page = journal_query.query(journal, EventQuery(parse_filter("trace:trace-1700"), before_seq=5102),
                               limit=1, max_scan=200_000)
    assert [event.seq for event in page.events] == [5101] and page.scanned == 1  # 5101 itself
    assert journal_query.query(journal, EventQuery(parse_filter("trace:nowhere")), limit=5, max_scan=10).events == []


def as_format_2(path: Path) -> None:
    """Rewrite a journal as format 2 wrote it: a block's data one LZ4 blob (no frames), the
    trace index a row per block and bucket in ``trace_index``."""
    as_format_3(path)
    with sqlite3.connect(path) as db:
        db.execute(_TRACE_INDEX)
        for first_seq, data in db.execute("SELECT first_seq, data FROM blocks").fetchall():
            block = unpack(bytes(data))
            db.execute("UPDATE blocks SET data = ? WHERE first_seq = ?", (seal(block), first_seq))
            db.executemany("INSERT INTO trace_index VALUES (?, ?, ?)", index_rows(first_seq, block_hashes(block)))
        db.execute("DROP TABLE trace_batches")
        db.execute("DELETE FROM meta WHERE key = 'indexed'")
        db.execute("PRAGMA user_version = 2")


def test_a_journal_of_the_second_format_is_read_as_it_is_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    written(path, [events(100, start=1), events(100, start=101)]).close()
    as_format_2(path)
    with sqlite3.connect(path) as db:
        assert not db.execute("SELECT count(*) FROM blocks WHERE data LIKE x'ffffffff' || '%'").fetchone()[0]
    journal = Journal(path)
    assert journal.read("PRAGMA user_version").__next__()[0] == SCHEMA_VERSION
    got, missed = journal_query.since(journal, 0, 1000)
    assert [e.seq for e in got] == list(range(1, 201)) and missed == 0
    journal.write_block(pack(events(100, start=201)), time.time())  # a block of the new format beside
    for trace, seqs in (("trace:trace-50", [150, 151, 152]), ("trace:trace-67", [201, 202, 203])):
        page = journal_query.query(journal, EventQuery(parse_filter(trace)), limit=10, max_scan=1000)
        assert [event.seq for event in page.events] == seqs
    journal.close()
    journal = Journal(path)  # the new block indexed at close, the old ones still found
    page = journal_query.query(journal, EventQuery(parse_filter("trace:trace-67")), limit=10, max_scan=1000)
    assert [event.seq for event in page.events] == [201, 202, 203]
    assert [e.seq for e in journal_query.since(journal, 0, 1000)[0]] == list(range(1, 301))


def test_a_journal_of_the_first_format_gets_the_trace_index(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    written(path, [events(100, start=1), events(100, start=101)]).close()
    as_format_2(path)
    with sqlite3.connect(path) as db:  # back to format 1: one row of sorted hashes per block
        db.execute("CREATE TABLE traces(first_seq INTEGER PRIMARY KEY, hashes BLOB NOT NULL)")
        for first_seq in (1, 101):
            rows = db.execute("SELECT hashes FROM trace_index WHERE first_seq = ? ORDER BY bucket", (first_seq,))
            db.execute("INSERT INTO traces VALUES (?, ?)", (first_seq, b"".join(row[0] for row in rows)))
        db.execute("DROP TABLE trace_index")
        db.execute("PRAGMA user_version = 1")
    journal = Journal(path)
    page = journal_query.query(journal, EventQuery(parse_filter("trace:trace-50")), limit=10, max_scan=1000)
    assert [event.seq for event in page.events] == [150, 151, 152]
    assert journal.read("PRAGMA user_version").__next__()[0] == SCHEMA_VERSION


def test_blocks_not_yet_in_the_trace_index_are_found_and_indexed_again_after_a_kill(tmp_path: Path) -> None:
    """The index is written a batch of blocks at a time: until then a lookup finds a block in
    memory, and a journal not closed (killed) indexes the rest when it opens again."""
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.write_block(pack(events(100, start=1)), time.time())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM trace_batches").fetchone()[0] == 0, "held back"
    page = journal_query.query(journal, EventQuery(parse_filter("trace:trace-20")), limit=10, max_scan=1000)
    assert [event.seq for event in page.events] == [60, 61, 62]
    del journal  # killed: never closed, its index rows never written
    journal = Journal(path)
    assert journal.unclean
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM trace_batches").fetchone()[0] > 0, "indexed at open"
    page = journal_query.query(journal, EventQuery(parse_filter("trace:trace-20")), limit=10, max_scan=1000)
    assert [event.seq for event in page.events] == [60, 61, 62]


def test_a_block_made_of_the_rings_sealed_runs_reads_back_whole(tmp_path: Path) -> None:
    """The writer stores the ring's sealed bytes as they are, packing only the runs between."""
    ring = EventStore(10_000, block_events=100)
    writer = JournalWriter(Journal(tmp_path / "j.sqlite3"), NO_RETENTION, block_events=300)
    ring.on_seal = writer.sealed
    writer.start()
    made = events(950, start=0)
    for start in range(0, 950, 70):  # batches that do not line up with the ring's blocks
        batch = made[start : start + 70]
        ring.append(batch)
        writer.append(batch)
        if start == 420:
            writer.flush()  # a flush inside a ring block: the rest of it is packed by the writer
    writer.stop(ring.last_seq)
    journal = Journal(tmp_path / "j.sqlite3")
    got, missed = journal_query.since(journal, 0, 10_000)
    assert got == made and missed == 0
    framed = [frames(bytes(data)) for (data,) in journal.read("SELECT data FROM blocks ORDER BY first_seq")]
    assert sum(map(len, framed)) > len(framed), "blocks of several frames"
    sealed = {blob for _base, blob in ring._sealed.values() if isinstance(blob, bytes)}
    assert sealed & {frame for parts in framed for frame in parts}, "the ring's bytes reused"


def test_since_reports_holes(tmp_path: Path) -> None:
    journal = written(tmp_path / "j.sqlite3", [events(10, start=1), events(10, start=31)])
    assert ([e.seq for e in journal_query.since(journal, 0, 100)[0]], 0) == (list(range(1, 11)), 0)
    got, missed = journal_query.since(journal, 10, 100)
    assert ([e.seq for e in got], missed) == (list(range(31, 41)), 20)


def test_the_newest_events_are_counted_across_holes(tmp_path: Path) -> None:
    """A crash or retention leaves numbers that were never events: a fresh console after a
    restart asks for the newest N events, not for the seqs above ``last - N`` (the live trial
    had 72k events numbered up to 211,895: ``last - 100,000`` held none of them)."""
    journal = written(tmp_path / "j.sqlite3", [events(10, start=1), events(10, start=31)])
    assert journal_query.newest_start(journal, 41, 5) == 35
    assert journal_query.newest_start(journal, 41, 15) == 5, "five from before the hole"
    assert journal_query.newest_start(journal, 41, 500) == 0, "all there is"
    assert journal_query.newest_start(journal, 36, 3) == 32, "below the ring's oldest"
    got = journal_query.since(journal, journal_query.newest_start(journal, 41, 15), 100)[0]
    assert [e.seq for e in got] == list(range(6, 11)), "up to the hole, the next page goes on"


def test_retention_by_age_drops_what_was_written_longest_ago_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    now = [0.0]
    writer = JournalWriter(Journal(path), NO_RETENTION, clock=lambda: now[0])
    writer.start()
    writer.append(events(100, start=1, ts=50_000.0))  # stamped later than written: the age is
    writer.flush()                                     # how long the journal has held them
    while writer.written < 100:
        time.sleep(0.01)
    now[0] = 10_000.0
    writer.append(events(100, start=101, ts=0.0))
    writer.stop(200)
    journal = Journal(path)
    writer = JournalWriter(journal, Retention(max_age_s=5_000.0, max_bytes=None))
    assert writer.apply_retention(now=15_000.0) == 100
    assert (journal.first_seq, journal.dropped_total) == (101, 100)
    journal.close()
    assert Journal(path).dropped_total == 100


def test_retention_by_size_keeps_the_file_under_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    cap = 2 << 20
    retention = Retention(max_age_s=None, max_bytes=cap)
    writer = JournalWriter(Journal(path), retention, max_queued_blocks=100)
    writer.start()
    noise = random.Random(5)
    for block in range(60):  # 60 blocks of ~0.3 MB once compressed (raw and text section)
        batch = events(500, start=block * 500 + 1)
        for event in batch:
            event.raw = noise.randbytes(250).hex()
        writer.append(batch)
        writer.flush()
    writer.stop(30_000)
    journal = Journal(path)
    writer = JournalWriter(journal, retention)
    writer.apply_retention(now=0.0)
    assert journal.used_bytes() <= cap
    assert path.stat().st_size <= cap * 1.5  # pages given back (incremental vacuum)
    assert journal.dropped_total > 0 and journal.first_seq == journal.dropped_total + 1
    assert journal.last_seq == 30_000


def test_a_disk_that_cannot_keep_up_loses_the_oldest_blocks_counted(tmp_path: Path) -> None:
    writer = JournalWriter(Journal(tmp_path / "j.sqlite3"), NO_RETENTION, block_events=10, max_queued_blocks=3)
    writer.append(events(100))  # ten blocks, while the writer thread is not running
    assert writer.dropped == 70
    writer.start()
    writer.stop(100)
    got, missed = journal_query.since(Journal(tmp_path / "j.sqlite3"), 0, 1000)
    assert [e.seq for e in got] == list(range(71, 101)) and missed == 70


def test_a_disk_running_short_makes_the_journal_drop_its_oldest_and_say_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checks: list[int] = []

    def free_bytes(_directory: Path) -> int:
        """What the file system has free as the writer checks before a block: 10 MB short
        of the rule before the 9th and 10th blocks (more than the few kB the journal holds)."""
        checks.append(len(checks) + 1)
        return 40 << 20 if len(checks) in (9, 10) else 100 << 20

    retention = Retention(max_age_s=None, max_bytes=None, keep_free_bytes=50 << 20)
    writer = JournalWriter(Journal(tmp_path / "j.sqlite3"), retention, block_events=100, free_bytes=free_bytes)
    writer.append(events(1000))  # ten blocks, queued before the writer thread runs
    writer.start()
    writer.stop(1000)
    journal = Journal(tmp_path / "j.sqlite3")
    assert writer.written == 1000 and writer.dropped == 0, "every block written, none lost"
    assert journal.dropped_total == 900 and journal.first_seq == 901, "the oldest went, counted"
    assert journal.last_seq == 1000
    short = [record.message for record in caplog.records if "leaves free" in record.message]
    assert len(short) == 1, "said once for the spell, not once a block"
    assert "40 MB free, under the 50 MB the journal leaves free; its oldest 800 events" in short[0]


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"my notes, not a journal\n" * 10)
    with pytest.raises(JournalError, match="not an obsview journal") as caught:
        Journal(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == b"my notes, not a journal\n" * 10


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts(name TEXT)")
    before = path.read_bytes()
    with pytest.raises(JournalError, match="another program"):
        Journal(path)
    assert path.read_bytes() == before


def test_a_journal_of_a_newer_obsview_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A newer format may mean anything: read as this one, it would be misread."""
    path = tmp_path / "j.sqlite3"
    written(path, [events(10)]).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = path.read_bytes()
    with pytest.raises(JournalError, match=f"written by a newer obsview \\(format {SCHEMA_VERSION + 1}\\)") as caught:
        Journal(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before


def test_a_damaged_block_is_an_error_not_a_crash(tmp_path: Path) -> None:
    journal = written(tmp_path / "j.sqlite3", [events(10)])
    with sqlite3.connect(tmp_path / "j.sqlite3") as db:
        db.execute("UPDATE blocks SET data = x'00112233'")
    with pytest.raises(JournalError, match="journal block does not decompress") as caught:
        journal_query.since(journal, 0, 10)
    assert str(tmp_path / "j.sqlite3") in str(caught.value)


def test_numbering_goes_on_after_a_clean_stop_and_jumps_after_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    ring = EventStore(100)
    writer = JournalWriter.open(path, NO_RETENTION, ring)
    ring.append(events(30))
    writer.append(ring.tail(30))
    writer.stop(ring.last_seq)
    ring = EventStore(100)
    writer = JournalWriter.open(path, NO_RETENTION, ring)
    assert ring.first_seq == 31
    ring.append(events(5, start=0))
    assert [e.seq for e in ring.tail(5)] == [31, 32, 33, 34, 35]
    writer.append(ring.tail(5))
    writer.flush()
    while writer.written < 5:  # written by the thread; then "killed": never stopped
        time.sleep(0.01)
    ring = EventStore(100)
    journal = JournalWriter.open(path, NO_RETENTION, ring).journal
    assert ring.first_seq == 35 + MAX_UNWRITTEN + 1
    assert journal.skipped(36, 36 + MAX_UNWRITTEN) == MAX_UNWRITTEN
    history = History(ring, journal)
    ring.append(events(1, start=0))
    got, missed = asyncio.run(history.since(35, 10))
    assert [e.seq for e in got] == [ring.last_seq] and missed == 0, "skipped numbers are not lost events"
    # A search's progress counts events, not numbers: "scanned 500 of 219,632" over 150,000
    # events was the 69,632 numbers skipped after an abrupt stop counted as events to scan.
    assert history.held_between(*history.held_seqs(history=True)) == 35 + 1
