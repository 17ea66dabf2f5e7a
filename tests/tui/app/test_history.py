"""Scroll-back past the console's buffer and "search all history", against a real agent whose
journal holds the events of an earlier run (its RAM, and the console's buffer, do not)."""

from __future__ import annotations

from pathlib import Path

from app_test_support import screen_text, wait_until
from history_support import console_after_a_restart

from obsview.tui.screens.history import PAGE, HistoryScreen
from obsview.tui.widgets.log_view import LogView


async def test_up_past_the_oldest_event_goes_on_into_the_journal(tmp_path: Path) -> None:
    async with console_after_a_restart(tmp_path) as (app, pilot):
        app.dashboard.query_one("LogView").focus()
        await pilot.press("up")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await wait_until(pilot, lambda: history.matched == PAGE and not history.waiting)
        assert "yesterday 1199" in screen_text(app), "the log goes on just below today's events"
        assert "up at the top loads older" in screen_text(app)
        log = history.query_one(LogView)
        log.select_index(0)
        await pilot.press("up")  # at the top, and up once more: the next page
        await wait_until(pilot, lambda: history.matched == 2 * PAGE and not history.waiting)
        assert log.cursor_event is not None and log.cursor_event.message == "yesterday 700"
        log.select_index(0)
        await pilot.press("up")
        await wait_until(pilot, lambda: history.matched == 1200 and not history.waiting)
        assert "start of the agent's history" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)


async def test_search_all_history_pages_older_matches_on_demand(tmp_path: Path) -> None:
    async with console_after_a_restart(tmp_path) as (app, pilot):
        await pilot.press("slash", *"yesterday", "enter")
        await pilot.press("H")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        history = app.screen
        assert isinstance(history, HistoryScreen)
        await wait_until(pilot, lambda: history.matched == PAGE)
        text = screen_text(app)
        assert 'text "yesterday"' in text and f"{PAGE} shown" in text
        assert "today 0" not in text


async def test_a_page_too_big_for_one_frame_is_shown_whole_and_in_order(tmp_path: Path) -> None:
    # 500 events of 1 KiB lines are over a frame's 256 KiB: the page comes in two frames.
    async with console_after_a_restart(tmp_path, raw="x" * 1024) as (app, pilot):
        app.dashboard.query_one("LogView").focus()
        await pilot.press("up")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and not app.screen.waiting)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        shown = [history.buffer[i].message for i in range(len(history.buffer))]
        assert shown == [f"yesterday {n}" for n in range(1200 - PAGE, 1200)], "no hole in the page"


async def test_home_jumps_to_the_start_of_history_and_end_back_to_the_newest(tmp_path: Path) -> None:
    """Home in the history screen went to the first event loaded, not to the start of the
    history; there was no key for either end."""
    async with console_after_a_restart(tmp_path) as (app, pilot):
        app.dashboard.query_one("LogView").focus()
        await pilot.press("up")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and not app.screen.waiting)
        history = app.screen
        assert isinstance(history, HistoryScreen)
        log = history.query_one(LogView)
        footer = screen_text(app).splitlines()[-1]
        assert "home Oldest" in footer and "end Newest" in footer, footer
        await pilot.press("home")
        await wait_until(pilot, lambda: history.matched == PAGE and not history.waiting)
        assert log.cursor_event is not None and log.cursor_event.message == "yesterday 0"
        assert "start of the agent's history · down loads newer" in screen_text(app)
        await pilot.press("pagedown", "end")  # End is the screen's: the newest again
        await wait_until(pilot, lambda: history.matched == PAGE and not history.waiting)
        assert log.cursor_event is not None and log.cursor_event.message == "yesterday 1199"
        assert "up at the top loads older" in screen_text(app)
        await pilot.press("g")
        await wait_until(pilot, lambda: history.matched == PAGE and not history.waiting)
        log.select_index(PAGE - 1)
        await pilot.press("down")  # at the bottom, and down once more: the next newer page
        await wait_until(pilot, lambda: history.matched == 2 * PAGE and not history.waiting)
        assert [history.buffer[i].message for i in (0, 2 * PAGE - 1)] == ["yesterday 0", "yesterday 999"]
        assert log.cursor_event is not None and log.cursor_event.message == "yesterday 499"
        log.select_index(2 * PAGE - 1)
        await pilot.press("down")  # the rest, up to where the dashboard's events begin
        await wait_until(pilot, lambda: history.matched == 1200 and not history.waiting)
        assert history.buffer[1199].message == "yesterday 1199"
        assert "down loads newer" not in screen_text(app)
        await pilot.press("G")
        await wait_until(pilot, lambda: history.matched == PAGE and not history.waiting)
        assert log.cursor_event is not None and log.cursor_event.message == "yesterday 1199"
