"""The per-route latency table as a screen of its own (``R``): it fits 80×24 whole, and
follows each metrics snapshot while open; ``e``/Enter lists the route's slowest traces."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from obsview.common.protocol import MetricsSnapshot
from obsview.tui.route_figures import Thresholds
from obsview.tui.widgets.key_footer import KeyFooter
from obsview.tui.widgets.route_table import RouteTable
from obsview.tui.widgets.units import phrase_lines

#: The agent sends at most this many routes (its busiest): said in the title when reached.
AGENT_ROUTE_LIMIT = 20


class RoutesScreen(Screen[None]):
    BINDINGS = [
        # dismiss, not app.pop_screen: popping drops the result callback, and the dashboard
        # kept feeding the closed screen each snapshot (its widgets gone: NoMatches).
        Binding("escape,q", "dismiss", "Back", id="routes.close"),
        Binding("s,greater_than_sign", "sort(1)", "Sort: next column", id="routes.sort_next"),
        Binding("less_than_sign", "sort(-1)", "Sort: previous column", show=False,
                id="routes.sort_previous"),
        Binding("r", "reverse", "Reverse order", id="routes.reverse"),
        # priority: the table would otherwise take Enter for its own (hidden) select action.
        Binding("e,enter", "route_traces", "Slowest traces", id="routes.traces", priority=True),
    ]

    DEFAULT_CSS = """
    RoutesScreen #routes-title { height: auto; padding: 0 1; background: $panel; }
    """

    def __init__(self, show_route_traces: Callable[[str], None]) -> None:
        super().__init__()
        self._show_route_traces = show_route_traces
        self._snapshot: MetricsSnapshot | None = None
        self._thresholds = Thresholds.from_rules({})
        self._span: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("waiting for metrics…", id="routes-title", markup=False)
        yield RouteTable(id="routes")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(RouteTable).focus()
        self._redraw()

    def show(self, snapshot: MetricsSnapshot | None, thresholds: Thresholds, *,
             span: str | None = None) -> None:
        """The routes of ``snapshot`` (the agent's last minute, or the history ``span`` it
        read late, by the events' own time), coloured by ``thresholds``."""
        self._snapshot, self._thresholds, self._span = snapshot, thresholds, span
        if self.is_mounted:
            self._redraw()

    def on_resize(self) -> None:
        self._redraw()  # the heading's lines break between its phrases at the new width

    def _redraw(self) -> None:
        table = self.query_one(RouteTable)
        routes = self._snapshot.routes if self._snapshot is not None else ()
        table.show(routes, self._thresholds)
        title = self.query_one("#routes-title", Static)
        room = (self.size.width or self.app.size.width) - title.styles.gutter.width
        title.update("\n".join(phrase_lines(self._title(len(routes)), room)))

    def _title(self, count: int) -> list[str]:
        """The heading's phrases, each kept whole on one line."""
        if self._snapshot is None:
            return ["Routes", "waiting for metrics…"]
        when = "the last minute" if self._span is None else f"the {self._span} (events' own time)"
        if not count:
            return ["Routes", f"no request in {when}"]
        which = f"the {count} busiest" if count >= AGENT_ROUTE_LIMIT else f"{count} route{'s' * (count != 1)}"
        return ["Routes", f"{which} of {when}", "failed = status ≥ 400",
                f"sorted by {self.query_one(RouteTable).order.describe()}",
                self._thresholds.describe()]

    def action_sort(self, step: int) -> None:
        table = self.query_one(RouteTable)
        table.sort_by(table.order.next(step))
        self._redraw()

    def action_reverse(self) -> None:
        table = self.query_one(RouteTable)
        table.sort_by(table.order.flipped())
        self._redraw()

    def on_data_table_header_selected(self) -> None:
        self._redraw()  # the table sorted itself: the title says by what

    def action_route_traces(self) -> None:
        route = self.query_one(RouteTable).selected_route
        if route is None:
            self.notify("No route selected", severity="warning", markup=False)
            return
        self._show_route_traces(route.route)
