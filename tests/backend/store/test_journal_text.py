"""The journal's text search (chunked text section, SIMD substring search) selects exactly what
the filter language selects over the same events in RAM: unicode, JSON escapes, case."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st
from journal_files import TRICKY, text_chunks_of, words

from obsview.backend.store import journal_query
from obsview.backend.store.journal import Journal
from obsview.backend.store.journal_codec import Narrowing, pack, seal
from obsview.backend.store.query import EventQuery
from obsview.common.filters import Filter, FilterError, parse_filter
from obsview.common.protocol import LEVELS, LogEvent


def event(seq: int, message: str, raw: str) -> LogEvent:
    return LogEvent(ts=float(seq), level=LEVELS[seq % 5], message=message, seq=seq, raw=raw,
                    trace_id=f"t-{seq}")


def needles_for(events: list[LogEvent], rng: random.Random) -> list[str]:
    """Substrings of the texts (case changed at random), and words that may be nowhere."""
    found = []
    for picked in rng.sample(events, min(4, len(events))):
        text = rng.choice([picked.message, picked.raw])
        if text:
            start = rng.randrange(len(text))
            part = text[start : start + rng.randint(1, 6)]
            found.append("".join(c.upper() if rng.random() < 0.5 else c for c in part))
    return found + rng.sample(TRICKY, 3)


def journal_of(path: Path, events: list[LogEvent], rng: random.Random) -> Journal:
    journal = Journal(path)
    start = 0
    while start < len(events):
        block = events[start : start + rng.randint(1, 40)]
        cut = rng.randint(0, len(block))  # some runs sealed already (the ring's), some not
        pieces = [piece for piece in (seal(block[:cut]) if cut else b"", block[cut:]) if len(piece)]
        journal.write_block(pack(block, pieces), 0.0)
        start += len(block)
    return journal


def filters_for(needle: str) -> list[Filter]:
    """The needle as typed, and quoted (whatever of it the language accepts)."""
    made = []
    for query in (needle, '"' + needle.replace('"', '\\"') + '"'):
        try:
            made.append(parse_filter(query))
        except FilterError:
            pass
    return made


@settings(max_examples=40, deadline=None)
@given(texts=st.lists(st.tuples(words, words), min_size=1, max_size=120), rng=st.randoms(use_true_random=False))
def test_a_text_search_over_the_journal_selects_what_the_filter_selects_in_ram(
    texts: list[tuple[str, str]], rng: random.Random,
) -> None:
    events = [event(seq, message, raw) for seq, (message, raw) in enumerate(texts, 1)]
    with tempfile.TemporaryDirectory() as tmp, text_chunks_of(64):
        journal = journal_of(Path(tmp) / "j.sqlite3", events, rng)
        try:
            for wanted in (made for needle in needles_for(events, rng) for made in filters_for(needle)):
                query = EventQuery(wanted)
                expected = [e.seq for e in query.select(events)]
                page = journal_query.query(journal, query, limit=10_000, max_scan=10_000)
                assert [e.seq for e in page.events] == expected, wanted.query
        finally:
            journal.close()


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.tuples(words, words), min_size=1, max_size=30), needle=words, chunk=st.integers(1, 200))
@example(texts=[("", "\x00K")], needle="\x00K", chunk=1)  # a NUL inside a raw line: no safe place to cut
def test_a_block_whose_text_section_is_ruled_out_holds_no_match(texts: list[tuple[str, str]], needle: str, chunk: int) -> None:
    """The prefilter may let a block through that holds no match, never the other way."""
    events = [event(seq, message, raw) for seq, (message, raw) in enumerate(texts, 1)]
    with text_chunks_of(chunk):
        text = pack(events).text
    for wanted in filters_for(needle):
        if any(map(wanted.matches, events)):
            assert Narrowing.of(wanted).text_may_hold(text), wanted.query
