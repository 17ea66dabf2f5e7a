"""The Hosts panel (a console over several agents): one row per host, then the fleet.

Per host: its connection (connected / reconnecting / wrong token), request rate, p95, failed
share, and what its link lost (gap: the agent no longer had the events; drops: this console
read too slowly). The fleet row sums the rates and reads p95 from the hosts' latency
histograms summed (:func:`~obsview.tui.fleet_metrics.merged_latency`), never from an average
of the hosts' p95s. Host names come from the command line or the config: untrusted text,
shown through :func:`~obsview.tui.render.safe_text` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Final

from rich.text import Text
from textual.widgets import DataTable

from obsview.common.protocol import MetricsSnapshot
from obsview.tui.fleet_metrics import merged_latency
from obsview.tui.render import safe_text
from obsview.tui.widgets.columns import available_width, clipped, fit_widths, fits, natural_widths
from obsview.tui.widgets.units import counted, format_count, format_ms, format_percent, format_rate

if TYPE_CHECKING:
    from obsview.tui.fleet_view import FleetView, HostStatus

_COLUMNS: Final = {
    "host": Text("Host"),
    "state": Text("State"),
    "rate": Text("Req/s", justify="right"),
    "p95": Text("p95", justify="right"),
    "failed": Text("Failed", justify="right"),
    "lost": Text("Lost", justify="right"),
}
_SHRINK: Final = (("host", 9), ("state", 6))
_DROP: Final = ("lost", "failed")
#: Each host's state: (word, symbol, style name).
_STATES: Final = {
    "connected": ("connected", "●", "ok"),
    "connecting": ("connecting", "◌", "warn"),
    "reconnecting": ("reconnecting", "◌", "warn"),
    "auth_failed": ("wrong token", "✖", "bad"),
    "closed": ("closed", "✖", "bad"),
}


def _cut_left(cell: Text, width: int) -> Text:
    """``cell`` cut to ``width`` from the left: hosts' names differ at their end
    (``127.0.0.1:8765``/``:8766``, ``web-1``/``web-2``), so the end is what must show."""
    plain = cell.plain
    if len(plain) <= width:
        return cell
    cut = Text("…" + plain[len(plain) - width + 1:], style=cell.style)
    cut.no_wrap = True
    return cut


def host_p95(snapshot: MetricsSnapshot | None) -> float | None:
    """One host's p95 read from its histogram, the same way as the fleet's."""
    if snapshot is None:
        return None
    return merged_latency([snapshot]).quantile(0.95)


def state_of(host: HostStatus) -> str:
    """``connected``, ``reconnecting`` (or ``unreachable`` before it ever answered),
    ``wrong token``…"""
    state = host.state
    if state is None:
        return "connecting"
    if state.status == "reconnecting" and state.hello is None:
        return "unreachable"
    progress = host.catch_up
    if state.status == "connected" and progress is not None:
        # The agent is reading a backlog and sends only its newest events meanwhile.
        if progress.total_bytes:
            return f"catching up {100 * progress.read_bytes // progress.total_bytes} %"
        return "catching up"
    return _STATES.get(state.status, (state.status, "?", ""))[0]


def describe_fleet(hosts: Sequence[HostStatus]) -> tuple[str, str, str]:
    """(kind, one line, explanation) for the status bar: how many hosts are connected, and
    each one that is not, by name and state."""
    live = [host for host in hosts if host.live]
    troubled = [host for host in hosts if not host.live]
    text = f"{len(live)} of {counted(len(hosts), 'host')} connected"
    if troubled:
        text += " · " + " · ".join(f"{host.name} {state_of(host)}" for host in troubled[:4])
        if len(troubled) > 4:
            text += f" · +{len(troubled) - 4} more"
    if any(host.state is not None and host.state.status == "auth_failed" for host in hosts):
        kind = "auth"
    elif not troubled:
        kind = "connected"
    elif live:
        kind = "reconnecting"
    else:
        kind = "unreachable"
    lines = [f"{host.name}: {host.state.describe() if host.state is not None else 'connecting…'}"
             for host in hosts]
    explanation = "\n".join(lines)
    if kind == "connected":
        explanation += "\n\nWaiting for log events…"
    return kind, text, explanation


class HostsPanel(DataTable[Text]):
    """Every host's connection and traffic, and the fleet's."""

    ALLOW_MAXIMIZE = True

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "hosts-panel--ok", "hosts-panel--warn", "hosts-panel--bad", "hosts-panel--muted",
    }

    DEFAULT_CSS = """
    HostsPanel > .hosts-panel--ok { color: $success; }
    HostsPanel > .hosts-panel--warn { color: $warning; text-style: bold; }
    HostsPanel > .hosts-panel--bad { color: $error; text-style: bold; }
    HostsPanel > .hosts-panel--muted { color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self.view: FleetView | None = None
        self.rows_shown: list[tuple[str, ...]] = []
        """The cells of the rows shown, as plain text (tests read them)."""

    def on_mount(self) -> None:
        self.border_title = "Hosts"
        self.show(self.view)

    def on_resize(self) -> None:
        self.show(self.view)

    def show(self, view: FleetView | None) -> None:
        self.view = view
        hosts = list(view.hosts.values()) if view is not None else []
        rows = [self._host_row(host) for host in hosts]
        if view is not None:
            rows.append(self._fleet_row(view))
        live = sum(1 for host in hosts if host.live)
        self.border_title = f"Hosts · {live} of {len(hosts)} connected" if hosts else "Hosts"
        self.set_class(bool(hosts) and live < len(hosts), "-degraded")
        # Not lost, but not in time order either: the merge's bound, or a host that lagged.
        early = view.merger.forced + view.merger.late if view is not None else 0
        self.border_subtitle = f"{early:,} shown out of time order" if early else ""
        cells = [dict(zip(_COLUMNS, row)) for row in rows]
        available = available_width(self, len(cells))
        natural = natural_widths(_COLUMNS, cells)
        widths = natural
        if available:
            # The lost count goes, then the names are cut, before any state word is ("● reconn…"
            # reads badly); everything only on a very narrow panel.
            for shrink, drop in (((), ("lost",)), (_SHRINK[:1], ("lost",)), (_SHRINK, _DROP)):
                widths = fit_widths(natural, available, self.cell_padding, shrink=shrink, drop=drop)
                if fits(widths, available, self.cell_padding):
                    break
        if widths["host"] < natural["host"]:
            for row in cells:
                row["host"] = _cut_left(row["host"], widths["host"])
        cursor = self.cursor_row
        self.clear(columns=True)
        for key, width in widths.items():
            self.add_column(_COLUMNS[key], key=key, width=width)
        for row in cells:
            self.add_row(*(row[key] for key in widths))
        self.rows_shown = [tuple(cell.plain for cell in row) for row in rows]
        if cells:
            self.move_cursor(row=min(cursor, len(cells) - 1))

    def _host_row(self, host: HostStatus) -> tuple[Text, ...]:
        word = state_of(host)
        status = host.state.status if host.state is not None else "connecting"
        _, symbol, style = _STATES.get(status, (word, "?", "bad"))
        if word == "unreachable":
            symbol, style = "✖", "bad"
        # A host not connected has no figures now: its last ones would read as live.
        shot = host.metrics if host.live else None
        lost = host.gap + host.dropped
        return clipped((
            safe_text(host.name, max_len=40),
            Text(f"{symbol} {word}", style=self._style(style)),
            Text(format_rate(shot.rate_1m) if shot is not None else "—", justify="right"),
            Text(format_ms(host_p95(shot)), justify="right"),
            Text(format_percent(shot.error_rate_1m) if shot is not None else "—", justify="right"),
            Text(format_count(lost) if lost else "0", justify="right",
                 style=self._style("warn") if lost else self._style("muted")),
        ))

    def _fleet_row(self, view: FleetView) -> tuple[Text, ...]:
        fleet = view.fleet_metrics()
        lost = sum(host.gap + host.dropped for host in view.hosts.values())
        bold = Text("fleet", style="bold")
        return clipped((
            bold,
            Text(f"{sum(1 for h in view.hosts.values() if h.live)}/{len(view.hosts)} up",
                 style=self._style("muted")),
            Text(format_rate(fleet.rate_1m) if fleet is not None else "—", justify="right"),
            Text(format_ms(fleet.p95_ms) if fleet is not None else "—", justify="right"),
            Text(format_percent(fleet.error_rate_1m) if fleet is not None else "—", justify="right"),
            Text(format_count(lost), justify="right"),
        ))

    def _style(self, name: str) -> str:
        return str(self.get_component_rich_style(f"hosts-panel--{name}", partial=True))
