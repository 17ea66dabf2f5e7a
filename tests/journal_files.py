"""Helpers of the journal's tests: pages drained, files made as older formats wrote them,
text that lower-casing and JSON escapes make tricky."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import strategies as st

from obsview.backend.store import journal_codec, journal_query
from obsview.backend.store.journal import Journal
from obsview.backend.store.query import EventQuery

# Characters whose lower case is longer, context-dependent or ASCII: Kelvin sign, dotted
# capital I, final sigma, German sharp s; JSON escapes as a raw line holds them.
TRICKY = ["\u212a", "\u0130", "\u03a3", "\u03c3", "\u00df", "\u00c9", "\u00e9", '\\"', "\\u00e9", "\\\\",
          "\\n", "\x00", "\U0001f600", "K", "k", "I", "i", " ", "-", "/", "Timeout", "TIMEOUT", "timeout"]
words = st.lists(st.sampled_from(TRICKY) | st.text(max_size=4), max_size=8).map("".join)


def drain(journal: Journal, query: EventQuery, *, limit: int, max_scan: int) -> list[int]:
    seqs: list[list[int]] = []
    while True:
        page = journal_query.query(journal, query, limit=limit, max_scan=max_scan)
        seqs.append([event.seq for event in page.events])
        if page.exhausted:
            break
        query = query.resumed(page.next_seq)
    ordered = seqs if query.forward else list(reversed(seqs))
    return [seq for part in ordered for seq in part]


def as_format_3(path: Path) -> None:
    """Rewrite a journal as format 3 wrote it: no errors kept apart."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE errors")
        db.execute("PRAGMA user_version = 3")


@contextmanager
def text_chunks_of(size: int) -> Iterator[None]:
    """Text sections cut into frames of ``size`` bytes: many frames, needles near their edges."""
    saved = journal_codec.TEXT_CHUNK
    journal_codec.TEXT_CHUNK = size  # type: ignore[misc]
    try:
        yield
    finally:
        journal_codec.TEXT_CHUNK = saved  # type: ignore[misc]

