"""Per-route latency: p50/p95/p99, rate and failed share of each route, sortable, each figure
coloured against the agent's alert thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Final

from rich.text import Text
from textual.widgets import DataTable

from obsview.common.protocol import RouteStats
from obsview.tui.render import safe_text
from obsview.tui.route_figures import COLUMNS, SortOrder, Thresholds, cell_class, cell_text, sort_routes
from obsview.tui.widgets.columns import available_width, clipped, fit_widths, natural_widths

#: The route keeps at least this many cells; the figures are never cut.
_ROUTE_MIN: Final = 12
#: Untrusted route names are cut here before any layout (the column cuts them further).
_ROUTE_MAX_CHARS: Final = 200
_SEVERITIES: Final = ("ok", "warn", "bad")


def _key(stats: RouteStats) -> str:
    return f"{stats.method} {stats.route}"


class RouteTable(DataTable[Text]):
    """One row per route; the cursor row is the route ``e``/Enter acts on."""

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        *(f"route-table--{severity}" for severity in _SEVERITIES),
        "route-table--muted",
    }

    DEFAULT_CSS = """
    RouteTable { height: 1fr; }
    RouteTable > .route-table--ok { color: $success; }
    RouteTable > .route-table--warn { color: $warning; }
    RouteTable > .route-table--bad { color: $error; text-style: bold; }
    RouteTable > .route-table--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.routes: list[RouteStats] = []
        self.order = SortOrder()
        self.thresholds = Thresholds.from_rules({})

    @property
    def selected_route(self) -> RouteStats | None:
        if not self.routes or not 0 <= self.cursor_row < len(self.routes):
            return None
        return self.routes[self.cursor_row]

    def on_mount(self) -> None:
        self.show([], self.thresholds)

    def on_resize(self) -> None:
        self.show(self.routes, self.thresholds)

    def sort_by(self, order: SortOrder) -> None:
        self.order = order
        self.show(self.routes, self.thresholds)

    def show(self, routes: Sequence[RouteStats], thresholds: Thresholds) -> None:
        """Replace the rows; the cursor stays on the same route while it is listed."""
        previous = self.selected_route
        self.thresholds = thresholds
        self.routes = sort_routes(routes, self.order)
        headers = {column.key: self._header(column.key) for column in COLUMNS}
        rows = [dict(zip(headers, self.cells(stats))) for stats in self.routes]
        widths = natural_widths(headers, rows)
        available = available_width(self, len(rows))
        if available:
            widths = fit_widths(widths, available, self.cell_padding, shrink=(("route", _ROUTE_MIN),))
        self.clear(columns=True)
        for key, width in widths.items():
            self.add_column(headers[key], key=key, width=width)
        for stats, row in zip(self.routes, rows):
            self.add_row(*(row[key] for key in widths), key=_key(stats))
        if previous is not None:
            keep = [i for i, stats in enumerate(self.routes) if _key(stats) == _key(previous)]
            if keep:
                self.move_cursor(row=keep[0])

    def _header(self, key: str) -> Text:
        column = next(c for c in COLUMNS if c.key == key)
        label = column.header + ((" ▲" if self.order.reverse else " ▼") if key == self.order.key else "")
        return Text(label, justify="right" if column.numeric else "left")

    def cells(self, stats: RouteStats) -> tuple[Text, ...]:
        route = safe_text(stats.method + " " if stats.method else "", style=self._style("muted"))
        route.append_text(safe_text(stats.route, max_len=_ROUTE_MAX_CHARS))
        figures = [
            Text(cell_text(stats, column.key), justify="right",
                 style=self._style(cell_class(stats, column.key, self.thresholds).lstrip("-")))
            for column in COLUMNS[1:]
        ]
        return clipped((route, *figures))

    def _style(self, name: str) -> str:
        if f"route-table--{name}" not in self.COMPONENT_CLASSES:
            return ""
        return str(self.get_component_rich_style(f"route-table--{name}", partial=True))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """A click on a header sorts by it (again: the other way round)."""
        key = str(event.column_key.value)
        self.sort_by(self.order.flipped() if key == self.order.key else SortOrder(key))
