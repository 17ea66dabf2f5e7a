"""Alert rules over metrics and health, with acknowledgement and silences.

Lifecycle of one alert (one per fingerprint = rule name + labels): the condition holds →
``pending``; it held for the rule's ``for`` duration → ``firing``; it stopped holding for
``keep_firing_for`` → ``resolved`` (a pending alert whose condition stops just disappears).
Resolved alerts stay visible for a while, then drop. An **ack** (who, when, note) marks a
firing alert as handled: it stays visible, is no longer re-notified, and is cleared when the
alert resolves, so the next occurrence alerts again. A **silence** (label matchers, expiry,
reason) mutes notifications for matching alerts until it expires.

Metrics a rule may use (:data:`METRICS`): fractions are 0..1 (0.05 is 5 %), percentages 0..100.
- ``error_rate`` (the seed's "failed": status >= 400), ``error_rate_5xx`` (server errors:
  status >= 500), ``request_rate`` (per second): over ``window`` 1m, 5m or 15m;
- ``p50_ms``, ``p95_ms``, ``p99_ms``, ``latency_avg_ms``: last minute, absent without traffic;
- ``cache_hit_rate``: last 5 minutes, absent without cache traffic;
- ``memory_percent``, ``disk_percent``, ``cpu_percent``, ``load_1m``: host gauges;
- ``probe_unhealthy``: 1 for an unhealthy probe, else 0 — one alert per probe (label ``probe``).
An absent value never satisfies a condition.

An alert's ``value`` is live: every evaluation sets it to the metric's value now, while the
alert is pending or firing (a firing alert shows what the panels show, not what it fired
with); it also keeps its ``peak`` (the worst value meanwhile), the value it fired with, and
the value at its resolve. Values that change alone (no state change) are sent to consoles
and written to the state file like any change.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

import msgspec

from obsview.backend.config_tables import BadValue, NonEmpty, Table, convert_section, reject_repeated_names
from obsview.backend.durations import Seconds
from obsview.backend.errors import ObsviewError
from obsview.backend.ingest.redact import redact_text
from obsview.backend.signals.alert_state import encode_state, load_state
from obsview.common.atomic_file import BackgroundWriter
from obsview.common.protocol import SEVERITIES, AckInfo, AlertInfo, HealthReport, MetricsSnapshot, Severity, SilenceInfo

log = logging.getLogger(__name__)

Comparison = Literal[">", ">=", "<", "<="]
COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
Window = Literal["1m", "5m", "15m"]
_WINDOWED: Final = frozenset({"error_rate", "error_rate_5xx", "request_rate"})
_FRACTIONS: Final = frozenset({"error_rate", "error_rate_5xx", "cache_hit_rate"})
Metric = Literal[
    "error_rate", "error_rate_5xx", "request_rate", "p50_ms", "p95_ms", "p99_ms", "latency_avg_ms", "cache_hit_rate",
    "memory_percent", "disk_percent", "cpu_percent", "load_1m", "probe_unhealthy",
]
METRICS: Final = frozenset(get_args(Metric))
_TRAFFIC: Final = frozenset({"error_rate", "error_rate_5xx", "p50_ms", "p95_ms", "p99_ms", "latency_avg_ms"})
_WINDOW_S: Final = {"1m": 60.0, "5m": 300.0, "15m": 900.0}
RESOLVED_RETENTION_S: Final = 300.0
MAX_RESOLVED: Final = 100
# Operator input is bounded: it is stored, persisted, and sent in every Alerts frame to every
# console (ten 900 KB silence reasons once made a 9 MB frame that consoles refused).
MAX_NOTE_CHARS: Final = 1000
"""An ack note or a silence reason."""
MAX_NAME_CHARS: Final = 200
"""Who acted (``by``), a matcher's label name or value."""
MAX_MATCHERS: Final = 20
MAX_SILENCES: Final = 100
"""Active silences at once."""
MAX_SILENCE_S: Final = 90 * 86400.0


class AlertCommandError(ObsviewError):
    """An ack, unack or silence that cannot be applied; the message goes to that console only."""


class UnknownAlert(AlertCommandError):
    """No alert (or silence) with that id."""


def _check_text(what: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise AlertCommandError(f"{what} is {len(text)} characters long; at most {limit}")


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    metric: str
    op: str
    threshold: float
    window: str = "1m"
    for_s: float = 0.0
    severity: str = "warning"
    labels: Mapping[str, str] = field(default_factory=dict)
    keep_firing_for_s: float = 0.0
    summary: str = ""
    """``str.format`` template: ``{value}``, ``{threshold}`` and the labels (``{probe}``)."""
    min_requests: int = 0
    """For traffic metrics (error rate, latency): below this many requests in the window the
    value counts as absent, so one 404 in a quiet minute is not a 100 % error rate."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One alert changed state. ``previous`` is ``"inactive"`` for a new alert; ``current``
    is ``"inactive"`` when a pending alert's condition went away before it fired."""

    alert: AlertInfo
    previous: str
    current: str
    at: float


DEFAULT_RULES: Final = (
    AlertRule("high_error_rate", "error_rate", ">", 0.05, "1m", 60.0, "critical",
              keep_firing_for_s=60.0, summary="Error rate {value} is above {threshold}",
              min_requests=20),
    AlertRule("slow_responses", "p95_ms", ">", 1000.0, "1m", 120.0, "warning",
              keep_firing_for_s=60.0, summary="p95 response time {value} is above {threshold}",
              min_requests=20),
    AlertRule("high_memory", "memory_percent", ">", 80.0, "1m", 300.0, "warning",
              summary="Memory use {value} is above {threshold}"),
    AlertRule("high_disk", "disk_percent", ">", 90.0, "1m", 300.0, "critical",
              summary="Disk use {value} is above {threshold}"),
    AlertRule("low_cache_hit_rate", "cache_hit_rate", "<", 0.7, "1m", 300.0, "info",
              summary="Cache hit rate {value} is below {threshold}"),
    AlertRule("probe_unhealthy", "probe_unhealthy", ">=", 1.0, "1m", 0.0, "critical",
              summary="Probe {probe} is unhealthy"),
)
"""The seed's thresholds: error rate > 5 %, p95 > 1000 ms, memory > 80 %, disk > 90 %,
cache hit rate < 70 % (only with cache traffic), and any probe unhealthy."""


_COLOURED: Final = frozenset({"error_rate", "p50_ms", "p95_ms", "p99_ms", "latency_avg_ms"})


def upper_thresholds(rules: Sequence[AlertRule]) -> dict[str, float]:
    """What a console colours figures by: for each traffic metric a rule fires *above*
    (``>``/``>=``), the lowest such threshold (the first a figure crosses)."""
    found: dict[str, float] = {}
    for rule in rules:
        if rule.metric in _COLOURED and rule.op in (">", ">="):
            found[rule.metric] = min(rule.threshold, found.get(rule.metric, rule.threshold))
    return found


# --------------------------------------------------------------------------- config


class RuleTable(Table):
    """An ``[[alerts.rules]]`` table: what each key means is :class:`AlertRule`'s."""

    name: NonEmpty
    metric: Metric
    threshold: float
    op: Comparison = ">"
    window: Window = "1m"
    for_: Seconds = msgspec.field(name="for", default=Seconds(0))
    severity: Severity = "warning"
    labels: dict[str, str] = {}
    keep_firing_for: Seconds = Seconds(0)
    summary: str = ""
    min_requests: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __post_init__(self) -> None:
        if self.window != "1m" and self.metric not in _WINDOWED:
            raise BadValue("window", f"only {' and '.join(sorted(_WINDOWED))} take a window")
        if {"alertname", "severity", "probe"} & set(self.labels):
            raise BadValue("labels", "alertname, severity and probe are set by obsview")
        if self.min_requests and self.metric not in _TRAFFIC:
            raise BadValue("min_requests", f"only {', '.join(sorted(_TRAFFIC))} take it")
        try:
            _summary(self.rule(), 1.0, {"probe": "x", **self.labels})
        except (KeyError, IndexError, ValueError) as exc:
            raise BadValue("summary", f"bad placeholder {exc}") from None

    def rule(self) -> AlertRule:
        return AlertRule(self.name, self.metric, self.op, self.threshold, self.window, float(self.for_),
                         self.severity, dict(self.labels), float(self.keep_firing_for), self.summary,
                         self.min_requests)


class AlertsTable(Table):
    """The ``[alerts]`` table: with no ``rules``, there are none (not the seed's)."""

    rules: list[RuleTable] = []


def rules_of(tables: Sequence[RuleTable]) -> list[AlertRule]:
    """The rules of ``[[alerts.rules]]`` tables; ConfigError at a name an earlier rule took."""
    rules = [table.rule() for table in tables]
    reject_repeated_names([rule.name for rule in rules], ("alerts", "rules"))
    return rules


def parse_rules(raw: object) -> list[AlertRule]:
    """``[[alerts.rules]]`` tables → rules. Raises ConfigError naming the key path."""
    return rules_of(convert_section(raw, list[RuleTable], ("alerts", "rules")))


# --------------------------------------------------------------------------- evaluation


def format_value(metric: str, value: float | None) -> str:
    """A rule's value in its unit (``20.0%``, ``812 ms``), ``n/a`` when absent: what
    summaries and notifications write."""
    return "n/a" if value is None else _format(metric, value)


def worse(op: str, value: float, than: float) -> bool:
    """``value`` is further past the threshold than ``than``: higher for a ``>``/``>=``
    rule, lower for ``<``/``<=``."""
    return value > than if op in (">", ">=") else value < than


def _format(metric: str, value: float) -> str:
    if metric == "probe_unhealthy":  # 1 or 0: a state, not a number to read
        return "unhealthy" if value >= 1 else "healthy"
    if metric in _FRACTIONS:
        return f"{value * 100:.1f}%"
    if metric.endswith("_ms"):
        return f"{value:.0f} ms"
    if metric.endswith("_percent"):
        return f"{value:.1f}%"
    return f"{value:g}"


#: How a rule's comparison reads for a person (a config writes ``>=``).
OP_SYMBOLS: Final = {">": ">", ">=": "≥", "<": "<", "<=": "≤"}


def _summary(rule: AlertRule, value: float | None, labels: Mapping[str, str]) -> str:
    shown = "n/a" if value is None else _format(rule.metric, value)
    template = rule.summary or "{metric} {op} {threshold}: {value}"
    return template.format(**{**labels, "metric": rule.metric, "op": OP_SYMBOLS.get(rule.op, rule.op),
                              "value": shown, "threshold": _format(rule.metric, rule.threshold)})


def _instances(rule: AlertRule, snapshot: MetricsSnapshot, health: HealthReport | None
               ) -> Iterator[tuple[dict[str, str], float | None]]:
    """(extra labels, current value) for each thing the rule watches."""
    metric = rule.metric
    if metric == "probe_unhealthy":
        for probe in health.probes if health is not None else ():
            yield {"probe": probe.name}, 1.0 if probe.status == "unhealthy" else 0.0
    elif rule.min_requests and _requests_in(snapshot, rule.window) < rule.min_requests:
        yield {}, None
    elif metric in _WINDOWED:
        yield {}, getattr(snapshot, f"{'rate' if metric == 'request_rate' else metric}_{rule.window}")
    else:
        yield {}, getattr(snapshot, metric)


def _requests_in(snapshot: MetricsSnapshot, window: str) -> float:
    rate: float = getattr(snapshot, f"rate_{window}")
    # Rates cover only the seconds since start while the window is not yet full.
    return rate * min(_WINDOW_S[window], max(snapshot.uptime_s, 1.0))


def fingerprint(labels: Mapping[str, str]) -> str:
    digest = hashlib.sha256("\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items())).encode())
    return digest.hexdigest()[:16]


def _matches(silence: SilenceInfo, labels: Mapping[str, str]) -> bool:
    return all(labels.get(name) == value for name, value in silence.matchers.items())


@dataclass(slots=True)
class _Alert:
    fingerprint: str
    rule: AlertRule
    labels: dict[str, str]
    state: str
    value: float | None
    started_at: float
    last_true_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    ack: AckInfo | None = None
    peak: float | None = None
    fired_value: float | None = None
    resolved_value: float | None = None

    def observe(self, value: float | None) -> bool:
        """The metric's value now: the alert's current value, and its peak. True when
        either changed."""
        changed = value != self.value
        self.value = value
        if value is not None and (self.peak is None or worse(self.rule.op, value, self.peak)):
            self.peak = value
            changed = True
        return changed

    @property
    def summary_value(self) -> float | None:
        """The value its summary quotes: the one it fired with; while pending, the current
        one (a pending alert's condition holds now, else it is gone)."""
        return self.value if self.fired_value is None else self.fired_value


class AlertEngine:
    def __init__(
        self,
        rules: Sequence[AlertRule],
        *,
        clock: Callable[[], float] = time.time,
        state_path: Path | None = None,
        resolved_retention_s: float = RESOLVED_RETENTION_S,
        max_resolved: int = MAX_RESOLVED,
    ) -> None:
        self._rules = {rule.name: rule for rule in rules}
        self._clock = clock
        self._state_path: Path | None = None
        self._writer: BackgroundWriter | None = None
        self.on_saved: Callable[[], None] | None = None
        """Called once a change is on disk (at once without a state file): what a console
        is shown of the alerts is what survives a crash."""
        self.save_failures = 0
        """State writes that failed (disk full, read-only directory): counted, retried with
        the next change."""
        self._retention = resolved_retention_s
        self._active: dict[str, _Alert] = {}
        self._resolved: deque[_Alert] = deque(maxlen=max_resolved)
        self._silences: dict[str, SilenceInfo] = {}
        self.version = 0
        """Bumps on every change a console would see: state, ack, silence, a live value."""
        self.state_version = 0
        """Bumps on every change but a live value's alone."""
        if state_path is not None:
            self.attach_state(state_path)

    def attach_state(self, path: Path) -> None:
        """Load the state saved in ``path`` and keep it there from now on (the agent calls
        this once it holds the lock on its state directory)."""
        self._state_path = path
        self._writer = BackgroundWriter(path, self._save_failed, self._saved)
        self._load()

    # ------------------------------------------------------------------ reading

    def alerts(self) -> tuple[AlertInfo, ...]:
        now = self._clock()
        order = {"firing": 0, "pending": 1, "resolved": 2}
        rank = {severity: i for i, severity in enumerate(SEVERITIES)}
        every = [*self._active.values(), *reversed(self._resolved)]
        every.sort(key=lambda a: (order[a.state], rank[a.rule.severity], -a.started_at))
        return tuple(self._info(alert, now) for alert in every)

    def silences(self) -> tuple[SilenceInfo, ...]:
        now = self._clock()
        return tuple(s for s in self._silences.values() if s.ends_at > now)

    def api_json(self) -> dict[str, Any]:
        """``GET /api/alerts``: every visible alert and active silence, times in Unix seconds."""
        alerts = self.alerts()
        counts = {state: sum(a.state == state for a in alerts) for state in ("firing", "pending", "resolved")}
        return {
            "version": self.version,
            "counts": counts,
            "alerts": msgspec.to_builtins(alerts),
            "silences": msgspec.to_builtins(self.silences()),
        }

    def _info(self, alert: _Alert, now: float) -> AlertInfo:
        rule = alert.rule
        silence = next((s.id for s in self._silences.values() if s.ends_at > now and _matches(s, alert.labels)), "")
        return AlertInfo(
            fingerprint=alert.fingerprint, rule=rule.name, severity=rule.severity, state=alert.state,
            metric=rule.metric, comparison=rule.op, threshold=rule.threshold, value=alert.value,
            summary=_summary(rule, alert.summary_value, alert.labels), labels=dict(alert.labels),
            started_at=alert.started_at, fired_at=alert.fired_at, resolved_at=alert.resolved_at,
            ack=alert.ack, silenced_by=silence, peak=alert.peak, fired_value=alert.fired_value,
            resolved_value=alert.resolved_value,
        )

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, snapshot: MetricsSnapshot, health: HealthReport | None) -> list[Transition]:
        now = self._clock()
        transitions: list[Transition] = []
        changed = self._expire(now)
        seen: set[str] = set()
        values_changed = False
        for rule in self._rules.values():
            compare = COMPARISONS[rule.op]
            for extra, value in _instances(rule, snapshot, health):
                labels = {"alertname": rule.name, "severity": rule.severity, **rule.labels, **extra}
                key = fingerprint(labels)
                seen.add(key)
                alert = self._active.get(key)
                if alert is not None:
                    values_changed |= alert.observe(value)
                if value is not None and compare(value, rule.threshold):
                    if alert is None:
                        alert = self._open(key, rule, labels, value, now, transitions)
                    alert.last_true_at = now
                    if alert.state == "pending" and now - alert.started_at >= rule.for_s:
                        alert.state, alert.fired_at, alert.fired_value = "firing", now, value
                        transitions.append(Transition(self._info(alert, now), "pending", "firing", now))
                elif alert is not None:
                    self._condition_gone(alert, now, transitions)
        for key in [key for key in self._active if key not in seen]:  # e.g. a probe removed
            values_changed |= self._active[key].observe(None)
            self._condition_gone(self._active[key], now, transitions)
        if transitions or changed:
            self._changed()
        elif values_changed:
            self._changed(values_only=True)
        return transitions

    def _open(self, key: str, rule: AlertRule, labels: dict[str, str], value: float, now: float,
              transitions: list[Transition]) -> _Alert:
        # One alert per fingerprint: a new occurrence replaces the resolved one still shown.
        for old in [a for a in self._resolved if a.fingerprint == key]:
            self._resolved.remove(old)
        alert = _Alert(key, rule, labels, "pending", value, now, now, peak=value)
        self._active[key] = alert
        transitions.append(Transition(self._info(alert, now), "inactive", "pending", now))
        return alert

    def _condition_gone(self, alert: _Alert, now: float, transitions: list[Transition]) -> None:
        if alert.state == "pending":
            del self._active[alert.fingerprint]
            transitions.append(Transition(self._info(alert, now), "pending", "inactive", now))
        elif now - alert.last_true_at >= alert.rule.keep_firing_for_s:
            del self._active[alert.fingerprint]
            alert.state, alert.resolved_at, alert.ack = "resolved", now, None
            alert.resolved_value = alert.value  # observed this evaluation: the value now
            self._resolved.append(alert)
            transitions.append(Transition(self._info(alert, now), "firing", "resolved", now))

    def _expire(self, now: float) -> bool:
        expired = [s.id for s in self._silences.values() if s.ends_at <= now]
        for silence_id in expired:
            del self._silences[silence_id]
        dropped = 0
        while self._resolved and now - (self._resolved[0].resolved_at or now) >= self._retention:
            self._resolved.popleft()
            dropped += 1
        return bool(expired or dropped)

    # ------------------------------------------------------------------ commands

    def ack(self, fingerprint: str, by: str, note: str = "") -> AlertInfo:
        _check_text("by", by, MAX_NAME_CHARS)
        _check_text("the note", note, MAX_NOTE_CHARS)
        alert = self._find(fingerprint)
        # Operator text goes to every console, /api/alerts, the state file and notifications:
        # a token pasted into a note is redacted like one in a log line.
        alert.ack = AckInfo(by=redact_text(by), at=self._clock(), note=redact_text(note))
        self._changed()
        return self._info(alert, self._clock())

    def unack(self, fingerprint: str, by: str) -> AlertInfo:
        alert = self._find(fingerprint)
        if alert.ack is not None:
            log.info("alert %s unacknowledged by %s", fingerprint, by)
            alert.ack = None
            self._changed()
        return self._info(alert, self._clock())

    def silence(self, matchers: Mapping[str, str], duration_s: float, by: str, reason: str = "") -> SilenceInfo:
        if not matchers or not all(isinstance(k, str) and isinstance(v, str) for k, v in matchers.items()):
            raise AlertCommandError("a silence needs at least one label matcher (name = exact value)")
        if not 0 < duration_s <= MAX_SILENCE_S:
            raise AlertCommandError(
                f"a silence lasts more than 0 s and at most {MAX_SILENCE_S / 86400:g} days, got {duration_s!r} s"
            )
        if len(matchers) > MAX_MATCHERS:
            raise AlertCommandError(f"a silence takes at most {MAX_MATCHERS} matchers, got {len(matchers)}")
        for name, value in matchers.items():
            _check_text("a matcher", name, MAX_NAME_CHARS)
            _check_text("a matcher", value, MAX_NAME_CHARS)
        _check_text("by", by, MAX_NAME_CHARS)
        _check_text("the reason", reason, MAX_NOTE_CHARS)
        now = self._clock()
        if self._expire(now):
            self._changed()
        if len(self._silences) >= MAX_SILENCES:
            raise AlertCommandError(f"{MAX_SILENCES} silences are active already: expire one first")
        silence = SilenceInfo(id=uuid.uuid4().hex[:12], matchers=dict(matchers), starts_at=now,
                              ends_at=now + duration_s, by=redact_text(by), reason=redact_text(reason))
        self._silences[silence.id] = silence
        self._changed()
        return silence

    def expire_silence(self, silence_id: str, by: str) -> None:
        if self._silences.pop(silence_id, None) is None:
            raise UnknownAlert(f"no active silence with id {silence_id!r}")
        log.info("silence %s expired by %s", silence_id, by)
        self._changed()

    def _find(self, fingerprint: str) -> _Alert:
        alert = self._active.get(fingerprint)
        if alert is None:
            # A resolved alert by its rule's name (what every screen shows), not only its hash.
            resolved = next((a for a in self._resolved if a.fingerprint == fingerprint), None)
            if resolved is not None:
                raise UnknownAlert(f"alert {resolved.rule.name} ({fingerprint}) is already resolved")
            raise UnknownAlert(f"alert {fingerprint!r} is unknown")
        return alert

    # ------------------------------------------------------------------ persistence

    def _changed(self, *, values_only: bool = False) -> None:
        """Every change is written at once, off the event loop; changes made while a write is
        in flight go together in the next one. ``on_saved`` follows each write: a change is
        shown once it would survive a crash. (A write that fails still shows it: the agent
        goes on from memory, and says so.) ``values_only``: only live values moved (no state,
        ack or silence): :attr:`state_version` stays, so the agent need not hurry it into
        its journal."""
        self.version += 1
        if not values_only:
            self.state_version += 1
        if self._writer is None:
            self._saved()
            return
        now = self._clock()
        self._writer.submit(encode_state([self._info(a, now) for a in self._active.values()],
                                         self.silences()))

    def _saved(self) -> None:
        if self.on_saved is not None:
            self.on_saved()

    def save(self) -> None:
        """Write acks, silences and active alerts to the state file now (never raises)."""
        if self._writer is not None:
            now = self._clock()
            self._writer.write_now(encode_state([self._info(a, now) for a in self._active.values()],
                                                self.silences()))

    async def aclose(self) -> None:
        """Finish the write in flight and write what is pending (the agent's stop)."""
        if self._writer is not None:
            await self._writer.aclose()

    def _save_failed(self, exc: OSError) -> None:
        self.save_failures += 1  # from the writer's thread: a count, read by the agent
        log.warning("cannot save alert state to %s: %s (kept in memory, written with the next "
                    "change)", self._state_path, exc)

    def _load(self) -> None:
        if self._state_path is None:
            return
        alerts, silences = load_state(self._state_path)
        now = self._clock()
        self._silences = {s.id: s for s in silences if s.ends_at > now}
        for info in alerts:
            rule = self._rules.get(info.rule)
            if rule is None or info.state not in ("pending", "firing"):
                continue  # the rule was removed from the config: its alerts go with it
            # A state file of an older agent has no peak nor fired value: its ``value`` is
            # the one the alert fired with (or, pending, went pending with).
            fired_value = info.fired_value
            if fired_value is None and info.state == "firing":
                fired_value = info.value
            self._active[info.fingerprint] = _Alert(
                info.fingerprint, rule, dict(info.labels), info.state, info.value, info.started_at,
                now, info.fired_at, None, info.ack,
                peak=info.peak if info.peak is not None else info.value, fired_value=fired_value,
            )
