"""Turn raw log lines (or in-process records) into :class:`LogEvent` objects.

Understands the seed chapter's structured record, winston / pino / bunyan / Python logging
JSON, logfmt, common and combined access logs, and plain text with a level word. The format
branches only read; every event they build then passes one redaction stage
(:func:`redact.redact_events`) at the two exits, :meth:`Normalizer.normalize_lines` and
:meth:`Normalizer.normalize_record`, before anything is stored, shown or sent: a new format
cannot skip it.

The batch path is the agent's hot loop (hundreds of thousands of lines a second), so:

* JSON records of a layout seen before (any key order, spacing or level case: winston,
  pino, ``json.dumps``, logging, structlog) are decoded by msgspec into typed structs learned
  from the lines (:mod:`typed_shapes`) and their events built a column at a time
  (:mod:`typed_batch`); anything else goes the generic way, ``orjson`` and an alias table
  over the record's keys, which is also the reference the typed path agrees with (a
  property test) and what teaches it layouts;
* the stage's secret gate is a few ``in`` scans over the lower-cased raw lines of a chunk of
  :data:`_CHUNK` events; typed records are vouched for by a cheaper test of their decoded
  values (each distinct value of a chunk once), and only events that hit get per-field
  redaction.
"""

from __future__ import annotations

import gc
import logging
import re
import reprlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any, Final

import msgspec
import orjson

from obsview.backend.ingest.bounds import FIELD_CHARS, LINE_CAP, fit_event, recover_cut_record
from obsview.backend.ingest.iso_stamps import IsoStamps
from obsview.backend.ingest.log_limit import RateLimitedLog
from obsview.backend.ingest.nesting import cap_nesting, may_nest_too_deep
from obsview.backend.ingest.record_fields import (
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
from obsview.backend.ingest.typed_builder import keys_unique
from obsview.backend.ingest.typed_shapes import MAX_SHAPES, Shape, build, layout_of, merge
from obsview.common.http_methods import HTTP_METHODS
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
_BACKSLASH: Final = b"\\"
_FIRST_BYTE: Final = itemgetter(0)
_LEARN_MEMO_LIMIT: Final = 1024
"""Record layouts remembered as already tried for learning (cleared when full)."""


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
        # What a typed shape's builder reads (typed_builder): the timestamp memos, repeated
        # values already found free of secrets, each mapped to one shared instance (the
        # store holds pointers to it, not 100k copies: measured ~230 of ~1,240 bytes per
        # buffered seed event, ~60 more for the IP), its re-encoding buffer, and the list it
        # puts the values to check for secrets in.
        self.stamps = IsoStamps()
        self.clean: dict[str, str] = {}
        self.buffer = bytearray()
        self.probe: list[Any] = []
        self._suspects: set[str] = set()
        self._shapes: list[Shape] = []
        """Typed shapes learned from this normalizer's lines, most recently used first."""
        self._layouts_tried: set[Any] = set()
        self._uniform = True
        """The last chunk was all of one shape: the next is first tried whole."""
        self.typed = 0
        """Lines whose events a learned typed shape built."""
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
        except Exception:  # a bug met by some line: isolate it, go on
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
        except Exception:
            self.failures += 1
            self._failure_log.exception("cannot normalize a line from %s; kept as text", source)
        event = LogEvent(ts=self._clock(), level="WARN", message=_UNREADABLE, source=source,
                         raw=line[: self.max_line_bytes].decode("utf-8", "replace"),
                         service=self.service, host=self.host, parse_error=True,
                         truncated=len(line) > self.max_line_bytes)
        try:
            self.redacted += redact_events([event])
        except Exception:  # not even as text: the line is gone, counted
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
        shapes = self._shapes
        groups: dict[Shape, tuple[list[int], list[Any]]] = {}
        others: list[int] = []  # candidates the most recent shape did not take
        whole = self._whole(shapes[0], chunk) if shapes and self._uniform else None
        if whole is not None:
            groups[shapes[0]] = (list(range(len(chunk))), whole)
        elif shapes:
            decode = shapes[0].decode
            first: tuple[list[int], list[Any]] = ([], [])
            indices, records = first
            for index, line in enumerate(chunk):
                # No escapes: msgspec and orjson may differ on them (lone surrogates), and
                # without them every quote delimits a key or a string (keys_unique counts them).
                if line[0] == 0x7B and _BACKSLASH not in line:
                    try:
                        records.append(decode(line))
                    except (msgspec.DecodeError, UnicodeDecodeError):  # another layout
                        others.append(index)
                    else:
                        indices.append(index)
            if indices:
                groups[shapes[0]] = first
            # A chunk of one layout: the next is tried whole (a mixed log stays per line,
            # where a whole try would fail at its first other record, every chunk).
            self._uniform = len(indices) == len(chunk)
        for index in others:
            line = chunk[index]
            for shape in shapes[1:]:
                try:
                    record = shape.decode(line)
                except (msgspec.DecodeError, UnicodeDecodeError):
                    continue
                group = groups.get(shape)
                if group is None:
                    group = groups[shape] = ([], [])
                group[0].append(index)
                group[1].append(record)
                break
        slots: list[LogEvent | None] = [None] * len(chunk)
        vouched: list[int] = []
        for shape, (indices, records) in groups.items():
            every = len(indices) == len(chunk)  # the usual case: one layout, every line
            probe = self.probe = []
            lines = chunk if every else [chunk[index] for index in indices]
            built, unproven, spans = shape.events(
                records, lines, source, now, self, keys_unique(records, lines))
            if probe and might_hold_secret_text("\n".join(probe).lower()):
                unproven = self._unproven(probe, spans, unproven)
            self.typed += len(built) - built.count(None)
            if every:
                slots = built
                vouched = list(range(len(chunk)))
            else:
                for index, event in zip(indices, built):
                    slots[index] = event
                vouched += indices
            if unproven or None in built:
                doubtful = {indices[row] for row in unproven}
                doubtful.update(index for index, event in zip(indices, built) if event is None)
                vouched = [index for index in vouched if index not in doubtful]
        if groups:  # the shape that took the most lines is tried first next time
            busiest = max(groups, key=lambda shape: len(groups[shape][0]))
            if busiest is not shapes[0]:
                shapes.remove(busiest)
                shapes.insert(0, busiest)
        for index, event in enumerate(slots):
            if event is None:
                line = chunk[index]
                parsed = _parse_one(line) if line[0] == 0x7B else None
                slots[index] = self._careful(parsed, line, source, now)
                if type(parsed) is dict and _BACKSLASH not in line:
                    self._learn(parsed)
        base = len(events)
        events += slots  # type: ignore[arg-type]  # every slot is filled now
        self.redacted += redact_events(events[base:], frozenset(vouched))

    @staticmethod
    def _whole(shape: Shape, chunk: list[bytes]) -> list[Any] | None:
        """The chunk's records when every line is one of ``shape``, decoded in one call, or
        None (then each line is tried on its own).

        The lines go in as one JSON array, joined by commas. Each element is then exactly
        one line: every line starts with ``{`` (stripped: no space before it), so no joining
        comma can continue an object (that needs a key, a quote, next), and none can sit in
        an array (a typed struct takes no array anywhere: the decode would fail); a line
        holding two records makes one element too many (the length is compared).
        """
        if bytes(map(_FIRST_BYTE, chunk)).strip(b"{"):  # a C loop over the first bytes
            return None
        body = b",".join(chunk)
        if _BACKSLASH in body:
            return None
        try:
            records: list[Any] = shape.decode_array(b"[" + body + b"]")
        except (msgspec.DecodeError, UnicodeDecodeError):  # another layout among them
            return None
        return records if len(records) == len(chunk) else None

    def _careful(self, record: Any, line: bytes, source: str, now: float) -> LogEvent:
        """Any line off the seed fast path."""
        if type(record) is dict:
            return self._from_record(record, source, line.decode("utf-8", "replace"), now)
        event = self._from_text(line.decode("utf-8", "replace"), source, now)
        if line[0] == 0x7B:  # "{": it claimed to be JSON
            event.parse_error = True
            self.parse_errors += 1
        return event

    @staticmethod
    def _unproven(probe: list[str], spans: list[int], unproven: list[int]) -> list[int]:
        """``unproven`` and the rows whose probed values hit the gate (the chunk's did):
        found by halving, so a few hits among many rows cost a few scans, not one per row."""
        found = list(unproven)
        pending = [(0, len(spans))]  # rows [first, last) whose values hit together
        while pending:
            first, last = pending.pop()
            if last - first == 1:
                found.append(first)
                continue
            middle = (first + last) // 2
            for low, high in ((first, middle), (middle, last)):
                start = spans[low - 1] if low else 0
                if might_hold_secret_text("\n".join(probe[start : spans[high - 1]]).lower()):
                    pending.append((low, high))
        return found

    def remember(self, value: str) -> str | None:
        """For a typed builder: ``value``, remembered when short, if it cannot hold a secret
        (one shared instance of each repeated message, user agent, IP), else None (and that
        verdict remembered too: the seed's login records say "password" every time)."""
        suspects = self._suspects
        if value in suspects:
            return None
        short = len(value) <= _MEMO_MAX_CHARS
        if might_hold_secret_text(value.lower()):
            if short:
                if len(suspects) >= _CACHE_LIMIT:
                    suspects.clear()
                suspects.add(value)
            return None
        if short:
            clean = self.clean
            if len(clean) >= _CACHE_LIMIT:
                clean.clear()
            clean[value] = value
        return value

    def _learn(self, record: dict[str, Any]) -> None:
        """Make or widen a typed shape for this record's layout (each layout tried once)."""
        key = tuple((k, tuple(v) if type(v) is dict else None) for k, v in record.items())
        tried = self._layouts_tried
        if key in tried:
            return
        if len(tried) >= _LEARN_MEMO_LIMIT:
            tried.clear()
        tried.add(key)
        layout = layout_of(record)
        if layout is None:
            return
        shapes = self._shapes
        for position, shape in enumerate(shapes):
            if set(shape.layout[1]) != set(layout[1]):
                continue  # other nested objects: another kind of record
            merged = merge(shape.layout, layout)
            if merged is not None:
                if merged != shape.layout:
                    shapes[position] = build(merged)
                return
        if len(shapes) >= MAX_SHAPES:
            del shapes[-1]
        shapes.append(build(layout))  # tried after the shapes in use; promoted when busiest

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
        except Exception:  # a producer's odd record must never kill ingest
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
            ts = self.stamps.one(ts_value)
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
