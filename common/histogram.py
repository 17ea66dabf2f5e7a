"""A mergeable log-bucketed latency histogram with a relative-error guarantee.

Bucket ``i`` holds the values in ``(GAMMA**(i-1), GAMMA**i]``; a quantile is answered with
the bucket's midpoint in relative terms, so every estimate is within
``(GAMMA-1)/(GAMMA+1)`` ≈ 0.5 % of a value that really is at that rank. Values are clamped
to ``[MIN_VALUE, MAX_VALUE]``, so there are at most a few thousand buckets whatever the
traffic (in practice a few hundred: latencies span a few decades). Histograms over the same
bucket layout merge and subtract exactly, which is what sliding windows need.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

GAMMA: Final = 1.01
_LOG_GAMMA: Final = math.log(GAMMA)
MIN_VALUE: Final = 1e-3
"""Smaller values (including 0 ms, common with millisecond clocks) count in the zero bucket."""
MAX_VALUE: Final = 1e9
_MAX_INDEX: Final = math.ceil(math.log(MAX_VALUE) / _LOG_GAMMA)

PROMETHEUS_BOUNDS_MS: Final = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
"""The coarse ``le`` boundaries exposed to Prometheus (a ``+Inf`` bucket follows)."""


_Key = TypeVar("_Key")


def add_counts(into: dict[_Key, int], other: dict[_Key, int]) -> None:
    """Add ``other``'s sparse counts to ``into`` (bucket or status counts)."""
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


def subtract_counts(into: dict[_Key, int], other: dict[_Key, int]) -> None:
    """Remove ``other``'s counts (previously added) from ``into``; keys left at zero go, so a
    sliding window's dict stays as small as the traffic still in it."""
    for key, n in other.items():
        left = into[key] - n
        if left:
            into[key] = left
        else:
            del into[key]


def bucket_index(value: float) -> int:
    """The bucket of a positive value ≥ MIN_VALUE (callers route smaller ones to ``zero``)."""
    index = math.ceil(math.log(value) / _LOG_GAMMA)
    return index if index < _MAX_INDEX else _MAX_INDEX


def bucket_value(index: int) -> float:
    """The value that represents bucket ``index``: minimal worst-case relative error."""
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


@dataclass(slots=True)
class Histogram:
    buckets: dict[int, int] = field(default_factory=dict)
    zero: int = 0
    count: int = 0
    sum: float = 0.0
    min: float = math.inf
    max: float = -math.inf

    def add(self, value: float) -> None:
        if value >= MIN_VALUE:
            index = bucket_index(value)
            self.buckets[index] = self.buckets.get(index, 0) + 1
        else:
            self.zero += 1
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def add_all(self, values: list[float]) -> None:
        """``add`` of each value, each distinct value's bucket found once (durations logged
        in whole milliseconds repeat a lot). The sum is ``sum``'s: on Python 3.11 the same
        as adding one by one; 3.12's compensates for rounding."""
        if not values:
            return
        buckets = self.buckets
        zero = 0
        for value, n in Counter(values).items():
            if value >= MIN_VALUE:
                index = bucket_index(value)
                buckets[index] = buckets.get(index, 0) + n
            else:
                zero += n
        self.zero += zero
        self.count += len(values)
        self.sum = sum(values, self.sum)
        low, high = min(values), max(values)
        if low < self.min:
            self.min = low
        if high > self.max:
            self.max = high

    def merge(self, other: Histogram) -> None:
        add_counts(self.buckets, other.buckets)
        self.zero += other.zero
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def subtract(self, other: Histogram) -> None:
        """Remove ``other`` (previously merged in). Min and max cannot be un-merged: sliding
        windows keep them per second instead."""
        subtract_counts(self.buckets, other.buckets)
        self.zero -= other.zero
        self.count -= other.count
        self.sum -= other.sum
        if self.count == 0:
            self.sum = 0.0  # no float residue on an empty window

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """The nearest-rank ``q`` quantile (0 < q ≤ 1), or None when empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Sequence[float]) -> list[float | None]:
        """Several quantiles in one pass over the buckets (``qs`` ascending)."""
        if self.count <= 0:
            return [None] * len(qs)
        ranks = [max(1, math.ceil(q * self.count)) for q in qs]
        results: list[float | None] = []
        seen = self.zero
        while len(results) < len(ranks) and ranks[len(results)] <= seen:
            results.append(0.0)  # ranks that fall in the zero bucket
        for index in sorted(self.buckets):
            if len(results) == len(ranks):
                break
            seen += self.buckets[index]
            # The last bucket also holds everything clamped above MAX_VALUE.
            value = self._clamp(bucket_value(index)) if index < _MAX_INDEX else self.max
            while len(results) < len(ranks) and ranks[len(results)] <= seen:
                results.append(value)
        while len(results) < len(ranks):  # rounding left a rank past the end: it is the max
            results.append(self.max)
        return results

    def cumulative(self, bounds: Sequence[float] = PROMETHEUS_BOUNDS_MS) -> list[int]:
        """Counts of values ≤ each bound, then the total (+Inf).

        A log bucket counts under the first bound whose own log bucket is at or after it, so
        a value equal to a bound (1000 ms, common with millisecond clocks) is ``le`` that
        bound, as Prometheus means it; values up to one bucket (1 %) above a bound count
        under it too."""
        counts = [0] * (len(bounds) + 1)
        counts[0 if bounds else -1] += self.zero
        edges = [bucket_index(bound) if bound >= MIN_VALUE else -1 for bound in bounds]
        for index, n in self.buckets.items():
            counts[bisect_left(edges, index)] += n
        running = 0
        for i, n in enumerate(counts):
            running += n
            counts[i] = running
        return counts

    def _clamp(self, value: float) -> float:
        # The true value lies within [min, max]; never report outside it.
        return min(max(value, self.min), self.max)
