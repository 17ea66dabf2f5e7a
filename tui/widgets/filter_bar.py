"""The query bar: ``/`` filters the stream, ``f`` finds in it, both in the filter language.

The query is applied live as it is typed: :class:`FilterBar.Changed` is posted once the typing
pauses for :data:`DEBOUNCE_S` (the dashboard matches the buffer in steps, so a keystroke never
waits for 100k events). Enter keeps the query (:class:`FilterBar.Applied`) and puts it in the
history that Up and Down walk through; Esc takes back what the live preview showed
(:class:`FilterBar.Closed`). A query that does not parse shows why, and changes nothing.
"""

from __future__ import annotations

from typing import Final, Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from obsview.common.filters import Filter, FilterError
from obsview.tui.render import safe_text

PLACEHOLDER = "text  /regex/  trace:ID  level:warn+  route:/api/posts  status:5xx"
#: How long typing must pause before the query is applied.
DEBOUNCE_S: Final = 0.15
#: Queries remembered per mode (oldest forgotten first).
HISTORY_SIZE: Final = 50

Mode = Literal["filter", "find"]
_PROMPTS: Final[dict[Mode, str]] = {"filter": "/", "find": "find"}


class FilterBar(Horizontal):
    """Hidden until opened. The previous query stays in force while the one typed does not
    parse."""

    BINDINGS = [
        # One per mode (check_action keeps the open one): the footer says what Esc closes.
        Binding("escape", "close('filter')", "Close filter", id="filter.close"),
        Binding("escape", "close('find')", "Close find", id="find.close"),
        Binding("up", "history(-1)", "Earlier query", show=False, id="filter.history_back"),
        Binding("down", "history(1)", "Later query", show=False, id="filter.history_forward"),
    ]

    DEFAULT_CSS = """
    FilterBar { height: 0; background: $panel; }
    FilterBar.-open { height: auto; }
    FilterBar > .prompt { width: auto; padding: 0 0 0 1; color: $accent; text-style: bold; }
    FilterBar > Input { width: 1fr; height: 1; border: none; padding: 0 1; }
    FilterBar > Input:focus { border: none; }
    FilterBar > #filter-error { width: auto; max-width: 60%; padding: 0 1; color: $error; }
    """

    class _QueryMessage(Message):
        def __init__(self, filter: Filter, mode: Mode) -> None:
            super().__init__()
            self.filter = filter
            self.mode = mode

    class Applied(_QueryMessage):
        """Enter on a query that compiled (an empty one clears it; level toggles are kept)."""

    class Changed(_QueryMessage):
        """The typed query compiled after a pause in the typing: show it, live."""

    class Closed(Message):
        """Esc: the bar closed without keeping what was typed."""

        def __init__(self, mode: Mode) -> None:
            super().__init__()
            self.mode = mode

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._current = Filter()
        self.mode: Mode = "filter"
        self._history: dict[Mode, list[str]] = {"filter": [], "find": []}
        self._history_at = 0
        self._draft = ""
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("/", classes="prompt", markup=False)
        field = Input(placeholder=PLACEHOLDER, id="filter-input", select_on_focus=False)
        field.can_focus = False  # only while open: Tab must not land in a collapsed bar
        yield field
        yield Static("", id="filter-error", markup=False)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    @property
    def error(self) -> str:
        return str(self.query_one("#filter-error", Static).content)

    def history(self, mode: Mode) -> list[str]:
        """Queries applied in ``mode``, oldest first."""
        return list(self._history[mode])

    def open(self, current: Filter, mode: Mode = "filter") -> None:
        """Show the bar holding ``current``'s query, the cursor at its end."""
        self._current = current
        self.mode = mode
        self.query_one(".prompt", Static).update(_PROMPTS[mode])
        self.refresh_bindings()  # Esc's label: "Close filter" or "Close find"
        self._history_at = len(self._history[mode])
        self._set_value(current.query)
        self._show_error("")
        self.add_class("-open")
        field = self.query_one(Input)
        field.can_focus = True
        # Focus now, not on the next loop turn (Widget.focus): keys typed right after "/"
        # (a paste, tmux send-keys) must land in the bar, not run as dashboard keys.
        self.screen.set_focus(field)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close":
            return parameters == (self.mode,)
        return True

    async def action_close(self, _mode: Mode) -> None:
        if not self.is_open:
            # Esc typed right after Enter reaches us before focus moved on: it meant "clear".
            await self.run_action("screen.clear_filter")
            return
        self._collapse()
        self.post_message(self.Closed(self.mode))

    def action_history(self, step: int) -> None:
        """Up/Down: the earlier/later applied queries, then back to what was being typed."""
        entries = self._history[self.mode]
        if self._history_at == len(entries):
            self._draft = self.query_one(Input).value
        at = max(0, min(len(entries), self._history_at + step))
        if at == self._history_at:
            return
        self._history_at = at
        self._set_value(entries[at] if at < len(entries) else self._draft)

    def _set_value(self, query: str) -> None:
        field = self.query_one(Input)
        with field.prevent(Input.Changed):
            field.value = query
        field.cursor_position = len(query)

    def _collapse(self) -> None:
        self._stop_debounce()
        self.remove_class("-open")
        self._show_error("")
        field = self.query_one(Input)
        field.can_focus = False
        if self.screen.focused is field:
            # Let go of the keyboard at once: keys typed right after Enter/Esc are commands
            # again (the screen puts focus back where it belongs when it gets our message).
            self.screen.set_focus(None)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._stop_debounce()
        self._debounce = self.set_timer(DEBOUNCE_S, self._preview)

    def _preview(self) -> None:
        self._debounce = None
        parsed = self._parse(self.query_one(Input).value)
        if parsed is not None:
            self.post_message(self.Changed(parsed, self.mode))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        parsed = self._parse(event.value)
        if parsed is None:
            return
        self._remember(parsed.query)
        self._collapse()
        self.post_message(self.Applied(parsed, self.mode))

    def _parse(self, query: str) -> Filter | None:
        try:
            parsed = self._current.with_query(query)
        except FilterError as exc:
            self._show_error(str(exc))
            return None
        self._show_error("")
        return parsed

    def _remember(self, query: str) -> None:
        if not query:
            return
        entries = self._history[self.mode]
        if query in entries:
            entries.remove(query)
        entries.append(query)
        del entries[:-HISTORY_SIZE]

    def _stop_debounce(self) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None

    def _show_error(self, reason: str) -> None:
        self.query_one("#filter-error", Static).update(safe_text(reason, max_len=200))
