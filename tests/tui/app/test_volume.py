"""The log-volume histogram (``i``, as in lnav): events per bucket with errors stacked, over
what the console holds; choosing a bucket jumps the stream to its first event."""

from __future__ import annotations

import pytest
from app_test_support import screen_lines, screen_text

from obsview.common.protocol import Events, LogEvent
from obsview.tui.screenshots import SAMPLE_NOW, sample_app
from obsview.tui.widgets.log_view import LogView
from obsview.tui.widgets.volume_chart import BAR_ROWS, VolumeChart, counted


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_i_shows_the_volume_and_enter_jumps_the_stream_to_the_bucket(size: tuple[int, int]) -> None:
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("i")
        await pilot.pause()
        chart = app.dashboard.query_one(VolumeChart)
        log = app.dashboard.query_one(LogView)
        histogram = chart.histogram
        assert histogram is not None and app.focused is chart
        # Every held event is in a column; the sample's 185 events span three minutes.
        assert sum(histogram.events) == app.dashboard.buffer.total == 185
        assert sum(histogram.errors) == sum(1 for i in range(185) if app.dashboard.buffer[i].level == "ERROR")
        text = screen_text(app)
        assert f"Log volume per {histogram.width_s} s" in text
        assert "peak" in text and "14:57:" in text, text  # the axis: the first bucket's time
        assert log.size.height >= 5, "the histogram left the log no room"

        # Errors are the bottom of their bars, in the theme's error colour.
        failing = next(i for i, errors in enumerate(histogram.errors) if errors)
        bottom = list(chart.render_line(BAR_ROWS - 1))[failing]
        assert bottom.style is not None and bottom.style.color == chart._style("errors").color
        calm = next(i for i, errors in enumerate(histogram.errors) if not errors and histogram.events[i])
        bottom = list(chart.render_line(BAR_ROWS - 1))[calm]
        assert bottom.style is not None and bottom.style.color == chart._style("events").color

        await pilot.press("left", "left", "left")
        column = chart.selected_column
        assert column == len(histogram.events) - 3
        start = histogram.bucket_start(column)
        labels = next(line for line in screen_lines(app) if " error" in line and "event" in line)
        assert f"{counted(histogram.events[column], 'event')}, {counted(histogram.errors[column], 'error')}" in labels
        await pilot.press("enter")
        await pilot.pause()
        event = log.cursor_event
        assert event is not None and app.focused is log and not log.following
        assert start <= event.ts < start + histogram.width_s
        index = log.cursor_index
        assert index is not None and (index == 0 or app.dashboard.buffer[index - 1].ts < start)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_the_newest_time_sits_under_the_newest_bar(size: tuple[int, int]) -> None:
    """The bars may fill only part of the chart (the buckets are round widths): the newest
    bucket's time was drawn at the far right, under no bar."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("i")
        await pilot.pause()
        chart = app.dashboard.query_one(VolumeChart)
        histogram = chart.histogram
        assert histogram is not None
        bars = len(histogram.events)
        labels = chart.render_line(BAR_ROWS).text
        newest = chart._clock(histogram.bucket_start(bars - 1))
        end = max(bars, len(newest))
        assert labels[end - len(newest):end] == newest, labels
        assert labels.count(newest) == 1, labels  # and not also at the far right
        assert labels.startswith(chart._clock(histogram.start)) and "peak" in labels, labels
        # What does not fit is left out whole: "←/→ Enter: jump" or nothing, never "←/→ E".
        assert ("←/→" in labels) == ("Enter: jump" in labels), labels


async def test_the_jump_lands_among_the_filtered_events_and_new_events_are_counted() -> None:
    app = sample_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("slash", *"level:error", "enter", "i", "home")
        await pilot.pause()
        chart = app.dashboard.query_one(VolumeChart)
        assert chart.selected_column == 0
        await pilot.press("enter")
        await pilot.pause()
        event = app.dashboard.query_one(LogView).cursor_event
        assert event is not None and event.level == "ERROR"

        later = [LogEvent(ts=SAMPLE_NOW + 60 + i / 10, level="ERROR", message="boom", seq=500 + i)
                 for i in range(30)]
        app.dashboard.enqueue(Events(tuple(later)))
        app.dashboard.flush()
        await pilot.pause()
        histogram = chart.histogram
        assert histogram is not None
        assert sum(histogram.events) == 215 and histogram.errors[histogram.column_at(SAMPLE_NOW + 61)] == 30


@pytest.mark.parametrize(("size", "also"), [((80, 24), ["i Volume", "p Pause ", "a Ack"]),
                                             ((120, 40), ["i Log volume", "p Pause/Follow", "R Routes",
                                                          "? Help", "q Quit"])])
async def test_the_footer_shows_i_beside_the_log_keys(size: tuple[int, int], also: list[str]) -> None:
    """lnav users look for ``i``: the footer names it, at 80 columns too, without pushing out
    Ack there (nor Help and Quit at 120). At 80 columns, where keys are cut off, ``? Help``
    comes first and the labels are short."""
    from obsview.tui.screens.help import bindings_help

    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        footer = screen_lines(app)[-1]
        for key in ["⏎ Details", "f Find", *also]:
            assert key in footer, key
        if size[0] == 80:
            assert footer.startswith("? Help"), footer
        assert footer.rstrip().endswith("^p palette")  # nothing cut off shows through
        assert any(row.key == "i" and row.description == "Log volume"
                   for row in bindings_help(app.screen))


async def test_the_label_leaves_out_whole_parts_at_every_width() -> None:
    """Between or after the times, the label keeps the parts that fit whole: at 80 columns
    it read "peak 60 events per 1 s · ←/→ E"."""
    whole_words = {"peak", "event", "events", "error", "errors", "per", "s", "min", "·", "←/→",
                   "Enter:", "jump"}
    app = sample_app()
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("i")
        chart = app.dashboard.query_one(VolumeChart)
        for selecting in ((), ("home",)):
            await pilot.press(*selecting)
            for width in range(120, 40, -1):
                await pilot.resize_terminal(width, 24)
                await pilot.pause()
                labels = chart.render_line(BAR_ROWS).text
                cut = [word for word in labels.replace(",", " ").split()
                       if not word[0].isdigit() and word not in whole_words]
                assert not cut, (width, labels)
