"""The ring buffer: sequence numbers, eviction, and exact gap counts for resuming consoles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from obsview.backend.store.ring import EventStore
from obsview.common.protocol import LogEvent


def events(n: int) -> list[LogEvent]:
    return [LogEvent(ts=float(i), level="INFO", message=f"m{i}") for i in range(n)]


def seqs(found: list[LogEvent]) -> list[int]:
    return [e.seq for e in found]


def test_empty_store() -> None:
    store = EventStore(capacity=4)
    assert (len(store), store.last_seq, store.first_seq, store.evicted) == (0, 0, 1, 0)
    assert store.since(0) == ([], 0)
    assert store.tail(3) == []


def test_append_assigns_increasing_seq_across_batches() -> None:
    store = EventStore(capacity=10)
    first, second = events(3), events(2)
    store.append(first)
    store.append(second)
    assert seqs(first + second) == [1, 2, 3, 4, 5]
    assert store.last_seq == 5 and len(store) == 5


def test_since_returns_what_follows() -> None:
    store = EventStore(capacity=10)
    store.append(events(6))
    assert (seqs(store.since(0)[0]), store.since(0)[1]) == ([1, 2, 3, 4, 5, 6], 0)
    assert seqs(store.since(4)[0]) == [5, 6]
    assert store.since(6) == ([], 0)
    assert store.since(99) == ([], 0)
    assert seqs(store.since(1, limit=2)[0]) == [2, 3]


def test_eviction_and_exact_missed_counts() -> None:
    store = EventStore(capacity=4)
    store.append(events(10))  # 1..6 evicted, 7..10 buffered
    assert (store.first_seq, store.last_seq, store.evicted, len(store)) == (7, 10, 6, 4)
    found, missed = store.since(2)
    assert seqs(found) == [7, 8, 9, 10] and missed == 4  # 3, 4, 5, 6 are gone
    found, missed = store.since(0)
    assert seqs(found) == [7, 8, 9, 10] and missed == 6
    found, missed = store.since(6)
    assert seqs(found) == [7, 8, 9, 10] and missed == 0
    assert store.since(-5)[1] == 6


@pytest.mark.parametrize("batch", [1, 3, 7, 13])
def test_wraparound_keeps_order(batch: int) -> None:
    store = EventStore(capacity=7)
    for _ in range(9):
        store.append(events(batch))
    last = store.last_seq
    assert seqs(store.tail(7)) == list(range(last - 6, last + 1))
    assert seqs(store.tail(3)) == [last - 2, last - 1, last]
    assert seqs(store.since(last - 5)[0]) == list(range(last - 4, last + 1))
    assert seqs(store.since(last - 6, limit=4)[0]) == list(range(last - 5, last - 1))
    assert seqs(store.tail(100)) == list(range(last - 6, last + 1))


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EventStore(capacity=0)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 7), st.lists(st.integers(0, 20), max_size=12))
def test_ring_matches_a_plain_list_whatever_the_batch_sizes(
    capacity: int, sizes: list[int]
) -> None:
    store = EventStore(capacity=capacity)
    everything: list[LogEvent] = []
    for size in sizes:
        batch = events(size)
        store.append(batch)
        everything += batch
        kept = everything[-capacity:]
        found, missed = store.since(0)
        assert [id(e) for e in found] == [id(e) for e in kept] == [id(e) for e in store.tail(7)]
        assert missed == len(everything) - len(kept) == store.evicted
    assert seqs(everything) == list(range(1, len(everything) + 1))
