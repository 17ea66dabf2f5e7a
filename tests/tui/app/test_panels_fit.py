"""Panels fit the terminal: the alert rows keep every column at 80×24, and ``m`` gives a
panel the whole screen above the status bar."""

from __future__ import annotations

import re
from typing import Any

import pytest
from app_test_support import screen_lines, screen_text
from msgspec.structs import replace
from textual.app import App

from obsview.common.protocol import AckInfo, AlertInfo, Alerts
from obsview.tui.screenshots import SAMPLE_NOW, sample_app
from obsview.tui.widgets.alert_feed import AlertFeed
from obsview.tui.widgets.status_bar import StatusBar

SILENCED = AlertInfo("s1", "DiskFilling", "warning", "firing", "disk_percent", ">", 90.0, 93.0,
                     "disk 93 %", started_at=SAMPLE_NOW - 600, fired_at=SAMPLE_NOW - 500,
                     silenced_by="sil-1", ack=AckInfo("bob", SAMPLE_NOW - 400))


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_every_alert_shows_state_age_ack_and_silence(size: tuple[int, int]) -> None:
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        app.dashboard.enqueue(Alerts((*feed.alerts, SILENCED)))
        app.dashboard.flush()
        await pilot.pause()
        columns = list(feed.columns.values())
        keys = [str(column.key.value) for column in columns]
        for column in columns:  # a header is whole ("Now", never "Now / thresho…")
            assert column.label.cell_len <= column.width and "…" not in column.label.plain
        # The peak gives way first (to whole state words, then to the state and ack).
        assert [key for key in keys if key != "peak"] == ["severity", "rule", "value", "state", "ack"]
        assert "peak" in keys or size[0] < 200
        rows = [[cell for cell in feed.get_row_at(index)] for index in range(feed.row_count)]
        for row in rows:
            # Only the name may be cut (with an ellipsis): never the value, peak, state or ack.
            for column, cell in zip(columns[2:], row[2:]):
                assert cell.cell_len <= column.width, (column.key.value, cell.plain)
        row_of = {key: index for index, key in enumerate(keys)}
        rows = [[row[row_of[key]] for key in ("severity", "rule", "value", "state", "ack")]
                for row in rows]
        text = "\n".join(" ".join(cell.plain for cell in row) for row in rows)
        compact = feed.compact
        if size[0] != 120:  # at 120 the silenced row ("firing 8m silenced") may tip it
            assert compact == (size[0] < 100)
        firing, pending, resolved = ("FIRE", "PEND", "OK") if compact else (
            "firing", "pending", "resolved")
        for state, age in ((firing, "40s"), (firing, "1m"), (pending, "20s"), (resolved, "30m")):
            assert f"{state} {age}" in text
        assert f"{firing} 8m {'muted' if compact else 'silenced'}" in text
        acked = [line for line in text.splitlines() if "Depend" in line]
        assert acked and acked[0].endswith("✓" if compact else "alice")
        # The rows are what the panel shows: the first ones are on screen as they are.
        assert rows[0][3].plain in screen_text(app)


@pytest.mark.parametrize("width", [80, 90, 100, 120, 160, 200])
@pytest.mark.parametrize("history", [False, True])
async def test_the_latency_threshold_is_never_cut(width: int, history: bool) -> None:
    """At 80 columns the Latency panel read "avg 5.6 ms · max 24 ms · threshold" and the
    value was gone; then "avg 12 ms · max 97… · threshold 1.00 s": whole figures give way."""
    from obsview.tui.widgets.latency import LatencyPanel

    app = sample_app()
    async with app.run_test(size=(width, 40)) as pilot:
        await pilot.pause()
        panel = app.dashboard.query_one(LatencyPanel)
        snapshot = app.dashboard.state.metrics
        panel.show(snapshot, [], span="history, 10:00–10:42 (events' own time)" if history else None)
        await pilot.pause()
        line = next(line for line in screen_text(app).splitlines() if "threshold" in line)
        assert re.search(r"threshold 1\.00 s *│", line), line
        assert ("over the" if history else "avg") in line, line
        assert "…" not in line, "no number cut in half"


async def test_at_120_columns_the_states_are_whole_words() -> None:
    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        assert not feed.compact
        states = [feed.get_row_at(index)[3].plain for index in range(feed.row_count)]
        assert states == ["firing 40s", "firing 1m", "pending 20s", "resolved 30m"]
        assert all(state in screen_text(app) for state in states)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
@pytest.mark.parametrize("panel", ["#rate", "#latency", "#health", "#alerts", "#log"])
async def test_m_gives_every_panel_the_screen_above_the_status_bar(
    panel: str, size: tuple[int, int]
) -> None:
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        widget = app.dashboard.query_one(panel)
        widget.focus()
        await pilot.press("m")
        await pilot.pause()
        assert app.screen.maximized is widget
        width, height = size
        status = app.dashboard.query_one(StatusBar)
        # Status bar and footer at the bottom; the panel everything above them.
        assert status.region.y == height - 3
        assert widget.region.y == 0 and widget.region.width == width
        assert widget.region.bottom == status.region.y


async def four_toasts_shown(app: Any, pilot: Any) -> list[str]:
    """Four alert toasts raised at once; the screen's lines once the last is drawn."""
    for number in range(4):
        app.notify(f"firing: probe_unhealthy {number}", severity="error", timeout=30)
    for _ in range(100):
        if "probe_unhealthy 3" in screen_text(app):
            break
        await pilot.pause(0.02)
    return screen_text(app).splitlines()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_toasts_never_cover_the_status_bar(size: tuple[int, int]) -> None:
    """Issue 13.11: a stack of alert toasts reached down over the status lines, hiding
    "paused · 499 new" and "match 128 of 149" (seen in the demo at 120x40)."""
    app = sample_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        lines = await four_toasts_shown(app, pilot)
        status_top = app.dashboard.query_one(StatusBar).region.y
        assert any("probe_unhealthy 3" in line for line in lines), "the toasts are shown"
        covered = [line for line in lines[status_top:] if "probe_unhealthy" in line or "▌" in line]
        assert not covered, covered


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_toasts_leave_the_newest_log_lines_alone(size: tuple[int, int]) -> None:
    """A toast sat over the bottom of the log, where the newest lines arrive (one hid half of
    the last three lines at 80x24 and 120x40): toasts now stack up from above them."""
    from obsview.tui.widgets.log_view import LogView

    app = sample_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        lines = await four_toasts_shown(app, pilot)
        assert any("probe_unhealthy 3" in line for line in lines), "the toasts are shown"
        log = app.dashboard.query_one(LogView).content_region
        newest = lines[log.bottom - 3:log.bottom]
        assert not [line for line in newest if "probe_unhealthy" in line or "▌" in line], newest


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_toasts_take_half_the_screen_at_most(size: tuple[int, int]) -> None:
    app = sample_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await pilot.pause()
        app.notify("x " * 200, title="long", severity="error")
        await pilot.pause()
        toasts = list(app.screen.query("Toast"))
        assert toasts
        assert all(toast.outer_size.width <= size[0] // 2 for toast in toasts), [t.outer_size for t in toasts]


def demo_alerts(state: str) -> tuple[AlertInfo, ...]:
    """What the demo lists in issue 13's trial screens: a probe rule firing for two probes
    (at the same second: only the probe tells the rows apart) and the error rate."""
    resolved = state == "resolved"
    probes = tuple(
        AlertInfo(f"p-{probe}", "probe_unhealthy", "critical", state, "probe_unhealthy", ">=", 1.0,
                  0.0 if resolved else 1.0, f"Probe {probe} is unhealthy",
                  labels={"alertname": "probe_unhealthy", "severity": "critical", "probe": probe},
                  started_at=SAMPLE_NOW - 65, fired_at=SAMPLE_NOW - 4,
                  resolved_at=SAMPLE_NOW - 60 if resolved else None, peak=1.0, fired_value=1.0,
                  resolved_value=0.0 if resolved else None)
        for probe in ("database", "blog-api")
    )
    error_rate = AlertInfo(
        "e", "high_error_rate", "critical", state, "error_rate", ">", 0.05,
        0.031 if resolved else 0.155, "Error rate 8.0% is above 5.0%",
        labels={"alertname": "high_error_rate", "severity": "critical"},
        started_at=SAMPLE_NOW - 50, fired_at=SAMPLE_NOW - 40,
        resolved_at=SAMPLE_NOW - 52 if resolved else None, peak=0.172, fired_value=0.08,
        resolved_value=0.031 if resolved else None)
    return (*probes, error_rate)


def panel_lines(app: App[object], feed: AlertFeed) -> list[str]:
    """The feed's panel as it is on screen, its border included."""
    region = feed.region
    return [line[region.x:region.right] for line in screen_lines(app)[region.y:region.bottom]]


@pytest.mark.parametrize("state", ["firing", "resolved"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_alerts_of_one_rule_read_apart_in_one_number_format(
    size: tuple[int, int], state: str
) -> None:
    """Issue 13's trial: at 80x24 two rows read "CRIT  probe_unhealthy …   unhealthy  FIRE 4s"
    (which probe?), at 120x40 "probe_unhealthy databa…" beside a half-empty Now column and,
    resolved, "probe_unhealthy r…"; the Now column said "15.5%>5.0%" beside a Peak of
    "15.5 %". The probe must stay whole before the shared rule name does; one number format."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        app.dashboard.enqueue(Alerts(demo_alerts(state)))
        app.dashboard.flush()
        await pilot.pause()
        lines = panel_lines(app, feed)
        probe_rows = [line for line in lines if "probe" in line]
        assert len(probe_rows) == 2, lines
        assert any("database" in row for row in probe_rows), lines
        assert any("blog-api" in row for row in probe_rows), lines
        text = "\n".join(lines)
        gaps = set(re.findall(r"\d( ?)%", text))
        assert len(gaps) == 1, f"two number formats: {text}"
        # Every column that is there is whole: the state, the values, the ack.
        assert all(column.label.cell_len <= column.width for column in feed.columns.values())


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_a_probe_alert_does_not_take_the_peak_away(size: tuple[int, int]) -> None:
    """At 120x40 the Peak column went as soon as a probe alert (whose peak is only its
    state) was listed: the error rate's peak was gone, with room to spare. Columns give way
    for room, not for a row without a number; at 80x24 the states stayed four letters."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        *probes, error_rate = demo_alerts("firing")
        app.dashboard.enqueue(Alerts((error_rate,)))
        app.dashboard.flush()
        await pilot.pause()
        alone = [str(column.key.value) for column in feed.columns.values()]
        assert len(set(re.findall(r"\d( ?)%", "\n".join(panel_lines(app, feed))))) == 1, (
            "the value and its peak in two number formats")
        app.dashboard.enqueue(Alerts((*probes, error_rate)))
        app.dashboard.flush()
        await pilot.pause()
        keys = [str(column.key.value) for column in feed.columns.values()]
        text = "\n".join(panel_lines(app, feed))
        if size[0] >= 120:
            assert "peak" in alone and "peak" in keys, keys
            assert "17.2 %" in text, text
        else:  # the probes need the room at 80: whole state words rather than the peak
            assert "firing 40s" in text and "firing 4s" in text, text


@pytest.mark.parametrize("state", ["firing", "resolved"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_rows_of_one_rule_cut_its_name_alike(size: tuple[int, int], state: str) -> None:
    """The demo's two probe alerts read "probe_un… redis" above "probe… blog-api": each row
    cut the shared name to what its own probe left, so one rule read as two."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        feed = app.dashboard.query_one(AlertFeed)
        alerts = [replace(alert, fingerprint=f"p-{probe}", labels={**alert.labels, "probe": probe})
                  for alert, probe in zip(demo_alerts(state), ("redis", "blog-api"))]
        app.dashboard.enqueue(Alerts((*alerts, demo_alerts(state)[-1])))
        app.dashboard.flush()
        await pilot.pause()
        names = [feed.get_row_at(row)[1].plain for row in range(feed.row_count)]
        probe_names = [name for name in names if name.endswith(("redis", "blog-api"))]
        assert len(probe_names) == 2, names
        stubs = {name.rsplit(" ", 1)[0] for name in probe_names}
        assert len(stubs) == 1, probe_names


async def test_a_cut_health_detail_takes_the_rows_the_panel_has_to_spare() -> None:
    """At 120x40 a probe's detail read "slow co…" above an empty row of the Health panel:
    it now goes on over the rows left, first probes first; with none left it is cut."""
    from obsview.common.protocol import Health
    from obsview.tui.widgets.health_table import HealthTable

    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.dashboard.query_one(HealthTable)
        report = app.dashboard.state.health
        assert report is not None and len(report.probes) == 4
        lines = panel_lines(app, table)
        assert any("slow co…" in line for line in lines), "four probes fill the panel: cut"
        app.dashboard.enqueue(Health(replace(report, probes=report.probes[1:])))
        app.dashboard.flush()
        await pilot.pause()
        lines = panel_lines(app, table)
        postgres = next(index for index, line in enumerate(lines) if "postgres" in line)
        assert lines[postgres].rstrip(" │").endswith("slow"), lines
        assert lines[postgres + 1].rstrip(" │").endswith("connect"), lines
        assert "redis" in lines[postgres + 2] and "connect…" in lines[postgres + 2], lines
        assert "disk" in lines[postgres + 3], "every probe still in view"
        assert table.max_scroll_y == 0
