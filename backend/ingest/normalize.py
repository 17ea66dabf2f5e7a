"""Turn raw log lines (or in-process records) into :class:`LogEvent` objects.

Understands the seed chapter's structured record, winston / pino / bunyan / Python logging
JSON, logfmt, common and combined access logs, and plain text with a level word. The format
branches only read; every event they build then passes one redaction stage
(:func:`redact.redact_events`) at the two exits, :meth:`Normalizer.normalize_lines` and
:meth:`Normalizer.normalize_record`, before anything is stored, shown or sent: a new format
cannot skip it.

The batch path is the agent's hot loop (hundreds of thousands of lines a second), so:

* the seed's "Request completed" record, the bulk of a busy log, is decoded by msgspec into
  typed structs (checked in C, never tracked by the cyclic GC) and taken only when it
  re-encodes to its very line; anything else goes the generic way, ``orjson`` and an alias
  table over the record's keys;
* the stage's secret gate is a few ``in`` scans over the lower-cased raw lines of a chunk of
  :data:`_CHUNK` events; the fast path's records are vouched for by a cheaper test of their
  few free-text values (message, user agent and IP are verdicts cached per distinct value),
  and only events that hit get per-field redaction.
"""

from __future__ import annotations

import gc
import logging
import re
import reprlib
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

import msgspec
import orjson

from obsview.backend.ingest.bounds import FIELD_CHARS, LINE_CAP, fit_event, recover_cut_record
from obsview.backend.ingest.log_limit import RateLimitedLog
from obsview.backend.ingest.nesting import cap_nesting, may_nest_too_deep
from obsview.backend.ingest.record_fields import (
    HTTP_METHODS,
    LEVELS_BY_NAME,
    REQUEST_ALIASES,
    RESPONSE_ALIASES,
    TOP_ALIASES,
    TRACEPARENT,
    USER_ALIASES,
    absorb,
    as_text,
    cache_status,
    duration_in_ms,
    error_fields,
    level_of,
    parse_timestamp,
    status_code,
)
from obsview.backend.ingest.redact import might_hold_secret_text, redact_events
from obsview.common.protocol import LogEvent

_ACCESS_LOG: Final = re.compile(
    r'(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)'
    r'(?: [^"]*)?" (?P<status>\d{3}) (?P<size>\S+)(?: "(?P<referer>[^"]*)" "(?P<ua>[^"]*)")?'
)
# Lookbehind and possessive repeats: linear on hostile lines (no retry inside a long word).
_LOGFMT_PAIR: Final = re.compile(r'(?<![\w.@/-])([\w.@/-]++)=("(?:[^"\\]|\\.)*+"?|\S*+)')
_LOGFMT_START: Final = re.compile(r"[\w.@/-]+=")
_LEVEL_NAMES_RE: Final = (
    r"error|err|fatal|critical|crit|warning|warn|info|notice|debug|trace"
)
# "[ERROR] msg", "WARNING: msg", "2026-01-01 12:00:00,123 INFO msg", "ERROR:root:msg".
_TEXT_HEAD: Final = re.compile(
    r"(?i)\s*(?:\[?(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\]?"
    r"\s*)?(?P<open>[\[(<])?(?P<level>" + _LEVEL_NAMES_RE + r")[\])>]?(?=[\s:|-]|$)"
    r"(?P<sep>[\s:|-]*)"
)
_TEXT_LEVEL_ANYWHERE: Final = re.compile(r"\b(ERROR|FATAL|CRITICAL|WARN|WARNING|DEBUG|TRACE)\b")
_ACCESS_TS_FORMAT: Final = "%d/%b/%Y:%H:%M:%S %z"

_log = logging.getLogger(__name__)
_FAILURE_LOG_INTERVAL_S: Final = 60.0
_UNREADABLE: Final = "obsview could not read this line (counted in normalize_failures)"

_CHUNK: Final = 256
"""Lines whose secret checks run together: enough to pay each scan's call cost once for
many lines, few enough that a hit rechecks little."""
_CACHE_LIMIT: Final = 4096
"""Entries per memo (timestamps per second, clean values); cleared when full."""
_MEMO_MAX_CHARS: Final = 256
"""Longer text is never memoized: 4096 hostile 64 KiB user agents would be 1 GiB."""
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_FRACTION_Z_US: Final = {f".{ms:03d}Z": ms * 1000 for ms in range(1000)}
"""A stamp's ``.123Z`` tail → microseconds: one lookup validates and converts it."""


# msgspec checks these in C and hands back the one shared instance of each value.
_HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT",
                      "TRACE"]
_Level = Literal["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]


class _SeedRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """The seed's ``logEvent`` ``request`` object, fields in its ``JSON.stringify`` order
    (``undefined`` ones are left out, as they are here when None)."""

    id: str | None = None
    method: _HttpMethod | None = None
    url: str | None = None
    ip: str | None = None
    userAgent: str | None = None  # noqa: N815 - the seed's key
    userId: int | str | None = None  # noqa: N815
    correlationId: str | None = None  # noqa: N815


class _SeedResponse(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    statusCode: Annotated[int, msgspec.Meta(ge=100, le=999)]  # noqa: N815
    responseTime: int | float  # noqa: N815


class _SeedRecord(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """The seed's "Request completed" record: ``logEvent(...)`` with ``{duration}``."""

    timestamp: str
    level: _Level  # as the seed writes it: other spellings take the generic path
    message: str
    request: _SeedRequest
    response: _SeedResponse
    duration: int | float | None = None


_SEED_DECODER: Final = msgspec.json.Decoder(_SeedRecord)
_SEED_HEAD: Final = b'{"timestamp":"'
_SEED_ENCODE_INTO: Final = msgspec.json.Encoder().encode_into


class Normalizer:
    """Maps foreign log formats onto :class:`LogEvent`; never raises on input."""

    def __init__(
        self,
        *,
        service: str = "",
        host: str = "",
        max_line_bytes: int = LINE_CAP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.host = host
        self.max_line_bytes = max_line_bytes
        self._clock = clock
        # Access logs stamp whole seconds; strptime is slow, so parse each second once.
        self._access_times: dict[str, float] = {}
        # "2026-11-25T15:00:00" → its epoch in microseconds, for ``.123Z`` stamps (the seed's).
        self._iso_seconds: dict[str, int] = {}
        # Message, user-agent and client IP values already found free of secrets (they
        # repeat), each mapped to one shared instance: the store holds pointers to it, not
        # 100k copies (measured: ~230 of ~1,240 bytes per buffered seed event, ~60 more for
        # the IP).
        self._clean_values: dict[str, str] = {}
        self._encoded = bytearray()  # the seed fast path's re-encoding of each record
        self.parse_errors = 0
        """Lines that started with ``{`` but were not valid JSON objects."""
        self.truncated = 0
        """Events with a line cut at ``max_line_bytes`` or a field cut (:mod:`bounds`)."""
        self.redacted = 0
        """Events in which at least one secret was replaced."""
        self.failures = 0
        """Lines whose normalization raised (a bug): kept as text, see :meth:`_alone`."""
        self._failure_log = RateLimitedLog(_log, _FAILURE_LOG_INTERVAL_S, clock=clock)
        self.too_deep = 0
        """Records whose values nested deeper than :data:`nesting.MAX_NESTING_DEPTH` (cut)."""

    # ------------------------------------------------------------------ public API

    def normalize_lines(self, lines: list[bytes], source: str) -> list[LogEvent]:
        """Normalize a batch of lines (without their newline). Empty lines are skipped."""
        # A batch allocates ~3 short-lived dicts per line (freed by refcount: no cycles), which
        # triggers the cyclic GC dozens of times, each pass walking every event already in the
        # store. Pausing it for the batch measured 1.3x faster (300k seed lines into a full
        # 100k store, 2026-11-25: 87k -> 114k lines/s; 137k with the GC off altogether, the
        # rest being full collections over the store, which only a process-wide setting
        # such as gc.set_threshold could thin out).
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._normalize_lines(lines, source)
        except Exception:  # noqa: BLE001 - a bug met by some line: isolate it, go on
            return [self._alone(line, source) for line in lines if line.strip()]
        finally:
            if paused:
                gc.enable()

    def _alone(self, line: bytes, source: str) -> LogEvent:
        """One line of a batch that failed: normalized on its own, or, if it fails again, an
        event that says so (counted in ``failures``, logged at most once a minute)."""
        try:
            (event,) = self._normalize_lines([line], source)
            return event
        except Exception:  # noqa: BLE001
            self.failures += 1
            self._failure_log.exception("cannot normalize a line from %s; kept as text", source)
        event = LogEvent(ts=self._clock(), level="WARN", message=_UNREADABLE, source=source,
                         raw=line[: self.max_line_bytes].decode("utf-8", "replace"),
                         service=self.service, host=self.host, parse_error=True,
                         truncated=len(line) > self.max_line_bytes)
        try:
            self.redacted += redact_events([event])
        except Exception:  # noqa: BLE001 - not even as text: the line is gone, counted
            event.raw = ""
        fit_event(event)
        return event

    def _normalize_lines(self, lines: list[bytes], source: str) -> list[LogEvent]:
        now = self._clock()
        kept, cut = self._keep(lines)
        events: list[LogEvent] = []
        for start in range(0, len(kept), _CHUNK):
            self._normalize_chunk(kept[start : start + _CHUNK], source, now, events)
        for index in cut:  # one event per kept line, in order
            if events[index].parse_error and events[index].raw.startswith("{"):
                events[index] = self._recovered(events[index].raw, source, now)
            events[index].truncated = True
        # Only a long line can hold a long field (every value is read out of it): the usual
        # batch pays one C loop over the line lengths.
        if max(map(len, lines), default=0) > FIELD_CHARS:
            for event in events:
                if len(event.raw) > FIELD_CHARS:
                    already = event.truncated
                    if fit_event(event) and not already:
                        self.truncated += 1
        return events

    def _recovered(self, text: str, source: str, now: float) -> LogEvent:
        """A JSON record cut at the line cap (so no longer JSON): its level, message, trace
        and time read from what is left, not a parse error shown at INFO."""
        self.parse_errors -= 1  # counted when the cut record failed to parse
        event = self._from_record(recover_cut_record(text), source, text, now)
        if not event.message:
            event.message = text[:FIELD_CHARS]
        self.redacted += redact_events([event])
        return event

    def _keep(self, lines: list[bytes]) -> tuple[list[bytes], list[int]]:
        """Lines stripped, blank ones dropped, long ones cut (and their indices)."""
        limit = self.max_line_bytes
        if max(map(len, lines), default=0) <= limit:  # the usual case, in C loops
            kept = list(map(bytes.strip, lines))
            return ([line for line in kept if line] if b"" in kept else kept), []
        kept = []
        cut: list[int] = []
        for line in lines:
            over = len(line) > limit
            if over:
                line = line[:limit]
            line = line.strip()
            if line:
                if over:
                    cut.append(len(kept))
                kept.append(line)
        self.truncated += len(cut)
        return kept, cut

    def _normalize_chunk(
        self, chunk: list[bytes], source: str, now: float, events: list[LogEvent]
    ) -> None:
        base = len(events)
        append = events.append
        decode = _SEED_DECODER.decode
        seed_event = self._seed_event
        probe: list[str] = []  # string values of the fast-path records, checked together
        fast: list[int] = []
        for index, line in enumerate(chunk):
            event = None
            # The seed's record opens with its timestamp: other lines skip a failed decode.
            if line.startswith(_SEED_HEAD):
                try:
                    record = decode(line)
                except (msgspec.DecodeError, UnicodeDecodeError):  # not the seed's record
                    pass
                else:
                    event = seed_event(record, line, source, now, probe)
            if event is None:
                event = self._careful(_parse_one(line) if line[0] == 0x7B else None, line, source, now)
            else:
                fast.append(index)
            append(event)
        # The fast path's records hold no secret when none of their probed values does (their
        # keys name none, and the line is exactly their re-encoding): the stage then skips them.
        vouched = fast if probe and not might_hold_secret_text("\n".join(probe).lower()) else ()
        self.redacted += redact_events(events[base:], frozenset(vouched))

    def _careful(self, record: Any, line: bytes, source: str, now: float) -> LogEvent:
        """Any line off the seed fast path."""
        if type(record) is dict:
            return self._from_record(record, source, line.decode("utf-8", "replace"), now)
        event = self._from_text(line.decode("utf-8", "replace"), source, now)
        if line[0] == 0x7B:  # "{": it claimed to be JSON
            event.parse_error = True
            self.parse_errors += 1
        return event

    def normalize_record(
        self, record: Mapping[str, Any], source: str, raw: str = ""
    ) -> LogEvent:
        """Normalize one record produced in-process (ASGI middleware, logging handler, OTLP)."""
        try:
            # A JSON round trip: a producer's datetimes, enums or sets become plain values,
            # so the event's ``extra`` always encodes on the wire; and the raw line holds
            # every value, as the redaction stage requires.
            cut = False
            try:
                data = orjson.dumps(record, default=str, option=orjson.OPT_NON_STR_KEYS)
            except orjson.JSONEncodeError:  # e.g. nested past orjson's 254 levels
                capped, cut = cap_nesting(dict(record))
                data = orjson.dumps(capped, default=str, option=orjson.OPT_NON_STR_KEYS)
            event = self._from_record(orjson.loads(data), source, raw or data.decode(), self._clock())
            if cut and not event.truncated:
                event.truncated = True
                self.too_deep += 1
        except Exception:  # noqa: BLE001 - a producer's odd record must never kill ingest
            self.parse_errors += 1
            # reprlib: bounded in depth and size, where repr() of a hostile record is not.
            event = self._from_text(reprlib.repr(record)[: self.max_line_bytes], source,
                                    self._clock())
        self.redacted += redact_events([event])
        if len(event.raw) > FIELD_CHARS and fit_event(event):
            self.truncated += 1
        return event

    # ------------------------------------------------------------------ structured records

    def _from_record(self, record: dict[str, Any], source: str, raw: str, now: float) -> LogEvent:
        cut = False
        if may_nest_too_deep(raw):  # before anything walks it (redaction does)
            record, cut = cap_nesting(record)
            self.too_deep += cut
        slots: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in record.items():
            slot = TOP_ALIASES.get(key)
            if slot is None or slot in slots or value is None:
                if value is not None:
                    extra[key] = value
            else:
                slots[slot] = value
        if "request" in slots:
            absorb(slots.pop("request"), REQUEST_ALIASES, slots, extra, "request")
        if "response" in slots:
            absorb(slots.pop("response"), RESPONSE_ALIASES, slots, extra, "response")
        if "user" in slots:
            user = slots.pop("user")
            if isinstance(user, dict):
                absorb(user, USER_ALIASES, slots, extra, "user")
            elif "user_id" not in slots:
                slots["user_id"] = user
        event = self._build(slots, extra, source, raw, now)
        if cut:
            event.truncated = True
        return event

    def _seed_event(
        self, record: _SeedRecord, line: bytes, source: str, now: float, probe: list[str]
    ) -> LogEvent | None:
        """Fast path for the seed's "Request completed" record, the bulk of a busy log.

        ``record`` was decoded and type-checked by msgspec; this builds the very event the
        generic path would, or returns None for anything it would not take. Appends the
        string values that could hold a secret to ``probe``; the caller checks them, for a
        whole chunk at once, before the event may be kept as it is.
        """
        # Only a line exactly as the seed's logger writes it: re-encoding gives it back byte
        # for byte, so it holds no duplicate key, escape or null that the decoded values hide
        # (a duplicate "url" would leave its first value, unprobed, in the raw line).
        encoded = self._encoded
        _SEED_ENCODE_INTO(record, encoded)  # into a reused buffer: no allocation per line
        if encoded != line:
            return None
        request = record.request
        took = record.response.responseTime
        duration = record.duration
        method = request.method
        if method is None or (duration is not None and duration != took):
            return None  # generic keeps both figures when they differ: rare
        # The seed's "2026-11-25T15:00:00.123Z", memoized per second (see _iso_timestamp).
        stamp = record.timestamp
        fraction = _FRACTION_Z_US.get(stamp[19:])
        seconds = self._iso_seconds.get(stamp[:19])
        ts: float | None
        if fraction is not None and seconds is not None:
            ts = (seconds + fraction) / 1e6
        else:
            ts = self._iso_timestamp(stamp)
            if ts is None:
                return None
        clean = self._clean_values
        message = clean.get(record.message) or self._remember_clean(record.message)
        agent = request.userAgent or ""
        shared_agent = clean.get(agent) or self._remember_clean(agent)
        ip = request.ip or ""
        shared_ip = clean.get(ip) or self._remember_clean(ip)
        if message is None or shared_agent is None or shared_ip is None:
            return None
        request_id = request.id or ""
        url = request.url or ""
        user_id = request.userId
        user = "" if user_id is None else str(user_id) if isinstance(user_id, int) else user_id
        correlation = request.correlationId or ""
        probe += (url, request_id, user, correlation)
        return LogEvent(  # positional, in protocol field order (a test pins the order)
            ts, record.level, message, 0, self.service, self.host,
            correlation or request_id, "", request_id, method, "",
            url.split("?", 1)[0] if "?" in url else url, record.response.statusCode,
            float(took), shared_ip, shared_agent, user, "", "", "", "", source, line.decode(),
            {},
        )

    def _remember_clean(self, value: str) -> str | None:
        """``value`` (remembered, when short) when it cannot hold a secret, else None."""
        if might_hold_secret_text(value.lower()):
            return None
        if len(value) <= _MEMO_MAX_CHARS:
            clean = self._clean_values
            if len(clean) >= _CACHE_LIMIT:
                clean.clear()
            clean[value] = value
        return value

    def _iso_timestamp(self, stamp: str) -> float | None:
        """:func:`parse_timestamp` for text, memoized per second for ``…T15:00:00.123Z`` stamps
        (the seed's; fromisoformat + timestamp cost a tenth of the whole fast path)."""
        fraction = _FRACTION_Z_US.get(stamp[19:])
        if fraction is None:  # not 24 characters ending ".dddZ"
            return parse_timestamp(stamp)
        seconds = self._iso_seconds.get(stamp[:19])
        if seconds is not None:
            return (seconds + fraction) / 1e6  # exactly what timestamp() computes
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return parse_timestamp(stamp)
        # Any other stamp with these 19 characters and a ".dddZ" tail parses the same way.
        if moment.utcoffset() == timedelta(0) and moment.microsecond == fraction:
            if len(self._iso_seconds) >= _CACHE_LIMIT:
                self._iso_seconds.clear()
            whole = moment.replace(microsecond=0)
            self._iso_seconds[stamp[:19]] = (whole - _EPOCH) // _MICROSECOND
        return moment.timestamp()

    def _build(
        self, slots: dict[str, Any], extra: dict[str, Any], source: str, raw: str, now: float
    ) -> LogEvent:
        get = slots.get
        status = status_code(get("status"))
        level_value = get("level")
        level = LEVELS_BY_NAME.get(level_value) if type(level_value) in (str, int) else None
        if level is None:
            level = level_of(level_value, status)

        message = get("message")
        if not isinstance(message, str):
            message = "" if message is None else as_text(message)

        trace_id = as_text(get("trace_id"))
        span_id = as_text(get("span_id"))
        if "traceparent" in slots:
            parent = TRACEPARENT.fullmatch(as_text(slots["traceparent"]).strip().lower())
            if parent is not None:
                trace_id = trace_id or parent.group(1)
                span_id = span_id or parent.group(2)
        request_id = as_text(get("request_id"))
        # The seed links a request's records by request.id / correlationId; with no explicit
        # trace id those are the best "trace" a console can filter on.
        trace_id = trace_id or as_text(get("correlation")) or request_id

        path = as_text(get("path"))
        if "?" in path:
            path = path.split("?", 1)[0]
        method = as_text(get("method")).upper()
        if method not in HTTP_METHODS:
            if method:  # e.g. the seed's login record: method: "password"
                extra["method"] = slots["method"]
            method = ""

        error_type, error_message, stack = error_fields(get("error"), get("stack"), extra)

        ts_value = get("ts")
        ts: float | None
        if ts_value is None:
            ts = now
        elif type(ts_value) is str:
            ts = self._iso_timestamp(ts_value)
        else:
            ts = parse_timestamp(ts_value)
        return LogEvent(  # positional, in protocol field order (a test pins the order)
            now if ts is None else ts, level, message, 0,
            as_text(get("service")) or self.service, as_text(get("host")) or self.host,
            trace_id, span_id, request_id, method, as_text(get("route")), path, status,
            duration_in_ms(get("duration")), as_text(get("ip")), as_text(get("user_agent")),
            as_text(get("user_id")), cache_status(get("cache")), error_type, error_message, stack,
            source, raw, extra,
        )

    # ------------------------------------------------------------------ text lines

    def _from_text(self, text: str, source: str, now: float) -> LogEvent:
        return self._access_log(text, source, now) or self._logfmt(text, source, now) or self._plain(
            text, source, now)

    def _access_log(self, text: str, source: str, now: float) -> LogEvent | None:
        match = _ACCESS_LOG.match(text)
        if match is None:
            return None
        ip, user, ts, method, target, status, _size, _referer, agent = match.groups()
        code = int(status)
        when = self._access_times.get(ts)
        if when is None:
            try:
                when = datetime.strptime(ts, _ACCESS_TS_FORMAT).timestamp()
            except ValueError:
                when = now
            if len(ts) <= _MEMO_MAX_CHARS:  # "[^\]]+" may be a hostile 64 KiB
                if len(self._access_times) >= _CACHE_LIMIT:  # one entry per distinct second
                    self._access_times.clear()
                self._access_times[ts] = when
        return LogEvent(
            ts=when,
            level="ERROR" if code >= 500 else "WARN" if code >= 400 else "INFO",
            message=f"{method} {target} {status}",
            service=self.service,
            host=self.host,
            method=method if method in HTTP_METHODS else "",
            path=target.split("?", 1)[0],
            status=code,
            ip=ip,
            user_agent=agent or "",
            user_id="" if user == "-" else user,
            source=source,
            raw=text,
        )

    def _logfmt(self, text: str, source: str, now: float) -> LogEvent | None:
        if "=" not in text or _LOGFMT_START.match(text) is None:
            return None
        pairs = _LOGFMT_PAIR.findall(text)
        if len(pairs) < 2:
            return None
        record = {
            key: value[1:-1].replace('\\"', '"') if value[:1] == '"' else value
            for key, value in pairs
        }
        return self._from_record(record, source, text, now)

    def _plain(self, text: str, source: str, now: float) -> LogEvent:
        ts = now
        message = text
        head = _TEXT_HEAD.match(text)
        if head is not None:
            level = LEVELS_BY_NAME[head.group("level").lower()]
            stamp = head.group("ts")
            # "[ERROR] x", "WARNING: x", "<ts> INFO x": the head is a prefix, not prose
            # ("Error connecting to db" keeps its first word).
            if stamp or head.group("open") or head.group("sep").strip():
                message = text[head.end():] or text
            if stamp:
                ts = parse_timestamp(stamp) or now
        else:
            anywhere = _TEXT_LEVEL_ANYWHERE.search(text, 0, 120)
            level = LEVELS_BY_NAME[anywhere.group(1)] if anywhere is not None else "INFO"
        return LogEvent(
            ts=ts, level=level, message=message, service=self.service, host=self.host,
            source=source, raw=text,
        )


# --------------------------------------------------------------------------- helpers


def _parse_one(line: bytes) -> Any:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:  # invalid UTF-8 inside an otherwise good record: keep the record
            value = orjson.loads(line.decode("utf-8", "replace"))
        except orjson.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None
