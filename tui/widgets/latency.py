"""Latency percentiles now, and p95 over time, coloured against the seed's 1000 ms threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Sparkline, Static

from obsview.common.protocol import MetricsPoint, MetricsSnapshot
from obsview.tui.route_figures import Thresholds
from obsview.tui.widgets.chart_series import chart_series
from obsview.tui.widgets.quiet import set_one_class, show_text
from obsview.tui.widgets.units import (
    SEVERITY_CLASSES,
    format_ms,
    join_fitting,
    latency_class,
)

_PERCENTILES = ("p50", "p95", "p99")
_SEPARATOR: Final = " · "


class LatencyPanel(Vertical):
    """p50/p95/p99 over the last minute, and a sparkline of p95 per second."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    DEFAULT_CSS = """
    LatencyPanel { height: auto; }
    LatencyPanel > Horizontal { height: 1; }
    LatencyPanel .percentile { width: auto; padding-right: 3; }
    LatencyPanel .-ok { color: $success; }
    LatencyPanel .-warn { color: $warning; }
    LatencyPanel .-bad { color: $error; text-style: bold; }
    LatencyPanel .label { width: 16; text-align: right; padding-right: 1; color: $text-muted; }
    LatencyPanel Sparkline { width: 1fr; }
    LatencyPanel Sparkline.-ok > .sparkline--max-color { color: $success; }
    LatencyPanel Sparkline.-warn > .sparkline--max-color { color: $warning; }
    LatencyPanel Sparkline.-bad > .sparkline--max-color { color: $error; }
    LatencyPanel Sparkline > .sparkline--min-color { color: $success 30%; }
    LatencyPanel .totals { color: $text-muted; height: 1; }
    LatencyPanel.-maximized > .spark-row, LatencyPanel.-maximized Sparkline { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._figures: list[str] = []
        """What the totals line says before the threshold (the average and maximum)."""
        self._fallback: list[str] = []
        self._thresholds = Thresholds.from_rules({})
        """What it says instead when none of those fits whole."""

    def compose(self) -> ComposeResult:
        with Horizontal():
            for name in _PERCENTILES:
                yield Static(f"{name} —", id=f"latency-{name}", classes="percentile", markup=False)
        with Horizontal(classes="spark-row"):
            yield Static("p95 over time", id="latency-spark-label", classes="label", markup=False)
            yield Sparkline([], id="latency-spark")
        yield Static(self._threshold_text(), id="latency-totals", classes="totals", markup=False)

    def on_resize(self) -> None:
        self._show_totals()

    def _show_totals(self) -> None:
        """``avg 96 ms · max 2.43 s · threshold 1.00 s``: where that does not fit (a
        40-cell panel at 80 columns), whole figures give way from the end, never the threshold
        (it was: "… · threshold" and no value) and never half a number ("max 97…")."""
        label = self.query_one("#latency-totals", Static)
        width = label.content_region.width
        threshold = self._threshold_text()
        room = max(1, width - len(threshold) - len(_SEPARATOR)) if width else 0
        figures = join_fitting(self._figures, room) or join_fitting(self._fallback, room)
        show_text(label, f"{figures}{_SEPARATOR}{threshold}" if figures else threshold)

    def _threshold_text(self) -> str:
        """The agent's response-time rule (p95), the seed's 1 s without one."""
        return f"threshold {format_ms(self._thresholds.latency_ms['p95'])}"

    def show(self, snapshot: MetricsSnapshot | None, history: Sequence[MetricsPoint], *,
             span: str | None = None, thresholds: Thresholds | None = None) -> None:
        """Display the latest percentiles and the p95 history (oldest first); with ``span``,
        a backlog's percentiles over it and its p95 per minute. Colours and the threshold
        shown follow ``thresholds`` (the agent's rules) once given."""
        if thresholds is not None:
            self._thresholds = thresholds
        if self.border_subtitle != (span or ""):
            self.border_subtitle = span or ""
        show_text(self.query_one("#latency-spark-label", Static), "p95 per minute" if span else "p95 over time")
        spark = self.query_one("#latency-spark", Sparkline)
        spark.data = chart_series(point.p95_ms for point in history)
        worst = max((point.p95_ms or 0.0 for point in history), default=None)
        set_one_class(spark, latency_class(worst, self._thresholds.latency_ms["p95"]), SEVERITY_CLASSES)
        if snapshot is None:
            return
        for name in _PERCENTILES:
            value = getattr(snapshot, f"{name}_ms")
            label = self.query_one(f"#latency-{name}", Static)
            show_text(label, f"{name} {format_ms(value)}")
            set_one_class(label, latency_class(value, self._thresholds.latency_ms[name]), SEVERITY_CLASSES)
        self._figures = ([f"over the {span}"] if span is not None else
                         [f"avg {format_ms(snapshot.latency_avg_ms)}", f"max {format_ms(snapshot.latency_max_ms)}"])
        # The span is on the panel's bottom border: named there when the whole one does not fit.
        self._fallback = ["over the span below"] if span is not None else []
        self._show_totals()
