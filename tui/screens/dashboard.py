"""The dashboard: rate, latency, health and alerts on top, the log stream below.

Incoming messages are only queued here; a timer applies them every :data:`FLUSH_INTERVAL_S`
in one batch (one buffer append, one redraw per changed panel), whatever the event rate.
"""

from __future__ import annotations

import asyncio
import getpass
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Static

from obsview.common.filters import Filter, FilterError, highlight_of
from obsview.common.protocol import (
    LEVELS,
    Ack,
    AlertInfo,
    Events,
    ExpireSilence,
    LogEvent,
    Message,
    QueryPage,
    Silence,
    Skipped,
    Spans,
    Unack,
)
from obsview.common.traces import TraceIndex
from obsview.tui.history_view import history_label, history_points, history_snapshot, shows_history
from obsview.tui.hosts import HOST_LABEL, NAME_PATTERN
from obsview.tui.model import EventBuffer, Steps
from obsview.tui.render import clean, safe_text
from obsview.tui.route_figures import Thresholds
from obsview.tui.screens.console_state import ConsoleState, minute_points
from obsview.tui.widgets.alert_feed import AlertFeed
from obsview.tui.widgets.filter_bar import FilterBar
from obsview.tui.widgets.health_table import HealthTable
from obsview.tui.widgets.hosts_panel import HostsPanel
from obsview.tui.widgets.key_footer import KeyFooter
from obsview.tui.widgets.latency import LatencyPanel
from obsview.tui.widgets.log_view import LogView, local_time
from obsview.tui.widgets.rate_chart import RateChart
from obsview.tui.widgets.status_bar import StatusBar
from obsview.tui.widgets.units import counted
from obsview.tui.widgets.volume_chart import VolumeChart

#: An alert's traces start this long before its condition held (the rules' short window).
ALERT_LOOKBACK_S: Final = 60.0
#: How often queued messages are applied (the brief: 50–100 ms).
FLUSH_INTERVAL_S: Final = 0.08
#: Events waiting for the next flush beyond this are dropped (oldest first) and counted: the
#: buffer would evict them on append anyway.
MAX_PENDING_EVENTS: Final = 100_000

# The screens opened from here, and what only a key's action uses, are imported where they
# are used: none of them is needed for the first paint.
if TYPE_CHECKING:
    from textual.timer import Timer

    from obsview.common.traces import TraceSummary
    from obsview.tui.fleet_view import FleetView
    from obsview.tui.screens.history import HistoryScreen
    from obsview.tui.screens.routes import RoutesScreen

#: How often the age columns of the health and alert tables are redrawn.
AGE_REFRESH_S: Final = 5.0
#: How often an incident file's progress is redrawn while it is written.
WRITE_PROGRESS_S: Final = 0.25

#: Sends a message to the agent and tells the user ``done`` (a toast) once it went out.
Sender = Callable[[Message, str], None]


def alert_query(alert: AlertInfo) -> str:
    """The filter that shows the logs behind an alert: its route label if any, and the
    failing requests for error-rate alerts."""
    host = alert.labels.get(HOST_LABEL, "")
    # A fleet's alert: that host's logs.
    hosts = [f"host:{host}"] if NAME_PATTERN.fullmatch(host) else []
    terms = []
    route = alert.labels.get("route", "")
    if route and " " not in route and '"' not in route:
        terms.append(f"route:{route}")
    if "error" in alert.metric or not terms:
        terms.append("level:warn+")
    return " ".join(hosts + terms)


#: Actions on letter keys that give way while the filter bar takes text: those bound with
#: priority=True, and those that open a screen (a query typed in one go, before the bar has
#: focus, must not open one: "level" holds an "e" and an "l").
_PRIORITY_ACTIONS: Final = frozenset(
    {"open_filter", "open_find", "ack_alert", "silence_alert", "alert_logs", "route_traces",
     "show_routes", "toggle_volume"}
)
#: The step generator has nothing more to do.
_DONE: Final = object()


class DashboardScreen(Screen[None]):
    # The log takes the focus first: focusing the first panel, then the log, restyled both.
    AUTO_FOCUS = "#log"
    ALLOW_IN_MAXIMIZED_VIEW = "Footer, StatusBar, FilterBar"
    # Short terminals give the log the room: charts go first, then the tables (m on a panel
    # still shows everything).
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (16, "-short"), (22, "-tall"), (34, "-roomy")]
    # Narrow terminals give the alerts the room: their five columns need ~50 cells, the
    # health table's probe and status ~25.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]

    BINDINGS = [
        *(
            Binding(str(number), f"toggle_level('{level}')", f"Toggle {level}",
                    show=False, id=f"level.{level.lower()}")
            for number, level in enumerate(LEVELS, start=1)
        ),
        # priority: handled as the key arrives, so the keys typed right after it (a paste,
        # tmux send-keys) already go to the filter bar instead of running as commands.
        Binding("slash", "open_filter", "Filter", id="filter.open", priority=True),
        Binding("f", "open_find", "Find", id="find.open", priority=True),
        # Shown: lnav users look for it, and nothing else on screen says the histogram exists.
        Binding("i", "toggle_volume", "Log volume", id="volume.toggle"),
        Binding("escape", "clear_filter", "Clear find/filter", show=False, id="filter.clear"),
        Binding("t", "filter_trace", "Filter trace", show=False, id="filter.trace"),
        Binding("T", "open_trace", "Trace", id="trace.open"),
        # Same descriptions as LogView's own keys: help and palette show them once.
        Binding("enter", "open_detail", "Details", id="event.detail"),
        Binding("c", "copy_raw", "Copy raw line", show=False, id="event.copy_raw"),
        Binding("C", "copy_event", "Copy JSON", show=False, id="event.copy"),
        Binding("p,space", "toggle_follow", "Pause/Follow", id="dashboard.toggle_follow"),
        # priority (like "/"): the prompt must be up before the keys typed after it arrive.
        Binding("a", "ack_alert", "Ack", id="alert.ack", priority=True),
        Binding("s", "silence_alert", "Silence", show=False, id="alert.silence", priority=True),
        Binding("u", "undo_alert", "Unack / end silence", show=False, id="alert.undo"),
        Binding("l", "alert_logs", "Alert logs and traces", show=False, id="alert.logs"),
        Binding("e", "route_traces", "Slowest traces of the route", show=False,
                id="trace.exemplars"),
        Binding("R", "show_routes", "Routes", id="routes.open"),
        Binding("m", "toggle_maximize", "Maximize", show=False, id="panel.maximize"),
        Binding("H", "search_history", "Search history", show=False, id="history.search"),
        Binding("D", "toggle_day", "15 min / 24 h", show=False, id="charts.day"),
        Binding("w", "write_incident", "Write incident", show=False, id="incident.write"),
    ]

    DEFAULT_CSS = """
    DashboardScreen .panels { height: auto; }
    DashboardScreen.-tiny .panels, DashboardScreen.-short #charts { display: none; }
    DashboardScreen #charts > * { width: 1fr; height: 5; }
    DashboardScreen #tables > * { height: 7; }
    DashboardScreen #health { width: 5fr; }
    DashboardScreen #alerts { width: 6fr; }
    DashboardScreen #hosts { width: 7fr; }
    DashboardScreen.-fleet #health { width: 4fr; }
    DashboardScreen.-narrow #health { width: 1fr; }
    DashboardScreen.-narrow #alerts { width: 2fr; }
    DashboardScreen .panels > *, DashboardScreen LogView {
        border: round $border-blurred; border-title-color: $text-muted; background: $surface;
        border-subtitle-color: $text-muted;
    }
    DashboardScreen .panels > *:focus, DashboardScreen LogView:focus {
        border: round $accent; border-title-color: $accent;
    }
    DashboardScreen .panels > .-firing { border-title-color: $error; }
    DashboardScreen .panels > .-unhealthy { border-title-color: $error; }
    DashboardScreen .panels > .-degraded { border-title-color: $warning; }
    DashboardScreen LogView { height: 1fr; min-height: 3; }
    /* The compact footer gives every key a right margin, the palette key (docked right) too:
       the cut-off key under it showed through that last cell ("^p paletteH" at 80 columns). */
    DashboardScreen Footer.-compact FooterKey.-command-palette { margin-right: 0; padding-right: 1; }
    DashboardScreen VolumeChart {
        display: none; border: round $border-blurred; border-title-color: $text-muted;
        border-subtitle-color: $text-muted; background: $surface;
    }
    DashboardScreen VolumeChart.-shown { display: block; }
    DashboardScreen VolumeChart:focus { border: round $accent; border-title-color: $accent; }
    /* With the histogram up, a short terminal keeps the log readable: the charts go, and a
       line where they were says so (the screen started at the Health row, nothing missing). */
    DashboardScreen.-volume.-tall #charts, DashboardScreen.-volume.-short .panels { display: none; }
    DashboardScreen .volume-hides {
        display: none; height: 1; padding: 0 1; color: $text-muted; background: $surface;
    }
    DashboardScreen.-volume.-tall #volume-hides-charts,
    DashboardScreen.-volume.-short #volume-hides-panels { display: block; }
    /* m: the panel takes the whole screen above the status bar (Textual's maximized view
       lays the allowed widgets out vertically: without this a panel kept its 7 rows). */
    DashboardScreen.-maximized-view #tables > .-maximized,
    DashboardScreen.-maximized-view #charts > .-maximized { width: 1fr; height: 1fr; }
    DashboardScreen #empty-state {
        height: 1fr; min-height: 3; padding: 1 2; color: $text-muted;
        border: round $border-blurred; border-title-color: $text-muted; background: $surface;
    }
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        send: Sender | None = None,
        bell: bool = False,
        time_format: Callable[[float], str] = local_time,
        buffer_capacity: int = 100_000,
        hosts: Sequence[str] = (),
    ) -> None:
        """``hosts``: the names of the agents a fleet console watches (two or more): the log
        gets a host column and the Hosts panel is shown. One agent: neither."""
        super().__init__()
        self.hosts = tuple(hosts)
        self.clock = clock
        self.send = send
        self.bell = bell
        self.time_format = time_format
        self.state = ConsoleState()
        self.buffer = EventBuffer(buffer_capacity)
        self.traces = TraceIndex()
        """Spans from the agent, bounded like its own store: what the waterfall shows."""
        self.console_dropped = 0
        self._forget_held = False
        """A window of the agent's newest events comes next: what is held goes first."""
        self._pending_events: deque[tuple[LogEvent, ...]] = deque()
        self._pending_count = 0
        self._pending_other: deque[object] = deque(maxlen=1000)
        self._user = getpass.getuser()
        #: What the log should show and look for; the buffer catches up in steps.
        self._wanted_filter = self.buffer.filter
        self._wanted_find: Filter | None = None
        #: The queries in force when the bar opened: Esc takes the live preview back to them.
        self._before_bar: tuple[Filter, Filter | None] = (self._wanted_filter, None)
        #: What to do once the buffer shows the wanted queries (select a match, a time).
        self._then: Callable[[], None] | None = None
        self._connection = ("offline", "not connected", "")
        self._history: HistoryScreen | None = None
        self._routes: RoutesScreen | None = None
        self.charts_span_day = False
        """Charts over the last day (one point a minute) instead of 15 minutes."""
        self._replaying_to: int | None = None
        """The newest event of the agent's replay while it is on the way (see replay_changed)."""
        self._connected = False
        self._write_waiting = False
        """``w`` was pressed while the agent's replay was on the way: it writes at its end."""
        self._writing: int | None = None
        """Percent of the incident file written, while one is."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # Before the widgets below are mounted, so that they are styled once for this size
        # and not again when the first resize sets the same classes (a pass over every widget).
        self.update_classes({"-fleet": bool(self.hosts), **self.breakpoint_classes(self.app.size)})
        closes = "i on the chart closes it"
        yield Static(f"Requests and Latency hidden for the volume chart · {closes}",
                     id="volume-hides-charts", classes="volume-hides", markup=False)
        tables = "Health, Alerts and Hosts" if self.hosts else "Health and Alerts"
        yield Static(f"{tables} hidden for the volume chart · {closes}",
                     id="volume-hides-panels", classes="volume-hides", markup=False)
        with Horizontal(id="charts", classes="panels"):
            yield RateChart(id="rate")
            yield LatencyPanel(id="latency")
        with Horizontal(id="tables", classes="panels"):
            yield HealthTable(id="health")
            yield AlertFeed(id="alerts")
            if self.hosts:
                yield HostsPanel(id="hosts")
        yield VolumeChart(self.buffer.volume, time_format=self.time_format, id="volume")
        yield LogView(self.buffer, time_format=self.time_format, id="log", clock=self.clock,
                      host_width=max((len(name) for name in self.hosts), default=0))
        yield Static("Waiting for log events…", id="empty-state", markup=False)
        yield FilterBar(id="filter-bar")
        yield StatusBar(id="status")
        # Compact: at 120 columns every shown key fits, quit included; at 80 the log's keys,
        # the volume and Ack (the rest: ? and the palette).
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(RateChart).border_title = "Requests"
        self.query_one(LatencyPanel).border_title = "Latency"
        self.query_one(LogView).border_title = "Logs"
        self.set_interval(FLUSH_INTERVAL_S, self.flush)
        # "since"/"changed" columns are ages: redraw them now and then even when nothing
        # changed (the agent sends health and alerts only on change).
        self.set_interval(AGE_REFRESH_S, self.refresh_ages)
        self.query_one(LogView).focus()
        self._show_counts()
        # Whatever the app reported while this screen was mounting (is_mounted turns true only
        # after on_mount), shown once it is.
        self.call_after_refresh(lambda: self.show_connection(*self._connection))
        self.flush()

    def breakpoint_classes(self, size: Size) -> dict[str, bool]:
        """The breakpoint classes Textual gives this screen at ``size``: on each axis the one
        of the largest breakpoint not above it, the others off."""
        classes: dict[str, bool] = {}
        for dimension, breakpoints in ((size.width, self.HORIZONTAL_BREAKPOINTS or []),
                                       (size.height, self.VERTICAL_BREAKPOINTS or [])):
            classes.update({name: False for _threshold, name in breakpoints})
            reached = [(threshold, name) for threshold, name in breakpoints if dimension >= threshold]
            if reached:
                classes[max(reached)[1]] = True
        return classes

    # ------------------------------------------------------------------ incoming data

    def reset(self) -> None:
        """Forget every event and panel state (a replay seeking back starts over)."""
        self._pending_events.clear()
        self._pending_count = 0
        self._pending_other.clear()
        self.state = ConsoleState()
        # Not clear(): that counts what it lets go as evicted, and the status bar said
        # "1,810 of 1,810 events  2,227 oldest evicted" of a buffer far from full.
        self.buffer.start_over()

    def enqueue(self, message: object) -> None:
        """Queue one client message for the next flush (cheap: called per frame)."""
        if isinstance(message, Spans):
            # Straight into the bounded span index: spans are only drawn on demand (T).
            self.traces.add(message.spans)
        elif isinstance(message, QueryPage):
            if self._history is not None:
                self._history.receive(message)
        elif isinstance(message, Events):
            self._pending_events.append(message.events)
            self._pending_count += len(message.events)
            while self._pending_count > MAX_PENDING_EVENTS and len(self._pending_events) > 1:
                lost = self._pending_events.popleft()
                self._pending_count -= len(lost)
                self.console_dropped += len(lost)
        else:
            if isinstance(message, Skipped):  # the events before it are older than the window
                self._pending_events.clear()
                self._pending_count = 0
                self._forget_held = True
            self._pending_other.append(message)

    def flush(self) -> None:
        """Apply everything queued since the last flush, then redraw what changed."""
        if not self._pending_events and not self._pending_other:
            return
        changes = self.state.apply(self._pending_other)
        self._pending_other.clear()
        for batch in self._pending_events:
            changes.events.extend(batch)
        self._pending_events.clear()
        self._pending_count = 0
        now = self.clock()
        if self._forget_held:
            self._forget_held = False
            self.buffer.forget()
        for marker in changes.markers:
            newest = self.buffer.newest_ts
            self.buffer.mark(marker.text, now if newest is None else newest, lost=marker.lost)
        if changes.events:
            self.buffer.append(changes.events)
        if changes.metrics or changes.stream:
            self._show_charts()
        if changes.health and self.state.health is not None:
            self.query_one(HealthTable).show(self.state.health, now)
            self.query_one(StatusBar).show_sources(self.state.health.sources)
        if changes.alerts:
            self.query_one(AlertFeed).show(self.state.alerts, now)
        if changes.agent:
            self.query_one(StatusBar).show_agent(self.state.hello)
        for alert in changes.newly_firing:
            self.announce(alert)
        for error in changes.errors:
            self.notify(
                f"agent: {clean(error.message, max_len=300)}", severity="error", markup=False
            )
        self._refresh_log()
        if self._receiving:
            self._show_progress()
        volume = self.query_one(VolumeChart)
        if volume.has_class("-shown"):
            volume.update_counts()  # re-bins the per-second counts only: no rescan

    def refresh_ages(self) -> None:
        now = self.clock()
        if self.state.health is not None:
            self.query_one(HealthTable).show(self.state.health, now)
        if self.state.alerts:
            self.query_one(AlertFeed).show(self.state.alerts, now)

    def announce(self, alert: AlertInfo) -> None:
        """A toast for a newly firing alert (and the terminal bell with ``--bell``)."""
        self.notify(
            f"{clean(alert.summary or alert.rule, max_len=200)}",
            title=f"{alert.severity.upper()} firing: {clean(alert.rule, max_len=60)}",
            severity="error" if alert.severity == "critical" else "warning",
            timeout=10,
            markup=False,
        )
        if self.bell:
            self.app.bell()

    def _refresh_log(self) -> None:
        self.query_one(LogView).refresh_from_buffer()
        self._show_counts()
        self._show_empty_state()
        self.query_one(StatusBar).show_stream(
            gap=self.state.gap_events,
            dropped=self.state.dropped_events + self.console_dropped,
            evicted=self.buffer.evicted,
            agent=self.state.metrics.agent if self.state.metrics is not None else {},
            spans_lost=self.state.spans_lost,
            catch_up=self.state.catch_up,
            skipped=self.state.skipped_events,
        )

    def _show_counts(self) -> None:
        buffer = self.buffer
        bar = self.query_one(StatusBar)
        bar.show_count(buffer.matched_count, buffer.total, buffer.filter.query)
        if buffer.find is None:
            bar.show_find("", None, 0)
        else:
            index = self.query_one(LogView).cursor_index
            rank = None if index is None else buffer.found_rank(index)
            bar.show_find(buffer.find.query, rank, buffer.found_count)
        bar.show_levels(buffer.filter.levels)

    def show_connection(self, kind: str, message: str, explanation: str = "") -> None:
        """The status line, and ``explanation`` in place of the log while it is empty.
        May be called before the screen is mounted: the latest is shown on mount."""
        self._connection = (kind, message, explanation)
        if self.is_mounted:
            self.query_one(StatusBar).show_connection(kind, message)
            empty = self.query_one("#empty-state", Static)
            empty.update(safe_text(explanation or "Waiting for log events…", multiline=True))
            empty.border_title = "Logs"
            self._show_empty_state()

    def show_held(self, reason: str) -> None:
        """Say why no events come (``replay paused``), or ``""`` once they come again."""
        self.query_one(StatusBar).show_held(reason)

    def show_hosts(self, view: FleetView) -> None:
        """Redraw the Hosts panel (a fleet console only)."""
        if self.is_mounted and self.hosts:
            self.query_one(HostsPanel).show(view)

    def _show_empty_state(self) -> None:
        empty = self.buffer.total == 0
        self.query_one(LogView).display = not empty
        self.query_one("#empty-state", Static).display = empty

    # ------------------------------------------------------------------ filter

    def apply_filter(self, new_filter: Filter) -> None:
        self.want(new_filter, self._wanted_find)

    def want(self, new_filter: Filter, find: Filter | None) -> None:
        """Show ``new_filter``'s events and look for ``find`` among them. A small buffer is
        matched at once; a big one in steps between which the console keeps drawing and
        reading keys (a text query over 100k events is ~60 ms in one go)."""
        self._wanted_filter = new_filter
        self._wanted_find = find if find is None or find.query else None
        steps = self._steps()
        if next(steps, _DONE) is _DONE:
            self._queries_applied()
        else:
            self._step_on(steps)

    def _steps(self) -> Steps:
        buffer = self.buffer
        if self._wanted_find != buffer.find:
            yield from buffer.refind(self._wanted_find)
        if self._wanted_filter != buffer.filter:
            yield from buffer.refilter(self._wanted_filter)

    @work(exclusive=True, group="queries")
    async def _step_on(self, steps: Steps) -> None:
        """The rest of the steps, one per loop turn; a newer query cancels this worker,
        which leaves the buffer as it was."""
        for _ in steps:
            await asyncio.sleep(0)
        self._queries_applied()

    def _queries_applied(self) -> None:
        log = self.query_one(LogView)
        log.set_highlight(highlight_of(self.buffer.filter, self.buffer.find))
        log.refresh_from_buffer()
        then, self._then = self._then, None
        if then is not None:
            then()
        self._show_counts()

    def action_toggle_level(self, level: str) -> None:
        levels = set(self._wanted_filter.levels)
        levels.symmetric_difference_update({level})
        self.apply_filter(self._wanted_filter.with_levels(levels))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _PRIORITY_ACTIONS and self.query_one(FilterBar).is_open:
            return False  # the key is then part of the query being typed
        return True

    def action_open_filter(self) -> None:
        self._before_bar = (self._wanted_filter, self._wanted_find)
        self.query_one(FilterBar).open(self._wanted_filter, "filter")

    def action_open_find(self) -> None:
        self._before_bar = (self._wanted_filter, self._wanted_find)
        self.query_one(FilterBar).open(self._wanted_find or Filter(), "find")

    def action_clear_filter(self) -> None:
        """Esc: forget the find query if there is one, else the filter's query."""
        if self._wanted_find is not None:
            self.want(self._wanted_filter, None)
        else:
            self.apply_filter(self._wanted_filter.with_query(""))

    def _query_typed(self, query: Filter, mode: str) -> None:
        if mode == "find":
            self._then = self._show_first_found
            self.want(self._wanted_filter, query)
        else:
            self.apply_filter(query)

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self._query_typed(message.filter, message.mode)

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self._query_typed(message.filter, message.mode)
        self._focus_log()

    def on_filter_bar_closed(self, _message: FilterBar.Closed) -> None:
        if (self._wanted_filter, self._wanted_find) != self._before_bar:
            self.want(*self._before_bar)
        self._focus_log()

    def _show_first_found(self) -> None:
        """Select the newest found event at or before the cursor (less and lnav search from
        where the reader is; the newest line while following)."""
        log = self.query_one(LogView)
        index = log.cursor_index
        if index is None or self.buffer.find is None or self.buffer.found_rank(index):
            return
        target = self.buffer.next_found(index, -1)
        if target is not None:
            log.show_index(target)

    def _focus_log(self) -> None:
        if self.focused is None:  # unless a key pressed meanwhile already moved it
            self.set_focus(self.query_one(LogView))

    def action_filter_trace(self) -> None:
        event = self.selected_event
        if event is None or not event.trace_id:
            self.notify("The selected event has no trace ID", severity="warning", markup=False)
            return
        try:
            self.apply_filter(self._wanted_filter.with_query(f'trace:"{event.trace_id}"'))
        except FilterError as exc:
            self.notify(clean(str(exc)), severity="error", markup=False)

    # ------------------------------------------------------------------ log events

    @property
    def selected_event(self) -> LogEvent | None:
        """The event under the log's cursor (the newest one while following)."""
        return self.query_one(LogView).cursor_event

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        self.query_one(StatusBar).show_follow(following=message.following, new=message.new_count)

    def _show_charts(self) -> None:
        state = self.state
        snapshot = state.metrics
        if snapshot is None:
            return
        backlog = state.backlog
        span: str | None = None
        if self._shows_history():
            # History read late: its own span, figures and per-minute points (all of them,
            # up to a day: D has nothing to switch), said so.
            assert backlog is not None
            span = history_label(backlog, self.time_format)
            snapshot = history_snapshot(backlog, snapshot)
            points = history_points(backlog)
        else:
            points = minute_points(state.minutes) if self.charts_span_day else list(state.history)
        thresholds = self._thresholds()
        self.query_one(RateChart).show(snapshot, points, span=span, thresholds=thresholds)
        self.query_one(LatencyPanel).show(snapshot, points, span=span, thresholds=thresholds)
        if self._routes is not None:
            self._routes.show(snapshot, thresholds, span=span)

    def _thresholds(self) -> Thresholds:
        hello = self.state.hello
        return Thresholds.from_rules(hello.thresholds if hello is not None else {})

    def action_show_routes(self) -> None:
        """Per-route latency: a screen that follows the agent's figures while open."""
        from obsview.tui.screens.routes import RoutesScreen

        def closed(_result: None) -> None:
            self._routes = None

        self._routes = RoutesScreen(self.show_route_traces)
        self.app.push_screen(self._routes, closed)
        self._show_charts()

    def _shows_history(self) -> bool:
        state = self.state
        return (state.backlog is not None and state.metrics is not None
                and shows_history(state.backlog, state.metrics, state.catch_up))

    def action_toggle_day(self) -> None:
        """The live charts over the last 15 min or 24 h. While the panels show history, its
        chart already has a point a minute over its whole span: D switches what the live
        charts will show, and says so, rather than putting live minutes under the history's
        label (or dropping the history for minutes in which nothing was served)."""
        self.charts_span_day = not self.charts_span_day
        span = "the last 24 h, a point a minute" if self.charts_span_day else "the last 15 min"
        if self._shows_history() and self.state.backlog is not None:
            history = history_label(self.state.backlog, self.time_format)
            self.notify(f"Live charts: {span}. The panels show {history}, a point a minute, "
                        "until live requests come", markup=False)
        else:
            self.notify(f"Charts: {span}", markup=False)
        self._show_charts()

    def replay_changed(self, until: int | None, *, connected: bool) -> None:
        """The agent's replay of what it held when the connection opened: ``until`` is its
        newest event while still on the way (None once the stream reached it). A ``w`` that
        waits for it writes once it is in, or once the connection is lost (saying what did
        not come)."""
        self._replaying_to = until
        self._connected = connected
        if self._write_waiting and not self._receiving:
            self._write_waiting = False
            self.flush()  # the last of it is queued: into the view first
            self._write_view()
        self._show_progress()

    @property
    def _receiving(self) -> bool:
        return self._connected and self._replaying_to is not None

    def _still_to_come(self) -> int:
        """Events of the agent's replay not in the buffer yet (0 when there is none)."""
        if self._replaying_to is None:
            return 0
        return max(0, self._replaying_to - self.buffer.last_seq)

    def action_write_incident(self) -> None:
        """The filtered log and the panels as they are, as an incident file in the working
        directory (``obsview replay FILE`` shows it again). While the agent still sends what
        it held, waits for it (w again writes what is here, saying what is not)."""
        if self._writing is not None:
            self.notify("Still writing the last incident file: its progress is in the status bar",
                        severity="warning", markup=False)
            return
        if self._receiving and not self._write_waiting:
            self._write_waiting = True
            self._show_progress()
            self.notify(f"Waiting for the agent's buffer ({counted(self._still_to_come(), 'event')}"
                        " to come), then writing the incident file; w again writes what is here now",
                        markup=False)
            return
        self._write_waiting = False
        self.flush()  # what arrived since the last flush belongs in the file too
        self._write_view()

    def _write_view(self) -> None:
        from obsview.tui.incident_view import view_file, write_view

        view = view_file(self.buffer, self.state.messages(), created=self.clock(),
                         to_come=self._still_to_come())
        if view is None:
            self.notify("Nothing to write: no event matches the filter", severity="warning", markup=False)
            return
        path = Path.cwd() / f"obsview-incident-{time.strftime('%Y%m%d-%H%M%S')}.jsonl.gz"
        self._writing = 0
        self._show_progress()
        timer = self.set_interval(WRITE_PROGRESS_S, self._show_progress)
        self.notify(f"Writing {counted(view.event_count, 'event')} to {path}…", markup=False)

        def progress(written: int, total: int) -> None:
            # Only set here (an int, set whole), drawn by the timer: waiting for the event
            # loop at every step would slow the write down by as much as the loop is busy.
            self._writing = 100 * written // total

        def write() -> None:
            # In a thread: encoding and compressing 100k events takes seconds.
            text, complete = f"Could not write {path}", False
            try:
                write_view(path, view, progress)
                text = f"Wrote {counted(view.event_count, 'event')} to {path}"
                missing = view.header.missing
                text, complete = (f"{text}; not in it: {missing}" if missing else text), not missing
            except OSError as exc:
                text = f"{text}: {exc}"
            finally:
                # Told whatever happened (the worker keeps an error to itself), and w works again.
                self.app.call_from_thread(self._written, timer, text, complete=complete)

        self.run_worker(write, thread=True, group="incident", exit_on_error=False)

    def _written(self, timer: Timer, text: str, *, complete: bool = False) -> None:
        timer.stop()
        self._writing = None
        self._show_progress()
        # A file that lacks events is not the file that was asked for: said for longer.
        self.notify(clean(text, max_len=600), severity="information" if complete else "warning",
                    timeout=5 if complete else 15, markup=False)

    def _show_progress(self) -> None:
        """Long work in the status bar: the agent's replay on the way, an incident file
        being written. May be called before the screen is mounted (a connection's first
        state): shown from the next call."""
        if not self.is_mounted:
            return
        parts = []
        if self._receiving:
            waiting = " · w writes once it is in" if self._write_waiting else ""
            parts.append(f"receiving the agent's buffer: {counted(self._still_to_come(), 'event')} to come{waiting}")
        if self._writing is not None:
            parts.append(f"writing the incident file: {self._writing} %")
        self.query_one(StatusBar).show_progress(" · ".join(parts))

    def on_log_view_top_reached(self, _message: LogView.TopReached) -> None:
        """Up past the oldest event held: the log goes on with the agent's history (when
        there is an agent that answers queries: not for recorded data)."""
        if len(self.buffer) and self._agent_answers_queries():
            self._open_history(before_seq=self.buffer[0].seq, title="Older events (agent history)")

    def action_search_history(self) -> None:
        self._open_history(before_seq=None, title="Search all history")

    def _agent_answers_queries(self) -> bool:
        hello = self.state.hello
        return self.send is not None and hello is not None and "query" in hello.capabilities

    def _open_history(self, *, before_seq: int | None, title: str) -> None:
        send = self.send
        if send is None or not self._agent_answers_queries():
            self.notify("No agent that keeps history is connected", severity="error", markup=False)
            return

        from obsview.tui.screens.history import HistoryScreen

        def closed(_result: None) -> None:
            self._history = None

        self._history = HistoryScreen(
            self.buffer.filter, before_seq=before_seq, send=lambda message: send(message, ""),
            time_format=self.time_format, title=title,
        )
        self.app.push_screen(self._history, closed)

    def on_log_view_selected(self, _message: LogView.Selected) -> None:
        self._show_counts()  # "match k of n" follows the cursor

    def on_log_view_opened(self, message: LogView.Opened) -> None:
        self._open_detail(message.event)

    def action_open_detail(self) -> None:
        if self.selected_event is None:
            self.notify("Select an event first (arrows in the log)", markup=False)
            return
        self._open_detail(self.selected_event)

    def _open_detail(self, event: LogEvent) -> None:
        from obsview.tui.screens.detail import EventDetailScreen

        self.app.push_screen(EventDetailScreen(event))

    def action_open_trace(self) -> None:
        event = self.selected_event
        if event is None or not event.trace_id:
            self.notify("The selected event has no trace ID", severity="warning", markup=False)
            return
        self.open_trace(event.trace_id)

    def open_trace(self, trace_id: str) -> None:
        """The waterfall of ``trace_id``: its spans and its log lines the console holds."""
        from obsview.tui.screens.trace import TraceScreen

        self.app.push_screen(
            TraceScreen(trace_id, self.traces.get(trace_id), self.buffer.trace(trace_id))
        )

    def action_copy_raw(self) -> None:
        """The selected event's line as the log had it (as the detail view's ``c``)."""
        event = self.selected_event
        if event is None:
            self.notify("Select an event first", markup=False)
            return
        if not event.raw:
            self.notify(f"Event #{event.seq} has no raw line; C copies it as JSON",
                        severity="warning", markup=False)
            return
        from obsview.tui.widgets.event_detail import raw_for_clipboard

        self.app.copy_to_clipboard(raw_for_clipboard(event.raw))
        self.notify(f"Event #{event.seq}'s raw line copied", markup=False)

    def action_copy_event(self) -> None:
        if self.selected_event is None:
            self.notify("Select an event first", markup=False)
            return
        from obsview.tui.widgets.event_detail import event_json

        self.app.copy_to_clipboard(event_json(self.selected_event))
        self.notify(f"Event #{self.selected_event.seq} copied as JSON", markup=False)

    def action_toggle_volume(self) -> None:
        """The log-volume histogram (lnav's ``i``): shown and focused, then hidden."""
        volume = self.query_one(VolumeChart)
        if volume.has_class("-shown") and self.focused is volume:
            volume.remove_class("-shown")
            self.remove_class("-volume")
            self.query_one(LogView).focus()
            return
        volume.add_class("-shown")
        self.add_class("-volume")
        volume.update_counts()
        volume.focus()

    def on_volume_chart_jump(self, message: VolumeChart.Jump) -> None:
        """The stream from the chosen bucket's first event (paused there)."""
        log = self.query_one(LogView)
        log.show_time(message.ts)
        log.focus()

    def action_toggle_follow(self) -> None:
        self.query_one(LogView).action_toggle_follow()

    def action_toggle_maximize(self) -> None:
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    # ------------------------------------------------------------------ alerts

    def _selected_alert(self) -> AlertInfo | None:
        alert = self.query_one(AlertFeed).selected_alert
        if alert is None:
            self.notify("No alert selected", severity="warning", markup=False)
        return alert

    def _send(self, message: Message, done: str) -> None:
        if self.send is None:
            self.notify("Not connected to an agent: nothing was sent", severity="error",
                        markup=False)
            return
        self.send(message, done)

    def action_ack_alert(self) -> None:
        alert = self._selected_alert()
        if alert is None:
            return
        if alert.state == "resolved":  # the agent would refuse it, after a toast saying "done"
            self.notify(f"{clean(alert.rule, max_len=60)} is resolved: there is nothing to "
                        "acknowledge", severity="warning", markup=False)
            return

        def acknowledged(note: str | None) -> None:
            if note is not None:
                self._send(Ack(alert.fingerprint, by=self._user, note=note),
                           f"Acknowledged {clean(alert.rule, max_len=60)}")

        from obsview.tui.screens.alert_prompts import AckPrompt

        self.app.push_screen(AckPrompt(alert), acknowledged)

    def action_silence_alert(self) -> None:
        alert = self._selected_alert()
        if alert is None:
            return

        def silenced(duration_s: float | None) -> None:
            if duration_s is not None:
                matchers = {"alertname": alert.rule, **alert.labels}
                self._send(Silence(matchers, duration_s, by=self._user),
                           f"Silenced {clean(alert.rule, max_len=60)} for {duration_s / 3600:g} h")

        from obsview.tui.screens.alert_prompts import SilencePrompt

        self.app.push_screen(SilencePrompt(alert), silenced)

    def action_undo_alert(self) -> None:
        """Take back the selected alert's ack (notifications resume), else end the silence
        that mutes it (in Alertmanager too, when mirrored)."""
        alert = self._selected_alert()
        if alert is None:
            return
        rule = clean(alert.rule, max_len=60)
        if alert.ack is not None:
            self._send(Unack(alert.fingerprint, by=self._user), f"{rule}: acknowledgement taken back")
        elif alert.silenced_by:
            self._send(ExpireSilence(alert.silenced_by, by=self._user), f"{rule}: its silence ended")
        else:
            self.notify(f"{rule} is neither acknowledged nor silenced", severity="warning", markup=False)

    def action_alert_logs(self) -> None:
        alert = self._selected_alert()
        if alert is not None:
            self.show_alert_logs(alert)

    def on_alert_feed_logs_requested(self, message: AlertFeed.LogsRequested) -> None:
        self.show_alert_logs(message.alert)

    def show_alert_logs(self, alert: AlertInfo) -> None:
        """Its labels as the filter, and the log paused where the alert started; over it, the
        failed and slowest traces of its window (Esc goes back to those logs)."""
        from obsview.tui import exemplars

        log = self.query_one(LogView)
        try:
            query = self._wanted_filter.with_query(alert_query(alert))
        except FilterError as exc:
            self.notify(clean(str(exc)), severity="error", markup=False)
            return
        self._then = lambda: log.show_time(alert.started_at)
        self.apply_filter(query)
        log.focus()
        # The minute before the condition held is what the rule's figures were made of.
        since = alert.started_at - ALERT_LOOKBACK_S
        until = alert.resolved_at or self.clock()
        route = alert.labels.get("route", "")
        found = exemplars.candidates(self.traces, self.buffer.trace_events(), since=since,
                                     until=until, route=route)
        title = f"alert {alert.rule}" + (f" · {route}" if route else "")
        self.show_traces(f"{title} · {self.time_format(since)}–{self.time_format(until)}", found)

    def action_route_traces(self) -> None:
        """The slowest traces of the selected request's route (its exemplars)."""
        event = self.selected_event
        route = event.route if event is not None else ""
        if not route:
            self.notify("Select a request with a route first", severity="warning", markup=False)
            return
        self.show_route_traces(route)

    def show_route_traces(self, route: str) -> None:
        """What a per-route view opens: that route's slowest (and failed) traces held."""
        from obsview.tui import exemplars

        found = exemplars.candidates(self.traces, self.buffer.trace_events(), since=0.0,
                                     until=float("inf"), route=route)
        self.show_traces(f"route {route}", found)

    def show_traces(self, title: str, found: list[TraceSummary]) -> None:
        from obsview.tui import exemplars
        from obsview.tui.screens.traces import TracesScreen

        self.app.push_screen(TracesScreen(title, exemplars.failed_then_slowest(found),
                                          self.open_trace, self.time_format))
