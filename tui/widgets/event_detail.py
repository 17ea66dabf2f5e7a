"""Every field of one log event as pretty JSON, then the raw line as received."""

from __future__ import annotations

import json

import msgspec
import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from obsview.common.protocol import LogEvent
from obsview.tui.render import safe_text

#: The detail view shows long fields whole, but a 200 KB line would only be noise on screen.
MAX_FIELD_CHARS = 20_000


def event_json(event: LogEvent) -> str:
    """The event as indented JSON (what ``c`` copies and the detail view shows)."""
    fields = msgspec.structs.asdict(event)
    try:
        return orjson.dumps(fields, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # Lone surrogates (undecodable bytes kept by a source) are not UTF-8: escape them so
        # the text can still be shown and copied.
        return json.dumps(fields, indent=2, ensure_ascii=True, default=str)


class EventDetail(VerticalScroll):
    """Scrollable detail of one event. Everything shown goes through ``safe_text``."""

    ALLOW_MAXIMIZE = True

    DEFAULT_CSS = """
    EventDetail { height: 1fr; }
    EventDetail > .heading { color: $accent; text-style: bold; margin-top: 1; }
    EventDetail > #detail-raw { color: $text-muted; }
    """

    def __init__(self, event: LogEvent, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.event = event

    def compose(self) -> ComposeResult:
        yield Static("Fields", classes="heading", markup=False)
        yield Static(
            safe_text(event_json(self.event), multiline=True, max_len=MAX_FIELD_CHARS),
            id="detail-json",
        )
        yield Static("Raw line", classes="heading", markup=False)
        raw = self.event.raw or "(the agent kept no raw line for this event)"
        yield Static(safe_text(raw, multiline=True, max_len=MAX_FIELD_CHARS), id="detail-raw")

    @property
    def shown_text(self) -> Text:
        """What the JSON part displays (for tests)."""
        rendered = self.query_one("#detail-json", Static).content
        assert isinstance(rendered, Text)
        return rendered
