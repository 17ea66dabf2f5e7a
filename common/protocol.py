"""The wire format between the agent and its consoles: the single source of truth for both.

Every frame is one JSON text message ``{"v": 1, "type": "...", ...}``. Log events always
travel in batches (:class:`Events`), never one frame per line.

Every message is a ``msgspec.Struct`` tagged by its ``type``; one :data:`msgspec.json.Decoder`
over their union parses and type-checks a frame in C, with the path of a bad field in the
error (``Expected `int`, got `str` - at `$.events[3].status```). Fields left at their
default are not written (``omit_defaults``), fields a newer peer adds are ignored, and a
well-formed frame of a type this version does not know decodes to :class:`UnknownMessage`
so receivers can skip it (forward compatibility). Value records carried inside messages
(alerts, probes, metrics) are written whole: the same records are ``/api/alerts`` and the
alert state file, which readers expect complete.
"""

from __future__ import annotations

import typing
from typing import Any, Final, Literal

import msgspec

from obsview.common.spans import Span

VERSION: Final = 1

Level = Literal["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
#: The seed's levels, most severe first. Every event carries exactly one of these.
LEVELS: Final[tuple[Level, ...]] = typing.get_args(Level)
LEVEL_RANK: Final[dict[str, int]] = {level: rank for rank, level in enumerate(LEVELS)}

HEALTH_STATUSES: Final = ("healthy", "degraded", "unhealthy")
ALERT_STATES: Final = ("pending", "firing", "resolved")
SOURCE_STATES: Final = ("reading", "waiting", "restarting", "stopped")
"""``reading``; ``waiting`` for a path that does not exist yet; ``restarting`` after an
error (with a backoff); ``stopped``: ended by itself (stdin at end of input)."""
SOURCE_STATE_LABELS: Final = {"stopped": "ended"}
"""How screens name a state whose wire name says less than the truth: a source that reached
the end of its input (stdin at EOF) *ended*; nobody stopped it. The wire keeps ``stopped``
(older consoles and ``/api/health`` readers know that word)."""
Severity = Literal["critical", "warning", "info"]
SEVERITIES: Final[tuple[str, ...]] = typing.get_args(Severity)


class ProtocolError(ValueError):
    """A frame that is not valid JSON or does not match the message it claims to be."""


# --------------------------------------------------------------------------- log events


MAX_FRAME_BYTES: Final = 8 * 1024 * 1024
"""The largest frame a console accepts; the agent never sends a bigger one (it would close
the connection with 1009 and the console would meet the same frame again on resume)."""


class LogEvent(msgspec.Struct, gc=False, omit_defaults=True):
    """One normalized log record.

    Not frozen: ``seq`` is assigned exactly once, by the agent's store, when the event is
    appended. Everything else is set by normalization and never changes afterwards.

    A msgspec struct that the cyclic GC does not track (``gc=False``): the agent's store and
    the console's buffer each hold 100k of them, and an event never takes part in a cycle
    (``extra`` holds decoded JSON values only), so no collection needs to walk them. Built in
    C, too: the agent's ingest measured 1.28x faster than with a slots dataclass. Fields
    left at their default are not written: most events have most slots empty.
    """

    ts: float
    """Unix time in seconds."""
    level: Level
    message: str
    seq: int = 0
    service: str = ""
    host: str = ""
    trace_id: str = ""
    span_id: str = ""
    request_id: str = ""
    method: str = ""
    route: str = ""
    """Route template (``/api/posts/:id``) when known, else empty."""
    path: str = ""
    """Concrete path as requested (``/api/posts/42``), query string removed."""
    status: int | None = None
    duration_ms: float | None = None
    ip: str = ""
    user_agent: str = ""
    user_id: str = ""
    cache: str = ""
    """``"hit"`` or ``"miss"`` when the record says so, else empty."""
    error_type: str = ""
    error_message: str = ""
    stack: str = ""
    source: str = ""
    """Where the line came from: a file path, ``tcp:HOST:PORT``, ``stdin``, ``asgi``…"""
    raw: str = ""
    """The original line (redacted, possibly truncated), for the detail view."""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """Fields of the record that have no slot above (redacted)."""
    truncated: bool = False
    parse_error: bool = False
    """The line claimed to be structured (started with ``{``) but did not parse."""
    redacted: bool = False

    @property
    def is_access(self) -> bool:
        """True when the event describes one finished HTTP request."""
        return self.status is not None and self.duration_ms is not None


# --------------------------------------------------------------------------- metrics


class RouteStats(msgspec.Struct, frozen=True):
    """Request figures for one route template over the last minute."""

    route: str
    method: str
    requests: int
    errors: int
    rate: float
    """Requests per second."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class MetricsPoint(msgspec.Struct, frozen=True):
    """One second of history for the console's charts."""

    ts: float
    rate: float
    error_rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class MinutePoint(msgspec.Struct, frozen=True):
    """One minute of requests, kept as long as the events (the agent's journal): enough to
    chart a day and to merge minutes into percentiles over any span."""

    ts: float
    """Start of the minute (Unix seconds)."""
    requests: int
    errors: int
    """Requests with status >= 400 (the seed's "failed")."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    latency: dict[int, int] = msgspec.field(default_factory=dict)
    """The minute's latency histogram: bucket index → requests (the agent's log buckets)."""


class BacklogStats(msgspec.Struct, frozen=True):
    """Requests the agent read long after they happened (a file from its start, a backlog),
    by their own timestamps: history, kept out of the live figures."""

    first_ts: float
    last_ts: float
    requests: int
    errors: int
    """Status ≥ 400, like the live ``errors_total``."""
    rate: float
    """Requests per second over ``first_ts``–``last_ts``."""
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    minutes: tuple[MinutePoint, ...] = ()
    """Per minute of the events' own time, oldest first (the newest day of them)."""
    routes: tuple[RouteStats, ...] = ()
    """The busiest routes over the span, rates over the span."""
    minutes_dropped: int = 0
    server_errors: int | None = None
    """Status >= 500 (server errors, among ``errors``); None from an agent that did not count
    them apart."""


class MetricsSnapshot(msgspec.Struct, frozen=True):
    """What the agent knows about the service's traffic and host, at ``ts``.

    Rates are per second; error rates are fractions (0.05 is 5 %). Latency figures are over
    the last minute; ``None`` when there was no request in that window.
    """

    ts: float
    uptime_s: float
    requests_total: int
    errors_total: int
    rate_1m: float
    rate_5m: float
    rate_15m: float
    error_rate_1m: float
    error_rate_5m: float
    error_rate_15m: float
    latency_avg_ms: float | None
    latency_min_ms: float | None
    latency_max_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    cache_hit_rate: float | None
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    load_1m: float
    routes: tuple[RouteStats, ...] = ()
    status_counts: dict[str, int] = msgspec.field(default_factory=dict)
    agent: dict[str, int] = msgspec.field(default_factory=dict)
    """The agent's own counters: events ingested, parse errors, truncated lines, drops…"""
    latency_buckets: dict[int, int] = msgspec.field(default_factory=dict)
    """The last minute's latency histogram (bucket index → requests, the layout of
    :mod:`obsview.common.histogram`): what a console watching several agents sums to get the
    fleet's percentiles (percentiles themselves do not average)."""
    latency_zero: int = 0
    """Requests of the last minute that took under the histogram's smallest value (0 ms)."""
    server_errors_total: int | None = None
    """Requests with status >= 500 (server errors) since the agent started; ``errors_total``
    and ``error_rate_*`` count the seed's "failed" (>= 400). ``None`` from an older agent."""
    error_rate_5xx_1m: float | None = None
    """The share of requests with status >= 500 over the last minute (``None``: an older
    agent, which does not count them apart)."""
    error_rate_5xx_5m: float | None = None
    error_rate_5xx_15m: float | None = None


# --------------------------------------------------------------------------- health


class ProbeStatus(msgspec.Struct, frozen=True):
    name: str
    kind: str
    """``http``, ``tcp``, ``disk`` or ``memory``."""
    target: str
    status: str
    """One of :data:`HEALTH_STATUSES`."""
    latency_ms: float | None
    error: str
    checked_at: float
    changed_at: float


class SourceStatus(msgspec.Struct, frozen=True):
    """What one of the agent's log sources is doing."""

    name: str
    """``file:/var/log/app.log``, ``tcp:127.0.0.1:5170``, ``stdin``…"""
    state: str
    """One of :data:`SOURCE_STATES`."""
    detail: str = ""
    """What it waits for (``waiting``), or the error it failed with (``restarting``)."""
    since: float = 0.0
    """When it entered this state (Unix seconds)."""
    restarts: int = 0
    """Times it failed and was restarted since the agent started."""


class HealthReport(msgspec.Struct, frozen=True):
    status: str
    """Overall status, as the seed defines it: one of :data:`HEALTH_STATUSES`. A log source
    that is restarting after an error makes a healthy agent ``degraded``."""
    ts: float
    uptime_s: float
    version: str
    probes: tuple[ProbeStatus, ...] = ()
    sources: tuple[SourceStatus, ...] = ()
    """The agent's log sources, in the order it started them."""


# --------------------------------------------------------------------------- alerts


class AckInfo(msgspec.Struct, frozen=True):
    by: str
    at: float
    note: str = ""


class SilenceInfo(msgspec.Struct, frozen=True):
    id: str
    matchers: dict[str, str]
    """Label name → exact value; ``alertname`` matches the rule name."""
    starts_at: float
    ends_at: float
    by: str
    reason: str = ""


class AlertInfo(msgspec.Struct, frozen=True):
    fingerprint: str
    rule: str
    severity: str
    """One of :data:`SEVERITIES`."""
    state: str
    """One of :data:`ALERT_STATES`."""
    metric: str
    comparison: str
    """``>``, ``>=``, ``<`` or ``<=``."""
    threshold: float
    value: float | None
    """The rule's metric now, while the alert is pending or firing (updated at every
    evaluation, so it follows the panels); once resolved, its value at the resolve
    (= ``resolved_value``). ``None``: the metric has no value (no traffic in the window)."""
    summary: str
    """The rule's summary, with the value that made it fire (the current one while pending)."""
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    started_at: float = 0.0
    """When the condition first held (the alert went pending)."""
    fired_at: float | None = None
    resolved_at: float | None = None
    ack: AckInfo | None = None
    silenced_by: str = ""
    """Id of the silence that mutes this alert, or empty."""
    peak: float | None = None
    """The worst value while pending or firing: the highest for a ``>``/``>=`` rule, the
    lowest for ``<``/``<=``. ``None`` from an agent older than this field (its ``value`` is
    then the value it fired with, frozen)."""
    fired_value: float | None = None
    """The value when it went firing (``None`` while pending)."""
    resolved_value: float | None = None
    """The value when it resolved (``None`` while active, or if the metric had no value)."""


# --------------------------------------------------------------------------- messages


class Message(msgspec.Struct, frozen=True, omit_defaults=True, tag_field="type"):
    """Base of every frame; each subclass's ``tag`` is its wire ``type``."""

    @property
    def type(self) -> str:
        """The wire name, as in the frame's ``type``."""
        return typing.cast(str, self.__struct_config__.tag)


# Server → console.


class Hello(Message, tag="hello", frozen=True):
    agent_version: str
    host: str
    service: str
    seq: int
    """The newest sequence number in the agent's store (0 when empty)."""
    started_at: float
    capabilities: tuple[str, ...] = ()
    span_seq: int = 0
    """The newest span sequence number in the agent's trace store (0 when empty)."""
    seq_epoch: str = ""
    """Names the agent's numbering of events. The same epoch after a restart means the
    numbers went on (a journal keeps them): a console resumes from its last ``seq``; another
    epoch means a new numbering from 1."""
    thresholds: dict[str, float] = msgspec.field(default_factory=dict)
    """The agent's alert thresholds a console colours figures by: metric (``p95_ms``,
    ``error_rate``…) → the lowest threshold of its rules that fire above a value. Empty when no
    rule watches that metric (the console then uses the seed's: 1000 ms, 5 %)."""


class Events(Message, tag="events", frozen=True):
    events: tuple[LogEvent, ...]


class Spans(Message, tag="spans", frozen=True):
    """A batch of spans (sent only to consoles that subscribed with ``spans``)."""

    spans: tuple[Span, ...]


class SpanGap(Message, tag="span_gap", frozen=True):
    """Spans the console asked to resume from are gone from the agent's trace store."""

    missed: int
    from_seq: int


class Gap(Message, tag="gap", frozen=True):
    """Events the console asked to resume from are gone from the agent's buffer."""

    missed: int
    from_seq: int
    """First sequence number that was lost."""


class Dropped(Message, tag="dropped", frozen=True):
    """The agent dropped events for this console because it did not read fast enough."""

    count: int
    """Dropped since the previous ``dropped`` message."""
    total: int
    """Dropped since this connection opened."""
    spans: int = 0
    """Spans dropped since the previous ``dropped`` message (``count`` is events only)."""


class CatchUp(Message, tag="catch_up", frozen=True):
    """The agent is reading a backlog (a big file from its start, lines written while it was
    down): how far and how fast. Meanwhile consoles receive the newest events in windows
    (:class:`Skipped` says what they were not sent), not every event. Sent about once a
    second, then once with ``done`` when the backlog is read."""

    read_bytes: int
    """Bytes read of the files followed."""
    total_bytes: int
    """Their size now (a file still written to grows)."""
    lines: int
    """Lines read since the catch-up began."""
    lines_per_s: float
    """Its rate since it began."""
    eta_s: float | None = None
    """Seconds left at that rate (None before a rate is known)."""
    done: bool = False


class Skipped(Message, tag="skipped", frozen=True):
    """Events not sent to this console while the agent caught up: the newest window follows.
    They are not lost: the agent holds them (scroll back, search: :class:`Query`)."""

    count: int
    from_seq: int
    to_seq: int
    """The events skipped are ``from_seq`` to ``to_seq``, both included."""


class Metrics(Message, tag="metrics", frozen=True):
    snapshot: MetricsSnapshot
    history: tuple[MetricsPoint, ...] = ()
    """Per-second history: full on the first message after ``subscribe``, else empty."""
    points: tuple[MetricsPoint, ...] = ()
    """The per-second points the agent closed since its last message (the tick's): consoles
    append these to the history, so every console draws the agent's one series, whenever it
    connected (a point made from the snapshot as it arrived differed from one console to the
    next)."""
    minutes: tuple[MinutePoint, ...] = ()
    """Per-minute history: the last day with ``history``, else the minutes closed since."""
    backlog: BacklogStats | None = None
    """History read late, by event time: with ``history``, and whenever it grew since the
    agent's last message (None: unchanged, or there is none)."""


class Health(Message, tag="health", frozen=True):
    report: HealthReport


class Alerts(Message, tag="alerts", frozen=True):
    """The complete current alert list (small), sent on every change."""

    alerts: tuple[AlertInfo, ...]
    silences: tuple[SilenceInfo, ...] = ()


class TimedFrame(msgspec.Struct, frozen=True):
    ts: float
    frame: str
    """A message as the agent sent it (one JSON frame)."""


class StatesPage(Message, tag="states_page", frozen=True):
    id: int
    frames: tuple[TimedFrame, ...] = ()
    minutes: tuple[MinutePoint, ...] = ()
    done: bool = False
    error: str = ""
    backlog: BacklogStats | None = None
    """History read late over the span, by its own minutes (with ``done``; None: there is
    none, or an older agent)."""


class Error(Message, tag="error", frozen=True):
    code: str
    message: str


class Pong(Message, tag="pong", frozen=True):
    nonce: int


class QueryPage(Message, tag="query_page", frozen=True):
    """One page of a :class:`Query`'s results; a query streams pages until one is ``done``.

    Pages arrive in scan order: a backward query (``before_seq``) sends newer pages first, a
    forward one (``after_seq``) older pages first; within a page events are oldest first. A
    page may hold no event at all: it then only reports progress (``scanned``).
    """

    id: int
    events: tuple[LogEvent, ...] = ()
    next_seq: int = 0
    """Where the scan stopped: a follow-up query continues with ``before_seq`` (backward) or
    ``after_seq`` (forward) set to it."""
    scanned: int = 0
    """Events examined by this query so far."""
    matched: int = 0
    """Matching events sent by this query so far (this page's included)."""
    to_scan: int = 0
    """Events the agent holds in the query's range when it started (progress: scanned/to_scan)."""
    oldest_seq: int = 0
    """The oldest event the agent still holds; older ones were dropped by retention."""
    retention_dropped: int = 0
    """Events the agent's retention (``history_days``, ``history_max_mb``) dropped from its
    history over the journal's life: what a scan back to ``oldest_seq`` cannot reach."""
    done: bool = False
    """Last page: the limit was reached, the range is exhausted, or ``error`` is set."""
    error: str = ""
    """Why the query could not run (a filter that does not compile, too many queries)."""


# Console → server.


class Subscribe(Message, tag="subscribe", frozen=True):
    since_seq: int | None = None
    """Resume after this sequence number; ``None`` means "only new events"."""
    client: str = ""
    spans: bool = False
    """Also stream spans (consoles that show traces); older consoles leave it out."""
    spans_since_seq: int | None = None
    """Resume the span stream after this span sequence number; ``None``: only new spans."""


class Ack(Message, tag="ack", frozen=True):
    fingerprint: str
    by: str
    note: str = ""


class Unack(Message, tag="unack", frozen=True):
    fingerprint: str
    by: str


class Silence(Message, tag="silence", frozen=True):
    matchers: dict[str, str]
    duration_s: float
    by: str
    reason: str = ""


class ExpireSilence(Message, tag="expire_silence", frozen=True):
    silence_id: str
    by: str


class Ping(Message, tag="ping", frozen=True):
    """Answered by a :class:`Pong` in order with this console's other messages: the pong
    proves that everything sent before the ping was handled (a subscribe applied, a query
    cancelled). The console pings every few seconds, its heartbeat: an agent that stops
    answering is said to be so (``tui/client.py``); benchmarks and tests wait on the pong.
    websockets' own pings keep the link."""

    nonce: int


class Query(Message, tag="query", frozen=True):
    """Past events matching a filter, in pages (:class:`QueryPage`): scroll-back and search.

    ``filter`` is the console's filter language (:mod:`obsview.common.filters`), evaluated by
    the agent exactly as the console would. Without an anchor the scan starts at the newest
    event and goes back; ``before_seq`` starts it below a sequence number (scroll-back past
    the console's buffer), ``after_seq`` scans forward from one (export, oldest first).
    """

    id: int
    """Chosen by the console; pages carry it back, :class:`CancelQuery` names it."""
    filter: str = ""
    levels: tuple[str, ...] = ()
    """The console's toggled levels; empty means every level."""
    before_seq: int | None = None
    after_seq: int | None = None
    since_ts: float | None = None
    until_ts: float | None = None
    """Only events stamped in ``[since_ts, until_ts]`` (Unix seconds), when given."""
    limit: int = 1000
    """Matching events wanted; the agent caps it (see the server's ``QUERY_LIMIT``)."""
    history: bool = False
    """True: search the agent's on-disk history too, not only the events it holds in RAM."""


class StatesQuery(Message, tag="states_query", frozen=True):
    """What the agent recorded besides events between two times (metrics, health and alert
    messages as they were sent), for an incident file; answered by :class:`StatesPage`."""

    id: int
    since_ts: float
    until_ts: float


class CancelQuery(Message, tag="cancel_query", frozen=True):
    """Stop a running :class:`Query`; no further page of it is sent."""

    id: int


class UnknownMessage(msgspec.Struct, frozen=True):
    """A well-formed frame of a type this version does not know; receivers ignore it."""

    type: str


AnyMessage = (
    Hello | Events | Spans | SpanGap | Gap | Dropped | CatchUp | Skipped | Metrics | Health
    | Alerts | Error | Pong | QueryPage | StatesPage | Subscribe | Ack | Unack | Silence | ExpireSilence | Ping | Query
    | CancelQuery | StatesQuery
)
MESSAGE_TYPES: Final[dict[str, type[Message]]] = {
    typing.cast(str, cls.__struct_config__.tag): cls for cls in typing.get_args(AnyMessage)
}


# --------------------------------------------------------------------------- encode

_HEAD: Final = b'{"v":%d,' % VERSION
_HEAD_TEXT: Final = _HEAD.decode()
_ENCODER: Final = msgspec.json.Encoder()


def encode(message: Message) -> bytes:
    """Serialize a message to one JSON frame."""
    body = _ENCODER.encode(message)  # '{"type":"…",…}': the tag always comes first
    return _HEAD + body[1:]


def encode_events(events: typing.Sequence[LogEvent]) -> bytes:
    """Serialize a batch of events as one ``events`` frame."""
    return encode(Events(tuple(events)))


# --------------------------------------------------------------------------- decode


class _Envelope(msgspec.Struct):
    """What every frame has, read only when a frame is not in this side's own spelling."""

    v: Any = None
    type: Any = None


_DECODER: Final = msgspec.json.Decoder(AnyMessage)
_ENVELOPE: Final = msgspec.json.Decoder(_Envelope)


def decode(frame: bytes | str) -> Message | UnknownMessage:
    """Parse and validate one frame. Raises :class:`ProtocolError` on anything malformed."""
    # Frames written by :func:`encode` open with the version: nothing else to check first.
    canonical = frame.startswith(_HEAD) if isinstance(frame, bytes) else frame.startswith(_HEAD_TEXT)
    if not canonical:
        unknown = _check_envelope(frame)
        if unknown is not None:
            return unknown
    try:
        return _DECODER.decode(frame)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        unknown = _check_envelope(frame)
        if unknown is not None:
            return unknown
        raise ProtocolError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not valid JSON: {exc}") from None


def _check_envelope(frame: bytes | str) -> UnknownMessage | None:
    """Raise for a wrong version or a missing type; an unknown type is an UnknownMessage."""
    try:
        envelope = _ENVELOPE.decode(frame)
    except msgspec.ValidationError:
        raise ProtocolError("a frame must be a JSON object") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"not valid JSON: {exc}") from None
    if envelope.v != VERSION or type(envelope.v) is not int:
        raise ProtocolError(f"unsupported protocol version {envelope.v!r} (this side speaks {VERSION})")
    if not isinstance(envelope.type, str):
        raise ProtocolError("missing message type")
    if envelope.type not in MESSAGE_TYPES:
        return UnknownMessage(envelope.type)
    return None
