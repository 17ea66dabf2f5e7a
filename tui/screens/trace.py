"""Every event of one trace ID in time order, with offsets from the first and gaps between."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from obsview.common.protocol import LEVELS, LogEvent
from obsview.tui.render import safe_text
from obsview.tui.widgets.units import format_ms


def trace_rows(events: Sequence[LogEvent]) -> list[tuple[float, float, LogEvent]]:
    """(offset from the first event, time since the previous one, event), in time order."""
    ordered = sorted(events, key=lambda event: (event.ts, event.seq))
    if not ordered:
        return []
    start = ordered[0].ts
    rows = []
    previous = start
    for event in ordered:
        rows.append(((event.ts - start) * 1000, (event.ts - previous) * 1000, event))
        previous = event.ts
    return rows


class TraceTable(DataTable[Text]):
    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        f"trace-table--{level.lower()}" for level in LEVELS
    }
    DEFAULT_CSS = """
    TraceTable { height: 1fr; }
    TraceTable > .trace-table--error { color: $error; text-style: bold; }
    TraceTable > .trace-table--warn { color: $warning; }
    TraceTable > .trace-table--info { color: $foreground; }
    TraceTable > .trace-table--debug { color: $text-muted; }
    TraceTable > .trace-table--trace { color: $text-muted; }
    """


class TraceScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="trace.close"),
        # priority: the table would otherwise take Enter for its own (hidden) select action.
        Binding("enter", "open_event", "Event detail", id="trace.detail", priority=True),
    ]

    DEFAULT_CSS = """
    TraceScreen #trace-summary { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, trace_id: str, events: Sequence[LogEvent]) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.rows = trace_rows(events)

    def compose(self) -> ComposeResult:
        summary = Text("trace ")
        summary.append_text(safe_text(self.trace_id, style="bold", max_len=80))
        if self.rows:
            span = self.rows[-1][0]
            summary.append(f" · {len(self.rows)} events over {format_ms(span)}")
        else:
            summary.append(" · no event with this trace ID is in the buffer")
        yield Static(summary, id="trace-summary")
        table = TraceTable(cursor_type="row", id="trace-table")
        table.add_column(Text("Offset", justify="right"), key="offset")
        table.add_column(Text("+Δ", justify="right"), key="delta")
        table.add_column("Level", key="level")
        table.add_column("Service", key="service")
        table.add_column("Request", key="request")
        table.add_column(Text("Took", justify="right"), key="took")
        table.add_column("Message", key="message")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(TraceTable)
        for offset, delta, event in self.rows:
            level_style = table.get_component_rich_style(
                f"trace-table--{event.level.lower()}", partial=True
            )
            request = f"{event.method} {event.route or event.path}".strip()
            if event.status is not None:
                request += f" {event.status}"
            table.add_row(
                Text(f"+{format_ms(offset)}", justify="right"),
                Text(f"+{format_ms(delta)}", justify="right"),
                Text(event.level, style=level_style),
                safe_text(event.service, max_len=24),
                safe_text(request, max_len=60),
                Text(format_ms(event.duration_ms) if event.duration_ms is not None else "",
                     justify="right"),
                safe_text(event.message, max_len=500),
            )
        table.focus()

    def action_open_event(self) -> None:
        from obsview.tui.screens.detail import EventDetailScreen

        table = self.query_one(TraceTable)
        if self.rows and 0 <= table.cursor_row < len(self.rows):
            self.app.push_screen(EventDetailScreen(self.rows[table.cursor_row][2]))
