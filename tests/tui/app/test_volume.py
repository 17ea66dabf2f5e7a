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
    """The newest bucket's time was once drawn at the far right, under no bar: the bars now
    end there, so the time ends at the right edge."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        await pilot.press("i")
        await pilot.pause()
        chart = app.dashboard.query_one(VolumeChart)
        histogram = chart.histogram
        assert histogram is not None
        bars = chart.render_line(BAR_ROWS - 1).text
        labels = chart.render_line(BAR_ROWS).text
        newest = chart._clock(histogram.bucket_start(len(histogram.events) - 1))
        assert labels.endswith(newest) and bars[-1] != " ", (labels, bars)
        assert labels.count(newest) == 1, labels
        assert labels.startswith(chart._clock(histogram.start)), labels


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
    """The legend (the border's subtitle) keeps the parts that fit whole: at 80 columns it
    read "peak 60 events per 1 s · ←/→ E"."""
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
                legend = chart.border_subtitle or ""
                assert legend and f"{legend} ─╯" in screen_text(app), (width, legend)
                cut = [word for word in legend.replace(",", " ").split()
                       if not word[0].isdigit() and word not in whole_words]
                assert not cut, (width, legend)


def demo_minute() -> list[LogEvent]:
    """Under a minute held, as in a fresh ``obsview demo``: 1 s buckets, fewer than columns."""
    return [LogEvent(ts=SAMPLE_NOW - 54 + i / 10, level="ERROR" if i % 9 == 0 else "INFO",
                     message="request completed", seq=1000 + i) for i in range(540)]


@pytest.mark.parametrize("size", [(120, 40), (200, 60)])
@pytest.mark.parametrize("held", ["sample", "demo minute"])
async def test_the_bars_span_the_chart_and_the_axis_holds_only_times(size: tuple[int, int], held: str) -> None:
    """54 one-second buckets filled the left 54 of 118 columns (one cell a bucket), and the
    newest time ran into the legend: "21:08:06 peak 61 events per 1 s" read as if the peak
    was at 21:08:06."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        if held == "demo minute":
            app.dashboard.reset()
            app.dashboard.enqueue(Events(tuple(demo_minute())))
            app.dashboard.flush()
        await pilot.press("i")
        await pilot.pause()
        chart = app.dashboard.query_one(VolumeChart)
        histogram = chart.histogram
        assert histogram is not None
        width = chart.content_region.width
        bottom = chart.render_line(BAR_ROWS - 1).text
        drawn = [x for x, char in enumerate(bottom) if char != " "]
        assert drawn[-1] - drawn[0] + 1 >= 0.9 * width, bottom

        axis = chart.render_line(BAR_ROWS).text
        newest = chart._clock(histogram.bucket_start(len(histogram.events) - 1))
        assert axis.split() == [chart._clock(histogram.start), newest], axis
        assert axis.rstrip().endswith(newest), axis  # under the newest bar: the last cells
        legend = next(line for line in screen_lines(app) if "peak" in line)
        assert f"peak {counted(histogram.peak, 'event')} per {histogram.width_s} s" in legend
        assert newest not in legend, legend


@pytest.mark.parametrize(("size", "hidden", "said"), [
    ((80, 24), ["Requests", "Latency"], ["Requests and Latency hidden"]),
    ((80, 20), ["Health", "Alerts"], ["Health and Alerts hidden"]),  # Requests: too short
])
async def test_what_the_histogram_hides_is_said(size: tuple[int, int], hidden: list[str],
                                                said: list[str]) -> None:
    """At 80×24 ``i`` took the Requests and Latency panels away for the log's sake, and the
    screen started at the Health row with no sign that anything was missing."""
    app = sample_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        assert not any("hidden" in line for line in screen_lines(app))
        assert all(any(f"─ {name}" in line for line in screen_lines(app)) for name in hidden)
        await pilot.press("i")
        await pilot.pause()
        lines = screen_lines(app)
        missing = [name for name in hidden if not any(f"─ {name}" in line for line in lines)]
        assert missing == hidden, lines  # these panels went...
        hint = next((line for line in lines if "hidden" in line), "")
        assert all(words in hint for words in said) and "i on the chart" in hint, lines
        assert lines.index(hint) == 0, lines  # where the panels were
        assert app.dashboard.query_one(LogView).size.height >= 5
        await pilot.press("i")  # closes the histogram: the panels are back, the hint gone
        await pilot.pause()
        lines = screen_lines(app)
        assert not any("hidden" in line for line in lines), lines
        assert all(any(f"─ {name}" in line for line in lines) for name in hidden), lines
