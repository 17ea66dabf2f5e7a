"""A list of traces (an alert's window, or a route's slowest requests): failed ones first,
then the slowest; Enter opens one as a waterfall."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from obsview.common.traces import TraceSummary
from obsview.tui.render import safe_text
from obsview.tui.widgets.key_footer import KeyFooter
from obsview.tui.widgets.units import counted, format_ms


class TraceList(DataTable[Text]):
    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {"trace-list--error"}
    DEFAULT_CSS = """
    TraceList { height: 1fr; }
    TraceList > .trace-list--error { color: $error; text-style: bold; }
    """


class TracesScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="traces.close"),
        # priority: the table would otherwise take Enter for its own (hidden) select action.
        Binding("enter", "open_trace", "Waterfall", id="traces.open", priority=True),
    ]

    DEFAULT_CSS = """
    TracesScreen #traces-title { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(
        self, title: str, summaries: Sequence[TraceSummary], open_trace: Callable[[str], None],
        time_format: Callable[[float], str],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.summaries = list(summaries)
        self._open_trace = open_trace
        self._time_format = time_format

    def compose(self) -> ComposeResult:
        failed = sum(1 for s in self.summaries if s.error)
        title = safe_text(self.title_text, style="bold", max_len=160)
        if self.summaries:
            title.append(f" · {counted(len(self.summaries), 'trace')}, {failed} failed · slowest first")
        else:
            title.append(" · no trace in the console's buffers for this window")
        yield Static(title, id="traces-title")
        table = TraceList(cursor_type="row", id="traces")
        table.add_column("Start", key="start")
        table.add_column(Text("Took", justify="right"), key="took")
        table.add_column("Status", key="status")
        table.add_column(Text("Spans", justify="right"), key="spans")
        table.add_column("Service", key="service")
        table.add_column("Request", key="request")
        table.add_column("Trace", key="trace")
        yield table
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(TraceList)
        error_style = table.get_component_rich_style("trace-list--error", partial=True)
        for summary in self.summaries:
            status = "" if summary.status is None else str(summary.status)
            if summary.error:
                status = (status + " failed").strip()
            table.add_row(
                Text(self._time_format(summary.start)),
                Text(format_ms(summary.duration_ms), justify="right"),
                Text(status, style=error_style if summary.error else ""),
                Text(str(summary.spans) if summary.spans else "logs", justify="right"),
                safe_text(summary.service, max_len=24),
                safe_text(summary.name, max_len=80),
                safe_text(summary.trace_id, max_len=40),
            )
        table.focus()

    def action_open_trace(self) -> None:
        table = self.query_one(TraceList)
        if self.summaries and 0 <= table.cursor_row < len(self.summaries):
            self._open_trace(self.summaries[table.cursor_row].trace_id)
