"""The span store: bounded by spans, bytes and spans per trace; whole oldest traces go first;
every loss counted; resume by span seq reports exactly what is gone."""

from __future__ import annotations

from span_testkit import make_span

from obsview.backend.store.traces import TraceStore
from obsview.common.traces import TraceIndex, span_bytes, summarize


def trace_id(n: int) -> str:
    return f"{n:032x}"


def span_id(n: int) -> str:
    return f"{n + 1:016x}"


def test_a_flood_of_distinct_traces_stays_inside_the_count_bound() -> None:
    store = TraceStore(max_spans=1000)
    for n in range(20_000):
        store.add([make_span(trace_id(n), span_id(0))])
        assert store.spans <= 1000
    assert len(store) == 1000 and store.traces_evicted == 19_000 == store.spans_evicted
    assert list(store.trace_ids())[0] == trace_id(19_000)  # the newest stayed


def test_the_byte_bound_holds_and_evicts_whole_oldest_traces() -> None:
    one = span_bytes(make_span(trace_id(0), span_id(0), name="x" * 500))
    store = TraceStore(max_bytes=one * 10)
    for n in range(5):
        store.add([make_span(trace_id(n), span_id(i), name="x" * 500) for i in range(3)])
        assert store.bytes <= one * 10
    assert [t for t in store.trace_ids()] == [trace_id(2), trace_id(3), trace_id(4)]
    assert all(len(store.get(t)) == 3 for t in store.trace_ids())


def test_a_trace_over_its_cap_drops_its_newest_spans() -> None:
    index = TraceIndex(max_spans_per_trace=5)
    kept = index.add([make_span(trace_id(1), span_id(i)) for i in range(8)])
    assert len(kept) == 5 and index.spans_dropped == 3


def test_a_single_trace_bigger_than_the_store_keeps_what_fits() -> None:
    index = TraceIndex(max_spans=4)
    index.add([make_span(trace_id(1), span_id(i)) for i in range(6)])
    assert index.spans == 4 and index.spans_dropped == 2 and index.traces_evicted == 0


def test_a_retried_export_is_not_stored_twice() -> None:
    index = TraceIndex()
    spans = [make_span(trace_id(1), span_id(i)) for i in range(3)]
    index.add(spans)
    assert index.add([make_span(trace_id(1), span_id(i)) for i in range(3)]) == []
    assert index.spans == 3 and index.spans_duplicate == 3


def test_since_resumes_and_counts_the_evicted_spans_as_the_gap() -> None:
    store = TraceStore(max_spans=4)
    for n in range(5):  # traces 0..4 of two spans: seqs 1..10; traces 0-2 evicted
        store.add([make_span(trace_id(n), span_id(0)), make_span(trace_id(n), span_id(1))])
    assert store.last_seq == 10
    spans, missed = store.since(0, 100)
    assert [s.seq for s in spans] == [7, 8, 9, 10] and missed == 6
    spans, missed = store.since(7, 2)
    assert [s.seq for s in spans] == [8, 9] and missed == 0
    assert store.since(10, 100) == ([], 0)


def test_a_trace_evicted_within_its_own_batch_leaves_no_seq_behind() -> None:
    store = TraceStore(max_spans=2)
    store.add([make_span(trace_id(1), span_id(0)), make_span(trace_id(2), span_id(0)),
               make_span(trace_id(3), span_id(0))])
    spans, missed = store.since(0, 10)
    assert [s.trace_id for s in spans] == [trace_id(2), trace_id(3)] and missed == 1


def test_summary_takes_the_root_and_the_server_span() -> None:
    root = make_span(trace_id(1), span_id(0), start=10.0, end=10.2, name="GET /api/posts/:id",
                     kind=2, attributes={"http.route": "/api/posts/:id", "http.method": "get",
                                         "http.status_code": 503})
    child = make_span(trace_id(1), span_id(1), parent=span_id(0), start=10.05, end=10.3)
    summary = summarize(trace_id(1), [child, root])
    assert summary is not None
    assert (summary.name, summary.route, summary.method, summary.status) == (
        "GET /api/posts/:id", "/api/posts/:id", "GET", 503)
    assert summary.error and summary.spans == 2
    assert abs(summary.duration_ms - 300.0) < 1e-6
