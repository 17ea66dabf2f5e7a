"""The filter bar opened with ``/``: a query in the filter language, applied on Enter."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from obsview.tui.filters import Filter, FilterError
from obsview.tui.render import safe_text

PLACEHOLDER = "text  /regex/  trace:ID  level:warn+  route:/api/posts  status:5xx"


class FilterBar(Horizontal):
    """Hidden until opened. A query that does not parse keeps the bar open with the reason,
    and the previous filter stays in force."""

    BINDINGS = [Binding("escape", "close", "Close filter", id="filter.close")]

    DEFAULT_CSS = """
    FilterBar { height: auto; display: none; background: $panel; }
    FilterBar.-open { display: block; }
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
        yield Input(placeholder=PLACEHOLDER, id="filter-input", select_on_focus=False)
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
        field.focus()

    def action_close(self) -> None:
        self.remove_class("-open")
        self._show_error("")
        self.post_message(self.Closed())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            parsed = self._current.with_query(event.value)
        except FilterError as exc:
            self._show_error(str(exc))
            return
        self.remove_class("-open")
        self._show_error("")
        self.post_message(self.Applied(parsed))

    def _show_error(self, reason: str) -> None:
        self.query_one("#filter-error", Static).update(safe_text(reason, max_len=200))
