from __future__ import annotations

import math
import random

from obsview.common.histogram import MAX_VALUE, PROMETHEUS_BOUNDS_MS, Histogram


def exact(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


def test_quantiles_within_one_percent_of_exact_on_a_million_samples() -> None:
    rng = random.Random(42)
    values = [rng.lognormvariate(3.5, 1.2) for _ in range(1_000_000)]
    hist = Histogram()
    for v in values:
        hist.add(v)
    values.sort()
    for q in (0.5, 0.95, 0.99):
        estimate = hist.quantile(q)
        assert estimate is not None
        assert abs(estimate - exact(values, q)) / exact(values, q) <= 0.01, q
    assert hist.count == 1_000_000
    assert hist.min == values[0] and hist.max == values[-1]


def test_memory_is_bounded_whatever_the_range() -> None:
    hist = Histogram()
    for exponent in range(-6, 40):
        for mantissa in range(1, 10):
            hist.add(mantissa * 10.0**exponent)
    # 1e-3 .. 1e9 at 1 % resolution is ~2,800 buckets; values beyond clamp to the ends.
    assert len(hist.buckets) < 3000
    assert hist.quantile(1.0) == hist.max


def test_zero_durations_and_small_values_go_to_the_zero_bucket() -> None:
    hist = Histogram()
    for v in (0.0, 0.0, 0.0, 5.0):
        hist.add(v)
    assert hist.quantile(0.5) == 0.0
    assert hist.quantile(1.0) is not None and abs(hist.quantile(1.0) - 5.0) < 0.05


def test_merge_then_subtract_restores_counts() -> None:
    a, b = Histogram(), Histogram()
    for v in (1.0, 2.0, 3.0):
        a.add(v)
    for v in (10.0, 20.0):
        b.add(v)
    before = dict(a.buckets)
    a.merge(b)
    assert a.count == 5 and a.max == 20.0
    a.subtract(b)
    assert a.buckets == before and a.count == 3 and a.sum == 6.0


def test_empty_histogram_has_no_quantiles() -> None:
    assert Histogram().quantiles((0.5, 0.99)) == [None, None]
    assert Histogram().mean is None


def test_cumulative_buckets_for_prometheus() -> None:
    hist = Histogram()
    for v in (1.0, 7.0, 30.0, 30.0, 20_000.0):
        hist.add(v)
    counts = hist.cumulative((5.0, 10.0, 50.0))
    assert counts == [1, 2, 4, 5]  # ≤5, ≤10, ≤50, +Inf


def test_a_value_equal_to_a_prometheus_bound_is_counted_le_that_bound() -> None:
    """Requests of exactly 10, 25, 50, 1000, 2500 ms were exported in the next ``le`` bucket
    (a log bucket went by its midpoint, 1000 ms → 1002.7 > 1 s), so Prometheus saw a request
    of exactly 1 s as slower than 1 s. Failed on 1ab6a6e."""
    for bound in PROMETHEUS_BOUNDS_MS:
        hist = Histogram()
        hist.add(bound)
        counts = hist.cumulative(PROMETHEUS_BOUNDS_MS)
        index = PROMETHEUS_BOUNDS_MS.index(bound)
        assert counts[index] == 1 and (index == 0 or counts[index - 1] == 0), bound


def test_huge_values_are_clamped_not_unbounded() -> None:
    hist = Histogram()
    hist.add(MAX_VALUE * 1000)
    assert len(hist.buckets) == 1
