"""Request rate and error rate over the last minutes: figures now, sparklines behind them.

Two error rates, each named for what it counts: "failed ≥400" is the seed's (a 404 or a
refused login counts: its alert and ``/api/metrics`` use it), "5xx" the server's own errors.
The figures are over the last minute, the charts over the history shown: the subtitle says
both."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from obsview.common.protocol import MetricsPoint, MetricsSnapshot
from obsview.tui.route_figures import Thresholds
from obsview.tui.widgets.chart_series import chart_series
from obsview.tui.widgets.quiet import set_one_class, show_text
from obsview.tui.widgets.units import (
    ERROR_RATE_THRESHOLD,
    SEVERITY_CLASSES,
    error_rate_class,
    format_count,
    format_percent,
    format_rate,
    join_fitting,
)


class RateChart(Vertical):
    """Requests per second and the share that failed, now and over the history window; the
    share of server errors (5xx) and the longer windows on the line below."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    DEFAULT_CSS = """
    RateChart { height: auto; }
    RateChart > Horizontal { height: 1; }
    RateChart .figure { width: 20; text-align: right; padding-right: 1; }
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

    _snapshot: MetricsSnapshot | None = None
    _span: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="spark-row"):
            yield Static("— req/s", id="rate-now", classes="figure", markup=False)
            yield Sparkline([], id="rate-spark")
        with Horizontal(classes="spark-row"):
            yield Static("failed ≥400 —", id="errors-now", classes="figure", markup=False)
            yield Sparkline([], id="errors-spark")
        yield Static("waiting for metrics…", id="rate-totals", classes="totals", markup=False)

    def show(self, snapshot: MetricsSnapshot | None, history: Sequence[MetricsPoint], *,
             span: str | None = None, thresholds: Thresholds | None = None) -> None:
        """Display the latest snapshot and the per-second history (oldest first); with
        ``span`` (``history, 10:00–10:42``), a backlog's figures and its per-minute points.
        The failed share is coloured against the agent's error-rate rule (``thresholds``)."""
        self.query_one("#rate-spark", Sparkline).data = chart_series(
            point.rate for point in history
        )
        self.query_one("#errors-spark", Sparkline).data = chart_series(
            point.rate * point.error_rate for point in history
        )
        self._span = span
        subtitle = span if span is not None else (
            f"figures 1 min · chart {max(1, round(len(history) / 60))} min" if history else self.border_subtitle)
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle
        if snapshot is None:
            return
        show_text(self.query_one("#rate-now", Static), f"{snapshot.rate_1m:,.1f} req/s")
        errors = self.query_one("#errors-now", Static)
        show_text(errors, f"failed ≥400 {format_percent(snapshot.error_rate_1m)}")
        failed = thresholds.failed if thresholds is not None else ERROR_RATE_THRESHOLD
        set_one_class(errors, error_rate_class(snapshot.error_rate_1m, failed), SEVERITY_CLASSES)
        self._snapshot = snapshot
        self._show_totals()

    def on_resize(self) -> None:
        self._show_totals()

    def _show_totals(self) -> None:
        """The line below the charts, most telling first; a narrow panel leaves out whole
        parts from the end, never half a number or a number without its label."""
        snapshot = self._snapshot
        if snapshot is None:
            return
        parts = []
        if snapshot.error_rate_5xx_1m is not None:  # an older agent does not count them apart
            parts.append(f"5xx {format_percent(snapshot.error_rate_5xx_1m)}")
        if self._span is not None:  # a backlog's figures: its own counts, by event time
            parts += [f"{format_count(snapshot.requests_total)} req, "
                      f"{format_count(snapshot.errors_total)} failed", "by the events' own time"]
        else:
            parts += [f"5m {format_rate(snapshot.rate_5m)}", f"15m {format_rate(snapshot.rate_15m)}",
                      f"since start {format_count(snapshot.requests_total)} req, "
                      f"{format_count(snapshot.errors_total)} failed"]
        totals = self.query_one("#rate-totals", Static)
        show_text(totals, join_fitting(parts, totals.content_region.width))
