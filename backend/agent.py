"""``Agent``: wires the config to sources, store, metrics, health, alerts, notifications and the
server, and owns every task it starts (``stop`` cancels and awaits each one).

The ingest path (:meth:`Agent.ingest`) is synchronous work plus a non-blocking hand-off to
each console's outbox: no console, however slow, can make a source wait.
"""

from __future__ import annotations

import asyncio
import errno
import importlib.metadata
import logging
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import msgspec
import orjson

from obsview.backend.addresses import format_host_port
from obsview.backend.auth import default_token_path, token_for
from obsview.backend.config import AgentConfig, default_state_root
from obsview.backend.delivery.notify import Notifier, Origin
from obsview.backend.errors import StartupError
from obsview.backend.ingest.catch_up import CatchUpTracker, file_progress
from obsview.backend.ingest.log_limit import RateLimitedLog
from obsview.backend.ingest.normalize import Normalizer
from obsview.backend.ingest.sources.base import Source
from obsview.backend.ingest.sources.checkpoint import Position
from obsview.backend.ingest.sources.file_tail import FileTailSource, tail_counters
from obsview.backend.ingest.sources.listener import StreamListener, listener_counters
from obsview.backend.ingest.sources.stdin import StdinSource
from obsview.backend.ingest.sources.tcp import TcpSource
from obsview.backend.ingest.supervisor import Supervised
from obsview.backend.serving.accept_errors import AcceptErrorLimiter
from obsview.backend.serving.server import AlertCommand, HttpReply, StreamServer
from obsview.backend.signals.alerts import AlertCommandError, AlertEngine, UnknownAlert, upper_thresholds
from obsview.backend.signals.health import HealthMonitor, health_json, http_status
from obsview.backend.signals.metrics import RequestMetrics
from obsview.backend.signals.rollups import DAY_MINUTES, MinuteRollup
from obsview.backend.signals.routes import RouteTemplater
from obsview.backend.signals.span_requests import RequestDedup, span_request
from obsview.backend.state_lock import StateLock, adopt_legacy_state
from obsview.backend.store.history import History
from obsview.backend.store.history_minutes import read_history_minutes
from obsview.backend.store.journal_writer import JournalWriter, Retention, default_keep_free
from obsview.backend.store.query import EventQuery, Page
from obsview.backend.store.recorder import RecordedSpan, StateRecorder, read_states, recent_minutes
from obsview.backend.store.ring import EventStore
from obsview.backend.store.traces import TraceStore
from obsview.common.gc_schedule import FULL_COLLECTION_INTERVAL_S, ScheduledCollection
from obsview.common.protocol import (
    Ack,
    Alerts,
    Error,
    ExpireSilence,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    Metrics,
    MetricsSnapshot,
    MinutePoint,
    Silence,
    SourceStatus,
    Unack,
    encode,
)
from obsview.common.spans import Span

log = logging.getLogger(__name__)

CAPABILITIES: Final = (
    "events", "metrics", "health", "alerts", "ack", "silence", "resume", "query", "spans",
)
JSON_TYPE: Final = "application/json"
JOURNAL_FILE: Final = "journal.sqlite3"
SOURCE_START_TIMEOUT_S: Final = 5.0
ALERT_STATE: Final = "alerts.json"
TAIL_OFFSETS: Final = "tail-offsets.json"
NOTIFY_STATE: Final = "notify-state.json"
STATE_FILES: Final = (ALERT_STATE, TAIL_OFFSETS)
"""What older versions kept in one directory for every agent of a user."""
INGEST_ERROR_LOG_INTERVAL_S: Final = 60.0
BACKLOG_INTERVAL_S: Final = 2.0
"""How often consoles get the summary of history read late while it grows."""
CATCH_UP_WINDOW: Final = 1000
"""Newest events a console gets each second while the agent catches up on a backlog (it
gets ``client_queue_events`` of them when the catch-up ends; older ones by paging)."""


def agent_version() -> str:
    try:
        return importlib.metadata.version("obsview")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


class Agent:
    def __init__(self, config: AgentConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self.version = agent_version()
        self.started_at = clock()
        self.hostname = socket.gethostname()
        self.normalizer = Normalizer(service=config.service, host=self.hostname)
        self._store = EventStore(config.store_capacity)
        self._traces = TraceStore()
        self._dedup: RequestDedup | None = RequestDedup() if config.otlp else None
        """Set while spans may come (an OTLP receiver, or :meth:`expect_spans`): access logs
        are then matched with server spans so a request is counted once."""
        self._history = History(self._store)
        self._journal: JournalWriter | None = None
        self._recorder: StateRecorder | None = None
        self._rollup = MinuteRollup()
        self._minutes: deque[MinutePoint] = deque(maxlen=DAY_MINUTES)
        self._backlog_sent = 0
        self._backlog_sent_at = float("-inf")
        """The backlog's version last sent to consoles: its summary goes out when it moves."""
        self.seq_epoch = secrets.token_hex(8)
        """Names this numbering of events; the journal's when there is one (it goes on)."""
        self._metrics = RequestMetrics(clock=clock, templater=RouteTemplater(config.route_rules))
        self._health = HealthMonitor(
            config.probes, clock=clock, version=self.version, started_at=self.started_at
        )
        # Its saved state is loaded in start(), once the state directory is locked.
        self._alerts = AlertEngine(config.rules, clock=clock)
        # The notifier re-reads current alerts for repeats and for alerts firing across restarts.
        self._notifier = Notifier(config.notifiers, clock=clock, current_alerts=self._alerts.alerts,
                                  origin=self._alert_origin)
        self._server: StreamServer | None = None
        self._collection = ScheduledCollection()
        self._tasks: list[asyncio.Task[Any]] = []
        self._sources: list[Source] = []
        self._supervised: list[Supervised] = []
        self._ingest_errors = 0
        self._ingest_error_log = RateLimitedLog(log, INGEST_ERROR_LOG_INTERVAL_S, clock=clock)
        self._alerts_shown: Alerts = _alerts_message(self._alerts)
        """What consoles are shown of the alerts: the engine's state as last saved."""
        self._alerts_state_recorded = self._alerts.state_version
        self._alerts.on_saved = self._show_alerts
        self._state_dir = config.resolved_state_dir()
        self._lock = StateLock(self._state_dir)
        self._sources_shown: tuple[SourceStatus, ...] = ()
        self._token_path: Path | None = None
        self._accept_errors = AcceptErrorLimiter()
        self.events_ingested = 0
        self._catch_up = CatchUpTracker(lambda: file_progress(self._sources), clock=time.monotonic)

    # ------------------------------------------------------------------ read-only parts

    @property
    def store(self) -> EventStore:
        return self._store

    def recent_minutes(self) -> tuple[MinutePoint, ...]:
        """Closed minutes of request metrics, the last day (from the journal after a restart)."""
        return tuple(self._minutes)

    async def states(self, since_ts: float, until_ts: float) -> RecordedSpan:
        """What was recorded besides events in the span (none without a journal)."""
        journal = self._history.journal
        if journal is None:
            return RecordedSpan([], [], [])
        return await asyncio.to_thread(read_states, journal, since_ts, until_ts)

    @property
    def traces(self) -> TraceStore:
        return self._traces

    @property
    def history(self) -> History:
        """The events in RAM and, with ``history = true``, in the journal on disk."""
        return self._history

    @property
    def metrics(self) -> RequestMetrics:
        return self._metrics

    @property
    def health(self) -> HealthMonitor:
        return self._health

    @property
    def alerts(self) -> AlertEngine:
        return self._alerts

    @property
    def alerts_shown(self) -> Alerts:
        """The alerts as consoles see them: as last saved (a crash keeps what they saw)."""
        return self._alerts_shown

    @property
    def notifier(self) -> Notifier:
        return self._notifier

    @property
    def server(self) -> StreamServer:
        if self._server is None:
            raise RuntimeError("the agent is not started")
        return self._server

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(self._sources)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind, start every source and background task; StartupError says what went wrong
        (another agent on the same state directory included)."""
        self._lock.acquire()  # before anything reads or writes the state
        try:
            await self._start()
        except BaseException:
            self._lock.release()
            raise

    async def _start(self) -> None:
        config = self.config
        if config.state_dir is None:
            moved = adopt_legacy_state(default_state_root(), self._state_dir, STATE_FILES)
            if moved:
                log.warning("moved %s from %s into this agent's state directory %s",
                            " and ".join(moved), default_state_root(), self._state_dir)
        self._alerts.attach_state(self._state_dir / ALERT_STATE)
        self._alerts_shown = _alerts_message(self._alerts)  # as loaded: on disk
        # Before the first evaluation: a "firing" not delivered before a restart goes first.
        self._notifier.attach_state(self._state_dir / NOTIFY_STATE)
        token = token_for(config.listen, config.token_file)
        if token is not None:
            self._token_path = config.token_file or default_token_path()
        if config.history:
            self._open_journal()
        self._server = StreamServer(
            _AgentView(self),
            config.listen,
            token=token,
            allowed_origins=config.allowed_origins,
            allowed_hosts=config.allowed_hosts,
            client_queue_events=config.client_queue_events,
        )
        try:
            ws_server = await self._server.start()
        except OSError as exc:
            await self._close_journal()
            raise StartupError(_bind_problem(config.listen, exc)) from None
        self._health.on_change = self._on_health_change
        self._accept_errors.install(asyncio.get_running_loop())
        try:
            self._spawn(ws_server.serve_forever(), "serve")
            self._spawn(self._tick_forever(), "ticker")
            # The store's events make the interpreter's own full collections stall ingest.
            self._collection.start()
            self._spawn(self._collect_forever(), "gc")
            self._spawn(self._health.run(), "health")
            self._spawn(self._notifier.run(), "notifier")
            self._sources = self._build_sources()
            listener_starts = []
            for source in self._sources:
                supervised = Supervised(source, self.ingest, clock=self._clock)
                self._supervised.append(supervised)
                self._spawn(supervised.run(), source.name)
                if isinstance(source, StreamListener):
                    listener_starts.append(supervised)
                elif isinstance(source, FileTailSource):
                    # Start offsets are taken before the agent says it listens: lines written
                    # right after that message are read, not skipped as history.
                    await _wait_ready(supervised, source.ready, "file source")
            # Listening sources are built in config.tcp, then config.otlp order.
            addresses = [*self.config.tcp, *self.config.otlp]
            for address, supervised in zip(addresses, listener_starts):
                await _wait_listening(address, supervised)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        # Awaiting the serve task matters: websockets' server otherwise keeps the loop alive.
        await asyncio.gather(*tasks, return_exceptions=True)
        self._accept_errors.uninstall(asyncio.get_running_loop())
        self._collection.stop()
        await self._alerts.aclose()
        await self._notifier.aclose()
        await self._close_journal()
        self._lock.release()

    def _open_journal(self) -> None:
        """Open (or create) the journal, number events on from it, start its writer."""
        config = self.config
        path = self._state_dir / JOURNAL_FILE
        keep_free = config.history_keep_free_mb
        retention = Retention(
            max_age_s=config.history_days * 86400.0, max_bytes=config.history_max_mb << 20,
            keep_free_bytes=default_keep_free(path.parent) if keep_free is None else (keep_free << 20) or None,
        )
        others = [kind for kind, used in (("TCP", config.tcp), ("OTLP", config.otlp), ("stdin", config.stdin))
                  if used]
        self._journal = JournalWriter.open(path, retention, self._store, clock=self._clock,
                                           tailed=bool(config.tail), others=others)
        self._history.journal = self._journal.journal
        self.seq_epoch = self._journal.journal.epoch
        self._recorder = StateRecorder(self._journal, clock=self._clock)
        # The first batch starts with what is in force too (later ones: see tick).
        self._recorder.record(self._clock(), encode(self._alerts_shown))
        self._recorder.record(self._clock(), encode(Health(report=self.health_report())))
        self._minutes.extend(recent_minutes(self._journal.journal, self._clock()))
        self._metrics.backlog.restore(read_history_minutes(self._journal.journal))

    async def _close_journal(self) -> None:
        if self._recorder is not None:
            if self._journal is not None:
                self._journal.flush()  # the blocks of the history's requests go first
            self._record_history()
            self._recorder.flush(self._clock(), force=True)
            self._recorder = None
        journal, self._journal = self._journal, None
        self._history.journal = None
        if journal is not None:
            await asyncio.to_thread(journal.stop, self._store.last_seq)

    async def __aenter__(self) -> Agent:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _alert_origin(self) -> Origin:
        """This agent, as its alerts name it to Alertmanager (labels instance and service)."""
        where = self.url.replace("ws://", "http://", 1) + "/api/alerts" if self._server else ""
        return Origin(instance=self.hostname, service=self.config.service, generator_url=where)

    def describe(self) -> str:
        """The one line the CLI prints on start."""
        names = ", ".join(source.name for source in self._sources) or "none (in-process only)"
        token = f"; token file: {self._token_path}" if self._token_path else ""
        return (
            f"obsview-agent {self.version} listening on {self.url}"
            f" (HTTP /api/health /api/metrics /api/alerts /metrics); sources: {names}{token}"
        )

    # ------------------------------------------------------------------ ingest

    async def ingest(self, events: list[LogEvent], position: Position | None = None, /) -> None:
        """The ``emit`` every source gets; in-process producers may call it too. ``position``:
        where the file tail that read the events stands after them, which the journal commits
        with them (it may come with no event: where reading starts).

        Never raises because of what the events hold: a step that fails on a batch is
        counted (``ingest_errors``) and logged at most once a minute, and the source goes on.
        """
        if not events:
            if position is not None and self._journal is not None:
                self._journal.append(events, position)
            return
        self._store.append(events)
        if self._journal is not None:
            self._journal.append(events, position)
        self.events_ingested += len(events)
        for step in (self._observe, self._broadcast_events):
            try:
                step(events)
            except Exception:  # one bad record must not stop its source
                self._ingest_errors += 1
                self._ingest_error_log.exception(
                    "ingest step %s failed on a batch of %d events (counted in ingest_errors)",
                    getattr(step, "__name__", step), len(events))
        if self.config.tail:  # after the broadcast: a window sent now holds this batch
            self._follow_catch_up()

    def _follow_catch_up(self) -> None:
        """A backlog began or ended: consoles stop getting every event (they get its
        progress and the newest windows), or get the stream again after the newest events."""
        changed = self._catch_up.update()
        server = self._server
        if changed is None or server is None:
            return
        if changed:
            server.hold(CATCH_UP_WINDOW)
        else:
            server.release(self.config.client_queue_events)
        server.broadcast_catch_up(self._catch_up.message())

    def _observe(self, events: list[LogEvent]) -> None:
        self._metrics.observe(events if self._dedup is None else self._dedup.logs(events))

    def _broadcast_events(self, events: list[LogEvent]) -> None:
        if self._server is not None:
            self._server.broadcast_events(events)

    def expect_spans(self) -> None:
        """Spans will come from in-process producers: match access logs with them from now
        on (an agent with an OTLP receiver does so from the start)."""
        if self._dedup is None:
            self._dedup = RequestDedup()

    async def ingest_spans(self, spans: list[Span]) -> None:
        """Store spans (redacted already), count server spans as requests, stream them."""
        kept = self._traces.add(spans)
        if not kept:
            return
        self.expect_spans()
        assert self._dedup is not None
        requests = [request for span in kept if (request := span_request(span)) is not None]
        if requests:
            self._metrics.observe(self._dedup.spans(requests))
        if self._server is not None:
            self._server.broadcast_spans(kept)

    def source_states(self) -> tuple[SourceStatus, ...]:
        """What each log source is doing now (reading, waiting for a path, restarting…)."""
        return tuple(state for supervised in self._supervised for state in supervised.state())

    def health_report(self) -> HealthReport:
        """The probes' report with the log sources' states: a source restarting after an
        error makes a healthy agent degraded (/api/health, consoles, alert rules)."""
        report = self._health.report()
        sources = self.source_states()
        status = report.status
        if status == "healthy" and any(source.state == "restarting" for source in sources):
            status = "degraded"
        return msgspec.structs.replace(report, status=status, sources=sources)

    def counters(self) -> dict[str, int]:
        """The agent's own counters, for MetricsSnapshot.agent and /metrics."""
        server = self._server
        notify = {f"notify_{name}": value for name, value in self._notifier.counters.items()}
        traces = {f"trace_{name}": value for name, value in self._traces.counters().items()}
        if self._dedup is not None:
            traces["requests_seen_twice"] = self._dedup.matched
        sources = self._sources
        files = tail_counters(sources)
        return notify | listener_counters(sources) | files | traces | {
            "events_ingested": self.events_ingested,
            "parse_errors": self.normalizer.parse_errors,
            "truncated": self.normalizer.truncated,
            "too_deep": self.normalizer.too_deep,
            "normalize_failures": self.normalizer.failures,
            "ingest_errors": self._ingest_errors,
            "alert_state_write_failures": self._alerts.save_failures,
            "source_restarts": sum(supervised.restarts for supervised in self._supervised),
            "redacted": self.normalizer.redacted,
            "store_evicted": self._store.evicted,
            **self._journal_counters(),
            "dropped_to_clients": server.dropped_total if server else 0,
            "skipped_to_clients": server.skipped_total if server else 0,
            "connections_total": server.connections_total if server else 0,
            "connections_refused": server.admission.refused + server.consoles_refused if server else 0,
            "connections_evicted": server.admission.evicted if server else 0,
            "oversized_frames": server.oversized_total if server else 0,
        }

    def _journal_counters(self) -> dict[str, int]:
        journal = self._journal
        if journal is None:
            return {}
        return {
            "journal_written": journal.written,
            "journal_dropped": journal.dropped,
            "journal_retention_dropped": journal.journal.dropped_total,
        }

    def gauges(self) -> dict[str, int]:
        """The agent's own levels (they go down as well as up), for /metrics as gauges."""
        held = {f"trace_{name}": value for name, value in self._traces.levels().items()}
        return {"clients": self._server.clients if self._server else 0} | held

    def snapshot(self) -> MetricsSnapshot:
        return self._metrics.snapshot(agent=self.counters() | self.gauges())

    # ------------------------------------------------------------------ background work

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"obsview-{name}")
        task.add_done_callback(_report_crash)
        self._tasks.append(task)
        return task

    def _build_sources(self) -> list[Source]:
        config = self.config
        sources: list[Source] = []
        if config.tail:
            journal = self._journal
            sources.append(FileTailSource(
                config.tail, self.normalizer, from_start=config.from_start,
                # Lines written while the agent was down are read after a restart; with the
                # journal on, from just after the last line it holds (README, "History").
                checkpoint_path=self._state_dir / TAIL_OFFSETS,
                journaled=journal is not None,
                journal_checkpoint=journal.journal.tail_checkpoint if journal is not None else None,
            ))
        # One bind policy for every listener, as for the websocket (auth.token_for).
        for host, port in config.tcp:
            token = token_for((host, port), config.token_file)
            sources.append(TcpSource(host, port, self.normalizer, token=token))
        if config.otlp:
            # Here, not at the top: protobuf and the OTLP schemas (~5 MiB resident) are
            # loaded by the agents that receive OTLP only.
            from obsview.backend.ingest.sources.otlp import OtlpHttpSource
        for host, port in config.otlp:
            token = token_for((host, port), config.token_file)
            sources.append(OtlpHttpSource(host, port, self.normalizer, token=token,
                                          allowed_hosts=config.allowed_hosts,
                                          spans=self.ingest_spans))
        if config.stdin:
            sources.append(StdinSource(self.normalizer, fd=config.stdin_fd))
        return sources

    async def _collect_forever(self) -> None:
        while True:
            await asyncio.sleep(FULL_COLLECTION_INTERVAL_S)
            self._collection.collect()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.metrics_interval_s)
            try:
                self.tick()
            except Exception:  # one bad step must not stop metrics and alerts for good
                log.exception("metrics/alerts step failed")

    def tick(self) -> None:
        """One metrics step: history point, alert evaluation, notifications, broadcasts."""
        now = self._clock()
        if self._journal is not None:
            self._journal.flush()  # a crash loses at most the last second of events
        point = self._metrics.tick()
        snapshot = self.snapshot()
        transitions = self._alerts.evaluate(snapshot, self.health_report())
        self._notifier.submit(transitions)
        closed = self._rollup.step(self._metrics, now)
        if closed is not None:
            self._minutes.append(closed)
            if self._recorder is not None:
                self._recorder.record_minute(closed)
        self._record_history()
        if self.config.tail:
            self._follow_catch_up()  # its end, when the last batch left nothing to read
            if self._catch_up.active and self._server is not None:
                self._server.broadcast_catch_up(self._catch_up.message())
                self._server.send_newest(CATCH_UP_WINDOW)
        sources = self.source_states()
        if _comparable(sources) != _comparable(self._sources_shown):
            self._sources_shown = sources
            self._send(now, Health(report=self.health_report()), urgent=True)
        backlog = None
        version = self._metrics.backlog.version
        if version != self._backlog_sent and now - self._backlog_sent_at >= BACKLOG_INTERVAL_S:
            # While a backlog is read it changes every tick: its summary (up to a day of
            # minutes, ~200 kB) goes out every few seconds, and once more when it is read.
            self._backlog_sent, self._backlog_sent_at = version, now
            backlog = self._metrics.backlog.summary()
        self._send(now, Metrics(snapshot=snapshot, points=(point,), minutes=(closed,) if closed else (),
                                backlog=backlog))
        if self._recorder is not None and self._recorder.flush(now):
            # Each recorded batch starts with what is in force: a replay can start anywhere.
            self._recorder.record(now, encode(self._alerts_shown))
            self._recorder.record(now, encode(Health(report=self.health_report())))

    def _record_history(self) -> None:
        """Journal what minutes of history got since the last tick: a crash loses at most a
        second of them, like the events."""
        minutes = self._metrics.backlog.take_unsaved()  # taken without a journal too: bounded
        if minutes and self._recorder is not None:
            self._recorder.record_history(minutes)

    def _send(self, now: float, message: Metrics | Health | Alerts, *, urgent: bool = False) -> None:
        """Broadcast to consoles and record in the journal, as the same frame."""
        if self._recorder is not None:
            self._recorder.record(now, encode(message), urgent=urgent)
        if self._server is not None:
            self._server.broadcast(message)

    def _show_alerts(self) -> None:
        """The alerts changed and the change is on disk: every console sees it now. The
        journal records a change of state, ack or silence at once; live values that moved
        alone (every second while an alert is active) go with the next batch."""
        self._alerts_shown = _alerts_message(self._alerts)
        urgent = self._alerts.state_version != self._alerts_state_recorded
        self._alerts_state_recorded = self._alerts.state_version
        self._send(self._clock(), self._alerts_shown, urgent=urgent)

    def _on_health_change(self, _report: HealthReport) -> None:
        self._send(self._clock(), Health(report=self.health_report()), urgent=True)


def _comparable(sources: tuple[SourceStatus, ...]) -> list[tuple[str, str, str, int]]:
    """What a console shows of the sources: a change of any of it is broadcast."""
    return [(s.name, s.state, s.detail, s.restarts) for s in sources]


def _alerts_message(engine: AlertEngine) -> Alerts:
    return Alerts(alerts=engine.alerts(), silences=engine.silences())


class _AgentView:
    """The agent as the server sees it (:class:`obsview.backend.serving.server.AgentView`)."""

    def __init__(self, agent: Agent) -> None:
        self._agent = agent

    def hello(self) -> Hello:
        agent = self._agent
        return Hello(
            agent_version=agent.version,
            host=agent.hostname,
            service=agent.config.service,
            seq=agent.store.last_seq,
            started_at=agent.started_at,
            capabilities=CAPABILITIES,
            span_seq=agent.traces.last_seq,
            seq_epoch=agent.seq_epoch,
            thresholds=upper_thresholds(agent.config.rules),
        )

    def metrics_message(self, *, with_history: bool) -> Metrics:
        agent = self._agent
        if not with_history:
            return Metrics(snapshot=agent.snapshot())
        return Metrics(snapshot=agent.snapshot(), history=agent.metrics.history(),
                       minutes=agent.recent_minutes(), backlog=agent.metrics.backlog.summary())

    def health_message(self) -> Health:
        return Health(report=self._agent.health_report())

    def alerts_message(self) -> Alerts:
        return self._agent.alerts_shown

    def last_seq(self) -> int:
        return self._agent.store.last_seq

    async def events_since(self, seq: int, limit: int) -> tuple[list[LogEvent], int]:
        return await self._agent.history.since(seq, limit)

    def held_seqs(self, *, history: bool) -> tuple[int, int]:
        return self._agent.history.held_seqs(history=history)

    async def query_page(self, query: EventQuery, *, history: bool, limit: int) -> Page:
        return await self._agent.history.query_page(query, history=history, limit=limit)

    def held_between(self, low: int, high: int) -> int:
        return self._agent.history.held_between(low, high)

    def retention_dropped(self) -> int:
        return self._agent.history.retention_dropped()

    def last_span_seq(self) -> int:
        return self._agent.traces.last_seq

    def spans_since(self, seq: int, limit: int) -> tuple[list[Span], int]:
        return self._agent.traces.since(seq, limit)

    async def states(self, since_ts: float, until_ts: float) -> RecordedSpan:
        return await self._agent.states(since_ts, until_ts)

    def command(self, message: AlertCommand) -> Error | None:
        engine = self._agent.alerts
        try:
            if isinstance(message, Ack):
                engine.ack(message.fingerprint, message.by, message.note)
            elif isinstance(message, Unack):
                engine.unack(message.fingerprint, message.by)
            elif isinstance(message, Silence):
                silence = engine.silence(message.matchers, message.duration_s, message.by, message.reason)
                self._agent.notifier.mirror_silence(silence)
            elif isinstance(message, ExpireSilence):
                engine.expire_silence(message.silence_id, message.by)
                self._agent.notifier.expire_silence(message.silence_id)
        except UnknownAlert as exc:
            return Error(code="unknown_alert", message=str(exc))
        except AlertCommandError as exc:
            return Error(code="bad_command", message=str(exc))
        return None

    def http_get(self, path: str) -> HttpReply | None:
        agent = self._agent
        if path == "/api/health":
            report = agent.health_report()
            return HttpReply(http_status(report), JSON_TYPE, orjson.dumps(health_json(report)))
        if path == "/api/metrics":
            return HttpReply(200, JSON_TYPE, orjson.dumps(agent.metrics.seed_json()))
        if path == "/api/alerts":
            return HttpReply(200, JSON_TYPE, orjson.dumps(agent.alerts.api_json()))
        if path == "/metrics":
            # Here, not at the top: prometheus_client (~2 MiB resident) is loaded by the
            # agents that are scraped only.
            from obsview.backend.serving import prometheus

            body = prometheus.render_prometheus(
                agent.metrics, agent.health_report(), agent.alerts.alerts(), agent.counters(),
                agent.gauges(),
            )
            return HttpReply(200, prometheus.CONTENT_TYPE, body)
        return None


async def _wait_listening(address: tuple[str, int], supervised: Supervised) -> None:
    """A listening source that cannot bind must fail ``start``, not retry quietly later."""
    source = supervised.source
    assert isinstance(source, StreamListener)
    kind = source.described
    try:
        await _wait_ready(supervised, source.listening, kind)
    except OSError as exc:
        raise StartupError(f"{kind}: {_bind_problem(address, exc)}") from None


async def _wait_ready(supervised: Supervised, ready: asyncio.Event, kind: str) -> None:
    """Until ``ready`` is set; StartupError if the source's first run fails or takes too long
    (an OSError it failed with is raised as is, for the caller to explain)."""
    waiting = asyncio.ensure_future(ready.wait())
    failed = asyncio.ensure_future(supervised.failed.wait())
    try:
        done, _ = await asyncio.wait(
            {waiting, failed}, timeout=SOURCE_START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiting.cancel()
        failed.cancel()
    name = supervised.source.name
    if not done:
        raise StartupError(f"{kind} {name} did not start")
    exc = supervised.last_error
    if failed in done and not ready.is_set() and exc is not None:
        if isinstance(exc, OSError):
            raise exc
        raise StartupError(f"{kind} {name}: {exc}")


def _bind_problem(listen: tuple[str, int], exc: OSError) -> str:
    address = format_host_port(*listen)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{address} is already in use — is another obsview-agent running?"
            f" use --listen {format_host_port(listen[0], 0)} for any free port, or stop the other process"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on {address} (ports below 1024 need privileges); pick another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {address}: no such local address"
    return f"cannot listen on {address}: {exc.strerror or exc}"


def _report_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %s", task.get_name(), task.exception(), exc_info=task.exception())
