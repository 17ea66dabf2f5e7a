"""The filter bar opened with ``/``: a query in the filter language, applied on Enter."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from obsview.common.filters import Filter, FilterError
from obsview.tui.render import safe_text

PLACEHOLDER = "text  /regex/  trace:ID  level:warn+  route:/api/posts  status:5xx"


class FilterBar(Horizontal):
    """Hidden until opened. A query that does not parse keeps the bar open with the reason,
    and the previous filter stays in force."""

    BINDINGS = [Binding("escape", "close", "Close filter", id="filter.close")]

    DEFAULT_CSS = """
    FilterBar { height: 0; background: $panel; }
    FilterBar.-open { height: auto; }
    FilterBar > .prompt { width: auto; padding: 0 0 0 1; color: $accent; text-style: bold; }
    FilterBar > Input { width: 1fr; height: 1; border: none; padding: 0 1; }
    FilterBar > Input:focus { border: none; }
    FilterBar > #filter-error { width: auto; max-width: 60%; padding: 0 1; color: $error; }
    """

    class Applied(Message):
        """A query compiled (an empty one clears the query; the level toggles are kept)."""

        def __init__(self, filter: Filter) -> None:
            super().__init__()
            self.filter = filter

    class Closed(Message):
        """The bar closed without applying anything."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._current = Filter()

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

    def open(self, current: Filter) -> None:
        """Show the bar holding ``current``'s query, the cursor at its end."""
        self._current = current
        query = current.query
        field = self.query_one(Input)
        field.value = query
        field.cursor_position = len(query)
        self._show_error("")
        self.add_class("-open")
        field.can_focus = True
        # Focus now, not on the next loop turn (Widget.focus): keys typed right after "/"
        # (a paste, tmux send-keys) must land in the bar, not run as dashboard keys.
        self.screen.set_focus(field)

    async def action_close(self) -> None:
        if not self.is_open:
            # Esc typed right after Enter reaches us before focus moved on: it meant "clear".
            await self.run_action("screen.clear_filter")
            return
        self._collapse()
        self.post_message(self.Closed())

    def _collapse(self) -> None:
        self.remove_class("-open")
        self._show_error("")
        field = self.query_one(Input)
        field.can_focus = False
        if self.screen.focused is field:
            # Let go of the keyboard at once: keys typed right after Enter/Esc are commands
            # again (the screen puts focus back where it belongs when it gets our message).
            self.screen.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            parsed = self._current.with_query(event.value)
        except FilterError as exc:
            self._show_error(str(exc))
            return
        self._collapse()
        self.post_message(self.Applied(parsed))

    def _show_error(self, reason: str) -> None:
        self.query_one("#filter-error", Static).update(safe_text(reason, max_len=200))
