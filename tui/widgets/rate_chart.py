"""Request rate and error rate over the last minutes: figures now, sparklines behind them."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from obsview.common.protocol import MetricsPoint, MetricsSnapshot
from obsview.tui.widgets.chart_series import chart_series
from obsview.tui.widgets.units import (
    SEVERITY_CLASSES,
    error_rate_class,
    format_count,
    format_percent,
    format_rate,
)


class RateChart(Vertical):
    """Requests per second and the share that failed, now and over the history window."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    DEFAULT_CSS = """
    RateChart { height: auto; }
    RateChart > Horizontal { height: 1; }
    RateChart .figure { width: 16; text-align: right; padding-right: 1; }
    RateChart .figure.-ok { color: $success; }
    RateChart .figure.-warn { color: $warning; }
    RateChart .figure.-bad { color: $error; text-style: bold; }
    RateChart Sparkline { width: 1fr; }
    RateChart #rate-spark > .sparkline--max-color { color: $accent; }
    RateChart #rate-spark > .sparkline--min-color { color: $accent 30%; }
    RateChart #errors-spark > .sparkline--max-color { color: $error; }
    RateChart #errors-spark > .sparkline--min-color { color: $error 20%; }
    RateChart .totals { color: $text-muted; height: 1; }
    RateChart.-maximized > .spark-row, RateChart.-maximized Sparkline { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(classes="spark-row"):
            yield Static("— req/s", id="rate-now", classes="figure", markup=False)
            yield Sparkline([], id="rate-spark")
        with Horizontal(classes="spark-row"):
            yield Static("— errors", id="errors-now", classes="figure", markup=False)
            yield Sparkline([], id="errors-spark")
        yield Static("waiting for metrics…", id="rate-totals", classes="totals", markup=False)

    def show(self, snapshot: MetricsSnapshot | None, history: Sequence[MetricsPoint]) -> None:
        """Display the latest snapshot and the per-second history (oldest first)."""
        self.query_one("#rate-spark", Sparkline).data = chart_series(
            point.rate for point in history
        )
        self.query_one("#errors-spark", Sparkline).data = chart_series(
            point.rate * point.error_rate for point in history
        )
        if history:
            self.border_subtitle = f"last {max(1, round(len(history) / 60))} min"
        if snapshot is None:
            return
        self.query_one("#rate-now", Static).update(f"{snapshot.rate_1m:,.1f} req/s")
        errors = self.query_one("#errors-now", Static)
        errors.update(f"{format_percent(snapshot.error_rate_1m)} err")
        errors.remove_class(*SEVERITY_CLASSES)
        errors.add_class(error_rate_class(snapshot.error_rate_1m))
        self.query_one("#rate-totals", Static).update(
            f"{format_count(snapshot.requests_total)} requests · "
            f"{format_count(snapshot.errors_total)} errors · "
            f"5m {format_rate(snapshot.rate_5m)} · 15m {format_rate(snapshot.rate_15m)}"
        )
