"""One row per dependency probe: status, latency, when it last changed, and its last error;
then one row per log source of the agent: reading, waiting for its file, restarting."""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from obsview.common.protocol import SOURCE_STATE_LABELS, HealthReport
from obsview.tui.render import safe_text
from obsview.tui.widgets.columns import available_width, clipped, fit_widths, folded, natural_widths
from obsview.tui.widgets.units import format_age, format_ms

STATUS_SYMBOLS: Final = {"healthy": "●", "degraded": "▲", "unhealthy": "✖"}
#: A log source's state (:data:`SOURCE_STATES`) → its symbol and the look of the probe
#: status it resembles.
SOURCE_LOOKS: Final = {
    "reading": ("●", "healthy"),
    "waiting": ("▲", "degraded"),
    "restarting": ("✖", "unhealthy"),
    "stopped": ("■", "muted"),
}
_COLUMNS: Final = {
    "probe": Text("Probe/log"),
    "status": Text("Status"),
    "latency": Text("Latency", justify="right"),
    "changed": Text("Changed"),
    "error": Text("Detail"),  # a probe's last error; what a source waits for, or failed with
}
#: A narrow panel cuts the error (ellipsis), then the probe name; then leaves out the error,
#: the age, then the latency: the status of every probe stays in view.
_SHRINK: Final = (("error", 6), ("probe", 10))
_DROP: Final = ("error", "changed", "latency")
#: Lines a row may take to show a cut detail whole, when the panel has rows to spare.
_DETAIL_LINES: Final = 3


def source_label(name: str) -> str:
    """A log source as a row names it: a file by its base name (``file:app.log``; the whole
    path is in its detail while it waits), other sources as the agent names them."""
    if name.startswith("file:"):
        path = name[len("file:"):]
        base = path.rstrip("/").rsplit("/", 1)[-1]
        return f"file:{base or path}"
    return name


def health_title(report: HealthReport) -> str:
    """``Health · ● healthy``; with no probe configured ``Health · no probes``: the agent
    checks no dependency, so "healthy" would claim what nobody checked. (A log source
    restarting still makes it degraded: ``Health · ▲ degraded · no probes``.)"""
    status = report.status if report.status in STATUS_SYMBOLS else "unknown"  # off the wire
    if not report.probes and status == "healthy":
        return "Health · no probes"
    title = f"Health · {STATUS_SYMBOLS.get(status, '?')} {status}"
    return title if report.probes else f"{title} · no probes"


class HealthTable(DataTable[Text]):
    """The agent's health report; the overall status is in the border title."""

    ALLOW_MAXIMIZE = True

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "health-table--healthy",
        "health-table--degraded",
        "health-table--unhealthy",
        "health-table--muted",
    }

    DEFAULT_CSS = """
    HealthTable > .health-table--healthy { color: $success; }
    HealthTable > .health-table--degraded { color: $warning; text-style: bold; }
    HealthTable > .health-table--unhealthy { color: $error; text-style: bold; }
    HealthTable > .health-table--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.report: HealthReport | None = None
        self._now = 0.0

    def on_mount(self) -> None:
        self.border_title = "Health"
        self._set_columns(natural_widths(_COLUMNS, []), 0)

    def on_resize(self) -> None:
        if self.report is not None:
            self.show(self.report, self._now)  # the columns fit the new width
        else:
            self.clear(columns=True)
            self._set_columns(natural_widths(_COLUMNS, []), 0)

    def _set_columns(self, natural: dict[str, int], row_count: int) -> list[str]:
        available = available_width(self, row_count)
        widths = (fit_widths(natural, available, self.cell_padding, shrink=_SHRINK, drop=_DROP)
                  if available else natural)
        for key, width in widths.items():
            self.add_column(_COLUMNS[key], key=key, width=width)
        return list(widths)

    def show(self, report: HealthReport, now: float) -> None:
        """Replace the rows with ``report``; ages are relative to ``now``."""
        self.report = report
        self._now = now
        self.border_title = health_title(report)
        self.set_class(report.status == "healthy", "-healthy")
        self.set_class(report.status == "degraded", "-degraded")
        self.set_class(report.status == "unhealthy", "-unhealthy")
        cursor = self.cursor_row
        muted = self.get_component_rich_style("health-table--muted", partial=True)
        rows = []
        for probe in report.probes:
            cells = clipped((
                safe_text(probe.name, max_len=40),
                self.status_text(probe.status),
                Text(format_ms(probe.latency_ms), justify="right"),
                Text(f"{format_age(now - probe.changed_at)} ago", style=muted),
                safe_text(probe.error or "", max_len=200),
            ))
            rows.append(dict(zip(_COLUMNS, cells)))
        if not report.probes:  # nothing checked: say so, rather than an empty "healthy" table
            rows.append(dict(zip(_COLUMNS, clipped((
                Text("no probes", style=muted), Text("not configured", style=muted),
                Text(""), Text(""), Text(""),
            )))))
        for source in report.sources:  # the agent's log sources: reading, waiting, restarting
            cells = clipped((
                safe_text(source_label(source.name), max_len=40),
                self.source_state_text(source.state),
                Text(""),
                Text(f"{format_age(now - source.since)} ago" if source.since else "", style=muted),
                safe_text(source.detail, max_len=200),
            ))
            rows.append(dict(zip(_COLUMNS, cells)))
        self.clear(columns=True)
        shown = self._set_columns(natural_widths(_COLUMNS, rows), len(rows))
        heights = self._unfold_details(rows) if "error" in shown else [1] * len(rows)
        for row, height in zip(rows, heights):
            self.add_row(*(row[key] for key in shown), height=height)
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1))

    def _unfold_details(self, rows: list[dict[str, Text]]) -> list[int]:
        """Each row's height: a detail cut at the column's width (``connect…`` where the
        panel had empty rows below) takes more lines while the panel has rows to spare,
        first rows first; the rest stay one line, cut with an ellipsis."""
        heights = [1] * len(rows)
        width = self.columns[ColumnKey("error")].width
        spare = self.content_region.height - (self.header_height if self.show_header else 0) - len(rows)
        for index, row in enumerate(rows):
            if spare <= 0:
                break
            if row["error"].cell_len <= width:
                continue
            row["error"], lines = folded(row["error"], width, min(_DETAIL_LINES, 1 + spare), self.app.console)
            heights[index] = lines
            spare -= lines - 1
        return heights

    def source_state_text(self, state: str) -> Text:
        """A log source's state, coloured like a probe's status: reading as healthy, waiting
        for its file as degraded, restarting after an error as unhealthy."""
        if state not in SOURCE_LOOKS:
            return safe_text(state, max_len=20)
        symbol, look = SOURCE_LOOKS[state]
        style = self.get_component_rich_style(f"health-table--{look}", partial=True)
        return Text(f"{symbol} {SOURCE_STATE_LABELS.get(state, state)}", style=style)

    def status_text(self, status: str) -> Text:
        """A status word with its symbol, coloured from the theme (unknown words stay plain)."""
        if status not in STATUS_SYMBOLS:
            return safe_text(status, max_len=20)
        style = self.get_component_rich_style(f"health-table--{status}", partial=True)
        return Text(f"{STATUS_SYMBOLS[status]} {status}", style=style)
