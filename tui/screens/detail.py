"""The detail of one log event, over the dashboard: its time, the fields it has, the raw line.

``c`` copies the raw line (as the log had it), ``C`` the whole event as JSON.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from obsview.common.protocol import LogEvent
from obsview.tui.render import safe_text
from obsview.tui.widgets.event_detail import EventDetail, event_json, raw_for_clipboard
from obsview.tui.widgets.key_footer import KeyFooter


class EventDetailScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,enter", "dismiss", "Close", id="detail.close"),
        Binding("c", "copy_raw", "Copy raw line", id="detail.copy_raw"),
        Binding("C", "copy_json", "Copy JSON", id="detail.copy_json"),
    ]

    DEFAULT_CSS = """
    EventDetailScreen { align: center middle; }
    EventDetailScreen > Vertical {
        width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1;
    }
    EventDetailScreen #detail-title { color: $text-muted; height: 1; }
    """

    def __init__(self, event: LogEvent) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        with Vertical() as frame:
            frame.border_title = f"Event #{self.event.seq} · {self.event.level}"
            yield Static(safe_text(self.event.message, max_len=200), id="detail-title")
            yield EventDetail(self.event, id="detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(EventDetail).focus()

    def action_copy_raw(self) -> None:
        if not self.event.raw:
            self.notify("The agent kept no raw line for this event; C copies it as JSON",
                        severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(raw_for_clipboard(self.event.raw))
        self.notify("Raw line copied to the clipboard", markup=False)

    def action_copy_json(self) -> None:
        self.app.copy_to_clipboard(event_json(self.event))
        self.notify("Event JSON copied to the clipboard", markup=False)
