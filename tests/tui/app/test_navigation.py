"""Navigation people know from less, lnav and k9s: g/G, find with n/N and highlighted matches,
"match k of n", the filter applied live as it is typed, a history of queries, bookmarks."""

from __future__ import annotations

import pytest
from app_test_support import screen_text, wait_until
from rich.segment import Segment

from obsview.common.filters import parse_filter
from obsview.common.protocol import Events, Gap, LogEvent
from obsview.tui.app import ObsviewApp
from obsview.tui.screenshots import SAMPLE_NOW, sample_app
from obsview.tui.widgets.filter_bar import FilterBar
from obsview.tui.widgets.log_view import BOOKMARK_MARK, LogView

TOTAL = 185
#: The sample session's events with "timeout" in them: seqs 23, 46 … 161, and 185.
TIMEOUTS = 8


@pytest.fixture
def app() -> ObsviewApp:
    return sample_app()


def log(app: ObsviewApp) -> LogView:
    return app.dashboard.query_one(LogView)


def row_segments(app: ObsviewApp, seq: int) -> list[Segment]:
    """The segments the log draws for the event ``seq`` (it must be in view)."""
    view = log(app)
    buffer = view.buffer
    index = next(i for i in range(len(buffer)) if buffer[i].seq == seq)
    return list(view.render_line(index - view.scroll_offset.y))


def highlighted(app: ObsviewApp, seq: int) -> list[str]:
    """Texts of the row drawn in the match style (normal rows) or reversed (the cursor row)."""
    view = log(app)
    match = view.get_component_rich_style("log-view--match")
    return [segment.text for segment in row_segments(app, seq)
            if segment.style is not None
            and (segment.style.bgcolor == match.bgcolor or segment.style.reverse)]


async def test_g_goes_to_the_top_and_shift_g_back_to_the_bottom_following(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("g")
        assert log(app).cursor_index == 0 and not log(app).following
        assert log(app).scroll_offset.y == 0
        await pilot.press("G")
        assert log(app).following and log(app).cursor_index == TOTAL - 1


async def test_find_highlights_matches_and_counts_match_k_of_n(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f", *"timeout", "enter")
        buffer = app.dashboard.buffer
        assert buffer.find is not None and buffer.found_count == TIMEOUTS
        assert buffer.matched_count == TOTAL  # a find does not hide anything
        # The newest line (seq 185) is a match: it is selected, match 8 of 8.
        assert "find timeout · match 8 of 8" in screen_text(app)
        assert highlighted(app, 185) == ["timeout"]
        await pilot.press("N")
        assert log(app).cursor_event.seq == 161  # type: ignore[union-attr]
        assert "match 7 of 8" in screen_text(app)
        assert highlighted(app, 161) == ["timeout"]  # the cursor row: the pair reversed
        assert highlighted(app, 185) == ["timeout"]  # a normal row: the match style
        assert highlighted(app, 160) == []
        await pilot.press("n")
        assert log(app).cursor_event.seq == 185  # type: ignore[union-attr]
        await pilot.press("n")  # wraps around to the oldest match
        assert log(app).cursor_event.seq == 23  # type: ignore[union-attr]
        assert "match 1 of 8" in screen_text(app)
        await pilot.press("escape")  # Esc forgets the find first…
        assert buffer.find is None and "find" not in screen_text(app).splitlines()[-2]
        assert highlighted(app, 23) == []


async def test_n_steps_through_the_filtered_rows_without_a_find(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"timeout", "enter", "g")
        assert app.dashboard.buffer.matched_count == TIMEOUTS
        await pilot.press("n", "n")
        assert log(app).cursor_index == 2
        assert highlighted(app, log(app).cursor_event.seq) == ["timeout"]  # type: ignore[union-attr]


async def test_the_filter_is_applied_as_it_is_typed(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"level:warn+")
        bar = app.dashboard.query_one(FilterBar)
        assert bar.is_open
        # No Enter: the query applies once the typing pauses.
        await wait_until(pilot, lambda: app.dashboard.buffer.filter.query == "level:warn+")
        assert bar.is_open
        await wait_until(pilot, lambda: "filter level:warn+" in screen_text(app))
        await pilot.press("escape")  # Esc takes the preview back
        await wait_until(pilot, lambda: app.dashboard.buffer.filter.query == "")
        assert not bar.is_open


async def test_a_big_buffer_is_filtered_in_steps_while_keys_still_work(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        events = [LogEvent(ts=SAMPLE_NOW + i / 1000, level="INFO", message=f"request {i}",
                           seq=1000 + i) for i in range(40_000)]
        dashboard.enqueue(Events(tuple(events)))
        dashboard.flush()
        dashboard.apply_filter(parse_filter('"request 3"'))
        # The matching runs in steps of 4,096 events: the buffer still shows everything…
        assert dashboard.buffer.filter.query == ""
        await pilot.press("p")  # …and a key is handled meanwhile
        assert not log(app).following
        await wait_until(pilot, lambda: dashboard.buffer.filter.query == '"request 3"')
        expected = sum(1 for e in events if "request 3" in e.message)
        assert dashboard.buffer.matched_count == expected


async def test_up_in_the_bar_recalls_earlier_queries(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for query in ("status:5xx", "level:warn+", "status:5xx"):
            await pilot.press("slash", "ctrl+u", *query, "enter")
        bar = app.dashboard.query_one(FilterBar)
        assert bar.history("filter") == ["level:warn+", "status:5xx"]  # once each, newest last
        await pilot.press("slash", "ctrl+u", *"draft")
        await pilot.press("up")
        assert bar.query_one("#filter-input").value == "status:5xx"  # type: ignore[attr-defined]
        await pilot.press("up", "up")  # stops at the oldest
        assert bar.query_one("#filter-input").value == "level:warn+"  # type: ignore[attr-defined]
        await pilot.press("down", "down")  # back to what was being typed
        assert bar.query_one("#filter-input").value == "draft"  # type: ignore[attr-defined]
        await pilot.press("up", "up", "enter")
        assert app.dashboard.buffer.filter.query == "level:warn+"


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize(("key", "label", "kept"), [("f", "esc Close find", "find"),
                                                     ("slash", "esc Close filter", "filter")])
async def test_esc_in_the_bar_is_labelled_with_what_it_closes(app: ObsviewApp, key: str, label: str,
                                                             kept: str, width: int) -> None:
    """The find bar's Esc read "Close filter" (and at 80 columns, "Close")."""
    async with app.run_test(size=(width, 40)) as pilot:
        await pilot.pause()
        await pilot.press(key, *"timeout")
        assert label in screen_text(app).splitlines()[-1]
        await pilot.press("escape")  # closes, and takes back what the live preview showed
        assert not app.dashboard.query_one(FilterBar).is_open
        assert app.dashboard.buffer.filter.query == "" and app.dashboard.buffer.find is None
        await pilot.press(key, *"timeout", "enter")
        assert (app.dashboard.buffer.find if kept == "find" else app.dashboard.buffer.filter).query == "timeout"


async def test_bookmarks_are_marked_and_jumped_between(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("up", "b", "up", "up", "b", "G")
        assert app.dashboard.buffer.bookmark_count == 2
        assert log(app).following
        await pilot.press("left_square_bracket")
        assert log(app).cursor_event.seq == 184  # type: ignore[union-attr]
        assert not log(app).following
        await pilot.press("left_square_bracket")
        assert log(app).cursor_event.seq == 182  # type: ignore[union-attr]
        await pilot.press("right_square_bracket")
        assert log(app).cursor_event.seq == 184  # type: ignore[union-attr]
        assert row_segments(app, 182)[0].text == BOOKMARK_MARK
        assert row_segments(app, 183)[0].text == " "
        await pilot.press("b")  # off again
        assert app.dashboard.buffer.bookmark_count == 1


async def test_a_gap_is_a_marked_line_where_it_happened(app: ObsviewApp) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        dashboard.enqueue(Gap(missed=1234, from_seq=186))
        dashboard.enqueue(Events((LogEvent(ts=SAMPLE_NOW + 60, level="INFO", message="after",
                                           seq=1420),)))
        dashboard.flush()
        await pilot.pause()
        lines = screen_text(app).splitlines()
        at = next(i for i, line in enumerate(lines) if "gap: 1,234 events lost here" in line)
        assert "after" in lines[at + 1]
        assert dashboard.buffer.last_seq == 1420


async def test_at_80_columns_match_k_of_n_and_paused_stay_whole(app: ObsviewApp) -> None:
    """At 80×24 the status line cut "match k of n" and "paused · N new": the other parts
    are shortened first."""
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"status:5xx", "enter")  # a filter, counted too
        await pilot.press("f", *"timeout", "enter", "N")
        dashboard = app.dashboard
        dashboard.enqueue(Events(tuple(
            LogEvent(ts=SAMPLE_NOW + 60, level="ERROR", message=f"timeout {n}", seq=186 + n, status=503)
            for n in range(1200))))
        dashboard.flush()
        await pilot.pause()
        line = screen_text(app).splitlines()[-2]
        rank, found = dashboard.buffer.found_rank(log(app).cursor_index), dashboard.buffer.found_count
        assert f"match {rank} of {found:,}" in line, line
        assert "paused · 1,200 new" in line, line
        assert "· status:" in line, line  # the filter, cut to the room left


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_row_cut_at_the_right_edge_ends_with_an_ellipsis(app: ObsviewApp, size: tuple[int, int]) -> None:
    """Long rows were cut mid-word, and under the scrollbar, as if the message ended there."""
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.clear_notifications()
        dashboard = app.dashboard
        dashboard.enqueue(Events((
            LogEvent(ts=SAMPLE_NOW + 1, level="INFO", message="long " + "word " * 60 + "END", seq=186),
            LogEvent(ts=SAMPLE_NOW + 2, level="INFO", message="short one", seq=187),
        )))
        dashboard.flush()
        await pilot.pause()
        view = log(app)
        edge = view.scrollable_content_region.right - 1  # the last cell left of the scrollbar
        for press in ([], ["up"]):  # a plain row, then the cursor row
            await pilot.press(*press)
            lines = screen_text(app).splitlines()
            cut = next(line for line in lines if "long word" in line)
            whole = next(line for line in lines if "short one" in line)
            assert cut.rindex("…") == edge and cut[edge - 1] in "word ", cut
            assert "END" not in cut and "…" not in whole
        assert view.cursor_event is not None and view.cursor_event.seq == 186
