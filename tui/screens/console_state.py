"""What the console knows besides the log events: plain Python, applied from wire messages.

The dashboard collects messages between two flushes and applies them here in one go; the
returned :class:`Changes` says which panels need redrawing, so a burst of messages costs one
redraw per panel, not one per message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from obsview.common.protocol import (
    AlertInfo,
    Alerts,
    BacklogStats,
    CatchUp,
    Dropped,
    Error,
    Events,
    Gap,
    Health,
    HealthReport,
    Hello,
    LogEvent,
    Message,
    Metrics,
    MetricsPoint,
    MetricsSnapshot,
    MinutePoint,
    SilenceInfo,
    Skipped,
    SpanGap,
)
from obsview.tui.hosts import HostNote
from obsview.tui.widgets.units import counted

#: The agent keeps 900 one-second points (15 minutes); so does the console.
HISTORY_LIMIT = 900
#: And a day of one-minute points.
MINUTES_LIMIT = 1440


@dataclass(frozen=True, slots=True)
class Marker:
    """A line for the log stream where events were lost, and how many."""

    text: str
    lost: int


@dataclass(slots=True)
class Changes:
    """The result of applying one batch of messages."""

    events: list[LogEvent] = field(default_factory=list)
    metrics: bool = False
    health: bool = False
    alerts: bool = False
    agent: bool = False
    stream: bool = False
    newly_firing: list[AlertInfo] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    """Lines to insert in the log stream where events were lost (a gap, drops)."""
    errors: list[Error] = field(default_factory=list)


@dataclass(slots=True)
class ConsoleState:
    hello: Hello | None = None
    metrics: MetricsSnapshot | None = None
    history: deque[MetricsPoint] = field(default_factory=lambda: deque(maxlen=HISTORY_LIMIT))
    minutes: deque[MinutePoint] = field(default_factory=lambda: deque(maxlen=MINUTES_LIMIT))
    backlog: BacklogStats | None = None
    """History the agent read late, by event time (a file from its start)."""
    health: HealthReport | None = None
    alerts: tuple[AlertInfo, ...] = ()
    silences: tuple[SilenceInfo, ...] = ()
    gap_events: int = 0
    """Events lost because the agent had already evicted them when the console resumed."""
    dropped_events: int = 0
    """Events the agent dropped because this console read too slowly."""
    spans_lost: int = 0
    """Spans the agent had evicted when the console resumed, or dropped for a slow link."""
    catch_up: CatchUp | None = None
    """The agent's progress while it reads a backlog (None when it reads none)."""
    skipped_events: int = 0
    """Events the agent did not send while catching up: it holds them (scroll back, search)."""
    _firing: set[str] = field(default_factory=set)

    def apply(self, messages: Iterable[object]) -> Changes:
        changes = Changes()
        for message in messages:
            self._apply_one(message, changes)
        return changes

    def _apply_one(self, message: object, changes: Changes) -> None:
        if isinstance(message, HostNote):
            # One host's gap or drops (a fleet console): its marker line names the host.
            marked = len(changes.markers)
            self._apply_one(message.message, changes)
            changes.markers[marked:] = [Marker(f"{message.host}: {marker.text}", marker.lost)
                                        for marker in changes.markers[marked:]]
        elif isinstance(message, Events):
            changes.events.extend(message.events)
        elif isinstance(message, Metrics):
            self._apply_metrics(message)
            changes.metrics = True
        elif isinstance(message, Health):
            self.health = message.report
            changes.health = True
        elif isinstance(message, Alerts):
            changes.newly_firing.extend(self._apply_alerts(message))
            changes.alerts = True
        elif isinstance(message, Hello):
            self.hello = message
            changes.agent = True
        elif isinstance(message, Gap):
            self.gap_events += message.missed
            changes.stream = True
            changes.markers.append(Marker(
                f"gap: {counted(message.missed, 'event')} lost here (the agent no longer had them)",
                message.missed))
        elif isinstance(message, Dropped):
            self.dropped_events += message.count
            self.spans_lost += message.spans
            changes.stream = True
            if message.count:
                changes.markers.append(Marker(
                    f"{counted(message.count, 'event')} dropped here (the link to this console was too slow)",
                    message.count))
        elif isinstance(message, CatchUp):
            self.catch_up = None if message.done else message
            changes.stream = True
        elif isinstance(message, Skipped):
            self.skipped_events += message.count
            changes.stream = True
        elif isinstance(message, SpanGap):
            self.spans_lost += message.missed
            changes.stream = True
        elif isinstance(message, Error):
            changes.errors.append(message)
        # Anything else (pong, unknown types from a newer agent) changes nothing on screen.

    def _apply_metrics(self, message: Metrics) -> None:
        snapshot = message.snapshot
        if message.history:
            # A full history comes right after (re)subscribing: it replaces what we had.
            self.history.clear()
            self.history.extend(message.history)
            self.minutes.clear()
        elif message.points:
            newest = self.history[-1].ts if self.history else float("-inf")
            self.history.extend(point for point in message.points if point.ts > newest)
        elif not self.history or snapshot.ts > self.history[-1].ts:
            # An agent that sends no points (older than this console): a point of its own.
            self.history.append(
                MetricsPoint(
                    ts=snapshot.ts,
                    rate=snapshot.rate_1m,
                    error_rate=snapshot.error_rate_1m,
                    p50_ms=snapshot.p50_ms,
                    p95_ms=snapshot.p95_ms,
                    p99_ms=snapshot.p99_ms,
                )
            )
        # Minutes come whole with the history, then one at a time as each closes.
        self.minutes.extend(message.minutes)
        if message.backlog is not None:
            self.backlog = message.backlog
        self.metrics = snapshot

    def messages(self) -> list[Message]:
        """The panels' state as the messages that would show it again (an incident file)."""
        found: list[Message] = []
        if self.metrics is not None:
            found.append(Metrics(snapshot=self.metrics, history=tuple(self.history), minutes=tuple(self.minutes),
                                 backlog=self.backlog))
        if self.health is not None:
            found.append(Health(report=self.health))
        found.append(Alerts(alerts=self.alerts, silences=self.silences))
        return found

    def _apply_alerts(self, message: Alerts) -> list[AlertInfo]:
        """Store the alert list; return alerts that started firing since the last list.

        Silenced alerts are never announced. Alerts already firing in the very first list
        are announced too: whoever opens the console wants to know.
        """
        self.alerts = message.alerts
        self.silences = message.silences
        now_firing = {a.fingerprint for a in message.alerts if a.state == "firing"}
        fresh = [
            alert
            for alert in message.alerts
            if alert.fingerprint in now_firing - self._firing and not alert.silenced_by
        ]
        self._firing = now_firing
        return fresh


def minute_points(minutes: Iterable[MinutePoint]) -> list[MetricsPoint]:
    """Minutes as chart points: requests per second and failed fraction over each minute."""
    return [
        MetricsPoint(
            ts=point.ts, rate=point.requests / 60.0,
            error_rate=point.errors / point.requests if point.requests else 0.0,
            p50_ms=point.p50_ms, p95_ms=point.p95_ms, p99_ms=point.p99_ms,
        )
        for point in minutes
    ]
