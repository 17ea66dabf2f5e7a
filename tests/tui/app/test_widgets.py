"""Each dashboard widget on its own: what it shows for real data and for hostile text."""

from __future__ import annotations

import msgspec
import pytest
from app_test_support import screen_text
from injection_corpus import FORBIDDEN_CHARS, INJECTION_CORPUS
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Static

from obsview.common.protocol import (
    AckInfo,
    AlertInfo,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    ProbeStatus,
)
from obsview.tui.screenshots import SAMPLE_NOW, sample_app, sample_messages
from obsview.tui.widgets.alert_feed import AlertFeed, format_metric_value
from obsview.tui.widgets.columns import fit_widths
from obsview.tui.widgets.event_detail import EventDetail
from obsview.tui.widgets.health_table import HealthTable
from obsview.tui.widgets.latency import LatencyPanel
from obsview.tui.widgets.rate_chart import RateChart
from obsview.tui.widgets.status_bar import StatusBar

# The corpus entries that must appear on screen in some visible form.
HOSTILE = [text for _name, text in INJECTION_CORPUS]
# Newlines/tabs are allowed inside multi-line widgets; everything else never.
FORBIDDEN_ON_SCREEN = FORBIDDEN_CHARS - {"\n"}


class Harness(App[None]):
    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def assert_clean(app: App[object]) -> str:
    text = screen_text(app)
    leaked = {c for c in text if c in FORBIDDEN_ON_SCREEN}
    assert not leaked, f"control characters reached the screen: {leaked!r}"
    return text


def sample(kind: type) -> object:
    return next(m for m in sample_messages() if isinstance(m, kind))


async def test_rate_and_latency_show_figures_with_units() -> None:
    from obsview.common.protocol import Metrics

    metrics = sample(Metrics)
    assert isinstance(metrics, Metrics)
    for widget in (RateChart(), LatencyPanel()):
        app = Harness(widget)
        async with app.run_test(size=(80, 6)) as pilot:
            widget.show(metrics.snapshot, metrics.history)  # type: ignore[attr-defined]
            await pilot.pause()
            text = assert_clean(app)
            if isinstance(widget, RateChart):
                assert "44.6 req/s" in text and "failed ≥400 7.1 %" in text and "5xx 5.2 %" in text
                assert widget.query_one("#errors-now").has_class("-bad")
            else:
                assert "p99 1.24 s" in text and "p50 41 ms" in text
                assert widget.query_one("#latency-p99").has_class("-bad")
                assert widget.query_one("#latency-p95").has_class("-warn")
                assert widget.query_one("#latency-p50").has_class("-ok")


def test_metric_values_are_shown_in_their_unit() -> None:
    assert format_metric_value("error_rate_1m", 0.071) == "7.1 %"
    assert format_metric_value("p95_ms", 1240.0) == "1.24 s"
    assert format_metric_value("memory_percent", 61.0) == "61 %"
    assert format_metric_value("anything", None) == "—"


@pytest.mark.parametrize("hostile", HOSTILE, ids=[name for name, _ in INJECTION_CORPUS])
async def test_health_table_shows_hostile_probe_text_literally(hostile: str) -> None:
    table = HealthTable()
    app = Harness(table)
    report = HealthReport(
        status="unhealthy", ts=SAMPLE_NOW, uptime_s=1, version=hostile,
        probes=(ProbeStatus(hostile, "tcp", hostile, "unhealthy", None, hostile,
                            SAMPLE_NOW, SAMPLE_NOW - 60),
                ProbeStatus("db", "tcp", "x", hostile, 3.0, "", SAMPLE_NOW, SAMPLE_NOW)),
    )
    async with app.run_test(size=(100, 8)) as pilot:
        table.show(report, SAMPLE_NOW)
        await pilot.pause()
        assert_clean(app)
        assert app.is_running


@pytest.mark.parametrize("hostile", HOSTILE, ids=[name for name, _ in INJECTION_CORPUS])
async def test_alert_feed_shows_hostile_alert_text_literally(hostile: str) -> None:
    feed = AlertFeed()
    app = Harness(feed)
    alert = AlertInfo(hostile, hostile, hostile, hostile, hostile, hostile, 1.0, 2.0, hostile,
                      labels={hostile: hostile}, started_at=SAMPLE_NOW - 10,
                      ack=AckInfo(hostile, SAMPLE_NOW, hostile))
    async with app.run_test(size=(100, 8)) as pilot:
        feed.show([alert], SAMPLE_NOW)
        await pilot.pause()
        assert_clean(app)
        assert feed.selected_alert == alert
        assert app.is_running


@pytest.mark.parametrize("hostile", HOSTILE, ids=[name for name, _ in INJECTION_CORPUS])
async def test_status_bar_shows_hostile_agent_names_and_urls_literally(hostile: str) -> None:
    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(120, 4)) as pilot:
        bar.show_agent(Hello(agent_version=hostile, host=hostile, service=hostile, seq=0,
                             started_at=0.0))
        bar.show_connection("unreachable", f"cannot reach agent at {hostile}")
        bar.show_count(1, 2, hostile)
        await pilot.pause()
        assert_clean(app)
        assert app.is_running


@pytest.mark.parametrize("hostile", HOSTILE, ids=[name for name, _ in INJECTION_CORPUS])
async def test_event_detail_shows_every_hostile_field_literally(hostile: str) -> None:
    fields = {f.name: hostile for f in msgspec.structs.fields(LogEvent) if f.type is str}
    event = LogEvent(ts=SAMPLE_NOW, level="ERROR", **{k: v for k, v in fields.items()
                                                       if k != "level"},
                     extra={hostile: hostile, "nested": [hostile]})
    detail = EventDetail(event)
    app = Harness(detail)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert_clean(app)
        assert app.is_running


async def test_event_detail_shows_markup_as_typed() -> None:
    event = LogEvent(ts=SAMPLE_NOW, level="INFO", message="[bold]x[/bold] [@click=app.quit]",
                     raw='{"msg": "[bold]x[/bold]"}')
    app = Harness(EventDetail(event))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        text = assert_clean(app)
        assert '"message": "[bold]x[/bold] [@click=app.quit]"' in text
        assert '{"msg": "[bold]x[/bold]"}' in text


async def test_status_bar_counts_one_thing_in_the_singular_and_more_in_the_plural() -> None:
    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(240, 4)) as pilot:
        bar.show_stream(gap=1, dropped=0, evicted=0, spans_lost=1, skipped=1,
                        agent={"truncated": 1, "parse_errors": 1, "notify_dropped": 1,
                               "store_evicted": 1, "otlp_records_rejected": 1, "journal_dropped": 1,
                               "tail_rotations_lost": 1})
        bar.show_count(1, 1, "")
        bar.show_find("x", None, 1)
        await pilot.pause()
        assert_clean(app)
        text = " ".join(str(bar.query_one(f"#sb-{part}", Static).content) + " "
                        for part in ("stream", "count", "find"))
        for said in ("1 older event at the agent", "gap of 1 event ", "1 span lost",
                     "1 line truncated", "1 line not parsed", "1 notification dropped",
                     "1 event evicted", "1 OTLP record rejected", "1 event not written to history",
                     "1 rotated file not read", "1 of 1 event ", "1 match"):
            assert said in text, said
        bar.show_stream(gap=0, dropped=0, evicted=0, agent={"truncated": 2})
        bar.show_count(0, 2, "")
        bar.show_find("x", None, 2)
        await pilot.pause()
        text = " ".join(str(bar.query_one(f"#sb-{part}", Static).content)
                        for part in ("stream", "count", "find"))
        assert "2 lines truncated" in text and "0 of 2 events" in text and "2 matches" in text


def test_counted_says_one_in_the_singular() -> None:
    from obsview.tui.widgets.units import counted

    assert [counted(n, "line") for n in (0, 1, 2, 2400)] == ["0 lines", "1 line", "2 lines", "2,400 lines"]
    assert counted(1, "match", "matches") == "1 match" and counted(3, "match", "matches") == "3 matches"


async def test_status_bar_shows_levels_counts_losses_and_follow_state() -> None:
    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(140, 4)) as pilot:
        bar.show_levels(frozenset({"ERROR", "WARN"}))
        bar.show_count(12, 3400, "level:warn+")
        bar.show_stream(gap=5, dropped=7, evicted=0)
        bar.show_follow(following=False, new=42)
        bar.show_connection("reconnecting", "reconnecting to ws://127.0.0.1:1 in 2s")
        await pilot.pause()
        text = assert_clean(app)
        assert "12 of 3,400 events · filter level:warn+" in text
        assert "gap of 5 events · 7 dropped by a slow link" in text
        assert "paused · 42 new" in text
        assert "◌ reconnecting to ws://127.0.0.1:1 in 2s" in text
        assert "levels 1ERR 2WRN 3INF 4DBG 5TRC" in text


async def test_status_bar_shows_what_the_agent_lost() -> None:
    """MetricsSnapshot.agent reached every console and was never read: the README says
    every drop is shown, the agent's own (its notification outbox, its buffer) included."""
    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(160, 4)) as pilot:
        bar.show_stream(gap=0, dropped=0, evicted=0,
                        agent={"notify_dropped": 3, "parse_errors": 12, "events_ingested": 900, "truncated": 0})
        await pilot.pause()
        text = assert_clean(app)
        assert "agent: 3 notifications dropped, 12 lines not parsed" in text
        assert "truncated" not in text and "900" not in text


async def test_at_80_columns_the_filter_stays_readable_in_the_status_bar() -> None:
    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(80, 4)) as pilot:
        bar.show_count(21, 1044, "status:5xx")
        bar.show_follow(following=True, new=0)
        await pilot.pause()
        text = assert_clean(app)
        assert "21 of 1,044 events · filter status:5xx" in text
        assert "1ERR 2WRN 3INF 4DBG 5TRC" in text and "levels" not in text


async def test_health_table_shows_one_row_per_probe_and_the_overall_status() -> None:
    report = sample(Health).report  # type: ignore[attr-defined]
    table = HealthTable()
    app = Harness(table)
    async with app.run_test(size=(110, 8)) as pilot:
        table.show(report, SAMPLE_NOW)
        await pilot.pause()
        text = assert_clean(app)
        assert table.row_count == 4
        assert table.border_title == "Health · ✖ unhealthy"
        assert "✖ unhealthy" in text and "connect: connection refused" in text
        assert "42s ago" in text and "812 ms" in text


async def test_alert_rows_name_what_differs_between_two_alerts_of_one_rule() -> None:
    feed = AlertFeed()
    app = Harness(feed)
    alerts = [
        AlertInfo(f"f{probe}", "probe_unhealthy", "critical", "firing", "health", ">=", 1.0, 1.0,
                  "", labels={"alertname": "probe_unhealthy", "severity": "critical",
                              "probe": probe}, fired_at=SAMPLE_NOW)
        for probe in ("redis", "database")
    ]
    async with app.run_test(size=(110, 6)) as pilot:
        feed.show(alerts, SAMPLE_NOW)
        await pilot.pause()
        text = assert_clean(app)
        assert "probe_unhealthy redis" in text and "probe_unhealthy database" in text
        assert "critical" not in text  # severity is its own column (CRIT)


async def test_alert_headers_stay_whole_as_the_value_column_narrows() -> None:
    """The value column narrows to its values before the name is cut; its header then says
    "Now" (the values carry the threshold): at 120 columns it read "Now / thresho…"."""
    feed = AlertFeed()
    app = Harness(feed)
    alert = AlertInfo("f1", "high_error_rate", "critical", "firing", "error_rate", ">", 0.05,
                      0.164, "", fired_at=SAMPLE_NOW - 17, peak=0.186)
    async with app.run_test(size=(130, 6)) as pilot:
        narrowed = False
        for width in range(130, 50, -1):
            await pilot.resize_terminal(width, 6)
            await pilot.pause()
            feed.show([alert], SAMPLE_NOW)
            for column in feed.columns.values():
                assert column.label.cell_len <= column.width, (width, column.label.plain)
                assert "…" not in column.label.plain, (width, column.label.plain)
            value = feed.columns["value"]  # type: ignore[index]
            narrowed |= value.label.plain == "Now" and not feed.compact
        assert narrowed, "no width narrowed the value column in full rows"


def test_alert_columns_give_way_least_important_first() -> None:
    natural = {"severity": 4, "rule": 30, "value": 17, "state": 12, "ack": 8}
    padding_total = 2 * 5
    alert_feed = {"shrink": (("value", 13), ("ack", 4), ("state", 10), ("rule", 14)),
                  "drop": ("ack", "state")}
    assert fit_widths(natural, 71 + padding_total, 1, **alert_feed) == natural  # it fits
    # 6 too many: the value header first (17 -> 13), then the acker (8 -> 6).
    assert fit_widths(natural, 65 + padding_total, 1, **alert_feed) == {
        **natural, "value": 13, "ack": 6}
    # Ack, then state (since goes first: cut from the right), then the name, each to a minimum.
    assert fit_widths(natural, 48 + padding_total, 1, **alert_feed) == {
        "severity": 4, "rule": 17, "value": 13, "state": 10, "ack": 4}
    # Narrower still: ack, then state are left out and the name takes back what it can.
    assert fit_widths(natural, 40, 1, **alert_feed) == {"severity": 4, "rule": 17, "value": 13}
    # Severity and the value itself are never cut.
    tiny = fit_widths(natural, 10, 1, **alert_feed)
    assert tiny["severity"] == 4 and tiny["value"] == 13


@pytest.mark.parametrize("size", [(120, 40), (80, 24), (100, 30)])
async def test_the_tables_fit_their_panels_without_sideways_scrolling(size: tuple[int, int]) -> None:
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        for table in (app.dashboard.query_one(AlertFeed), app.dashboard.query_one(HealthTable)):
            assert table.virtual_size.width <= table.scrollable_content_region.width, table
        assert "Now" in screen_text(app)


async def test_zero_traffic_and_a_single_second_draw_an_empty_chart() -> None:
    from obsview.common.protocol import Metrics, MetricsPoint

    metrics = sample(Metrics)
    assert isinstance(metrics, Metrics)
    idle = [MetricsPoint(ts=float(t), rate=0.0, error_rate=0.0, p50_ms=None, p95_ms=None,
                         p99_ms=None) for t in range(30)]
    for history in (idle, idle[:1], metrics.history[:1]):
        for widget in (RateChart(), LatencyPanel()):
            app = Harness(widget)
            async with app.run_test(size=(80, 6)) as pilot:
                widget.show(metrics.snapshot, history)  # type: ignore[attr-defined]
                await pilot.pause()
                text = assert_clean(app)
                assert not set("▂▃▄▅▆▇█") & set(text), text


async def test_a_probe_alert_reads_unhealthy_and_comparisons_read_as_symbols() -> None:
    """The probe rule's value is 1 while the probe is unhealthy: the row read "1 >= 1"."""
    feed = AlertFeed()
    app = Harness(feed)
    probe = AlertInfo("p", "probe_unhealthy", "critical", "firing", "probe_unhealthy", ">=", 1.0, 1.0,
                      "Probe redis is unhealthy", labels={"probe": "redis"}, fired_at=SAMPLE_NOW,
                      peak=1.0)
    slow = AlertInfo("s", "slow", "warning", "firing", "p95_ms", ">=", 500.0, 812.0, "", fired_at=SAMPLE_NOW,
                     peak=812.0)
    low = AlertInfo("c", "cache", "info", "resolved", "cache_hit_rate", "<=", 0.7, 0.5, "",
                    resolved_at=SAMPLE_NOW, peak=0.4, resolved_value=0.9)
    async with app.run_test(size=(140, 8)) as pilot:
        feed.show([probe, slow, low], SAMPLE_NOW)
        await pilot.pause()
        text = assert_clean(app)
        row = next(line for line in text.splitlines() if "probe_unhealthy redis" in line)
        assert "unhealthy" in row.split("redis", 1)[1] and ">=" not in row and " 1 " not in row, row
        assert "812 ms ≥ 500 ms" in text and "end 0.9 > 0.7" in text, text
        assert ">=" not in text and "<=" not in text


async def test_events_evicted_to_the_agents_journal_are_not_losses() -> None:
    """An agent with a journal keeps on disk what its RAM buffer evicts: the status bar
    counted them as lost; what the journal could not take is."""
    bar = StatusBar()
    app = Harness(bar)
    async with app.run_test(size=(160, 4)) as pilot:
        bar.show_stream(gap=0, dropped=0, evicted=0,
                        agent={"store_evicted": 5000, "journal_written": 9000, "journal_dropped": 0})
        await pilot.pause()
        assert "evicted" not in assert_clean(app) and "agent:" not in assert_clean(app)
        bar.show_stream(gap=0, dropped=0, evicted=0,
                        agent={"store_evicted": 5000, "journal_written": 9000, "journal_dropped": 12})
        await pilot.pause()
        assert "agent: 12 events not written to history" in assert_clean(app)
        bar.show_stream(gap=0, dropped=0, evicted=0, agent={"store_evicted": 5000})  # no journal
        await pilot.pause()
        assert "agent: 5,000 events evicted from its buffer" in assert_clean(app)
