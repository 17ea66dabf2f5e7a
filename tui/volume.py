"""Log volume over time: events and errors per time bucket of the events the console holds.

Pure Python, no Textual. :class:`VolumeCounts` is kept by the event buffer as events come
and go (one dict increment per event and resolution, the same subtracted on eviction), so a
histogram never rescans the buffer: :func:`layout` bins the per-second counts (or per-minute,
for buckets of a minute or more) into at most as many buckets as the chart has columns (the
chart draws fewer wider), which costs the number of distinct seconds (minutes) held, not the
number of events.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from obsview.common.protocol import LogEvent

#: Bucket widths a histogram may use (seconds): round numbers a clock shows.
BUCKET_WIDTHS: Final = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                        21600, 43200, 86400)
_DAY: Final = 86400


class VolumeCounts:
    """Held events and held ERROR events per second and per minute of their timestamps;
    events from ``skip_source`` (the console's own marker lines) are not counted."""

    def __init__(self, *, skip_source: str = "") -> None:
        self.seconds: dict[int, int] = {}
        self.second_errors: dict[int, int] = {}
        self.minutes: dict[int, int] = {}
        self.minute_errors: dict[int, int] = {}
        self.version = 0
        """Moves at every change: a chart redraws only when it moved."""
        self._skip = skip_source

    def add(self, events: Iterable[LogEvent]) -> None:
        self._apply(events, 1)

    def remove(self, events: Iterable[LogEvent]) -> None:
        self._apply(events, -1)

    def _apply(self, events: Iterable[LogEvent], sign: int) -> None:
        # Counted per batch in C (Counter over a list), then folded per distinct second:
        # a batch spans a few seconds, so the Python per event is one list comprehension.
        skip, floor = self._skip, math.floor
        held = [event for event in events if event.source != skip] if skip else list(events)
        per_second = Counter([floor(event.ts) for event in held])
        errors = Counter([floor(event.ts) for event in held if event.level == "ERROR"])
        _fold(self.seconds, self.minutes, per_second, sign)
        _fold(self.second_errors, self.minute_errors, errors, sign)
        self.version += 1

    def clear(self) -> None:
        for counts in (self.seconds, self.second_errors, self.minutes, self.minute_errors):
            counts.clear()
        self.version += 1

    @property
    def span(self) -> tuple[int, int] | None:
        """First and last second held (None when nothing is)."""
        if not self.minutes:
            return None
        first_minute, last_minute = min(self.minutes), max(self.minutes)
        first = min(s for s in range(first_minute * 60, first_minute * 60 + 60) if s in self.seconds)
        last = max(s for s in range(last_minute * 60, last_minute * 60 + 60) if s in self.seconds)
        return first, last


def _fold(seconds: dict[int, int], minutes: dict[int, int], counts: Counter[int], sign: int) -> None:
    for second, count in counts.items():
        minute = second // 60
        for table, key in ((seconds, second), (minutes, minute)):
            value = table.get(key, 0) + sign * count
            if value:
                table[key] = value
            else:
                del table[key]


@dataclass(frozen=True, slots=True)
class Histogram:
    """Columns of a volume chart, oldest first: column ``i`` counts the events stamped in
    ``[start + i * width_s, start + (i + 1) * width_s)``."""

    start: int
    width_s: int
    events: tuple[int, ...]
    errors: tuple[int, ...]

    @property
    def peak(self) -> int:
        return max(self.events, default=0)

    def column_at(self, ts: float) -> int:
        """The column holding ``ts``, clamped to the chart."""
        return max(0, min(len(self.events) - 1, int((ts - self.start) // self.width_s)))

    def bucket_start(self, column: int) -> int:
        return self.start + column * self.width_s


def bucket_width(first: int, last: int, columns: int) -> int:
    """The smallest round width whose buckets, aligned on multiples of it, cover the seconds
    ``first``..``last`` in at most ``columns`` columns."""
    for width in (*BUCKET_WIDTHS, *(_DAY * n for n in range(2, 8))):
        if last // width - first // width + 1 <= columns:
            return width
    width = _DAY * math.ceil((last - first + 1) / max(1, columns - 1) / _DAY)
    while last // width - first // width + 1 > columns:
        width *= 2
    return width


def layout(counts: VolumeCounts, columns: int) -> Histogram | None:
    """The held events binned into at most ``columns`` columns of a round width, aligned on
    multiples of it (a minute bucket starts on the minute). None when nothing is held."""
    span = counts.span
    if span is None or columns < 1:
        return None
    first, last = span
    width = bucket_width(first, last, columns)
    start = first // width * width
    count = (last - start) // width + 1
    events = [0] * count
    errors = [0] * count
    if width >= 60 and width % 60 == 0:
        per_key, per_key_errors, unit = counts.minutes, counts.minute_errors, 60
    else:
        per_key, per_key_errors, unit = counts.seconds, counts.second_errors, 1
    for key, value in per_key.items():
        events[(key * unit - start) // width] += value
    for key, value in per_key_errors.items():
        errors[(key * unit - start) // width] += value
    return Histogram(start, width, tuple(events), tuple(errors))
