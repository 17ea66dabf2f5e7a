"""One log event for reading: its time (local and UTC), the fields it has, then the raw line.

Two forms of an event. The *display* form leaves out what says nothing (empty strings, no
status, an empty ``extra``, flags that are off), shows the time as ISO 8601 rather than Unix
seconds, and keeps the raw line out of the fields: it is shown once, below them. The *full*
form (:func:`event_json`, what ``C`` copies) is every field as the agent sent it.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import msgspec
import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from obsview.common.iso_time import iso_utc
from obsview.common.protocol import LogEvent
from obsview.tui.render import safe_text

#: The detail view shows long fields whole, but a 200 KB line would only be noise on screen.
MAX_FIELD_CHARS = 20_000
#: Fields the display form shows elsewhere: the time in its own line, the raw line below.
_SHOWN_APART = frozenset({"ts", "raw"})


def _dumps(fields: dict[str, Any]) -> str:
    try:
        return orjson.dumps(fields, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # Lone surrogates (undecodable bytes kept by a source) are not UTF-8: escape them so
        # the text can still be shown and copied.
        return json.dumps(fields, indent=2, ensure_ascii=True, default=str)


def event_json(event: LogEvent) -> str:
    """The full form: every field as indented JSON, ``ts`` in Unix seconds (what ``C`` copies)."""
    return _dumps(msgspec.structs.asdict(event))


def raw_for_clipboard(raw: str) -> str:
    """The raw line as ``c`` copies it: as received, but a lone surrogate (an undecodable
    byte a source kept) becomes U+FFFD, since the clipboard takes UTF-8 only."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= char <= "\udfff" else char for char in raw)
    return raw


def _is_empty(value: object) -> bool:
    return value is None or value is False or value == "" or value == {} or value == []


def display_fields(event: LogEvent) -> dict[str, Any]:
    """The fields the event has, in their order, without the time and the raw line; a zero
    (``duration_ms`` 0.0, ``status`` 0) is a value and stays."""
    return {name: value for name, value in msgspec.structs.asdict(event).items()
            if name not in _SHOWN_APART and not _is_empty(value)}


def local_iso(ts: float) -> str:
    """``2026-12-04T16:02:03.456+01:00``: the local time with its UTC offset."""
    return datetime.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="milliseconds")


def human_time(ts: float) -> str:
    """``local 2026-12-04T16:02:03.456+01:00 · UTC 2026-12-04T15:02:03.456Z``: each named
    (an offset alone left the reader to work out which of the two was the local time)."""
    try:
        return f"local {local_iso(ts)} · UTC {iso_utc(ts)}"
    except (OverflowError, OSError, ValueError):  # a timestamp no clock can show
        return f"{ts!r} (not a time a clock can show)"


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
        yield Static("Time", classes="heading", markup=False)
        yield Static(Text(human_time(self.event.ts)), id="detail-time")
        yield Static("Fields", classes="heading", markup=False)
        yield Static(
            safe_text(_dumps(display_fields(self.event)), multiline=True, max_len=MAX_FIELD_CHARS),
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
