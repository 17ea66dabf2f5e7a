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


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 7), st.lists(st.integers(0, 20), max_size=12), st.integers(1, 5),
       st.integers(0, 9))
def test_ring_matches_a_plain_list_whatever_the_batch_sizes(
    capacity: int, sizes: list[int], block: int, resumed: int
) -> None:
    store = EventStore(capacity=capacity, block_events=block)
    store.resume_after(resumed)  # a journal's numbering: blocks then start mid-way
    everything: list[LogEvent] = []
    for size in sizes:
        batch = events(size)
        store.append(batch)
        everything += batch
        kept = everything[-capacity:]
        found, missed = store.since(resumed)
        assert found == kept == store.tail(7)  # sealed blocks come back equal, not the same
        assert missed == len(everything) - len(kept) == store.evicted
    assert seqs(everything) == list(range(resumed + 1, resumed + len(everything) + 1))


def test_sealed_blocks_give_back_the_events_as_normalized_in_little_room() -> None:
    """Real records (the seed's mix: nested extra, floats, stacks, redacted logins) come back
    field for field equal, at under 300 bytes an event (issue 11), from blocks sealed as
    msgpack + LZ4."""
    from benchmarks.ingest import seed_lines
    from obsview.backend.ingest.normalize import Normalizer

    normalizer = Normalizer(service="blog-api", host="web-1")
    normalized = normalizer.normalize_lines(seed_lines(5000), "app.log")
    store = EventStore(capacity=5000)
    store.append(normalized)
    assert store.since(0)[0] == normalized
    sealed = 4 * 1024  # the fifth block is still open
    assert store.sealed_bytes / sealed <= 300


def test_a_block_msgpack_cannot_hold_stays_as_objects() -> None:
    store = EventStore(capacity=10, block_events=2)
    batch = events(4)
    batch[1].extra = {"big": 2**70}  # only an in-process record could carry one
    store.append(batch)
    assert store.since(0)[0] == batch and store.sealed_bytes > 0
