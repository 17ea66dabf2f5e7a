"""The log stream: a line-API widget over an :class:`EventBuffer`'s filtered view.

Built like Textual's ``Log`` (``ScrollView`` + ``render_line`` + a line cache) so a frame
costs only the visible rows whatever the buffer size or the event rate. The app appends
batches to the buffer and calls :meth:`LogView.refresh_from_buffer` from its flush timer.

* **Follow** (default): the view sticks to the newest event and the cursor sits on it.
* **Paused** (``p``/space, moving the cursor up, scrolling up): the view holds still and
  counts matching events that arrived meanwhile (:attr:`LogView.new_count`, announced with
  :class:`LogView.FollowChanged`). ``end``/``G`` or ``p`` follows again.

Navigation as in less and lnav: ``g``/``G`` top and bottom, ``n``/``N`` the next/previous
event the find query matches (the text it looks for is highlighted in the rows shown),
``b`` bookmarks the selected event and ``]``/``[`` jump between bookmarks. A bookmarked row
has a mark in the gutter; lines the console inserts itself (a gap) are drawn as markers.

Every untrusted field goes through :func:`obsview.tui.render.clean` (the same cleaning as
``safe_text``) and becomes a ``Segment``, which is never parsed as markup.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from obsview.common.protocol import LEVELS, LogEvent
from obsview.tui.model import MARKER_SOURCE, EventBuffer
from obsview.tui.render import clean
from obsview.tui.widgets.units import format_ms

TimeFormatter = Callable[[float], str]

TRACE_ID_WIDTH = 8
#: The host column (several agents) never takes more than this.
MAX_HOST_WIDTH: Final = 16
#: Ends a row cut at the right edge.
ELLIPSIS: Final = "…"
#: The gutter left of each row: a bookmark's mark, or a blank.
BOOKMARK_MARK: Final = "◆"
# A row never shows more than a terminal width; cutting long messages early keeps a
# 64 KiB line from costing anything beyond what is visible.
ROW_TEXT_LIMIT = 1024


def local_time(ts: float) -> str:
    """``HH:MM:SS.mmm`` in the local time zone (the default row time format)."""
    try:
        return datetime.datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]
    except (OverflowError, OSError, ValueError):  # a timestamp no clock can show
        return "--:--:--.---"



#: Before the time of a row from another day than today: ``MM-DD `` (lnav shows the date
#: only then); rows of today get as many blanks when the view holds such a row.
DAY_WIDTH: Final = 6


def local_day(ts: float) -> datetime.date | None:
    try:
        return datetime.date.fromtimestamp(ts)
    except (OverflowError, OSError, ValueError):  # a timestamp no clock can show
        return None


def trace_cell(trace_id: str) -> str:
    """The trace ID in :data:`TRACE_ID_WIDTH` cells, cut with an ellipsis when longer (a cut
    ID must not read as a whole one: ``t`` and ``T`` use the full ID)."""
    if len(trace_id) > TRACE_ID_WIDTH:
        return clean(trace_id[:TRACE_ID_WIDTH - 1], max_len=TRACE_ID_WIDTH) + "…"
    return clean(trace_id, max_len=TRACE_ID_WIDTH).ljust(TRACE_ID_WIDTH)


def host_cell(host: str, width: int) -> str:
    """The host's name in ``width`` cells (cut with an ellipsis when longer)."""
    if len(host) > width:
        return clean(host[:width - 1], max_len=width) + "…"
    return clean(host, max_len=width).ljust(width)


def _highlighted(parts: list[tuple[str, Style]], pattern: re.Pattern[str],
                 match: Style) -> list[tuple[str, Style]]:
    """``parts`` with what ``pattern`` matches in each of them in the ``match`` style."""
    result: list[tuple[str, Style]] = []
    for text, style in parts:
        end = 0
        for found in pattern.finditer(text):
            if found.end() == found.start():
                continue  # an empty match highlights nothing
            if found.start() > end:
                result.append((text[end:found.start()], style))
            result.append((found.group(), match))
            end = found.end()
        if end < len(text):
            result.append((text[end:], style))
    return result


@dataclass(frozen=True, slots=True)
class _RowStyles:
    """The theme's styles for each part of a row, combined over the widget's base once."""

    base: Style
    time: Style
    trace_id: Style
    levels: dict[str, Style]
    match: Style
    bookmark: Style
    marker: Style

    @classmethod
    def build(cls, base: Style, component: Callable[..., Style]) -> _RowStyles:
        def part(name: str) -> Style:
            # The full component style (alpha colours blended, unlike partial=True) minus its
            # background, so a part never hides the row's (cursor) background.
            full = component(name)
            return base + full.without_color + Style(color=full.color)

        return cls(
            base=base,
            time=part("log-view--time"),
            trace_id=part("log-view--trace-id"),
            levels={level: part(f"log-view--{level.lower()}") for level in LEVELS},
            match=base + component("log-view--match"),
            bookmark=part("log-view--bookmark"),
            marker=part("log-view--marker"),
        )

    @classmethod
    def uniform(cls, base: Style) -> _RowStyles:
        """The cursor row: every part in the cursor's one colour pair (the level in bold),
        a match in the same pair reversed. A part's own colour on the cursor's background
        measured 1.02:1 (the time) in the dark theme and 1.07:1 in high contrast: no such
        pair can exist here."""
        bold = base + Style(bold=True)
        return cls(base=base, time=base, trace_id=base, levels=dict.fromkeys(LEVELS, bold),
                   match=base + Style(reverse=True), bookmark=bold, marker=bold)


def _fit(strip: Strip, width: int, base: Style) -> Strip:
    """``strip`` in ``width`` cells: padded, or cut with an ellipsis in the style of the
    text it ends (a row cut mid-word read as if the message ended there)."""
    if strip.cell_length <= width:
        return strip.crop_extend(0, width, base)
    if width < 1:
        return Strip.blank(0, base)
    kept = strip.crop(0, width - 1)
    last = list(kept)[-1].style if kept.cell_length else base
    return Strip([*kept, Segment(ELLIPSIS, last)], width)


# inherit_bindings=False: Widget's keys scroll sideways (useless: rows are cut at the width,
# overflow-x hidden) or duplicate the ones below; inherited, they only cluttered the help.
class LogView(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows of log events from ``buffer`` (only the visible ones are ever rendered)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--time",
        "log-view--trace-id",
        "log-view--error",
        "log-view--warn",
        "log-view--info",
        "log-view--debug",
        "log-view--trace",
        "log-view--cursor",
        "log-view--match",
        "log-view--bookmark",
        "log-view--marker",
    }

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: scroll;
        & > .log-view--time { color: $text-muted; }
        & > .log-view--trace-id { color: $accent; }
        & > .log-view--error { color: $error; text-style: bold; }
        & > .log-view--warn { color: $warning; }
        & > .log-view--info { color: $success; }
        & > .log-view--debug { color: $text-muted; }
        & > .log-view--trace { color: $text-muted; }
        & > .log-view--match { background: $warning; color: $background; }
        & > .log-view--bookmark { color: $accent; text-style: bold; }
        & > .log-view--marker { color: $warning; text-style: bold; }
        & > .log-view--cursor {
            background: $block-cursor-blurred-background; color: $block-cursor-blurred-foreground;
        }
        &:focus > .log-view--cursor {
            background: $block-cursor-background; color: $block-cursor-foreground;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False, id="log.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="log.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="log.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="log.page_down"),
        Binding("home,g", "first", "First", show=False, id="log.first"),
        Binding("end,G", "follow", "Follow", show=False, id="log.follow"),
        Binding("n", "next_match(1)", "Next match", show=False, id="log.next_match"),
        Binding("N", "next_match(-1)", "Previous match", show=False, id="log.previous_match"),
        Binding("b", "toggle_bookmark", "Bookmark", show=False, id="log.bookmark"),
        Binding("right_square_bracket", "next_bookmark(1)", "Next bookmark", show=False,
                id="log.next_bookmark"),
        Binding("left_square_bracket", "next_bookmark(-1)", "Previous bookmark", show=False,
                id="log.previous_bookmark"),
        Binding("enter", "open", "Details", id="log.open"),
        Binding("p,space", "toggle_follow", "Pause/Follow", id="log.toggle_follow"),
    ]

    following: reactive[bool] = reactive(True, init=False)
    """True while the view sticks to the newest event."""
    new_count: reactive[int] = reactive(0, init=False)
    """Matching events that arrived while paused."""

    class _ViewMessage(Message):
        """Something happened in ``log_view`` itself (never posted itself)."""

        def __init__(self, log_view: LogView) -> None:
            super().__init__()
            self.log_view = log_view

        @property
        def control(self) -> LogView:
            return self.log_view

    class _EventMessage(_ViewMessage):
        """Something happened to ``event`` in ``log_view`` (never posted itself)."""

        def __init__(self, log_view: LogView, event: LogEvent) -> None:
            super().__init__(log_view)
            self.event = event

    class Selected(_EventMessage):
        """The cursor moved to ``event`` (by the user or a filter change, not by following)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.Selected) and message.log_view is self.log_view

    class Opened(_EventMessage):
        """Enter (or a double click) on ``event``: show its details."""

    class TopReached(_ViewMessage):
        """Up (or page up, home) with the cursor already on the oldest event shown: the
        screen may load older events from the agent."""

    class BottomReached(_ViewMessage):
        """Down (or page down) with the cursor already on the newest event shown: a screen
        that holds a stretch of history may load newer events."""

    class BookmarksChanged(_ViewMessage):
        """A bookmark was set or removed (for the status bar's count)."""

    class FollowChanged(_ViewMessage):
        """Follow/pause or the paused "N new" count changed (for the status bar)."""

        def __init__(self, log_view: LogView, following: bool, new_count: int) -> None:
            super().__init__(log_view)
            self.following = following
            self.new_count = new_count

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.FollowChanged) and message.log_view is self.log_view

    def __init__(
        self,
        buffer: EventBuffer,
        *,
        time_format: TimeFormatter = local_time,
        host_width: int = 0,
        clock: Callable[[], float] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.buffer = buffer
        self._time_format = time_format
        self.host_width = min(host_width, MAX_HOST_WIDTH)
        """Cells of the host column (a console over several agents); 0: no column."""
        self._clock = clock
        """With a clock, rows from another (local) day than today's show their date."""
        self._days: tuple[datetime.date | None, bool] = (None, False)
        """(today, whether the view holds a row of another day): the rows cached were made
        for these."""
        self._line_cache: LRUCache[int, Strip] = LRUCache(1024)
        self._highlight: re.Pattern[str] | None = None
        self._styles: tuple[_RowStyles, _RowStyles] | None = None
        self._cursor_position: int | None = None
        # -1: the first refresh treats whatever the buffer already holds as new (re-anchors).
        self._seen_generation = -1
        self._seen_matched_evicted = 0
        self._seen_count = 0
        self._scrolling = False

    # ------------------------------------------------------------------ public

    @property
    def cursor_index(self) -> int | None:
        """Index of the cursor among the buffer's matching events (None when empty)."""
        if self._cursor_position is None or not len(self.buffer):
            return None
        index = self.buffer.index_of_position(self._cursor_position)
        return self.buffer.nearest_index(self._cursor_position) if index is None else index

    @property
    def cursor_event(self) -> LogEvent | None:
        """The selected event (what ``t``, copy and Enter act on)."""
        index = self.cursor_index
        return None if index is None else self.buffer[index]

    def refresh_from_buffer(self) -> None:
        """Catch up with the buffer after appends, evictions or a filter change."""
        buffer = self.buffer
        count = len(buffer)
        if buffer.generation != self._seen_generation:
            self._seen_generation = buffer.generation
            self._seen_matched_evicted = buffer.matched_evicted
            self._seen_count = count
            self._set_row_count(count)
            self._reanchor()
            self.refresh()
            return
        shifted = buffer.matched_evicted - self._seen_matched_evicted
        arrived = count - (self._seen_count - shifted)
        self._seen_matched_evicted = buffer.matched_evicted
        self._seen_count = count
        if not shifted and not arrived:
            return
        self._set_row_count(count)
        if self.following:
            self._follow_newest()
        else:
            if arrived:
                self.new_count += arrived
            if shifted:
                # Rows above the view were evicted: scroll up by as much so that the same
                # events stay under the reader's eyes.
                self._scroll_quietly(max(0, self.scroll_offset.y - shifted))
                index = self.cursor_index
                if index is not None and self.buffer.position(index) != self._cursor_position:
                    self._set_cursor(index)  # its event was evicted: the next one is selected
        self.refresh()

    def set_highlight(self, pattern: re.Pattern[str] | None) -> None:
        """Highlight what ``pattern`` matches in the rows shown (only they are redrawn)."""
        if pattern != self._highlight:
            self._highlight = pattern
            self._line_cache.clear()
            self.refresh()

    def pause(self) -> None:
        if self.following:
            self.following = False
            self.new_count = 0

    def show_time(self, ts: float) -> None:
        """Pause with the cursor on the first event at or after ``ts`` (the newest if none
        is), in the middle of the view so the events just before it show too."""
        count = len(self.buffer)
        if not count:
            return
        index = min(self.buffer.index_at_time(ts), count - 1)
        self.pause()
        self._scroll_quietly(max(0, index - self._page_height // 2))
        self._set_cursor(index)

    def select_index(self, index: int) -> None:
        """Pause with the cursor on the ``index``-th shown event (clamped), kept in view."""
        count = len(self.buffer)
        if count:
            self.pause()
            self._set_cursor(max(0, min(count - 1, index)), announce=False)

    def follow(self) -> None:
        self.following = True
        self.new_count = 0
        self._follow_newest()
        self.refresh()

    # ------------------------------------------------------------------ actions

    def action_cursor_up(self) -> None:
        self._move_cursor(-1)

    def action_cursor_down(self) -> None:
        self._move_cursor(1)

    def action_page_up(self) -> None:
        self._move_cursor(-max(1, self._page_height - 1))

    def action_page_down(self) -> None:
        self._move_cursor(max(1, self._page_height - 1))

    def action_first(self) -> None:
        self._move_cursor(-len(self.buffer))

    def action_follow(self) -> None:
        self.follow()

    def action_toggle_follow(self) -> None:
        if self.following:
            self.pause()
        else:
            self.follow()

    def action_next_match(self, step: int) -> None:
        """``n``/``N``: the next/previous event the find query matches; without one, the
        next/previous event the filter's query matches (every row then)."""
        index = self.cursor_index
        if index is None:
            return
        if self.buffer.find is not None:
            target = self.buffer.next_found(index, step)
            if target is None:
                self.notify("No event matches the find query", markup=False)
                return
        elif self.buffer.filter.query:
            target = (index + step) % len(self.buffer)
        else:
            self.notify("Nothing to look for: f finds, / filters", markup=False)
            return
        self.show_index(target)

    def action_toggle_bookmark(self) -> None:
        index = self.cursor_index
        if index is None:
            return
        self.buffer.toggle_bookmark(index)
        self._line_cache.discard(self.buffer.position(index))
        self.refresh()
        self.post_message(self.BookmarksChanged(self))

    def action_next_bookmark(self, step: int) -> None:
        index = self.cursor_index
        if index is None:
            return
        target = self.buffer.next_bookmark(index, step)
        if target is None:
            self.notify("No bookmark among the events shown (b sets one)", markup=False)
            return
        self.show_index(target)

    def show_index(self, index: int) -> None:
        """Pause with the cursor on the ``index``-th event, in the middle of the view if it
        was out of sight."""
        self.pause()
        top, height = self.scroll_offset.y, self._page_height
        if not top <= index < top + height:
            self._scroll_quietly(max(0, index - height // 2))
        self._set_cursor(index)

    def action_open(self) -> None:
        event = self.cursor_event
        if event is not None:
            self.post_message(self.Opened(self, event))

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        # The width left of the scrollbar: rows cut at the widget's width ran on under it.
        width = self.scrollable_content_region.width
        buffer = self.buffer
        styles, cursor = self._row_styles()
        if row >= len(buffer):
            return Strip.blank(width, styles.base)
        self._check_days()
        position = buffer.position(row)
        if position == self._cursor_position:
            return _fit(self._render_row(buffer[row], position, cursor), width, cursor.base)
        strip = self._line_cache.get(position)
        if strip is None:
            strip = self._render_row(buffer[row], position, styles)
            self._line_cache[position] = strip
        return _fit(strip, width, styles.base)

    def _render_row(self, event: LogEvent, position: int, styles: _RowStyles) -> Strip:
        """One event as segments of cleaned text (no Text.render: 5x cheaper per row)."""
        gutter = ((BOOKMARK_MARK, styles.bookmark) if self.buffer.is_bookmarked(position)
                  else (" ", styles.base))
        if event.source == MARKER_SOURCE:
            parts = [gutter, (self._time_cell(event.ts), styles.time),
                     (f" ── {clean(event.message, max_len=ROW_TEXT_LIMIT)} ──", styles.marker)]
            return Strip([Segment(text, style) for text, style in parts],
                         sum(cell_len(text) for text, _ in parts))
        level_style = styles.levels.get(event.level, styles.base)
        parts = [gutter, (self._time_cell(event.ts), styles.time)]
        if self.host_width:
            parts.append((" " + host_cell(event.host, self.host_width), styles.time))
        parts += [
            (f" {event.level:<5} ", level_style),
            (trace_cell(event.trace_id or event.request_id), styles.trace_id),
            (" ", styles.base),
        ]
        if event.is_access:
            status = event.status or 0
            status_style = styles.levels["ERROR"] if status >= 500 else styles.levels["WARN"] if status >= 400 else styles.base
            parts += [
                (clean(event.method, max_len=16) + " " + clean(event.path or event.route, max_len=ROW_TEXT_LIMIT), styles.base),
                (f" {status}", status_style),
                (f" {format_ms(event.duration_ms or 0.0, compact=True)}  ", styles.base),
            ]
        message_style = level_style if event.level == "ERROR" else styles.base
        parts.append((clean(event.message, max_len=ROW_TEXT_LIMIT), message_style))
        if self._highlight is not None:
            parts = _highlighted(parts, self._highlight, styles.match)
        segments = [Segment(text, style) for text, style in parts]
        return Strip(segments, sum(cell_len(text) for text, _ in parts))

    def _check_days(self) -> None:
        """Today, and whether the oldest row shown is of another day (rows come oldest
        first, so then the view holds one): when either changes, the cached rows go."""
        if self._clock is None or not len(self.buffer):
            return
        today = local_day(self._clock())
        days = (today, local_day(self.buffer[0].ts) != today)
        if days != self._days:
            self._days = days
            self._line_cache.clear()

    def _time_cell(self, ts: float) -> str:
        """The row's time; its date first when it is not today's, as lnav shows it (and
        blanks for today's rows then, so the columns stay in line)."""
        time = self._time_format(ts)
        today, dated = self._days
        if today is None:
            return time
        day = local_day(ts)
        if day != today:
            return f"{day:%m-%d} {time}" if day is not None else f"----- {time}"
        return " " * DAY_WIDTH + time if dated else time

    def _row_styles(self) -> tuple[_RowStyles, _RowStyles]:
        """Full Rich styles per row part (plain and cursor row), rebuilt only when styles change."""
        if self._styles is None:
            base = self.rich_style
            component = self.get_component_rich_style
            cursor = base + component("log-view--cursor")
            self._styles = (_RowStyles.build(base, component), _RowStyles.uniform(cursor))
        return self._styles

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._line_cache.clear()

    # ------------------------------------------------------------------ internals

    @property
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def _move_cursor(self, delta: int) -> None:
        count = len(self.buffer)
        current = self.cursor_index
        if current is None:
            return
        target = max(0, min(count - 1, current + delta))
        if delta < 0:
            self.pause()
            if current == 0:
                self.post_message(self.TopReached(self))
        elif current == count - 1:
            self.post_message(self.BottomReached(self))
        self._set_cursor(target)

    def _set_cursor(self, index: int, *, announce: bool = True) -> None:
        position = self.buffer.position(index)
        changed = position != self._cursor_position
        self._cursor_position = position
        self._scroll_to_index(index)
        self.refresh()
        if changed and announce:
            self.post_message(self.Selected(self, self.buffer[index]))

    def _scroll_to_index(self, index: int) -> None:
        top = self.scroll_offset.y
        height = self._page_height
        if index < top:
            self._scroll_quietly(index)
        elif index >= top + height:
            self._scroll_quietly(index - height + 1)

    def _set_row_count(self, count: int) -> None:
        """The scrollable height, without the relayout of the whole screen that assigning
        ``virtual_size`` asks for (it changes at every flush): the vertical scrollbar is always
        shown (overflow-y: scroll) and the view's region never depends on its row count, so
        updating the scrollbar and the scroll bounds is all a layout would do here (with
        Textual's public API: the scrollbar's reactives and the scroll offset's validator)."""
        if count == self.virtual_size.height:
            return
        self.set_reactive(LogView.virtual_size, Size(0, count))
        scrollbar = self.vertical_scrollbar
        scrollbar.window_virtual_size = count
        scrollbar.window_size = self.container_size.height - self.scrollbar_size_horizontal
        self.scroll_y = self.scroll_y  # validated again: within the new bounds
        self.refresh()

    def _follow_newest(self) -> None:
        count = len(self.buffer)
        self._cursor_position = self.buffer.position(count - 1) if count else None
        self._scroll_quietly(self.max_scroll_y)

    def _reanchor(self) -> None:
        """After a filter change: keep the selected event if it still matches, else the next."""
        index = None if self.following else self.cursor_index
        if index is None:  # following, or nothing left to hold on to
            self.following = True
            self.new_count = 0
            self._follow_newest()
            return
        self._scroll_quietly(max(0, index - self._page_height // 2))
        self._set_cursor(index)

    def _scroll_quietly(self, y: int) -> None:
        """Scroll without it counting as the user scrolling away (which pauses)."""
        self._scrolling = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True)
        finally:
            self._scrolling = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # The user scrolled up (wheel, scrollbar): stop following so the view holds still.
        if self.following and not self._scrolling and new_value < old_value and new_value < self.max_scroll_y:
            self.pause()

    def watch_following(self, following: bool) -> None:
        self.post_message(self.FollowChanged(self, following, self.new_count))

    def watch_new_count(self, new_count: int) -> None:
        self.post_message(self.FollowChanged(self, self.following, new_count))

    def on_mount(self) -> None:
        self.refresh_from_buffer()

    def on_resize(self, event: events.Resize) -> None:
        if self.following:
            self._follow_newest()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = self.scroll_offset.y + offset.y
        if row < len(self.buffer):
            self.pause()
            self._set_cursor(row)
            if event.chain == 2:
                self.action_open()
