"""Minutes of history read late, in the journal: added up when a minute gets more requests,
and dropped by retention with the blocks written before them (they are stamped with the
requests' own, older, time: by that, the first retention pass dropped them all)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from obsview.backend.signals.backlog import history_stats
from obsview.backend.store.history_minutes import history_minute, read_history_minutes, write_history_minutes
from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_codec import pack
from obsview.common.histogram import Histogram
from obsview.common.protocol import LogEvent

YESTERDAY = 29_000_000  # a minute, a day before the blocks below were written
WRITTEN = 1_740_000_000.0


def latency(*values: float) -> Histogram:
    histogram = Histogram()
    for value in values:
        histogram.add(value)
    return histogram


def block(first_seq: int) -> bytes:
    return pack([LogEvent(ts=YESTERDAY * 60.0, level="INFO", message="Request completed", seq=first_seq)])


def test_a_minute_adds_what_it_gets_later_and_goes_with_the_blocks_written_before_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.write_block(block(1), WRITTEN)
    write_history_minutes(journal, [history_minute(YESTERDAY, 2, 1, 1, YESTERDAY * 60.0 + 5, YESTERDAY * 60.0 + 9,
                                                   latency(10.0, 500.0)),
                                    history_minute(YESTERDAY + 1, 1, 0, 0, YESTERDAY * 60.0 + 61,
                                                   YESTERDAY * 60.0 + 61, latency(20.0))], WRITTEN)
    journal.write_block(block(2), WRITTEN + 100)
    # The first minute again (a log appended late): added to its row, not written over it.
    write_history_minutes(journal, [history_minute(YESTERDAY, 1, 1, 0, YESTERDAY * 60.0 + 1, YESTERDAY * 60.0 + 1,
                                                   latency(30.0))], WRITTEN + 100)
    (first, second) = read_history_minutes(journal)
    assert (first.requests, first.errors, first.server_errors) == (3, 2, 1)
    assert (first.first_ts, first.last_ts) == (YESTERDAY * 60.0 + 1, YESTERDAY * 60.0 + 9)
    assert first.histogram().quantiles((0.5, 1.0)) == latency(10.0, 30.0, 500.0).quantiles((0.5, 1.0))
    stats = history_stats([first, second])
    assert stats is not None and (stats.requests, stats.errors, stats.server_errors) == (4, 2, 1)
    assert [p.requests for p in stats.minutes] == [3, 1]

    # Retention drops the first block: the minute written with it only goes with it.
    assert journal.drop_oldest(older_than=WRITTEN + 50, max_bytes=None) == 1
    assert [m.minute for m in read_history_minutes(journal)] == [YESTERDAY]
    assert journal.drop_oldest(older_than=WRITTEN + 150, max_bytes=None) == 1
    assert read_history_minutes(journal) == []
    journal.close()


def test_a_journal_of_format_4_without_the_table_gets_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    Journal(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE history_minutes")
    journal = Journal(path)
    write_history_minutes(journal, [history_minute(YESTERDAY, 1, 0, 0, 1.0, 1.0, latency(5.0))], WRITTEN)
    assert [m.requests for m in read_history_minutes(journal)] == [1]
    journal.close()
