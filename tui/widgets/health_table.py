"""One row per dependency probe: status, latency, when it last changed, and its last error."""

from __future__ import annotations

from typing import ClassVar, Final

from rich.text import Text
from textual.widgets import DataTable

from obsview.backend.protocol import HealthReport
from obsview.tui.render import safe_text
from obsview.tui.widgets.units import format_age, format_ms

STATUS_SYMBOLS: Final = {"healthy": "●", "degraded": "▲", "unhealthy": "✖"}


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

    def on_mount(self) -> None:
        self.border_title = "Health"
        self.add_column("Probe", key="probe")
        self.add_column("Status", key="status")
        self.add_column(Text("Latency", justify="right"), key="latency")
        self.add_column("Changed", key="changed")
        self.add_column("Error", key="error")

    def show(self, report: HealthReport, now: float) -> None:
        """Replace the rows with ``report``; ages are relative to ``now``."""
        self.report = report
        self.border_title = f"Health · {STATUS_SYMBOLS.get(report.status, '?')} {report.status}"
        self.set_class(report.status == "healthy", "-healthy")
        self.set_class(report.status == "degraded", "-degraded")
        self.set_class(report.status == "unhealthy", "-unhealthy")
        cursor = self.cursor_row
        self.clear()
        muted = self.get_component_rich_style("health-table--muted", partial=True)
        for probe in report.probes:
            self.add_row(
                safe_text(probe.name, max_len=40),
                self.status_text(probe.status),
                Text(format_ms(probe.latency_ms), justify="right"),
                Text(f"{format_age(now - probe.changed_at)} ago", style=muted),
                safe_text(probe.error or "", max_len=200),
            )
        if report.probes:
            self.move_cursor(row=min(cursor, len(report.probes) - 1))

    def status_text(self, status: str) -> Text:
        """A status word with its symbol, coloured from the theme (unknown words stay plain)."""
        if status not in STATUS_SYMBOLS:
            return safe_text(status, max_len=20)
        style = self.get_component_rich_style(f"health-table--{status}", partial=True)
        return Text(f"{STATUS_SYMBOLS[status]} {status}", style=style)
