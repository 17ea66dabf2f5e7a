"""One trace as a waterfall: its spans as a tree with bars on the trace's time axis, and its
log lines at their times. A trace known from logs only shows its lines alone, in time order."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from obsview.common.protocol import LogEvent
from obsview.common.spans import Span
from obsview.tui.render import safe_text
from obsview.tui.waterfall import Waterfall
from obsview.tui.widgets.key_footer import KeyFooter
from obsview.tui.widgets.units import format_ms
from obsview.tui.widgets.waterfall_view import WaterfallView


def trace_summary(trace_id: str, waterfall: Waterfall) -> Text:
    """The header line: the ID, what the trace holds and how long it took."""
    summary = Text("trace ")
    summary.append_text(safe_text(trace_id, style="bold", max_len=80))
    if not waterfall.rows:
        summary.append(" · nothing with this trace ID is in the console's buffers")
        return summary
    parts = []
    if waterfall.spans:
        parts.append(f"{waterfall.spans} span{'s' * (waterfall.spans != 1)}")
    parts.append(f"{waterfall.logs} log line{'s' * (waterfall.logs != 1)}")
    parts.append(f"over {format_ms(waterfall.duration_ms)}")
    summary.append(" · " + " · ".join(parts))
    if waterfall.errors:
        summary.append(f" · {waterfall.errors} failed", style="bold")
    if waterfall.services:
        summary.append(" · ")
        summary.append_text(safe_text(", ".join(waterfall.services), max_len=120))
    return summary


class TraceScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "close", "Back", id="trace.close"),
        Binding("slash", "search", "Find", id="trace.search"),
        Binding("n", "search_next", "Next match", id="trace.next"),
    ]

    DEFAULT_CSS = """
    TraceScreen #trace-summary { height: 1; padding: 0 1; background: $panel; }
    TraceScreen WaterfallView { height: 1fr; }
    TraceScreen #trace-search { dock: bottom; display: none; }
    TraceScreen #trace-search.-open { display: block; }
    """

    def __init__(self, trace_id: str, spans: Sequence[Span], events: Sequence[LogEvent]) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.spans = spans
        self.events = events
        self.query_text = ""

    def compose(self) -> ComposeResult:
        view = WaterfallView(self.trace_id, self.spans, self.events, id="waterfall")
        yield Static(trace_summary(self.trace_id, view.waterfall), id="trace-summary")
        yield view
        yield Input(placeholder="find in this trace (Enter; n for the next match)",
                    id="trace-search")
        yield KeyFooter()

    @property
    def view(self) -> WaterfallView:
        return self.query_one(WaterfallView)

    def on_mount(self) -> None:
        self.view.focus()

    def action_close(self) -> None:
        search = self.query_one("#trace-search", Input)
        if search.has_class("-open"):
            self._close_search()
        else:
            self.app.pop_screen()

    def action_search(self) -> None:
        search = self.query_one("#trace-search", Input)
        search.add_class("-open")
        search.value = self.query_text
        search.focus()

    def action_search_next(self) -> None:
        if self.query_text and not self.view.search(self.query_text):
            self.notify("No row matches", severity="warning", markup=False)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.query_text = message.value
        self._close_search()
        self.action_search_next()

    def _close_search(self) -> None:
        self.query_one("#trace-search", Input).remove_class("-open")
        self.view.focus()

    def on_waterfall_view_opened(self, message: WaterfallView.Opened) -> None:
        from obsview.tui.screens.detail import EventDetailScreen
        from obsview.tui.screens.span_detail import SpanDetailScreen

        row = message.row
        if row.span is not None:
            self.app.push_screen(SpanDetailScreen(row.span, self.view.waterfall.start))
        elif row.event is not None:
            self.app.push_screen(EventDetailScreen(row.event))
