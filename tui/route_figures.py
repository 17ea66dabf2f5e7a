"""The per-route latency table's figures: columns, sort orders and threshold colours.

Pure Python, no Textual. The agent sends the busiest routes of the last minute
(:class:`~obsview.common.protocol.RouteStats`); here they become rows sorted by any column,
each latency coloured against the agent's alert thresholds (``Hello.thresholds``), or the
seed's when the agent has no rule on that figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from obsview.common.protocol import RouteStats
from obsview.tui.widgets.units import (
    ERROR_RATE_THRESHOLD,
    LATENCY_THRESHOLD_MS,
    error_rate_class,
    format_ms,
    format_percent,
    format_rate,
    latency_class,
)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    numeric: bool
    value: Callable[[RouteStats], float | str | None]


def failed_fraction(stats: RouteStats) -> float:
    return stats.errors / stats.requests if stats.requests else 0.0


COLUMNS: Final = (
    Column("route", "Route", False, lambda s: f"{s.route} {s.method}"),
    Column("rate", "Req/s", True, lambda s: s.rate),
    Column("failed", "Failed", True, lambda s: failed_fraction(s) if s.requests else None),
    Column("p50", "p50", True, lambda s: s.p50_ms),
    Column("p95", "p95", True, lambda s: s.p95_ms),
    Column("p99", "p99", True, lambda s: s.p99_ms),
)
COLUMN_KEYS: Final = tuple(column.key for column in COLUMNS)
_BY_KEY: Final = {column.key: column for column in COLUMNS}


@dataclass(frozen=True, slots=True)
class SortOrder:
    """Which column the rows are sorted by; numbers biggest first unless ``reverse``d
    (routes A to Z). Rows without a figure (no latency yet) always come last."""

    key: str = "p95"
    reverse: bool = False

    def next(self, step: int) -> SortOrder:
        index = (COLUMN_KEYS.index(self.key) + step) % len(COLUMN_KEYS)
        return SortOrder(COLUMN_KEYS[index], False)

    def flipped(self) -> SortOrder:
        return SortOrder(self.key, not self.reverse)

    def describe(self) -> str:
        column = _BY_KEY[self.key]
        if column.numeric:
            return f"{column.header} {'lowest' if self.reverse else 'highest'} first"
        return f"{column.header} {'Z–A' if self.reverse else 'A–Z'}"


def sort_routes(routes: Sequence[RouteStats], order: SortOrder) -> list[RouteStats]:
    column = _BY_KEY[order.key]
    present = [r for r in routes if column.value(r) is not None]
    absent = [r for r in routes if column.value(r) is None]
    descending = column.numeric != order.reverse
    tie = sorted(present, key=lambda r: (r.route, r.method))  # stable: ties in a fixed order
    ordered = sorted(tie, key=lambda r: column.value(r), reverse=descending)  # type: ignore[arg-type,return-value]
    return ordered + sorted(absent, key=lambda r: (r.route, r.method))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What the cells are coloured against: above a threshold is bad, above half a warning."""

    latency_ms: Mapping[str, float]
    """``p50``/``p95``/``p99`` → threshold in ms."""
    failed: float

    @classmethod
    def from_rules(cls, thresholds: Mapping[str, float]) -> Thresholds:
        """The agent's (``Hello.thresholds``): each percentile against its own rule, else
        the response-time rule (p95's), else the seed's 1000 ms; failed against the
        error-rate rule, else the seed's 5 %."""
        response = thresholds.get("p95_ms", LATENCY_THRESHOLD_MS)
        latency = {name: thresholds.get(f"{name}_ms", response) for name in ("p50", "p95", "p99")}
        return cls(latency, thresholds.get("error_rate", ERROR_RATE_THRESHOLD))

    def describe(self) -> str:
        p95 = self.latency_ms["p95"]
        return f"red above p95 {format_ms(p95)} or {format_percent(self.failed)} failed"


def cell_text(stats: RouteStats, key: str) -> str:
    if key == "rate":
        return format_rate(stats.rate).removesuffix("/s")
    if key == "failed":
        return format_percent(failed_fraction(stats))
    if key in ("p50", "p95", "p99"):
        return format_ms(getattr(stats, f"{key}_ms"))
    raise KeyError(key)


def cell_class(stats: RouteStats, key: str, thresholds: Thresholds) -> str:
    """``-ok``/``-warn``/``-bad`` for a coloured figure, ``-none`` for the others."""
    if key == "failed":
        return error_rate_class(failed_fraction(stats), thresholds.failed) if stats.requests else "-none"
    if key in thresholds.latency_ms:
        return latency_class(getattr(stats, f"{key}_ms"), thresholds.latency_ms[key])
    return "-none"
