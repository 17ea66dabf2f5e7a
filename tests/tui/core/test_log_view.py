from __future__ import annotations

from injection_corpus import FORBIDDEN_CHARS, INJECTION_CORPUS
from textual.app import App, ComposeResult
from textual.message import Message

from obsview.common.filters import parse_filter
from obsview.common.protocol import LogEvent
from obsview.tui.model import EventBuffer
from obsview.tui.widgets.log_view import LogView, local_time
from obsview.tui.widgets.units import format_ms

LEVELS = ("INFO", "ERROR", "DEBUG", "WARN", "TRACE")


def fixed_time(ts: float) -> str:
    return f"T{ts:08.0f}"


def make(start: int, count: int, **fields: object) -> list[LogEvent]:
    return [
        LogEvent(ts=float(seq), level=LEVELS[seq % 5], message=f"event {seq}", seq=seq, **fields)  # type: ignore[arg-type]
        for seq in range(start, start + count)
    ]


class CountingLogView(LogView):
    rendered_rows = 0

    def _render_row(self, event, position, styles):  # type: ignore[no-untyped-def]
        CountingLogView.rendered_rows += 1
        return super()._render_row(event, position, styles)


class LogApp(App[None]):
    def __init__(self, buffer: EventBuffer, view_class: type[LogView] = LogView) -> None:
        super().__init__()
        self.buffer = buffer
        self.view_class = view_class
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.view_class(self.buffer, time_format=fixed_time)

    def on_log_view_selected(self, message: LogView.Selected) -> None:
        self.messages.append(message)

    def on_log_view_opened(self, message: LogView.Opened) -> None:
        self.messages.append(message)

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        self.messages.append(message)

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def feed(self, events: list[LogEvent]) -> None:
        self.buffer.append(events)
        self.view.refresh_from_buffer()

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for m in self.messages if isinstance(m, kind)]


def visible_rows(view: LogView) -> list[str]:
    return [view.render_line(y).text for y in range(view.scrollable_content_region.height)]


async def test_injection_corpus_is_shown_literally_and_harmlessly() -> None:
    hostile = [text for _, text in INJECTION_CORPUS]
    events = [
        LogEvent(ts=float(i), level="ERROR", message=text, seq=i, trace_id=text, method=text[:10],
                 path=text, status=500, duration_ms=1.0)
        for i, text in enumerate(hostile)
    ] + [LogEvent(ts=99.0, level="INFO", message=text, seq=100 + i) for i, text in enumerate(hostile)]
    app = LogApp(EventBuffer())
    async with app.run_test(size=(100, 80)) as pilot:
        app.feed(events)
        app.view.action_first()
        await pilot.pause()
        assert app.is_running
        rows = visible_rows(app.view)
        joined = "\n".join(rows)
        assert "[bold]not bold[/bold]" in joined
        assert "[@click=app.quit]click me[/]" in joined
        assert "␛]0;pwned␇" in joined
        for row in rows:
            assert not (set(row) & FORBIDDEN_CHARS), row
        # And the screen the terminal would get, end to end, carries no raw escape either.
        screenshot = app.export_screenshot()
        assert "pwned" in screenshot and "\x1b]0;" not in screenshot


async def test_rows_show_time_level_trace_access_fields_and_message() -> None:
    event = LogEvent(ts=42.0, level="WARN", message="Request completed", seq=1, trace_id="4bf92f3577b34da6",
                     method="GET", path="/api/posts/42", status=404, duration_ms=12.345)
    plain = LogEvent(ts=43.0, level="INFO", message="started", seq=2)
    app = LogApp(EventBuffer())
    async with app.run_test(size=(100, 10)) as pilot:
        app.feed([event, plain])
        await pilot.pause()
        rows = visible_rows(app.view)
        # A gutter (bookmarks), the trace ID cut with an ellipsis: a cut ID never reads as whole.
        assert rows[0].rstrip() == " T00000042 WARN  4bf92f3… GET /api/posts/42 404 12ms  Request completed"
        assert rows[1].rstrip() == " T00000043 INFO           started"
        assert rows[2].strip() == ""


def test_default_time_format_survives_absurd_timestamps() -> None:
    assert local_time(1e300) == "--:--:--.---"
    assert len(local_time(1_700_000_000.123)) == len("12:34:56.123")


def test_duration_format() -> None:
    assert [format_ms(d, compact=True) for d in (0.25, 12.4, 999.0, 1234.0)] == ["0.2ms", "12ms", "999ms", "1.23s"]
    assert [format_ms(d) for d in (0.25, 12.4, 999.0, 1234.0)] == ["0.2 ms", "12 ms", "999 ms", "1.23 s"]


async def test_follow_pause_and_new_counter() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.view
        app.feed(make(1, 100))
        await pilot.pause()
        assert view.following and view.cursor_event is not None and view.cursor_event.seq == 100
        assert view.scroll_offset.y == view.max_scroll_y > 0
        await pilot.press("p")
        assert not view.following
        top = view.scroll_offset.y
        app.feed(make(101, 5))
        app.feed(make(106, 2))
        await pilot.pause()
        assert view.new_count == 7
        assert view.scroll_offset.y == top
        last = app.of(LogView.FollowChanged)[-1]
        assert isinstance(last, LogView.FollowChanged) and (last.following, last.new_count) == (False, 7)
        await pilot.press("end")
        await pilot.pause()
        assert view.following and view.new_count == 0
        assert view.cursor_event is not None and view.cursor_event.seq == 107
        assert view.scroll_offset.y == view.max_scroll_y


async def test_scrolling_up_pauses() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        app.feed(make(1, 100))
        await pilot.pause()
        app.view.scroll_to(y=10, animate=False)
        await pilot.pause()
        assert not app.view.following
        app.feed(make(101, 3))
        assert app.view.new_count == 3 and app.view.scroll_offset.y == 10


async def test_cursor_keys_selection_and_enter() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.view
        view.focus()
        app.feed(make(1, 50))
        await pilot.press("up")
        await pilot.pause()
        assert not view.following
        selected = app.of(LogView.Selected)
        assert selected and selected[-1].event.seq == 49  # type: ignore[attr-defined]
        await pilot.press("home")
        assert view.cursor_event is not None and view.cursor_event.seq == 1
        assert view.scroll_offset.y == 0
        await pilot.press("down", "down", "pagedown")
        assert view.cursor_index == 2 + view.scrollable_content_region.height - 1
        await pilot.press("end", "pageup")
        assert view.cursor_index == 49 - (view.scrollable_content_region.height - 1)
        await pilot.press("home", "enter")
        await pilot.pause()
        opened = app.of(LogView.Opened)
        assert len(opened) == 1 and opened[0].event.seq == 1  # type: ignore[attr-defined]


async def test_click_selects_and_pauses() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        app.feed(make(1, 5))
        await pilot.pause()
        await pilot.click(LogView, offset=(5, 2))
        assert not app.view.following
        assert app.view.cursor_event is not None and app.view.cursor_event.seq == 3


async def test_eviction_while_paused_keeps_the_same_events_in_view() -> None:
    app = LogApp(EventBuffer(capacity=60))
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.view
        app.feed(make(1, 60))
        await pilot.press("home", "down", "down")  # cursor on seq 3, top row seq 1
        app.feed(make(61, 30))  # evicts seqs 1..30
        await pilot.pause()
        assert view.scroll_offset.y == 0
        assert view.buffer[view.scroll_offset.y].seq == 31
        assert view.cursor_event is not None and view.cursor_event.seq == 31  # its event is gone: next one
        assert app.of(LogView.Selected)[-1].event.seq == 31  # type: ignore[attr-defined]
        cursor_row = view.render_line(0)._segments[0].style
        other_row = view.render_line(1)._segments[0].style
        assert cursor_row is not None and other_row is not None and cursor_row.bgcolor != other_row.bgcolor
        assert view.new_count == 30
        await pilot.press("down")
        assert view.cursor_event is not None and view.cursor_event.seq == 32
        app.feed(make(91, 5))  # evicts 31..35: the top row moves with them
        assert view.buffer[view.scroll_offset.y].seq == 36


async def test_filter_change_reanchors_on_the_selected_event() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.view
        app.feed(make(1, 200))
        await pilot.press("home")
        view.buffer.set_filter(parse_filter("level:error"))  # seq % 5 == 1
        view.refresh_from_buffer()
        await pilot.pause()
        assert view.cursor_event is not None and view.cursor_event.seq == 1
        assert all(" ERROR " in row for row in visible_rows(view))
        await pilot.press("down", "down")
        assert view.cursor_event is not None and view.cursor_event.seq == 11
        view.buffer.set_filter(parse_filter("level:warn"))  # seq % 5 == 3: 11 is gone, 13 is next
        view.refresh_from_buffer()
        assert view.cursor_event is not None and view.cursor_event.seq == 13
        await pilot.press("end")
        view.buffer.set_filter(parse_filter(""))
        view.refresh_from_buffer()
        assert view.following and view.cursor_event is not None and view.cursor_event.seq == 200
        await pilot.press("up")
        view.buffer.set_filter(parse_filter("nothing-matches-this"))
        view.refresh_from_buffer()
        assert view.following and view.cursor_event is None  # nothing to hold on to: follow
        assert visible_rows(view)[0].strip() == ""


async def test_scrollbar_and_scroll_bounds_follow_the_row_count() -> None:
    """The row count changes at every flush; the view updates its scrollbar and clamps its
    offset itself (public Textual API only) instead of asking for a layout of the screen."""
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.view
        await pilot.pause()
        app.feed(make(1, 200))
        await pilot.pause()
        bar = view.vertical_scrollbar
        assert (bar.window_virtual_size, bar.window_size) == (200, view.scrollable_content_region.height)
        assert view.scroll_offset.y == view.max_scroll_y == 200 - view.scrollable_content_region.height
        view.buffer.set_filter(parse_filter("level:error"))  # 40 rows left: the offset must come back in range
        view.refresh_from_buffer()
        await pilot.pause()
        assert bar.window_virtual_size == 40
        assert view.scroll_offset.y == view.max_scroll_y == 40 - view.scrollable_content_region.height
        assert "event 196" in visible_rows(view)[-1]


async def test_a_frame_renders_only_visible_rows_of_a_big_buffer() -> None:
    buffer = EventBuffer(capacity=100_000)
    buffer.append(make(1, 100_000))
    app = LogApp(buffer, CountingLogView)
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        # A view made over a full buffer shows it at once, following the newest event.
        assert app.view.cursor_event is not None and app.view.cursor_event.seq == 100_000
        assert "event 100000" in visible_rows(app.view)[-1]
        CountingLogView.rendered_rows = 0
        buffer.append(make(100_001, 1000))
        app.view.refresh_from_buffer()
        await pilot.pause()
        assert 0 < CountingLogView.rendered_rows <= 2 * 20


async def test_styles_follow_focus_and_theme() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 8)) as pilot:
        view = app.view
        app.feed(make(1, 3))
        await pilot.pause()

        def cursor_background() -> object:
            return view.render_line(2)._segments[0].style.bgcolor  # type: ignore[union-attr]

        def row_colours() -> tuple[object, object]:
            style = view.render_line(0)._segments[1].style  # the level of an ERROR row
            assert style is not None
            return style.color, style.bgcolor

        view.blur()
        await pilot.pause()
        blurred = cursor_background()
        view.focus()
        await pilot.pause()
        assert cursor_background() != blurred
        dark = row_colours()
        app.theme = "textual-light"
        await pilot.pause()
        assert row_colours() != dark


async def test_show_time_pauses_on_the_first_event_at_or_after_it() -> None:
    app = LogApp(EventBuffer())
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.view
        app.feed(make(1, 200))
        await pilot.pause()
        view.show_time(50.5)
        await pilot.pause()
        assert not view.following
        assert view.cursor_event is not None and view.cursor_event.seq == 51
        assert view.scroll_offset.y < 50 < view.scroll_offset.y + view.scrollable_content_region.height
        app.feed(make(201, 3))
        await pilot.pause()
        assert view.cursor_event.seq == 51 and view.new_count == 3  # held still
        view.show_time(10_000.0)  # after everything: the newest
        assert view.cursor_event is not None and view.cursor_event.seq == 203
