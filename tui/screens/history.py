"""Events from the agent's whole history that match a filter, older pages loaded on demand.

Opened two ways from the dashboard: ``H`` searches all history with the current filter (from
the newest event back), and moving up past the oldest event the console holds continues the
log below it. Either way the agent answers a :class:`Query` in pages; reaching the top of
what is shown asks for the next older page, so scrolling up goes on into the journal until
retention's horizon. Home (``g``) jumps to the start of the history: the oldest page, with
newer pages loaded on reaching the bottom; End (``G``) comes back to the newest. The header
says what was matched out of how much was scanned, and Esc cancels a running query.
"""

from __future__ import annotations

import datetime
import itertools
from bisect import bisect_left
from collections.abc import Callable
from typing import ClassVar, Final

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from obsview.common.filters import ALL_LEVELS, Filter
from obsview.common.protocol import CancelQuery, LogEvent, Message, Query, QueryPage
from obsview.tui.model import EventBuffer
from obsview.tui.render import safe_text
from obsview.tui.screens.detail import EventDetailScreen
from obsview.tui.widgets.key_footer import KeyFooter
from obsview.tui.widgets.log_view import LogView, TimeFormatter
from obsview.tui.widgets.units import counted, format_progress

PAGE: Final = 500
"""Matches asked for at a time: one screenful of scrolling is far less."""
MAX_SHOWN: Final = 50_000
"""Older pages stop being asked for beyond this many events on screen."""

QuerySender = Callable[[Message], None]
_query_ids = itertools.count(1)


class HistoryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="history.close"),
        Binding("enter", "open_detail", "Details", id="history.detail", priority=True),
        # Over the log's own Home/End (the first and last event shown): the ends of history.
        Binding("home,g", "oldest", "Oldest", id="history.oldest", priority=True),
        Binding("end,G", "newest", "Newest", id="history.newest", priority=True),
    ]

    DEFAULT_CSS = """
    HistoryScreen #history-summary { height: 1; padding: 0 1; background: $panel; }
    HistoryScreen LogView { border: round $accent; border-title-color: $accent; }
    """

    def __init__(self, wanted: Filter, *, before_seq: int | None, send: QuerySender,
                 time_format: TimeFormatter, title: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.send = send
        self.title_text = title
        self.buffer = EventBuffer(MAX_SHOWN + PAGE)
        self._events: list[LogEvent] = []
        self._time_format = _dated(time_format)
        self._until_seq = before_seq
        """The newest end: events from this seq on are the dashboard's, not history's."""
        self._older_seq = before_seq
        self._more_older = True
        self._newer_seq = 0
        self._more_newer = False
        """True after Home, until a page reaches the newest end."""
        self._query_id: int | None = None
        self._query_forward = False
        self.matched = 0
        self.scanned = 0
        """Events the agent examined for what is shown, over every page asked for."""
        self.to_scan = 0
        """What the agent held in the whole range when the screen asked (progress: scanned/to_scan)."""
        self._scanned_before = 0
        """Events the pages already done examined (each page is its own query)."""
        self.retention_dropped = 0
        self.error = ""

    def compose(self) -> ComposeResult:
        yield Static(id="history-summary")
        log = LogView(self.buffer, time_format=self._time_format, id="history-log")
        log.border_title = self.title_text
        yield log
        yield KeyFooter()

    def on_mount(self) -> None:
        self._show_summary()
        self.ask_older()
        self.query_one(LogView).focus()

    # ------------------------------------------------------------------ querying

    @property
    def waiting(self) -> bool:
        return self._query_id is not None

    def ask_older(self) -> None:
        """Ask the agent for the next older page (once at a time, while there is more)."""
        if self.waiting or not self._more_older or len(self._events) >= MAX_SHOWN:
            return
        self._ask(before_seq=self._older_seq)

    def ask_newer(self) -> None:
        """After Home: ask for the next newer page (once at a time, while there is more)."""
        if self.waiting or not self._more_newer or len(self._events) >= MAX_SHOWN:
            return
        self._ask(after_seq=self._newer_seq)

    def _ask(self, *, before_seq: int | None = None, after_seq: int | None = None) -> None:
        self._query_id = next(_query_ids)
        self._query_forward = after_seq is not None
        levels = () if self.wanted.levels >= ALL_LEVELS else tuple(sorted(self.wanted.levels))
        self.send(Query(self._query_id, self.wanted.query, levels, before_seq=before_seq,
                        after_seq=after_seq, limit=PAGE, history=True))
        self._show_summary()

    def _restart(self, *, from_oldest: bool) -> None:
        """Drop what is shown and start again at one end of the history."""
        self._cancel()
        self._events.clear()
        self.buffer.clear()
        self.matched = self.scanned = self.to_scan = self._scanned_before = 0
        self.error = ""
        self._older_seq, self._more_older = self._until_seq, not from_oldest
        self._newer_seq, self._more_newer = 0, from_oldest
        log = self.query_one(LogView)
        log.refresh_from_buffer()
        if from_oldest:
            log.pause()
            self.ask_newer()
        else:
            log.follow()
            self.ask_older()

    def _cancel(self) -> None:
        if self._query_id is not None:
            self.send(CancelQuery(self._query_id))
            self._query_id = None

    def receive(self, page: QueryPage) -> None:
        """A page of the running query (pages of other queries are ignored)."""
        if page.id != self._query_id:
            return
        # Each page is a query of its own, over what is left of the range: counted with the
        # pages before it, "scanned" goes up to the whole range's size.
        self.scanned = self._scanned_before + page.scanned
        self.to_scan = self._scanned_before + page.to_scan
        self.error = page.error
        self.retention_dropped = page.retention_dropped
        forward = self._query_forward
        if page.events:
            self._add(page.events, newer=forward)
        if page.done:
            self._query_id = None
            self._scanned_before += page.scanned
            if forward:
                self._newer_seq = page.next_seq
                self._more_newer = (not page.error and page.scanned < page.to_scan
                                    and (self._until_seq is None or page.next_seq < self._until_seq - 1))
            else:
                self._older_seq = page.next_seq
                self._more_older = not page.error and page.next_seq > max(page.oldest_seq, 1)
        self._show_summary()

    def _add(self, page: tuple[LogEvent, ...], *, newer: bool) -> None:
        """Put a page in place (older pages go above, newer ones below) and keep the cursor
        on its event; the first page after Home puts it on the oldest."""
        log = self.query_one(LogView)
        current = log.cursor_event
        if newer:
            self._events.extend(event for event in page
                                if (not self._events or event.seq > self._events[-1].seq)
                                and (self._until_seq is None or event.seq < self._until_seq))
        else:
            self._events[:0] = [event for event in page if not self._events or event.seq < self._events[0].seq]
        self.matched = len(self._events)
        self.buffer.clear()
        self.buffer.append(self._events)
        log.refresh_from_buffer()
        if current is not None:
            log.select_index(self._index_of(current.seq))
        elif newer:
            log.select_index(0)

    def _index_of(self, seq: int) -> int:
        return min(bisect_left(self._events, seq, key=_seq_of), len(self._events) - 1)

    def _show_summary(self) -> None:
        summary = Text()
        summary.append_text(safe_text(self.wanted.describe(), style="bold", max_len=80))
        summary.append(f" · {self.matched:,} shown")
        if self.to_scan:
            summary.append(f" · scanned {self.scanned:,} of {self.to_scan:,}"
                           f" ({format_progress(self.scanned, self.to_scan)})")
        if self.error:
            summary.append_text(safe_text(f" · {self.error}", style="bold", max_len=200))
        elif self.waiting:
            summary.append(" · loading… (Esc cancels)")
        else:
            if self._more_older:
                summary.append(" · up at the top loads older")
            else:
                summary.append(" · the start of the agent's history")
                if self.retention_dropped:
                    summary.append(f" ({counted(self.retention_dropped, 'older event')} dropped by retention)")
            if self._more_newer:
                summary.append(" · down loads newer")
        self.query_one("#history-summary", Static).update(summary)

    # ------------------------------------------------------------------ keys and messages

    def on_log_view_top_reached(self, _message: LogView.TopReached) -> None:
        self.ask_older()

    def on_log_view_bottom_reached(self, _message: LogView.BottomReached) -> None:
        self.ask_newer()

    def action_oldest(self) -> None:
        """Home, g: the start of the history (the oldest page)."""
        self._restart(from_oldest=True)

    def action_newest(self) -> None:
        """End, G: back to the newest page, where the screen began."""
        self._restart(from_oldest=False)

    def on_log_view_opened(self, message: LogView.Opened) -> None:
        self.app.push_screen(EventDetailScreen(message.event))

    def action_open_detail(self) -> None:
        event = self.query_one(LogView).cursor_event
        if event is not None:
            self.app.push_screen(EventDetailScreen(event))

    def action_close(self) -> None:
        self._cancel()
        self.dismiss()


def _seq_of(event: LogEvent) -> int:
    return event.seq


def _dated(time_format: TimeFormatter) -> TimeFormatter:
    """Rows of history span days (yesterday's 10:00 is not today's): the local date first."""

    def dated(ts: float) -> str:
        try:
            day = datetime.date.fromtimestamp(ts).isoformat()
        except (OverflowError, OSError, ValueError):  # a timestamp no clock can show
            day = "----------"
        return f"{day} {time_format(ts)}"

    return dated
