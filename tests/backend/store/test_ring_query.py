"""The store's query seam over the RAM ring: pages, anchors, limits, time bounds."""

from __future__ import annotations

import pytest

from obsview.backend.store.query import EventQuery
from obsview.backend.store.ring import EventStore
from obsview.common.filters import parse_filter
from obsview.common.protocol import LogEvent


def filled(count: int, capacity: int = 1000) -> EventStore:
    store = EventStore(capacity)
    store.append([
        LogEvent(ts=float(i), level="ERROR" if i % 10 == 0 else "INFO", message=f"line {i}")
        for i in range(1, count + 1)
    ])
    return store


def test_backward_pages_walk_from_the_newest_to_the_oldest() -> None:
    store = filled(100)
    query = EventQuery(parse_filter("level:error"))
    seqs: list[list[int]] = []
    while True:
        page = store.query(query, limit=3, max_scan=1000)
        seqs.append([event.seq for event in page.events])
        if page.exhausted:
            break
        query = query.resumed(page.next_seq)
    assert seqs == [[80, 90, 100], [50, 60, 70], [20, 30, 40], [10]]


def test_a_page_scans_at_most_max_scan_events() -> None:
    store = filled(100)
    page = store.query(EventQuery(parse_filter("level:error")), limit=50, max_scan=25)
    assert [event.seq for event in page.events] == [80, 90, 100]
    assert (page.scanned, page.next_seq, page.exhausted) == (25, 76, False)


def test_before_seq_starts_below_the_anchor() -> None:
    store = filled(100)
    page = store.query(EventQuery(before_seq=5), limit=10, max_scan=1000)
    assert [event.seq for event in page.events] == [1, 2, 3, 4]
    assert page.exhausted


def test_forward_pages_walk_from_the_anchor_to_the_newest() -> None:
    store = filled(30)
    query = EventQuery(parse_filter("level:error"), after_seq=0)
    page = store.query(query, limit=2, max_scan=1000)
    assert [event.seq for event in page.events] == [10, 20]
    assert (page.next_seq, page.exhausted) == (20, False)
    page = store.query(query.resumed(page.next_seq), limit=2, max_scan=1000)
    assert [event.seq for event in page.events] == [30]
    assert page.exhausted


def test_time_bounds_and_text() -> None:
    store = filled(100)
    page = store.query(EventQuery(parse_filter("line"), since_ts=41.0, until_ts=43.0), limit=10, max_scan=1000)
    assert [event.seq for event in page.events] == [41, 42, 43]


def test_evicted_events_are_not_scanned() -> None:
    store = filled(100, capacity=10)
    page = store.query(EventQuery(), limit=100, max_scan=1000)
    assert [event.seq for event in page.events] == list(range(91, 101))
    assert page.exhausted


@pytest.mark.parametrize("anchor", [{"before_seq": 1}, {"after_seq": 100}])
def test_nothing_beyond_the_ends(anchor: dict[str, int]) -> None:
    page = filled(100).query(EventQuery(**anchor), limit=10, max_scan=1000)  # type: ignore[arg-type]
    assert page.events == [] and page.exhausted
