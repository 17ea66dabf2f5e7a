"""``ObsviewApp``: themes, app-wide keys, the agent connection. Everything else is in screens.

The app can run without any network: give it ``messages`` (a fixed list of wire messages) and
``url=None``, plus a fixed ``clock``, and every screen is deterministic (tests, snapshots,
screenshots).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from obsview.tui.client import AgentClient, ConnectionState
    from obsview.tui.embedded import LoadProgress
    from obsview.tui.fleet import FleetClients, FleetHost
    from obsview.tui.fleet_view import FleetView
    from obsview.tui.ssh_tunnel import SshError, SshTunnel

from obsview.common.gc_schedule import FULL_COLLECTION_INTERVAL_S, ScheduledCollection
from obsview.common.protocol import Events, Message
from obsview.themes import load_themes
from obsview.tui.render import clean
from obsview.tui.screens.dashboard import DashboardScreen, Sender
from obsview.tui.widgets.hosts_panel import describe_fleet
from obsview.tui.widgets.log_view import local_time
from obsview.tui.widgets.status_bar import connection_help, describe_connection

DEFAULT_THEME = "obsview-dark"

#: Starts an embedded demo and yields the agent's URL; leaving it stops the demo.
DemoStarter = Callable[[], AbstractAsyncContextManager[str]]
#: How often the load of files opened with ``obsview FILE`` is redrawn.
LOAD_PROGRESS_INTERVAL_S = 0.25
#: How often merged events are handed to the dashboard (its own flush runs at 80 ms).
FLEET_RELEASE_INTERVAL_S = 0.08
#: How often the Hosts panel's figures are redrawn.
HOSTS_REFRESH_S = 1.0


class ObsviewApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "obsview"

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "next_theme", "Theme", id="app.theme"),
        Binding("d", "start_demo", "Start demo", id="app.demo"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        messages: Sequence[object] = (),
        clock: Callable[[], float] = time.time,
        theme: str | None = None,
        bell: bool = False,
        remember_theme: Callable[[str], None] | None = None,
        start_demo: DemoStarter | None = None,
        send: Sender | None = None,
        time_format: Callable[[float], str] | None = None,
        client_options: Mapping[str, Any] | None = None,
        label: str | None = None,
        load_progress: Callable[[], LoadProgress] | None = None,
        tunnel: SshTunnel | None = None,
        hosts: Sequence[FleetHost] = (),
        fleet_hold_s: float | None = None,
        host_messages: Mapping[str, Sequence[object]] | None = None,
    ) -> None:
        """``label`` names the agent in the status bar instead of its URL (``app.log``,
        ``ssh://web-1``); ``load_progress`` reports an embedded agent's file load, shown
        until it is complete; ``tunnel`` is the ssh tunnel the URL goes through, whose
        problems (no agent on the far side…) explain a connection that fails. ``hosts``
        (two or more) makes one console over several agents instead of ``url``: one log
        stream merged by event time, a host column, a Hosts panel, fleet figures;
        ``fleet_hold_s`` bounds how long the merge waits for a slower host;
        ``host_messages`` (with ``hosts``) is recorded data per host, no connection made:
        wire messages, and :class:`ConnectionState` items for that host's state."""
        super().__init__()
        self.url = url
        self.label = label
        self.load_progress = load_progress
        self.tunnel = tunnel
        self.token = token
        self.clock = clock
        self.bell_on_alert = bell
        self.remember_theme = remember_theme
        self.start_demo = start_demo
        #: Replaces the agent connection for sending (tests record acks/silences with it).
        self.send_override = send
        self.time_format = time_format
        #: Extra AgentClient arguments (tests shorten the reconnect backoff).
        self.client_options = dict(client_options or {})
        self.client: AgentClient | None = None
        self.hosts = tuple(hosts)
        self.fleet_hold_s = fleet_hold_s
        self._host_messages = dict(host_messages) if host_messages is not None else None
        self.fleet: FleetClients | None = None
        self.fleet_view: FleetView | None = None
        self._fleet_worker: Worker[None] | None = None
        self.connection: ConnectionState | None = None
        self.demo_url: str | None = None
        self._initial_messages = list(messages)
        self._client_worker: Worker[None] | None = None
        self._demo_task: asyncio.Task[None] | None = None
        self._collection = ScheduledCollection()
        self.obsview_themes: list[Theme] = load_themes()
        for loaded in self.obsview_themes:
            self.register_theme(loaded)
        self.theme = theme if theme in self.available_themes else DEFAULT_THEME
        # Textual's own themes are not checked for contrast against obsview's widgets, and
        # listed 22 names in the palette's theme picker next to the three that are.
        ours = {loaded.name for loaded in self.obsview_themes}
        for name in set(self.available_themes) - ours:
            self.unregister_theme(name)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.get_screen("dashboard")
        assert isinstance(screen, DashboardScreen)
        return screen

    def every(self, interval: float, callback: Callable[[], object]) -> None:
        """Call ``callback`` every ``interval`` seconds while the app runs.

        Textual stops the app's own timers only after it has closed the screens, so a plain
        ``set_interval`` callback can fire in between and find no dashboard installed.
        """
        def tick() -> None:
            if self.is_running:
                callback()

        self.set_interval(interval, tick)

    def on_mount(self) -> None:
        # The event buffer makes the interpreter's own full collections stall the loop.
        self._collection.start()
        self.every(FULL_COLLECTION_INTERVAL_S, self._collection.collect)
        self.install_screen(
            DashboardScreen(
                clock=self.clock,
                send=self.send_override or self._send,
                bell=self.bell_on_alert,
                time_format=self.time_format or local_time,
                hosts=[host.name for host in self.hosts],
            ),
            "dashboard",
        )
        self.push_screen("dashboard")
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for message in self._initial_messages:
            self.dashboard.enqueue(message)  # applied by the dashboard's first flush
        if self.hosts:
            self.connect_fleet()
        elif self.url is not None:
            self.connect(self.url)
        else:
            self.dashboard.show_connection("offline", "offline: showing recorded data")
        if self.tunnel is not None:
            self.tunnel.on_problem = self._tunnel_problem
        if self.load_progress is not None:
            # Kept up while the console runs: files are followed after the load, a pipe goes on.
            self.every(LOAD_PROGRESS_INTERVAL_S, self._show_connection)

    # ------------------------------------------------------------------ connection

    def connect(self, url: str) -> None:
        """(Re)connect to the agent at ``url``, replacing any current connection."""
        # Imported here: an offline console (recorded data) never loads the network stack.
        from obsview.tui.client import AgentClient

        if self._client_worker is not None:
            self._client_worker.cancel()
        self.url = url
        self.client = AgentClient(
            url,
            token=self.token,
            on_message=self.dashboard.enqueue,
            on_state=self._connection_changed,
            # 0 on the first connection: replay what the agent holds, so a console opened
            # after an incident still shows the lines that led to it.
            since_seq=lambda: self.dashboard.buffer.last_seq,
            **self.client_options,
        )
        self._client_worker = self.run_worker(self.client.run(), name="agent-client",
                                              group="client", exit_on_error=False)

    async def disconnect(self) -> None:
        """Close the agent connection (if any) and wait until it is closed."""
        fleet, self.fleet = self.fleet, None
        if fleet is not None:
            await fleet.close()
        if self._fleet_worker is not None:
            self._fleet_worker.cancel()
            self._fleet_worker = None
        client, self.client = self.client, None
        if client is not None:
            await client.close()
        if self._client_worker is not None:
            self._client_worker.cancel()
            self._client_worker = None

    def connect_fleet(self) -> None:
        """One client per host, each on its own; their messages merged by :class:`FleetView`."""
        from obsview.tui.fleet import FleetClients
        from obsview.tui.fleet_merge import DEFAULT_HOLD_S
        from obsview.tui.fleet_view import FleetView

        self.fleet_view = FleetView.of(((host.name, host.url) for host in self.hosts),
                                       hold_s=self.fleet_hold_s or DEFAULT_HOLD_S)
        if self._host_messages is not None:
            self._replay_hosts(self._host_messages)
            return
        self.fleet = FleetClients(self.hosts, on_message=self._fleet_message,
                                  on_state=self._fleet_state, client_options=self.client_options)
        self._fleet_worker = self.run_worker(self.fleet.run(), name="fleet-clients",
                                             group="client", exit_on_error=False)
        self.every(FLEET_RELEASE_INTERVAL_S, self._release_merged)
        self.every(HOSTS_REFRESH_S, self._show_hosts)
        self._show_fleet_connection()

    def _replay_hosts(self, recorded: Mapping[str, Sequence[object]]) -> None:
        """Recorded data per host (snapshots, screenshots): applied at once, merged whole."""
        from obsview.tui.client import ConnectionState

        assert self.fleet_view is not None
        for host, items in recorded.items():
            for item in items:
                if isinstance(item, ConnectionState):
                    self.fleet_view.connection_changed(host, item)
                elif isinstance(item, Message):
                    self._fleet_message(host, item)
        released = self.fleet_view.release(float("inf"))
        if released:
            self.dashboard.enqueue(Events(events=tuple(released)))
        self._show_fleet_connection()
        self.call_after_refresh(self._show_hosts)

    def _fleet_message(self, host: str, message: Message) -> None:
        assert self.fleet_view is not None
        for shown in self.fleet_view.receive(host, message, time.monotonic()):
            self.dashboard.enqueue(shown)

    def _release_merged(self) -> None:
        """Hand the merged events whose time has come to the dashboard (before its flush)."""
        assert self.fleet_view is not None
        released = self.fleet_view.release(time.monotonic())
        if released:
            self.dashboard.enqueue(Events(events=tuple(released)))

    def _fleet_state(self, host: str, state: ConnectionState) -> None:
        assert self.fleet_view is not None
        self.fleet_view.connection_changed(host, state)
        self._show_fleet_connection()
        if self.fleet_view is not None:
            self.dashboard.show_hosts(self.fleet_view)

    def _show_fleet_connection(self) -> None:
        assert self.fleet_view is not None
        self.dashboard.show_connection(*describe_fleet(list(self.fleet_view.hosts.values())))

    def _show_hosts(self) -> None:
        """The fleet's figures (charts, latency) and the Hosts panel, once a second."""
        if self.fleet_view is not None:
            metrics = self.fleet_view.take_metrics()
            if metrics is not None:
                self.dashboard.enqueue(metrics)
            self.dashboard.show_hosts(self.fleet_view)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The client's (or the fleet's) worker ends only when told to (a new connect,
        disconnect, quit); one that ends on its own (a bug in the client) would leave a console
        that silently shows nothing new, so it says so in the status bar."""
        if event.state not in (WorkerState.ERROR, WorkerState.SUCCESS):
            return
        if event.worker is self._fleet_worker and self.fleet is not None:
            if event.state != WorkerState.ERROR:
                return
            self._fleet_worker = None
            where = "the hosts"
        elif event.worker is self._client_worker and self.client is not None:
            self._client_worker = None
            if event.state == WorkerState.SUCCESS and self.connection is not None \
                    and self.connection.status == "auth_failed":
                return  # it gave up on a refused token, and the status bar says so already
            where = self.label or self.url or "the agent"
        else:
            return
        error = event.worker.error
        reason = f"{type(error).__name__}: {error}" if error is not None else "it ended"
        self.dashboard.show_connection(
            "stopped", f"connection to {where} stopped ({reason}); not retrying",
            f"The console's connection to {where} stopped on an error and does not retry:\n"
            f"{reason}\n\nRestart the console to connect again.",
        )

    def _connection_changed(self, state: ConnectionState) -> None:
        self.connection = state
        if state.status == "connected" and self.tunnel is not None:
            self.tunnel.agent_answered()
        self.dashboard.replay_changed(state.replaying_to, connected=state.status == "connected")
        self._show_connection()
        self.refresh_bindings()

    def _show_connection(self) -> None:
        state = self.connection
        if state is None:
            return
        shown = replace(state, url=self.label) if self.label else state
        demo_key = self._demo_available(state)
        kind, text = describe_connection(shown, demo_key=demo_key)
        explanation = connection_help(shown, demo_key=demo_key)
        problem = self.tunnel.problem if self.tunnel is not None else None
        if problem is not None and state.status != "connected":
            # The websocket only sees a closed connection; ssh said why.
            kind, text = ("auth" if problem.permanent else "unreachable"), str(problem)
            explanation = text if problem.permanent else f"{text}\n\nRetrying on its own."
        elif (self.load_progress is not None and state.status == "connected"
              and self.dashboard.state.catch_up is None):  # the agent's own says more
            text = f"{text} · {self.load_progress().describe()}"
        self.dashboard.show_connection(kind, text, explanation)

    def _tunnel_problem(self, _problem: SshError | None) -> None:
        self._show_connection()


    def _demo_available(self, state: ConnectionState | None) -> bool:
        if self.start_demo is None or self.demo_url is not None or state is None:
            return False
        return describe_connection(state)[0] == "unreachable"

    def _send(self, message: Message, done: str) -> None:
        """Send an ack, a silence or a query; a toast says ``done`` once it reached the agent
        (none when ``done`` is empty), or why it did not."""
        self.run_worker(self._send_and_report(message, done), group="send", exit_on_error=False)

    async def _send_and_report(self, message: Message, done: str) -> None:
        from obsview.tui.client import NotConnected

        if self.fleet is not None and self.fleet_view is not None:
            await self._send_to_owner(message, done)
            return
        if self.client is None:
            self.notify("Not connected to an agent: nothing was sent", severity="error",
                        markup=False)
            return
        try:
            await self.client.send(message)
        except NotConnected as exc:
            self.notify(clean(exc, max_len=300), severity="error", markup=False)
            return
        if done:
            self.notify(done, markup=False)

    async def _send_to_owner(self, message: Message, done: str) -> None:
        """With several hosts: to the agent that owns the alert (or silence)."""
        from obsview.tui.client import NotConnected
        from obsview.tui.fleet_view import NotRoutable

        assert self.fleet is not None and self.fleet_view is not None
        try:
            host, routed = self.fleet_view.route(message)
            await self.fleet.send(host, routed)
        except (NotRoutable, NotConnected) as exc:
            self.notify(clean(exc, max_len=300), severity="error", markup=False)
            return
        if done:
            self.notify(f"{done} on {clean(host, max_len=40)}", markup=False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start_demo":
            # Offered (and shown in the footer) only when nothing answers.
            return self._demo_available(self.connection)
        return True

    def action_start_demo(self) -> None:
        if self.start_demo is None or self.demo_url is not None or self._demo_task is not None:
            return
        # A task the app owns (not a worker): on_unmount cancels *and awaits* it, so the demo's
        # servers are closed before the app returns, never left to the loop's final cleanup.
        self._demo_task = asyncio.create_task(self._run_demo(), name="obsview-demo")

    async def _run_demo(self) -> None:
        assert self.start_demo is not None
        self.dashboard.show_connection("connecting", "starting the demo agent…")
        try:
            async with self.start_demo() as url:
                self.demo_url = url
                self.connect(url)
                await asyncio.Event().wait()  # until on_unmount cancels this task
        except Exception as exc:  # the demo failing must not take the console down
            self.demo_url = None
            self._demo_task = None  # d may be pressed again
            self.notify(f"demo failed: {clean(exc, max_len=300)}", severity="error",
                        markup=False)

    async def on_unmount(self) -> None:
        self._collection.stop()
        # Our side of the websocket first: the demo agent then stops without waiting for a
        # console that no longer answers.
        await self.disconnect()
        task, self._demo_task = self._demo_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ themes

    def action_next_theme(self) -> None:
        names = [loaded.name for loaded in self.obsview_themes]
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", markup=False, timeout=2)

    def _theme_changed(self, theme: Theme) -> None:
        if self.remember_theme is not None:
            self.remember_theme(theme.name)

    # ------------------------------------------------------------------ help & palette

    def action_help(self) -> None:
        from obsview.tui.screens.help import HelpScreen, bindings_help

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(bindings_help(self.screen)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description or binding.description in seen:
                continue
            seen.add(binding.description)
            if not self._binding_enabled(active.node, binding.action):
                continue
            yield SystemCommand(
                binding.description,
                f"key {self.get_key_display(binding)}",
                partial(self.run_action, binding.action, active.node),
            )

    def _binding_enabled(self, node: object, action: str) -> bool:
        name = action.split("(", 1)[0]
        if node is self:
            return self.check_action(name, ()) is True
        return True
