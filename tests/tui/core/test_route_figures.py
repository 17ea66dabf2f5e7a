"""The per-route table's order and colours: pure, without Textual."""

from __future__ import annotations

from obsview.backend.signals.alerts import DEFAULT_RULES, AlertRule, upper_thresholds
from obsview.common.protocol import RouteStats
from obsview.tui.route_figures import SortOrder, Thresholds, cell_class, cell_text, sort_routes

SLOW = RouteStats("/slow", "GET", 100, 0, 1.7, 300.0, 1_500.0, 2_000.0)
FAILING = RouteStats("/failing", "POST", 50, 10, 0.8, 20.0, 90.0, 120.0)
BUSY = RouteStats("/busy", "GET", 6000, 3, 100.0, 5.0, 40.0, 700.0)
QUIET = RouteStats("/quiet", "GET", 0, 0, 0.0, None, None, None)
ROUTES = [BUSY, QUIET, FAILING, SLOW]


def routes(order: SortOrder) -> list[str]:
    return [stats.route for stats in sort_routes(ROUTES, order)]


def test_slowest_first_by_default_and_routes_without_a_figure_last() -> None:
    assert routes(SortOrder()) == ["/slow", "/failing", "/busy", "/quiet"]
    assert routes(SortOrder().flipped()) == ["/busy", "/failing", "/slow", "/quiet"]


def test_every_column_sorts() -> None:
    assert routes(SortOrder("rate")) == ["/busy", "/slow", "/failing", "/quiet"]
    assert routes(SortOrder("failed")) == ["/failing", "/busy", "/slow", "/quiet"]
    assert routes(SortOrder("route")) == ["/busy", "/failing", "/quiet", "/slow"]
    assert routes(SortOrder("p99")) == ["/slow", "/busy", "/failing", "/quiet"]
    # s walks the columns and wraps; a new column starts from its natural order.
    assert SortOrder("p99").next(1) == SortOrder("route")
    assert SortOrder("route", reverse=True).next(-1) == SortOrder("p99")


def test_cells_are_coloured_by_the_agents_rules() -> None:
    # The seed's rules: p95 > 1000 ms, error rate > 5 %.
    seed = Thresholds.from_rules(upper_thresholds(list(DEFAULT_RULES)))
    assert seed.latency_ms == {"p50": 1000.0, "p95": 1000.0, "p99": 1000.0} and seed.failed == 0.05
    assert cell_class(SLOW, "p95", seed) == "-bad"
    assert cell_class(BUSY, "p99", seed) == "-warn"  # 700 ms: above half the threshold
    assert cell_class(BUSY, "p95", seed) == "-ok"
    assert cell_class(FAILING, "failed", seed) == "-bad"  # 20 %
    assert cell_class(QUIET, "p95", seed) == "-none" and cell_class(QUIET, "failed", seed) == "-none"
    # A stricter rule on p95 and its own on p99: each percentile against its rule.
    strict = Thresholds.from_rules(upper_thresholds([
        AlertRule("fast", "p95_ms", ">", 60.0), AlertRule("tail", "p99_ms", ">=", 5_000.0),
        AlertRule("fast-too", "p95_ms", ">", 80.0), AlertRule("low", "p95_ms", "<", 1.0),
    ]))
    assert strict.latency_ms == {"p50": 60.0, "p95": 60.0, "p99": 5_000.0}
    assert cell_class(BUSY, "p95", strict) == "-warn"
    assert cell_class(SLOW, "p99", strict) == "-ok"


def test_figures_carry_their_units() -> None:
    assert [cell_text(SLOW, key) for key in ("rate", "failed", "p50", "p95", "p99")] == [
        "1.7", "0.0 %", "300 ms", "1.50 s", "2.00 s"]
    assert cell_text(QUIET, "p95") == "—"


def test_phrase_lines_break_only_between_phrases() -> None:
    from obsview.tui.widgets.units import phrase_lines

    parts = ["Routes", "5 routes of the last minute", "sorted by p95 highest first"]
    assert phrase_lines(parts, 0) == [" · ".join(parts)]
    assert phrase_lines(parts, 38) == ["Routes · 5 routes of the last minute",
                                       "sorted by p95 highest first"]
    assert phrase_lines(parts, 10) == parts  # a phrase longer than the room: its own line
