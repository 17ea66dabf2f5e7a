"""The agent's spans: a bounded set of traces (:class:`~obsview.common.traces.TraceIndex`)
whose spans also carry a sequence number, so a console resumes the span stream as it resumes
the event stream.

Span ``seq`` starts at 1 and never repeats within an agent run (a sequence of its own, apart
from the events'). Because whole traces are evicted, the held sequence numbers have holes;
:meth:`TraceStore.since` walks the numbers after the one asked for and counts each one no
longer held, which is exactly the gap to report.
"""

from __future__ import annotations

from obsview.common.spans import Span
from obsview.common.traces import TraceIndex


class TraceStore(TraceIndex):
    def __init__(self, **bounds: int) -> None:
        super().__init__(**bounds)
        self._by_seq: dict[int, Span] = {}
        """Held spans by seq, in seq order (dicts keep insertion order)."""
        self._last = 0

    @property
    def last_seq(self) -> int:
        """Newest span sequence number (0 before any)."""
        return self._last

    def _kept(self, span: Span) -> None:
        self._last += 1
        span.seq = self._last
        self._by_seq[self._last] = span

    def _evicted(self, spans: list[Span]) -> None:
        by_seq = self._by_seq
        for span in spans:
            del by_seq[span.seq]

    def since(self, seq: int, limit: int) -> tuple[list[Span], int]:
        """Held spans numbered after ``seq``, oldest first (at most ``limit``), and how many
        numbers in the range walked are no longer held (the gap)."""
        by_seq = self._by_seq
        start = max(seq + 1, 1)
        if limit < 1 or start > self._last:
            return [], 0
        oldest = next(iter(by_seq), self._last + 1)
        missed = max(0, oldest - start)
        found: list[Span] = []
        for number in range(max(start, oldest), self._last + 1):
            span = by_seq.get(number)
            if span is None:
                missed += 1
                continue
            found.append(span)
            if len(found) >= limit:
                break
        return found, missed
