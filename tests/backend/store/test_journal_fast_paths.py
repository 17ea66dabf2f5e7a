"""The journal's fast paths (a block's errors kept apart, the level terms narrowing the blocks
read, the text section) select exactly what a plain scan selects: random filters over random
events, on real files, against the filter over the events in RAM and against the same journal
without its errors apart (format 3: every block read whole)."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from journal_files import TRICKY, as_format_3, drain, text_chunks_of

from obsview.backend.store import journal_query
from obsview.backend.store.journal import SCHEMA_VERSION, Journal
from obsview.backend.store.journal_codec import Narrowing, pack, seal
from obsview.backend.store.query import EventQuery
from obsview.common.filters import FilterError, parse_filter
from obsview.common.protocol import LEVELS, LogEvent

WORDS = ["Request completed", "timeout", "Timeout after", "user", "deadbeef", "c0ffee", "req_", "GET /api/posts/",
         "\u212a", "\u0130", "\u03a3", "\x00", " ", "-", "\\u00e9", '\\"']
STATUSES = [None, None, 200, 201, 302, 399, 400, 404, 499, 500, 503, 599, 600, 999]


def line(rng: random.Random) -> str:
    """Lines of a few kinds, told apart by numbers and hex (as a log's are), some unlike any."""
    if rng.random() < 0.1:
        return "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 4)))
    return " ".join(rng.choice(WORDS) + (str(rng.randrange(10**rng.randint(0, 5))) if rng.random() < 0.7 else "")
                    for _ in range(rng.randint(1, 4)))


def random_events(rng: random.Random, count: int) -> list[LogEvent]:
    return [
        LogEvent(ts=float(seq), level=rng.choice(LEVELS), message=line(rng), seq=seq, raw=line(rng),
                 status=rng.choice(STATUSES), method=rng.choice(["", "GET", "POST"]),
                 trace_id=f"t-{seq % 7}", request_id=f"req_{seq}")
        for seq in range(1, count + 1)
    ]


def random_filter_text(rng: random.Random, events: list[LogEvent]) -> str:
    terms = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(6)
        if kind == 0:
            level = rng.choice(LEVELS).lower()
            terms.append(f"level:{level}" + rng.choice(["", "+", ",warn"]))
        elif kind == 1:
            terms.append("status:" + rng.choice(["5xx", "4xx", ">=400", ">499", "<300", "404", "4xx,503", "<=500",
                                                 "200", ">=600"]))
        elif kind == 2:
            picked = rng.choice(events)
            text = rng.choice([picked.message, picked.raw]) or "x"
            start = rng.randrange(len(text))
            needle = text[start : start + rng.randint(1, 8)].replace('"', "")
            terms.append('"' + needle + '"' if needle.strip() == needle and needle else "timeout")
        elif kind == 3:
            terms.append(rng.choice(WORDS + TRICKY).strip().replace('"', "") or "user")
        elif kind == 4:
            terms.append(rng.choice(["-timeout", "method:get", "trace:t-3", "-level:error", "-status:5xx"]))
        else:
            terms.append(rng.choice(["/time(out)? ?[0-9]/", "route:/api", "deadbeef", "404", "0"]))
    return " ".join(terms)


def write(path: Path, events: list[LogEvent], rng: random.Random) -> Journal:
    journal = Journal(path)
    start = 0
    while start < len(events):
        block = events[start : start + rng.randint(1, 60)]
        cut = rng.randint(0, len(block))  # some runs sealed already (the ring's), some not
        pieces = [piece for piece in (seal(block[:cut]) if cut else b"", block[cut:]) if len(piece)]
        journal.write_block(pack(block, pieces), 0.0)
        start += len(block)
    journal.close()
    return Journal(path)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), count=st.integers(1, 400), chunk=st.sampled_from([16, 200, 65536]))
def test_random_filters_select_on_the_fast_paths_what_a_plain_scan_selects(seed: int, count: int, chunk: int) -> None:
    rng = random.Random(seed)  # (hypothesis's own randoms draw more than it allows for a file of events)
    events = random_events(rng, count)
    with tempfile.TemporaryDirectory() as tmp, text_chunks_of(chunk):
        fast, plain = Path(tmp) / "fast.sqlite3", Path(tmp) / "plain.sqlite3"
        write(fast, events, rng).close()
        plain.write_bytes(fast.read_bytes())
        as_format_3(plain)
        journals = [Journal(fast), Journal(plain)]
        try:
            for _ in range(12):
                try:
                    wanted = parse_filter(random_filter_text(rng, events),
                                          levels=rng.choice([LEVELS, LEVELS[:2], LEVELS[1:]]))
                except FilterError:
                    continue
                forward = rng.random() < 0.5
                query = EventQuery(wanted, after_seq=0 if forward else None)
                expected = [event.seq for event in query.select(events)]
                limit, max_scan = rng.choice([1, 7, 500]), rng.choice([5, 100, 10_000])
                for journal in journals:
                    assert drain(journal, query, limit=limit, max_scan=max_scan) == expected, wanted.query
        finally:
            for journal in journals:
                journal.close()


def test_a_filter_that_admits_only_errors_reads_only_a_blocks_errors() -> None:
    only = {query: Narrowing.of(parse_filter(query)).errors_only for query in (
        "level:error", "status:5xx", "status:>=500", "status:503", "level:error status:4xx", "level:warn+",
        "status:4xx", "status:>=499", "level:info", "", "-level:info", "timeout", "level:error,warn",
    )}
    assert only == {
        "level:error": True, "status:5xx": True, "status:>=500": True, "status:503": True,
        "level:error status:4xx": True, "level:warn+": False, "status:4xx": False, "status:>=499": False,
        "level:info": False, "": False, "-level:info": False, "timeout": False, "level:error,warn": False,
    }
    assert Narrowing.of(parse_filter("", levels=["ERROR"])).errors_only  # the level toggles


def test_a_journal_of_the_third_format_is_read_as_it_is_and_its_new_blocks_get_the_fast_paths(tmp_path: Path) -> None:
    rng = random.Random(3)
    events = random_events(rng, 300)
    path = tmp_path / "j.sqlite3"
    write(path, events[:200], rng).close()
    as_format_3(path)
    journal = Journal(path)
    assert journal.read("PRAGMA user_version").__next__()[0] == SCHEMA_VERSION
    for event in events[200:]:
        journal.write_block(pack([event]), 0.0)
    (kept,) = journal.read("SELECT count(*) FROM errors").__next__()
    assert kept == 100  # the new blocks' only
    for expression in ("level:error", "status:5xx", "timeout", "level:warn+ -timeout", "deadbeef"):
        query = EventQuery(parse_filter(expression))
        assert drain(journal, query, limit=7, max_scan=1000) == [event.seq for event in query.select(events)]
    assert [event.seq for event in journal_query.since(journal, 0, 1000)[0]] == list(range(1, 301))
    journal.close()
