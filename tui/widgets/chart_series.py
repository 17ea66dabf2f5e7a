"""What a sparkline may be given: a series that cannot draw bars for traffic that did not happen."""

from __future__ import annotations

from collections.abc import Iterable


def chart_series(values: Iterable[float | None]) -> list[float]:
    """The values to hand to a Sparkline, or [] when there is nothing to draw.

    Guarantees: no data (None counts as 0), only zeros, or a single point give [] so the
    sparkline draws its empty baseline. Textual draws one point as a full-width full bar and
    scales an all-equal series to its lowest bar only by accident; "0.0 req/s" and p95 "—"
    must never look like load.
    """
    series = [value or 0.0 for value in values]
    if len(series) < 2 or max(series) <= 0.0:
        return []
    return series
