"""Log volume per time bucket: counts kept as events come and go, binned without a rescan."""

from __future__ import annotations

import random

from obsview.common.protocol import LogEvent
from obsview.tui.model import EventBuffer
from obsview.tui.volume import VolumeCounts, bucket_width, layout

T0 = 1_795_618_800  # on the hour


def event(ts: float, level: str = "INFO") -> LogEvent:
    return LogEvent(ts=ts, level=level, message="m")  # type: ignore[arg-type]


def recount(events: list[LogEvent], start: int, width: int, columns: int) -> tuple[list[int], list[int]]:
    totals, errors = [0] * columns, [0] * columns
    for e in events:
        column = (int(e.ts // 1) - start) // width
        totals[column] += 1
        errors[column] += e.level == "ERROR"
    return totals, errors


def test_the_buffers_counts_follow_appends_and_evictions() -> None:
    rng = random.Random(7)
    buffer = EventBuffer(capacity=500)
    held: list[LogEvent] = []
    ts = float(T0)
    for _ in range(40):
        batch = []
        for _ in range(rng.randrange(1, 60)):
            ts += rng.random() * 3
            batch.append(event(ts, rng.choice(["INFO", "INFO", "WARN", "ERROR", "DEBUG"])))
        buffer.append(batch)
        held = (held + batch)[-500:]
        histogram = layout(buffer.volume, 60)
        assert histogram is not None
        assert sum(histogram.events) == len(held) == buffer.total
        assert (list(histogram.events), list(histogram.errors)) == recount(
            held, histogram.start, histogram.width_s, len(histogram.events))
    buffer.clear()
    assert layout(buffer.volume, 60) is None and not buffer.volume.seconds


def test_markers_are_not_events() -> None:
    buffer = EventBuffer(capacity=10)
    buffer.append([event(T0 + 1.0)])
    buffer.mark("gap: 5 events lost here", T0 + 2.0)
    histogram = layout(buffer.volume, 10)
    assert histogram is not None and sum(histogram.events) == 1


def test_round_widths_aligned_to_the_clock() -> None:
    assert bucket_width(T0, T0 + 59, 60) == 1
    assert bucket_width(T0, T0 + 60, 60) == 2
    assert bucket_width(T0 + 5, T0 + 42 * 60, 76) == 60
    assert bucket_width(T0, T0 + 7 * 86400, 76) == 10800
    counts = VolumeCounts()
    counts.add([event(T0 + 17.5, "ERROR"), event(T0 + 42 * 60 + 3), event(T0 + 42 * 60 + 59)])
    histogram = layout(counts, 76)
    assert histogram is not None
    assert histogram.width_s == 60 and histogram.start == T0
    assert histogram.events[0] == 1 and histogram.errors[0] == 1 and histogram.events[42] == 2
    assert len(histogram.events) == 43


def test_a_wild_timestamp_cannot_make_the_chart_unbounded() -> None:
    counts = VolumeCounts()
    counts.add([event(0.0), event(float(T0)), event(4_000_000_000.0)])
    histogram = layout(counts, 80)
    assert histogram is not None and len(histogram.events) <= 80 and sum(histogram.events) == 3


def test_fewer_buckets_than_columns_fill_the_width_in_order() -> None:
    """Every column shows a bucket, each bucket a run of neighbouring columns (widths differing
    by at most one), from the first column to the last: the axis stays linear in time."""
    from obsview.tui.widgets.volume_chart import bucket_at, first_column

    for buckets, width in ((54, 118), (54, 198), (90, 118), (1, 80), (80, 80), (3, 7)):
        shown = [bucket_at(x, buckets, width) for x in range(width)]
        assert shown == sorted(shown) and set(shown) == set(range(buckets))
        widths = {shown.count(bucket) for bucket in range(buckets)}
        assert max(widths) - min(widths) <= 1, (buckets, width, widths)
        assert all(shown[first_column(b, buckets, width)] == b for b in range(buckets))
        assert first_column(buckets, buckets, width) == width
