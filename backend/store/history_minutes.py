"""History read late, by the minute of its own time, as the journal keeps it.

Requests stamped well before the agent read them are counted by their own minute
(:mod:`obsview.backend.signals.backlog`). Each such minute is journaled beside the events, so
an agent started again over the journal shows that history again and an incident file of its
span has its rates and percentiles. A minute can get more requests at any later time (a log
appended while the agent was down, another file of the same hours), so what the agent hands
over is what each minute got since it last did, added to the row on disk (never written
over it). A row remembers when it was last written: retention drops it with the blocks
written before it (see :meth:`Journal.drop_oldest`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from obsview.backend.store.journal import Journal
from obsview.common.histogram import Histogram, add_counts


class HistoryMinute(msgspec.Struct, frozen=True, array_like=True):
    """Requests of one minute of history (or what it got since it was last journaled),
    with the whole latency histogram: minutes merge into percentiles over any span."""

    minute: int
    """Minutes since the epoch, of the requests' own timestamps."""
    requests: int
    errors: int
    """Status >= 400 (the seed's "failed")."""
    server_errors: int
    """Status >= 500."""
    first_ts: float
    last_ts: float
    """The earliest and latest of the requests' timestamps."""
    buckets: dict[int, int]
    zero: int
    latency_sum: float
    latency_min: float
    latency_max: float

    def histogram(self) -> Histogram:
        return Histogram(dict(self.buckets), self.zero, self.zero + sum(self.buckets.values()),
                         self.latency_sum, self.latency_min, self.latency_max)


def history_minute(minute: int, requests: int, errors: int, server_errors: int, first_ts: float,
                   last_ts: float, latency: Histogram) -> HistoryMinute:
    return HistoryMinute(minute, requests, errors, server_errors, first_ts, last_ts, dict(latency.buckets),
                         latency.zero, latency.sum, latency.min, latency.max)


def added(kept: HistoryMinute, more: HistoryMinute) -> HistoryMinute:
    """One minute's row with what it got since."""
    buckets = dict(kept.buckets)
    add_counts(buckets, more.buckets)
    return HistoryMinute(
        kept.minute, kept.requests + more.requests, kept.errors + more.errors,
        kept.server_errors + more.server_errors, min(kept.first_ts, more.first_ts),
        max(kept.last_ts, more.last_ts), buckets, kept.zero + more.zero,
        kept.latency_sum + more.latency_sum, min(kept.latency_min, more.latency_min),
        max(kept.latency_max, more.latency_max),
    )


_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER: Final = msgspec.msgpack.Decoder(HistoryMinute)
_LAST_MINUTE: Final = 2**62


def _add(kept: bytes, more: bytes) -> bytes:
    return _ENCODER.encode(added(_DECODER.decode(kept), _DECODER.decode(more)))


def write_history_minutes(journal: Journal, minutes: Iterable[HistoryMinute], written_at: float) -> None:
    """Add what each minute got to its row (on the journal's writer thread)."""
    journal.add_history_minutes({part.minute: _ENCODER.encode(part) for part in minutes}, _add, written_at)


def read_history_minutes(journal: Journal, since_minute: int = 0, until_minute: int = _LAST_MINUTE
                         ) -> list[HistoryMinute]:
    """The journaled minutes of history in the span (all of them by default), oldest first."""
    return [_DECODER.decode(data) for data in journal.history_minutes(since_minute, until_minute)]
