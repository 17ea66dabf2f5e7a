"""What a console watching several agents shows: their messages made into one dashboard's.

Each agent's client hands its messages here with its host's name (:meth:`FleetView.receive`);
what comes out is what the dashboard already knows how to show for one agent:

* log events go through :class:`~obsview.tui.fleet_merge.EventMerger` and come out of
  :meth:`FleetView.release` in event-time order, each tagged with its host;
* metrics become the fleet's (:func:`~obsview.tui.fleet_metrics.fleet_snapshot`, summed
  histograms) over the hosts that are connected, taken once a second (:meth:`take_metrics`);
  the charts' history, when a host sends its own (on every subscribe), is the hosts'
  per-second histories summed: request rates add and error rates weigh by traffic, but
  percentiles exist only for the seconds the console itself saw every host's histogram
  (the history points carry no buckets: no fleet p95 can be made of them);
* alerts and silences from every host make one list: each alert gets a ``host`` label (the
  alert feed shows label values beside the rule) and a fingerprint ``HOST/FINGERPRINT``, so
  two hosts firing the same rule are two rows, and :meth:`FleetView.route` sends an ack or a
  silence to the agent that owns the alert, as that agent knows it;
* health: every host's probes and sources, named ``HOST: probe``; the worst status wins;
* a gap or drops: a :class:`HostNote`, whose marker line in the log names the host.

Per host it keeps what the Hosts panel shows (:class:`HostStatus`). Pure Python, no I/O, no
Textual: the clock is the ``now`` passed in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from msgspec.structs import replace

from obsview.common.protocol import (
    HEALTH_STATUSES,
    Ack,
    AlertInfo,
    Alerts,
    CatchUp,
    Dropped,
    Error,
    Events,
    ExpireSilence,
    Gap,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    Message,
    Metrics,
    MetricsPoint,
    MetricsSnapshot,
    Silence,
    SilenceInfo,
    Skipped,
    SpanGap,
    Spans,
    Unack,
)
from obsview.tui.fleet_merge import DEFAULT_CAPACITY, DEFAULT_HOLD_S, EventMerger
from obsview.tui.fleet_metrics import fleet_snapshot
from obsview.tui.hosts import HOST_LABEL, HostNote

if TYPE_CHECKING:
    from obsview.tui.client import ConnectionState

#: Seconds of chart history kept per host and for the fleet (the agent keeps 900 too).
HISTORY_POINTS: Final = 900
_SEPARATOR: Final = "/"


def _point(snapshot: MetricsSnapshot) -> MetricsPoint:
    return MetricsPoint(ts=snapshot.ts, rate=snapshot.rate_1m, error_rate=snapshot.error_rate_1m,
                        p50_ms=snapshot.p50_ms, p95_ms=snapshot.p95_ms, p99_ms=snapshot.p99_ms)


class NotRoutable(ValueError):
    """A message for an agent that names no host of this console (the text says why)."""


@dataclass(slots=True)
class HostStatus:
    """One host as the Hosts panel shows it."""

    name: str
    url: str
    state: ConnectionState | None = None
    hello: Hello | None = None
    metrics: MetricsSnapshot | None = None
    health: HealthReport | None = None
    alerts: tuple[AlertInfo, ...] = ()
    silences: tuple[SilenceInfo, ...] = ()
    events: int = 0
    """Events received from this host over the console's life."""
    skipped: int = 0
    """Events the agent held back while catching up (scroll back on that agent for them)."""
    catch_up: CatchUp | None = None
    points: deque[MetricsPoint] = field(default_factory=lambda: deque(maxlen=HISTORY_POINTS))
    """This host's per-second history: what it sent on subscribing, then its snapshots."""

    @property
    def live(self) -> bool:
        return self.state is not None and self.state.status == "connected"

    @property
    def gap(self) -> int:
        return self.state.gap_total if self.state is not None else 0

    @property
    def dropped(self) -> int:
        return self.state.dropped_total if self.state is not None else 0


@dataclass(slots=True)
class FleetView:
    hosts: dict[str, HostStatus]
    merger: EventMerger = field(default_factory=EventMerger)
    _metrics_changed: bool = False
    _history_changed: bool = False
    _fleet_points: dict[int, MetricsPoint] = field(default_factory=dict)
    """The fleet's own points (percentiles from summed histograms), by second."""

    @classmethod
    def of(cls, hosts: Iterable[tuple[str, str]], *, hold_s: float = DEFAULT_HOLD_S,
           capacity: int = DEFAULT_CAPACITY) -> FleetView:
        """``hosts``: (name, url) pairs, in the order they are shown."""
        return cls({name: HostStatus(name, url) for name, url in hosts},
                   EventMerger(hold_s=hold_s, capacity=capacity))

    # ------------------------------------------------------------------ incoming

    def connection_changed(self, host: str, state: ConnectionState) -> None:
        status = self.hosts[host]
        status.state = state
        self.merger.set_live(host, status.live)

    def receive(self, host: str, message: Message, now: float) -> list[object]:
        """Take one message from ``host``; return what the dashboard should apply now."""
        status = self.hosts[host]
        if isinstance(message, Events):
            status.events += len(message.events)
            self.merger.push(host, message.events, now)
            if self.merger.held > 2 * self.merger.capacity:
                # A loop that has not flushed for a long while: the merger stays bounded.
                return [Events(events=tuple(self.merger.release(now)))]
            return []
        if isinstance(message, Metrics):
            status.metrics = message.snapshot
            self._metrics_changed = True
            if message.history:
                status.points.clear()
                status.points.extend(message.history)
                self._history_changed = True
            if not status.points or message.snapshot.ts > status.points[-1].ts:
                status.points.append(_point(message.snapshot))
            return []
        if isinstance(message, Alerts):
            status.alerts, status.silences = message.alerts, message.silences
            return [self.alerts()]
        if isinstance(message, Health):
            status.health = message.report
            report = self.health()
            return [] if report is None else [Health(report=report)]
        if isinstance(message, Hello):
            status.hello = message
            return []
        if isinstance(message, (Gap, Dropped)):
            return [HostNote(host, message)]
        if isinstance(message, (Spans, SpanGap)):
            return [message]
        if isinstance(message, Error):
            return [Error(code=message.code, message=f"{host}: {message.message}")]
        if isinstance(message, CatchUp):
            status.catch_up = None if message.done else message
        elif isinstance(message, Skipped):
            status.skipped += message.count
        # Query pages (history is per agent), pongs, unknown types: nothing to show here.
        return []

    def release(self, now: float) -> list[LogEvent]:
        """The merged events whose time has come, oldest first."""
        return self.merger.release(now)

    # ------------------------------------------------------------------ merged panels

    def fleet_metrics(self) -> MetricsSnapshot | None:
        """The connected hosts' traffic as one snapshot (every host's, if none is)."""
        shots = {name: s.metrics for name, s in self.hosts.items() if s.metrics is not None and s.live}
        if not shots:
            shots = {name: s.metrics for name, s in self.hosts.items() if s.metrics is not None}
        return fleet_snapshot(shots)

    def take_metrics(self) -> Metrics | None:
        """The fleet's snapshot if a host reported since the last call (the console asks
        once a second: one chart point a second, made of every host's latest, not one per
        host's report)."""
        if not self._metrics_changed:
            return None
        self._metrics_changed = False
        fleet = self.fleet_metrics()
        if fleet is None:
            return None
        second = int(fleet.ts)
        self._fleet_points[second] = replace(_point(fleet), ts=float(second))
        while len(self._fleet_points) > HISTORY_POINTS:
            del self._fleet_points[min(self._fleet_points)]
        if not self._history_changed:
            return Metrics(snapshot=fleet)
        self._history_changed = False
        return Metrics(snapshot=fleet, history=self.merged_history(before=fleet.ts))

    def merged_history(self, *, before: float) -> tuple[MetricsPoint, ...]:
        """Every host's per-second points summed by second (older than ``before``), with the
        fleet's own percentiles where the console has them."""
        rates: dict[int, float] = {}
        failed: dict[int, float] = {}
        for status in self.hosts.values():
            for point in status.points:
                if point.ts >= before:
                    continue
                second = int(point.ts)
                rates[second] = rates.get(second, 0.0) + point.rate
                failed[second] = failed.get(second, 0.0) + point.rate * point.error_rate
        seconds = set(rates) | {second for second in self._fleet_points if second < before}
        merged = []
        for second in sorted(seconds)[-HISTORY_POINTS:]:
            own = self._fleet_points.get(second)
            if own is not None:  # what the console showed live: the fleet's own figures
                merged.append(own)
                continue
            rate = rates[second]
            merged.append(MetricsPoint(ts=float(second), rate=rate,
                                       error_rate=failed[second] / rate if rate else 0.0,
                                       p50_ms=None, p95_ms=None, p99_ms=None))
        return tuple(merged)

    def alerts(self) -> Alerts:
        alerts: list[AlertInfo] = []
        silences: list[SilenceInfo] = []
        for name, status in self.hosts.items():
            alerts.extend(
                replace(alert, fingerprint=f"{name}{_SEPARATOR}{alert.fingerprint}",
                        labels={**alert.labels, HOST_LABEL: name},
                        silenced_by=alert.silenced_by and f"{name}{_SEPARATOR}{alert.silenced_by}")
                for alert in status.alerts)
            silences.extend(
                replace(silence, id=f"{name}{_SEPARATOR}{silence.id}",
                        matchers={**silence.matchers, HOST_LABEL: name})
                for silence in status.silences)
        return Alerts(alerts=tuple(alerts), silences=tuple(silences))

    def health(self) -> HealthReport | None:
        reports = [(name, s.health) for name, s in self.hosts.items() if s.health is not None]
        if not reports:
            return None
        rank = {status: i for i, status in enumerate(HEALTH_STATUSES)}
        worst = max((report.status for _, report in reports), key=lambda s: rank.get(s, len(rank)))
        return HealthReport(
            status=worst,
            ts=max(report.ts for _, report in reports),
            uptime_s=min(report.uptime_s for _, report in reports),
            version=reports[0][1].version,
            probes=tuple(replace(probe, name=f"{name}: {probe.name}")
                         for name, report in reports for probe in report.probes),
            sources=tuple(replace(source, name=f"{name}: {source.name}")
                          for name, report in reports for source in report.sources),
        )

    # ------------------------------------------------------------------ outgoing

    def route(self, message: Message) -> tuple[str, Message]:
        """(host, the message as that host's agent knows it) for an ack, unack, silence or
        silence expiry made on the merged feed."""
        if isinstance(message, (Ack, Unack)):
            host, fingerprint = self._split(message.fingerprint, "alert")
            return host, replace(message, fingerprint=fingerprint)
        if isinstance(message, ExpireSilence):
            host, silence_id = self._split(message.silence_id, "silence")
            return host, replace(message, silence_id=silence_id)
        if isinstance(message, Silence):
            host = message.matchers.get(HOST_LABEL, "")
            if host not in self.hosts:
                raise NotRoutable("a silence here must name its host (host=NAME)")
            matchers = {key: value for key, value in message.matchers.items() if key != HOST_LABEL}
            return host, replace(message, matchers=matchers)
        raise NotRoutable(f"a {message.type!r} message goes to one agent; with several hosts "
                          "it has no single one")

    def _split(self, key: str, what: str) -> tuple[str, str]:
        host, _, rest = key.partition(_SEPARATOR)
        if host not in self.hosts or not rest:
            raise NotRoutable(f"the {what} {key!r} belongs to no host of this console")
        return host, rest

